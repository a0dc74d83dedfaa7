//! Every setting of a training run, with the defaults of SPEC sections 2-4, declared once (the
//! `settings!` block below): the declaration makes the struct that serves the TOML config file
//! and the run folder's config.json, the command-line flags that override it, the ranges that
//! validation checks and the panels offer, and the README's table (see `declare`).

mod choices;
mod declare;

use crate::backend::BackendKind;
use crate::data::{CsvSpec, Dataset, DatasetRequest};
use crate::nn::{Activation, NetShape, TimeEmbedding};
use crate::solve::{SolveOptions, Solver};
pub use choices::{Kappa, Method, MixWeight};
pub use declare::{Setting, markdown_table};
use declare::{declared_range, kebab, settings};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

settings! {
    // The data and the method.
    /// Target: a name from `mixflow datasets`, `csv:PATH`, or `SOURCE->TARGET` such as `8gaussians->moons`.
    dataset: String = "moons".into();
    /// Source distribution x0 of the baselines: `gaussian` (N(0, I)) or a 2D dataset name.
    source: String = "gaussian".into();
    /// Dimension of `lowdim-perturbation` (8 when not set).
    dim: Option<usize> = None, range 2..=32;
    /// Train on a fixed set of this many points per training descriptor, drawn once with the data seed (a table's rows: n of them); minibatches sample from it and the memorisation metrics compare against it. Not set: every target is drawn fresh at each step (infinite data).
    train_n: Option<usize> = None, range 2..=1_000_000;
    /// CSV columns used as data dimensions (every column that is not a descriptor when empty).
    data_cols: Vec<String> = Vec::new();
    /// CSV columns used as the descriptor.
    descriptor_cols: Vec<String> = Vec::new();
    /// `rf` (I-CFM; descriptor-conditioned on conditional data), `ot-cfm` (exact minibatch OT), `c-ot` (exact OT inside each descriptor group), `mixflow-ood`, `mixflow-rf`, `fast-ode` (= mixflow-rf with `w = "fixed:1"`).
    method: Method = Method::Rf;

    // Training (SPEC 3.1).
    /// Training steps.
    steps: usize = 4000, range 1..=10_000_000;
    /// Minibatch size on unconditional data.
    batch: usize = 256, range 2..=65_536;
    /// Descriptor groups per minibatch on conditional data (SPEC 3.2: 8 groups of 64).
    groups: usize = 8, range 1..=4096;
    /// Samples per descriptor group on conditional data.
    group_size: usize = 64, range 1..=8192;
    /// Adam's learning rate (a far too high one shows how divergence is reported, not prevented).
    lr: f64 = 1e-3, range 1e-9..=1e6;
    /// Adam's β1.
    beta1: f64 = 0.9, range 0.0..=0.9999;
    /// Adam's β2.
    beta2: f64 = 0.999, range 0.0..=0.99999;
    /// Adam's ε.
    eps: f64 = 1e-8, range 1e-30..=1.0;
    /// Clip the gradient's global norm to this value.
    grad_clip: Option<f64> = None, range 1e-6..=1e6;
    /// `constant` (the SPEC's) or `cosine`, which decays the rate to 0 at the last step: on moons it takes seed 0's W2 from 0.56 to 0.28 (floor 0.22).
    lr_schedule: LrSchedule = LrSchedule::Constant;

    // The velocity network.
    /// Hidden width of the velocity MLP.
    width: usize = NetShape::default().width, range 1..=4096;
    /// Hidden layers of the velocity MLP.
    hidden_layers: usize = NetShape::default().hidden_layers, range 1..=16;
    /// How the MLP reads t: `raw`, or `sinusoidal` (16 features).
    time_embedding: TimeEmbedding = NetShape::default().time_embedding;
    /// Feed the descriptor embedding to every layer after the first, the output included.
    refeed: bool = NetShape::default().refeed;
    /// The MLP's activation: `silu` (the SPEC's) or `elu` (MixFlow-OOD's official network; ELU networks sample on burn, not the fused sampler or the advection shader).
    activation: Activation = NetShape::default().activation;

    // Seeds and device.
    /// Init seed: the network's weights and the training stream (minibatches, noise, t).
    seed: u64 = 0;
    /// Data seed: the dataset's fixed layout and the evaluation draws.
    data_seed: u64 = 0;
    /// `cpu` (burn Flex), `ndarray` (burn NdArray) or `gpu` (burn wgpu).
    backend: BackendKind = BackendKind::Cpu;

    // Sampling and evaluation.
    /// ODE solver for sampling and evaluation: `euler`, `heun` (final Euler step, NFE 2N-1), `rk4`, `dopri5` (adaptive).
    solver: Solver = SolveOptions::default().solver;
    /// Steps of the fixed-step solvers.
    solver_steps: usize = SolveOptions::default().steps, range 1..=100_000;
    /// Dopri5's relative tolerance.
    rtol: f64 = SolveOptions::default().rtol, range 1e-12..=0.1;
    /// Dopri5's absolute tolerance.
    atol: f64 = SolveOptions::default().atol, range 1e-12..=0.1;
    /// Samples per W2 / MMD / energy evaluation on unconditional data.
    eval_n: usize = 2000, range 2..=20_000;
    /// Samples per descriptor when evaluating conditional data.
    eval_per_condition: usize = 500, range 2..=20_000;
    /// At most this many descriptors evaluated per split, evenly spaced.
    eval_conditions: usize = 6, range 1..=10_000;
    /// Trajectories for the curvature metric.
    curvature_n: usize = 2000, range 2..=20_000;
    /// Save a checkpoint every this many steps (and at the end).
    checkpoint_every: usize = 1000, range 1..=10_000_000;
    /// The app's training history: keep the weights every this many steps, for the training scrubber (not set: about 150 states over the run's steps).
    history_every: Option<usize> = None, range 1..=10_000_000;
    /// The app's training history: memory per run in MB (f16 weights); past it every other state is dropped and the interval doubles.
    history_mb: usize = 64, range 1..=4096;

    // MixFlow-OOD (SPEC 3.2).
    /// MixFlow-OOD: mixture components K.
    components: usize = 8, range 1..=256;
    /// MixFlow-OOD: fixed σ of every component in the [-1, 1]-scaled space (the start value when learned).
    sigma: f64 = 0.1, range 1e-4..=10.0;
    /// MixFlow-OOD: learn a diagonal σ per component.
    learn_sigma: bool = false;
    /// MixFlow-OOD: Gumbel-softmax temperature τ of the base step's straight-through gradient (and of the soft training draw).
    tau: f64 = 0.5, range 1e-3..=100.0;
    /// MixFlow-OOD: the draw training pairs with the data: `hard` (exact mixture draws μ_k + σε, the draw generation uses, with a straight-through Gumbel-softmax gradient in base steps) or `soft` (Gumbel-softmax draws in every step: the official code's default, kept as the ablation).
    train_draw: TrainDraw = TrainDraw::Hard;
    /// MixFlow-OOD: dropout on the descriptor encoder's hidden layer while training (the official code uses 0.5); 0 is off.
    encoder_dropout: f64 = 0.0, range 0.0..=0.95;
    /// MixFlow-OOD: fraction of the steps in warm-up (flow only).
    warmup: f64 = 0.1, range 0.0..=1.0;
    /// MixFlow-OOD: fraction of the steps in cool-down (flow only, base frozen).
    cooldown: f64 = 0.1, range 0.0..=1.0;
    /// MixFlow-OOD: one base step every this many iterations while alternating.
    base_every: usize = 10, range 1..=100_000;
    /// MixFlow-OOD: pre-training steps of the means head towards the K-means centres.
    pretrain_steps: usize = 300, range 0..=1_000_000;
    /// MixFlow-OOD: β1 of the flow optimiser (its base optimiser uses `beta1`, `beta2`).
    flow_beta1: f64 = 0.0, range 0.0..=0.9999;
    /// MixFlow-OOD: β2 of the flow optimiser.
    flow_beta2: f64 = 0.99, range 0.0..=0.99999;

    // MixFlow-RF (SPEC 3.3).
    /// MixFlow-RF: what the κ-FC encoder reads: `data`, `descriptor` or `noise`.
    kappa: Kappa = Kappa::Data;
    /// MixFlow-RF: weight λ_KL of the KL term.
    kl_weight: f64 = 0.1, range 0.0..=1000.0;
    /// MixFlow-RF: the mixing weight, `uniform` (w ~ U(0, 1) per sample) or `fixed:X` (fixed:0 is RF, fixed:1 is Fast-ODE).
    w: MixWeight = MixWeight::Uniform;
    /// MixFlow-RF: condition the velocity field on w.
    w_input: bool = false;
    /// MixFlow-RF: w of the inference source for κ = descriptor or noise.
    sample_w: f64 = 0.0, range 0.0..=1.0;
}

