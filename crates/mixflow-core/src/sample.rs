//! Sampling from a trained model, in original units: each method's base (source, κ-FC source at
//! the inference w, or the descriptor's mixture), integrated through the velocity field.

use crate::data::{Points, Scaler, Toy};
use crate::fused;
use crate::method::Kappa;
use crate::method::cfm::draw_source;
use crate::method::mixflow_ood::{CONSTANT_DESCRIPTOR, OodModel, mixture_for};
use crate::method::mixflow_rf::{KappaFcModel, KappaFcSettings, kappa_input, mix_source};
use crate::mixture::Mixture;
use crate::nn::{FlatField, FlowModel, VelocityField};
use crate::rng::{self, Rng};
use crate::solve::{self, SolveError, SolveOptions, Solver, to_points, to_tensor};
use burn::backend::DispatchDevice;
use burn::tensor::{Device, Tensor, TensorData};

/// The inference copy (no autodiff) of each kind of model.
// One per sampler, never in a collection: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Inference {
    Flow {
        model: FlowModel,
        source: Option<Toy>,
    },
    KappaFc {
        model: KappaFcModel,
        settings: KappaFcSettings,
    },
    Mixture {
        model: OodModel,
    },
}

pub struct Sampler {
    pub inference: Inference,
    pub device: Device,
    pub scaler: Option<Scaler>,
    pub dim: usize,
}

/// Base samples x0 (model space), with the mixture component of each when the base is a mixture.
pub struct Base {
    pub points: Points,
    pub components: Option<Vec<usize>>,
}

pub struct Generated {
    pub samples: Points,
    pub nfe: usize,
    /// (t, states) in original units, when recording was asked for.
    pub trajectory: Vec<(f32, Points)>,
}

/// MixFlow-RF's encoder read out for data points: μ, σ and the mixed source at a chosen w.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct KappaView {
    /// The data points read out (original units); row i of the others belongs to row i here.
    pub data: Points,
    pub mu: Points,
    pub sigma: Points,
    pub source: Points,
}

/// Why sampling from a model failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("this model's source depends on the descriptor: give one")]
    SourceNeedsDescriptor,
    #[error("this model is conditional: give a descriptor")]
    NeedsDescriptor,
    #[error("a descriptor of {given} values was asked for, but `{dataset}` has descriptors of {expected}")]
    DescriptorSize {
        given: usize,
        dataset: String,
        expected: usize,
    },
    #[error("the fused sampler and the advection shader compute SiLU networks only")]
    NotSilu,
    #[error("sampling produced NaN or inf: the model has diverged")]
    Diverged,
    #[error(transparent)]
    Solve(#[from] SolveError),
}

impl Sampler {
    /// `n` base samples for `descriptor` (ignored where the base does not depend on it).
    pub fn base(&self, descriptor: Option<&[f32]>, n: usize, rng: &mut Rng) -> Result<Base, SampleError> {
        let points = match &self.inference {
            Inference::Flow { source, .. } => draw_source(*source, n, self.dim, rng),
            Inference::KappaFc { model, settings } => {
                let w = settings.inference_w();
                if settings.kappa == Kappa::Data || w == 0.0 {
                    Points::new(self.dim, rng::normals(rng, n * self.dim))
                } else {
                    let placeholder = Points::new(self.dim, vec![0.0; n * self.dim]);
                    let descriptors = descriptor.map(|d| Points::new(d.len(), d.repeat(n)));
                    if settings.kappa == Kappa::Descriptor && descriptors.is_none() {
                        return Err(SampleError::SourceNeedsDescriptor);
                    }
                    let kappa = kappa_input(settings.kappa, &placeholder, descriptors.as_ref(), rng);
                    self.mixed_source(model, &kappa, w, rng)
                }
            }
            Inference::Mixture { model } => {
                let (points, components) = self.mixture_model_space(model, descriptor).sample(n, rng);
                return Ok(Base {
                    points,
                    components: Some(components),
                });
            }
        };
        Ok(Base {
            points,
            components: None,
        })
    }

    fn mixed_source(&self, model: &KappaFcModel, kappa: &Points, w: f32, rng: &mut Rng) -> Points {
        let n = kappa.len();
        let (mu, log_var) = model.kappa.forward(to_tensor(kappa, &self.device));
        let eps = to_tensor(&Points::new(self.dim, rng::normals(rng, n * self.dim)), &self.device);
        to_points(mix_source(mu, log_var, Tensor::full([n, 1], w, &self.device), eps))
    }

    fn mixture_model_space(&self, model: &OodModel, descriptor: Option<&[f32]>) -> Mixture {
        mixture_for(&model.base, descriptor.unwrap_or(&CONSTANT_DESCRIPTOR), &self.device)
    }

