//! The training methods: the baselines of SPEC section 3.1 (one conditional flow-matching step,
//! three couplings), MixFlow-RF (3.3) and MixFlow-OOD (3.2). Each method file owns its networks,
//! its optimisers and its training step, and implements [`TrainMethod`], all the trainer asks of
//! a method; one line of `methods!` in `train.rs` registers it. This file holds what they share.

pub mod cfm;
pub mod mixflow_ood;
pub mod mixflow_rf;

use crate::config::TrainConfig;
use crate::data::Points;
use crate::rng::Rng;
use crate::sample::{Inference, SampleError, Sampler};
use crate::solve::SolveError;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::ops::Range;

pub use crate::config::{Kappa, Method, MixWeight};

/// One minibatch in model space: data, the descriptor of each row, and the row ranges of the
/// descriptor groups (one group on unconditional data). Every row of a group has the group's
/// descriptor.
pub struct Batch {
    pub x1: Points,
    pub descriptors: Option<Points>,
    pub groups: Vec<Range<usize>>,
}

/// Where a run is in its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Flow steps throughout (the baselines and MixFlow-RF).
    Flow,
    /// MixFlow-OOD: flow steps only, base not yet trained.
    Warmup,
    /// MixFlow-OOD: flow steps with a base step every `base-every` iterations.
    Alternate,
    /// MixFlow-OOD: flow steps only, base frozen.
    Cooldown,
}

/// The loss terms of one step (a term is absent when the step did not compute it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Losses {
    /// Flow-matching loss: mean over batch and dimensions of ‖v - u‖².
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub flow: Option<f32>,
    /// MixFlow-OOD's geodesic base loss: mean over the batch of ‖x1 - z‖².
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub base: Option<f32>,
    /// MixFlow-RF's KL term (unweighted).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kl: Option<f32>,
}

impl Losses {
    /// The first non-finite term, if any.
    pub fn non_finite(&self) -> Option<f32> {
        [self.flow, self.base, self.kl]
            .into_iter()
            .flatten()
            .find(|v| !v.is_finite())
    }
}

impl std::fmt::Display for Losses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let terms = [("flow", self.flow), ("base", self.base), ("kl", self.kl)];
        let shown: Vec<String> = terms
            .iter()
            .filter_map(|(name, v)| v.map(|v| format!("{name} {v:.4}")))
            .collect();
        write!(f, "{}", shown.join(", "))
    }
}

/// What one method step reports back to the trainer.
pub struct StepOutcome {
    pub losses: Losses,
    pub phase: Phase,
    pub warning: Option<String>,
}

/// Interpolant and target of the straight path: (x_t, u) with x_t = (1 - t) x0 + t x1, u = x1 - x0.
pub fn straight_path(x0: Tensor<2>, x1: Tensor<2>, t: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let xt = x0.clone() * (t.clone().neg() + 1.0) + x1.clone() * t;
    (xt, x1 - x0)
}

/// The flow-matching terms of one minibatch exactly as a training step computes them: the
/// paired source and data, t, the interpolant, the target velocity and the predicted one. The
/// step-by-step view shows them; the step itself takes its loss from them.
pub struct FlowTerms {
    pub x0: Tensor<2>,
    pub x1: Tensor<2>,
    pub t: Tensor<2>,
    pub xt: Tensor<2>,
    pub target: Tensor<2>,
    pub predicted: Tensor<2>,
}

impl FlowTerms {
    /// The terms of the straight path from `x0` to `x1` at `t`, with `velocity(x_t, t)` predicting.
    pub fn new(
        x0: Tensor<2>,
        x1: Tensor<2>,
        t: Tensor<2>,
        velocity: impl FnOnce(Tensor<2>, Tensor<2>) -> Tensor<2>,
    ) -> Self {
        let (xt, target) = straight_path(x0.clone(), x1.clone(), t.clone());
        let predicted = velocity(xt.clone(), t.clone());
        Self {
            x0,
            x1,
            t,
            xt,
            target,
            predicted,
        }
    }

    pub fn loss(&self) -> Tensor<1> {
        flow_loss(self.predicted.clone(), self.target.clone())
    }
}

/// What the trainer asks of a training method: to build its networks, train a step, show the
/// step it would take, give an inference copy for sampling, pair a minibatch for display, and
/// hand its networks and optimisers to checkpoints, cached starts and view mirrors.
// The trainer awaits these futures where it stands, never across threads: no Send bound needed.
#[allow(async_fn_in_trait)]
pub trait TrainMethod: Sized {
    /// All of the method's networks as one module: what a checkpoint, a cached start and a view
    /// mirror hold.
    type Net: Module;

    fn new(config: &TrainConfig, start: &Start<'_>, init: &mut Rng, device: &Device) -> Self;
    fn net(&self) -> &Self::Net;
    fn net_mut(&mut self) -> &mut Self::Net;
    /// Each optimiser with the checkpoint file it is saved in.
    fn optimizers(&self) -> Vec<(&'static str, &ModuleOptimizer)>;
    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut ModuleOptimizer)>;
    /// Parameter counts of each network, by name.
    fn param_counts(&self) -> Vec<(&'static str, usize)>;
    /// Training step `step` (0-based) on `batch`.
    async fn train_step(
        &mut self,
        step: usize,
        batch: &Batch,
        lr: f64,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<StepOutcome, SolveError>;
    /// The flow-matching terms step `step` would compute from `batch`, and whether that step
    /// trains something else instead (MixFlow-OOD's base steps).
    async fn next_terms(
        &self,
        step: usize,
        batch: &Batch,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<(FlowTerms, bool), SolveError>;
    /// The copy of the networks (no autodiff) that sampling uses.
    fn inference(&self) -> Inference;
    /// The source points (original units) training pairs with `batch`'s data, row by row; may
    /// narrow `batch` to what it pairs (a mixture pairs one descriptor group).
    fn paired_sources(
        &self,
        batch: &mut Batch,
        sampler: &Sampler,
        w: f32,
        rng: &mut Rng,
    ) -> Result<Points, SampleError>;
    /// Whether some steps train a base rather than the flow (counted as base steps).
    fn trains_a_base(&self) -> bool {
        false
    }
}

/// What a method starts from: the data's shape, and the training sample and its descriptors in
/// model space (MixFlow-OOD starts its mixture at their K-means centres).
pub struct Start<'a> {
    pub dim: usize,
    pub descriptor_dim: usize,
    pub data: &'a Points,
    pub descriptors: &'a Points,
}

/// Mean over batch and dimensions of ‖v - u‖².
pub fn flow_loss(v: Tensor<2>, u: Tensor<2>) -> Tensor<1> {
    (v - u).powi_scalar(2).mean()
}

/// Adam (`crate::adam`, burn's own update fused per parameter) with the run's epsilon and
/// optional gradient-norm clipping.
pub fn adam(config: &crate::config::TrainConfig, beta1: f64, beta2: f64) -> burn::optim::ModuleOptimizer {
    let clipping = config
        .grad_clip
        .map(|clip| burn::grad_clipping::GradientClippingConfig::Norm(clip as f32).init());
    crate::adam::FusedAdam::new(beta1 as f32, beta2 as f32, config.eps as f32).into_module_optimizer(clipping)
}

/// `n` draws of U(0, 1) as an [n, 1] column (one t, or one w, per pair).
pub fn uniform_column(n: usize, rng: &mut crate::rng::Rng, device: &burn::tensor::Device) -> Tensor<2> {
    let values: Vec<f32> = (0..n).map(|_| crate::rng::uniform(rng)).collect();
    Tensor::from_data(burn::tensor::TensorData::new(values, [n, 1]), device)
}
