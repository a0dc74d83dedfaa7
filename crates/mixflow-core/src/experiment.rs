//! The evaluation protocols of SPEC section 7: E1 (out-of-distribution descriptors), E2 (path
//! curvature), E3 (mixture base versus MixFlow-RF), E4 (dimension sweep), E5 (memorisation against
//! the training set's size), and MixFlow-OOD's ablation. Every method gets the same network, steps and batch; E1, E3 and E4 choose each arm's
//! learning rate on seed 0's interpolation split (never on extrapolation). Results are rows of
//! one JSON schema and Markdown tables.

use crate::config::{TrainConfig, TrainDraw};
use crate::eval::{self, EvalError, Report};
use crate::memorisation::{GAP_BINS, MemorisationReport};
use crate::method::Method;
use crate::nn::Activation;
use crate::train::{SetupError, TrainError, Trainer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Experiment {
    E1,
    E2,
    E3,
    /// Dimension sweep: lowdim-perturbation at D = 2, 8, 16, 32.
    E4,
    /// Memorisation against generalisation: RF on finite training sets of 16 to 4,096 points.
    E5,
    /// MixFlow-OOD's training draw and the official network's options, one at a time.
    Ablation,
}

const CONDITIONAL: [&str; 5] = [
    "letters",
    "rotating-moons",
    "shifting-modes",
    "ring-radius",
    "lowdim-perturbation",
];
const CURVATURE_TARGETS: [&str; 4] = ["8gaussians", "moons", "checkerboard", "8gaussians->moons"];
/// E4's dimensions (SPEC section 7).
pub const SWEEP_DIMS: [usize; 4] = [2, 8, 16, 32];
/// E5's training-set sizes (SPEC section 7).
pub const TRAIN_SIZES: [usize; 5] = [16, 64, 256, 1024, 4096];
/// E5's targets.
const MEMORISATION_TARGETS: [&str; 2] = ["moons", "8gaussians"];
/// The learning rates each tuned arm chooses from, on seed 0's selection split.
pub const LR_CANDIDATES: [f64; 3] = [3e-4, 1e-3, 3e-3];

/// What an arm changes from the method's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Default,
    /// MixFlow-OOD trained on soft Gumbel-softmax draws (τ = 0.5): the official code's default.
    SoftDraw,
    /// ELU and width 200 in the velocity field (the official network's).
    EluWidth200,
    /// The descriptor embedding re-fed to every layer, the output included.
    Refeed,
    /// Dropout 0.5 in the descriptor encoder.
    Dropout,
    /// All of the above: the official code's settings.
    Official,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::SoftDraw => "soft draw",
            Variant::EluWidth200 => "elu, width 200",
            Variant::Refeed => "refeed",
            Variant::Dropout => "encoder dropout 0.5",
            Variant::Official => "official (all four)",
        }
    }

    fn apply(self, c: &mut TrainConfig) {
        let soft = |c: &mut TrainConfig| c.train_draw = TrainDraw::Soft;
        let elu = |c: &mut TrainConfig| {
            c.activation = Activation::Elu;
            c.width = 200;
        };
        let refeed = |c: &mut TrainConfig| c.refeed = true;
        let dropout = |c: &mut TrainConfig| c.encoder_dropout = 0.5;
        match self {
            Variant::Default => {}
            Variant::SoftDraw => soft(c),
            Variant::EluWidth200 => elu(c),
            Variant::Refeed => refeed(c),
            Variant::Dropout => dropout(c),
            Variant::Official => {
                soft(c);
                elu(c);
                refeed(c);
                dropout(c);
            }
        }
    }
}

/// One arm of a protocol: a dataset (at a dimension, for the sweep), a method and its variant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arm {
    pub dataset: &'static str,
    pub dim: Option<usize>,
    /// The finite training set's size (E5).
    pub train_n: Option<usize>,
    pub method: Method,
    pub variant: Variant,
}

impl Arm {
    fn new(dataset: &'static str, method: Method) -> Self {
        Self {
            dataset,
            dim: None,
            train_n: None,
            method,
            variant: Variant::Default,
        }
    }

    /// The dataset as the tables name it.
    pub fn dataset_label(&self) -> String {
        match (self.dim, self.train_n) {
            (Some(d), _) => format!("{} (D={d})", self.dataset),
            (None, Some(n)) => format!("{} (n={n})", self.dataset),
            (None, None) => self.dataset.to_string(),
        }
    }

