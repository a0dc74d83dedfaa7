//! Views of a trainer's model, and the metrics read off them: what the worker sends the app
//! between training chunks (samples, trajectories, the velocity field, W2 against a fixed
//! reference, the W2 floor), computed on whatever device holds the model the view is taken of.

use crate::protocol::{FIELD_GRID, FIELD_TIMES, FieldSlice, MetricPoint, RunInfo, View, ViewRequest};
use mixflow_core::data::{Points, Split};
use mixflow_core::metrics;
use mixflow_core::rng::{self, Stream};
use mixflow_core::sample::SampleError;
use mixflow_core::solve::SolveOptions;
use mixflow_core::train::{SnapshotRequest, Trainer};

/// Samples compared for the W2 tracked over training (and for its floor, and W2 against NFE).
pub(crate) const METRIC_N: usize = 500;
/// The evaluation stream's key of the fixed base draw behind W2 over training.
pub(crate) const METRIC_BASE_KEY: u64 = u64::MAX - 1;
/// Independent true draws the W2 floor is averaged over: one pair alone varies by about 10%.
pub(crate) const FLOOR_DRAWS: u64 = 4;

/// The descriptor a view shows: the requested one when it fits this run's data (a request may
/// still carry the previous dataset's descriptor just after a switch), else the first training one.
pub(crate) fn viewed_descriptor(trainer: &Trainer, requested: Option<&[f32]>) -> Option<Vec<f32>> {
    requested
        .filter(|d| d.len() == trainer.dataset.descriptor_dim && trainer.dataset.is_conditional())
        .map(<[f32]>::to_vec)
        .or_else(|| first_train_descriptor(trainer))
}

pub(crate) fn first_train_descriptor(trainer: &Trainer) -> Option<Vec<f32>> {
    let train = trainer.dataset.split_indices(Split::Train);
    train.first().map(|&i| trainer.dataset.conditions[i].descriptor.clone())
}

/// Why a view, or a metric read off one, could not be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Sample(#[from] SampleError),
    #[error("this dataset cannot draw data for that descriptor")]
    NoDataThere,
    #[error("W2 against the descriptor needs a conditional dataset")]
    NotConditional,
    #[error("no run is loaded")]
    NoRun,
    /// The app stopped listening while the worker readied the model.
    #[error("the app has gone")]
    AppGone,
}

/// `n` true points for `descriptor`, and whether they came from the generator (vs. none known).
pub(crate) fn reference(trainer: &Trainer, descriptor: Option<&[f32]>, n: usize) -> Result<(Points, bool), ViewError> {
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Reference, 0);
    match descriptor {
        Some(d) => trainer
            .dataset
            .sample_at(d, n, &mut rng)
            .map(|p| (p, true))
            .ok_or(ViewError::NoDataThere),
        None => Ok((trainer.dataset.sample(None, n, &mut rng), true)),
    }
}

pub(crate) fn run_info(trainer: &Trainer, backend: String, note: Option<String>) -> RunInfo {
    let descriptor = first_train_descriptor(trainer);
    let cond = descriptor
        .as_ref()
        .and_then(|d| trainer.dataset.conditions.iter().position(|c| &c.descriptor == d));
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Display, 0);
    // The canvas fits every training descriptor's data, so switching descriptors keeps the frame.
    let data_sample = if trainer.dataset.is_conditional() {
        let train = trainer.dataset.split_indices(Split::Train);
        let per = (4000 / train.len().max(1)).max(50);
        let mut all = Vec::new();
        for &i in &train {
            all.extend(trainer.dataset.sample(Some(i), per, &mut rng).data);
        }
        Points::new(trainer.dataset.dim, all)
    } else {
        trainer.dataset.sample(None, 4000, &mut rng)
    };
    let a = trainer.dataset.sample(
        cond,
        METRIC_N,
        &mut rng::seeded(trainer.config.data_seed, Stream::Reference, 0),
    );
    let floor = (0..FLOOR_DRAWS)
        .map(|key| {
            let b = trainer.dataset.sample(
                cond,
                METRIC_N,
                &mut rng::seeded(trainer.config.data_seed, Stream::Floor, key),
            );
            metrics::w2(&a, &b)
        })
        .sum::<f64>()
        / FLOOR_DRAWS as f64;
    RunInfo {
        config: trainer.config.clone(),
        dim: trainer.dataset.dim,
        descriptor_dim: trainer.dataset.descriptor_dim,
        conditions: trainer.dataset.conditions.clone(),
        param_counts: trainer
            .param_counts()
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect(),
        data_sample,
        w2_floor: floor,
        backend,
        // The data's own note (a file cut at the row limit) after the device's.
        note: note
            .into_iter()
            .chain(trainer.dataset.note.clone())
            .reduce(|a, b| format!("{a}; {b}")),
        step: trainer.steps_done(),
        history: trainer.history().to_vec(),
    }
}