/// A setting a run cannot take, and why: shown as "setting `KEY`: WHY".
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("setting `{setting}`: {why}")]
pub struct SettingError {
    /// The TOML key (and flag) of the setting.
    pub setting: String,
    pub why: String,
}

impl SettingError {
    pub fn new(setting: &str, why: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            why: why.into(),
        }
    }
}

/// Why a TOML config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Not TOML, or a key or value no setting takes; `hint` suggests a near name.
    #[error("{}: {message}{hint}", path.display())]
    Parse {
        path: PathBuf,
        message: String,
        hint: String,
    },
}

/// The front ends' errors are still text: a setting's error reads as its message there.
impl From<SettingError> for String {
    fn from(e: SettingError) -> String {
        e.to_string()
    }
}

/// The declaration of the setting behind the field `name`.
#[cfg_attr(not(feature = "clap"), allow(dead_code))]
fn setting(name: &str) -> declare::Setting {
    let key = name.replace('_', "-");
    *SETTINGS.iter().find(|s| s.key == key).expect("every field is declared")
}

/// " Did you mean `…`?" for serde's "unknown variant `X`, expected one of `a`, `b`" (a mistyped
/// method, solver or key), when one of the expected names is near `X`.
fn unknown_value_hint(message: &str) -> String {
    let Some((_, rest)) = message
        .split_once("unknown variant `")
        .or_else(|| message.split_once("unknown field `"))
    else {
        return String::new();
    };
    let Some((word, expected)) = rest.split_once('`') else {
        return String::new();
    };
    let names = expected.split('`').skip(1).step_by(2);
    crate::suggest::did_you_mean(word, names)
}