    /// MixFlow-OOD's base for `descriptor`, in original units (None for other methods).
    pub fn mixture(&self, descriptor: Option<&[f32]>) -> Option<Mixture> {
        let Inference::Mixture { model } = &self.inference else {
            return None;
        };
        let mut m = self.mixture_model_space(model, descriptor);
        if let Some(s) = &self.scaler {
            let (k, d) = (m.components(), m.dim);
            m.means = s.inverse(&Points::new(d, m.means)).data;
            m.sigmas = (0..k * d).map(|i| m.sigmas[i] * s.half_range(i % d)).collect();
        }
        Some(m)
    }

    /// MixFlow-RF's κ-FC Gaussians for data points `x1` (original units) with κ = data, and the
    /// mixed source at `w` (None for other methods or κ settings).
    pub fn kappa_view(&self, x1: &Points, w: f32, rng: &mut Rng) -> Option<KappaView> {
        let Inference::KappaFc { model, settings } = &self.inference else {
            return None;
        };
        if settings.kappa != Kappa::Data {
            return None;
        }
        let x = self.to_model(x1);
        let (mu, log_var) = model.kappa.forward(to_tensor(&x, &self.device));
        let sigma = to_points(log_var.clone().mul_scalar(0.5).exp());
        let sigma = match &self.scaler {
            Some(s) => Points::new(
                self.dim,
                sigma
                    .data
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * s.half_range(i % self.dim))
                    .collect(),
            ),
            None => sigma,
        };
        let source = self.to_original(&self.mixed_source(model, &x, w, rng));
        Some(KappaView {
            data: x1.clone(),
            mu: self.to_original(&to_points(mu)),
            sigma,
            source,
        })
    }

    /// Points in original units in the model's space (the scaler's forward map).
    pub fn to_model(&self, p: &Points) -> Points {
        match &self.scaler {
            Some(s) => s.forward(p),
            None => p.clone(),
        }
    }

    pub fn to_original(&self, p: &Points) -> Points {
        match &self.scaler {
            Some(s) => s.inverse(p),
            None => p.clone(),
        }
    }

    /// The field for the advection shader: `steps` Euler steps for `descriptor`, in model space
    /// (see [`Self::to_original`] for the data units the canvas draws in).
    pub fn flat_field(&self, descriptor: Option<&[f32]>, steps: usize) -> Result<FlatField, SampleError> {
        if !self.flattens() {
            return Err(SampleError::NotSilu);
        }
        let (velocity, cond) = self.conditioning(descriptor, 1)?;
        let cond = cond.map(|c| c.into_data().try_to_vec::<f32>().expect("float features"));
        Ok(velocity.flatten(self.dim, cond.as_deref(), steps))
    }

    /// Whether the velocity field has a flat form ([`Self::flat_field`]): SiLU networks do.
    pub fn flattens(&self) -> bool {
        let velocity = match &self.inference {
            Inference::Flow { model, .. } => &model.velocity,
            Inference::KappaFc { model, .. } => &model.flow.velocity,
            Inference::Mixture { model } => &model.velocity,
        };
        velocity.activation() == crate::nn::Activation::Silu
    }

    /// The velocity field and its conditioning features for `n` rows and `descriptor`.
    fn conditioning(
        &self,
        descriptor: Option<&[f32]>,
        n: usize,
    ) -> Result<(&VelocityField, Option<Tensor<2>>), SampleError> {
        let row = |d: &[f32]| Tensor::<2>::from_data(TensorData::new(d.to_vec(), [1, d.len()]), &self.device);
        let embed = |model: &FlowModel| match (&model.encoder, descriptor) {
            (Some(enc), Some(d)) => Ok(Some(enc.forward(row(d)).repeat_dim(0, n))),
            (Some(_), None) => Err(SampleError::NeedsDescriptor),
            (None, _) => Ok(None),
        };
        Ok(match &self.inference {
            Inference::Flow { model, .. } => (&model.velocity, embed(model)?),
            Inference::KappaFc { model, settings } => {
                let e = embed(&model.flow)?;
                let w = settings
                    .w_input
                    .then(|| Tensor::full([n, 1], settings.inference_w(), &self.device));
                let cond: Vec<Tensor<2>> = e.into_iter().chain(w).collect();
                (&model.flow.velocity, (!cond.is_empty()).then(|| Tensor::cat(cond, 1)))
            }
            Inference::Mixture { model } => {
                let d = descriptor.unwrap_or(&CONSTANT_DESCRIPTOR);
                (
                    &model.velocity,
                    Some(model.base.encoder.forward(row(d)).repeat_dim(0, n)),
                )
            }
        })
    }

    /// The velocity field at time `t` for points in original units, in original units per unit
    /// time (the field the ODE follows, as the canvas draws it).
    pub fn velocity(&self, descriptor: Option<&[f32]>, x: &Points, t: f32) -> Result<Points, SampleError> {
        Ok(self.velocity_to_original(self.model_velocity(descriptor, &self.to_model(x), t)?))
    }

    /// Velocities in model space as velocities in original units.
    pub fn velocity_to_original(&self, v: Points) -> Points {
        match &self.scaler {
            // x = lo + (y + 1) * half_range, so dx/dt = half_range * dy/dt.
            Some(s) => Points::new(
                v.dim,
                v.data
                    .iter()
                    .enumerate()
                    .map(|(i, dv)| dv * s.half_range(i % v.dim))
                    .collect(),
            ),
            None => v,
        }
    }

    /// The network's velocity at time `t` for points in model space, in model space.
    pub fn model_velocity(&self, descriptor: Option<&[f32]>, x: &Points, t: f32) -> Result<Points, SampleError> {
        let n = x.len();
        if n == 0 {
            return Ok(x.clone());
        }
        let (velocity, cond) = self.conditioning(descriptor, n)?;
        Ok(to_points(velocity.forward(
            to_tensor(x, &self.device),
            Tensor::<2>::full([n, 1], t, &self.device),
            cond,
        )))
    }

    /// Whether the model flows from N(0, I) along the linear path with independent pairs, the
    /// setting in which the exact empirical field ([`crate::exact`]) is the loss's minimiser: the
    /// baselines with the Gaussian source (OT-CFM and C-OT pair by transport, so for them it is
    /// the independent coupling's minimiser, a reference rather than their own).
    pub fn flows_from_gaussian(&self) -> bool {
        matches!(self.inference, Inference::Flow { source: None, .. })
    }

    /// Integrates base samples `x0` (model space) to data, for `descriptor` on conditional models.
    /// Euler on a CPU backend takes the fused path ([`crate::fused`]); everything else runs on burn.
    pub fn generate(
        &self,
        descriptor: Option<&[f32]>,
        x0: &Points,
        opts: &SolveOptions,
        record: bool,
    ) -> Result<Generated, SampleError> {
        // No steps and no points are burn's to report and to return.
        if opts.solver == Solver::Euler && self.fuses(opts.steps, x0) {
            return self.generate_fused(descriptor, x0, opts.steps, record);
        }
        self.generate_with_burn(descriptor, x0, opts, record)
    }

    /// The first `taken` of `steps` Euler steps from `x0`, in model space and out, on the fused
    /// CPU path; none where that path does not apply (a GPU device, an ELU network), for the
    /// caller's own loop. What a hybrid sampler's learned part takes: a burn call per step costs
    /// about as much as the fused path's whole run.
    pub fn euler_fused(
        &self,
        descriptor: Option<&[f32]>,
        x0: &Points,
        steps: usize,
        taken: usize,
    ) -> Result<Option<Points>, SampleError> {
        if !self.fuses(steps, x0) {
            return Ok(None);
        }
        let field = self.flat_field(descriptor, steps)?;
        let mut x = x0.data.clone();
        fused::euler_first(&field, &mut x, taken, false);
        Ok(Some(Points::new(x0.dim, x)))
    }

    /// Whether `steps` Euler steps from `x0` take the fused CPU path: a SiLU network on a CPU
    /// backend, with steps and points to integrate.
    fn fuses(&self, steps: usize, x0: &Points) -> bool {
        let on_cpu = matches!(
            self.device.as_dispatch(),
            DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
        );
        on_cpu && steps > 0 && !x0.is_empty() && self.flattens()
    }

    fn generate_fused(
        &self,
        descriptor: Option<&[f32]>,
        x0: &Points,
        steps: usize,
        record: bool,
    ) -> Result<Generated, SampleError> {
        let field = self.flat_field(descriptor, steps)?;
        let mut x = x0.data.clone();
        let states = fused::euler(&field, &mut x, record);
        let samples = finite(self.to_original(&Points::new(x0.dim, x)))?;
        let h = 1.0 / steps as f32;
        let trajectory = if record {
            let after = states
                .into_iter()
                .enumerate()
                .map(|(k, s)| ((k + 1) as f32 * h, self.to_original(&Points::new(x0.dim, s))));
            std::iter::once((0.0, self.to_original(x0))).chain(after).collect()
        } else {
            Vec::new()
        };
        Ok(Generated {
            samples,
            nfe: steps,
            trajectory,
        })
    }

    /// [`Self::generate`] on burn, whatever the solver and backend (the reference the fused
    /// path and the advection shader are tested against).
    pub fn generate_with_burn(
        &self,
        descriptor: Option<&[f32]>,
        x0: &Points,
        opts: &SolveOptions,
        record: bool,
    ) -> Result<Generated, SampleError> {
        let n = x0.len();
        if n == 0 {
            return Ok(Generated {
                samples: x0.clone(),
                nfe: 0,
                trajectory: Vec::new(),
            });
        }
        let (velocity, cond) = self.conditioning(descriptor, n)?;
        let mut field =
            |x: Tensor<2>, t: f32| velocity.forward(x, Tensor::<2>::full([n, 1], t, &self.device), cond.clone());
        let sol = solve::integrate(&mut field, to_tensor(x0, &self.device), opts, record)?;
        let samples = finite(self.to_original(&to_points(sol.x)))?;
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

/// Samples, refused when any is NaN or inf: the model has diverged.
fn finite(samples: Points) -> Result<Points, SampleError> {
    if samples.data.iter().any(|x| !x.is_finite()) {
        return Err(SampleError::Diverged);
    }
    Ok(samples)
}
