//! The numbers users read (SPEC section 5): exact W2 with its finite-sample floor, MMD² with a
//! multi-bandwidth RBF kernel, energy distance and trajectory curvature. All computed on the CPU in
//! f64 from point sets, in whatever units the caller passes (the engine passes original units).

use crate::coupling::{assignment, sq_cost};
use crate::data::Points;

/// RBF bandwidths γ in k(x, y) = exp(-γ‖x - y‖²) (the CellFlow convention).
pub const MMD_GAMMAS: [f64; 6] = [2.0, 1.0, 0.5, 0.1, 0.01, 0.005];

/// Exact 2-Wasserstein distance between two equal-size sets: sqrt of the mean squared distance
/// under the optimal assignment. Never W2² under this name.
pub fn w2(a: &Points, b: &Points) -> f64 {
    let n = a.len().min(b.len());
    let a = head(a, n);
    let b = head(b, n);
    let perm = assignment(&a, &b);
    let total: f64 = perm
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            a.row(i)
                .iter()
                .zip(b.row(j))
                .map(|(p, q)| (*p as f64 - *q as f64).powi(2))
                .sum::<f64>()
        })
        .sum();
    (total / n.max(1) as f64).sqrt()
}

fn head(p: &Points, n: usize) -> Points {
    Points::new(p.dim, p.data[..n * p.dim].to_vec())
}

/// Biased (V-statistic) MMD², averaged over [`MMD_GAMMAS`].
pub fn mmd2(a: &Points, b: &Points) -> f64 {
    let (aa, bb, ab) = (sq_cost(a, a), sq_cost(b, b), sq_cost(a, b));
    let mean_k = |d: &[f64], g: f64| d.iter().map(|x| (-g * x).exp()).sum::<f64>() / d.len() as f64;
    MMD_GAMMAS
        .iter()
        .map(|&g| mean_k(&aa, g) + mean_k(&bb, g) - 2.0 * mean_k(&ab, g))
        .sum::<f64>()
        / MMD_GAMMAS.len() as f64
}

/// Energy distance 2E‖X - Y‖ - E‖X - X'‖ - E‖Y - Y'‖.
pub fn energy(a: &Points, b: &Points) -> f64 {
    let mean_dist = |x: &Points, y: &Points| {
        let c = sq_cost(x, y);
        c.iter().map(|d| d.sqrt()).sum::<f64>() / c.len() as f64
    };
    2.0 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)
}

/// Per-trajectory curvature (MixFlow-RF's definition) of uniform-step trajectories:
/// C = (1/N) Σ_k (1/D) ‖(x_N - x_0) - (x_{k+1} - x_k)/Δt‖². `states[k]` holds all particles at
/// step k (N + 1 states). Returns one value per particle.
pub fn curvature(states: &[Points]) -> Vec<f64> {
    let n = states.len() - 1;
    assert!(n > 0, "curvature needs at least two states");
    let (dim, particles) = (states[0].dim, states[0].len());
    let dt = 1.0 / n as f64;
    (0..particles)
        .map(|p| {
            let (first, last) = (states[0].row(p), states[n].row(p));
            let mut total = 0.0;
            for k in 0..n {
                let (a, b) = (states[k].row(p), states[k + 1].row(p));
                for d in 0..dim {
                    let chord = last[d] as f64 - first[d] as f64;
                    let step = (b[d] as f64 - a[d] as f64) / dt;
                    total += (chord - step).powi(2);
                }
            }
            total / (n * dim) as f64
        })
        .collect()
}

/// Mean and (population) standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}
