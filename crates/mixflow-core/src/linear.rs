//! Linear layers, x·W + b, alone or followed by SiLU, as one burn operation on the Flex backend,
//! forward and backward, with every product large enough split in two row blocks across the
//! machine's cores ([`crate::pair`]). Flex runs a product on one core below 192³ (a training
//! step's are 256 × 128 × 128), adds the bias in a second pass, and allocates each output through
//! a copy; here the output starts as the bias, the product accumulates into it, and SiLU (with
//! its gradient on the way back) runs on each half's rows right after its product. The backward
//! pass is the usual three: g·Wᵀ for the input, xᵀ·g for the weight, g's column sums for the
//! bias, each only for a parent that is tracked. The products are gemm's, except in the browser
//! build, where SIMD128 register tiles do them (`linear/simd128.rs`). Other backends (wgpu,
//! NdArray) keep burn's `Linear` and SiLU.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: raw row pointers shared by
// the two halves of a product, each block with its SAFETY comment.
#![allow(unsafe_code)]

use crate::flex::{contiguous, dim, filled, tensor, values, writable};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::nn::Linear;
use burn::tensor::{DType, Tensor};
use std::mem::MaybeUninit;

#[cfg(any(target_arch = "wasm32", test))]
mod simd128;

/// `layer` applied to `x` [B, d_in].
pub fn apply(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    fused(layer, x, false)
}

/// SiLU of `layer` applied to `x` [B, d_in], as one operation.
pub fn apply_silu(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    fused(layer, x, true)
}

fn fused(layer: &Linear, x: Tensor<2>, silu: bool) -> Tensor<2> {
    let on_flex = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_));
    match &layer.bias {
        Some(bias) if on_flex && x.dtype() == DType::F32 => {
            Tensor::from_dispatch(<Dispatch as FusedLinear>::fused_linear(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
                silu,
            ))
        }
        _ if silu => burn::tensor::activation::silu(layer.forward(x)),
        _ => layer.forward(x),
    }
}

/// x [B, d_in] · weight [d_in, d_out] + bias [d_out], then SiLU when `silu`, as one backend
/// operation, implemented for Flex and for autodiff over Flex.
#[backend_extension(Flex, Autodiff)]
pub trait FusedLinear: Backend {
    fn fused_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        silu: bool,
    ) -> FloatTensor<Self>;
}

impl FusedLinear for Flex {
    fn fused_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, silu: bool) -> FlexTensor {
        let (z, y) = forward(&contiguous(x), &contiguous(weight), &contiguous(bias), silu);
        y.unwrap_or(z)
    }
}

impl<C: CheckpointStrategy> FusedLinear for Autodiff<Flex, C> {
    fn fused_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        silu: bool,
    ) -> FloatTensor<Self> {
        /// Keeps the input and the weight (the factors of the gradients' products) and, after
        /// SiLU, σ(z) and the output (SiLU's gradient at z is made of them).
        #[derive(Debug)]
        struct LinearBackward;

        impl Backward<Flex, 3> for LinearBackward {
            type State = (FlexTensor, FlexTensor, Option<(FlexTensor, FlexTensor)>);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let grad = grads.consume::<Flex>(&ops.node);
                let (x, weight, silu) = ops.state;
                let [x_parent, weight_parent, bias_parent] = ops.parents;
                let silu = silu.as_ref().map(|(s, y)| (s, y));
                let (dx, dw, db) = backward(grad, silu, &x, &weight, x_parent.is_some());
                let gradients = [(x_parent, dx), (weight_parent, Some(dw)), (bias_parent, Some(db))];
                for (parent, gradient) in gradients {
                    if let (Some(parent), Some(gradient)) = (parent, gradient) {
                        grads.register::<Flex>(parent.id, gradient);
                    }
                }
            }
        }

        let nodes = [x.node(), weight.node(), bias.node()];
        let (x, weight) = (contiguous(x.into_primitive()), contiguous(weight.into_primitive()));
        let (z, y) = forward(&x, &weight, &contiguous(bias.into_primitive()), silu);
        match LinearBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => match y {
                // The output is shared, not copied (the next layer keeps it as its input too).
                Some(y) => prep.finish((x, weight, Some((z, y.clone()))), y),
                None => prep.finish((x, weight, None), z),
            },
            OpsKind::UnTracked(prep) => prep.finish(y.unwrap_or(z)),
        }
    }
}

