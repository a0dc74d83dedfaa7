//! The guided demos in the window: their state ([`DemoState`]), the Demos menu, the presenter
//! switch, and the caption bar with Back / Next / Leave demo. Opening a demo replaces the runs by the demo's (from their
//! cached starts); each caption may move the view or start a measurement (`demo::Step`).

use super::action::Action;
use super::{MixflowApp, demo};
use eframe::egui;
use mixflow_live::Command;

/// The guided demo on screen (if any), presenter mode, and what leaving the demo restores.
#[derive(Default)]
pub(super) struct DemoState {
    pub position: Option<demo::Position>,
    pub presenter: bool,
    /// A caption's descriptor split, applied once the runs report their descriptors.
    pub pending_split: Option<crate::data::Split>,
    /// The settings from before the demo, which "Leave demo" restores.
    pub before: Option<super::settings::Settings>,
}

impl MixflowApp {
    pub(super) fn apply_demo_step(&mut self, step: usize) {
        let Some(position) = self.demo.position.as_mut() else {
            return;
        };
        position.step = step.min(position.demo.steps.len() - 1);
        let step = position.demo.steps[position.step];
        if let Some(layers) = step.layers {
            self.settings.layers = layers;
        }
        if let Some(w) = step.source_w {
            self.settings.source_w = w;
        }
        if step.split.is_some() {
            self.demo.pending_split = step.split;
        }
        if let Some(focus) = step.lab {
            self.lab.focus(&self.runs, focus.run, focus.tau);
        }
        match step.measure {
            Some(demo::Measure::Nfe) => self.send_all(|| Command::MeasureNfe),
            Some(demo::Measure::Descriptors) => self.send_all(|| Command::MeasureDescriptors),
            None => {}
        }
    }

    pub(super) fn set_presenter(&mut self, ctx: &egui::Context, on: bool) {
        self.demo.presenter = on;
        if let Some(position) = &mut self.demo.position {
            position.presenter = on;
        }
        // Zoom rather than font sizes: the whole window grows alike, canvases keep their share.
        // 1.25: a 1280 × 720 projector keeps 1024 × 576 points, room for one line of controls.
        ctx.set_zoom_factor(if on { 1.25 } else { 1.0 });
    }

    /// The demo's title, caption and buttons, above the canvases.
    pub(super) fn demo_bar(&mut self, ui: &mut egui::Ui, position: demo::Position) {
        let steps = position.demo.steps;
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!("Demo: {}", position.demo.title));
            ui.label(format!("caption {} of {}", position.step + 1, steps.len()));
            if ui.add_enabled(position.step > 0, egui::Button::new("Back")).clicked() {
                self.apply_demo_step(position.step - 1);
            }
            let last = position.step + 1 == steps.len();
            if ui.add_enabled(!last, egui::Button::new("Next")).clicked() {
                self.apply_demo_step(position.step + 1);
            }
            if ui.button("Leave demo").clicked() {
                self.act(Action::LeaveDemo);
            }
        });
        ui.label(egui::RichText::new(steps[position.step].caption).size(16.0));
    }

    /// The demos menu and the presenter switch.
    pub(super) fn demo_menu(&mut self, ui: &mut egui::Ui) {
        ui.menu_button("Demos", |ui| {
            for d in demo::DEMOS {
                if ui.button(d.title).clicked() {
                    self.act(Action::OpenDemo(demo::Position {
                        demo: d,
                        step: 0,
                        presenter: self.demo.presenter,
                    }));
                    ui.close();
                }
            }
        });
        let mut presenter = self.demo.presenter;
        if ui
            .toggle_value(&mut presenter, "Presenter")
            .on_hover_text("Larger type and no settings panel, for a projector")
            .changed()
        {
            self.set_presenter(ui.ctx(), presenter);
        }
    }
}
