//! `lowdim-perturbation`: a synthetic analogue of single-cell perturbation responses in D = 2..32
//! dimensions. A base cell population (a 3-component GMM) is shifted and rescaled by a descriptor
//! vector through a fixed random smooth map; descriptors near the training cloud are held out for
//! interpolation, descriptors beyond it for extrapolation. Everything is fixed by the data seed.

use super::{Condition, Points, Split};
use crate::rng::{self, Rng, Stream, normal, normals};

pub const DESCRIPTOR_DIM: usize = 4;
const HIDDEN: usize = 16;
const BASE_MODES: usize = 3;
const TRAIN: usize = 24;
const INTERP: usize = 6;
const EXTRAP: usize = 6;

#[derive(Clone, Debug)]
pub struct LowDim {
    dim: usize,
    /// Base population: mode means (BASE_MODES × dim), isotropic std 0.5.
    means: Vec<f32>,
    /// Shift map dim ← HIDDEN ← DESCRIPTOR_DIM, and a per-dimension log-scale map.
    w_in: Vec<f32>,
    w_shift: Vec<f32>,
    w_scale: Vec<f32>,
    conditions: Vec<Condition>,
}

impl LowDim {
    pub fn new(dim: usize, data_seed: u64) -> Self {
        let mut r = rng::seeded(data_seed, Stream::Layout, dim as u64);
        let means = normals(&mut r, BASE_MODES * dim).iter().map(|x| 2.0 * x).collect();
        let w_in = normals(&mut r, HIDDEN * DESCRIPTOR_DIM);
        let w_shift = normals(&mut r, dim * HIDDEN)
            .iter()
            .map(|x| 1.5 * x / (HIDDEN as f32).sqrt())
            .collect();
        let w_scale = normals(&mut r, dim * DESCRIPTOR_DIM).iter().map(|x| 0.3 * x).collect();
        let mut conditions = Vec::new();
        let mut draw = |count: usize, lo: f32, hi: f32, split: Split, r: &mut Rng| {
            for i in 0..count {
                let c = random_direction(r)
                    .iter()
                    .map(|x| x * (lo + (hi - lo) * rng::uniform(r)))
                    .collect();
                conditions.push(Condition {
                    descriptor: c,
                    split,
                    label: format!("{} {}", split.name(), i + 1),
                });
            }
        };
        // Train descriptors lie in the shell 0.5 ≤ |c| ≤ 1.2; interpolation inside it, extrapolation beyond.
        draw(TRAIN, 0.5, 1.2, Split::Train, &mut r);
        draw(INTERP, 0.6, 1.0, Split::Interpolation, &mut r);
        draw(EXTRAP, 1.6, 2.0, Split::Extrapolation, &mut r);
        Self {
            dim,
            means,
            w_in,
            w_shift,
            w_scale,
            conditions,
        }
    }

    pub fn conditions(&self) -> Vec<Condition> {
        self.conditions.clone()
    }

    pub fn sample(&self, c: &[f32], n: usize, rng: &mut Rng) -> Points {
        let d = self.dim;
        let hidden: Vec<f32> = (0..HIDDEN)
            .map(|h| dot(&self.w_in[h * DESCRIPTOR_DIM..][..DESCRIPTOR_DIM], c).tanh())
            .collect();
        let shift: Vec<f32> = (0..d)
            .map(|j| dot(&self.w_shift[j * HIDDEN..][..HIDDEN], &hidden))
            .collect();
        let scale: Vec<f32> = (0..d)
            .map(|j| {
                dot(&self.w_scale[j * DESCRIPTOR_DIM..][..DESCRIPTOR_DIM], c)
                    .tanh()
                    .exp()
            })
            .collect();
        let mut data = Vec::with_capacity(n * d);
        for _ in 0..n {
            let k = rng::index(rng, BASE_MODES);
            for j in 0..d {
                let base = self.means[k * d + j] + 0.5 * normal(rng);
                data.push(base * scale[j] + shift[j]);
            }
        }
        Points::new(d, data)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn random_direction(r: &mut Rng) -> Vec<f32> {
    let v = normals(r, DESCRIPTOR_DIM);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}