    pub fn method_label(&self) -> String {
        match self.variant {
            Variant::Default => self.method.name().to_string(),
            v => format!("{} ({})", self.method.name(), v.name()),
        }
    }

    fn config(&self, seed: u64, steps: usize, lr: f64) -> TrainConfig {
        let mut c = TrainConfig {
            dataset: self.dataset.into(),
            dim: self.dim,
            train_n: self.train_n,
            method: self.method,
            seed,
            steps,
            lr,
            ..TrainConfig::default()
        };
        self.variant.apply(&mut c);
        if self.train_n.is_some() {
            // E5 reads memorisation, not W2 at 2,000 points: the assignment behind each exact W2
            // is cubic in the sample count, so 1,000 samples cost about an eighth, which makes
            // its 30 long runs affordable.
            c.eval_n = 1000;
            c.curvature_n = 500;
        }
        c
    }
}

impl Experiment {
    pub fn name(self) -> &'static str {
        match self {
            Experiment::E1 => "e1",
            Experiment::E2 => "e2",
            Experiment::E3 => "e3",
            Experiment::E4 => "e4",
            Experiment::E5 => "e5",
            Experiment::Ablation => "ablation",
        }
    }

    /// Every arm the protocol trains.
    pub fn plan(self) -> Vec<Arm> {
        let cross = |datasets: &[&'static str], methods: &[Method]| -> Vec<Arm> {
            datasets
                .iter()
                .flat_map(|&d| methods.iter().map(move |&m| Arm::new(d, m)))
                .collect()
        };
        let ood_baselines = [Method::MixflowOod, Method::Rf, Method::COt];
        match self {
            Experiment::E1 => cross(&CONDITIONAL, &ood_baselines),
            Experiment::E2 => cross(
                &CURVATURE_TARGETS,
                &[Method::MixflowRf, Method::Rf, Method::FastOde, Method::OtCfm],
            )
            .into_iter()
            // The κ-FC source mixes with N(0, I); a toy source has no such mixture.
            .filter(|a| !(a.dataset.contains("->") && matches!(a.method, Method::MixflowRf | Method::FastOde)))
            .collect(),
            Experiment::E3 => cross(&CURVATURE_TARGETS[..3], &[Method::MixflowOod, Method::MixflowRf]),
            Experiment::E4 => SWEEP_DIMS
                .iter()
                .flat_map(|&d| {
                    ood_baselines.iter().map(move |&m| Arm {
                        dim: Some(d),
                        ..Arm::new("lowdim-perturbation", m)
                    })
                })
                .collect(),
            Experiment::E5 => MEMORISATION_TARGETS
                .iter()
                .flat_map(|&d| {
                    TRAIN_SIZES.map(|n| Arm {
                        train_n: Some(n),
                        ..Arm::new(d, Method::Rf)
                    })
                })
                .collect(),
            Experiment::Ablation => {
                let draws = ["moons", "8gaussians", "checkerboard", "rotating-moons", "letters"]
                    .into_iter()
                    .flat_map(|d| {
                        [Variant::Default, Variant::SoftDraw].map(|variant| Arm {
                            variant,
                            ..Arm::new(d, Method::MixflowOod)
                        })
                    });
                let network = [
                    Variant::EluWidth200,
                    Variant::Refeed,
                    Variant::Dropout,
                    Variant::Official,
                ]
                .map(|variant| Arm {
                    variant,
                    ..Arm::new("rotating-moons", Method::MixflowOod)
                });
                draws.chain(network).collect()
            }
        }
    }

    /// Whether each arm chooses its learning rate from [`LR_CANDIDATES`] (E1, E3, E4); E2 and the
    /// ablation keep the SPEC's 1e-3, so their arms differ by one thing only.
    pub fn tunes_lr(self) -> bool {
        matches!(self, Experiment::E1 | Experiment::E3 | Experiment::E4)
    }
}

/// One (dataset, method, seed, split) result. Curvature and `w2_by_nfe` are measured on the
/// training descriptors and repeated on each split's row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub dataset: String,
    pub method: String,
    pub seed: u64,
    pub split: String,
    /// The dataset's dimension where the protocol sets it (E4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// The learning rate the run trained with.
    #[serde(default)]
    pub lr: f64,
    pub w2: f64,
    pub w2_floor: f64,
    pub mmd2: f64,
    pub energy: f64,
    pub curvature_mean: f64,
    pub curvature_std: f64,
    pub w2_by_nfe: BTreeMap<String, f64>,
    /// MixFlow-OOD's base steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_steps: Option<usize>,
    /// A finite training set's memorisation and gap to the exact field (E5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memorisation: Option<MemorisationReport>,
}