/// A view of `trainer`'s model as `req` asks (what the worker sends; public for rendering tests).
pub fn make_view(trainer: &Trainer, req: &ViewRequest) -> Result<View, ViewError> {
    let started = web_time::Instant::now();
    let descriptor = viewed_descriptor(trainer, req.descriptor.as_deref());
    let take = |advect: bool| {
        trainer.snapshot(&SnapshotRequest {
            particles: req.particles,
            trajectories: if advect {
                METRIC_N.min(req.particles)
            } else {
                req.trajectories
            },
            solve: SolveOptions::euler(req.euler_steps),
            descriptor: descriptor.clone(),
            source_w: req.source_w,
            advect,
        })
    };
    let mut snapshot = take(req.advect.is_some())?;
    // A network too wide for the shader's arrays is drawn from the CPU instead.
    if let (Some(a), Some(limits)) = (&snapshot.advection, req.advect)
        && !limits.fits(&a.field)
    {
        snapshot = take(false)?;
    }
    let data = reference(trainer, descriptor.as_deref(), req.particles.min(10_000))
        .ok()
        .map(|(p, _)| p);
    let pairs = trainer.minibatch_pairs(req.source_w).ok();
    let field = match req.field_box {
        Some((lo, hi)) if trainer.dataset.dim == 2 => field(trainer, descriptor.as_deref(), lo, hi)?,
        _ => Vec::new(),
    };
    Ok(View {
        request: req.clone(),
        model: snapshot,
        data,
        pairs,
        field,
        compute_ms: started.elapsed().as_secs_f64() * 1e3,
        from_history: false,
    })
}

/// The velocity field on a grid over `lo..hi` at [`FIELD_TIMES`] evenly spaced times.
fn field(
    trainer: &Trainer,
    descriptor: Option<&[f32]>,
    lo: [f32; 2],
    hi: [f32; 2],
) -> Result<Vec<FieldSlice>, ViewError> {
    let sampler = trainer.sampler();
    let positions = field_grid(lo, hi);
    (0..FIELD_TIMES)
        .map(|i| {
            let t = i as f32 / (FIELD_TIMES - 1) as f32;
            Ok(FieldSlice {
                t,
                velocities: sampler.velocity(descriptor, &positions, t)?,
                positions: positions.clone(),
            })
        })
        .collect()
}

/// The centres of a [`FIELD_GRID`]² grid over the box `lo..hi`, row by row.
pub(crate) fn field_grid(lo: [f32; 2], hi: [f32; 2]) -> Points {
    let g = FIELD_GRID;
    let mut grid = Vec::with_capacity(g * g * 2);
    for iy in 0..g {
        for ix in 0..g {
            let fx = (ix as f32 + 0.5) / g as f32;
            let fy = (iy as f32 + 0.5) / g as f32;
            grid.push(lo[0] + fx * (hi[0] - lo[0]));
            grid.push(lo[1] + fy * (hi[1] - lo[1]));
        }
    }
    Points::new(2, grid)
}

/// A new view waiting for its metrics, measured in the next round and sent just before it (so the
/// charts always hold the view's step): W2's exact assignment is the dearest part, and in the page
/// each round is one task, so the two never add up to one long one.
pub(crate) struct PendingView {
    pub(crate) view: Box<View>,
    step: usize,
    /// [`metric_samples`] of the model the view shows (None when they could not be drawn).
    samples: Option<Points>,
    descriptor: Option<Vec<f32>>,
    curvature: f64,
}

