//! Memorisation against generalisation on a finite training set (SPEC sections 5 and 7, E5): how
//! many of a model's samples copy training points, how far they lie from the training set and from
//! a held-out set, and where in time the network departs from the exact empirical field u*
//! ([`crate::exact`]). Also the three samplers compared from the same noise: the exact field, the
//! learned one, and the hybrid that switches between them at τ.

use crate::config::TrainConfig;
use crate::data::{Dataset, Points, Split};
use crate::eval::EvalError;
use crate::exact::{self, EmpiricalField, ExactError, Followed};
use crate::metrics::{self, Memorisation};
use crate::rng::{self, Stream};
use crate::sample::Sampler;
use serde::{Deserialize, Serialize};

/// Time bins of the field gap.
pub const GAP_BINS: usize = 10;
/// Points per bin of the field gap.
const GAP_PER_BIN: usize = 256;

/// What `eval` reports of a run with a finite training set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemorisationReport {
    /// Training points per descriptor.
    pub train_n: usize,
    #[serde(flatten)]
    pub measures: Memorisation,
    /// E‖v_θ − u*‖² (model space) at the centre of each of [`GAP_BINS`] bins of t, as [t, gap];
    /// only for models that flow from N(0, I), where u* is the loss's minimiser.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gap_by_t: Option<Vec<[f64; 2]>>,
}

/// Which field a sampler follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Follow {
    /// The network's v_θ.
    Learned,
    /// The exact empirical field u*.
    Exact,
    /// v_θ until τ then u* (`learned_first`), or u* until τ then v_θ.
    Hybrid { tau: f64, learned_first: bool },
}

/// The exact field of the training set of condition `cond`, in the model's space.
pub fn exact_field(sampler: &Sampler, dataset: &Dataset, cond: Option<usize>) -> Result<EmpiricalField, ExactError> {
    let set = dataset.training_set(cond).ok_or(ExactError::NoTrainingSet)?;
    EmpiricalField::new(&sampler.to_model(set))
}

/// The network's field v_θ for `descriptor`, in model space, as the samplers take it.
pub fn learned_field<'a>(
    sampler: &'a Sampler,
    descriptor: Option<&'a [f32]>,
) -> impl FnMut(&Points, f64) -> Result<Points, ExactError> + 'a {
    move |x, t| {
        sampler
            .model_velocity(descriptor, x, t as f32)
            .map_err(ExactError::Learned)
    }
}

/// Integrates base samples `x0` (model space) with `steps` Euler steps along `follow`, returning
/// samples and trajectory in original units.
pub fn generate(
    sampler: &Sampler,
    exact: &EmpiricalField,
    descriptor: Option<&[f32]>,
    x0: &Points,
    steps: usize,
    follow: Follow,
    record: bool,
) -> Result<Followed, ExactError> {
    let learned = learned_field(sampler, descriptor);
    if !record && let Some(followed) = fused(sampler, exact, descriptor, x0, steps, follow)? {
        return Ok(followed);
    }
    let followed = match follow {
        Follow::Learned => exact::euler(x0, steps, record, &mut { learned }),
        Follow::Exact => exact::euler(x0, steps, record, &mut exact.as_field()),
        Follow::Hybrid {
            tau,
            learned_first: true,
        } => exact::euler(
            x0,
            steps,
            record,
            &mut exact::switching(tau, learned, exact.as_field())?,
        ),
        Follow::Hybrid {
            tau,
            learned_first: false,
        } => exact::euler(
            x0,
            steps,
            record,
            &mut exact::switching(tau, exact.as_field(), learned)?,
        ),
    }?;
    Ok(Followed {
        samples: sampler.to_original(&followed.samples),
        trajectory: followed
            .trajectory
            .into_iter()
            .map(|(t, p)| (t, sampler.to_original(&p)))
            .collect(),
    })
}

