//! The memorisation lab's picture of a run on a finite training set: the learned and the exact
//! empirical field side by side at one time, their gap on a grid and against time, and samples of
//! the exact, learned and hybrid samplers from the same noise, each marked memorised or novel.

use crate::protocol::{LabRequest, LabSamples, LabView};
use mixflow_core::data::Points;
use mixflow_core::exact::ExactError;
use mixflow_core::memorisation::{self, Follow, GAP_BINS};
use mixflow_core::metrics;
use mixflow_core::rng::{self, Stream};
use mixflow_core::sample::SampleError;
use mixflow_core::train::Trainer;

/// The latest time the lab shows the fields at: u* divides by 1 − t.
pub const LAST_T: f32 = 0.999;
/// At most this many samples per sampler, so a view stays within the page's frame budget.
pub const MAX_SAMPLES: usize = 2000;
/// The evaluation stream's key of the lab's noise, the same at every step.
const NOISE_KEY: u64 = u64::MAX - 2;
/// Points per bin of the gap against t.
const GAP_PER_BIN: usize = 128;

/// Why the lab cannot show a run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LabError {
    #[error("the lab draws 2D data, and this run's has {0} dimensions")]
    NotPlanar(usize),
    #[error(
        "this run draws fresh data at every step: set a training-set size (train-n) to compare it with the exact field"
    )]
    NoTrainingSet,
    #[error(transparent)]
    Exact(#[from] ExactError),
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// The lab's view of `trainer`'s model for `descriptor` (the viewed one): what the worker sends while
/// the lab is open (public for the demo caption tests).
pub fn make_lab(trainer: &Trainer, descriptor: Option<&[f32]>, req: &LabRequest) -> Result<LabView, LabError> {
    let started = web_time::Instant::now();
    if !(0.0..=1.0).contains(&req.tau) {
        return Err(ExactError::Tau(req.tau as f64).into());
    }
    let dataset = &trainer.dataset;
    if dataset.dim != 2 {
        return Err(LabError::NotPlanar(dataset.dim));
    }
    let cond = match descriptor {
        Some(d) => dataset.conditions.iter().position(|c| c.descriptor == d),
        None => None,
    };
    let train = dataset.training_set(cond).ok_or(LabError::NoTrainingSet)?;
    let sampler = trainer.sampler();
    let exact = memorisation::exact_field(&sampler, dataset, cond)?;
    let t = req.t.clamp(0.0, LAST_T);
    let note = (req.t > LAST_T).then(|| format!("u* is not defined at t = 1: the fields are shown at t = {LAST_T}"));

    let (grid, learned, exact_v) = fields(&sampler, &exact, descriptor, req.field_box, t)?;
    let gap = learned
        .data
        .chunks_exact(2)
        .zip(exact_v.data.chunks_exact(2))
        .map(|(v, u)| (v[0] - u[0]).powi(2) + (v[1] - u[1]).powi(2))
        .collect();
    let gap_by_t = sampler
        .flows_from_gaussian()
        .then(|| {
            let mut learned = memorisation::learned_field(&sampler, descriptor);
            let mut rng = rng::seeded(trainer.config.data_seed, Stream::Display, NOISE_KEY);
            mixflow_core::exact::field_gap(&exact, &mut learned, GAP_BINS, GAP_PER_BIN, &mut rng)
        })
        .transpose()?
        .map(|bins| bins.into_iter().map(|(t, g)| [t, g]).collect());

    let n = req.samples.clamp(1, MAX_SAMPLES);
    let mut noise = rng::seeded(trainer.config.data_seed, Stream::Eval, NOISE_KEY);
    let x0 = sampler.base(descriptor, n, &mut noise)?.points;
    let steps = req.euler_steps.clamp(1, 200);
    let follow = |how| -> Result<LabSamples, LabError> {
        let points = memorisation::generate(&sampler, &exact, descriptor, &x0, steps, how, false)?.samples;
        let memorised = metrics::memorised_each(&points, train);
        Ok(LabSamples { points, memorised })
    };
    let exact_samples = follow(Follow::Exact)?;
    let learned_samples = follow(Follow::Learned)?;
    let hybrid_samples = follow(Follow::Hybrid {
        tau: req.tau as f64,
        learned_first: true,
    })?;
    Ok(LabView {
        request: req.clone(),
        step: trainer.steps_done(),
        t,
        train: train.clone(),
        held_out: dataset.held_out_set(cond).cloned(),
        grid,
        learned,
        exact: exact_v,
        gap,
        gap_by_t,
        exact_samples,
        learned_samples,
        hybrid_samples,
        note,
        compute_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The grid over the box, and the learned and exact velocities there at `t`, in original units.
fn fields(
    sampler: &mixflow_core::sample::Sampler,
    exact: &mixflow_core::exact::EmpiricalField,
    descriptor: Option<&[f32]>,
    (lo, hi): ([f32; 2], [f32; 2]),
    t: f32,
) -> Result<(Points, Points, Points), LabError> {
    let grid = crate::view::field_grid(lo, hi);
    let learned = sampler.velocity(descriptor, &grid, t)?;
    let exact = exact.velocity(&sampler.to_model(&grid), t as f64)?;
    let exact = sampler.velocity_to_original(exact);
    Ok((grid, learned, exact))
}