/// How an arm's learning rate was chosen: seed 0's W2 on `split` for each candidate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LrChoice {
    pub dataset: String,
    pub method: String,
    pub split: String,
    /// (learning rate, W2 on `split`) per candidate.
    pub candidates: Vec<(f64, f64)>,
    pub chosen: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub experiment: String,
    pub steps: usize,
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub lr_choices: Vec<LrChoice>,
    pub rows: Vec<Row>,
}

/// Why an experiment stopped; each names the run it was at.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("setting `seeds`: at least 1")]
    NoSeeds,
    #[error("{run}: {source}")]
    Setup { run: String, source: SetupError },
    #[error("{run}: {source}")]
    Train { run: String, source: TrainError },
    #[error("{run}: {source}")]
    Eval { run: String, source: EvalError },
}

/// Trains and evaluates every run of the protocol; `progress` hears of each run as it starts.
pub fn run(
    experiment: Experiment,
    seeds: usize,
    steps: usize,
    mut progress: impl FnMut(&str),
) -> Result<Results, ExperimentError> {
    if seeds == 0 {
        return Err(ExperimentError::NoSeeds);
    }
    let seeds: Vec<u64> = (0..seeds as u64).collect();
    let mut rows = Vec::new();
    let mut lr_choices = Vec::new();
    for arm in experiment.plan() {
        let mut train = |seed: u64, lr: f64| -> Result<Vec<Row>, ExperimentError> {
            let what = format!(
                "{} {} {} seed {seed} lr {lr}",
                experiment.name(),
                arm.dataset_label(),
                arm.method_label()
            );
            progress(&what);
            let run = || what.clone();
            let mut trainer = Trainer::new(arm.config(seed, steps, lr))
                .map_err(|source| ExperimentError::Setup { run: run(), source })?;
            while !trainer.is_finished() {
                trainer
                    .step()
                    .map_err(|source| ExperimentError::Train { run: run(), source })?;
            }
            let report = eval::evaluate_run(&trainer, &mut |_| {})
                .map_err(|source| ExperimentError::Eval { run: run(), source })?;
            Ok(rows_of(&arm, seed, lr, &report))
        };
        let mut first_seed = None;
        let lr = if experiment.tunes_lr() {
            let (choice, seed0_rows) = choose_lr(&arm, |lr| train(0, lr))?;
            lr_choices.push(choice.clone());
            first_seed = Some(seed0_rows);
            choice.chosen
        } else {
            TrainConfig::default().lr
        };
        for &seed in &seeds {
            match (seed, first_seed.take()) {
                (0, Some(reused)) => rows.extend(reused),
                _ => rows.extend(train(seed, lr)?),
            }
        }
    }
    Ok(Results {
        experiment: experiment.name().into(),
        steps,
        seeds,
        lr_choices,
        rows,
    })
}

/// Trains seed 0 at every candidate rate and keeps the one with the lowest W2 on the
/// interpolation split (conditional data; never the extrapolation split) or on the data itself
/// (unconditional data: the training distribution); returns the choice and the chosen run's rows.
fn choose_lr(
    arm: &Arm,
    mut train: impl FnMut(f64) -> Result<Vec<Row>, ExperimentError>,
) -> Result<(LrChoice, Vec<Row>), ExperimentError> {
    let mut tried = Vec::new();
    for lr in LR_CANDIDATES {
        tried.push((lr, train(lr)?));
    }
    let split = if tried[0].1.iter().any(|r| r.split == "interpolation") {
        "interpolation"
    } else {
        "all"
    };
    let score = |rows: &[Row]| rows.iter().find(|r| r.split == split).map_or(f64::INFINITY, |r| r.w2);
    let best = (0..tried.len())
        .min_by(|&a, &b| score(&tried[a].1).total_cmp(&score(&tried[b].1)))
        .expect("candidates");
    let choice = LrChoice {
        dataset: arm.dataset_label(),
        method: arm.method_label(),
        split: split.into(),
        candidates: tried.iter().map(|(lr, rows)| (*lr, score(rows))).collect(),
        chosen: tried[best].0,
    };
    Ok((choice, tried.swap_remove(best).1))
}

