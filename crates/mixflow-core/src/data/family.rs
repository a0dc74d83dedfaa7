//! Conditional 2D families (SPEC section 6): a descriptor c changes the target smoothly. Each family
//! lists its descriptor grid with train / interpolation / extrapolation splits.

use super::glyphs::{self, LETTERS, UNSEEN};
use super::toy::moon_point;
use super::{Condition, Points, Split};
use crate::rng::{Rng, normal};
use std::f32::consts::PI;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Letters,
    RotatingMoons,
    ShiftingModes,
    RingRadius,
}

/// Angles (degrees) of the rotation families: train [0°, 180°] without the band [75°, 105°];
/// interpolation inside that band; extrapolation [200°, 260°].
const TRAIN_ANGLES: [f32; 10] = [0.0, 15.0, 30.0, 45.0, 60.0, 120.0, 135.0, 150.0, 165.0, 180.0];
const INTERP_ANGLES: [f32; 3] = [75.0, 90.0, 105.0];
const EXTRAP_ANGLES: [f32; 3] = [200.0, 230.0, 260.0];

const MODES: usize = 4;

impl Family {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "letters" => Family::Letters,
            "rotating-moons" => Family::RotatingMoons,
            "shifting-modes" => Family::ShiftingModes,
            "ring-radius" => Family::RingRadius,
            _ => return None,
        })
    }

    pub fn conditions(self) -> Vec<Condition> {
        let mut out = Vec::new();
        match self {
            Family::Letters => {
                for &letter in LETTERS.iter().filter(|&&l| l != UNSEEN) {
                    for (angles, split) in angle_splits() {
                        for &deg in angles {
                            out.push(letter_condition(letter, deg, split));
                        }
                    }
                }
                // A letter never seen in training, at training angles: extrapolation in shape.
                for deg in [0.0, 45.0, 90.0, 135.0, 180.0] {
                    out.push(letter_condition(UNSEEN, deg, Split::Extrapolation));
                }
            }
            Family::RotatingMoons => {
                for (angles, split) in angle_splits() {
                    for &deg in angles {
                        let a = deg.to_radians();
                        out.push(Condition {
                            descriptor: vec![a.cos(), a.sin()],
                            split,
                            label: format!("{deg}°"),
                        });
                    }
                }
            }
            Family::ShiftingModes => {
                let train = (0..=20).map(|i| i as f32 * 0.05).filter(|c| !(0.4..=0.6).contains(c));
                scalar_grid(&mut out, train, [0.45, 0.5, 0.55], [1.1, 1.2, 1.3, 1.4]);
            }
            Family::RingRadius => {
                let train = (0..=10)
                    .map(|i| 1.0 + i as f32 * 0.2)
                    .filter(|c| !(1.7..=2.3).contains(c));
                scalar_grid(&mut out, train, [1.8, 2.0, 2.2], [3.3, 3.6, 4.0]);
            }
        }
        out
    }

    pub fn sample(self, cond: &Condition, n: usize, rng: &mut Rng) -> Points {
        self.sample_descriptor(&cond.descriptor, n, rng)
    }

    pub fn sample_descriptor(self, c: &[f32], n: usize, rng: &mut Rng) -> Points {
        let mut data = Vec::with_capacity(2 * n);
        for i in 0..n {
            let [x, y] = match self {
                Family::Letters => {
                    let k = LETTERS.len();
                    let letter = (0..k)
                        .max_by(|&a, &b| c[a].total_cmp(&c[b]))
                        .map_or('A', |i| LETTERS[i]);
                    rotate(glyphs::point(letter, rng), c[k], c[k + 1])
                }
                Family::RotatingMoons => {
                    // Moons centred on the origin, ×2, then rotated by θ.
                    let [x, y] = moon_point(i < n / 2, rng);
                    rotate([2.0 * (x - 0.5), 2.0 * (y - 0.25)], c[0], c[1])
                }
                Family::ShiftingModes => shifting_mode_point(c[0], rng),
                Family::RingRadius => {
                    let a = crate::rng::uniform(rng) * 2.0 * PI;
                    [c[0] * a.cos() + 0.1 * normal(rng), c[0] * a.sin() + 0.1 * normal(rng)]
                }
            };
            data.push(x);
            data.push(y);
        }
        Points::new(2, data)
    }
}

fn angle_splits() -> [(&'static [f32], Split); 3] {
    [
        (&TRAIN_ANGLES, Split::Train),
        (&INTERP_ANGLES, Split::Interpolation),
        (&EXTRAP_ANGLES, Split::Extrapolation),
    ]
}

fn letter_condition(letter: char, deg: f32, split: Split) -> Condition {
    let mut descriptor: Vec<f32> = LETTERS.iter().map(|&l| if l == letter { 1.0 } else { 0.0 }).collect();
    let a = deg.to_radians();
    descriptor.extend([a.cos(), a.sin()]);
    Condition {
        descriptor,
        split,
        label: format!("{letter} @ {deg}°"),
    }
}

fn scalar_grid(
    out: &mut Vec<Condition>,
    train: impl Iterator<Item = f32>,
    interp: impl IntoIterator<Item = f32>,
    extrap: impl IntoIterator<Item = f32>,
) {
    let mut push = |c: f32, split| {
        out.push(Condition {
            descriptor: vec![c],
            split,
            label: format!("c = {c:.2}"),
        })
    };
    train.for_each(|c| push(c, Split::Train));
    interp.into_iter().for_each(|c| push(c, Split::Interpolation));
    extrap.into_iter().for_each(|c| push(c, Split::Extrapolation));
}

fn rotate([x, y]: [f32; 2], cos: f32, sin: f32) -> [f32; 2] {
    [cos * x - sin * y, sin * x + cos * y]
}

/// A K-mode mixture whose modes turn and spread out as c grows and whose weights shift with c.
fn shifting_mode_point(c: f32, rng: &mut Rng) -> [f32; 2] {
    let logits: Vec<f32> = (0..MODES)
        .map(|k| (2.0 * PI * (k as f32 / MODES as f32 + 0.5 * c)).cos())
        .collect();
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let k = crate::rng::weighted_index(rng, &weights);
    let angle = 2.0 * PI * k as f32 / MODES as f32 + c * PI / 2.0;
    let radius = 1.5 + 1.5 * c;
    [
        radius * angle.cos() + 0.3 * normal(rng),
        radius * angle.sin() + 0.3 * normal(rng),
    ]
}
