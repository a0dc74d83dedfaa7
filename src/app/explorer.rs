//! The descriptor explorer for conditional families: a slider (one-parameter descriptors) or a
//! pad (two parameters) over the descriptor range, with the training, interpolation and
//! extrapolation descriptors marked; picking a value re-samples the model there. Below it, W2
//! against the descriptor over every split.

use super::charts::run_color;
use crate::data::{Condition, Split};
use eframe::egui;
use egui_plot::{PlotPoints, Points};
use mixflow_live::Run;

pub fn split_color(split: Split) -> egui::Color32 {
    match split {
        Split::Train => egui::Color32::from_rgb(90, 170, 90),
        Split::Interpolation => egui::Color32::from_rgb(80, 150, 230),
        Split::Extrapolation => egui::Color32::from_rgb(230, 120, 60),
    }
}

/// The box spanned by the listed descriptors, widened a little so one can go beyond them.
fn range(conditions: &[Condition], d: usize) -> (f32, f32) {
    let (lo, hi) = conditions
        .iter()
        .map(|c| c.descriptor[d])
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let pad = ((hi - lo) * 0.15).max(1e-3);
    (lo - pad, hi + pad)
}

/// Shows the explorer; returns a descriptor when the user picked a new one.
pub fn show(ui: &mut egui::Ui, conditions: &[Condition], current: &mut Vec<f32>) -> bool {
    if conditions.is_empty() || current.is_empty() {
        return false;
    }
    let mut changed = false;
    let nearest = conditions
        .iter()
        .min_by(|a, b| distance(&a.descriptor, current).total_cmp(&distance(&b.descriptor, current)));
    if let Some(c) = nearest {
        let exact = distance(&c.descriptor, current) < 1e-6;
        let where_ = if exact {
            format!("{} ({})", c.label, c.split.name())
        } else {
            format!("between listed descriptors; nearest {} ({})", c.label, c.split.name())
        };
        ui.label(format!("descriptor {current:.3?}: {where_}"));
    }
    match current.len() {
        1 => changed |= slider(ui, conditions, current),
        2 => changed |= pad(ui, conditions, current),
        _ => {}
    }
    ui.horizontal(|ui| {
        let text = ui.label("Go to");
        egui::ComboBox::from_id_salt("descriptor-list")
            .selected_text("a listed descriptor")
            .show_ui(ui, |ui| {
                for c in conditions {
                    let name =
                        egui::RichText::new(format!("{} · {}", c.label, c.split.name())).color(split_color(c.split));
                    if ui.selectable_label(c.descriptor == *current, name).clicked() {
                        *current = c.descriptor.clone();
                        changed = true;
                    }
                }
            })
            .response
            .labelled_by(text.id);
    });
    ui.horizontal(|ui| {
        for split in Split::ALL {
            ui.colored_label(split_color(split), split.name());
        }
    });
    changed
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// A track with each listed descriptor as a coloured tick, the split regions shaded, and a handle.
fn slider(ui: &mut egui::Ui, conditions: &[Condition], current: &mut [f32]) -> bool {
    let (lo, hi) = range(conditions, 0);
    let width = ui.available_width().max(60.0);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(width, 28.0), egui::Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, "descriptor track"));
    let x_of = |v: f32| rect.left() + (v - lo) / (hi - lo) * rect.width();
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, egui::Color32::from_gray(30));
    // Shade the span between neighbouring descriptors with the split they share.
    let mut sorted: Vec<&Condition> = conditions.iter().collect();
    sorted.sort_by(|a, b| a.descriptor[0].total_cmp(&b.descriptor[0]));
    for w in sorted.windows(2) {
        if w[0].split == w[1].split {
            let span = egui::Rect::from_x_y_ranges(x_of(w[0].descriptor[0])..=x_of(w[1].descriptor[0]), rect.y_range());
            painter.rect_filled(
                span.shrink2(egui::vec2(0.0, 8.0)),
                0.0,
                split_color(w[0].split).gamma_multiply(0.35),
            );
        }
    }
    for c in conditions {
        let x = x_of(c.descriptor[0]);
        painter.vline(
            x,
            rect.y_range().shrink(4.0),
            egui::Stroke::new(2.0, split_color(c.split)),
        );
    }
    let mut changed = false;
    if let Some(p) = response.interact_pointer_pos()
        && (response.dragged() || response.clicked())
    {
        current[0] = lo + ((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0) * (hi - lo);
        changed = true;
    }
    let x = x_of(current[0]);
    painter.circle_filled(egui::pos2(x, rect.center().y), 7.0, egui::Color32::WHITE);
    changed |= ui
        .add(egui::Slider::new(&mut current[0], lo..=hi).text("value"))
        .changed();
    changed
}

/// A square pad for two-parameter descriptors.
fn pad(ui: &mut egui::Ui, conditions: &[Condition], current: &mut [f32]) -> bool {
    let ((x0, x1), (y0, y1)) = (range(conditions, 0), range(conditions, 1));
    let side = ui.available_width().clamp(60.0, 220.0);
    let (rect, response) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "descriptor pad"));
    let to_screen = |d: &[f32]| {
        egui::pos2(
            rect.left() + (d[0] - x0) / (x1 - x0) * rect.width(),
            rect.bottom() - (d[1] - y0) / (y1 - y0) * rect.height(),
        )
    };
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3.0, egui::Color32::from_gray(30));
    for c in conditions {
        painter.circle_filled(to_screen(&c.descriptor), 4.0, split_color(c.split));
    }
    let mut changed = false;
    if let Some(p) = response.interact_pointer_pos()
        && (response.dragged() || response.clicked())
    {
        current[0] = x0 + ((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0) * (x1 - x0);
        current[1] = y0 + ((rect.bottom() - p.y) / rect.height()).clamp(0.0, 1.0) * (y1 - y0);
        changed = true;
    }
    painter.circle_stroke(to_screen(current), 7.0, egui::Stroke::new(2.0, egui::Color32::WHITE));
    changed
}

/// W2 at every listed descriptor (first component on the x axis), coloured by split.
pub fn w2_by_descriptor(ui: &mut egui::Ui, runs: &[Run]) {
    // Colour tells the split and marker shape the run: the legend says which is which.
    let measured = runs.iter().any(|r| !r.descriptor_curve.is_empty());
    super::charts::plot("w2-descriptor", "descriptor", "W2", measured, 150.0).show(ui, |plot| {
        for (i, run) in runs.iter().enumerate() {
            for split in Split::ALL {
                let pts: Vec<[f64; 2]> = run
                    .descriptor_curve
                    .iter()
                    .filter(|(_, s, _)| *s == split)
                    .map(|(d, _, w)| [d[0] as f64, *w])
                    .collect();
                if pts.is_empty() {
                    continue;
                }
                let shape = [
                    egui_plot::MarkerShape::Circle,
                    egui_plot::MarkerShape::Square,
                    egui_plot::MarkerShape::Diamond,
                ];
                plot.points(
                    Points::new(series_name(runs, run.label(), split), PlotPoints::from(pts))
                        .radius(4.0)
                        .shape(shape[i % shape.len()])
                        .color(split_color(split).lerp_to_gamma(run_color(i), 0.3)),
                );
            }
        }
    });
}

/// A legend entry of the per-descriptor chart: the split alone for one run.
fn series_name(runs: &[Run], label: &str, split: Split) -> String {
    match runs.len() {
        1 => split.name().to_string(),
        _ => format!("{label}: {}", split.name()),
    }
}
