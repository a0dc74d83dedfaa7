//! MixFlow-OOD (Rubbi et al.; SPEC section 3.2): a descriptor-conditioned mixture base
//! p(z | c) = Σ_k π_k(c) N(μ_k(c), σ²), initialised at the K-means centres of the training data,
//! trained by a geodesic loss (a minibatch W2² to the data of each descriptor) in alternation with
//! flow matching on per-descriptor OT pairs. Two Adam optimisers: flow (betas 0, 0.99) and base.

use super::{Batch, FlowTerms, Losses, Phase, Start, StepOutcome, TrainMethod};
use crate::config::{TrainConfig, TrainDraw};
use crate::coupling::group_assignments;
use crate::data::Points;
use crate::kmeans::kmeans;
use crate::mixture::{Mixture, gumbel};
use crate::nn::{MixtureBase, MixtureParams, VelocityField, dropout_mask};
use crate::rng::{self, Rng};
use crate::sample::{Inference, SampleError, Sampler};
use crate::solve::{SolveError, read_points, read_scalar, to_tensor};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct OodModel {
    pub velocity: VelocityField,
    pub base: MixtureBase,
}

/// Where the schedule switches and how often the base trains.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub warmup_end: usize,
    pub cooldown_start: usize,
    pub base_every: usize,
}

impl Schedule {
    pub fn new(steps: usize, warmup: f64, cooldown: f64, base_every: usize) -> Self {
        let warmup_end = (warmup * steps as f64).round() as usize;
        let cooldown_start = steps - ((cooldown * steps as f64).round() as usize).min(steps);
        Self {
            warmup_end,
            cooldown_start: cooldown_start.max(warmup_end),
            base_every,
        }
    }

    /// The phase of the step that follows `step` completed steps, and whether it is a base step.
    pub fn at(&self, step: usize) -> (Phase, bool) {
        if step < self.warmup_end {
            (Phase::Warmup, false)
        } else if step >= self.cooldown_start {
            (Phase::Cooldown, false)
        } else {
            (
                Phase::Alternate,
                (step - self.warmup_end) % self.base_every == self.base_every - 1,
            )
        }
    }
}

pub struct MixflowOod {
    pub model: OodModel,
    pub flow_optim: ModuleOptimizer,
    pub base_optim: ModuleOptimizer,
    schedule: Schedule,
    tau: f32,
    train_draw: TrainDraw,
    encoder_dropout: f64,
}

/// Unconditional data gets one constant descriptor, so the same base serves it (SPEC E3).
pub const CONSTANT_DESCRIPTOR: [f32; 1] = [1.0];

impl MixflowOod {
    /// Builds the networks, then initialises the base: K-means centres of the pooled training
    /// data, and a pre-training of the means head so that every training descriptor starts there.
    pub fn new(
        config: &TrainConfig,
        train_data: &Points,
        train_descriptors: &Points,
        init: &mut Rng,
        device: &Device,
    ) -> Self {
        let shape = config.net_shape();
        let dim = train_data.dim;
        let velocity = VelocityField::new(dim, shape.encoder_width, &shape, init, device);
        let base = MixtureBase::new(
            train_descriptors.dim,
            dim,
            config.components,
            config.sigma as f32,
            config.learn_sigma,
            shape.encoder_width,
            init,
            device,
        );
        let mut ood = Self {
            model: OodModel { velocity, base },
            flow_optim: super::adam(config, config.flow_beta1, config.flow_beta2),
            base_optim: super::adam(config, config.beta1, config.beta2),
            schedule: Schedule::new(config.steps, config.warmup, config.cooldown, config.base_every),
            tau: config.tau as f32,
            train_draw: config.train_draw,
            encoder_dropout: config.encoder_dropout,
        };
        let centres = kmeans(train_data, config.components, 50, 5, init);
        ood.pretrain_means(
            &centres,
            train_descriptors,
            config.pretrain_steps,
            config.lr,
            init,
            device,
        );
        ood
    }

