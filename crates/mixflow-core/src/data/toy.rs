//! Unconditional 2D targets (SPEC section 6), each also usable as a source. Definitions follow
//! torchcfm / FFJORD's toy data, scaled to about [-4, 4]².

use super::Points;
use crate::rng::{Rng, normal, uniform};
use std::f32::consts::PI;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toy {
    /// N(0, I): the default source.
    Gaussian,
    EightGaussians,
    Moons,
    Checkerboard,
    Spirals,
    Circles,
    Pinwheel,
    Swissroll,
}

impl Toy {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gaussian" | "normal" => Toy::Gaussian,
            "8gaussians" => Toy::EightGaussians,
            "moons" => Toy::Moons,
            "checkerboard" => Toy::Checkerboard,
            "spirals" => Toy::Spirals,
            "circles" => Toy::Circles,
            "pinwheel" => Toy::Pinwheel,
            "swissroll" => Toy::Swissroll,
            _ => return None,
        })
    }

    pub fn sample(self, n: usize, rng: &mut Rng) -> Points {
        let mut data = Vec::with_capacity(2 * n);
        for i in 0..n {
            let [x, y] = self.point(i, n, rng);
            data.push(x);
            data.push(y);
        }
        Points::new(2, data)
    }

    /// The `i`-th of `n` points (some targets split their points evenly between parts).
    fn point(self, i: usize, n: usize, rng: &mut Rng) -> [f32; 2] {
        match self {
            Toy::Gaussian => [normal(rng), normal(rng)],
            Toy::EightGaussians => {
                // Covariance sqrt(0.1)·I, i.e. std 0.1^(1/4), as torchcfm's sample_8gaussians.
                let k = crate::rng::index(rng, 8) as f32;
                let std = 0.1f32.powf(0.25);
                let a = k * PI / 4.0;
                [5.0 * a.cos() + std * normal(rng), 5.0 * a.sin() + std * normal(rng)]
            }
            Toy::Moons => {
                let [x, y] = moon_point(i < n / 2, rng);
                [x * 3.0 - 1.0, y * 3.0 - 1.0]
            }
            Toy::Checkerboard => {
                // 16 cells of side 2 on [-4,4]²; the 8 cells with even (column + row) are filled.
                let cell = crate::rng::index(rng, 8);
                let row = cell / 2;
                let col = 2 * (cell % 2) + (row % 2);
                [
                    -4.0 + 2.0 * (col as f32 + uniform(rng)),
                    -4.0 + 2.0 * (row as f32 + uniform(rng)),
                ]
            }
            Toy::Spirals => {
                // FFJORD's 2spirals.
                let t = uniform(rng).sqrt() * 540.0 * 2.0 * PI / 360.0;
                let sign = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
                let x = -t.cos() * t + uniform(rng) * 0.5;
                let y = t.sin() * t + uniform(rng) * 0.5;
                [sign * x / 3.0, sign * y / 3.0]
            }
            Toy::Circles => {
                // Two rings (radii 3 and 1.5) with noise, as sklearn's make_circles(factor=0.5)·3.
                let r = if i.is_multiple_of(2) { 3.0 } else { 1.5 };
                let a = uniform(rng) * 2.0 * PI;
                [r * a.cos() + 0.24 * normal(rng), r * a.sin() + 0.24 * normal(rng)]
            }
            Toy::Pinwheel => {
                // FFJORD's pinwheel: 5 arms, radial std 0.3, tangential std 0.1, rate 0.25.
                let arm = crate::rng::index(rng, 5) as f32;
                let fx = 1.0 + 0.3 * normal(rng);
                let fy = 0.1 * normal(rng);
                let angle = arm * 2.0 * PI / 5.0 + 0.25 * fx.exp();
                let (s, c) = angle.sin_cos();
                [2.0 * (c * fx - s * fy), 2.0 * (s * fx + c * fy)]
            }
            Toy::Swissroll => {
                // sklearn's make_swiss_roll (noise 1) projected to its (x, z) plane, / 3.5.
                let t = 1.5 * PI * (1.0 + 2.0 * uniform(rng));
                [(t * t.cos() + normal(rng)) / 3.5, (t * t.sin() + normal(rng)) / 3.5]
            }
        }
    }
}

/// A raw two-moons point before scaling (outer arc when `outer`), noise std 0.2.
pub(super) fn moon_point(outer: bool, rng: &mut Rng) -> [f32; 2] {
    let a = uniform(rng) * PI;
    let (x, y) = if outer {
        (a.cos(), a.sin())
    } else {
        (1.0 - a.cos(), 1.0 - a.sin() - 0.5)
    };
    [x + 0.2 * normal(rng), y + 0.2 * normal(rng)]
}
