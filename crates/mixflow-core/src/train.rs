//! The step-wise trainer: `step()` runs one iteration of the configured method and returns a
//! [`StepMessage`]; `snapshot()` returns what a UI draws without disturbing training; `save` /
//! `resume` make checkpoints that a run continues from exactly (each step's random stream is
//! derived from the seed and the step).

use crate::backend::BackendError;
use crate::config::{SettingError, TrainConfig};
use crate::data::{DataError, Dataset, Points, Scaler, Split};
use crate::method::cfm::Cfm;
use crate::method::mixflow_ood::{CONSTANT_DESCRIPTOR, MixflowOod};
use crate::method::mixflow_rf::MixflowRf;
use crate::method::{Batch, Method, Start, TrainMethod};
use crate::mixture::Mixture;
use crate::nn::FlatField;
use crate::rng::{self, Rng, Stream};
use crate::sample::{KappaView, SampleError, Sampler};
use crate::solve::{SolveError, SolveOptions, read_points, read_scalar};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData, Transaction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use web_time::Instant;

pub use crate::method::{Losses, Phase};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepMessage {
    /// Steps done, counting this one.
    pub step: usize,
    pub losses: Losses,
    pub phase: Phase,
    pub step_ms: f64,
    /// Something the user should know (e.g. a collapsed mixture base).
    pub warning: Option<String>,
}

/// Why a training step did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum TrainError {
    /// A loss became NaN or inf; the model keeps the weights of the step before.
    #[error("training diverged at step {step} (loss {loss}); lower the learning rate or turn on grad-clip")]
    Diverged { step: usize, loss: f32 },
    #[error("training already reached its last step")]
    Finished,
    /// The device failed (a GPU read that did not complete, a lost device).
    #[error("the training device failed: {0}")]
    Device(SolveError),
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// The run's cached start (its first weights) could not be taken.
    #[error(transparent)]
    Start(#[from] WeightsError),
}

/// Why weights could not move between a run and its bytes (a cached start) or its mirror.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("reading the weights from the device failed: {0}")]
    Read(String),
    #[error("a weight is not f32: {0}")]
    NotF32(String),
    #[error("the cached start is damaged")]
    Damaged,
    #[error("the cached start does not fit this run's network")]
    StartMismatch,
    #[error("the weights do not fit the mirror's network")]
    MirrorMismatch,
}

/// Why a run folder could not be written or reopened; each names the folder or file.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error("{}: no such run folder", .0.display())]
    Missing(PathBuf),
    #[error("{}: not a run folder (it has no config.json; `mixflow train --out FOLDER` makes one)", .0.display())]
    NotARun(PathBuf),
    #[error("{}: cannot create: {source}", dir.display())]
    Create { dir: PathBuf, source: std::io::Error },
    /// burn could not write a record (the weights, an optimiser's state).
    #[error("{}: cannot write {file}: {reason}", dir.display())]
    Write { dir: PathBuf, file: String, reason: String },
    /// burn could not read a record back (a damaged file, another network's weights).
    #[error("{}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error(transparent)]
    Json(#[from] JsonFileError),
    /// The folder's settings no longer make a run (an edited config.json, a removed CSV).
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// Why a JSON file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum JsonFileError {
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {source}", path.display())]
    Parse { path: PathBuf, source: serde_json::Error },
}

/// The evaluation stream's key of every snapshot's noise (apart from the keys evaluation draws
/// with, which count from 0 by descriptor).
const SNAPSHOT_NOISE: u64 = 5_000_000;

/// What a snapshot should contain.
#[derive(Clone, Debug)]
pub struct SnapshotRequest {
    pub particles: usize,
    /// How many of the particles also return their whole trajectory.
    pub trajectories: usize,
    pub solve: SolveOptions,
    /// Descriptor to sample for (conditional data); the first training descriptor when absent.
    pub descriptor: Option<Vec<f32>>,
    /// For MixFlow-RF: the w at which to show the κ-FC source of sampled data points.
    pub source_w: f32,
    /// The caller carries the particles itself (the display's advection shader): only the first
    /// `trajectories` are integrated here, so `samples` holds just those, and the snapshot's
    /// [`Advection`] has every base draw with the field that moves them. Uniform Euler only.
    pub advect: bool,
}

