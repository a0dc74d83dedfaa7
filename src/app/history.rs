//! The training scrubber: which training step every canvas of the view shows (the newest model by
//! default), moved by hand or played back from step 0 while training goes on. Each run redraws
//! from the weights its worker kept at that step, with the noise of every view, so only the model
//! changes between frames. The scrubber owns its state; the app draws it and hands it the runs.

use super::panels;
use eframe::egui;
use mixflow_live::Run;

/// Seconds that *Play back training* takes from step 0 to the newest.
const PLAYBACK_SECONDS: f64 = 10.0;

#[derive(Default)]
pub struct TrainingScrubber {
    /// The step shown; none: the newest model, following training.
    pub shown: Option<usize>,
    /// Whether it plays back on its own, and where it is (a step, fractional between frames).
    pub playing: bool,
    position: f64,
}

impl TrainingScrubber {
    /// Back to the newest model, not playing (new runs have no past).
    pub fn follow_training(&mut self) {
        self.shown = None;
        self.playing = false;
    }

    /// The scrubber's row: *Play back training*, the step slider, *Newest* and what is kept.
    pub fn ui(&mut self, ui: &mut egui::Ui, runs: &mut [Run]) {
        // A step beyond the newest (a link's, before training reaches it) shows the newest kept
        // state until then.
        let newest = runs.iter().map(|r| r.step).max().unwrap_or(0);
        ui.horizontal(|ui| {
            let was_playing = self.playing;
            ui.toggle_value(&mut self.playing, "Play back training")
                .on_hover_text("Redraw every run from its kept weights, from step 0 to the newest, on a loop");
            if self.playing && !was_playing {
                self.position = 0.0;
            }
            let mut step = self.shown.unwrap_or(newest);
            let slider = egui::Slider::new(&mut step, 0..=newest.max(1)).integer();
            let moved = panels::row(ui, "training step", slider)
                .on_hover_text("Show every run as it was at this step; training goes on meanwhile")
                .changed();
            if moved {
                self.playing = false;
                self.shown = Some(step);
            }
            let newest_button = ui
                .add_enabled(self.shown.is_some(), egui::Button::new("Newest"))
                .on_hover_text("Show the newest model again, following training");
            if newest_button.clicked() {
                self.playing = false;
                self.shown = None;
            }
            ui.label(kept_summary(runs));
        });
        if self.playing {
            let dt = ui.input(|i| i.stable_dt).min(0.1) as f64;
            self.position += newest.max(1) as f64 * dt / PLAYBACK_SECONDS;
            if self.position > newest as f64 {
                self.position = 0.0;
            }
            self.shown = Some(self.position as usize);
            ui.ctx().request_repaint();
        }
        for run in runs {
            run.show_step(self.shown);
        }
    }
}

/// How many states the runs keep and the memory they take, e.g. "149 states kept · 39.6 MB".
fn kept_summary(runs: &[Run]) -> String {
    let states = runs.iter().map(|r| r.history_steps.len()).max().unwrap_or(0);
    let bytes: usize = runs.iter().map(|r| r.history_bytes).sum();
    let plural = if states == 1 { "" } else { "s" };
    format!(
        "{states} state{plural} kept · {:.1} MB",
        bytes as f64 / (1 << 20) as f64
    )
}
