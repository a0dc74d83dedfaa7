//! The memorisation lab (Bertrand et al., NeurIPS 2025; SPEC sections 5 and 7): for a run on a
//! finite training set, the learned field beside the exact empirical field u* at the scrubbed
//! time with their gap as a heat map, the gap against t (updated while training runs), and
//! samples of the exact, learned and hybrid samplers from the same noise, coloured memorised or
//! novel, with the training points as rings. Moving the training-set size restarts the run, so
//! the transition from memorising to generalising can be watched. The lab only reads the
//! [`LabView`]s its run sends; the worker computes them.

use super::charts::run_color;
use eframe::egui;
use egui_plot::{Arrows, Line, MarkerShape, Plot, PlotPoints, Points};
use mixflow_live::{Command, FIELD_GRID, LabRequest, LabSamples, LabView, Run};

/// The sizes the slider offers (SPEC section 7's E5 spans 16 to 4,096).
pub const SIZES: std::ops::RangeInclusive<usize> = 8..=4096;
/// The size a run without a finite set starts the lab with.
const FIRST_SIZE: usize = 64;
/// A field's median arrow is drawn this many grid cells long: each field has its own scale, since
/// u* grows as 1 / (1 - t) and would dwarf the network's near t = 1.
const ARROW_CELLS: f32 = 0.8;
/// Colours of the learned field, the exact field, memorised and novel samples.
const LEARNED: egui::Color32 = egui::Color32::from_rgb(80, 150, 230);
const EXACT: egui::Color32 = egui::Color32::from_rgb(230, 140, 50);
const MEMORISED: egui::Color32 = egui::Color32::from_rgb(215, 70, 70);
const NOVEL: egui::Color32 = egui::Color32::from_rgb(70, 170, 90);

pub struct Lab {
    pub open: bool,
    /// The run studied, of a comparison's (the first by default).
    run: usize,
    /// The hybrid's switch time.
    tau: f32,
    /// The size on the slider; applied (a restart) when the slider is let go.
    train_n: usize,
    /// The studied run's size the slider last followed.
    synced: Option<usize>,
    /// The request last sent, so an unchanged one is not sent again.
    sent: Option<LabRequest>,
}

impl Default for Lab {
    fn default() -> Self {
        Self {
            open: false,
            run: 0,
            tau: 0.5,
            train_n: FIRST_SIZE,
            synced: None,
            sent: None,
        }
    }
}

impl Lab {
    /// Opens the lab on `run` (the first): a run that draws fresh data gets a finite set (the returned size,
    /// for a restart); one that has a set keeps it.
    pub fn open(&mut self, run: &Run) -> Option<usize> {
        self.open = true;
        self.run = 0;
        self.sent = None;
        match run.config.train_n {
            Some(n) => {
                self.train_n = n;
                None
            }
            None => Some(self.train_n),
        }
    }

    /// Opens the lab on run `run` of `runs` with the hybrid switching at `tau` (a demo's caption).
    pub fn focus(&mut self, runs: &[Run], run: usize, tau: f32) {
        if self.run != run
            && let Some(before) = runs.get(self.run)
        {
            before.send(Command::Lab(None));
        }
        self.open = true;
        self.run = run;
        self.tau = tau;
        self.sent = None;
    }

    pub fn close(&mut self, runs: &[Run]) {
        self.open = false;
        self.sent = None;
        if let Some(run) = runs.get(self.run) {
            run.send(Command::Lab(None));
        }
    }

    /// The runs restarted: their workers are new, so the next request goes out again.
    pub fn forget_sent(&mut self) {
        self.sent = None;
    }

    /// Sends the run what the lab shows at time `t`, when it changed.
    fn request(&mut self, run: &Run, t: f32) {
        let Some(info) = &run.info else { return };
        let request = LabRequest {
            t,
            tau: self.tau,
            field_box: padded_box(&info.data_sample),
            ..LabRequest::default()
        };
        if self.sent.as_ref() != Some(&request) {
            run.send(Command::Lab(Some(request.clone())));
            self.sent = Some(request);
        }
    }

    /// The lab's window over the studied one of `runs`, showing time `t`; returns a
    /// training-set size when the user chose a new one.
    pub fn show(&mut self, ctx: &egui::Context, runs: &[Run], t: f32) -> Option<usize> {
        if self.run >= runs.len() {
            self.run = 0;
            self.sent = None;
        }
        let run = runs.get(self.run)?;
        self.request(run, t);
        let mut open = self.open;
        let mut chosen = None;
        // Opened at the right, below the top bar and a demo's caption, which stay free.
        let corner = ctx.content_rect().right_top() + egui::vec2(-12.0, 100.0);
        egui::Window::new("Memorisation lab")
            .open(&mut open)
            .pivot(egui::Align2::RIGHT_TOP)
            .default_pos(corner)
            .default_size([880.0, 600.0])
            // Labels wrap inside: the window never grows over the top bar's controls.
            .max_width(900.0)
            .show(ctx, |ui| {
                if runs.len() > 1 {
                    self.pick_run(ui, runs);
                }
                let run = &runs[self.run];
                chosen = self.controls(ui, run);
                match &run.lab {
                    Some(lab) => pictures(ui, lab),
                    None => {
                        ui.label("computing the exact field…");
                    }
                }
            });
        if !open {
            self.close(runs);
        }
        chosen
    }