/// z = x·W + b, or when `silu` σ(z) and y = SiLU(z) (σ(z) in z's place: the gradient through SiLU
/// is taken from it); each half of the rows on its own core, bias rows, product and SiLU one
/// after the other while the rows are in cache. No output is zeroed first.
fn forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor, silu: bool) -> (FlexTensor, Option<FlexTensor>) {
    let (m, k, n) = (dim(x, 0), dim(x, 1), dim(weight, 1));
    let (x_values, w, bias) = (values(x), Matrix::row_major(values(weight), n), values(bias));
    let mut y = Vec::new();
    let z = filled(m * n, |z| {
        y = filled(if silu { m * n } else { 0 }, |y| {
            let rows = |from: usize, z: &mut [MaybeUninit<f32>], y: &mut [MaybeUninit<f32>]| {
                for row in z.chunks_exact_mut(n) {
                    copy_into(row, bias);
                }
                gemm_into(z, n, Matrix::row_major(x_values, k).rows_from(from), w, k, true);
                if silu {
                    // SAFETY: the bias rows and the product above wrote every element of `z`.
                    crate::silu::forward_keeping_sigmoid(unsafe { assume_init(z) }, y);
                }
            };
            match split(m, m * n * k) {
                Some(half) => {
                    let (z0, z1) = z.split_at_mut(half * n);
                    let (y0, y1) = y.split_at_mut(if silu { half * n } else { 0 });
                    crate::pair::join(|| rows(0, z0, y0), || rows(half, z1, y1));
                }
                None => rows(0, z, y),
            }
        })
    });
    (tensor(z, [m, n]), silu.then(|| tensor(y, [m, n])))
}

/// The gradients of the input (when `want_x`), the weight and the bias, from the gradient `grad`
/// of the layer's output, taken back through SiLU first where there is one (from σ(z) and its
/// output). Each core takes half of the rows all the way: SiLU's gradient, its rows of g·Wᵀ, and
/// its rows' share of xᵀ·g and of g's column sums, which are added up at the end.
fn backward(
    grad: FlexTensor,
    silu: Option<(&FlexTensor, &FlexTensor)>,
    x: &FlexTensor,
    weight: &FlexTensor,
    want_x: bool,
) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
    let (m, k, n) = (dim(x, 0), dim(x, 1), dim(weight, 1));
    let mut g = writable(grad);
    let g_values = &mut g.storage_mut::<f32>()[..m * n];
    let (x_values, w_t) = (values(x), Matrix::transposed(values(weight), n));
    // One row block's share: its rows of dx, and its xᵀ·g and column sums into `dw` and `db`.
    let rows =
        |from: usize, g: &mut [f32], dx: &mut [MaybeUninit<f32>], dw: &mut [MaybeUninit<f32>], db: &mut [f32]| {
            let rows = g.len() / n.max(1);
            if let Some((s, y)) = silu {
                let here = from * n..from * n + g.len();
                crate::silu::backward(&values(s)[here.clone()], &values(y)[here], g);
            }
            if want_x {
                gemm_into(dx, k, Matrix::row_major(g, n), w_t, n, false);
            }
            let x_t = Matrix::transposed(&x_values[from * k..], k);
            gemm_into(dw, n, x_t, Matrix::row_major(g, n), rows, false);
            for row in g.chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
            }
        };
    let mut db = vec![0.0; n];
    let mut dw = Vec::new();
    let dx = filled(if want_x { m * k } else { 0 }, |dx| {
        dw = filled(k * n, |dw| {
            // The two products and SiLU's gradient; SiLU's alone is worth splitting from a few
            // thousand elements on.
            let work = if want_x { 2 * m * n * k } else { m * n * k.max(64) };
            match split(m, work) {
                Some(half) => {
                    let (g0, g1) = g_values.split_at_mut(half * n);
                    let (dx0, dx1) = dx.split_at_mut(if want_x { half * k } else { 0 });
                    let mut second = (vec![0.0; k * n], vec![0.0; n]);
                    let (dw1, db1) = (as_uninit(&mut second.0), &mut second.1);
                    crate::pair::join(|| rows(0, g0, dx0, dw, &mut db), || rows(half, g1, dx1, dw1, db1));
                    // SAFETY: the product above wrote every element of `dw`.
                    let dw = unsafe { assume_init(dw) };
                    dw.iter_mut().zip(&second.0).for_each(|(a, b)| *a += b);
                    db.iter_mut().zip(&second.1).for_each(|(a, b)| *a += b);
                }
                None => rows(0, g_values, dx, dw, &mut db),
            }
        })
    });
    let dx = want_x.then(|| tensor(dx, [m, k]));
    (dx, tensor(dw, [k, n]), tensor(db, [n]))
}

