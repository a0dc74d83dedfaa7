//! The step-wise trainer: `step()` runs one iteration and returns a [`StepMessage`]; `snapshot()`
//! returns what a UI draws without disturbing training; `save` / `load` make checkpoints that a run
//! resumes from exactly (each step's random stream is derived from the seed and the step).

use crate::config::TrainConfig;
use crate::coupling;
use crate::data::{Dataset, Points, Scaler, Split, Toy};
use crate::nn::FlowModel;
use crate::rng::{self, Rng, Stream};
use crate::solve::{self, SolveOptions, to_points, to_tensor};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

/// Where a run is in its schedule. The baselines only ever train the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Flow,
}

/// The loss terms of one step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    /// Flow-matching loss: mean over batch and dimensions of ‖v - u‖².
    pub flow: f32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StepMessage {
    /// Steps done, counting this one.
    pub step: usize,
    pub losses: Losses,
    pub phase: Phase,
    pub step_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrainError {
    /// The loss became NaN or inf; the model keeps the weights of the step before.
    Diverged {
        step: usize,
        loss: f32,
    },
    Finished,
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Diverged { step, loss } => write!(
                f,
                "training diverged at step {step} (loss {loss}); lower the learning rate or turn on grad-clip"
            ),
            TrainError::Finished => write!(f, "training already reached its last step"),
        }
    }
}

/// What a snapshot should contain.
#[derive(Clone, Debug)]
pub struct SnapshotRequest {
    pub particles: usize,
    /// How many of the particles also return their whole trajectory.
    pub trajectories: usize,
    pub solve: SolveOptions,
    /// Descriptor to sample for (conditional data); the first training descriptor when absent.
    pub descriptor: Option<Vec<f32>>,
}

/// Everything a UI draws, in original units.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub step: usize,
    pub samples: Points,
    pub base: Points,
    /// Times of the recorded states, and the first `trajectories` particles at each.
    pub times: Vec<f32>,
    pub trajectories: Vec<Points>,
    pub losses: Vec<Losses>,
    pub nfe: usize,
}

/// One minibatch in model space.
struct Batch {
    x0: Points,
    x1: Points,
    descriptors: Option<Points>,
    groups: Vec<Range<usize>>,
}

pub struct Trainer {
    pub config: TrainConfig,
    pub dataset: Dataset,
    source: Option<Toy>,
    scaler: Option<Scaler>,
    model: FlowModel,
    optim: ModuleOptimizer,
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
    pub fn new(config: TrainConfig) -> Result<Self, String> {
        let device = config.backend.device()?;
        Self::on_device(config, device)
    }