    /// What the page is told of the lab's newest picture.
    pub fn status(&self, runs: &[Run]) -> Option<super::page::LabStatus> {
        let lab = runs.get(self.run).filter(|_| self.open)?.lab.as_ref()?;
        Some(super::page::LabStatus {
            step: lab.step,
            train_n: lab.train.len(),
            memorised: [&lab.exact_samples, &lab.learned_samples, &lab.hybrid_samples].map(LabSamples::fraction),
            compute_ms: lab.compute_ms.round(),
        })
    }

    /// Which run of a comparison the lab studies.
    fn pick_run(&mut self, ui: &mut egui::Ui, runs: &[Run]) {
        let before = self.run;
        egui::ComboBox::from_label("run studied")
            .selected_text(runs[self.run].label())
            .show_ui(ui, |ui| {
                for (i, run) in runs.iter().enumerate() {
                    ui.selectable_value(&mut self.run, i, run.label());
                }
            });
        if self.run != before {
            runs[before].send(Command::Lab(None));
            self.sent = None;
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui, run: &Run) -> Option<usize> {
        // The slider follows the run's size when that changes elsewhere (a demo, the settings).
        if run.config.train_n != self.synced {
            self.synced = run.config.train_n;
            self.train_n = self.synced.unwrap_or(self.train_n);
        }
        let mut chosen = None;
        ui.horizontal(|ui| {
            let slider = ui
                .add(
                    egui::Slider::new(&mut self.train_n, SIZES)
                        .logarithmic(true)
                        .text("training points"),
                )
                .on_hover_text("The size of the fixed training set; changing it restarts the run");
            let released = slider.drag_stopped() || (slider.changed() && !slider.dragged());
            if released && run.config.train_n != Some(self.train_n) {
                chosen = Some(self.train_n);
            }
            ui.separator();
            ui.add(egui::Slider::new(&mut self.tau, 0.0..=1.0).text("τ (hybrid: learned, then exact)"))
                .on_hover_text("The hybrid sampler follows the learned field until τ and the exact field after it");
        });
        chosen
    }
}

/// The fields at t, the gap against t, and the three samplers' samples.
fn pictures(ui: &mut egui::Ui, lab: &LabView) {
    let rate = |s: &LabSamples| format!("{:.1}%", 100.0 * s.fraction());
    ui.label(format!(
        "step {} · {} training points · t = {:.2} · memorised: exact field {}, learned {}, hybrid at τ = {:.2} {}",
        lab.step,
        lab.train.len(),
        lab.t,
        rate(&lab.exact_samples),
        rate(&lab.learned_samples),
        lab.request.tau,
        rate(&lab.hybrid_samples),
    ));
    ui.weak(format!("computed by the run's worker in {:.0} ms", lab.compute_ms));
    if let Some(note) = &lab.note {
        ui.label(note);
    }
    let side = ((ui.available_width() - 40.0) / 3.0).clamp(160.0, 280.0);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_max_width(side * 1.4);
            ui.label(format!(
                "the learned field (blue, median speed {:.2}) and the exact one (orange, {:.2}), each \
                 scaled to fit; the gap |v_θ - u*|² in red",
                median_speed(&lab.learned),
                median_speed(&lab.exact)
            ));
            field_plot(ui, lab, side * 1.4);
        });
        ui.vertical(|ui| {
            ui.set_max_width(side * 1.4);
            ui.label("the gap E|v_θ - u*|² against t");
            gap_plot(ui, lab, side * 1.4);
        });
    });
    ui.horizontal(|ui| {
        for (name, samples) in [
            ("exact field u*", &lab.exact_samples),
            ("learned field v_θ", &lab.learned_samples),
            ("hybrid", &lab.hybrid_samples),
        ] {
            ui.vertical(|ui| {
                ui.set_max_width(side);
                ui.label(format!("{name}: {:.1}% memorised", 100.0 * samples.fraction()));
                samples_plot(ui, name, lab, samples, side);
            });
        }
    });
}

