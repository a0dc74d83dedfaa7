//! Linear layers, x·W + b, as one burn operation on the Flex backend, forward and backward, with
//! every product large enough split in two row blocks across the machine's cores
//! ([`crate::pair`]). Flex runs a product on one core below 192³ (a training step's are
//! 256 × 128 × 128), adds the bias in a second pass, and allocates each output through a copy;
//! here the output starts as the bias and the product accumulates into it. The backward pass is
//! the usual three: g·Wᵀ for the input, xᵀ·g for the weight, g's column sums for the bias, each
//! only for a parent that is tracked. Other backends (wgpu, NdArray) keep burn's `Linear`.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::{DType, Tensor, TensorData};

/// `layer` applied to `x` [B, d_in]: the fused operation on Flex, burn's `Linear` elsewhere.
pub fn apply(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let on_flex = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_));
    match &layer.bias {
        Some(bias) if on_flex && x.dtype() == DType::F32 => {
            Tensor::from_dispatch(<Dispatch as FusedLinear>::fused_linear(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ))
        }
        _ => layer.forward(x),
    }
}

/// x [B, d_in] · weight [d_in, d_out] + bias [d_out] as one backend operation, implemented for
/// Flex and for autodiff over Flex.
#[backend_extension(Flex, Autodiff)]
pub trait FusedLinear: Backend {
    fn fused_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl FusedLinear for Flex {
    fn fused_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (x, weight, bias) = (contiguous(x), contiguous(weight), contiguous(bias));
        let (rows, d_in, d_out) = (dim(&x, 0), dim(&x, 1), dim(&weight, 1));
        let mut out = Vec::with_capacity(rows * d_out);
        for _ in 0..rows {
            out.extend_from_slice(values(&bias));
        }
        let x = Matrix::row_major(values(&x), d_in);
        product(&mut out, d_out, x, Matrix::row_major(values(&weight), d_out), d_in);
        tensor(out, [rows, d_out])
    }
}

impl<C: CheckpointStrategy> FusedLinear for Autodiff<Flex, C> {
    fn fused_linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        /// Keeps the input and the weight, the two factors of the gradients' products.
        #[derive(Debug)]
        struct LinearBackward;

        impl Backward<Flex, 3> for LinearBackward {
            type State = (FlexTensor, FlexTensor);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let grad = contiguous(grads.consume::<Flex>(&ops.node));
                let (x, weight) = ops.state;
                let [x_parent, weight_parent, bias_parent] = ops.parents;
                let (rows, d_in, d_out) = (dim(&x, 0), dim(&x, 1), dim(&weight, 1));
                let g = values(&grad);
                if let Some(parent) = x_parent {
                    // g [rows, d_out] · Wᵀ [d_out, d_in]
                    let mut dx = vec![0.0; rows * d_in];
                    let w_t = Matrix::transposed(values(&weight), d_out);
                    product(&mut dx, d_in, Matrix::row_major(g, d_out), w_t, d_out);
                    grads.register::<Flex>(parent.id, tensor(dx, [rows, d_in]));
                }
                if let Some(parent) = weight_parent {
                    // xᵀ [d_in, rows] · g [rows, d_out]
                    let mut dw = vec![0.0; d_in * d_out];
                    let x_t = Matrix::transposed(values(&x), d_in);
                    product(&mut dw, d_out, x_t, Matrix::row_major(g, d_out), rows);
                    grads.register::<Flex>(parent.id, tensor(dw, [d_in, d_out]));
                }
                if let Some(parent) = bias_parent {
                    let mut db = vec![0.0; d_out];
                    for row in g.chunks_exact(d_out) {
                        db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
                    }
                    grads.register::<Flex>(parent.id, tensor(db, [d_out]));
                }
            }
        }

        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight, bias) = (x.into_primitive(), weight.into_primitive(), bias.into_primitive());
        match LinearBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (x, weight) = (contiguous(x), contiguous(weight));
                let out = Flex::fused_linear(x.clone(), weight.clone(), bias);
                prep.finish((x, weight), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::fused_linear(x, weight, bias)),
        }
    }
}