fn rows_of(arm: &Arm, seed: u64, lr: f64, r: &Report) -> Vec<Row> {
    let row = |split: &str, q: &eval::Quality| Row {
        dataset: arm.dataset_label(),
        method: arm.method_label(),
        seed,
        split: split.into(),
        dim: arm.dim,
        lr,
        w2: q.w2,
        w2_floor: q.w2_floor,
        mmd2: q.mmd2,
        energy: q.energy,
        curvature_mean: r.curvature_mean,
        curvature_std: r.curvature_std,
        w2_by_nfe: r.w2_by_nfe.clone(),
        base_steps: r.base_steps,
        memorisation: r.memorisation.clone(),
    };
    match &r.splits {
        Some(splits) => splits.iter().map(|(name, s)| row(name, &s.quality)).collect(),
        None => vec![row("all", &r.quality)],
    }
}

/// Mean ± std over seeds, one line per (dataset, method, split).
pub fn markdown(results: &Results) -> String {
    let mut groups: BTreeMap<(String, String, String), Vec<&Row>> = BTreeMap::new();
    for row in &results.rows {
        groups
            .entry((natural(&row.dataset), split_order(&row.split), row.method.clone()))
            .or_default()
            .push(row);
    }
    let curvature = matches!(results.experiment.as_str(), "e2" | "e3" | "ablation");
    let mut out = format!(
        "{} ({} steps, seeds {:?}; mean ± std over seeds)\n\n| dataset | split | method | W2 | W2 floor | MMD² | energy |",
        results.experiment, results.steps, results.seeds
    );
    if curvature {
        out += " curvature | W2 @ Euler 1 / 2 / 4 / 8 / 16 / 32 / 128 / Dopri5 |";
    }
    out += "\n|---|---|---|---|---|---|---|";
    if curvature {
        out += "---|---|";
    }
    out += "\n";
    for ((_, split, method), rows) in groups {
        let dataset = &rows[0].dataset;
        let stat = |f: &dyn Fn(&Row) -> f64, digits: usize| mean_std(&rows, f, digits);
        let split = split.split_once(' ').map_or(split.as_str(), |(_, s)| s).to_string();
        out += &format!(
            "| {dataset} | {split} | {method} | {} | {} | {} | {} |",
            stat(&|r| r.w2, 3),
            stat(&|r| r.w2_floor, 3),
            stat(&|r| r.mmd2, 4),
            stat(&|r| r.energy, 4)
        );
        if curvature {
            let sweep: Vec<String> = ["1", "2", "4", "8", "16", "32", "128", "dopri5"]
                .iter()
                .map(|k| {
                    let v: Vec<f64> = rows.iter().filter_map(|r| r.w2_by_nfe.get(*k).copied()).collect();
                    format!("{:.2}", crate::metrics::mean_std(&v).0)
                })
                .collect();
            out += &format!(" {} | {} |", stat(&|r| r.curvature_mean, 3), sweep.join(" / "));
        }
        out += "\n";
    }
    out
}

/// The learning rate each arm chose, with seed 0's W2 at every candidate.
pub fn lr_table(results: &Results) -> String {
    let rates: Vec<String> = LR_CANDIDATES.iter().map(|lr| format!("{lr:e}")).collect();
    let mut out = format!(
        "| dataset | method | chosen on | W2 at lr {} | chosen lr |\n|---|---|---|---|---|\n",
        rates.join(" / ")
    );
    for c in &results.lr_choices {
        let scores: Vec<String> = c.candidates.iter().map(|(_, w2)| format!("{w2:.3}")).collect();
        out += &format!(
            "| {} | {} | {} (seed 0) | {} | {:e} |\n",
            c.dataset,
            c.method,
            c.split,
            scores.join(" / "),
            c.chosen
        );
    }
    out
}