    /// Trains h_Θ alone so that μ(c) ≈ centres for every training descriptor: MSE to the centres
    /// plus N(0, 0.1²) noise.
    fn pretrain_means(
        &mut self,
        centres: &[f32],
        descriptors: &Points,
        steps: usize,
        lr: f64,
        rng: &mut Rng,
        dev: &Device,
    ) {
        let n = descriptors.len();
        let k_d = centres.len();
        let mut optim = burn::optim::AdamConfig::new().init();
        let c = to_tensor(descriptors, dev);
        for _ in 0..steps {
            let target: Vec<f32> = (0..n)
                .flat_map(|_| centres.iter().map(|m| m + 0.1 * rng::normal(rng)).collect::<Vec<_>>())
                .collect();
            let target = Tensor::<2>::from_data(TensorData::new(target, [n, k_d]), dev);
            let e = self.model.base.encoder.forward(c.clone()).detach();
            let loss = (self.model.base.means.forward(e) - target).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &self.model.base.means);
            self.model.base.means = optim.step(lr, self.model.base.means.clone(), grads);
        }
    }

    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// The base draws of a step (hard or soft, [`TrainDraw`]), with the data paired to them by
    /// exact OT inside each descriptor group (on values only: no gradient through the pairing),
    /// the mixture's parameters and the draw's component weights. Only a base step (`track`)
    /// needs the base's graph; flow steps draw without autodiff, which spares recording nine
    /// steps in ten of a graph nobody walks back (its clean-up was 9% of B2's profile).
    async fn paired_draw(
        &self,
        batch: &Batch,
        rng: &mut Rng,
        dev: &Device,
        track: bool,
    ) -> Result<PairedDraw, SolveError> {
        let (n, dim) = (batch.x1.len(), batch.x1.dim);
        let untracked = |t: Tensor<2>| if track { t } else { t.inner() };
        // The base runs once per group (8 rows in B2, not 512): a group's rows share its
        // descriptor, so its parameters are the same for each, and are repeated to them.
        let c = untracked(to_tensor(&group_descriptors(batch), dev));
        // Drawn only when on, so runs without dropout keep their random stream.
        let mask = (self.encoder_dropout > 0.0).then(|| {
            let width = self.model.base.encoder.width();
            untracked(dropout_mask(batch.groups.len(), width, self.encoder_dropout, rng, dev))
        });
        let params = if track {
            self.model.base.params_dropped(c, mask)
        } else {
            self.model.base.clone().valid().params_dropped(c, mask)
        }
        .per_row(&batch.groups);
        let k = self.model.base.components;
        let gumbel_noise = untracked(Tensor::<2>::from_data(
            TensorData::new((0..n * k).map(|_| gumbel(rng)).collect(), [n, k]),
            dev,
        ));
        let eps = untracked(to_tensor(&Points::new(dim, rng::normals(rng, n * dim)), dev));
        let (z, weights) = training_draw(&params, gumbel_noise, eps, self.tau, self.train_draw);
        let x1 = to_tensor(&pair_within_groups(&read_points(z.clone().detach()).await?, batch), dev);
        Ok(PairedDraw { params, z, x1, weights })
    }

    /// A flow step's terms: from the detached base draw to its OT-paired data.
    fn flow_terms(&self, draw: PairedDraw, rng: &mut Rng, dev: &Device) -> FlowTerms {
        let t = super::uniform_column(draw.x1.dims()[0], rng, dev);
        let embedding = draw.params.embedding.detach().autodiff();
        FlowTerms::new(draw.z.detach().autodiff(), draw.x1, t, |xt, t| {
            self.model.velocity.forward(xt, t, Some(embedding))
        })
    }
}

struct PairedDraw {
    params: MixtureParams,
    z: Tensor<2>,
    x1: Tensor<2>,
    weights: Tensor<2>,
}

impl TrainMethod for MixflowOod {
    type Net = OodModel;

    fn new(config: &TrainConfig, start: &Start<'_>, init: &mut Rng, device: &Device) -> Self {
        MixflowOod::new(config, start.data, start.descriptors, init, device)
    }

    fn net(&self) -> &OodModel {
        &self.model
    }

    fn net_mut(&mut self) -> &mut OodModel {
        &mut self.model
    }

