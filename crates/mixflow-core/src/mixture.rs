//! A Gaussian mixture with diagonal covariances, on the CPU: MixFlow-OOD's base for one descriptor
//! as the UI draws it and as generation samples it. Hard draws use the Gumbel-max trick, so the
//! soft (Gumbel-softmax) draw with the same noise tends to the hard draw as τ -> 0.

use crate::data::Points;
use crate::rng::{self, Rng};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mixture {
    pub dim: usize,
    /// π_k, summing to 1.
    pub weights: Vec<f32>,
    /// μ_k, K × D row-major.
    pub means: Vec<f32>,
    /// σ_k per dimension, K × D row-major.
    pub sigmas: Vec<f32>,
}

impl Mixture {
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    pub fn mean(&self, k: usize) -> &[f32] {
        &self.means[k * self.dim..(k + 1) * self.dim]
    }

    pub fn sigma(&self, k: usize) -> &[f32] {
        &self.sigmas[k * self.dim..(k + 1) * self.dim]
    }

    /// log p(x) = log Σ_k π_k N(x; μ_k, diag σ_k²), computed stably.
    pub fn log_density(&self, x: &[f32]) -> f64 {
        let terms: Vec<f64> = (0..self.components())
            .map(|k| {
                let mut log = (self.weights[k] as f64).ln();
                for ((&xi, &m), &s) in x.iter().zip(self.mean(k)).zip(self.sigma(k)) {
                    let (s, z) = (s as f64, (xi - m) as f64 / s as f64);
                    log += -0.5 * z * z - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
                }
                log
            })
            .collect();
        let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return max;
        }
        max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
    }

    /// `n` hard draws: component k ~ π (Gumbel-max), then μ_k + σ_k ε. Returns the points and the
    /// component each came from.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> (Points, Vec<usize>) {
        let mut data = Vec::with_capacity(n * self.dim);
        let mut components = Vec::with_capacity(n);
        for _ in 0..n {
            let gumbel = self.gumbel_noise(rng);
            let k = self.hard_choice(&gumbel);
            for (m, s) in self.mean(k).iter().zip(self.sigma(k)) {
                data.push(m + s * rng::normal(rng));
            }
            components.push(k);
        }
        (Points::new(self.dim, data), components)
    }

    pub fn gumbel_noise(&self, rng: &mut Rng) -> Vec<f32> {
        (0..self.components()).map(|_| gumbel(rng)).collect()
    }

    /// argmax_k (log π_k + g_k): a draw from π for Gumbel noise g.
    pub fn hard_choice(&self, gumbel: &[f32]) -> usize {
        (0..self.components())
            .max_by(|&a, &b| {
                let score = |k: usize| self.weights[k].ln() + gumbel[k];
                score(a).total_cmp(&score(b))
            })
            .unwrap_or(0)
    }

    /// The soft draw's component weights softmax((log π + g) / τ).
    pub fn soft_weights(&self, gumbel: &[f32], tau: f32) -> Vec<f32> {
        let scores: Vec<f32> = (0..self.components())
            .map(|k| (self.weights[k].ln() + gumbel[k]) / tau)
            .collect();
        softmax(&scores)
    }
}

/// A standard Gumbel draw -log(-log u).
pub fn gumbel(rng: &mut Rng) -> f32 {
    let u = rng::uniform(rng).clamp(1e-10, 1.0 - 1e-7);
    -(-u.ln()).ln()
}

pub fn softmax(x: &[f32]) -> Vec<f32> {
    let max = x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}