/// Memorisation against the training set's size (E5): one row per (dataset, n), with the mean
/// distance to the training set over the distance to the held-out set (below 1: samples sit
/// closer to what was trained on).
pub fn memorisation_table(results: &Results) -> String {
    let mut out = String::from(
        "| dataset | memorised | distance to train | distance to held-out | ratio | W2 | W2 floor |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (dataset, rows) in memorisation_groups(results) {
        let stat = |f: &dyn Fn(&Row) -> f64, digits: usize| mean_std(&rows, f, digits);
        let m = |r: &Row| {
            r.memorisation
                .as_ref()
                .map(|m| m.measures)
                .expect("E5 rows carry memorisation")
        };
        out += &format!(
            "| {dataset} | {} | {} | {} | {} | {} | {} |\n",
            stat(&|r| 100.0 * m(r).memorised, 1).replace(" ±", "% ±") + "%",
            stat(&|r| m(r).to_train, 3),
            stat(&|r| m(r).to_held_out.unwrap_or(f64::NAN), 3),
            stat(&|r| m(r).to_train / m(r).to_held_out.unwrap_or(f64::NAN), 2),
            stat(&|r| r.w2, 3),
            stat(&|r| r.w2_floor, 3)
        );
    }
    out
}

/// The gap E‖v_θ − u*‖² against t (E5): one row per (dataset, n), one column per time bin.
pub fn gap_table(results: &Results) -> String {
    let groups = memorisation_groups(results);
    let times: Vec<String> = (0..GAP_BINS)
        .map(|b| format!("t={:.2}", (b as f64 + 0.5) / GAP_BINS as f64))
        .collect();
    let mut out = format!(
        "| dataset | {} |\n|---|{}\n",
        times.join(" | "),
        "---|".repeat(GAP_BINS)
    );
    for (dataset, rows) in groups {
        let bins: Vec<String> = (0..GAP_BINS)
            .map(|b| {
                let v: Vec<f64> = rows
                    .iter()
                    .filter_map(|r| Some(r.memorisation.as_ref()?.gap_by_t.as_ref()?.get(b)?[1]))
                    .collect();
                format!("{:.3}", crate::metrics::mean_std(&v).0)
            })
            .collect();
        out += &format!("| {dataset} | {} |\n", bins.join(" | "));
    }
    out
}

/// E5's rows grouped by dataset (named with n), in order of n.
fn memorisation_groups(results: &Results) -> Vec<(String, Vec<&Row>)> {
    let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.memorisation.is_some()) {
        groups.entry(natural(&row.dataset)).or_default().push(row);
    }
    groups
        .into_values()
        .map(|rows| (rows[0].dataset.clone(), rows))
        .collect()
}

/// Extrapolation quality against the dimension (E4): one row per (D, method).
pub fn sweep_table(results: &Results) -> String {
    let mut out = String::from("| D | method | energy | MMD² | W2 | W2 floor |\n|---|---|---|---|---|---|\n");
    for (d, method, rows) in sweep_groups(results) {
        let stat = |f: &dyn Fn(&Row) -> f64, digits: usize| mean_std(&rows, f, digits);
        out += &format!(
            "| {d} | {method} | {} | {} | {} | {} |\n",
            stat(&|r| r.energy, 4),
            stat(&|r| r.mmd2, 4),
            stat(&|r| r.w2, 3),
            stat(&|r| r.w2_floor, 3)
        );
    }
    out
}

/// E4's extrapolation rows grouped by (D, method), in order of D.
pub fn sweep_groups(results: &Results) -> Vec<(usize, String, Vec<&Row>)> {
    let mut groups: BTreeMap<(usize, String), Vec<&Row>> = BTreeMap::new();
    for row in results.rows.iter().filter(|r| r.split == "extrapolation") {
        let d = row.dim.unwrap_or_default();
        groups.entry((d, row.method.clone())).or_default().push(row);
    }
    groups.into_iter().map(|((d, m), rows)| (d, m, rows)).collect()
}

/// "mean ± std" over the rows of one figure, with `digits` decimals.
fn mean_std(rows: &[&Row], f: &dyn Fn(&Row) -> f64, digits: usize) -> String {
    let v: Vec<f64> = rows.iter().map(|r| f(r)).collect();
    let (m, s) = crate::metrics::mean_std(&v);
    format!("{m:.digits$} ± {s:.digits$}")
}

/// A sort key that orders numbers inside names by value ("D=8" before "D=16").
fn natural(s: &str) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for ch in s.chars().chain(std::iter::once('\0')) {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        if !digits.is_empty() {
            out += &format!("{digits:0>6}");
            digits.clear();
        }
        if ch != '\0' {
            out.push(ch);
        }
    }
    out
}

/// Sorts train before interpolation before extrapolation.
fn split_order(split: &str) -> String {
    let rank = match split {
        "all" | "train" => 0,
        "interpolation" => 1,
        _ => 2,
    };
    format!("{rank} {split}")
}