/// What the display's advection shader needs to carry a snapshot's particles itself: the field
/// for the snapshot's Euler steps, every base draw (model space) and the map back to data units.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Advection {
    pub field: FlatField,
    pub x0: Points,
    /// The model trains on data scaled to [-1, 1] by this; None: model space is data space.
    pub scaler: Option<Scaler>,
}

/// Everything a UI draws, in original units.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub step: usize,
    pub samples: Points,
    pub base: Points,
    /// The mixture component of each base sample (MixFlow-OOD).
    pub base_components: Option<Vec<usize>>,
    /// MixFlow-OOD's base for the descriptor: K weights, means and sigmas.
    pub mixture: Option<Mixture>,
    /// MixFlow-RF: encoder μ and σ of sampled data points, and their source at `source_w`.
    pub kappa: Option<KappaView>,
    /// Times of the recorded states, and the first `trajectories` particles at each.
    pub times: Vec<f32>,
    pub trajectories: Vec<Points>,
    /// Asked for by [`SnapshotRequest::advect`]: every particle, to be carried by the display.
    pub advection: Option<Advection>,
    pub losses: Vec<Losses>,
    pub nfe: usize,
}

/// One minibatch of flow matching as the next training step computes it, in the model's space
/// (the data scaled to [-1, 1] when the dataset is a table; original units otherwise).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Inspection {
    /// The step that trains on this minibatch, counted as [`StepMessage::step`] counts.
    pub step: usize,
    pub x0: Points,
    pub x1: Points,
    pub t: Vec<f32>,
    pub xt: Points,
    /// u = x1 - x0.
    pub target: Points,
    /// v(x_t, t).
    pub predicted: Points,
    /// Per pair: the mean over dimensions of (v - u)².
    pub error: Vec<f32>,
    /// The flow loss the step reports (the engine's own reduction; the mean of `error`).
    pub loss: f32,
    /// Set when that step trains something else (MixFlow-OOD's base steps): what it does instead.
    pub note: Option<String>,
}

/// Registers each method (a type implementing [`TrainMethod`]) with the `Method`s it trains:
/// makes the enum [`Model`] of their states, its constructor, and `each_model!`, which runs the
/// same code on whichever method a run holds. (`$d` is a literal `$` for the inner macro.)
macro_rules! methods {
    ($d:tt $($variant:ident($method:ty) for $methods:pat),+ $(,)?) => {
        /// The method-specific state: networks and optimisers.
        // One per trainer, never in a collection: the variants' sizes do not matter.
        #[allow(clippy::large_enum_variant)]
        enum Model {
            $($variant($method),)+
        }

        impl Model {
            fn new(config: &TrainConfig, start: &Start<'_>, init: &mut Rng, device: &Device) -> Self {
                match config.method {
                    $($methods => Model::$variant(<$method as TrainMethod>::new(config, start, init, device)),)+
                }
            }
        }

        macro_rules! each_model {
            ($d model:expr, $d m:ident => $d body:expr) => {
                match $d model {
                    $(Model::$variant($d m) => $d body,)+
                }
            };
        }
    };
}

// The one registration line of each method.
methods! {$
    Cfm(Cfm) for Method::Rf | Method::OtCfm | Method::COt,
    KappaFc(MixflowRf) for Method::MixflowRf | Method::FastOde,
    Ood(MixflowOod) for Method::MixflowOod,
}

pub struct Trainer {
    pub config: TrainConfig,
    pub dataset: Dataset,
    scaler: Option<Scaler>,
    model: Model,
    /// The autodiff device training runs on.
    device: Device,
    step: usize,
    history: Vec<Losses>,
}

/// Saved beside the weights so a run resumes where it stopped.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    step: usize,
    history: Vec<Losses>,
}

impl Trainer {
    /// A fresh run on the configured backend.
    pub fn new(config: TrainConfig) -> Result<Self, SetupError> {
        let device = config.backend.device()?;
        Self::on_device(config, device)
    }

