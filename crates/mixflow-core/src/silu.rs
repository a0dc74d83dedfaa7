//! SiLU, x·σ(x), the activation of every MLP here, as slice kernels with an exp that vectorises
//! (no libm call; in AVX-512 intrinsics, or compiled for AVX2 and FMA, where the CPU has them;
//! four lanes of SIMD128 in the browser build): the fused sampler and the
//! fused linear layers (`src/linear.rs`) call them on their own buffers, forward and backward.
//! burn's own `activation::silu` is `x * sigmoid(x)`: on Flex a branch and a scalar `expf` per
//! element, a second pass for the product, and under autodiff the sigmoid computed again in the
//! backward pass; in the profile of the reference training step that was half its time
//! (docs/PERFORMANCE.md).
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: SIMD intrinsics of the
// vectorised SiLU, each block with its SAFETY comment.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

/// SiLU in place: x / (1 + e^-x).
pub fn forward(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: each set is used only where the CPU has it.
    unsafe {
        if avx512::available() {
            return avx512::forward(values);
        } else if avx2::available() {
            return avx2::forward(values);
        }
    }
    #[cfg(target_arch = "wasm32")]
    return four::forward(values);
    #[cfg(not(target_arch = "wasm32"))]
    forward_lanes(values)
}

/// SiLU of `z` written into `y` (as long as `z`, holding anything before), and σ(z) in place of
/// `z`: the training pass keeps σ(z) for [`backward`], which then needs no exp or division of its
/// own (B1 ×1.03 natively: docs/PERFORMANCE.md).
pub fn forward_keeping_sigmoid(z: &mut [f32], y: &mut [MaybeUninit<f32>]) {
    assert_eq!(z.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: each set is used only where the CPU has it.
    unsafe {
        if avx512::available() {
            return avx512::forward_keeping_sigmoid(z, y);
        } else if avx2::available() {
            return avx2::forward_keeping_sigmoid(z, y);
        }
    }
    #[cfg(target_arch = "wasm32")]
    return four::forward_keeping_sigmoid(z, y);
    #[cfg(not(target_arch = "wasm32"))]
    forward_keeping_sigmoid_lanes(z, y)
}

/// The gradient through SiLU, in place of `grad`, from s = σ(z) and the output y = z s:
/// SiLU'(z) = s (1 + z (1 − s)) = s + y (1 − s).
pub fn backward(s: &[f32], y: &[f32], grad: &mut [f32]) {
    assert!(s.len() == grad.len() && y.len() == grad.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the set is used only where the CPU has it.
    unsafe {
        if avx2::available() {
            return avx2::backward(s, y, grad);
        }
    }
    #[cfg(target_arch = "wasm32")]
    return four::backward(s, y, grad);
    #[cfg(not(target_arch = "wasm32"))]
    backward_lanes(s, y, grad)
}

#[inline(always)]
fn forward_lanes(values: &mut [f32]) {
    for x in values {
        *x /= 1.0 + exp(-*x);
    }
}

#[inline(always)]
fn forward_keeping_sigmoid_lanes(z: &mut [f32], y: &mut [MaybeUninit<f32>]) {
    for (y, z) in y.iter_mut().zip(z) {
        let s = 1.0 / (1.0 + exp(-*z));
        y.write(*z * s);
        *z = s;
    }
}

#[inline(always)]
fn backward_lanes(s: &[f32], y: &[f32], grad: &mut [f32]) {
    for ((g, &s), &y) in grad.iter_mut().zip(s).zip(y) {
        *g *= s + y * (1.0 - s);
    }
}

/// The portable loops compiled for AVX2 and FMA: LLVM vectorises them to eight lanes.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    pub fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// # Safety
    /// The CPU must have the features ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn forward(values: &mut [f32]) {
        super::forward_lanes(values)
    }

    /// # Safety
    /// The CPU must have the features ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn forward_keeping_sigmoid(z: &mut [f32], y: &mut [std::mem::MaybeUninit<f32>]) {
        super::forward_keeping_sigmoid_lanes(z, y)
    }

    /// Three loads, a store and three flops per element, with no exp: eight lanes suffice, and
    /// AVX-512 machines take this one too.
    ///
    /// # Safety
    /// The CPU must have the features ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward(s: &[f32], y: &[f32], grad: &mut [f32]) {
        super::backward_lanes(s, y, grad)
    }
}

