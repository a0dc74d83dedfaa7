//! The sampler's layers of `width` outputs on x86-64 by register tiles: out = input · W + bias
//! for a block of rows, W packed once per advection into panels of two vector registers' worth
//! of output columns. Each tile of the output (a few rows × one panel) is summed in registers,
//! starting from the bias, and stored once, so nothing is packed per call and no pass over memory
//! adds the bias (gemm packs both operands on every call, a real cost at 256 × 128 × 128). The
//! panel (8 to 16 KB at width 128) stays in L1 while every row tile of the block streams past it.
//!
//! Two instruction sets, one kernel: AVX-512 (16 lanes, where the CPU has it) and AVX2 with FMA
//! (8 lanes). On cores with two 512-bit FMA units (Intel's server cores) AVX-512 does twice the
//! work per cycle; where 512-bit operations are split in two (AMD's Zen 4) it does the same work
//! in fewer instructions.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: SIMD intrinsics of the
// sampler's register-tile kernel, each block with its SAFETY comment.
#![allow(unsafe_code)]

/// The instruction set the sampler's kernel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
}

impl Isa {
    /// The widest this CPU has, if any.
    pub fn detect() -> Option<Isa> {
        if is_x86_feature_detected!("avx512f") {
            Some(Isa::Avx512)
        } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Some(Isa::Avx2)
        } else {
            None
        }
    }

    /// Output columns per panel: two vector registers.
    pub fn panel(self) -> usize {
        match self {
            Isa::Avx512 => avx512::PANEL,
            Isa::Avx2 => avx2::PANEL,
        }
    }

    /// out [rows × d_out] = input [rows × d_in] · W + bias, W as [`pack`] made it for this set.
    ///
    /// # Safety
    /// The CPU must have this instruction set (as [`Isa::detect`] found it).
    pub unsafe fn product(
        self,
        input: &[f32],
        packed: &[f32],
        bias: &[f32],
        out: &mut [f32],
        d_in: usize,
        d_out: usize,
    ) {
        let rows = out.len() / d_out;
        assert!(
            d_out.is_multiple_of(self.panel())
                && input.len() >= rows * d_in
                && packed.len() == d_in * d_out
                && bias.len() == d_out
                && out.len() == rows * d_out
        );
        // SAFETY: the sizes were checked above; the CPU has the set, by the caller's contract.
        unsafe {
            match self {
                Isa::Avx512 => avx512::product(input, packed, bias, out, d_in, d_out),
                Isa::Avx2 => avx2::product(input, packed, bias, out, d_in, d_out),
            }
        }
    }
}

/// W [d_in × d_out] (row-major) as d_out / `panel` panels, each [d_in × panel] row-major.
/// `d_out` must be a multiple of `panel`.
pub fn pack(w: &[f32], d_in: usize, d_out: usize, panel: usize) -> Vec<f32> {
    assert!(d_out.is_multiple_of(panel) && w.len() == d_in * d_out);
    let mut packed = Vec::with_capacity(w.len());
    for p in 0..d_out / panel {
        for k in 0..d_in {
            packed.extend_from_slice(&w[k * d_out + p * panel..][..panel]);
        }
    }
    packed
}

/// The kernel for one instruction set: its vector type, lanes, rows per tile (as many as leave
/// the accumulators, two weight registers and a broadcast in the register file) and intrinsics.
macro_rules! register_tile_kernel {
    ($isa:ident, $features:literal, $vector:ident, $lanes:literal, $tile_rows:literal,
     $load:ident, $splat:ident, $fmadd:ident, $store:ident) => {
        mod $isa {
            use std::arch::x86_64::{$fmadd, $load, $splat, $store, $vector};

            pub const PANEL: usize = 2 * $lanes;
            const TILE_ROWS: usize = $tile_rows;

            /// # Safety
            /// The CPU must have the features; the sizes are [`super::Isa::product`]'s.
            #[target_feature(enable = $features)]
            pub unsafe fn product(
                input: &[f32],
                packed: &[f32],
                bias: &[f32],
                out: &mut [f32],
                d_in: usize,
                d_out: usize,
            ) {
                let rows = out.len() / d_out;
                for p in 0..d_out / PANEL {
                    let panel = &packed[p * d_in * PANEL..(p + 1) * d_in * PANEL];
                    let mut row = 0;
                    while row < rows {
                        let r = TILE_ROWS.min(rows - row);
                        // SAFETY: the caller checked the sizes; the features are this function's.
                        unsafe { tile_of(r, input, row, panel, bias, out, p * PANEL, d_in, d_out) };
                        row += r;
                    }
                }
            }

            /// [`tile`] for `r` (1 to 8) rows.
            ///
            /// # Safety
            /// As [`tile`]'s.
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn tile_of(
                r: usize,
                input: &[f32],
                row: usize,
                panel: &[f32],
                bias: &[f32],
                out: &mut [f32],
                col: usize,
                d_in: usize,
                d_out: usize,
            ) {
                // SAFETY: passed on from the caller.
                unsafe {
                    match r {
                        1 => tile::<1>(input, row, panel, bias, out, col, d_in, d_out),
                        2 => tile::<2>(input, row, panel, bias, out, col, d_in, d_out),
                        3 => tile::<3>(input, row, panel, bias, out, col, d_in, d_out),
                        4 => tile::<4>(input, row, panel, bias, out, col, d_in, d_out),
                        5 => tile::<5>(input, row, panel, bias, out, col, d_in, d_out),
                        6 => tile::<6>(input, row, panel, bias, out, col, d_in, d_out),
                        7 => tile::<7>(input, row, panel, bias, out, col, d_in, d_out),
                        8 => tile::<8>(input, row, panel, bias, out, col, d_in, d_out),
                        _ => unreachable!("tiles have 1 to 8 rows"),
                    }
                }
            }

            /// Rows row0..row0 + R, columns col..col + PANEL of the output.
            ///
            /// # Safety
            /// The features; input holds rows row0..row0 + R of width d_in, out of width d_out,
            /// the panel d_in × PANEL floats and bias the columns from col.
            #[target_feature(enable = $features)]
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
                    let start = [$load(b), $load(b.add($lanes))];
                    let mut acc: [[$vector; 2]; R] = [start; R];
                    let a = input.as_ptr().add(row0 * d_in);
                    let w = panel.as_ptr();
                    for k in 0..d_in {
                        let w0 = $load(w.add(k * PANEL));
                        let w1 = $load(w.add(k * PANEL + $lanes));
                        for (i, acc) in acc.iter_mut().enumerate() {
                            let x = $splat(*a.add(i * d_in + k));
                            acc[0] = $fmadd(x, w0, acc[0]);
                            acc[1] = $fmadd(x, w1, acc[1]);
                        }
                    }
                    let o = out.as_mut_ptr().add(row0 * d_out + col);
                    for (i, acc) in acc.iter().enumerate() {
                        $store(o.add(i * d_out), acc[0]);
                        $store(o.add(i * d_out + $lanes), acc[1]);
                    }
                }
            }
        }
    };
}

// 6 rows × 2 accumulators + 2 weights + a broadcast: 15 of AVX2's 16 registers.
register_tile_kernel!(
    avx2,
    "avx2,fma",
    __m256,
    8,
    6,
    _mm256_loadu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_storeu_ps
);
// 8 rows × 2 accumulators + 2 weights + a broadcast: 19 of AVX-512's 32 registers, and 16
// independent sums, enough to keep two FMA units busy through their latency.
register_tile_kernel!(
    avx512,
    "avx512f",
    __m512,
    16,
    8,
    _mm512_loadu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_storeu_ps
);