    /// A fresh run on an explicit (non-autodiff) device.
    pub fn on_device(config: TrainConfig, device: Device) -> Result<Self, SetupError> {
        let dataset = Dataset::load(&config.dataset_request())?;
        config.validate(&dataset)?;
        let training_data = training_sample(&dataset, config.data_seed);
        // MixFlow-OOD's σ is defined in the [-1, 1]-scaled space (SPEC 3.2), so it always trains there.
        let scaled = dataset.is_conditional() || dataset.is_table() || config.method == Method::MixflowOod;
        let scaler = scaled.then(|| Scaler::fit(&training_data));
        let device = device.autodiff();
        let mut init = rng::seeded(config.seed, Stream::Init, 0);
        let data = match &scaler {
            Some(s) => s.forward(&training_data),
            None => training_data,
        };
        let start = Start {
            dim: dataset.dim,
            descriptor_dim: dataset.descriptor_dim,
            data: &data,
            descriptors: &training_descriptors(&dataset),
        };
        let model = Model::new(&config, &start, &mut init, &device);
        Ok(Self {
            dataset,
            scaler,
            model,
            device,
            step: 0,
            history: Vec::new(),
            config,
        })
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn is_finished(&self) -> bool {
        self.step >= self.config.steps
    }

    pub fn history(&self) -> &[Losses] {
        &self.history
    }

    /// MixFlow-OOD's base steps so far (the steps that trained the mixture, not the flow); none
    /// for the other methods.
    pub fn base_steps(&self) -> Option<usize> {
        each_model!(&self.model, m => m.trains_a_base())
            .then(|| self.history.iter().filter(|l| l.base.is_some()).count())
    }

    /// Parameter counts of each network, by name.
    pub fn param_counts(&self) -> Vec<(&'static str, usize)> {
        each_model!(&self.model, m => m.param_counts())
    }

    /// One training iteration, blocking until its reads are done: at once on the CPU backends.
    /// In a browser, where a GPU can only be read asynchronously, use [`Self::step_async`].
    pub fn step(&mut self) -> Result<StepMessage, TrainError> {
        pollster::block_on(self.step_async())
    }

    /// One training iteration; the loss (and MixFlow-OOD's base draw, for its pairing) is read
    /// back without blocking.
    pub async fn step_async(&mut self) -> Result<StepMessage, TrainError> {
        if self.is_finished() {
            return Err(TrainError::Finished);
        }
        let started = Instant::now();
        // Each step draws from its own stream, so a resumed run repeats an uninterrupted one exactly.
        let mut rng = rng::seeded(self.config.seed, Stream::Train, self.step as u64);
        let batch = self.draw_batch(&mut rng);
        let lr = self.config.lr_at(self.step);
        let dev = &self.device;
        let step = self.step;
        let outcome = each_model!(&mut self.model, m => m.train_step(step, &batch, lr, &mut rng, dev).await)
            .map_err(TrainError::Device)?;
        if let Some(loss) = outcome.losses.non_finite() {
            return Err(TrainError::Diverged {
                step: self.step + 1,
                loss,
            });
        }
        self.step += 1;
        self.history.push(outcome.losses);
        Ok(StepMessage {
            step: self.step,
            losses: outcome.losses,
            phase: outcome.phase,
            step_ms: started.elapsed().as_secs_f64() * 1e3,
            warning: outcome.warning,
        })
    }

    /// The next step's minibatch and its flow-matching terms, drawn from the very stream that
    /// step will draw from, with the current weights: training is not disturbed, and the step
    /// then reports this inspection's loss.
    pub async fn inspect_next_step(&self) -> Result<Inspection, SolveError> {
        let mut rng = rng::seeded(self.config.seed, Stream::Train, self.step as u64);
        let batch = self.draw_batch(&mut rng);
        let dev = &self.device;
        let (terms, base_step) = each_model!(&self.model, m => m.next_terms(self.step, &batch, &mut rng, dev).await)?;
        let loss = read_scalar(terms.loss()).await?;
        let t = read_points(terms.t).await?.data;
        let target = read_points(terms.target).await?;
        let predicted = read_points(terms.predicted).await?;
        let error = target
            .rows()
            .zip(predicted.rows())
            .map(|(u, v)| u.iter().zip(v).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / u.len() as f32)
            .collect();
        Ok(Inspection {
            step: self.step + 1,
            x0: read_points(terms.x0).await?,
            x1: read_points(terms.x1).await?,
            t,
            xt: read_points(terms.xt).await?,
            target,
            predicted,
            error,
            loss,
            note: base_step.then(|| {
                "this step trains MixFlow-OOD's mixture base (the geodesic loss), not the flow: \
                 these are the flow terms it would have used"
                    .to_string()
            }),
        })
    }

    fn draw_batch(&self, rng: &mut Rng) -> Batch {
        let b = self.config.batch;
        let (x1, descriptors, groups) = if self.dataset.is_conditional() {
            let train = self.dataset.split_indices(Split::Train);
            let (g, per) = (self.config.groups, self.config.group_size);
            let chosen = choose_distinct(&train, g, rng);
            let mut x1 = Vec::with_capacity(g * per * self.dataset.dim);
            let mut desc = Vec::new();
            let mut groups = Vec::new();
            for (i, &cond) in chosen.iter().enumerate() {
                x1.extend(self.dataset.train_sample(Some(cond), per, rng).data);
                for _ in 0..per {
                    desc.extend_from_slice(&self.dataset.conditions[cond].descriptor);
                }
                groups.push(i * per..(i + 1) * per);
            }
            let x1 = Points::new(self.dataset.dim, x1);
            (x1, Some(Points::new(self.dataset.descriptor_dim, desc)), groups)
        } else {
            (self.dataset.train_sample(None, b, rng), None, vec![0..b])
        };
        let x1 = match &self.scaler {
            Some(s) => s.forward(&x1),
            None => x1,
        };
        Batch {
            x1,
            descriptors,
            groups,
        }
    }

    /// An inference view of the current model (no autodiff), for sampling and evaluation.
    pub fn sampler(&self) -> Sampler {
        let inference = each_model!(&self.model, m => m.inference());
        Sampler {
            inference,
            device: self.device.clone().inner(),
            scaler: self.scaler.clone(),
            dim: self.dataset.dim,
        }
    }

    /// Samples, base samples and trajectories for a UI, drawn from a stream of their own so that
    /// training continues exactly as if no snapshot had been taken. The noise is the same at every
    /// step: successive pictures of a run (and the training history's) differ by the model alone.
    pub fn snapshot(&self, req: &SnapshotRequest) -> Result<Snapshot, SampleError> {
        let sampler = self.sampler();
        let mut rng = rng::seeded(self.config.data_seed, Stream::Eval, SNAPSHOT_NOISE);
        let descriptor = req.descriptor.clone().or_else(|| {
            self.dataset
                .split_indices(Split::Train)
                .first()
                .map(|&i| self.dataset.conditions[i].descriptor.clone())
        });
        let descriptor = descriptor.as_deref();
        if let Some(d) = descriptor
            && d.len() != self.dataset.descriptor_dim
        {
            return Err(SampleError::DescriptorSize {
                given: d.len(),
                dataset: self.dataset.name.clone(),
                expected: self.dataset.descriptor_dim,
            });
        }
        let n = req.particles.max(1);
        let m = req.trajectories.min(n);
        let base = sampler.base(descriptor, n, &mut rng)?;
        let split_at = m * base.points.dim;
        let head = Points::new(base.points.dim, base.points.data[..split_at].to_vec());
        let traced = sampler.generate(descriptor, &head, &req.solve, true)?;
        // An ELU network has no flat form for the shader: its view is integrated here instead.
        let (samples, nfe, advection) = if req.advect && sampler.flattens() {
            let advection = Advection {
                field: sampler.flat_field(descriptor, req.solve.steps)?,
                x0: base.points.clone(),
                scaler: self.scaler.clone(),
            };
            (traced.samples, traced.nfe, Some(advection))
        } else {
            let tail = Points::new(base.points.dim, base.points.data[split_at..].to_vec());
            let rest = sampler.generate(descriptor, &tail, &req.solve, false)?;
            let mut samples = traced.samples;
            samples.data.extend(rest.samples.data);
            (samples, rest.nfe.max(traced.nfe), None)
        };
        // The descriptor may lie between or beyond the listed ones (the explorer's pad), so the
        // data comes from the generator at that value; a table has none there, and no κ read-out.
        let data = match descriptor {
            Some(d) => self.dataset.sample_at(d, n.min(2000), &mut rng),
            None => Some(self.dataset.sample(None, n.min(2000), &mut rng)),
        };
        let kappa = data.and_then(|data| sampler.kappa_view(&data, req.source_w, &mut rng));
        Ok(Snapshot {
            step: self.step,
            samples,
            base: sampler.to_original(&base.points),
            base_components: base.components,
            mixture: sampler.mixture(descriptor),
            kappa,
            times: traced.trajectory.iter().map(|(t, _)| *t).collect(),
            trajectories: traced.trajectory.into_iter().map(|(_, p)| p).collect(),
            advection,
            losses: self.history.clone(),
            nfe,
        })
    }

    /// One minibatch as training pairs it, in original units: row i of `x0` is the source point
    /// that row i of `x1` is paired with (the baselines' coupling; for MixFlow-RF the κ-FC source
    /// at `w`; for MixFlow-OOD independent draws from the first group's mixture). Drawn from a
    /// stream of its own, so training is not disturbed.
    pub fn minibatch_pairs(&self, w: f32) -> Result<(Points, Points), SampleError> {
        let mut rng = rng::seeded(self.config.data_seed, Stream::Display, self.step as u64);
        let mut batch = self.draw_batch(&mut rng);
        let sampler = self.sampler();
        let x0 = each_model!(&self.model, m => m.paired_sources(&mut batch, &sampler, w, &mut rng))?;
        Ok((x0, sampler.to_original(&batch.x1)))
    }

    /// MixFlow-OOD's base for any descriptor, in original units (None for other methods).
    pub fn mixture(&self, descriptor: Option<&[f32]>) -> Option<Mixture> {
        self.sampler().mixture(descriptor)
    }

    /// A trainer for views of this run on `device`, for when this one's device cannot be read
    /// synchronously (WebGPU in a browser) while views read a great deal. Same config and data;
    /// [`Self::update_mirror`] brings its weights and step up to date.
    pub fn mirror_on(&self, device: Device) -> Result<Trainer, SetupError> {
        Trainer::on_device(self.config.clone(), device)
    }

    /// Copies this trainer's weights, step and history into `mirror` (made by [`Self::mirror_on`]),
    /// reading the weights in one asynchronous transfer.
    pub async fn update_mirror(&self, mirror: &mut Trainer) -> Result<(), WeightsError> {
        let weights = each_model!(&self.model, m => read_floats(m.net()).await)?;
        let refused = WeightsError::MirrorMismatch;
        each_model!(&mut mirror.model, m => *m.net_mut() = write_floats(m.net().clone(), weights).ok_or(refused)?);
        mirror.step = self.step;
        mirror.history.clone_from(&self.history);
        Ok(())
    }

    /// The model's weights and step as a cached start (see [`Self::start_from`]).
    pub async fn cached_start(&self) -> Result<Vec<u8>, WeightsError> {
        let tensors = each_model!(&self.model, m => read_floats(m.net()).await)?;
        encode_start(self.step, &tensors)
    }

    /// Continues from a cached start written by [`Self::cached_start`] for this config: its
    /// weights and step, with fresh optimiser state (a start, not a checkpoint).
    pub fn start_from(&mut self, bytes: &[u8]) -> Result<(), WeightsError> {
        let refused = WeightsError::StartMismatch;
        let (step, values) = decode_start(bytes).ok_or(WeightsError::Damaged)?;
        let mut shapes = Vec::new();
        each_model!(&self.model, m => m.net().visit(&mut Shapes(&mut shapes)));
        if shapes.len() != values.len() {
            return Err(refused);
        }
        let data: Vec<TensorData> = values
            .into_iter()
            .zip(shapes)
            .map(|(v, shape)| (v.len() == shape.iter().product::<usize>()).then(|| TensorData::new(v, shape)))
            .collect::<Option<_>>()
            .ok_or(refused.clone())?;
        each_model!(&mut self.model, m => *m.net_mut() = write_floats(m.net().clone(), data).ok_or(refused)?);
        self.step = step;
        Ok(())
    }

    /// Writes the weights, optimiser state, config and progress into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), RunFolderError> {
        std::fs::create_dir_all(dir).map_err(|source| RunFolderError::Create {
            dir: dir.to_path_buf(),
            source,
        })?;
        let io = |file: &str, e: &dyn std::fmt::Display| RunFolderError::Write {
            dir: dir.to_path_buf(),
            file: file.to_string(),
            reason: e.to_string(),
        };
        write_json(&dir.join("config.json"), &self.config)?;
        let model = dir.join("model.bpk");
        let saved = each_model!(&self.model, m => m.net().clone().save_file(model));
        saved.map_err(|e| io("model.bpk", &e))?;
        for (file, optim) in each_model!(&self.model, m => m.optimizers()) {
            optim.save(dir.join(file)).map_err(|e| io(file, &e))?;
        }
        let state = TrainerState {
            step: self.step,
            history: self.history.clone(),
        };
        Ok(write_json(&dir.join("state.json"), &state)?)
    }