/// SiLU in AVX-512, sixteen lanes at a time: the portable loops' exp (with fused multiply-adds),
/// and 1 / (1 + e^-x) as a 14-bit reciprocal estimate refined by one Newton step, to within a
/// few ulp of the division. vdivps is the one instruction here that does not pipeline: in the
/// sampler's profile (B3) it was two thirds of SiLU's time.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    const LANES: usize = 16;

    pub fn available() -> bool {
        is_x86_feature_detected!("avx512f")
    }

    /// # Safety
    /// The CPU must have AVX-512F ([`available`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn forward(values: &mut [f32]) {
        let p = values.as_mut_ptr();
        // SAFETY: reads and writes stay inside `values`; the output of a lane is written after its input is read.
        unsafe { map(p, p, values.len(), |x| _mm512_mul_ps(x, sigmoid(x))) }
    }

    /// # Safety
    /// The CPU must have AVX-512F ([`available`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn forward_keeping_sigmoid(z: &mut [f32], y: &mut [MaybeUninit<f32>]) {
        assert_eq!(z.len(), y.len());
        let (n, z, y) = (z.len(), z.as_mut_ptr(), y.as_mut_ptr().cast::<f32>());
        let mut i = 0;
        // SAFETY: every access is below n, the length of both slices; the tail is masked to it.
        unsafe {
            while i + LANES <= n {
                let x = _mm512_loadu_ps(z.add(i));
                let s = sigmoid(x);
                _mm512_storeu_ps(y.add(i), _mm512_mul_ps(x, s));
                _mm512_storeu_ps(z.add(i), s);
                i += LANES;
            }
            if i < n {
                let mask: __mmask16 = (1u16 << (n - i)) - 1;
                let x = _mm512_maskz_loadu_ps(mask, z.add(i));
                let s = sigmoid(x);
                _mm512_mask_storeu_ps(y.add(i), mask, _mm512_mul_ps(x, s));
                _mm512_mask_storeu_ps(z.add(i), mask, s);
            }
        }
    }

    /// out[i] = f(a[i]) for i < n, sixteen at a time, the tail under a mask.
    ///
    /// # Safety
    /// `a` must be readable and `out` writable for `n` floats; `out` may be `a`.
    #[target_feature(enable = "avx512f")]
    unsafe fn map(a: *const f32, out: *mut f32, n: usize, f: impl Fn(__m512) -> __m512) {
        let mut i = 0;
        // SAFETY: every access is below n (the caller's bound); the tail is masked to it.
        unsafe {
            while i + LANES <= n {
                _mm512_storeu_ps(out.add(i), f(_mm512_loadu_ps(a.add(i))));
                i += LANES;
            }
            if i < n {
                let mask: __mmask16 = (1u16 << (n - i)) - 1;
                _mm512_mask_storeu_ps(out.add(i), mask, f(_mm512_maskz_loadu_ps(mask, a.add(i))));
            }
        }
    }

    /// 1 / (1 + e^-x).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sigmoid(x: __m512) -> __m512 {
        let d = _mm512_add_ps(_mm512_set1_ps(1.0), exp(_mm512_sub_ps(_mm512_setzero_ps(), x)));
        let r = _mm512_rcp14_ps(d);
        // r (2 - d r): the Newton step squares the estimate's relative error (below 2^-14).
        _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0)))
    }

    /// [`super::exp`], lane by lane.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp(x: __m512) -> __m512 {
        use super::{EXP_POLY, LN2_HI, LN2_LO, ROUND};
        let c = _mm512_set1_ps;
        // The constant first: max and min return their second operand for NaN, so NaN stays NaN.
        let x = _mm512_min_ps(c(88.0), _mm512_max_ps(c(-87.0), x));
        let rounded = _mm512_fmadd_ps(x, c(std::f32::consts::LOG2_E), c(ROUND));
        let k = _mm512_sub_ps(rounded, c(ROUND));
        let r = _mm512_fnmadd_ps(k, c(LN2_HI), x);
        let r = _mm512_fnmadd_ps(k, c(LN2_LO), r);
        let mut p = c(EXP_POLY[0]);
        for coefficient in &EXP_POLY[1..] {
            p = _mm512_fmadd_ps(p, r, c(*coefficient));
        }
        let e_r = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, c(1.0)));
        let k_bits = _mm512_sub_epi32(_mm512_castps_si512(rounded), _mm512_set1_epi32(ROUND.to_bits() as i32));
        let scale = _mm512_slli_epi32::<23>(_mm512_add_epi32(k_bits, _mm512_set1_epi32(127)));
        _mm512_mul_ps(_mm512_castsi512_ps(scale), e_r)
    }
}

