//! MixFlow-RF (Nayal, Wewer, Lenssen; SPEC section 3.3): a κ-FC encoder gives each κ a diagonal
//! Gaussian N(μ, σ²); per sample, w ~ U(0, 1) interpolates its parameters with N(0, I):
//! x0 = w·μ + sqrt(w·σ² + 1 - w)·ε'. Flow loss plus λ_KL·KL, one Adam over v and the encoder.
//! w ≡ 0 is plain RF, w ≡ 1 is Fast-ODE. With κ = data point, inference starts from N(0, I).

use super::{Batch, FlowTerms, Kappa, Losses, MixWeight, Phase, Start, StepOutcome, TrainMethod};
use crate::config::TrainConfig;
use crate::data::Points;
use crate::nn::{FlowModel, KappaEncoder};
use crate::rng::{self, Rng};
use crate::sample::{Inference, SampleError, Sampler};
use crate::solve::{SolveError, read_scalar, to_tensor};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct KappaFcModel {
    pub flow: FlowModel,
    pub kappa: KappaEncoder,
}

/// The settings inference needs as well as training.
#[derive(Clone, Copy, Debug)]
pub struct KappaFcSettings {
    pub kappa: Kappa,
    pub w: MixWeight,
    /// v also sees w.
    pub w_input: bool,
    /// w of the source at inference for κ = descriptor or noise (κ = data always starts at w = 0).
    pub sample_w: f32,
    pub kl_weight: f32,
}

pub struct MixflowRf {
    pub model: KappaFcModel,
    pub optim: ModuleOptimizer,
    pub settings: KappaFcSettings,
}

impl KappaFcSettings {
    pub fn from_config(config: &TrainConfig) -> Self {
        let w = if config.method == super::Method::FastOde {
            MixWeight::Fixed(1.0)
        } else {
            config.w
        };
        Self {
            kappa: config.kappa,
            w,
            w_input: config.w_input,
            sample_w: config.sample_w as f32,
            kl_weight: config.kl_weight as f32,
        }
    }

    /// The w of the source that inference integrates from.
    pub fn inference_w(&self) -> f32 {
        if self.kappa == Kappa::Data { 0.0 } else { self.sample_w }
    }
}

impl MixflowRf {
    pub fn new(config: &TrainConfig, dim: usize, descriptor_dim: usize, init: &mut Rng, device: &Device) -> Self {
        let settings = KappaFcSettings::from_config(config);
        let shape = config.net_shape();
        let flow = FlowModel::new(dim, descriptor_dim, settings.w_input as usize, &shape, init, device);
        let kappa_dim = if settings.kappa == Kappa::Descriptor {
            descriptor_dim
        } else {
            dim
        };
        let kappa = KappaEncoder::new(kappa_dim, dim, shape.width, init, device);
        Self {
            model: KappaFcModel { flow, kappa },
            optim: super::adam(config, config.beta1, config.beta2),
            settings,
        }
    }

    /// The step's flow terms (source mixed at a drawn w) and its KL term.
    pub fn flow_terms(&self, batch: &Batch, rng: &mut Rng, dev: &Device) -> (FlowTerms, Tensor<1>) {
        let (n, dim) = (batch.x1.len(), batch.x1.dim);
        let x1 = to_tensor(&batch.x1, dev);
        let c = batch.descriptors.as_ref().map(|d| to_tensor(d, dev));
        let kappa = kappa_input(self.settings.kappa, &batch.x1, batch.descriptors.as_ref(), rng);
        let (mu, log_var) = self.model.kappa.forward(to_tensor(&kappa, dev));
        let w = match self.settings.w {
            MixWeight::Uniform => super::uniform_column(n, rng, dev),
            MixWeight::Fixed(x) => Tensor::full([n, 1], x, dev),
        };
        let eps = to_tensor(&Points::new(dim, rng::normals(rng, n * dim)), dev);
        let x0 = mix_source(mu.clone(), log_var.clone(), w.clone(), eps);
        let t = super::uniform_column(n, rng, dev);
        let terms = FlowTerms::new(x0, x1, t, |xt, t| {
            self.model.flow.velocity(xt, t, c, self.settings.w_input.then_some(w))
        });
        (terms, kl_to_standard_normal(mu, log_var))
    }
}