/// MixFlow-OOD's training draw from the mixture base (SPEC 3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum TrainDraw {
    /// Exact draws μ_k + σε, k ~ Cat(π): what generation draws. Base steps use the
    /// straight-through Gumbel-softmax (one-hot forward, the soft draw's gradient).
    #[default]
    Hard,
    /// Gumbel-softmax draws Σ_k g_k μ_k + σε at temperature τ in every step (the official code's
    /// default): training sources sit between the means that generation starts from.
    Soft,
}

/// How the learning rate moves over the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The SPEC's setting: `lr` throughout.
    #[default]
    Constant,
    /// Half a cosine from `lr` down to 0 at the last step: the last iterate sheds Adam's noise.
    Cosine,
}

impl TrainConfig {
    /// Learning rate for the step that follows `step` completed steps.
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let progress = step as f64 / self.steps.max(1) as f64;
                0.5 * self.lr * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    pub fn from_toml(path: &std::path::Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| {
            let message = e.to_string().replace('\n', " ");
            ConfigFileError::Parse {
                path: path.to_path_buf(),
                hint: unknown_value_hint(&message),
                message,
            }
        })
    }

    /// (source name, target name) from `dataset`, which may be written `SOURCE->TARGET`.
    pub fn source_and_target(&self) -> (String, String) {
        match self.dataset.split_once("->") {
            Some((s, t)) => (s.trim().to_string(), t.trim().to_string()),
            None => (self.source.clone(), self.dataset.clone()),
        }
    }

    pub fn dataset_request(&self) -> DatasetRequest {
        DatasetRequest {
            name: self.source_and_target().1,
            dim: self.dim,
            csv: Some(CsvSpec {
                data_cols: self.data_cols.clone(),
                descriptor_cols: self.descriptor_cols.clone(),
            }),
            data_seed: self.data_seed,
            train_n: self.train_n,
        }
    }

    pub fn net_shape(&self) -> NetShape {
        NetShape {
            width: self.width,
            hidden_layers: self.hidden_layers,
            time_embedding: self.time_embedding,
            refeed: self.refeed,
            activation: self.activation,
            encoder_width: NetShape::default().encoder_width,
        }
    }

    pub fn solve_options(&self) -> SolveOptions {
        SolveOptions {
            solver: self.solver,
            steps: self.solver_steps,
            rtol: self.rtol,
            atol: self.atol,
        }
    }

    /// Checks every setting on its own and against the dataset; the message names the setting.
    pub fn validate(&self, dataset: &Dataset) -> Result<(), SettingError> {
        let bad = |setting: &str, why: String| Err(SettingError::new(setting, why));
        self.check_ranges()?;
        let (source, _) = self.source_and_target();
        if source != "gaussian" && source != "normal" {
            match crate::data::Toy::parse(&source) {
                Some(_) if dataset.dim == 2 => {}
                Some(_) => {
                    return bad(
                        "source",
                        format!("`{source}` is 2D but the data has {} dimensions", dataset.dim),
                    );
                }
                None => {
                    return bad(
                        "source",
                        format!("unknown source `{source}`; use gaussian or a 2D target name"),
                    );
                }
            }
        }
        if dataset.is_conditional() {
            let train = dataset.split_indices(crate::data::Split::Train).len();
            if self.groups > train {
                return bad(
                    "groups",
                    format!(
                        "must be between 1 and the {train} training descriptors, got {}",
                        self.groups
                    ),
                );
            }
        }
        if self.warmup + self.cooldown > 1.0 {
            return bad(
                "cooldown",
                format!(
                    "warm-up ({}) and cool-down ({}) exceed all the steps",
                    self.warmup, self.cooldown
                ),
            );
        }
        let kappa_fc = matches!(self.method, Method::MixflowRf | Method::FastOde);
        let gaussian_source = matches!(self.source_and_target().0.as_str(), "gaussian" | "normal");
        if kappa_fc && !gaussian_source {
            return bad(
                "source",
                format!(
                    "{} mixes its source with N(0, I); it takes no other source",
                    self.method.name()
                ),
            );
        }
        if kappa_fc && self.kappa == Kappa::Descriptor && !dataset.is_conditional() {
            return bad(
                "kappa",
                format!("`descriptor` needs descriptors, but `{}` has none", dataset.name),
            );
        }
        if self.method == Method::MixflowOod {
            if !gaussian_source {
                return bad("source", "mixflow-ood learns its own base; it takes no source".into());
            }
            if !dataset.is_conditional() && self.batch < self.components {
                return bad(
                    "batch",
                    format!("{} is smaller than the {} components", self.batch, self.components),
                );
            }
        }
        self.method.check(dataset)
    }
}
