//! The browser build's matrix products: out += a · b by register tiles of WebAssembly SIMD128,
//! for every product of the training step and of the fused sampler with four output columns or
//! more. b is copied panel by panel (16 columns, then 8, then 4) into a contiguous block of k rows,
//! so a tile's loads of b stream through a few KB of L1 whatever b's strides (Wᵀ of the backward
//! pass is just b with other strides), and a tile of rows × panel is summed in registers, a's
//! elements broadcast one per row. At 256 × 128 × 128 in V8 (docs/PERFORMANCE.md, B6): gemm's
//! SIMD128 kernels 26 GFLOP/s, a 4 × 8 tile read from b in place 28–32, this 2 × 16 tile on a
//! packed panel 39.
//!
//! Baseline SIMD128 has no fused multiply-add: each step is a multiply and an add, which the
//! engines compile to two SSE/AVX instructions on x86 (relaxed SIMD's fused form would refuse
//! to load in browsers without it). Elsewhere the same tiles run on plain arrays ([`F32x4`]),
//! for the tests.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: vector loads and stores
// through raw pointers, each block with its SAFETY comment.
#![allow(unsafe_code)]

use super::Matrix;
use crate::f32x4::{F32x4, LANES};

/// The narrowest panel: products narrower than this, and the last `n % NARROWEST` columns, are
/// the caller's.
pub const NARROWEST: usize = LANES;

/// out [m × n] += a [m × k] · b [k × n] for the first `n - n % NARROWEST` columns; the caller does
/// the rest. a and b may have any strides.
pub fn product(out: &mut [f32], n: usize, a: Matrix, b: Matrix, k: usize) {
    let m = out.len() / n.max(1);
    assert_eq!(out.len(), m * n);
    if m == 0 || n < NARROWEST || k == 0 {
        return;
    }
    let last = |x: Matrix, rows: usize, cols: usize| (rows - 1) * x.row_stride + (cols - 1) * x.col_stride;
    assert!(last(a, m, k) < a.values.len() && last(b, k, n) < b.values.len());
    let mut panel = Vec::with_capacity(k * 4 * LANES);
    let mut col = 0;
    // 2 rows × 16 columns keep 8 sums, 4 vectors of b and a broadcast in V8's 16 vector
    // registers; the narrower panels take more rows for as many sums.
    while n - col >= 4 * LANES {
        panel_product::<2, 4>(out, n, a, pack(&mut panel, b, k, col, 4 * LANES), k, col);
        col += 4 * LANES;
    }
    if n - col >= 2 * LANES {
        panel_product::<4, 2>(out, n, a, pack(&mut panel, b, k, col, 2 * LANES), k, col);
        col += 2 * LANES;
    }
    if n - col >= LANES {
        panel_product::<4, 1>(out, n, a, pack(&mut panel, b, k, col, LANES), k, col);
    }
}

/// Columns col..col + width of b's k rows, row after row, into `panel`.
fn pack<'a>(panel: &'a mut Vec<f32>, b: Matrix, k: usize, col: usize, width: usize) -> &'a [f32] {
    panel.clear();
    for kk in 0..k {
        let row = kk * b.row_stride + col * b.col_stride;
        if b.col_stride == 1 {
            panel.extend_from_slice(&b.values[row..row + width]);
        } else {
            panel.extend((0..width).map(|j| b.values[row + j * b.col_stride]));
        }
    }
    panel
}

/// out's columns col..col + C × LANES += a · panel, R rows at a time, the last rows fewer.
fn panel_product<const R: usize, const C: usize>(
    out: &mut [f32],
    n: usize,
    a: Matrix,
    panel: &[f32],
    k: usize,
    col: usize,
) {
    let m = out.len() / n;
    assert!(panel.len() == k * C * LANES && col + C * LANES <= n);
    let mut row = 0;
    while row < m {
        let rows = R.min(m - row);
        // SAFETY: rows row..row + rows and columns col..col + C × LANES lie inside `out` (the
        // assertion above and `product`'s), a's rows row.. inside a (`product`'s assertion), and
        // the panel holds k rows of C × LANES floats.
        unsafe {
            match rows {
                1 => tile::<1, C>(out, n, a, panel, k, row, col),
                2 => tile::<2, C>(out, n, a, panel, k, row, col),
                3 => tile::<3, C>(out, n, a, panel, k, row, col),
                _ => tile::<R, C>(out, n, a, panel, k, row, col),
            }
        }
        row += rows;
    }
}

/// Rows row0..row0 + R, columns col..col + C × LANES of out += a · panel.
///
/// # Safety
/// Those rows and columns lie inside `out` (of width n), rows row0.. of a inside a, and `panel`
/// holds k rows of C × LANES floats.
// Index loops of constant trip count, which LLVM unrolls whole in the browser build (thin LTO,
// the rest of the module at opt-level "s"), keeping the sums in registers; written with
// iterators (zip, array::from_fn) the loops over C stayed loops, the sums went to the stack, and
// B1 ran at half speed.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn tile<const R: usize, const C: usize>(
    out: &mut [f32],
    n: usize,
    a: Matrix,
    panel: &[f32],
    k: usize,
    row0: usize,
    col: usize,
) {
    // SAFETY: every pointer stays inside its slice, by the caller's contract; v128 loads and
    // stores need no alignment.
    unsafe {
        let o = out.as_mut_ptr().add(row0 * n + col);
        let mut acc = [[F32x4::splat(0.0); C]; R];
        for i in 0..R {
            for c in 0..C {
                acc[i][c] = F32x4::load(o.add(i * n + c * LANES));
            }
        }
        let a_rows = a.values.as_ptr().add(row0 * a.row_stride);
        let mut w = panel.as_ptr();
        for kk in 0..k {
            let mut b = [F32x4::splat(0.0); C];
            for c in 0..C {
                b[c] = F32x4::load(w.add(c * LANES));
            }
            let a_k = a_rows.add(kk * a.col_stride);
            for i in 0..R {
                let x = F32x4::splat(*a_k.add(i * a.row_stride));
                for c in 0..C {
                    acc[i][c] = acc[i][c] + x * b[c];
                }
            }
            w = w.add(C * LANES);
        }
        for i in 0..R {
            for c in 0..C {
                acc[i][c].store(o.add(i * n + c * LANES));
            }
        }
    }
}
