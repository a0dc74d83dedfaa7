//! The sampler's layers of `width` outputs on x86-64 with AVX2 and FMA: out = input · W + bias
//! for a block of rows, W packed once per advection into panels of 16 output columns. Each
//! 6-row × 16-column tile of the output is summed in twelve registers, starting from the bias,
//! and stored once, so nothing is packed per call and no pass over memory adds the bias (gemm
//! packs both operands on every call, a real cost at 256 × 128 × 128). The panel (8 KB at width
//! 128) stays in L1 while every row tile of the block streams past it.

use std::arch::x86_64::{__m256, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_storeu_ps};

/// Output columns per panel: two 8-float registers.
pub const PANEL: usize = 16;
/// Rows per tile: 6 × 2 accumulators, 2 weight registers and a broadcast fill 15 of the 16.
const TILE_ROWS: usize = 6;

pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// W [d_in × d_out] (row-major) as d_out / PANEL panels, each [d_in × PANEL] row-major.
/// `d_out` must be a multiple of [`PANEL`].
pub fn pack(w: &[f32], d_in: usize, d_out: usize) -> Vec<f32> {
    assert!(d_out.is_multiple_of(PANEL) && w.len() == d_in * d_out);
    let mut packed = Vec::with_capacity(w.len());
    for p in 0..d_out / PANEL {
        for k in 0..d_in {
            packed.extend_from_slice(&w[k * d_out + p * PANEL..][..PANEL]);
        }
    }
    packed
}

/// out [rows × d_out] = input [rows × d_in] · W + bias, W as [`pack`] made it.
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn product(input: &[f32], packed: &[f32], bias: &[f32], out: &mut [f32], d_in: usize, d_out: usize) {
    let rows = out.len() / d_out;
    assert!(
        input.len() >= rows * d_in && packed.len() == d_in * d_out && bias.len() == d_out && out.len() == rows * d_out
    );
    for p in 0..d_out / PANEL {
        let panel = &packed[p * d_in * PANEL..(p + 1) * d_in * PANEL];
        let mut row = 0;
        while row + TILE_ROWS <= rows {
            // SAFETY: the sizes were checked above; the features are this function's.
            unsafe { tile::<TILE_ROWS>(input, row, panel, bias, out, p * PANEL, d_in, d_out) };
            row += TILE_ROWS;
        }
        // SAFETY: as above, for the last rows.
        unsafe {
            match rows - row {
                1 => tile::<1>(input, row, panel, bias, out, p * PANEL, d_in, d_out),
                2 => tile::<2>(input, row, panel, bias, out, p * PANEL, d_in, d_out),
                3 => tile::<3>(input, row, panel, bias, out, p * PANEL, d_in, d_out),
                4 => tile::<4>(input, row, panel, bias, out, p * PANEL, d_in, d_out),
                5 => tile::<5>(input, row, panel, bias, out, p * PANEL, d_in, d_out),
                _ => {}
            }
        }
    }
}

/// Rows row0..row0 + R, columns col..col + PANEL of the output.
///
/// # Safety
/// AVX2 and FMA; input holds rows row0..row0 + R of width d_in, out of width d_out, the panel
/// d_in × PANEL floats and bias the columns from col.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize>(
    input: &[f32],
    row0: usize,
    panel: &[f32],
    bias: &[f32],
    out: &mut [f32],
    col: usize,
    d_in: usize,
    d_out: usize,
) {
    // SAFETY: every pointer below stays inside the slices, by the caller's sizes.
    unsafe {
        let b = bias.as_ptr().add(col);
        let start = [_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))];
        let mut acc: [[__m256; 2]; R] = [start; R];
        let a = input.as_ptr().add(row0 * d_in);
        let w = panel.as_ptr();
        for k in 0..d_in {
            let w0 = _mm256_loadu_ps(w.add(k * PANEL));
            let w1 = _mm256_loadu_ps(w.add(k * PANEL + 8));
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(i * d_in + k));
                acc[0] = _mm256_fmadd_ps(x, w0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, w1, acc[1]);
            }
        }
        let o = out.as_mut_ptr().add(row0 * d_out + col);
        for (i, acc) in acc.iter().enumerate() {
            _mm256_storeu_ps(o.add(i * d_out), acc[0]);
            _mm256_storeu_ps(o.add(i * d_out + 8), acc[1]);
        }
    }
}