/// Writes `source` into `target` and returns it as the floats it now holds.
fn copy_into<'a>(target: &'a mut [MaybeUninit<f32>], source: &[f32]) -> &'a mut [f32] {
    assert_eq!(target.len(), source.len());
    for (t, s) in target.iter_mut().zip(source) {
        t.write(*s);
    }
    // SAFETY: every element was written just above.
    unsafe { assume_init(target) }
}

/// Storage seen as the floats it holds.
///
/// # Safety
/// Every element of `values` must have been written.
unsafe fn assume_init(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: same layout; initialised by the caller's contract.
    unsafe { &mut *(values as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// Floats seen as storage to write into.
fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; only initialised floats are ever written through the result.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
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

/// Work (multiply-adds, or their equivalent) below which handing half to the other core costs
/// more than it saves.
const SPLIT_FROM: usize = 64 * 64 * 64;

/// Where to split `rows` rows of `work` in two, if it is worth it. Never in the browser: there
/// `pair::join` runs both halves on the one thread, and each half would pack b's panels for the
/// SIMD128 tiles again (and, in the backward pass, sum a second weight gradient).
fn split(rows: usize, work: usize) -> Option<usize> {
    let second_core = cfg!(not(target_arch = "wasm32"));
    (second_core && rows >= 2 && work >= SPLIT_FROM).then_some(rows / 2)
}

/// out [m, n] = a [m, k] · b [k, n] + bias [n], all row-major, on this thread (the fused
/// sampler's layers).
pub(crate) fn affine(out: &mut [f32], a: &[f32], b: &[f32], bias: &[f32], k: usize) {
    let n = bias.len();
    for row in out.chunks_exact_mut(n) {
        row.copy_from_slice(bias);
    }
    gemm_into(
        as_uninit(out),
        n,
        Matrix::row_major(a, k),
        Matrix::row_major(b, n),
        k,
        true,
    );
}

/// out [m, n] = a [m, k] · b [k, n] on this thread, every element written; or, when
/// `accumulate`, out += a · b (`out` must then hold floats).
fn gemm_into(out: &mut [MaybeUninit<f32>], n: usize, a: Matrix, b: Matrix, k: usize, accumulate: bool) {
    let m = out.len() / n.max(1);
    if k == 0 && !accumulate {
        out.fill(MaybeUninit::new(0.0));
    }
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    #[cfg(target_arch = "wasm32")]
    if n >= simd128::NARROWEST {
        return simd128_into(out, n, a, b, k, accumulate);
    }
    let last = |x: Matrix, rows: usize, cols: usize| (rows - 1) * x.row_stride + (cols - 1) * x.col_stride;
    assert!(last(a, m, k) < a.values.len() && last(b, k, n) < b.values.len());
    // SAFETY: the assertion above keeps every element gemm reads inside `a` and `b`; `out` holds
    // m × n floats, row-major, aliases neither (it is a fresh buffer), and is read only when
    // `accumulate` (gemm's `read_dst`), when the caller has filled it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            accumulate,
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

/// [`gemm_into`] by the SIMD128 register tiles, the last `n % 4` columns summed one by one.
#[cfg(any(target_arch = "wasm32", test))]
fn simd128_into(out: &mut [MaybeUninit<f32>], n: usize, a: Matrix, b: Matrix, k: usize, accumulate: bool) {
    if !accumulate {
        out.fill(MaybeUninit::new(0.0));
    }
    // SAFETY: `out` holds floats: the caller's when accumulating, the zeros above otherwise.
    let out = unsafe { assume_init(out) };
    simd128::product(out, n, a, b, k);
    let whole = n - n % simd128::NARROWEST;
    for (i, row) in out.chunks_exact_mut(n).enumerate() {
        for (j, o) in row.iter_mut().enumerate().skip(whole) {
            *o += (0..k)
                .map(|kk| {
                    a.values[i * a.row_stride + kk * a.col_stride] * b.values[kk * b.row_stride + j * b.col_stride]
                })
                .sum::<f32>();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Rng, Stream};
    use burn::module::Param;
    use burn::tensor::Device;
    use burn::tensor::TensorData;

    fn random(rng: &mut Rng, shape: [usize; 2], device: &Device) -> Tensor<2> {
        let values = rng::normals(rng, shape[0] * shape[1]);
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// The fused operation against burn's `Linear` (and SiLU), value and every gradient, for
    /// products on one core and split across two, with a transposed (non-contiguous) input.
    #[test]
    fn fused_linear_matches_burns_value_and_gradients() {
        let device = Device::flex().autodiff();
        let mut rng = rng::seeded(7, Stream::Eval, 0);
        let shapes = [(5, 3, 4), (256, 128, 128), (257, 65, 33)];
        let cases = shapes
            .into_iter()
            .flat_map(|s| [(s, false, false), (s, true, false), (s, false, true)]);
        for ((rows, d_in, d_out), transposed, silu) in cases {
            {
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
                    let y = match (fused, silu) {
                        (true, false) => apply(&layer, x.clone()),
                        (true, true) => apply_silu(&layer, x.clone()),
                        (false, false) => layer.forward(x.clone()),
                        (false, true) => burn::tensor::activation::silu(layer.forward(x.clone())),
                    };
                    let grads = (y.clone() * upstream.clone()).sum().backward();
                    let flat = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
                    let bias_grad = layer.bias.as_ref().unwrap().grad(&grads).unwrap();
                    (
                        flat(y),
                        flat(x.grad(&grads).unwrap()),
                        flat(layer.weight.grad(&grads).unwrap()),
                        bias_grad.into_data().try_to_vec::<f32>().unwrap(),
                    )
                };
                let (fused, reference) = (run(true), run(false));
                let close = |a: &[f32], b: &[f32], what: &str| {
                    assert_eq!(a.len(), b.len());
                    for (a, b) in a.iter().zip(b) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{what} ({rows}×{d_in}→{d_out}, silu {silu}): {a} vs {b}"
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

    /// The browser's register tiles (here on plain arrays) against gemm, for the three products
    /// of a layer (x·W, g·Wᵀ, xᵀ·g), rows and columns past whole tiles, written and accumulated.
    #[test]
    fn simd128_tiles_match_gemm() {
        let mut rng = rng::seeded(11, Stream::Eval, 0);
        for (m, k, n) in [
            (256, 128, 128),
            (7, 3, 8),
            (5, 128, 13),
            (1, 1, 9),
            (13, 64, 32),
            (3, 5, 30),
            (6, 7, 4),
        ] {
            let a = rng::normals(&mut rng, m * k);
            let b = rng::normals(&mut rng, k * n);
            let start = rng::normals(&mut rng, m * n);
            let factors = [
                (Matrix::row_major(&a, k), Matrix::row_major(&b, n)),
                (Matrix::transposed(&a, m), Matrix::transposed(&b, k)),
            ];
            for ((a, b), accumulate) in factors.into_iter().flat_map(|f| [(f, false), (f, true)]) {
                let product = |tiles: bool| {
                    let mut out = start.clone();
                    let target = as_uninit(&mut out);
                    if tiles {
                        simd128_into(target, n, a, b, k, accumulate);
                    } else {
                        gemm_into(target, n, a, b, k, accumulate);
                    }
                    out
                };
                let worst = (product(true).iter().zip(&product(false)))
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max);
                assert!(worst < 1e-3, "{m}×{k}×{n}, accumulate {accumulate}: {worst}");
            }
        }
    }
}
