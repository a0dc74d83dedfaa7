//! The step-by-step flow matching view: one training minibatch at a time, as the engine computes
//! it (`Trainer::inspect_next_step`): the base points, the data each is paired with, t, the
//! interpolated point, the target and predicted velocities, and each pair's error. "Train this
//! step" trains on exactly that minibatch and shows the next; slow motion animates each point
//! along its straight path first and then advances by itself.

use super::scene::time_color;
use crate::train::Inspection;
use eframe::egui;
use egui_plot::{Arrows, Line, Plot, PlotPoints, Points};
use mixflow_live::Command;
use mixflow_live::Run;

/// Seconds an animated minibatch takes, from the base points to their interpolants.
const SLOW_MOTION_S: f32 = 2.5;
/// Pairs drawn in the plot and rows listed in the table.
const DRAWN: usize = 128;
const LISTED: usize = 8;
/// Velocity arrows are drawn this long (times the velocity), so they stay inside the picture.
const ARROW_SCALE: f64 = 0.25;

#[derive(Default)]
pub struct Stepper {
    pub open: bool,
    pub slow_motion: bool,
    /// Animation progress of the shown minibatch, 0 to 1.
    progress: f32,
    /// The step whose minibatch is on screen, and its loss.
    shown: Option<(usize, f32)>,
    /// The step and loss of the minibatch shown before, to set beside what training reported.
    previous: Option<(usize, f32)>,
    /// When the next minibatch was last asked for (asked again after a while if none came, as
    /// after a reset).
    asked: Option<web_time::Instant>,
}

impl Stepper {
    /// Opening pauses the run and asks for its next minibatch.
    pub fn open(&mut self, run: &Run) {
        self.open = true;
        self.asked = None;
        run.send(Command::Pause);
        self.ask(run);
    }

    /// Asks for the minibatch of the run's next step, at most twice a second.
    fn ask(&mut self, run: &Run) {
        if self.asked.is_none_or(|t| t.elapsed().as_secs_f32() > 0.5) {
            self.asked = Some(web_time::Instant::now());
            run.send(Command::Inspect);
        }
    }

    pub fn show(&mut self, ctx: &egui::Context, run: &Run) {
        let mut open = self.open;
        egui::Window::new("Step-by-step flow matching")
            .open(&mut open)
            .default_size([560.0, 620.0])
            .show(ctx, |ui| self.contents(ui, run));
        self.open = open;
    }

    fn contents(&mut self, ui: &mut egui::Ui, run: &Run) {
        // A run that trained on (Play, Step) or restarted gets its next minibatch shown.
        if run.inspection.as_ref().is_none_or(|seen| run.step >= seen.step) {
            self.ask(run);
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
        }
        let Some(seen) = run.inspection.clone() else {
            ui.label("drawing the next minibatch…");
            return;
        };
        if self.shown.is_none_or(|(step, _)| step != seen.step) {
            self.previous = self.shown.filter(|(step, _)| step + 1 == seen.step);
            self.shown = Some((seen.step, seen.loss));
            self.progress = if self.slow_motion { 0.0 } else { 1.0 };
        }
        let mut train = false;
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!("{} · minibatch of step {}", run.label(), seen.step));
            train = ui
                .button("Train this step")
                .on_hover_text("One training step on exactly this minibatch, then show the next")
                .clicked();
            if ui
                .toggle_value(&mut self.slow_motion, "Slow motion")
                .on_hover_text("Move each point along its path to x_t, then train and go on by itself")
                .changed()
            {
                self.progress = if self.slow_motion { 0.0 } else { 1.0 };
            }
        });
        if self.slow_motion {
            self.progress = (self.progress + ui.input(|i| i.stable_dt).min(0.1) / SLOW_MOTION_S).min(1.0);
            ui.ctx().request_repaint();
            train |= self.progress >= 1.0;
        }
        if let Some(note) = &seen.note {
            ui.colored_label(egui::Color32::YELLOW, note);
        }
        ui.label(format!(
            "loss = mean over pairs and dimensions of (v - u)² = {:.5}",
            seen.loss
        ));
        if let Some((step, loss)) = self.previous
            && let Some(trained) = reported(run, step)
        {
            ui.label(format!(
                "step {step}: shown loss {loss:.5}, training reported {trained:.5}"
            ));
        }
        ui.label(
            "purple: base points x0 · yellow: their data x1 · white: x_t · green: target u = x1 - x0 · \
             red: predicted v(x_t, t)",
        );
        plot(ui, &seen, self.progress);
        table(ui, &seen);
        if train {
            run.send(Command::Step);
            self.progress = if self.slow_motion { 0.0 } else { 1.0 };
        }
    }
}

