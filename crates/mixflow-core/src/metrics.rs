//! The numbers users read (SPEC section 5): exact W2 with its finite-sample floor, MMD² with a
//! multi-bandwidth RBF kernel, energy distance, trajectory curvature and memorisation. All computed on the CPU in
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

/// How much a model's samples copy its finite training set (SPEC section 5).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Memorisation {
    /// The share of samples whose nearest training point is closer than a third of the second
    /// nearest (the ratio test of Gu et al., "On memorization in diffusion models", 2023).
    pub memorised: f64,
    /// Mean distance from a sample to its nearest training point.
    pub to_train: f64,
    /// The same to a held-out set of the training set's size; none when there is none.
    pub to_held_out: Option<f64>,
}

/// The ratio test needs a second nearest point.
pub const MIN_TRAINING_POINTS: usize = 2;

/// [`Memorisation`] of `samples` against the training set (at least
/// [`MIN_TRAINING_POINTS`] points) and an optional held-out set, all in the same units.
pub fn memorisation(samples: &Points, train: &Points, held_out: Option<&Points>) -> Memorisation {
    assert!(
        train.len() >= MIN_TRAINING_POINTS,
        "the ratio test needs two training points"
    );
    let mut memorised = 0usize;
    let mut to_train = 0.0;
    for x in samples.rows() {
        let (first, second) = two_nearest(x, train);
        memorised += usize::from(is_copy(first, second));
        to_train += first;
    }
    let n = samples.len().max(1) as f64;
    let to_held_out = held_out
        .filter(|h| !h.is_empty())
        .map(|h| samples.rows().map(|x| two_nearest(x, h).0).sum::<f64>() / n);
    Memorisation {
        memorised: memorised as f64 / n,
        to_train: to_train / n,
        to_held_out,
    }
}

/// Whether each sample passes the ratio test against `train` (see [`Memorisation::memorised`]).
pub fn memorised_each(samples: &Points, train: &Points) -> Vec<bool> {
    samples
        .rows()
        .map(|x| {
            let (first, second) = two_nearest(x, train);
            is_copy(first, second)
        })
        .collect()
}

/// The ratio test on a sample's two nearest training distances.
fn is_copy(first: f64, second: f64) -> bool {
    first < second / 3.0
}

/// Distances from `x` to its nearest and second nearest row of `set` (infinite when missing).
fn two_nearest(x: &[f32], set: &Points) -> (f64, f64) {
    let (mut first, mut second) = (f64::INFINITY, f64::INFINITY);
    for y in set.rows() {
        let d2: f64 = x.iter().zip(y).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
        if d2 < first {
            (first, second) = (d2, first);
        } else if d2 < second {
            second = d2;
        }
    }
    (first.sqrt(), second.sqrt())
}

/// Mean and (population) standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_test_counts_copies_and_not_points_between_two_training_points() {
        let train = Points::new(2, vec![0.0, 0.0, 4.0, 0.0, 0.0, 4.0]);
        let held_out = Points::new(2, vec![1.0, 1.0]);
        // A copy (0.1 from one point, about 3.9 from the next), a point halfway between two.
        let samples = Points::new(2, vec![0.1, 0.0, 2.0, 0.0]);
        let m = memorisation(&samples, &train, Some(&held_out));
        assert_eq!(m.memorised, 0.5);
        assert!((m.to_train - (0.1 + 2.0) / 2.0).abs() < 1e-6, "{m:?}");
        let to_held_out = ((0.9f64.powi(2) + 1.0).sqrt() + 2.0f64.sqrt()) / 2.0;
        assert!((m.to_held_out.unwrap() - to_held_out).abs() < 1e-6, "{m:?}");
        assert_eq!(memorisation(&samples, &train, None).to_held_out, None);
    }
}
