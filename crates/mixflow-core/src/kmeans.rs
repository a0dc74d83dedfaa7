//! K-means (k-means++ seeding, then Lloyd iterations) for MixFlow-OOD's base initialisation.

use crate::data::Points;
use crate::rng::{self, Rng};

/// `k` centres of `points` (K × D row-major): the best of `restarts` seedings by inertia, since
/// Lloyd iterations stop in local optima (two centres on one mode, one between two).
pub fn kmeans(points: &Points, k: usize, iterations: usize, restarts: usize, rng: &mut Rng) -> Vec<f32> {
    (0..restarts.max(1))
        .map(|_| {
            let centres = lloyd(points, k, iterations, rng);
            (inertia(points, &centres), centres)
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, centres)| centres)
        .expect("at least one restart")
}

fn dist(p: &[f32], c: &[f32]) -> f32 {
    p.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Sum of squared distances from each point to its nearest centre.
pub fn inertia(points: &Points, centres: &[f32]) -> f32 {
    let d = points.dim;
    points
        .rows()
        .map(|p| {
            centres
                .chunks_exact(d)
                .map(|c| dist(p, c))
                .fold(f32::INFINITY, f32::min)
        })
        .sum()
}

fn lloyd(points: &Points, k: usize, iterations: usize, rng: &mut Rng) -> Vec<f32> {
    let (n, d) = (points.len(), points.dim);
    assert!(n > 0 && k > 0, "k-means needs points and at least one centre");
    // k-means++: each next centre drawn with probability proportional to squared distance.
    let mut centres = points.row(rng::index(rng, n)).to_vec();
    let mut nearest: Vec<f32> = points.rows().map(|p| dist(p, &centres[..d])).collect();
    while centres.len() < k * d {
        let pick = rng::weighted_index(rng, &nearest);
        let c = points.row(pick).to_vec();
        for (i, p) in points.rows().enumerate() {
            nearest[i] = nearest[i].min(dist(p, &c));
        }
        centres.extend(c);
    }
    let mut assign = vec![usize::MAX; n];
    for _ in 0..iterations {
        let mut changed = false;
        for (i, p) in points.rows().enumerate() {
            let nearest = centres
                .chunks_exact(d)
                .map(|c| dist(p, c))
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(c, _)| c);
            changed |= nearest != assign[i];
            assign[i] = nearest;
        }
        // The same assignment gives the same centres, and every later iteration would repeat
        // this one: stopping here returns exactly what the full count would.
        if !changed {
            break;
        }
        let mut sums = vec![0.0f32; k * d];
        let mut counts = vec![0usize; k];
        for (i, p) in points.rows().enumerate() {
            counts[assign[i]] += 1;
            for j in 0..d {
                sums[assign[i] * d + j] += p[j];
            }
        }
        for c in 0..k {
            // An empty cluster keeps its centre.
            if counts[c] > 0 {
                for j in 0..d {
                    centres[c * d + j] = sums[c * d + j] / counts[c] as f32;
                }
            }
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// Three tight, far-apart blobs: the centres are the blobs' means, and a run allowed twenty
    /// times the iterations returns the very same floats (Lloyd stops at its fixed point).
    #[test]
    fn kmeans_finds_separated_blobs_and_stops_at_its_fixed_point() {
        let mut rng = rng::seeded(3, Stream::Eval, 0);
        let means = [[-5.0f32, 0.0], [5.0, 0.0], [0.0, 8.0]];
        let values: Vec<f32> = (0..300)
            .flat_map(|i| {
                let m = means[i % 3];
                [m[0] + 0.1 * rng::normal(&mut rng), m[1] + 0.1 * rng::normal(&mut rng)]
            })
            .collect();
        let points = Points::new(2, values);
        let run = |iterations| kmeans(&points, 3, iterations, 5, &mut rng::seeded(4, Stream::Eval, 0));
        let centres = run(50);
        for m in means {
            let nearest = centres
                .chunks_exact(2)
                .map(|c| dist(&m, c))
                .fold(f32::INFINITY, f32::min);
            assert!(nearest < 0.05 * 0.05, "no centre near {m:?}: {centres:?}");
        }
        assert_eq!(centres, run(1000));
    }
}