    fn optimizers(&self) -> Vec<(&'static str, &ModuleOptimizer)> {
        vec![
            ("optimizer.bpk", &self.flow_optim),
            ("base-optimizer.bpk", &self.base_optim),
        ]
    }

    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut ModuleOptimizer)> {
        vec![
            ("optimizer.bpk", &mut self.flow_optim),
            ("base-optimizer.bpk", &mut self.base_optim),
        ]
    }

    fn param_counts(&self) -> Vec<(&'static str, usize)> {
        let b = &self.model.base;
        let heads = b.weights.num_params() + b.means.num_params() + b.log_sigma.as_ref().map_or(0, |h| h.num_params());
        vec![
            ("velocity field", self.model.velocity.num_params()),
            ("descriptor encoder", b.encoder.num_params()),
            ("base heads", heads),
        ]
    }

    async fn train_step(
        &mut self,
        step: usize,
        batch: &Batch,
        lr: f64,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<StepOutcome, SolveError> {
        let (phase, base_step) = self.schedule.at(step);
        let k = self.model.base.components;
        let draw = self.paired_draw(batch, rng, dev, base_step).await?;
        let mut losses = Losses::default();
        let mut warning = None;
        if base_step {
            let geodesic = (draw.x1 - draw.z).powi_scalar(2).sum_dim(1).mean();
            let value = read_scalar(geodesic.clone()).await?;
            losses.base = Some(value);
            if value.is_finite() {
                let grads = GradientsParams::from_grads(geodesic.backward(), &self.model.base);
                self.model.base = self.base_optim.step(lr, self.model.base.clone(), grads);
            }
            warning = collapse_warning(draw.weights, k).await;
        } else {
            let loss = self.flow_terms(draw, rng, dev).loss();
            let value = read_scalar(loss.clone()).await?;
            losses.flow = Some(value);
            if value.is_finite() {
                let grads = GradientsParams::from_grads(loss.backward(), &self.model.velocity);
                self.model.velocity = self.flow_optim.step(lr, self.model.velocity.clone(), grads);
            }
        }
        Ok(StepOutcome { losses, phase, warning })
    }

    async fn next_terms(
        &self,
        step: usize,
        batch: &Batch,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<(FlowTerms, bool), SolveError> {
        let (_, base_step) = self.schedule.at(step);
        let draw = self.paired_draw(batch, rng, dev, false).await?;
        Ok((self.flow_terms(draw, rng, dev), base_step))
    }

    fn inference(&self) -> Inference {
        Inference::Mixture {
            model: self.model.valid(),
        }
    }

    /// Independent draws from the first group's mixture (a mixture is per descriptor), paired
    /// with that group's data only.
    fn paired_sources(
        &self,
        batch: &mut Batch,
        sampler: &Sampler,
        _w: f32,
        rng: &mut Rng,
    ) -> Result<Points, SampleError> {
        let group = batch.groups[0].clone();
        let dim = batch.x1.dim;
        batch.x1 = Points::new(dim, batch.x1.data[group.start * dim..group.end * dim].to_vec());
        let descriptor = batch.descriptors.as_ref().map(|d| d.row(group.start).to_vec());
        let base = sampler.base(descriptor.as_deref(), group.len(), rng)?;
        Ok(sampler.to_original(&base.points))
    }

    fn trains_a_base(&self) -> bool {
        true
    }
}

/// A training step's draw z = Σ_k g_k μ_k + (Σ_k g_k σ_k) ε from Gumbel noise and ε; returns
/// z [B, D] and g [B, K]. Soft: g = softmax((log π + gumbel) / τ), between the means. Hard: g is
/// one-hot at argmax(log π + gumbel), so z = μ_k + σ_k ε with k ~ Cat(π), exactly the draw of
/// generation ([`Mixture::sample`]); its gradient is the soft g's (straight-through), so a base
/// step still moves π. τ changes only that gradient.
pub fn training_draw(
    p: &MixtureParams,
    gumbel: Tensor<2>,
    eps: Tensor<2>,
    tau: f32,
    kind: TrainDraw,
) -> (Tensor<2>, Tensor<2>) {
    let scores = (p.log_weights.clone() + gumbel) / tau;
    let soft = softmax(scores.clone(), 1);
    let g = match kind {
        TrainDraw::Soft => soft,
        TrainDraw::Hard => {
            let top = scores.clone().max_dim(1).expand(scores.dims());
            let one_hot = scores.equal(top).float();
            // Forward: exactly the one-hot (soft − soft is 0). Backward: the soft draw's gradient.
            one_hot + (soft.clone() - soft.detach())
        }
    };
    mix(p, g, eps)
}

/// z = Σ_k g_k μ_k + (Σ_k g_k σ_k) ε for component weights g [B, K].
fn mix(p: &MixtureParams, g: Tensor<2>, eps: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [b, _, d] = p.means.dims();
    let g3 = g.clone().unsqueeze_dim::<3>(2);
    let mean = (g3.clone() * p.means.clone()).sum_dim(1).reshape([b, d]);
    let sigma = (g3 * p.sigmas.clone()).sum_dim(1).reshape([b, d]);
    (mean + sigma * eps, g)
}

/// Reorders x1 inside each descriptor group so that row i pairs with base sample z_i.
fn pair_within_groups(z: &Points, batch: &Batch) -> Points {
    let mut out = batch.x1.clone();
    let d = z.dim;
    for (g, perm) in batch.groups.iter().zip(group_assignments(z, &batch.x1, &batch.groups)) {
        for (i, j) in perm.into_iter().enumerate() {
            out.data[(g.start + i) * d..(g.start + i + 1) * d].copy_from_slice(batch.x1.row(g.start + j));
        }
    }
    out
}

/// A warning when the batch's mean mixture weights put (almost) everything on one component.
async fn collapse_warning(weights: Tensor<2>, k: usize) -> Option<String> {
    if k < 2 {
        return None;
    }
    let mean = read_points(weights.mean_dim(0)).await.ok()?.data;
    let (top, &w) = mean.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    (w > 0.99).then(|| {
        format!(
            "the mixture base has collapsed: component {top} carries {:.1}% of the weight",
            100.0 * w
        )
    })
}

/// One descriptor per group of `batch`: the constant one on unconditional data.
fn group_descriptors(batch: &Batch) -> Points {
    match &batch.descriptors {
        Some(d) => Points::new(
            d.dim,
            batch.groups.iter().flat_map(|g| d.row(g.start).to_vec()).collect(),
        ),
        None => Points::new(1, CONSTANT_DESCRIPTOR.repeat(batch.groups.len())),
    }
}

/// The base for one descriptor, read back to the CPU (model space).
pub fn mixture_for(base: &MixtureBase, descriptor: &[f32], device: &Device) -> Mixture {
    let c = Tensor::<2>::from_data(TensorData::new(descriptor.to_vec(), [1, descriptor.len()]), device);
    let p = base.params(c);
    let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().expect("float tensor");
    let (k, d) = (base.components, base.dim);
    Mixture {
        dim: d,
        weights: read(p.log_weights.exp()),
        means: read(p.means.reshape([k, d])),
        sigmas: read(p.sigmas.reshape([k, d])),
    }
}