/// [`generate`] without a trajectory, with the learned steps on the fused CPU path where it
/// applies (none where it does not): the learned sampler alone, and the hybrid whose learned
/// part comes first. It takes the same Euler steps as the general loop.
fn fused(
    sampler: &Sampler,
    exact: &EmpiricalField,
    descriptor: Option<&[f32]>,
    x0: &Points,
    steps: usize,
    follow: Follow,
) -> Result<Option<Followed>, ExactError> {
    let taken = match follow {
        Follow::Learned => steps,
        Follow::Hybrid {
            tau,
            learned_first: true,
        } if (0.0..=1.0).contains(&tau) => exact::steps_before(tau, steps),
        _ => return Ok(None),
    };
    let Some(x) = sampler
        .euler_fused(descriptor, x0, steps, taken)
        .map_err(ExactError::Learned)?
    else {
        return Ok(None);
    };
    let x = exact::euler_from(&x, taken, steps, false, &mut exact.as_field())?.samples;
    Ok(Some(Followed {
        samples: sampler.to_original(&x),
        trajectory: Vec::new(),
    }))
}

/// The memorisation measures of a run (none without a finite training set), averaged over the
/// evaluated training descriptors; draws from the data seed's evaluation stream, apart from every
/// other metric's.
pub fn measure(
    sampler: &Sampler,
    dataset: &Dataset,
    cfg: &TrainConfig,
) -> Result<Option<MemorisationReport>, EvalError> {
    let Some(train_n) = cfg
        .train_n
        .filter(|_| dataset.training_set(first_training(dataset)).is_some())
    else {
        return Ok(None);
    };
    let conditions = crate::eval::split_conditions(dataset, cfg, Split::Train);
    let n = crate::eval::samples_per_condition(dataset, cfg);
    let solve = cfg.solve_options();
    let mut each = Vec::new();
    let mut gaps: Vec<Vec<(f64, f64)>> = Vec::new();
    for &cond in &conditions {
        let key = cond.map_or(0, |c| c as u64 + 1) + 2_000_000;
        let descriptor = cond.map(|c| dataset.conditions[c].descriptor.as_slice());
        let base = sampler
            .base(descriptor, n, &mut rng::seeded(cfg.data_seed, Stream::Eval, key))?
            .points;
        let samples = sampler.generate(descriptor, &base, &solve, false)?.samples;
        let train = dataset
            .training_set(cond)
            .expect("every training descriptor has its set");
        each.push(metrics::memorisation(&samples, train, dataset.held_out_set(cond)));
        if sampler.flows_from_gaussian() {
            let exact = exact_field(sampler, dataset, cond)?;
            let mut learned = learned_field(sampler, descriptor);
            let mut rng = rng::seeded(cfg.data_seed, Stream::Eval, key + 1_000_000);
            gaps.push(exact::field_gap(&exact, &mut learned, GAP_BINS, GAP_PER_BIN, &mut rng)?);
        }
    }
    Ok(Some(MemorisationReport {
        train_n,
        measures: mean(&each),
        gap_by_t: (!gaps.is_empty()).then(|| {
            (0..GAP_BINS)
                .map(|b| {
                    [
                        gaps[0][b].0,
                        gaps.iter().map(|g| g[b].1).sum::<f64>() / gaps.len() as f64,
                    ]
                })
                .collect()
        }),
    }))
}

/// The first training descriptor (none for unconditional data).
fn first_training(dataset: &Dataset) -> Option<usize> {
    dataset.split_indices(Split::Train).first().copied()
}

fn mean(each: &[Memorisation]) -> Memorisation {
    let k = each.len().max(1) as f64;
    let held_out: Option<Vec<f64>> = each.iter().map(|m| m.to_held_out).collect();
    Memorisation {
        memorised: each.iter().map(|m| m.memorised).sum::<f64>() / k,
        to_train: each.iter().map(|m| m.to_train).sum::<f64>() / k,
        to_held_out: held_out.map(|h| h.iter().sum::<f64>() / k),
    }
}
