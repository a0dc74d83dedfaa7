//! The settings side panel: dataset, method and every setting of SPEC section 3, network,
//! optimiser, solver and view. Dataset, method and backend switch the run at once; the other
//! settings are edited in a draft and applied with one button, so a slider drag does not restart
//! training at every pixel. Each number's range is its setting's declared range (`config::range`),
//! the one validation checks.

use crate::config::{TrainConfig, range};
use crate::data::NAMES;
use crate::method::{Kappa, Method, MixWeight};
use crate::solve::Solver;
use clap::ValueEnum;
use eframe::egui;

/// What the user changed this frame.
#[derive(Default)]
pub struct Changes {
    /// The draft was applied.
    pub apply: bool,
    /// Back to the defaults.
    pub defaults: bool,
}

/// A combo box over every value of a command-line enum, named as on the command line.
pub fn choice<T: ValueEnum + PartialEq + Copy>(ui: &mut egui::Ui, label: &str, value: &mut T) -> bool {
    let name = |v: &T| {
        v.to_possible_value()
            .map(|p| p.get_name().to_string())
            .unwrap_or_default()
    };
    let mut changed = false;
    ui.horizontal(|ui| {
        let text = ui.label(label);
        egui::ComboBox::from_id_salt(label)
            .selected_text(name(value))
            .show_ui(ui, |ui| {
                for v in T::value_variants() {
                    changed |= ui.selectable_value(value, *v, name(v)).changed();
                }
            })
            .response
            .labelled_by(text.id);
    });
    changed
}

/// A label and a widget on one row, the widget named by the label (for screen readers and tests).
pub fn row(ui: &mut egui::Ui, label: &str, widget: impl egui::Widget) -> egui::Response {
    ui.horizontal(|ui| {
        let text = ui.label(label);
        ui.add(widget).labelled_by(text.id)
    })
    .inner
}

pub fn number<T: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut T,
    range: std::ops::RangeInclusive<T>,
) {
    row(ui, label, egui::DragValue::new(value).range(range));
}

/// A positive number edited on a log scale (learning rates, tolerances).
fn log_number(ui: &mut egui::Ui, label: &str, value: &mut f64, range: std::ops::RangeInclusive<f64>) {
    row(
        ui,
        label,
        egui::Slider::new(value, range)
            .logarithmic(true)
            .custom_formatter(|v, _| format!("{v:.1e}")),
    );
}

/// The dataset and method pickers and the backend, which restart the run when changed.
/// Dataset, method and backend, which restart the run at once. In a comparison each run has its
/// method (under *Compared methods*), so there is no single method to pick here.
pub fn run_switches(ui: &mut egui::Ui, config: &mut TrainConfig, comparing: bool) -> bool {
    let mut switch = false;
    ui.horizontal(|ui| {
        let text = ui.label("Dataset");
        egui::ComboBox::from_id_salt("Dataset")
            .selected_text(config.dataset.clone())
            .show_ui(ui, |ui| {
                for &name in NAMES {
                    switch |= ui
                        .selectable_value(&mut config.dataset, name.to_string(), name)
                        .changed();
                }
            })
            .response
            .labelled_by(text.id);
    });
    if comparing {
        ui.label("Methods: one per compared run (below)");
    } else {
        switch |= choice(ui, "Method", &mut config.method);
    }
    switch |= choice(ui, "Backend", &mut config.backend);
    switch
}

