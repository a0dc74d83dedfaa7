//! Four f32 lanes, the browser build's vector: WebAssembly SIMD128 there, plain arrays elsewhere,
//! so that the native tests run the very code the browser runs (the SIMD128 matrix tiles of
//! `linear/simd128.rs` and SiLU's four-lane loops). LLVM does not vectorise the portable loops for
//! wasm32 even at opt-level 3 (SiLU's backward pass compiled to scalar f32 operations only), so
//! the browser's hot loops say their lanes themselves.
// Unsafe code is denied in the workspace (Cargo.toml) and allowed here: unaligned vector loads and
// stores through raw pointers, each with its SAFETY comment.
#![allow(unsafe_code)]

use std::ops::{Add, Div, Mul, Sub};

#[cfg(target_arch = "wasm32")]
use core::arch::wasm32 as simd;

/// Four f32 lanes.
#[derive(Clone, Copy)]
pub struct F32x4(
    #[cfg(target_arch = "wasm32")] simd::v128,
    #[cfg(not(target_arch = "wasm32"))] [f32; 4],
);

/// Lanes per vector.
pub const LANES: usize = 4;

#[cfg(target_arch = "wasm32")]
impl F32x4 {
    pub fn splat(x: f32) -> Self {
        Self(simd::f32x4_splat(x))
    }

    /// # Safety
    /// Four floats from `p` are readable.
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: by the caller's contract; v128 loads need no alignment.
        Self(unsafe { simd::v128_load(p.cast()) })
    }

    /// # Safety
    /// Four floats from `p` are writable.
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: by the caller's contract; v128 stores need no alignment.
        unsafe { simd::v128_store(p.cast(), self.0) }
    }

    /// Each lane held to lo..=hi; a NaN lane stays NaN. The "pseudo" minimum and maximum, one
    /// instruction each in V8 (f32x4.min and max take seven or eight on x86 to propagate NaN
    /// from either side; here only the lane's NaN matters, and it is on the side that keeps it).
    pub fn clamp(self, lo: f32, hi: f32) -> Self {
        // pmax(x, lo) = x < lo ? lo : x, pmin(y, hi) = hi < y ? hi : y: NaN compares false.
        let at_least = simd::f32x4_pmax(self.0, simd::f32x4_splat(lo));
        Self(simd::f32x4_pmin(at_least, simd::f32x4_splat(hi)))
    }

    /// Each lane's bits as an i32, plus `n`, read back as f32 bits.
    pub fn bits_plus(self, n: i32) -> Self {
        Self(simd::i32x4_add(self.0, simd::i32x4_splat(n)))
    }

    /// Each lane's bits shifted left by `n`.
    pub fn bits_shl(self, n: u32) -> Self {
        Self(simd::i32x4_shl(self.0, n))
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl F32x4 {
    pub fn splat(x: f32) -> Self {
        Self([x; 4])
    }

    /// # Safety
    /// Four floats from `p` are readable.
    pub unsafe fn load(p: *const f32) -> Self {
        // SAFETY: by the caller's contract.
        Self(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
    }

    /// # Safety
    /// Four floats from `p` are writable.
    pub unsafe fn store(self, p: *mut f32) {
        // SAFETY: by the caller's contract.
        unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0) }
    }

    /// Each lane held to lo..=hi; a NaN lane stays NaN (as SIMD128's pseudo-minimum and maximum).
    pub fn clamp(self, lo: f32, hi: f32) -> Self {
        let clamp = |x: f32| {
            let at_least = if x < lo { lo } else { x };
            if hi < at_least { hi } else { at_least }
        };
        Self(self.0.map(clamp))
    }

    /// Each lane's bits as an i32, plus `n`, read back as f32 bits.
    pub fn bits_plus(self, n: i32) -> Self {
        Self(self.0.map(|x| f32::from_bits(x.to_bits().wrapping_add_signed(n))))
    }

    /// Each lane's bits shifted left by `n`.
    pub fn bits_shl(self, n: u32) -> Self {
        Self(self.0.map(|x| f32::from_bits(x.to_bits() << n)))
    }

    fn lanes(self, other: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Self(std::array::from_fn(|i| f(self.0[i], other.0[i])))
    }
}

/// The four arithmetic operators, lane by lane (each rounded once: baseline SIMD128 has no fused
/// multiply-add).
macro_rules! lane_operator {
    ($trait:ident, $method:ident, $simd:ident, $op:tt) => {
        impl $trait for F32x4 {
            type Output = Self;

            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                #[cfg(target_arch = "wasm32")]
                return Self(simd::$simd(self.0, other.0));
                #[cfg(not(target_arch = "wasm32"))]
                return self.lanes(other, |a, b| a $op b);
            }
        }
    };
}

lane_operator!(Add, add, f32x4_add, +);
lane_operator!(Sub, sub, f32x4_sub, -);
lane_operator!(Mul, mul, f32x4_mul, *);
lane_operator!(Div, div, f32x4_div, /);