/// The three loops four lanes at a time ([`F32x4`](crate::f32x4::F32x4): SIMD128 in the browser
/// build, where LLVM leaves the portable loops scalar; plain arrays in the native tests), the
/// tail by the portable loops. The same exp and the same division as those.
#[cfg(any(target_arch = "wasm32", test))]
mod four {
    use crate::f32x4::{F32x4, LANES};
    use std::mem::MaybeUninit;

    pub fn forward(values: &mut [f32]) {
        let p = values.as_mut_ptr();
        // SAFETY: reads and writes stay inside `values`; a lane is written after it is read.
        let done = unsafe { map(p, values.len(), |x| x / (F32x4::splat(1.0) + exp(zero() - x))) };
        super::forward_lanes(&mut values[done..]);
    }

    pub fn forward_keeping_sigmoid(z: &mut [f32], y: &mut [MaybeUninit<f32>]) {
        assert_eq!(z.len(), y.len());
        let one = F32x4::splat(1.0);
        let whole = z.len() - z.len() % LANES;
        let (p, out) = (z.as_mut_ptr(), y.as_mut_ptr().cast::<f32>());
        for i in (0..whole).step_by(LANES) {
            // SAFETY: i + LANES ≤ the length of both slices.
            unsafe {
                let x = F32x4::load(p.add(i));
                let s = one / (one + exp(zero() - x));
                (x * s).store(out.add(i));
                s.store(p.add(i));
            }
        }
        super::forward_keeping_sigmoid_lanes(&mut z[whole..], &mut y[whole..]);
    }

    pub fn backward(s: &[f32], y: &[f32], grad: &mut [f32]) {
        let one = F32x4::splat(1.0);
        let whole = grad.len() - grad.len() % LANES;
        let g = grad.as_mut_ptr();
        for i in (0..whole).step_by(LANES) {
            // SAFETY: i + LANES ≤ the length of the three slices (the caller's assertion).
            unsafe {
                let (s, y) = (F32x4::load(s.as_ptr().add(i)), F32x4::load(y.as_ptr().add(i)));
                (F32x4::load(g.add(i)) * (s + y * (one - s))).store(g.add(i));
            }
        }
        super::backward_lanes(&s[whole..], &y[whole..], &mut grad[whole..]);
    }

    fn zero() -> F32x4 {
        F32x4::splat(0.0)
    }

    /// p[i] = f(p[i]) for the whole vectors below n; returns how many were done.
    ///
    /// # Safety
    /// `p` must be readable and writable for `n` floats.
    #[inline(always)]
    unsafe fn map(p: *mut f32, n: usize, f: impl Fn(F32x4) -> F32x4) -> usize {
        let whole = n - n % LANES;
        for i in (0..whole).step_by(LANES) {
            // SAFETY: i + LANES ≤ n, the caller's bound.
            unsafe { f(F32x4::load(p.add(i))).store(p.add(i)) };
        }
        whole
    }