/// Every other setting, edited in `draft`.
pub fn settings(ui: &mut egui::Ui, draft: &mut TrainConfig, running: &TrainConfig) -> Changes {
    let mut changes = Changes::default();
    egui::CollapsingHeader::new("Data and seeds")
        .default_open(true)
        .show(ui, |ui| {
            if draft.dataset == "lowdim-perturbation" {
                let mut dim = draft.dim.unwrap_or(8);
                number(ui, "Dimension", &mut dim, range::dim);
                if dim != draft.dim.unwrap_or(8) {
                    draft.dim = Some(dim);
                }
            }
            ui.horizontal(|ui| {
                let text = ui.label("Source");
                egui::ComboBox::from_id_salt("Source")
                    .selected_text(draft.source.clone())
                    .show_ui(ui, |ui| {
                        for name in ["gaussian", "8gaussians", "moons", "checkerboard", "circles"] {
                            ui.selectable_value(&mut draft.source, name.to_string(), name);
                        }
                    })
                    .response
                    .labelled_by(text.id);
            });
            let mut finite = draft.train_n.is_some();
            ui.horizontal(|ui| {
                let check = ui
                    .checkbox(&mut finite, "Finite training set of")
                    .on_hover_text("Train on a fixed set of points drawn once (off: fresh draws every step)");
                let mut n = draft.train_n.unwrap_or(256);
                ui.add_enabled(finite, egui::DragValue::new(&mut n).range(range::train_n))
                    .labelled_by(check.id);
                draft.train_n = finite.then_some(n);
            });
            number(ui, "Data seed", &mut draft.data_seed, 0..=u64::MAX);
            number(ui, "Init seed", &mut draft.seed, 0..=u64::MAX);
        });
    egui::CollapsingHeader::new("Training")
        .default_open(true)
        .show(ui, |ui| {
            number(ui, "Steps", &mut draft.steps, range::steps);
            number(ui, "Batch (unconditional)", &mut draft.batch, range::batch);
            number(ui, "Groups", &mut draft.groups, range::groups);
            number(ui, "Samples per group", &mut draft.group_size, range::group_size);
            log_number(ui, "Learning rate", &mut draft.lr, range::lr);
            choice(ui, "Schedule", &mut draft.lr_schedule);
            number(ui, "β1", &mut draft.beta1, range::beta1);
            number(ui, "β2", &mut draft.beta2, range::beta2);
            let mut clip = draft.grad_clip.is_some();
            ui.horizontal(|ui| {
                let check = ui.checkbox(&mut clip, "Clip gradient norm at");
                let mut value = draft.grad_clip.unwrap_or(1.0);
                ui.add_enabled(clip, egui::DragValue::new(&mut value).range(range::grad_clip))
                    .labelled_by(check.id);
                draft.grad_clip = clip.then_some(value);
            });
        });
    egui::CollapsingHeader::new("Network").show(ui, |ui| {
        number(ui, "Width", &mut draft.width, range::width);
        number(ui, "Hidden layers", &mut draft.hidden_layers, range::hidden_layers);
        choice(ui, "Time embedding", &mut draft.time_embedding);
        choice(ui, "Activation", &mut draft.activation);
        ui.checkbox(&mut draft.refeed, "Re-feed the descriptor embedding at every layer");
    });
    match draft.method {
        Method::MixflowOod => {
            egui::CollapsingHeader::new("MixFlow-OOD base")
                .default_open(true)
                .show(ui, |ui| {
                    number(ui, "Components K", &mut draft.components, range::components);
                    row(
                        ui,
                        "σ",
                        egui::Slider::new(&mut draft.sigma, range::sigma).logarithmic(true),
                    );
                    ui.checkbox(&mut draft.learn_sigma, "Learn a diagonal σ");
                    choice(ui, "Training draw", &mut draft.train_draw);
                    row(
                        ui,
                        "τ (Gumbel-softmax)",
                        egui::Slider::new(&mut draft.tau, range::tau).logarithmic(true),
                    );
                    number(
                        ui,
                        "Encoder dropout",
                        &mut draft.encoder_dropout,
                        range::encoder_dropout,
                    );
                    number(ui, "Warm-up fraction", &mut draft.warmup, range::warmup);
                    number(ui, "Cool-down fraction", &mut draft.cooldown, range::cooldown);
                    number(ui, "Base step every", &mut draft.base_every, range::base_every);
                    number(
                        ui,
                        "Pre-training steps",
                        &mut draft.pretrain_steps,
                        range::pretrain_steps,
                    );
                });
        }
        Method::MixflowRf | Method::FastOde => {
            egui::CollapsingHeader::new("MixFlow-RF source")
                .default_open(true)
                .show(ui, |ui| {
                    choice::<Kappa>(ui, "κ", &mut draft.kappa);
                    number(ui, "λ_KL", &mut draft.kl_weight, range::kl_weight);
                    if draft.method == Method::MixflowRf {
                        let mut fixed = matches!(draft.w, MixWeight::Fixed(_));
                        ui.horizontal(|ui| {
                            let check = ui.checkbox(&mut fixed, "Fixed w");
                            let mut w = match draft.w {
                                MixWeight::Fixed(w) => w,
                                MixWeight::Uniform => 0.5,
                            };
                            ui.add_enabled(fixed, egui::Slider::new(&mut w, 0.0..=1.0))
                                .labelled_by(check.id);
                            draft.w = if fixed { MixWeight::Fixed(w) } else { MixWeight::Uniform };
                        });
                    }
                    ui.checkbox(&mut draft.w_input, "Condition the velocity on w");
                    number(ui, "Inference w", &mut draft.sample_w, range::sample_w);
                });
        }
        _ => {}
    }
    egui::CollapsingHeader::new("Evaluation solver").show(ui, |ui| {
        choice::<Solver>(ui, "Solver", &mut draft.solver);
        if draft.solver == Solver::Dopri5 {
            log_number(ui, "rtol", &mut draft.rtol, range::rtol);
            log_number(ui, "atol", &mut draft.atol, range::atol);
        } else {
            number(ui, "Solver steps", &mut draft.solver_steps, range::solver_steps);
        }
    });
    egui::CollapsingHeader::new("Training history").show(ui, |ui| {
        let mut fixed = draft.history_every.is_some();
        ui.horizontal(|ui| {
            ui.checkbox(&mut fixed, "Keep the weights every")
                .on_hover_text("Off: about 150 states over the run's steps");
            let mut every = draft.history_every.unwrap_or(draft.steps.div_ceil(150).max(1));
            ui.add_enabled(fixed, egui::DragValue::new(&mut every).range(range::history_every));
            ui.label("steps");
            draft.history_every = fixed.then_some(every);
        });
        number(ui, "Memory per run (MB)", &mut draft.history_mb, range::history_mb);
    });
    ui.separator();
    ui.horizontal(|ui| {
        let edited = draft != running;
        if ui
            .add_enabled(edited, egui::Button::new("Restart with these settings"))
            .on_hover_text("Start a new run from scratch with the edited settings (same seeds, same run)")
            .clicked()
        {
            changes.apply = true;
        }
        if ui.add_enabled(edited, egui::Button::new("Discard edits")).clicked() {
            *draft = running.clone();
        }
    });
    if ui
        .button("Reset to defaults")
        .on_hover_text("Every setting, layer and view back to how the app first opens")
        .clicked()
    {
        changes.defaults = true;
    }
    changes
}
