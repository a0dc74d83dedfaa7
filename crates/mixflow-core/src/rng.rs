//! Seeded random streams. Every random draw in the engine comes from here, on the CPU, so a run is
//! reproducible from its seeds alone and identical on every burn backend.

use rand::distr::Distribution;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

pub type Rng = StdRng;

/// Named streams derived from one seed, so that (for example) evaluation draws never shift when
/// training consumes more or fewer numbers.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Data = 1,
    Init = 2,
    Train = 3,
    Eval = 4,
    Reference = 5,
    Floor = 6,
    Layout = 7,
    /// Pictures of training (e.g. one minibatch's pairing), apart from every metric's draws.
    Display = 8,
    /// A finite training set and its held-out twin (`train-n`).
    TrainingSet = 9,
}

/// A generator for `stream` of `seed`, optionally advanced to a `step` (used when resuming).
pub fn seeded(seed: u64, stream: Stream, step: u64) -> Rng {
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((stream as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(step.wrapping_mul(0x94D0_49BB_1331_11EB));
    StdRng::seed_from_u64(mixed)
}

pub fn normal(rng: &mut Rng) -> f32 {
    StandardNormal.sample(rng)
}

pub fn uniform(rng: &mut Rng) -> f32 {
    rng.random::<f32>()
}

/// `n` standard normal numbers.
pub fn normals(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| normal(rng)).collect()
}

pub fn index(rng: &mut Rng, len: usize) -> usize {
    rng.random_range(0..len)
}

/// An index drawn with probability proportional to `weights` (non-negative, not all zero).
pub fn weighted_index(rng: &mut Rng, weights: &[f32]) -> usize {
    let mut u = uniform(rng) * weights.iter().sum::<f32>();
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len() - 1
}