    /// A fresh run on an explicit (non-autodiff) device.
    pub fn on_device(config: TrainConfig, device: Device) -> Result<Self, String> {
        let dataset = Dataset::load(&config.dataset_request())?;
        config.validate(&dataset)?;
        let (source_name, _) = config.source_and_target();
        let source = Toy::parse(&source_name).filter(|t| *t != Toy::Gaussian);
        let scaler = (dataset.is_conditional() || dataset.is_table()).then(|| fit_scaler(&dataset, config.data_seed));
        let device = device.autodiff();
        let model = FlowModel::new(
            dataset.dim,
            dataset.descriptor_dim,
            &config.net_shape(),
            config.seed,
            &device,
        );
        let mut adam = AdamConfig::new()
            .with_beta_1(config.beta1 as f32)
            .with_beta_2(config.beta2 as f32)
            .with_epsilon(config.eps as f32);
        if let Some(clip) = config.grad_clip {
            adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(clip as f32)));
        }
        Ok(Self {
            dataset,
            source,
            scaler,
            model,
            optim: adam.init(),
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

    /// Parameter counts: (velocity field, descriptor encoder).
    pub fn param_counts(&self) -> (usize, usize) {
        self.model.param_counts()
    }

    /// One training iteration.
    pub fn step(&mut self) -> Result<StepMessage, TrainError> {
        if self.is_finished() {
            return Err(TrainError::Finished);
        }
        let started = Instant::now();
        // Each step draws from its own stream, so a resumed run repeats an uninterrupted one exactly.
        let mut rng = rng::seeded(self.config.seed, Stream::Train, self.step as u64);
        let batch = self.draw_batch(&mut rng);
        let x0 = coupling::pair(self.config.method.coupling(), &batch.x0, &batch.x1, &batch.groups);
        let t: Vec<f32> = (0..x0.len()).map(|_| rng::uniform(&mut rng)).collect();

        let dev = &self.device;
        let x0 = to_tensor(&x0, dev);
        let x1 = to_tensor(&batch.x1, dev);
        let t = Tensor::<2>::from_data(TensorData::new(t, [x1.dims()[0], 1]), dev);
        let xt = x0.clone() * (t.clone().neg() + 1.0) + x1.clone() * t.clone();
        let target = x1 - x0;
        let c = batch.descriptors.as_ref().map(|d| to_tensor(d, dev));
        let v = self.model.velocity(xt, t, c);
        let loss = (v - target).powi_scalar(2).mean();
        let value = loss.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Err(TrainError::Diverged {
                step: self.step + 1,
                loss: value,
            });
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.config.lr_at(self.step), self.model.clone(), grads);

        self.step += 1;
        let losses = Losses { flow: value };
        self.history.push(losses);
        Ok(StepMessage {
            step: self.step,
            losses,
            phase: Phase::Flow,
            step_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    fn draw_batch(&self, rng: &mut Rng) -> Batch {
        let b = self.config.batch;
        let (x1, descriptors, groups) = if self.dataset.is_conditional() {
            let train = self.dataset.split_indices(Split::Train);
            let g = self.config.groups;
            let per = b / g;
            let chosen = choose_distinct(&train, g, rng);
            let mut x1 = Vec::with_capacity(g * per * self.dataset.dim);
            let mut desc = Vec::new();
            let mut groups = Vec::new();
            for (i, &cond) in chosen.iter().enumerate() {
                x1.extend(self.dataset.sample(Some(cond), per, rng).data);
                for _ in 0..per {
                    desc.extend_from_slice(&self.dataset.conditions[cond].descriptor);
                }
                groups.push(i * per..(i + 1) * per);
            }
            let x1 = Points::new(self.dataset.dim, x1);
            (x1, Some(Points::new(self.dataset.descriptor_dim, desc)), groups)
        } else {
            (self.dataset.sample(None, b, rng), None, vec![0..b])
        };
        let x1 = match &self.scaler {
            Some(s) => s.forward(&x1),
            None => x1,
        };
        let x0 = draw_source(self.source, x1.len(), x1.dim, rng);
        Batch {
            x0,
            x1,
            descriptors,
            groups,
        }
    }

    /// An inference view of the current model (no autodiff), for sampling and evaluation.
    pub fn sampler(&self) -> Sampler {
        Sampler {
            model: self.model.valid(),
            device: self.device.clone().inner(),
            scaler: self.scaler.clone(),
            source: self.source,
            dim: self.dataset.dim,
        }
    }

    /// Samples, base samples and trajectories for a UI, drawn from a stream of their own so that
    /// training continues exactly as if no snapshot had been taken.
    pub fn snapshot(&self, req: &SnapshotRequest) -> Result<Snapshot, String> {
        let sampler = self.sampler();
        let mut rng = rng::seeded(self.config.data_seed, Stream::Eval, self.step as u64);
        let descriptor = req.descriptor.clone().or_else(|| {
            self.dataset
                .split_indices(Split::Train)
                .first()
                .map(|&i| self.dataset.conditions[i].descriptor.clone())
        });
        let n = req.particles.max(1);
        let m = req.trajectories.min(n);
        let base = sampler.base(n, &mut rng);
        let head = Points::new(base.dim, base.data[..m * base.dim].to_vec());
        let tail = Points::new(base.dim, base.data[m * base.dim..].to_vec());
        let traced = sampler.generate(descriptor.as_deref(), &head, &req.solve, true)?;
        let rest = sampler.generate(descriptor.as_deref(), &tail, &req.solve, false)?;
        let mut samples = traced.samples;
        samples.data.extend(rest.samples.data);
        Ok(Snapshot {
            step: self.step,
            samples,
            base: sampler.to_original(&base),
            times: traced.trajectory.iter().map(|(t, _)| *t).collect(),
            trajectories: traced.trajectory.into_iter().map(|(_, p)| p).collect(),
            losses: self.history.clone(),
            nfe: rest.nfe.max(traced.nfe),
        })
    }

    /// Writes the weights, optimiser state, config and progress into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        let io = |what: &str, e: &dyn std::fmt::Display| format!("{}: cannot write {what}: {e}", dir.display());
        write_json(&dir.join("config.json"), &self.config)?;
        self.model
            .clone()
            .save_file(dir.join("model.bpk"))
            .map_err(|e| io("model.bpk", &e))?;
        self.optim
            .save(dir.join("optimizer.bpk"))
            .map_err(|e| io("optimizer.bpk", &e))?;
        write_json(
            &dir.join("state.json"),
            &TrainerState {
                step: self.step,
                history: self.history.clone(),
            },
        )
    }

    /// Reopens a run folder written by [`save`](Self::save) with its weights, for evaluation and
    /// sampling (the optimiser state stays on disk).
    pub fn load(dir: &Path) -> Result<Self, String> {
        Self::open(dir, |_| {}, false)
    }

    /// Reopens a run folder to continue training, optimiser state included; `edit` may change
    /// settings first (more steps, another backend).
    pub fn resume(dir: &Path, edit: impl FnOnce(&mut TrainConfig)) -> Result<Self, String> {
        Self::open(dir, edit, true)
    }

    fn open(dir: &Path, edit: impl FnOnce(&mut TrainConfig), with_optimizer: bool) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("{}: no such run folder", dir.display()));
        }
        let mut config: TrainConfig = read_json(&dir.join("config.json"))?;
        edit(&mut config);
        let state: TrainerState = read_json(&dir.join("state.json"))?;
        let mut trainer = Self::new(config)?;
        let bad = |file: &str, e: &dyn std::fmt::Display| format!("{}: {e}", dir.join(file).display());
        trainer.model = trainer
            .model
            .try_load_file(dir.join("model.bpk"))
            .map_err(|e| bad("model.bpk", &e))?;
        if with_optimizer {
            // burn materialises this state on its default device and moves it to the model's
            // device at the next step.
            let path = dir.join("optimizer.bpk");
            trainer.optim = trainer.optim.load(&path).map_err(|e| bad("optimizer.bpk", &e))?;
        }
        trainer.step = state.step;
        trainer.history = state.history;
        Ok(trainer)
    }
}