    /// [`super::exp`], lane by lane.
    #[inline(always)]
    fn exp(x: F32x4) -> F32x4 {
        use super::{EXP_POLY, LN2_HI, LN2_LO, ROUND};
        let c = F32x4::splat;
        let x = x.clamp(-87.0, 88.0);
        let rounded = x * c(std::f32::consts::LOG2_E) + c(ROUND);
        let k = rounded - c(ROUND);
        let r = x - k * c(LN2_HI) - k * c(LN2_LO);
        let mut p = c(EXP_POLY[0]);
        for coefficient in &EXP_POLY[1..] {
            p = p * r + c(*coefficient);
        }
        let e_r = p * r * r + r + c(1.0);
        let scale = rounded.bits_plus(127 - ROUND.to_bits() as i32).bits_shl(23);
        scale * e_r
    }
}

// The exp of every lane width here: x = k ln2 + r, e^r by Cephes' expf polynomial.
/// ln 2 in two parts, so that k · LN2_HI is exact.
const LN2_HI: f32 = 0.693_359_4;
#[allow(clippy::excessive_precision)] // Cephes' constant as published
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding and subtracting 1.5 · 2^23 rounds to the nearest integer without a libm call.
const ROUND: f32 = 12_582_912.0;
/// e^r ≈ 1 + r + r² p(r): p's coefficients, the highest order first.
#[allow(clippy::excessive_precision)] // Cephes' coefficients as published
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
];