    /// Reopens a run folder written by [`save`](Self::save) with its weights, for evaluation and
    /// sampling (the optimiser state stays on disk).
    pub fn load(dir: &Path) -> Result<Self, RunFolderError> {
        Self::open(dir, |_| {}, false)
    }

    /// Reopens a run folder to continue training, optimiser state included; `edit` may change
    /// settings first (more steps, another backend).
    pub fn resume(dir: &Path, edit: impl FnOnce(&mut TrainConfig)) -> Result<Self, RunFolderError> {
        Self::open(dir, edit, true)
    }

    fn open(dir: &Path, edit: impl FnOnce(&mut TrainConfig), with_optimizer: bool) -> Result<Self, RunFolderError> {
        if !dir.is_dir() {
            return Err(RunFolderError::Missing(dir.to_path_buf()));
        }
        if !dir.join("config.json").is_file() {
            return Err(RunFolderError::NotARun(dir.to_path_buf()));
        }
        let mut config: TrainConfig = read_json(&dir.join("config.json"))?;
        edit(&mut config);
        let state: TrainerState = read_json(&dir.join("state.json"))?;
        let mut trainer = Self::new(config)?;
        let bad = |file: &str, e: &dyn std::fmt::Display| RunFolderError::Read {
            path: dir.join(file),
            reason: e.to_string(),
        };
        let path = dir.join("model.bpk");
        let loaded =
            each_model!(&mut trainer.model, m => m.net().clone().try_load_file(&path).map(|x| *m.net_mut() = x));
        loaded.map_err(|e| bad("model.bpk", &e))?;
        if with_optimizer {
            // burn materialises this state on its default device and moves it to the model's
            // device at the next step.
            let load = |file: &str, optim: &mut ModuleOptimizer| -> Result<(), RunFolderError> {
                *optim = optim.clone().load(dir.join(file)).map_err(|e| bad(file, &e))?;
                Ok(())
            };
            for (file, optim) in each_model!(&mut trainer.model, m => m.optimizers_mut()) {
                load(file, optim)?;
            }
        }
        trainer.step = state.step;
        trainer.history = state.history;
        Ok(trainer)
    }
}

