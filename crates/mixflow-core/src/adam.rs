//! Adam with each parameter's update as one pass over its elements on the Flex backend: both
//! moments and the parameter in one loop, the moments written in place. burn's Adam takes a dozen
//! tensor operations per parameter, each a pass and a fresh allocation, which made it a tenth of a
//! training step. Its state is burn's own [`AdamState`], so checkpoints read and write the same
//! records, and other backends (wgpu, NdArray) and AMSGrad states (from a record) go to burn's Adam.

use crate::flex::{contiguous, filled, tensor, values, writable};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{DType, Device, Tensor};
use std::mem::MaybeUninit;

/// burn's Adam (bias-corrected, epsilon added to the corrected root, as [`AdamConfig`] defines
/// it), each parameter updated in one pass where it lives on Flex.
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// The same optimizer op by op, for every tensor this one does not update itself.
    burns: Adam,
}

impl FusedAdam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let burns = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            burns,
        }
    }

    /// A whole-module optimizer, with burn's gradient clipping when `clipping` is given.
    pub fn into_module_optimizer(self, clipping: Option<burn::grad_clipping::GradientClipping>) -> ModuleOptimizer {
        let optimizer = ModuleOptimizer::from(self);
        match clipping {
            Some(clipping) => optimizer.with_grad_clipping(clipping),
            None => optimizer,
        }
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let on_flex = matches!(tensor.device().inner().as_dispatch(), DispatchDevice::Flex(_));
        let amsgrad = state.as_ref().is_some_and(|s| s.momentum.max_moment_2.is_some());
        if !on_flex || tensor.dtype() != DType::F32 || grad.dtype() != DType::F32 || amsgrad {
            return self.burns.step(lr, tensor, grad, state);
        }
        // A first step is a step from zero moments: (1 - β)·g and (1 - β)·g², as burn's.
        let (time, moment_1, moment_2) = match state {
            Some(AdamState { momentum }) => (momentum.time + 1, momentum.moment_1, momentum.moment_2),
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        // burn's coefficients, in f32 as it computes them.
        let time_exponent = time as i32;
        let correction_2 = (1.0 - self.beta_2.powi(time_exponent)).sqrt();
        let step = correction_2 / (1.0 - self.beta_1.powi(time_exponent));
        let coefficients = [self.beta_1, self.beta_2, step, self.epsilon * correction_2, lr as f32];
        let (tensor, moment_1, moment_2) = <Dispatch as FusedAdamStep>::adam_step(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            coefficients,
        );
        let momentum =
            AdaptiveMomentumState::new(time, Tensor::from_dispatch(moment_1), Tensor::from_dispatch(moment_2));
        (Tensor::from_dispatch(tensor), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

/// Elements from which a parameter's update is split across two cores.
const SPLIT_FROM: usize = 8192;

/// One Adam update of a parameter: (parameter, first moment, second moment) after the step, from
/// those before it and the gradient; `coefficients` are β₁, β₂, the corrected step factor, the
/// corrected epsilon and the learning rate. Implemented for Flex.
#[backend_extension(Flex)]
pub trait FusedAdamStep: Backend {
    fn adam_step(
        parameter: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        coefficients: [f32; 5],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl FusedAdamStep for Flex {
    fn adam_step(
        parameter: FlexTensor,
        grad: FlexTensor,
        moment_1: FlexTensor,
        moment_2: FlexTensor,
        [beta_1, beta_2, step, epsilon, lr]: [f32; 5],
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let grad = contiguous(grad);
        let (mut moment_1, mut moment_2) = (writable(moment_1), writable(moment_2));
        let shape = parameter.layout().shape().clone();
        // The model keeps its parameters while the optimizer steps, so the parameter is seldom
        // ours to write: the new one goes into a vector of its own.
        let parameter = contiguous(parameter);
        let (p, g) = (values(&parameter), values(&grad));
        let (m1, m2) = (
            &mut moment_1.storage_mut::<f32>()[..p.len()],
            &mut moment_2.storage_mut::<f32>()[..p.len()],
        );
        let update = |p: &[f32], g: &[f32], m1: &mut [f32], m2: &mut [f32], out: &mut [MaybeUninit<f32>]| {
            let moments = m1.iter_mut().zip(m2.iter_mut());
            for (((out, p), g), (m1, m2)) in out.iter_mut().zip(p).zip(g).zip(moments) {
                // The same operations in the same order as burn's Adam, so the two agree to rounding.
                *m1 = *m1 * beta_1 + *g * (1.0 - beta_1);
                *m2 = *m2 * beta_2 + (*g * *g) * (1.0 - beta_2);
                out.write(p - (*m1 * step / (m2.sqrt() + epsilon)) * lr);
            }
        };
        // Every element of the new parameter is written by `update`.
        let updated = filled(p.len(), |out| {
            // A 128 × 128 weight is worth both cores (the helper is awake after the backward pass).
            if p.len() >= SPLIT_FROM {
                let half = p.len() / 2;
                let (p, g) = (p.split_at(half), g.split_at(half));
                let (m1, m2, out) = (m1.split_at_mut(half), m2.split_at_mut(half), out.split_at_mut(half));
                crate::pair::join(
                    || update(p.0, g.0, m1.0, m2.0, out.0),
                    || update(p.1, g.1, m1.1, m2.1, out.1),
                );
            } else {
                update(p, g, m1, m2, out);
            }
        });
        (tensor(updated, shape), moment_1, moment_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Stream};
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;

    /// A few steps of a linear layer's training with this Adam and with burn's, from the same
    /// start on the same data: the parameters agree to rounding after every step, and so does
    /// the state either one records (a checkpoint written by one resumes the other).
    #[test]
    fn fused_adam_takes_burns_steps() {
        let device = Device::flex().autodiff();
        let mut rng = rng::seeded(3, Stream::Eval, 0);
        // 128 × 80 weights: updated in two halves, one on each core.
        let start = LinearConfig::new(128, 80).init(&device);
        let inputs: Vec<Tensor<2>> = (0..6)
            .map(|_| Tensor::from_data(TensorData::new(rng::normals(&mut rng, 8 * 128), [8, 128]), &device))
            .collect();
        let train = |mut optim: ModuleOptimizer| {
            let mut layer: Linear = start.clone();
            let mut weights = Vec::new();
            for x in &inputs {
                let loss = layer.forward(x.clone()).powi_scalar(2).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &layer);
                layer = optim.step(1e-2, layer, grads);
                weights.push(flat(layer.weight.val()));
            }
            (weights, optim.to_record())
        };
        let (fused, fused_record) = train(FusedAdam::new(0.9, 0.99, 1e-8).into_module_optimizer(None));
        let (burns, _) = train(AdamConfig::new().with_beta_2(0.99).with_epsilon(1e-8).init());
        for (step, (a, b)) in fused.iter().zip(&burns).enumerate() {
            for (a, b) in a.iter().zip(b) {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "step {step}: {a} vs {b}");
            }
        }
        // burn's Adam resumes from the fused one's record and takes the step the fused one takes.
        let mut resumed = AdamConfig::new().with_beta_2(0.99).with_epsilon(1e-8).init();
        let mut layer = start.clone();
        let mut fused_optim = FusedAdam::new(0.9, 0.99, 1e-8).into_module_optimizer(None);
        for x in &inputs {
            let grads = GradientsParams::from_grads(layer.forward(x.clone()).powi_scalar(2).mean().backward(), &layer);
            layer = fused_optim.step(1e-2, layer, grads);
        }
        resumed = resumed.load_record(fused_record);
        let x = &inputs[0];
        let step = |optim: &mut ModuleOptimizer, layer: Linear| {
            let grads = GradientsParams::from_grads(layer.forward(x.clone()).powi_scalar(2).mean().backward(), &layer);
            flat(optim.step(1e-2, layer, grads).weight.val())
        };
        let (a, b) = (step(&mut fused_optim, layer.clone()), step(&mut resumed, layer));
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "resumed step: {a} vs {b}");
        }
    }

    /// A parameter held elsewhere (the model keeps its own while the optimizer steps) is not
    /// written in place.
    #[test]
    fn fused_adam_leaves_a_shared_parameter_as_it_was() {
        let device = Device::flex().autodiff();
        let layer = Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &device)),
            bias: None,
        };
        let kept = layer.clone();
        let loss = layer.forward(Tensor::<2>::ones([1, 1], &device)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        let stepped = FusedAdam::new(0.9, 0.999, 1e-8)
            .into_module_optimizer(None)
            .step(0.5, layer, grads);
        assert_eq!(flat(kept.weight.val()), vec![1.0, 2.0]);
        // A first step moves every weight by lr (the corrected m/√v is ±1).
        assert_eq!(flat(stepped.weight.val()), vec![0.5, 1.5]);
    }

    fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }
}