/// Fits the [-1, 1] scaler on the training split (or the whole table), drawn from the data seed.
fn fit_scaler(dataset: &Dataset, data_seed: u64) -> Scaler {
    let mut rng = rng::seeded(data_seed, Stream::Data, 0);
    let mut data = Vec::new();
    let conds = dataset.split_indices(Split::Train);
    if conds.is_empty() {
        data.extend(dataset.sample(None, 4096, &mut rng).data);
    }
    for &c in &conds {
        data.extend(dataset.sample(Some(c), 512, &mut rng).data);
    }
    Scaler::fit(&Points::new(dataset.dim, data))
}

fn draw_source(source: Option<Toy>, n: usize, dim: usize, rng: &mut Rng) -> Points {
    match source {
        Some(toy) => toy.sample(n, rng),
        None => Points::new(dim, rng::normals(rng, n * dim)),
    }
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

/// Sampling from a trained model, in original units.
pub struct Sampler {
    model: FlowModel,
    device: Device,
    scaler: Option<Scaler>,
    source: Option<Toy>,
    pub dim: usize,
}

pub struct Generated {
    pub samples: Points,
    pub nfe: usize,
    /// (t, states) in original units, when recording was asked for.
    pub trajectory: Vec<(f32, Points)>,
}

impl Sampler {
    /// `n` base samples x0 in model space.
    pub fn base(&self, n: usize, rng: &mut Rng) -> Points {
        draw_source(self.source, n, self.dim, rng)
    }

    pub fn to_original(&self, p: &Points) -> Points {
        match &self.scaler {
            Some(s) => s.inverse(p),
            None => p.clone(),
        }
    }

    /// Integrates base samples `x0` (model space) to data, for `descriptor` on conditional models.
    pub fn generate(
        &self,
        descriptor: Option<&[f32]>,
        x0: &Points,
        opts: &SolveOptions,
        record: bool,
    ) -> Result<Generated, String> {
        let n = x0.len();
        if n == 0 {
            return Ok(Generated {
                samples: x0.clone(),
                nfe: 0,
                trajectory: Vec::new(),
            });
        }
        let e = match (&self.model.encoder, descriptor) {
            (Some(enc), Some(d)) => {
                let c = Tensor::<2>::from_data(TensorData::new(d.to_vec(), [1, d.len()]), &self.device);
                Some(enc.forward(c).repeat_dim(0, n))
            }
            (Some(_), None) => return Err("this model is conditional: give a descriptor".into()),
            (None, _) => None,
        };
        let mut velocity = |x: Tensor<2>, t: f32| {
            let t = Tensor::<2>::full([n, 1], t, &self.device);
            self.model.velocity.forward(x, t, e.clone())
        };
        let sol = solve::integrate(&mut velocity, to_tensor(x0, &self.device), opts, record)?;
        let samples = self.to_original(&to_points(sol.x));
        if samples.data.iter().any(|x| !x.is_finite()) {
            return Err("sampling produced NaN or inf: the model has diverged".into());
        }
        let trajectory = sol
            .trajectory
            .into_iter()
            .map(|(t, x)| (t, self.to_original(&to_points(x))))
            .collect();
        Ok(Generated {
            samples,
            nfe: sol.nfe,
            trajectory,
        })
    }
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