/// e^x to about 1e-7 relative error, written so that LLVM vectorises it (no libm call):
/// x = k ln2 + r with |r| ≤ ln2 / 2, e^r by Cephes' expf polynomial, 2^k through the exponent
/// bits. NaN stays NaN, so a diverged model still shows as one.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * LOG2_E + ROUND;
    let k = rounded - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let [c0, c1, c2, c3, c4, c5] = EXP_POLY;
    let p = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5;
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

    /// The kernels against SiLU and its derivative in f64, over a wide range, on lengths that
    /// leave every remainder of the eight lanes, with a NaN that must stay NaN: the forward pass
    /// in place and the training pass that keeps σ(z), and the gradient from σ(z) and the output.
    #[test]
    fn the_kernels_match_silu_and_its_derivative() {
        let mut x = rng::normals(&mut rng::seeded(5, Stream::Eval, 0), 1003);
        x.iter_mut().for_each(|v| *v *= 6.0);
        x[7] = f32::NAN;
        for len in [1, 7, 8, 9, 1003] {
            let x = &x[..len];
            let mut y = x.to_vec();
            forward(&mut y);
            let mut s = x.to_vec();
            let mut written = vec![MaybeUninit::new(f32::INFINITY); len];
            forward_keeping_sigmoid(&mut s, &mut written);
            let y_kept = initialised(&written);
            let mut g = vec![1.0; len];
            backward(&s, &y_kept, &mut g);
            for i in 0..len {
                let sigmoid = 1.0 / (1.0 + (-x[i] as f64).exp());
                let (y_ref, g_ref) = (x[i] as f64 * sigmoid, sigmoid * (1.0 + x[i] as f64 * (1.0 - sigmoid)));
                if x[i].is_nan() {
                    assert!(y[i].is_nan() && y_kept[i].is_nan() && s[i].is_nan() && g[i].is_nan());
                    continue;
                }
                for y in [y[i], y_kept[i]] {
                    assert!(
                        (y as f64 - y_ref).abs() < 1e-5 * (1.0 + y_ref.abs()),
                        "silu({}) = {y}",
                        x[i]
                    );
                }
                assert!((s[i] as f64 - sigmoid).abs() < 1e-6, "σ({}) = {}", x[i], s[i]);
                assert!((g[i] as f64 - g_ref).abs() < 1e-5, "silu'({}) = {}", x[i], g[i]);
            }
        }
    }

    fn initialised(written: &[MaybeUninit<f32>]) -> Vec<f32> {
        // SAFETY: the kernels under test wrote every element.
        written.iter().map(|v| unsafe { v.assume_init() }).collect()
    }

    /// Equal bits, or both NaN.
    fn same(a: &[f32], b: &[f32]) -> bool {
        a.iter()
            .zip(b)
            .all(|(a, b)| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan())
    }

    /// The values the kernels are compared on: normals times 8, with a NaN, two far beyond exp's
    /// clamp and a zero.
    fn wide_values(seed: u64, len: usize) -> Vec<f32> {
        let mut x = rng::normals(&mut rng::seeded(seed, Stream::Eval, 0), len);
        x.iter_mut().for_each(|v| *v *= 8.0);
        (x[3], x[4], x[5], x[6]) = (f32::NAN, 200.0, -200.0, 0.0);
        x
    }

    /// The browser's four-lane loops (here on plain arrays) compute what the portable loops
    /// compute, to the bit (the same operations in the same order; NaN as any NaN), on every
    /// remainder of four.
    #[test]
    fn the_four_lane_loops_agree_with_the_portable_ones_to_the_bit() {
        let x = wide_values(8, 1003);
        for len in [7, 8, 9, 10, 1003] {
            let x = &x[..len];
            let (mut y, mut y_ref) = (x.to_vec(), x.to_vec());
            four::forward(&mut y);
            forward_lanes(&mut y_ref);
            let (mut s, mut s_ref) = (x.to_vec(), x.to_vec());
            let (mut kept, mut kept_ref) = (vec![MaybeUninit::new(0.0); len], vec![MaybeUninit::new(0.0); len]);
            four::forward_keeping_sigmoid(&mut s, &mut kept);
            forward_keeping_sigmoid_lanes(&mut s_ref, &mut kept_ref);
            let (kept, kept_ref) = (initialised(&kept), initialised(&kept_ref));
            let (mut g, mut g_ref) = (vec![0.5; len], vec![0.5; len]);
            four::backward(&s, &kept, &mut g);
            backward_lanes(&s, &kept, &mut g_ref);
            assert!(
                same(&y, &y_ref) && same(&s, &s_ref) && same(&kept, &kept_ref) && same(&g, &g_ref),
                "length {len}"
            );
        }
    }

    /// Each instruction set this CPU has computes what the portable loops compute: AVX2 to the bit
    /// (the same loops), AVX-512 (a reciprocal estimate for the division) to 1e-6, relative where
    /// the value is above 1.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_compiled_set_agrees_with_the_portable_loops() {
        type Kernels = (unsafe fn(&mut [f32]), unsafe fn(&mut [f32], &mut [MaybeUninit<f32>]));
        let x = wide_values(6, 1001);
        let (mut y_ref, mut s_ref) = (x.clone(), x.clone());
        forward_lanes(&mut y_ref);
        let mut kept_ref = vec![MaybeUninit::new(0.0); x.len()];
        forward_keeping_sigmoid_lanes(&mut s_ref, &mut kept_ref);
        let kept_ref = initialised(&kept_ref);
        let sets: [(&str, bool, f32, Kernels); 2] = [
            (
                "avx512",
                avx512::available(),
                1e-6,
                (avx512::forward, avx512::forward_keeping_sigmoid),
            ),
            (
                "avx2",
                avx2::available(),
                0.0,
                (avx2::forward, avx2::forward_keeping_sigmoid),
            ),
        ];
        for (name, _, tolerance, (forward, keeping_sigmoid)) in sets.into_iter().filter(|set| set.1) {
            let (mut y, mut s) = (x.clone(), x.clone());
            let mut kept = vec![MaybeUninit::new(0.0); x.len()];
            // SAFETY: the CPU has the set (filtered above).
            unsafe {
                forward(&mut y);
                keeping_sigmoid(&mut s, &mut kept);
            }
            let close = |a: &[f32], b: &[f32]| {
                a.iter().zip(b).all(|(a, b)| {
                    a.to_bits() == b.to_bits()
                        || (a.is_nan() && b.is_nan())
                        || (a - b).abs() <= tolerance * b.abs().max(1.0)
                })
            };
            assert!(
                close(&y, &y_ref) && close(&s, &s_ref) && close(&initialised(&kept), &kept_ref),
                "{name} differs from the portable loops"
            );
        }
        if avx2::available() {
            let (mut g, mut g_ref) = (vec![0.5; x.len()], vec![0.5; x.len()]);
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { avx2::backward(&s_ref, &kept_ref, &mut g) };
            backward_lanes(&s_ref, &kept_ref, &mut g_ref);
            assert!(same(&g, &g_ref), "avx2's gradient differs from the portable loop's");
        }
    }
}