fn field_plot(ui: &mut egui::Ui, lab: &LabView, size: f32) {
    let largest = lab.gap.iter().copied().fold(0.0f32, f32::max).max(1e-9);
    Plot::new("lab-field")
        .data_aspect(1.0)
        .width(size)
        .height(size * 0.8)
        .allow_scroll(false)
        .show(ui, |plot| {
            // The gap as a heat map: five shades, one item each (not one per grid point).
            for shade in 1..=5 {
                let (lo, hi) = ((shade - 1) as f32 / 5.0, shade as f32 / 5.0);
                let cells: Vec<[f64; 2]> = lab
                    .grid
                    .rows()
                    .zip(&lab.gap)
                    .filter(|&(_, g)| (lo..=hi).contains(&(g / largest)) && *g / largest > 0.02)
                    .map(|(p, _)| [p[0] as f64, p[1] as f64])
                    .collect();
                let alpha = (40.0 + 40.0 * shade as f32) as u8;
                plot.points(
                    Points::new(format!("gap {shade}"), cells)
                        .shape(MarkerShape::Square)
                        .radius(6.0)
                        .color(egui::Color32::from_rgba_unmultiplied(220, 60, 60, alpha)),
                );
            }
            let cell = (lab.request.field_box.1[0] - lab.request.field_box.0[0]) / FIELD_GRID as f32;
            for (name, velocities, color) in [("learned", &lab.learned, LEARNED), ("exact", &lab.exact, EXACT)] {
                let scale = ARROW_CELLS * cell / median_speed(velocities).max(1e-9);
                let tips: Vec<[f64; 2]> = lab
                    .grid
                    .rows()
                    .zip(velocities.rows())
                    .map(|(p, v)| {
                        // Long arrows are cut at two cells, so the picture stays readable.
                        let k = scale.min(2.0 * cell / v[0].hypot(v[1]).max(1e-9));
                        [(p[0] + k * v[0]) as f64, (p[1] + k * v[1]) as f64]
                    })
                    .collect();
                plot.arrows(Arrows::new(name, xy(&lab.grid), PlotPoints::from(tips)).color(color));
            }
            plot.points(rings(lab));
        });
}

fn gap_plot(ui: &mut egui::Ui, lab: &LabView, size: f32) {
    let Some(bins) = &lab.gap_by_t else {
        ui.label("the exact field is the loss's minimiser for flows from N(0, I) only: no gap for this method");
        return;
    };
    Plot::new("lab-gap")
        .width(size)
        .height(size * 0.8)
        .allow_scroll(false)
        .x_axis_label("t")
        .show(ui, |plot| {
            plot.line(Line::new("gap", PlotPoints::from(bins.clone())).color(run_color(0)));
            plot.points(Points::new("bins", bins.clone()).radius(3.0).color(run_color(0)));
            plot.vline(egui_plot::VLine::new("t shown", lab.t as f64));
        });
}

fn samples_plot(ui: &mut egui::Ui, name: &str, lab: &LabView, samples: &LabSamples, size: f32) {
    let (memorised, novel): (Vec<_>, Vec<_>) = samples.points.rows().zip(&samples.memorised).partition(|(_, m)| **m);
    let points = |rows: Vec<(&[f32], &bool)>| {
        rows.into_iter()
            .map(|(p, _)| [p[0] as f64, p[1] as f64])
            .collect::<Vec<_>>()
    };
    Plot::new(format!("lab-{name}"))
        .data_aspect(1.0)
        .width(size)
        .height(size)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.points(Points::new("memorised", points(memorised)).radius(1.8).color(MEMORISED));
            plot.points(Points::new("novel", points(novel)).radius(1.8).color(NOVEL));
            plot.points(rings(lab));
        });
}

/// The median length of a field's velocities.
fn median_speed(velocities: &crate::data::Points) -> f32 {
    let mut speeds: Vec<f32> = velocities.rows().map(|v| v[0].hypot(v[1])).collect();
    speeds.sort_by(f32::total_cmp);
    speeds.get(speeds.len() / 2).copied().unwrap_or(0.0)
}

/// The training points as rings.
fn rings(lab: &LabView) -> Points<'static> {
    Points::new("training points", xy(&lab.train))
        .shape(MarkerShape::Circle)
        .filled(false)
        .radius(4.0)
        .color(egui::Color32::from_gray(200))
}

fn xy(points: &crate::data::Points) -> PlotPoints<'static> {
    points.rows().map(|p| [p[0] as f64, p[1] as f64]).collect()
}

/// The data's box with a margin, for the field grid.
fn padded_box(data: &crate::data::Points) -> ([f32; 2], [f32; 2]) {
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in data.rows() {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    if !lo[0].is_finite() {
        return LabRequest::default().field_box;
    }
    let pad = [(hi[0] - lo[0]) * 0.1 + 0.1, (hi[1] - lo[1]) * 0.1 + 0.1];
    ([lo[0] - pad[0], lo[1] - pad[1]], [hi[0] + pad[0], hi[1] + pad[1]])
}
