//! Data drawn by hand on the canvas: a brush sprays points where the pointer is held (or erases
//! them), each point tagged with the class being drawn, so several classes make conditional
//! data (the class is the descriptor). "Train on the drawing" turns the points into an in-memory
//! CSV table and a run on it, once there are enough points to learn from.

use crate::config::TrainConfig;
use crate::rng::{self, Rng, Stream};
use eframe::egui;

/// Fewer points than this make no distribution worth learning.
pub const MIN_POINTS: usize = 50;
/// The name the drawing is kept under (`csv:drawing.csv`).
const TABLE: &str = "drawing.csv";
/// Points sprayed per frame while the pointer is held.
const PER_FRAME: usize = 4;

pub struct Drawing {
    pub active: bool,
    pub points: Vec<[f32; 2]>,
    pub classes: Vec<u8>,
    /// Brush radius, in screen points.
    pub brush: f32,
    pub erase: bool,
    pub class: u8,
    rng: Rng,
}

impl Default for Drawing {
    fn default() -> Self {
        Self {
            active: false,
            points: Vec::new(),
            classes: Vec::new(),
            brush: 12.0,
            erase: false,
            class: 0,
            rng: rng::seeded(0, Stream::Display, 0),
        }
    }
}

/// The colour of a drawn class (the mixture palette, so classes read as distinct).
pub fn class_color(class: u8) -> egui::Color32 {
    let [r, g, b, _] = super::scene::component_color(class as usize, 255);
    egui::Color32::from_rgb(r, g, b)
}

impl Drawing {
    /// The brush at `at` (data units) for one frame; `units_per_point` converts its radius.
    pub fn stroke(&mut self, at: [f32; 2], units_per_point: f32) {
        let radius = self.brush * units_per_point;
        if self.erase {
            let mut i = 0;
            while i < self.points.len() {
                let p = self.points[i];
                if (p[0] - at[0]).hypot(p[1] - at[1]) <= radius {
                    self.points.swap_remove(i);
                    self.classes.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            return;
        }
        for _ in 0..PER_FRAME {
            // Uniform in the disc: radius by the square root of a uniform draw.
            let r = radius * rng::uniform(&mut self.rng).sqrt();
            let a = rng::uniform(&mut self.rng) * std::f32::consts::TAU;
            self.points.push([at[0] + r * a.cos(), at[1] + r * a.sin()]);
            self.classes.push(self.class);
        }
    }

    /// The drawing as CSV: x, y, and the class when more than one was drawn.
    fn csv(&self, conditional: bool) -> Vec<u8> {
        let mut text = String::from(if conditional { "x,y,class\n" } else { "x,y\n" });
        for (p, c) in self.points.iter().zip(&self.classes) {
            if conditional {
                text.push_str(&format!("{},{},{c}\n", p[0], p[1]));
            } else {
                text.push_str(&format!("{},{}\n", p[0], p[1]));
            }
        }
        text.into_bytes()
    }

    /// The settings of a run on the drawing, or why there cannot be one yet.
    pub fn run_config(&self, current: &TrainConfig) -> Result<TrainConfig, String> {
        if self.points.len() < MIN_POINTS {
            return Err(format!(
                "draw at least {MIN_POINTS} points to train on (the drawing has {})",
                self.points.len()
            ));
        }
        let conditional = self.classes.iter().any(|&c| c != self.classes[0]);
        crate::data::remember(TABLE, self.csv(conditional));
        super::import::checked(TrainConfig {
            dataset: format!("csv:{TABLE}"),
            source: "gaussian".into(),
            data_cols: vec!["x".into(), "y".into()],
            descriptor_cols: if conditional { vec!["class".into()] } else { Vec::new() },
            ..current.clone()
        })
    }

    /// The drawing's controls; true when the user asks to train on it.
    pub fn controls(&mut self, ui: &mut egui::Ui) -> bool {
        let mut train = false;
        ui.horizontal_wrapped(|ui| {
            ui.strong("Drawing");
            ui.label("hold the pointer on the canvas to spray points");
            super::panels::row(ui, "Brush", egui::Slider::new(&mut self.brush, 2.0..=60.0));
            ui.toggle_value(&mut self.erase, "Erase");
            ui.label("Class");
            ui.add(egui::DragValue::new(&mut self.class).range(0..=9))
                .on_hover_text("Each class becomes one descriptor value: draw two or more for conditional data");
            let (swatch, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter()
                .circle_filled(swatch.center(), 5.0, class_color(self.class));
            ui.label(format!("{} points", self.points.len()));
            if ui.button("Clear").clicked() {
                self.points.clear();
                self.classes.clear();
            }
            train = ui.button("Train on the drawing").clicked();
        });
        train
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawing_becomes_a_run_only_with_enough_points_and_classes_become_descriptors() {
        let mut d = Drawing::default();
        d.stroke([0.0, 0.0], 0.01);
        let e = d.run_config(&TrainConfig::default()).err().unwrap();
        assert_eq!(e, "draw at least 50 points to train on (the drawing has 4)");
        for i in 0..20 {
            d.stroke([i as f32 * 0.1, 0.0], 0.01);
        }
        d.class = 1;
        for i in 0..20 {
            d.stroke([0.0, 1.0 + i as f32 * 0.1], 0.01);
        }
        // Every sprayed point lies inside the brush (12 points × 0.01 units).
        assert!(d.points.iter().all(|p| p[1] < 1.0 + 1.9 + 0.12 + 1e-6));
        let config = d.run_config(&TrainConfig::default()).unwrap();
        assert_eq!(
            (config.dataset.as_str(), config.descriptor_cols.as_slice()),
            ("csv:drawing.csv", &["class".to_string()][..])
        );
        // Erasing around the second stroke's start removes its points there and nothing else.
        let before = d.points.len();
        d.erase = true;
        d.stroke([0.0, 1.0], 0.01);
        assert!(d.points.len() < before);
        assert!(d.points.iter().all(|p| p[0].hypot(p[1] - 1.0) > 0.12));
    }
}