impl PendingView {
    pub(crate) fn of(view: View, descriptor: Option<Vec<f32>>, samples: Option<Points>) -> Self {
        let m = &view.model;
        let curvature = if m.trajectories.len() >= 2 && !m.trajectories[0].is_empty() {
            metrics::mean_std(&metrics::curvature(&m.trajectories)).0
        } else {
            f64::NAN
        };
        Self {
            step: m.step,
            samples,
            descriptor,
            curvature,
            view: Box::new(view),
        }
    }

    /// W2 of the metric samples against the reference draw the floor is measured on, of the
    /// same size.
    pub(crate) fn measure(&self, trainer: &Trainer) -> Option<MetricPoint> {
        let samples = self.samples.as_ref()?;
        let (data, _) = reference(trainer, self.descriptor.as_deref(), samples.len()).ok()?;
        let dataset = &trainer.dataset;
        let cond = self
            .descriptor
            .as_ref()
            .and_then(|d| dataset.conditions.iter().position(|c| &c.descriptor == d));
        let memorised = dataset
            .training_set(cond)
            .map(|train| metrics::memorisation(samples, train, None).memorised);
        Some(MetricPoint {
            step: self.step,
            w2: metrics::w2(samples, &data),
            curvature: self.curvature,
            memorised,
        })
    }
}

/// The samples W2 over training is measured on: [`METRIC_N`] of them, from one base draw that is
/// the same at every step. With a fresh draw per view the curve showed the draw, not the model:
/// on moons a converged RF run's W2 wandered between 0.37 and 0.66 over its last 500 steps, so
/// the last point often looked like a jump.
pub(crate) fn metric_samples(
    trainer: &Trainer,
    descriptor: Option<&[f32]>,
    euler_steps: usize,
) -> Result<Points, SampleError> {
    let sampler = trainer.sampler();
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Eval, METRIC_BASE_KEY);
    let base = sampler.base(descriptor, METRIC_N, &mut rng)?.points;
    Ok(sampler
        .generate(descriptor, &base, &SolveOptions::euler(euler_steps), false)?
        .samples)
}

/// W2 after Euler with each step count of the NFE sweep, at the viewed descriptor.
pub(crate) fn w2_against_nfe(trainer: &Trainer, requested: Option<&[f32]>) -> Result<Vec<(usize, f64)>, ViewError> {
    let sampler = trainer.sampler();
    let descriptor = viewed_descriptor(trainer, requested);
    // The size of the floor's draws: W2 falls as samples grow, so a larger sample than the
    // floor's would seem to beat it.
    let (data, _) = reference(trainer, descriptor.as_deref(), METRIC_N)?;
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Eval, 1);
    let base = sampler.base(descriptor.as_deref(), METRIC_N, &mut rng)?.points;
    mixflow_core::eval::NFE_SWEEP
        .iter()
        .map(|&steps| {
            let generated = sampler.generate(descriptor.as_deref(), &base, &SolveOptions::euler(steps), false)?;
            Ok((generated.nfe, metrics::w2(&generated.samples, &data)))
        })
        .collect()
}

/// W2 at every descriptor of every split, after `euler_steps` Euler steps.
pub(crate) fn w2_per_descriptor(
    trainer: &Trainer,
    euler_steps: usize,
) -> Result<Vec<(Vec<f32>, Split, f64)>, ViewError> {
    if !trainer.dataset.is_conditional() {
        return Err(ViewError::NotConditional);
    }
    let sampler = trainer.sampler();
    let solve = SolveOptions::euler(euler_steps);
    let mut out = Vec::new();
    for (i, cond) in trainer.dataset.conditions.iter().enumerate() {
        let mut rng = rng::seeded(trainer.config.data_seed, Stream::Reference, i as u64);
        let data = trainer.dataset.sample(Some(i), METRIC_N, &mut rng);
        let base = sampler.base(Some(&cond.descriptor), METRIC_N, &mut rng)?.points;
        let generated = sampler.generate(Some(&cond.descriptor), &base, &solve, false)?;
        out.push((
            cond.descriptor.clone(),
            cond.split,
            metrics::w2(&generated.samples, &data),
        ));
    }
    Ok(out)
}
