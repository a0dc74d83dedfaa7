//! The browser build's matrix products: out += a · b by register tiles of WebAssembly SIMD128,
//! for every product of the training step and of the fused sampler that has a panel's worth of
//! output columns. gemm's SIMD128 kernels pack both factors on every call and multiply 12 × 4
//! tiles; here a tile of `TILE_ROWS` rows × `PANEL` columns is summed in registers straight from
//! the factors (a row of b is a few vector loads, a of a broadcast per row), which measured
//! 1.6× gemm's throughput at 256 × 128 × 128 in V8 (docs/PERFORMANCE.md, B6).
//!
//! Baseline SIMD128 has no fused multiply-add: each step is a multiply and an add, which the
//! engines compile to two SSE/AVX instructions on x86 (relaxed SIMD's fused form would refuse
//! to load in browsers without it). Elsewhere the same tiles run on plain arrays ([`F32x4`]),
//! for the tests.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: vector loads and stores
// through raw pointers, each block with its SAFETY comment.
#![allow(unsafe_code)]

use super::Matrix;
use crate::f32x4::F32x4;

/// Output columns per tile: two vectors of four lanes.
pub const PANEL: usize = 8;
/// Rows per tile: 8 sums, 2 rows of b and a broadcast leave V8's 16 vector registers room.
const TILE_ROWS: usize = 4;

/// out [m × n] += a [m × k] · b [k × n] for the first `n - n % PANEL` columns; the caller does the
/// rest. b's rows must be contiguous (`col_stride` 1); a may have any strides.
pub fn product(out: &mut [f32], n: usize, a: Matrix, b: Matrix, k: usize) {
    let m = out.len() / n;
    assert!(b.col_stride == 1 && out.len() == m * n);
    let last = |x: Matrix, rows: usize, cols: usize| (rows - 1) * x.row_stride + (cols - 1) * x.col_stride;
    if m == 0 || n < PANEL || k == 0 {
        return;
    }
    assert!(last(a, m, k) < a.values.len() && last(b, k, n) < b.values.len());
    for col in (0..n - n % PANEL).step_by(PANEL) {
        let mut row = 0;
        while row < m {
            let rows = TILE_ROWS.min(m - row);
            // SAFETY: the assertions above keep rows row..row + rows and columns col..col + PANEL
            // inside `out`, and every element of a and b the tile reads inside their slices.
            unsafe {
                match rows {
                    1 => tile::<1>(out, n, a, b, k, row, col),
                    2 => tile::<2>(out, n, a, b, k, row, col),
                    3 => tile::<3>(out, n, a, b, k, row, col),
                    _ => tile::<TILE_ROWS>(out, n, a, b, k, row, col),
                }
            }
            row += rows;
        }
    }
}

/// Rows row0..row0 + R, columns col..col + PANEL of out += a · b.
///
/// # Safety
/// Those rows and columns lie inside `out` (of width n), and rows row0.. of a and the columns
/// col..col + PANEL of b's k rows inside theirs.
#[inline(always)]
unsafe fn tile<const R: usize>(out: &mut [f32], n: usize, a: Matrix, b: Matrix, k: usize, row0: usize, col: usize) {
    // SAFETY: every pointer stays inside its slice, by the caller's contract; v128 loads and
    // stores need no alignment.
    unsafe {
        let o = out.as_mut_ptr().add(row0 * n + col);
        let mut acc = [[F32x4::splat(0.0); 2]; R];
        for (i, acc) in acc.iter_mut().enumerate() {
            *acc = [F32x4::load(o.add(i * n)), F32x4::load(o.add(i * n + 4))];
        }
        let a_rows = a.values.as_ptr().add(row0 * a.row_stride);
        let b_cols = b.values.as_ptr().add(col);
        for kk in 0..k {
            let w = b_cols.add(kk * b.row_stride);
            let (w0, w1) = (F32x4::load(w), F32x4::load(w.add(4)));
            let a_k = a_rows.add(kk * a.col_stride);
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = F32x4::splat(*a_k.add(i * a.row_stride));
                acc[0] = acc[0] + x * w0;
                acc[1] = acc[1] + x * w1;
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            acc[0].store(o.add(i * n));
            acc[1].store(o.add(i * n + 4));
        }
    }
}
