//! The evaluation protocols of SPEC section 7: E1 (out-of-distribution descriptors), E2 (path
//! curvature) and E3 (mixture base versus MixFlow-RF). Every method gets the same network, steps,
//! batch and learning rate; results are rows of one JSON schema and a Markdown table.

use crate::config::TrainConfig;
use crate::eval::{self, Report};
use crate::method::Method;
use crate::train::Trainer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Experiment {
    E1,
    E2,
    E3,
}

const CONDITIONAL: [&str; 5] = [
    "letters",
    "rotating-moons",
    "shifting-modes",
    "ring-radius",
    "lowdim-perturbation",
];
const CURVATURE_TARGETS: [&str; 4] = ["8gaussians", "moons", "checkerboard", "8gaussians->moons"];

impl Experiment {
    pub fn name(self) -> &'static str {
        match self {
            Experiment::E1 => "e1",
            Experiment::E2 => "e2",
            Experiment::E3 => "e3",
        }
    }

    /// Every (dataset, method) the protocol trains.
    pub fn plan(self) -> Vec<(&'static str, Method)> {
        let cross = |datasets: &[&'static str], methods: &[Method]| -> Vec<(&'static str, Method)> {
            datasets
                .iter()
                .flat_map(|&d| methods.iter().map(move |&m| (d, m)))
                .collect()
        };
        match self {
            Experiment::E1 => cross(&CONDITIONAL, &[Method::MixflowOod, Method::Rf, Method::COt]),
            Experiment::E2 => cross(
                &CURVATURE_TARGETS,
                &[Method::MixflowRf, Method::Rf, Method::FastOde, Method::OtCfm],
            )
            .into_iter()
            // The κ-FC source mixes with N(0, I); a toy source has no such mixture.
            .filter(|(d, m)| !(d.contains("->") && matches!(m, Method::MixflowRf | Method::FastOde)))
            .collect(),
            Experiment::E3 => cross(&CURVATURE_TARGETS[..3], &[Method::MixflowOod, Method::MixflowRf]),
        }
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
    pub w2: f64,
    pub w2_floor: f64,
    pub mmd2: f64,
    pub energy: f64,
    pub curvature_mean: f64,
    pub curvature_std: f64,
    pub w2_by_nfe: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub experiment: String,
    pub steps: usize,
    pub seeds: Vec<u64>,
    pub rows: Vec<Row>,
}

/// Trains and evaluates every run of the protocol; `progress` hears of each run as it starts.
pub fn run(
    experiment: Experiment,
    seeds: usize,
    steps: usize,
    mut progress: impl FnMut(&str),
) -> Result<Results, String> {
    if seeds == 0 {
        return Err("setting `seeds`: at least 1".into());
    }
    let seeds: Vec<u64> = (0..seeds as u64).collect();
    let mut rows = Vec::new();
    for (dataset, method) in experiment.plan() {
        for &seed in &seeds {
            progress(&format!(
                "{} {dataset} {} seed {seed}",
                experiment.name(),
                method.name()
            ));
            let config = TrainConfig {
                dataset: dataset.into(),
                method,
                seed,
                steps,
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::new(config)?;
            while !trainer.is_finished() {
                trainer
                    .step()
                    .map_err(|e| format!("{dataset} {} seed {seed}: {e}", method.name()))?;
            }
            let report = eval::evaluate(&trainer.sampler(), &trainer.dataset, &trainer.config)?;
            rows.extend(rows_of(dataset, method, seed, &report));
        }
    }
    Ok(Results {
        experiment: experiment.name().into(),
        steps,
        seeds,
        rows,
    })
}

fn rows_of(dataset: &str, method: Method, seed: u64, r: &Report) -> Vec<Row> {
    let row = |split: &str, q: &eval::Quality| Row {
        dataset: dataset.into(),
        method: method.name().into(),
        seed,
        split: split.into(),
        w2: q.w2,
        w2_floor: q.w2_floor,
        mmd2: q.mmd2,
        energy: q.energy,
        curvature_mean: r.curvature_mean,
        curvature_std: r.curvature_std,
        w2_by_nfe: r.w2_by_nfe.clone(),
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
            .entry((row.dataset.clone(), split_order(&row.split), row.method.clone()))
            .or_default()
            .push(row);
    }
    let curvature = results.experiment != "e1";
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
    for ((dataset, split, method), rows) in groups {
        let stat = |f: &dyn Fn(&Row) -> f64, digits: usize| {
            let v: Vec<f64> = rows.iter().map(|r| f(r)).collect();
            let (m, s) = crate::metrics::mean_std(&v);
            format!("{m:.digits$} ± {s:.digits$}")
        };
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

/// Sorts train before interpolation before extrapolation.
fn split_order(split: &str) -> String {
    let rank = match split {
        "all" | "train" => 0,
        "interpolation" => 1,
        _ => 2,
    };
    format!("{rank} {split}")
}
