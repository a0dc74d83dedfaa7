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

/// SiLU of `x` written into `y` (as long as `x`), which may hold anything before; returns `y` as
/// the floats it now holds.
pub fn forward_to<'a>(x: &[f32], y: &'a mut [MaybeUninit<f32>]) -> &'a mut [f32] {
    assert_eq!(x.len(), y.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: each set is used only where the CPU has it.
    unsafe {
        if avx512::available() {
            avx512::forward_to(x, y);
        } else if avx2::available() {
            avx2::forward_to(x, y);
        } else {
            forward_to_lanes(x, y);
        }
    }
    #[cfg(target_arch = "wasm32")]
    four::forward_to(x, y);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "wasm32")))]
    forward_to_lanes(x, y);
    // SAFETY: every element of `y` was written just above; MaybeUninit<f32> has f32's layout.
    unsafe { &mut *(y as *mut [MaybeUninit<f32>] as *mut [f32]) }
}

/// The gradient through SiLU, in place of `grad`: grad · σ(x) (1 + x (1 − σ(x))).
pub fn backward(x: &[f32], grad: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: each set is used only where the CPU has it.
    unsafe {
        if avx512::available() {
            return avx512::backward(x, grad);
        } else if avx2::available() {
            return avx2::backward(x, grad);
        }
    }
    #[cfg(target_arch = "wasm32")]
    return four::backward(x, grad);
    #[cfg(not(target_arch = "wasm32"))]
    backward_lanes(x, grad)
}

#[inline(always)]
fn forward_lanes(values: &mut [f32]) {
    for x in values {
        *x /= 1.0 + exp(-*x);
    }
}

#[inline(always)]
fn forward_to_lanes(x: &[f32], y: &mut [MaybeUninit<f32>]) {
    for (y, &x) in y.iter_mut().zip(x) {
        y.write(x / (1.0 + exp(-x)));
    }
}

