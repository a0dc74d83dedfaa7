//! The bars around the canvases: the top bar (one line of controls, and what runs), the status
//! line at the bottom (rate, phase, backend, the newest note), and a stopped run's message on its
//! own canvas. Fixed places, so nothing moves when a note comes or Pause becomes Play.

use super::MixflowApp;
use super::action::Action;
use eframe::egui;
use mixflow_live::{Command, Run};

impl MixflowApp {
    /// One line that never wraps: the controls on the left (Play / Pause of a fixed width, so
    /// nothing after it moves), and what is running on the right.
    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.heading("MixFlow Explorer");
            ui.separator();
            let playing = self.runs.iter().any(|r| r.playing);
            let (text, hover) = match playing {
                true => ("Pause", "Pause training (space)"),
                false => ("Play", "Train continuously (space)"),
            };
            let play = ui
                .add(egui::Button::new(text).min_size(egui::vec2(54.0, 0.0)))
                .on_hover_text(hover);
            if play.clicked() {
                self.toggle_play();
            }
            self.page.control("play-pause", play.rect);
            let step = ui.button("Step").on_hover_text("One training step, then redraw");
            self.page.control("step", step.rect);
            if step.clicked() {
                self.send_all(|| Command::Step);
            }
            let reset = ui
                .button("Reset")
                .on_hover_text("Start again from step 0 with the same seeds");
            self.page.control("reset", reset.rect);
            if reset.clicked() {
                self.act(Action::Restart);
            }
            ui.separator();
            let mut comparing = self.settings.comparing;
            let compare = ui
                .toggle_value(&mut comparing, "Compare")
                .on_hover_text("Train the compared methods side by side on the same data and seeds");
            if compare.changed() {
                self.act(Action::Compare(comparing));
            }
            self.page.control("compare", compare.rect);
            self.demo_menu(ui);
            // The tools for making runs stay off a projector's one line of controls.
            if !self.demo.presenter {
                self.tools(ui);
            }
            let copy = ui
                .button("Copy link")
                .on_hover_text("Copy a link that reopens this run: dataset, seeds, method, settings and view");
            if copy.clicked() {
                let link = self.share_link();
                ui.ctx().copy_text(link);
                self.notes.push("copied a link to this run to the clipboard".into());
            }
            self.page.control("copy-link", copy.rect);
            // Cut short rather than drawn over the controls when the window is narrow.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.add(egui::Label::new(egui::RichText::new(self.lineup_summary()).strong()).truncate());
            });
        });
        if ui.input(|i| i.key_pressed(egui::Key::Space)) && !ui.ctx().egui_wants_keyboard_input() {
            self.toggle_play();
        }
    }

    /// Pause when any run trains, else Play: the button and the space bar.
    fn toggle_play(&self) {
        let playing = self.runs.iter().any(|r| r.playing);
        self.send_all(|| if playing { Command::Pause } else { Command::Play });
    }

    /// Step-by-step, Draw data, Import CSV and Export.
    fn tools(&mut self, ui: &mut egui::Ui) {
        let mut stepping = self.stepper.open;
        if ui
            .toggle_value(&mut stepping, "Step-by-step")
            .on_hover_text("Show one training minibatch at a time: pairs, t, x_t, target and predicted velocity")
            .changed()
        {
            match (stepping, self.runs.first()) {
                (true, Some(run)) => self.stepper.open(run),
                _ => self.stepper.open = false,
            }
        }
        let mut lab = self.lab.open;
        if ui
            .toggle_value(&mut lab, "Lab")
            .on_hover_text(
                "The memorisation lab: train on a finite set and compare the learned field with the \
                 exact one, which only reproduces the training points",
            )
            .changed()
        {
            match (lab, self.runs.first()) {
                (true, Some(run)) => {
                    if let Some(n) = self.lab.open(run) {
                        self.train_on_finite_set(n);
                    }
                }
                _ => self.lab.close(&self.runs),
            }
        }
        ui.toggle_value(&mut self.drawing.active, "Draw data")
            .on_hover_text("Draw your own 2D data on the canvas, then train on it");
        let import = ui
            .button("Import CSV")
            .on_hover_text("Train on your own data: a CSV file with a header row (or drop one on the window)");
        if import.clicked() {
            self.import.open = true;
        }
        self.export_menu(ui);
    }

    /// What is on screen, at the top bar's right: the run and its step, or how many runs a
    /// comparison (or demo) trains and the step they have all reached.
    fn lineup_summary(&self) -> String {
        let Some(first) = self.runs.first() else {
            return String::new();
        };
        let step = self.runs.iter().map(|r| r.step).min().unwrap_or(0);
        let total = first.config.steps;
        match self.runs.len() {
            1 => format!("{} on {} · step {step} / {total}", first.label(), first.config.dataset),
            n => format!(
                "comparison of {n} runs on {} · step {step} / {total}",
                first.config.dataset
            ),
        }
    }

    /// The bottom line: how training goes (rate, phase, backend, drawing API, frame time) and
    /// the newest note, in a place of their own that never pushes anything else around.
    pub(super) fn status_bar(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(run) = self.runs.first() {
                let playing = self.runs.iter().any(|r| r.playing);
                if playing {
                    let slowest = self.runs.iter().map(|r| r.steps_per_s).fold(f64::INFINITY, f64::min);
                    ui.label(format!("{slowest:.0} steps/s"));
                } else {
                    ui.label("paused");
                }
                if let Some(phase) = run.phase {
                    ui.label(format!("phase: {phase:?}").to_lowercase());
                }
                if let Some(info) = &run.info {
                    ui.label(format!("backend: {}", info.backend));
                }
                ui.label(format!("drawing: {}", self.renderer));
                if playing || self.viewing.playback {
                    ui.label(format!("frame {:.1} ms", self.frames.mean_ms()));
                }
            }
            let note = self.all_notes().last().cloned();
            if let Some(note) = note {
                ui.separator();
                if ui.small_button("dismiss").clicked() {
                    self.notes.clear();
                    for run in &mut self.runs {
                        run.notes.clear();
                    }
                }
                ui.add(
                    egui::Label::new(egui::RichText::new(note).color(egui::Color32::from_rgb(230, 200, 120)))
                        .truncate(),
                );
            }
        });
    }

    /// A run that stopped by itself (diverged, crashed, cannot be drawn) or warns, said on its
    /// own canvas with what to do; a finished run only says so in its title.
    pub(super) fn run_message(ui: &mut egui::Ui, run: &Run, rect: egui::Rect) -> Option<Action> {
        let mut action = None;
        let stopped = run.stopped.as_deref().filter(|_| !run.finished());
        if stopped.is_none() && run.warning.is_none() {
            return action;
        }
        let area = rect.shrink(8.0);
        let mut inner = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(area)
                .layout(egui::Layout::top_down(egui::Align::Min)),
        );
        egui::Frame::new()
            .fill(egui::Color32::from_black_alpha(200))
            .inner_margin(6.0)
            .corner_radius(4.0)
            .show(&mut inner, |ui| {
                if let Some(why) = stopped {
                    ui.add(
                        egui::Label::new(egui::RichText::new(why).color(egui::Color32::from_rgb(255, 120, 100))).wrap(),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Reset").clicked() {
                            action = Some(Action::Restart);
                        }
                        if why.contains("diverged") && ui.button("Reset with learning rate ÷ 10").clicked() {
                            action = Some(Action::RestartLowerLr);
                        }
                    });
                }
                if let Some(w) = &run.warning {
                    ui.add(egui::Label::new(egui::RichText::new(w).color(egui::Color32::YELLOW)).wrap());
                }
            });
        action
    }
}
