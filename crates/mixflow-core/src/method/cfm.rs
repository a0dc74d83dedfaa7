//! The baselines' conditional flow-matching step (RF / I-CFM, OT-CFM, C-OT): x0 from the source,
//! paired with x1 by the method's coupling, one Adam over the velocity field and descriptor encoder.

use super::{Batch, FlowTerms, Losses, Phase, Start, StepOutcome, TrainMethod};
use crate::config::TrainConfig;
use crate::coupling::{self, Coupling};
use crate::data::{Points, Toy};
use crate::nn::FlowModel;
use crate::rng::{self, Rng};
use crate::sample::{Inference, SampleError, Sampler};
use crate::solve::{SolveError, read_scalar, to_tensor};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;

pub struct Cfm {
    pub model: FlowModel,
    pub optim: ModuleOptimizer,
    coupling: Coupling,
    /// None: N(0, I).
    pub source: Option<Toy>,
}

impl Cfm {
    pub fn new(config: &TrainConfig, dim: usize, descriptor_dim: usize, init: &mut Rng, device: &Device) -> Self {
        let (source, _) = config.source_and_target();
        Self {
            model: FlowModel::new(dim, descriptor_dim, 0, &config.net_shape(), init, device),
            optim: super::adam(config, config.beta1, config.beta2),
            coupling: config.method.coupling().expect("a baseline method"),
            source: Toy::parse(&source).filter(|t| *t != Toy::Gaussian),
        }
    }

    /// Source draws for `batch`, reordered by the method's coupling so that row i pairs with x1's row i.
    pub fn paired_source(&self, batch: &Batch, rng: &mut Rng) -> Points {
        let x0 = draw_source(self.source, batch.x1.len(), batch.x1.dim, rng);
        coupling::pair(self.coupling, &x0, &batch.x1, &batch.groups)
    }

    /// The step's terms: paired source draws, t ~ U(0, 1), and the field's prediction.
    pub fn flow_terms(&self, batch: &Batch, rng: &mut Rng, dev: &Device) -> FlowTerms {
        let x0 = self.paired_source(batch, rng);
        let t = super::uniform_column(batch.x1.len(), rng, dev);
        let c = batch.descriptors.as_ref().map(|d| to_tensor(d, dev));
        FlowTerms::new(to_tensor(&x0, dev), to_tensor(&batch.x1, dev), t, |xt, t| {
            self.model.velocity(xt, t, c, None)
        })
    }
}

impl TrainMethod for Cfm {
    type Net = FlowModel;

    fn new(config: &TrainConfig, start: &Start<'_>, init: &mut Rng, device: &Device) -> Self {
        Cfm::new(config, start.dim, start.descriptor_dim, init, device)
    }

    fn net(&self) -> &FlowModel {
        &self.model
    }

    fn net_mut(&mut self) -> &mut FlowModel {
        &mut self.model
    }

    fn optimizers(&self) -> Vec<(&'static str, &ModuleOptimizer)> {
        vec![("optimizer.bpk", &self.optim)]
    }

    fn optimizers_mut(&mut self) -> Vec<(&'static str, &mut ModuleOptimizer)> {
        vec![("optimizer.bpk", &mut self.optim)]
    }

    fn param_counts(&self) -> Vec<(&'static str, usize)> {
        let (v, e) = self.model.param_counts();
        vec![("velocity field", v), ("descriptor encoder", e)]
    }

    async fn train_step(
        &mut self,
        _step: usize,
        batch: &Batch,
        lr: f64,
        rng: &mut Rng,
        dev: &Device,
    ) -> Result<StepOutcome, SolveError> {
        let loss = self.flow_terms(batch, rng, dev).loss();
        let value = read_scalar(loss.clone()).await?;
        if value.is_finite() {
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optim.step(lr, self.model.clone(), grads);
        }
        Ok(StepOutcome {
            losses: Losses {
                flow: Some(value),
                ..Losses::default()
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
        Ok((self.flow_terms(batch, rng, dev), false))
    }

    fn inference(&self) -> Inference {
        Inference::Flow {
            model: self.model.valid(),
            source: self.source,
        }
    }

    fn paired_sources(
        &self,
        batch: &mut Batch,
        sampler: &Sampler,
        _w: f32,
        rng: &mut Rng,
    ) -> Result<Points, SampleError> {
        Ok(sampler.to_original(&self.paired_source(batch, rng)))
    }
}

pub fn draw_source(source: Option<Toy>, n: usize, dim: usize, rng: &mut Rng) -> Points {
    match source {
        Some(toy) => toy.sample(n, rng),
        None => Points::new(dim, rng::normals(rng, n * dim)),
    }
}
