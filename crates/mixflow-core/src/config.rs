//! Every setting of a training run, with the defaults of SPEC sections 2-4. One struct serves the
//! TOML config file, the command-line flags (which override it) and the run folder's config.json.

use crate::backend::BackendKind;
use crate::data::{CsvSpec, Dataset, DatasetRequest};
use crate::method::{Kappa, Method, MixWeight};
use crate::nn::{Activation, NetShape, TimeEmbedding};
use crate::solve::{SolveOptions, Solver};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainConfig {
    /// Target dataset name, `csv:PATH`, or `SOURCE->TARGET` (e.g. `8gaussians->moons`).
    pub dataset: String,
    /// Source distribution x0 for the baselines: `gaussian` (N(0, I)) or any 2D target name.
    pub source: String,
    /// Dimension of `lowdim-perturbation` (2..32).
    pub dim: Option<usize>,
    pub data_cols: Vec<String>,
    pub descriptor_cols: Vec<String>,
    pub method: Method,
    pub steps: usize,
    /// Minibatch size on unconditional data.
    pub batch: usize,
    /// Conditional data: each minibatch is `groups` descriptor groups of `group-size` samples
    /// (SPEC 3.2: 8 × 64).
    pub groups: usize,
    pub group_size: usize,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the gradient's global norm to this value (off when absent).
    pub grad_clip: Option<f64>,
    pub lr_schedule: LrSchedule,
    pub width: usize,
    pub hidden_layers: usize,
    pub time_embedding: TimeEmbedding,
    pub refeed: bool,
    /// The velocity field's activation: `silu` (SPEC) or `elu` (MixFlow-OOD's official network).
    pub activation: Activation,
    /// Init seed: network weights and the training stream (minibatches, noise, t).
    pub seed: u64,
    /// Data seed: the dataset's fixed layout and evaluation draws.
    pub data_seed: u64,
    pub backend: BackendKind,
    pub solver: Solver,
    pub solver_steps: usize,
    pub rtol: f64,
    pub atol: f64,
    /// Samples per W2 / MMD / energy evaluation (unconditional data).
    pub eval_n: usize,
    /// Samples per descriptor when evaluating conditional data.
    pub eval_per_condition: usize,
    /// At most this many descriptors evaluated per split (evenly spaced).
    pub eval_conditions: usize,
    /// Trajectories for the curvature metric.
    pub curvature_n: usize,
    /// Save a checkpoint every this many steps (and at the end).
    pub checkpoint_every: usize,

    // MixFlow-OOD (SPEC 3.2).
    /// Mixture components K.
    pub components: usize,
    /// Fixed σ of every component, in the [-1, 1]-scaled space (the start value when learned).
    pub sigma: f64,
    /// Learn a diagonal σ per component instead.
    pub learn_sigma: bool,
    /// Gumbel-softmax temperature of the base step's straight-through gradient (and of the
    /// soft training draw).
    pub tau: f64,
    /// The base draw that training pairs with the data: `hard` (exact mixture draws, the draw
    /// generation uses; base steps take the straight-through gradient) or `soft` (Gumbel-softmax
    /// draws in every step: the official code's default, kept as the ablation).
    pub train_draw: TrainDraw,
    /// Dropout on the hidden layer of MixFlow-OOD's descriptor encoder while training (the
    /// official code uses 0.5); 0 is off.
    pub encoder_dropout: f64,
    /// Fractions of the steps spent in warm-up (flow only) and cool-down (flow only, base frozen).
    pub warmup: f64,
    pub cooldown: f64,
    /// In the alternate phase, one base step every this many iterations.
    pub base_every: usize,
    /// Steps of the means head's pre-training towards the K-means centres.
    pub pretrain_steps: usize,
    /// Betas of MixFlow-OOD's flow optimiser (its base optimiser uses beta1 / beta2).
    pub flow_beta1: f64,
    pub flow_beta2: f64,

    // MixFlow-RF (SPEC 3.3).
    pub kappa: Kappa,
    /// λ_KL.
    pub kl_weight: f64,
    /// `uniform` (w ~ U(0, 1) per sample) or `fixed:X`.
    pub w: MixWeight,
    /// Condition v on w.
    pub w_input: bool,
    /// w of the inference source for κ = descriptor or noise.
    pub sample_w: f64,
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

impl Default for TrainConfig {
    fn default() -> Self {
        let solve = SolveOptions::default();
        let net = NetShape::default();
        Self {
            dataset: "moons".into(),
            source: "gaussian".into(),
            dim: None,
            data_cols: Vec::new(),
            descriptor_cols: Vec::new(),
            method: Method::Rf,
            steps: 4000,
            batch: 256,
            groups: 8,
            group_size: 64,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: None,
            lr_schedule: LrSchedule::Constant,
            width: net.width,
            hidden_layers: net.hidden_layers,
            time_embedding: net.time_embedding,
            refeed: net.refeed,
            activation: net.activation,
            seed: 0,
            data_seed: 0,
            backend: BackendKind::Cpu,
            solver: solve.solver,
            solver_steps: solve.steps,
            rtol: solve.rtol,
            atol: solve.atol,
            eval_n: 2000,
            eval_per_condition: 500,
            eval_conditions: 6,
            curvature_n: 2000,
            checkpoint_every: 1000,
            components: 8,
            sigma: 0.1,
            learn_sigma: false,
            tau: 0.5,
            train_draw: TrainDraw::Hard,
            encoder_dropout: 0.0,
            warmup: 0.1,
            cooldown: 0.1,
            base_every: 10,
            pretrain_steps: 300,
            flow_beta1: 0.0,
            flow_beta2: 0.99,
            kappa: Kappa::Data,
            kl_weight: 0.1,
            w: MixWeight::Uniform,
            w_input: false,
            sample_w: 0.0,
        }
    }
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

    pub fn from_toml(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let message = e.to_string().replace('\n', " ");
            format!("{}: {message}{}", path.display(), unknown_value_hint(&message))
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
    pub fn validate(&self, dataset: &Dataset) -> Result<(), String> {
        let bad = |setting: &str, why: String| Err(format!("setting `{setting}`: {why}"));
        if self.steps == 0 || self.steps > 10_000_000 {
            return bad("steps", format!("must be between 1 and 10,000,000, got {}", self.steps));
        }
        if !(2..=65_536).contains(&self.batch) {
            return bad("batch", format!("must be between 2 and 65,536, got {}", self.batch));
        }
        // Learning rates far too high are allowed on purpose: divergence is reported, not prevented.
        if !(self.lr > 0.0 && self.lr <= 1e6) {
            return bad("lr", format!("must be in (0, 1e6], got {}", self.lr));
        }
        for (name, b) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, format!("must be in [0, 1), got {b}"));
            }
        }
        if !(self.eps > 0.0) {
            return bad("eps", format!("must be positive, got {}", self.eps));
        }
        if let Some(c) = self.grad_clip
            && !(c > 0.0)
        {
            return bad("grad-clip", format!("must be positive, got {c}"));
        }
        if !(1..=4096).contains(&self.width) {
            return bad("width", format!("must be between 1 and 4096, got {}", self.width));
        }
        if !(1..=16).contains(&self.hidden_layers) {
            return bad(
                "hidden-layers",
                format!("must be between 1 and 16, got {}", self.hidden_layers),
            );
        }
        if self.solver != Solver::Dopri5 && !(1..=100_000).contains(&self.solver_steps) {
            return bad(
                "solver-steps",
                format!("must be between 1 and 100,000, got {}", self.solver_steps),
            );
        }
        if !(self.rtol > 0.0 && self.atol > 0.0) {
            return bad("rtol", "rtol and atol must be positive".into());
        }
        if !(2..=20_000).contains(&self.eval_n) {
            return bad("eval-n", format!("must be between 2 and 20,000, got {}", self.eval_n));
        }
        if !(2..=20_000).contains(&self.eval_per_condition) {
            return bad(
                "eval-per-condition",
                format!("must be between 2 and 20,000, got {}", self.eval_per_condition),
            );
        }
        if self.eval_conditions == 0 {
            return bad("eval-conditions", "must be at least 1".into());
        }
        if !(2..=20_000).contains(&self.curvature_n) {
            return bad(
                "curvature-n",
                format!("must be between 2 and 20,000, got {}", self.curvature_n),
            );
        }
        if self.checkpoint_every == 0 {
            return bad("checkpoint-every", "must be at least 1".into());
        }
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
            if self.groups == 0 || self.groups > train {
                return bad(
                    "groups",
                    format!(
                        "must be between 1 and the {train} training descriptors, got {}",
                        self.groups
                    ),
                );
            }
            if !(1..=8192).contains(&self.group_size) {
                return bad(
                    "group-size",
                    format!("must be between 1 and 8,192, got {}", self.group_size),
                );
            }
        }
        if !(1..=256).contains(&self.components) {
            return bad(
                "components",
                format!("K must be between 1 and 256, got {}", self.components),
            );
        }
        if !(self.sigma > 0.0 && self.sigma.is_finite()) {
            return bad("sigma", format!("must be positive, got {}", self.sigma));
        }
        if !(0.0..1.0).contains(&self.encoder_dropout) {
            return bad(
                "encoder-dropout",
                format!("is a probability in [0, 1), got {}", self.encoder_dropout),
            );
        }
        if !(self.tau > 0.0 && self.tau.is_finite()) {
            return bad("tau", format!("must be positive, got {}", self.tau));
        }
        for (name, f) in [("warmup", self.warmup), ("cooldown", self.cooldown)] {
            if !(0.0..=1.0).contains(&f) {
                return bad(name, format!("is a fraction of the steps, in [0, 1], got {f}"));
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
        if self.base_every == 0 {
            return bad("base-every", "must be at least 1".into());
        }
        for (name, b) in [("flow-beta1", self.flow_beta1), ("flow-beta2", self.flow_beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, format!("must be in [0, 1), got {b}"));
            }
        }
        if !(self.kl_weight >= 0.0 && self.kl_weight.is_finite()) {
            return bad("kl-weight", format!("must be 0 or positive, got {}", self.kl_weight));
        }
        if !(0.0..=1.0).contains(&self.sample_w) {
            return bad("sample-w", format!("must be in [0, 1], got {}", self.sample_w));
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