impl TrainMethod for MixflowRf {
    type Net = KappaFcModel;

    fn new(config: &TrainConfig, start: &Start<'_>, init: &mut Rng, device: &Device) -> Self {
        MixflowRf::new(config, start.dim, start.descriptor_dim, init, device)
    }

    fn net(&self) -> &KappaFcModel {
        &self.model
    }

    fn net_mut(&mut self) -> &mut KappaFcModel {
        &mut self.model
    }

    fn optimizers(&self) -> Vec<(&'static str, &ModuleOptimizer)> {
        vec![("optimizer.bpk", &self.optim)]
    }

    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut ModuleOptimizer)> {
        vec![("optimizer.bpk", &mut self.optim)]
    }

    fn param_counts(&self) -> Vec<(&'static str, usize)> {
        let (v, e) = self.model.flow.param_counts();
        vec![
            ("velocity field", v),
            ("descriptor encoder", e),
            ("κ-FC encoder", self.model.kappa.num_params()),
        ]
    }

    async fn train_step(
        &mut self,
        _step: usize,
        batch: &Batch,
        lr: f64,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<StepOutcome, SolveError> {
        let (terms, kl) = self.flow_terms(batch, rng, dev);
        let flow = terms.loss();
        let loss = flow.clone() + kl.clone() * self.settings.kl_weight;
        let (flow_value, kl_value) = (read_scalar(flow).await?, read_scalar(kl).await?);
        if flow_value.is_finite() && kl_value.is_finite() {
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optim.step(lr, self.model.clone(), grads);
        }
        Ok(StepOutcome {
            losses: Losses {
                flow: Some(flow_value),
                kl: Some(kl_value),
                base: None,
            },
            phase: Phase::Flow,
            warning: None,
        })
    }

    async fn next_terms(
        &self,
        _step: usize,
        batch: &Batch,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<(FlowTerms, bool), SolveError> {
        Ok((self.flow_terms(batch, rng, dev).0, false))
    }

    fn inference(&self) -> Inference {
        Inference::KappaFc {
            model: self.model.valid(),
            settings: self.settings,
        }
    }

    /// The κ-FC source at `w` of each data point (N(0, I) draws where κ reads no data).
    fn paired_sources(
        &self,
        batch: &mut Batch,
        sampler: &Sampler,
        w: f32,
        rng: &mut Rng,
    ) -> Result<Points, SampleError> {
        let x1 = sampler.to_original(&batch.x1);
        Ok(match sampler.kappa_view(&x1, w, rng) {
            Some(view) => view.source,
            None => sampler.to_original(&sampler.base(None, x1.len(), rng)?.points),
        })
    }
}

/// What the encoder reads for each row: the data point, its descriptor, or fresh noise.
pub fn kappa_input(kappa: Kappa, x1: &Points, descriptors: Option<&Points>, rng: &mut Rng) -> Points {
    match (kappa, descriptors) {
        (Kappa::Data, _) => x1.clone(),
        (Kappa::Descriptor, Some(d)) => d.clone(),
        (Kappa::Descriptor, None) => unreachable!("validation refuses kappa = descriptor without descriptors"),
        (Kappa::Noise, _) => Points::new(x1.dim, rng::normals(rng, x1.data.len())),
    }
}

/// x0 = w·μ + sqrt(w·σ² + 1 - w)·ε: the κ-FC Gaussian's parameters mixed with N(0, I)'s.
pub fn mix_source(mu: Tensor<2>, log_var: Tensor<2>, w: Tensor<2>, eps: Tensor<2>) -> Tensor<2> {
    let var = log_var.exp() * w.clone() + (w.clone().neg() + 1.0);
    mu * w + var.sqrt() * eps
}

/// mean over the batch of ½ Σ_d (μ² + σ² - 1 - log σ²).
pub fn kl_to_standard_normal(mu: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let per_dim = mu.powi_scalar(2) + log_var.clone().exp() - 1.0 - log_var;
    per_dim.sum_dim(1).mean() * 0.5
}