#[inline(always)]
fn backward_lanes(x: &[f32], grad: &mut [f32]) {
    for (g, &x) in grad.iter_mut().zip(x) {
        let s = 1.0 / (1.0 + exp(-x));
        *g *= s * (1.0 + x * (1.0 - s));
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
    pub unsafe fn forward_to(x: &[f32], y: &mut [std::mem::MaybeUninit<f32>]) {
        super::forward_to_lanes(x, y)
    }

    /// # Safety
    /// The CPU must have the features ([`available`]).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn backward(x: &[f32], grad: &mut [f32]) {
        super::backward_lanes(x, grad)
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
        unsafe { map(p, p, p, values.len(), |x, _| _mm512_mul_ps(x, sigmoid(x))) }
    }

    /// # Safety
    /// The CPU must have AVX-512F ([`available`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn forward_to(x: &[f32], y: &mut [MaybeUninit<f32>]) {
        assert_eq!(x.len(), y.len());
        let (a, out) = (x.as_ptr(), y.as_mut_ptr().cast::<f32>());
        // SAFETY: reads stay inside `x`, writes inside `y`, which is as long.
        unsafe { map(a, a, out, x.len(), |x, _| _mm512_mul_ps(x, sigmoid(x))) }
    }

    /// # Safety
    /// The CPU must have AVX-512F ([`available`]).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn backward(x: &[f32], grad: &mut [f32]) {
        assert_eq!(x.len(), grad.len());
        let one = _mm512_set1_ps(1.0);
        let g = grad.as_mut_ptr();
        // SAFETY: reads stay inside `x` and `grad`, writes inside `grad`, lane by lane.
        unsafe {
            map(x.as_ptr(), g, g, x.len(), |x, g| {
                // grad · s (1 + x (1 - s))
                let s = sigmoid(x);
                let rise = _mm512_fmadd_ps(x, _mm512_sub_ps(one, s), one);
                _mm512_mul_ps(g, _mm512_mul_ps(s, rise))
            })
        }
    }

    /// out[i] = f(a[i], b[i]) for i < n, sixteen at a time, the tail under a mask.
    ///
    /// # Safety
    /// `a` and `b` must be readable and `out` writable for `n` floats; `out` may be `a` or `b`.
    #[target_feature(enable = "avx512f")]
    unsafe fn map(a: *const f32, b: *const f32, out: *mut f32, n: usize, f: impl Fn(__m512, __m512) -> __m512) {
        let mut i = 0;
        // SAFETY: every access is below n (the caller's bound); the tail is masked to it.
        unsafe {
            while i + LANES <= n {
                let y = f(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)));
                _mm512_storeu_ps(out.add(i), y);
                i += LANES;
            }
            if i < n {
                let mask: __mmask16 = (1u16 << (n - i)) - 1;
                let y = f(
                    _mm512_maskz_loadu_ps(mask, a.add(i)),
                    _mm512_maskz_loadu_ps(mask, b.add(i)),
                );
                _mm512_mask_storeu_ps(out.add(i), mask, y);
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
        let done = unsafe { map(p, p, p, values.len(), |x, _| x / (F32x4::splat(1.0) + exp(zero() - x))) };
        super::forward_lanes(&mut values[done..]);
    }

    pub fn forward_to(x: &[f32], y: &mut [MaybeUninit<f32>]) {
        assert_eq!(x.len(), y.len());
        let (a, out) = (x.as_ptr(), y.as_mut_ptr().cast::<f32>());
        // SAFETY: reads stay inside `x`, writes inside `y`, which is as long.
        let done = unsafe { map(a, a, out, x.len(), |x, _| x / (F32x4::splat(1.0) + exp(zero() - x))) };
        super::forward_to_lanes(&x[done..], &mut y[done..]);
    }

    pub fn backward(x: &[f32], grad: &mut [f32]) {
        assert_eq!(x.len(), grad.len());
        let one = F32x4::splat(1.0);
        let g = grad.as_mut_ptr();
        // SAFETY: reads stay inside `x` and `grad`, writes inside `grad`, lane by lane.
        let done = unsafe {
            map(x.as_ptr(), g, g, x.len(), |x, g| {
                let s = one / (one + exp(zero() - x));
                g * (s * (one + x * (one - s)))
            })
        };
        super::backward_lanes(&x[done..], &mut grad[done..]);
    }

    fn zero() -> F32x4 {
        F32x4::splat(0.0)
    }

    /// out[i] = f(a[i], b[i]) for the whole vectors below n; returns how many were done.
    ///
    /// # Safety
    /// `a` and `b` must be readable and `out` writable for `n` floats; `out` may be `a` or `b`.
    #[inline(always)]
    unsafe fn map(a: *const f32, b: *const f32, out: *mut f32, n: usize, f: impl Fn(F32x4, F32x4) -> F32x4) -> usize {
        let whole = n - n % LANES;
        for i in (0..whole).step_by(LANES) {
            // SAFETY: i + LANES ≤ n, the caller's bound.
            unsafe { f(F32x4::load(a.add(i)), F32x4::load(b.add(i))).store(out.add(i)) };
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
    /// leave every remainder of the eight lanes, with a NaN that must stay NaN.
    #[test]
    fn the_kernels_match_silu_and_its_derivative() {
        let mut x = rng::normals(&mut rng::seeded(5, Stream::Eval, 0), 1003);
        x.iter_mut().for_each(|v| *v *= 6.0);
        x[7] = f32::NAN;
        for len in [1, 7, 8, 9, 1003] {
            let x = &x[..len];
            let mut y = x.to_vec();
            forward(&mut y);
            let mut written = vec![MaybeUninit::new(f32::INFINITY); len];
            let y_to = forward_to(x, &mut written);
            assert!(
                y.iter()
                    .zip(y_to.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan())
            );
            let mut g = vec![1.0; len];
            backward(x, &mut g);
            for ((&x, y), g) in x.iter().zip(y).zip(g) {
                let s = 1.0 / (1.0 + (-x as f64).exp());
                let (y_ref, g_ref) = (x as f64 * s, s * (1.0 + x as f64 * (1.0 - s)));
                if x.is_nan() {
                    assert!(y.is_nan() && g.is_nan());
                } else {
                    assert!((y as f64 - y_ref).abs() < 1e-5 * (1.0 + y_ref.abs()), "silu({x}) = {y}");
                    assert!((g as f64 - g_ref).abs() < 1e-5, "silu'({x}) = {g}");
                }
            }
        }
    }
    /// The browser's four-lane loops (here on plain arrays) compute what the portable loops
    /// compute, to the bit (the same operations in the same order; NaN as any NaN), on every
    /// remainder of four.
    #[test]
    fn the_four_lane_loops_agree_with_the_portable_ones_to_the_bit() {
        let mut x = rng::normals(&mut rng::seeded(8, Stream::Eval, 0), 1003);
        x.iter_mut().for_each(|v| *v *= 8.0);
        (x[3], x[4], x[5], x[6]) = (f32::NAN, 200.0, -200.0, 0.0);
        let same = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .all(|(a, b)| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan())
        };
        for len in [3, 4, 5, 1003] {
            let x = &x[..len];
            let (mut y, mut y_ref) = (x.to_vec(), x.to_vec());
            four::forward(&mut y);
            forward_lanes(&mut y_ref);
            let mut written = vec![MaybeUninit::new(f32::INFINITY); len];
            four::forward_to(x, &mut written);
            // SAFETY: forward_to wrote every element.
            let y_to: Vec<f32> = written.iter().map(|v| unsafe { v.assume_init() }).collect();
            let (mut g, mut g_ref) = (vec![0.5; len], vec![0.5; len]);
            four::backward(x, &mut g);
            backward_lanes(x, &mut g_ref);
            assert!(
                same(&y, &y_ref) && same(&y_to, &y_ref) && same(&g, &g_ref),
                "length {len}"
            );
        }
    }

    /// Each instruction set this CPU has computes what the portable loops compute: AVX2 to the bit
    /// (the same loops), AVX-512 (a reciprocal estimate for the division) to 1e-6, relative where
    /// the value is above 1 (the gradient's zero near x = -1.28 is a difference of near terms).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_compiled_set_agrees_with_the_portable_loops() {
        type Kernels = (unsafe fn(&mut [f32]), unsafe fn(&[f32], &mut [f32]));
        let mut x = rng::normals(&mut rng::seeded(6, Stream::Eval, 0), 1001);
        x.iter_mut().for_each(|v| *v *= 8.0);
        x[3] = f32::NAN;
        x[4] = 200.0;
        x[5] = -200.0;
        let (mut y_ref, mut g_ref) = (x.clone(), vec![0.5; x.len()]);
        forward_lanes(&mut y_ref);
        backward_lanes(&x, &mut g_ref);
        let sets: [(&str, bool, f32, Kernels); 2] = [
            ("avx512", avx512::available(), 1e-6, (avx512::forward, avx512::backward)),
            ("avx2", avx2::available(), 0.0, (avx2::forward, avx2::backward)),
        ];
        for (name, _, tolerance, (forward, backward)) in sets.into_iter().filter(|set| set.1) {
            let (mut y, mut g) = (x.clone(), vec![0.5; x.len()]);
            // SAFETY: the CPU has the set (filtered above).
            unsafe {
                forward(&mut y);
                backward(&x, &mut g);
            }
            let close = |a: &[f32], b: &[f32]| {
                a.iter().zip(b).all(|(a, b)| {
                    a.to_bits() == b.to_bits()
                        || (a.is_nan() && b.is_nan())
                        || (a - b).abs() <= tolerance * b.abs().max(1.0)
                })
            };
            assert!(
                close(&y, &y_ref) && close(&g, &g_ref),
                "{name} differs from the portable loops"
            );
        }
    }
}