/// Every float parameter of `module`, in visiting order, read in one asynchronous transfer.
async fn read_floats<M: Module>(module: &M) -> Result<Vec<TensorData>, WeightsError> {
    struct Collect(Option<Transaction>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 = self.0.take().map(|t| t.register(param.val()));
        }
    }
    let mut collect = Collect(Some(Transaction::default()));
    module.visit(&mut collect);
    collect
        .0
        .expect("the visitor keeps its transaction")
        .execute_async()
        .await
        .map_err(|e| WeightsError::Read(format!("{e:?}")))
}

/// `module` with its float parameters replaced, in visiting order; None when they do not fit.
fn write_floats<M: Module>(module: M, data: Vec<TensorData>) -> Option<M> {
    struct Load(std::vec::IntoIter<TensorData>, usize);
    impl ModuleMapper for Load {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            match self.0.next() {
                Some(data) if data.shape().iter().eq(param.dims().iter()) => param.map(|t| {
                    // A trainable parameter stays trainable (a cached start goes on training).
                    let tracked = t.is_require_grad();
                    Tensor::from_data(data, &t.device()).set_require_grad(tracked)
                }),
                _ => {
                    self.1 += 1;
                    param
                }
            }
        }
    }
    let mut load = Load(data.into_iter(), 0);
    let loaded = module.map(&mut load);
    (load.1 == 0 && load.0.next().is_none()).then_some(loaded)
}

