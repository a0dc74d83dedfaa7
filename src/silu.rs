//! SiLU, x·σ(x), the activation of every MLP here, made fast on the CPU: slice kernels with an
//! exp that vectorises (no libm call; compiled for AVX2 and FMA where the CPU has them), which the
//! fused sampler calls directly, and the same kernels as one burn operation on the Flex backend,
//! forward and backward, for training ([`silu`]). burn's own `activation::silu` is
//! `x * sigmoid(x)`: on Flex a branch and a scalar `expf` per element, a second pass for the
//! product, and under autodiff the sigmoid computed again in the backward pass; in the profile of
//! the reference training step that was half its time (docs/PERFORMANCE.md). Other backends
//! (wgpu, NdArray) keep burn's composition.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};

/// SiLU of `x`: one fused pass (and one for its gradient) on burn's Flex backend, burn's
/// composition elsewhere.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let on_flex = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_));
    if on_flex && x.dtype() == DType::F32 {
        Tensor::from_dispatch(<Dispatch as FusedSilu>::fused_silu(x.into_dispatch()))
    } else {
        burn::tensor::activation::silu(x)
    }
}

/// SiLU as one backend operation, implemented for Flex and for autodiff over Flex.
#[backend_extension(Flex, Autodiff)]
pub trait FusedSilu: Backend {
    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FusedSilu for Flex {
    fn fused_silu(x: FlexTensor) -> FlexTensor {
        let mut out = writable(x);
        forward(elements_mut(&mut out));
        out
    }
}

impl<C: CheckpointStrategy> FusedSilu for Autodiff<Flex, C> {
    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        /// Keeps the input, from which the backward pass recomputes σ (cheaper than storing it).
        #[derive(Debug)]
        struct SiluBackward;

        impl Backward<Flex, 1> for SiluBackward {
            type State = FlexTensor;

            fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let grad = grads.consume::<Flex>(&ops.node);
                let [parent] = ops.parents;
                if let Some(parent) = parent {
                    let input = contiguous(ops.state);
                    let mut out = writable(grad);
                    let n = input.layout().num_elements();
                    backward(&input.storage()[..n], elements_mut(&mut out));
                    grads.register::<Flex>(parent.id, out);
                }
            }
        }

        match SiluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let input = x.into_primitive();
                prep.finish(input.clone(), Flex::fused_silu(input))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::fused_silu(x.into_primitive())),
        }
    }
}

/// The tensor's own elements, in place: its storage can be longer (a view of a larger buffer).
fn elements_mut(x: &mut FlexTensor) -> &mut [f32] {
    let n = x.layout().num_elements();
    &mut x.storage_mut()[..n]
}

/// `x` itself where it can be written in place (its only owner, contiguous from offset 0),
/// else a contiguous copy of its elements, made in one pass (`into_data` of a shared tensor
/// copies twice, the second time only to align the bytes).
fn writable(x: FlexTensor) -> FlexTensor {
    if x.is_unique() && x.is_contiguous() && x.layout().start_offset() == 0 {
        return x;
    }
    let x = contiguous(x);
    let n = x.layout().num_elements();
    let copy = x.storage::<f32>()[..n].to_vec();
    FlexTensor::from_data(TensorData::new(copy, x.layout().shape().clone()))
}

/// `x` laid out contiguously from offset 0, copied only when it is not.
fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() && x.layout().start_offset() == 0 {
        x
    } else {
        FlexTensor::from_data(x.into_data())
    }
}

/// SiLU in place: x / (1 + e^-x).
pub fn forward(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::forward(values) };
    }
    forward_lanes(values)
}

/// The gradient through SiLU, in place of `grad`: grad · σ(x) (1 + x (1 − σ(x))).
pub fn backward(x: &[f32], grad: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::backward(x, grad) };
    }
    backward_lanes(x, grad)
}

#[inline(always)]
fn forward_lanes(values: &mut [f32]) {
    for x in values {
        *x /= 1.0 + exp(-*x);
    }
}

#[inline(always)]
fn backward_lanes(x: &[f32], grad: &mut [f32]) {
    for (g, &x) in grad.iter_mut().zip(x) {
        let s = 1.0 / (1.0 + exp(-x));
        *g *= s * (1.0 + x * (1.0 - s));
    }
}

/// The same loops compiled for AVX2 and FMA: eight lanes at a time.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    pub fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn forward(values: &mut [f32]) {
        super::forward_lanes(values)
    }

    /// # Safety
    /// The CPU must have AVX2 and FMA ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward(x: &[f32], grad: &mut [f32]) {
        super::backward_lanes(x, grad)
    }
}

/// e^x to about 1e-7 relative error, written so that LLVM vectorises it (no libm call):
/// x = k ln2 + r with |r| ≤ ln2 / 2, e^r by Cephes' expf polynomial, 2^k through the exponent
/// bits. NaN stays NaN, so a diverged model still shows as one.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that k · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * LOG2_E + ROUND;
    let k = rounded - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e_r = p * r * r + r + 1.0;
    // k's integer sits in the low bits of `rounded` (not `k as i32`, whose saturating
    // conversion does not vectorise).
    let k_bits = rounded.to_bits().wrapping_sub(ROUND.to_bits());
    f32::from_bits(k_bits.wrapping_add(127) << 23) * e_r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Stream};
    use burn::tensor::{Device, TensorData};

    #[test]
    fn the_vectorised_exp_matches_std() {
        let mut worst = 0.0f32;
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let (ours, std) = (exp(x), x.exp());
            worst = worst.max(((ours - std) / std).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert!(exp(f32::NAN).is_nan());
        // Far below the clamp, e^x is as good as 0 beside the 1 it is added to in SiLU.
        assert!(exp(-1000.0) < 1e-37);
    }

    /// The fused operation against burn's composition, forward and gradient, on a transposed
    /// (non-contiguous) input too, with a NaN that must stay NaN.
    #[test]
    fn fused_silu_matches_burns_value_and_gradient() {
        let device = Device::flex().autodiff();
        let mut values = rng::normals(&mut rng::seeded(5, Stream::Eval, 0), 64 * 48);
        values.iter_mut().for_each(|v| *v *= 6.0);
        values[7] = f32::NAN;
        let x = Tensor::<2>::from_data(TensorData::new(values, [64, 48]), &device);
        let weights = Tensor::<2>::random([64, 48], burn::tensor::Distribution::Default, &device);
        for transposed in [false, true] {
            let run = |fused: bool| {
                let leaf = x.clone().require_grad();
                let input = if transposed {
                    leaf.clone().transpose()
                } else {
                    leaf.clone()
                };
                let y = if fused {
                    silu(input.clone())
                } else {
                    burn::tensor::activation::silu(input)
                };
                let weights = if transposed {
                    weights.clone().transpose()
                } else {
                    weights.clone()
                };
                let grads = (y.clone() * weights).sum().backward();
                (
                    y.into_data().try_to_vec::<f32>().unwrap(),
                    leaf.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap(),
                )
            };
            let ((y, g), (y_ref, g_ref)) = (run(true), run(false));
            let worst = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .filter(|(a, _)| !a.is_nan())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max)
            };
            assert!(worst(&y, &y_ref) < 1e-5, "value: {}", worst(&y, &y_ref));
            assert!(worst(&g, &g_ref) < 1e-5, "gradient: {}", worst(&g, &g_ref));
            assert!(y.iter().filter(|v| v.is_nan()).count() == 1 && g[7].is_nan());
        }
    }
}
