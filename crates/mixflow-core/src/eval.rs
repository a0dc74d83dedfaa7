//! Evaluation of a trained model against its dataset (SPEC section 5): W2 beside its finite-sample
//! floor, MMD², energy distance, curvature, W2 against NFE, per-split averages for conditional
//! data, and memorisation for a finite training set. Every draw comes from the data seed's evaluation streams, so reports are reproducible.

use crate::config::TrainConfig;
use crate::data::{Dataset, Points, Split};
use crate::exact::ExactError;
use crate::metrics;
use crate::rng::{self, Stream};
use crate::sample::{SampleError, Sampler};
use crate::solve::{SolveOptions, Solver};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Euler step counts of the quality-vs-NFE sweep.
pub const NFE_SWEEP: [usize; 7] = [1, 2, 4, 8, 16, 32, 128];
/// Euler steps of the curvature metric.
pub const CURVATURE_STEPS: usize = 128;

/// Distances between generated and true samples, with the W2 that two true draws already have.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub w2: f64,
    pub w2_floor: f64,
    pub mmd2: f64,
    pub energy: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitReport {
    #[serde(flatten)]
    pub quality: Quality,
    /// How many descriptors were averaged.
    pub descriptors: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// For conditional data: the training split's averages (each split is in `splits`).
    #[serde(flatten)]
    pub quality: Quality,
    pub curvature_mean: f64,
    pub curvature_std: f64,
    /// Function evaluations of the configured solver (mean per descriptor for conditional data).
    pub nfe: f64,
    pub solver: String,
    /// Samples per comparison.
    pub n: usize,
    /// W2 after Euler with 1..128 steps, and after Dopri5.
    pub w2_by_nfe: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splits: Option<BTreeMap<String, SplitReport>>,
    /// MixFlow-OOD: how many steps trained the mixture base (the caller fills it in from the
    /// run's history; the sampler alone cannot know).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub base_steps: Option<usize>,
    /// A run with a finite training set (`train-n`): memorisation and the gap to the exact field.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub memorisation: Option<crate::memorisation::MemorisationReport>,
}

/// The target draw, a second independent draw (for the floor), and the base noise of one comparison.
struct Draws {
    target: Points,
    second: Points,
    base: Points,
}

/// How far an evaluation has got: `done` of `total` generations, and the one under way.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub stage: &'static str,
}

/// Why an evaluation failed: a sampler that cannot run (a diverged model), or the memorisation
/// measures' exact field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error(transparent)]
    Exact(#[from] ExactError),
}

pub fn evaluate(sampler: &Sampler, dataset: &Dataset, cfg: &TrainConfig) -> Result<Report, EvalError> {
    evaluate_reporting(sampler, dataset, cfg, &mut |_| {})
}