/// The shapes of a module's float parameters, in visiting order.
struct Shapes<'a>(&'a mut Vec<Vec<usize>>);

impl ModuleVisitor for Shapes<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.dims().to_vec());
    }
}

/// A cached start: "MFS1", the step, the number of tensors, then each tensor's length and its
/// values as f16 (half the size of f32; a start that training refines needs no more).
const START_MAGIC: &[u8; 4] = b"MFS1";

fn encode_start(step: usize, tensors: &[TensorData]) -> Result<Vec<u8>, WeightsError> {
    let mut out = START_MAGIC.to_vec();
    out.extend((step as u32).to_le_bytes());
    out.extend((tensors.len() as u32).to_le_bytes());
    for t in tensors {
        let values = t
            .try_to_vec::<f32>()
            .map_err(|e| WeightsError::NotF32(format!("{e:?}")))?;
        out.extend((values.len() as u32).to_le_bytes());
        for v in values {
            out.extend(burn::tensor::f16::from_f32(v).to_le_bytes());
        }
    }
    Ok(out)
}

/// (step, flat values of each tensor) of a cached start.
fn decode_start(bytes: &[u8]) -> Option<(usize, Vec<Vec<f32>>)> {
    fn word(rest: &mut &[u8]) -> Option<u32> {
        let (w, r) = rest.split_first_chunk::<4>()?;
        *rest = r;
        Some(u32::from_le_bytes(*w))
    }
    let mut rest = bytes.strip_prefix(START_MAGIC)?;
    let step = word(&mut rest)? as usize;
    let count = word(&mut rest)?;
    let mut tensors = Vec::new();
    for _ in 0..count {
        let n = word(&mut rest)? as usize;
        let (values, r) = rest.split_at_checked(n * 2)?;
        rest = r;
        let values = values
            .chunks_exact(2)
            .map(|c| burn::tensor::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        tensors.push(values);
    }
    rest.is_empty().then_some((step, tensors))
}

/// A draw of the training data (original units), from the data seed, or the fixed training sets
/// where the run has them: what the [-1, 1] scaler and MixFlow-OOD's K-means are fitted on.
fn training_sample(dataset: &Dataset, data_seed: u64) -> Points {
    let mut rng = rng::seeded(data_seed, Stream::Data, 0);
    let conds = dataset.split_indices(Split::Train);
    // A finite training set is all the data there is.
    if let Some(set) = dataset.training_set(None).filter(|_| conds.is_empty()) {
        return set.clone();
    }
    let sets: Option<Vec<&Points>> = conds.iter().map(|&c| dataset.training_set(Some(c))).collect();
    if let Some(sets) = sets.filter(|s| !s.is_empty()) {
        return Points::new(dataset.dim, sets.iter().flat_map(|p| p.data.clone()).collect());
    }
    if conds.is_empty() {
        return dataset.sample(None, 4096, &mut rng);
    }
    let mut data = Vec::new();
    for &c in &conds {
        data.extend(dataset.sample(Some(c), 512, &mut rng).data);
    }
    Points::new(dataset.dim, data)
}

/// The training descriptors (one constant descriptor for unconditional data).
fn training_descriptors(dataset: &Dataset) -> Points {
    let conds = dataset.split_indices(Split::Train);
    if conds.is_empty() {
        return Points::new(1, CONSTANT_DESCRIPTOR.to_vec());
    }
    let data = conds
        .iter()
        .flat_map(|&c| dataset.conditions[c].descriptor.clone())
        .collect();
    Points::new(dataset.descriptor_dim, data)
}

/// `k` distinct items of `from` (a partial Fisher–Yates shuffle; validation keeps k ≤ len).
fn choose_distinct(from: &[usize], k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut pool = from.to_vec();
    for i in 0..k {
        let j = i + rng::index(rng, pool.len() - i);
        pool.swap(i, j);
    }
    pool.truncate(k);
    pool
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), JsonFileError> {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    std::fs::write(path, text + "\n").map_err(|source| JsonFileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, JsonFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| JsonFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| JsonFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}