/// The flow loss the run reported for `step`, once it has trained it.
fn reported(run: &Run, step: usize) -> Option<f32> {
    (run.step >= step).then(|| run.losses_at(step)?.flow).flatten()
}

/// The pairs in the plane of the first two dimensions (the whole space for 2D data).
fn plot(ui: &mut egui::Ui, seen: &Inspection, progress: f32) {
    let rows: Vec<usize> = (0..seen.t.len()).take(DRAWN).collect();
    let xy = |p: &crate::data::Points, i: usize| [p.row(i)[0] as f64, p.row(i)[1] as f64];
    // In slow motion each point travels from x0 towards x_t; arrows appear when it arrives.
    let moving: Vec<[f64; 2]> = rows
        .iter()
        .map(|&i| {
            let s = (progress * seen.t[i]) as f64;
            let (a, b) = (xy(&seen.x0, i), xy(&seen.x1, i));
            [a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1])]
        })
        .collect();
    let arrows = |v: &crate::data::Points| -> Vec<[f64; 2]> {
        rows.iter()
            .map(|&i| {
                let (p, d) = (xy(&seen.xt, i), xy(v, i));
                [p[0] + ARROW_SCALE * d[0], p[1] + ARROW_SCALE * d[1]]
            })
            .collect()
    };
    let color = |t: f32| {
        let [r, g, b, _] = time_color(t, 255);
        egui::Color32::from_rgb(r, g, b)
    };
    Plot::new("stepper").height(320.0).data_aspect(1.0).show(ui, |plot| {
        for &i in &rows {
            plot.line(
                Line::new("", PlotPoints::from(vec![xy(&seen.x0, i), xy(&seen.x1, i)]))
                    .color(egui::Color32::from_gray(70))
                    .allow_hover(false),
            );
        }
        let of = |p: &crate::data::Points| rows.iter().map(|&i| xy(p, i)).collect::<Vec<_>>();
        plot.points(Points::new("x0", of(&seen.x0)).color(color(0.0)).radius(2.5));
        plot.points(Points::new("x1", of(&seen.x1)).color(color(1.0)).radius(2.5));
        plot.points(Points::new("x_t", moving).color(egui::Color32::WHITE).radius(2.0));
        if progress >= 1.0 {
            let tips = of(&seen.xt);
            plot.arrows(
                Arrows::new("u (target)", tips.clone(), arrows(&seen.target))
                    .color(egui::Color32::from_rgb(90, 220, 110)),
            );
            plot.arrows(
                Arrows::new("v (predicted)", tips, arrows(&seen.predicted)).color(egui::Color32::from_rgb(255, 90, 80)),
            );
        }
    });
}

fn table(ui: &mut egui::Ui, seen: &Inspection) {
    let fmt = |p: &crate::data::Points, i: usize| {
        let row: Vec<String> = p.row(i).iter().map(|v| format!("{v:+.3}")).collect();
        format!("({})", row.join(", "))
    };
    egui::Grid::new("stepper-rows").striped(true).show(ui, |ui| {
        for head in ["pair", "t", "x_t", "u (target)", "v (predicted)", "error"] {
            ui.strong(head);
        }
        ui.end_row();
        for i in 0..seen.t.len().min(LISTED) {
            ui.label(format!("{}", i + 1));
            ui.label(format!("{:.3}", seen.t[i]));
            ui.label(fmt(&seen.xt, i));
            ui.label(fmt(&seen.target, i));
            ui.label(fmt(&seen.predicted, i));
            ui.label(format!("{:.4}", seen.error[i]));
            ui.end_row();
        }
    });
    ui.label(format!(
        "{} pairs in the minibatch; the first {} listed, {} drawn.",
        seen.t.len(),
        seen.t.len().min(LISTED),
        seen.t.len().min(DRAWN)
    ));
}