/// A matrix factor of a product: its elements and the strides of its rows and columns.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    values: &'a [f32],
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// A row-major matrix of `cols` columns.
    fn row_major(values: &'a [f32], cols: usize) -> Self {
        Self {
            values,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose of a row-major matrix of `cols` columns, without moving it.
    fn transposed(values: &'a [f32], cols: usize) -> Self {
        Self {
            values,
            row_stride: 1,
            col_stride: cols,
        }
    }

    /// Rows `from..` of this matrix.
    fn rows_from(self, from: usize) -> Self {
        Self {
            values: &self.values[from * self.row_stride..],
            ..self
        }
    }
}

/// Products with fewer multiply-adds than this run on one core: below it, handing half to the
/// other core costs more than it saves.
const SPLIT_FROM: usize = 64 * 64 * 64;

/// out [m, n] (row-major) += a [m, k] · b [k, n], the rows of `out` split across two cores when
/// the product is large enough.
fn product(out: &mut [f32], n: usize, a: Matrix, b: Matrix, k: usize) {
    let m = out.len() / n.max(1);
    if m >= 2 && m * n * k >= SPLIT_FROM {
        let half = m / 2;
        let (top, bottom) = out.split_at_mut(half * n);
        crate::pair::join(
            || gemm_into(top, n, a, b, k),
            || gemm_into(bottom, n, a.rows_from(half), b, k),
        );
    } else {
        gemm_into(out, n, a, b, k);
    }
}

/// out [m, n] += a [m, k] · b [k, n] on this thread.
fn gemm_into(out: &mut [f32], n: usize, a: Matrix, b: Matrix, k: usize) {
    let m = out.len() / n.max(1);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let last = |x: Matrix, rows: usize, cols: usize| (rows - 1) * x.row_stride + (cols - 1) * x.col_stride;
    assert!(last(a, m, k) < a.values.len() && last(b, k, n) < b.values.len());
    // SAFETY: the assertion above keeps every element gemm reads inside `a` and `b`; `out` holds
    // m × n floats, row-major, and aliases neither (it is a fresh buffer).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            true,
            a.values.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.values.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn dim(x: &FlexTensor, axis: usize) -> usize {
    x.layout().shape()[axis]
}

/// A contiguous tensor's own elements.
fn values(x: &FlexTensor) -> &[f32] {
    &x.storage()[..x.layout().num_elements()]
}

fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() && x.layout().start_offset() == 0 {
        x
    } else {
        FlexTensor::from_data(x.into_data())
    }
}

fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Rng, Stream};
    use burn::module::Param;
    use burn::tensor::Device;

    fn random(rng: &mut Rng, shape: [usize; 2], device: &Device) -> Tensor<2> {
        let values = rng::normals(rng, shape[0] * shape[1]);
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// The fused operation against burn's `Linear`, value and every gradient, for products on one
    /// core and split across two, with a transposed (non-contiguous) input.
    #[test]
    fn fused_linear_matches_burns_value_and_gradients() {
        let device = Device::flex().autodiff();
        let mut rng = rng::seeded(7, Stream::Eval, 0);
        for (rows, d_in, d_out) in [(5, 3, 4), (256, 128, 128), (257, 65, 33)] {
            for transposed in [false, true] {
                let x0 = if transposed {
                    random(&mut rng, [d_in, rows], &device).transpose()
                } else {
                    random(&mut rng, [rows, d_in], &device)
                };
                let w0 = random(&mut rng, [d_in, d_out], &device);
                let b0 = random(&mut rng, [1, d_out], &device).reshape([d_out]);
                let upstream = random(&mut rng, [rows, d_out], &device);
                let run = |fused: bool| {
                    let x = x0.clone().require_grad();
                    let layer = Linear {
                        weight: Param::from_tensor(w0.clone()),
                        bias: Some(Param::from_tensor(b0.clone())),
                    };
                    let y = if fused {
                        apply(&layer, x.clone())
                    } else {
                        layer.forward(x.clone())
                    };
                    let grads = (y.clone() * upstream.clone()).sum().backward();
                    let flat = |t: Tensor<2>| t.into_data().to_vec::<f32>().unwrap();
                    let bias_grad = layer.bias.as_ref().unwrap().grad(&grads).unwrap();
                    (
                        flat(y),
                        flat(x.grad(&grads).unwrap()),
                        flat(layer.weight.grad(&grads).unwrap()),
                        bias_grad.into_data().to_vec::<f32>().unwrap(),
                    )
                };
                let (fused, reference) = (run(true), run(false));
                let close = |a: &[f32], b: &[f32], what: &str| {
                    assert_eq!(a.len(), b.len());
                    for (a, b) in a.iter().zip(b) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{what} ({rows}×{d_in}→{d_out}): {a} vs {b}"
                        );
                    }
                };
                close(&fused.0, &reference.0, "value");
                close(&fused.1, &reference.1, "input gradient");
                close(&fused.2, &reference.2, "weight gradient");
                close(&fused.3, &reference.3, "bias gradient");
            }
        }
    }
}