/// [`evaluate`], telling `progress` before each generation (a long evaluation takes seconds).
pub fn evaluate_reporting(
    sampler: &Sampler,
    dataset: &Dataset,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, EvalError> {
    let solve = cfg.solve_options();
    let conditions = split_conditions(dataset, cfg, Split::Train);
    let n = samples_per_condition(dataset, cfg);
    let descriptor = |cond: Option<usize>| cond.map(|c| dataset.conditions[c].descriptor.as_slice());
    let draws = |cond: Option<usize>| -> Result<Draws, SampleError> {
        let key = cond.map_or(0, |c| c as u64 + 1);
        Ok(Draws {
            target: dataset.sample(cond, n, &mut rng::seeded(cfg.data_seed, Stream::Reference, key)),
            second: dataset.sample(cond, n, &mut rng::seeded(cfg.data_seed, Stream::Floor, key)),
            base: sampler
                .base(descriptor(cond), n, &mut rng::seeded(cfg.data_seed, Stream::Eval, key))?
                .points,
        })
    };

    // Quality with the configured solver, per split.
    let mut nfe_total = 0.0;
    let mut per_split = BTreeMap::new();
    let splits: &[Split] = if dataset.is_conditional() {
        &Split::ALL
    } else {
        &[Split::Train]
    };
    // Generations: each split's conditions, the NFE sweep's on the headline conditions, and the
    // curvature's.
    let total = splits
        .iter()
        .map(|&s| split_conditions(dataset, cfg, s).len())
        .sum::<usize>()
        + (NFE_SWEEP.len() + 2) * conditions.len()
        + usize::from(cfg.train_n.is_some());
    let mut done = 0;
    let mut report = |stage: &'static str| {
        progress(Progress { done, total, stage });
        done += 1;
    };
    for &split in splits {
        let conds = split_conditions(dataset, cfg, split);
        let mut sum = Quality::default();
        for &cond in &conds {
            report(quality_stage(split, dataset.is_conditional()));
            let d = draws(cond)?;
            let generated = sampler.generate(descriptor(cond), &d.base, &solve, false)?;
            if split == Split::Train {
                nfe_total += generated.nfe as f64;
            }
            add(&mut sum, &quality(&generated.samples, &d.target, &d.second));
        }
        if !conds.is_empty() {
            per_split.insert(
                split.name().to_string(),
                SplitReport {
                    quality: scale(sum, conds.len()),
                    descriptors: conds.len(),
                },
            );
        }
    }
    let headline = per_split.get("train").map(|s| s.quality.clone()).unwrap_or_default();

    // W2 against NFE, averaged over the same conditions as the headline.
    let mut w2_by_nfe = BTreeMap::new();
    let sweep = NFE_SWEEP.iter().map(|&k| (k.to_string(), SolveOptions::euler(k)));
    let sweep = sweep.chain([(
        "dopri5".to_string(),
        SolveOptions {
            solver: Solver::Dopri5,
            ..solve.clone()
        },
    )]);
    let sweep_draws = conditions
        .iter()
        .map(|&cond| draws(cond))
        .collect::<Result<Vec<_>, _>>()?;
    for (name, opts) in sweep {
        let mut sum = 0.0;
        for (&cond, d) in conditions.iter().zip(&sweep_draws) {
            report("W2 against the number of steps");
            sum += metrics::w2(
                &sampler.generate(descriptor(cond), &d.base, &opts, false)?.samples,
                &d.target,
            );
        }
        w2_by_nfe.insert(name, sum / conditions.len() as f64);
    }

    // Curvature of 128-step Euler trajectories, particles shared out over the conditions.
    let mut curvatures = Vec::new();
    let per = (cfg.curvature_n / conditions.len()).max(1);
    for &cond in &conditions {
        report("curvature");
        let key = cond.map_or(0, |c| c as u64 + 1) + 1_000_000;
        let base = sampler
            .base(
                descriptor(cond),
                per,
                &mut rng::seeded(cfg.data_seed, Stream::Eval, key),
            )?
            .points;
        let traj = sampler
            .generate(descriptor(cond), &base, &SolveOptions::euler(CURVATURE_STEPS), true)?
            .trajectory;
        let states: Vec<Points> = traj.into_iter().map(|(_, p)| p).collect();
        curvatures.extend(metrics::curvature(&states));
    }
    let (curvature_mean, curvature_std) = metrics::mean_std(&curvatures);
    if cfg.train_n.is_some() {
        report("memorisation and the gap to the exact field");
    }
    let memorisation = crate::memorisation::measure(sampler, dataset, cfg)?;

    Ok(Report {
        quality: headline,
        curvature_mean,
        curvature_std,
        nfe: nfe_total / conditions.len() as f64,
        solver: solve.solver.name().to_string(),
        n,
        w2_by_nfe,
        splits: dataset.is_conditional().then_some(per_split),
        base_steps: None,
        memorisation,
    })
}

/// [`evaluate_reporting`] for a run, with what only the run knows (MixFlow-OOD's base steps).
pub fn evaluate_run(trainer: &crate::train::Trainer, progress: &mut dyn FnMut(Progress)) -> Result<Report, EvalError> {
    let mut report = evaluate_reporting(&trainer.sampler(), &trainer.dataset, &trainer.config, progress)?;
    report.base_steps = trainer.base_steps();
    Ok(report)
}

fn quality_stage(split: Split, conditional: bool) -> &'static str {
    match (split, conditional) {
        (_, false) => "W2, MMD and energy against the data",
        (Split::Train, true) => "quality on training descriptors",
        (Split::Interpolation, true) => "quality on interpolation descriptors",
        (Split::Extrapolation, true) => "quality on extrapolation descriptors",
    }
}

fn quality(generated: &Points, target: &Points, second: &Points) -> Quality {
    Quality {
        w2: metrics::w2(generated, target),
        w2_floor: metrics::w2(second, target),
        mmd2: metrics::mmd2(generated, target),
        energy: metrics::energy(generated, target),
    }
}

fn add(sum: &mut Quality, q: &Quality) {
    sum.w2 += q.w2;
    sum.w2_floor += q.w2_floor;
    sum.mmd2 += q.mmd2;
    sum.energy += q.energy;
}

fn scale(q: Quality, n: usize) -> Quality {
    let k = n.max(1) as f64;
    Quality {
        w2: q.w2 / k,
        w2_floor: q.w2_floor / k,
        mmd2: q.mmd2 / k,
        energy: q.energy / k,
    }
}

/// The conditions evaluated in `split` (at most `eval_conditions`, evenly spaced); one `None`
/// for unconditional data.
pub(crate) fn split_conditions(dataset: &Dataset, cfg: &TrainConfig, split: Split) -> Vec<Option<usize>> {
    if dataset.is_conditional() {
        pick(&dataset.split_indices(split), cfg.eval_conditions)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None]
    }
}

/// Samples per evaluated condition.
pub(crate) fn samples_per_condition(dataset: &Dataset, cfg: &TrainConfig) -> usize {
    if dataset.is_conditional() {
        cfg.eval_per_condition
    } else {
        cfg.eval_n
    }
}

/// At most `k` items of `from`, evenly spaced, first and last included.
fn pick(from: &[usize], k: usize) -> Vec<usize> {
    if from.len() <= k {
        return from.to_vec();
    }
    if k == 1 {
        return vec![from[0]];
    }
    (0..k).map(|i| from[i * (from.len() - 1) / (k - 1)]).collect()
}
