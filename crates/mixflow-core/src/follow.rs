//! One trajectory followed through a chosen point at a chosen time (issue 23): backwards to t = 0
//! and forwards to t = 1 with the same uniform Euler steps the canvas draws its trajectories with,
//! and what the path measures: its length, the straight-line distance between its ends, and its
//! curvature (MixFlow-RF's definition, as [`crate::metrics::curvature`]).
//!
//! Backwards is the exact inverse of the forward steps, not Euler run with a negative step: each
//! step back solves y + h v(y, t) = x for y by fixed-point iteration, so the path found through a
//! point of a drawn trajectory is that trajectory (a test holds it there), not a neighbour that
//! drifts away from it by O(h²) a step.

use crate::data::Points;
use crate::metrics;
use crate::sample::{SampleError, Sampler};

/// Fixed-point iterations of one inverse step give up here (the map contracts when h times the
/// field's Lipschitz constant is below 1; a step of a trained field converges in 5 to 10).
const MAX_ITERATIONS: usize = 60;
/// An inverse step has converged when no coordinate moves more than this (model units).
const TOLERANCE: f32 = 1e-6;

/// A trajectory through one point, in original units.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FollowedPath {
    /// The time of each state: 0, h, 2h, …, 1.
    pub times: Vec<f32>,
    /// The states, one row per time.
    pub states: Points,
    /// The velocity at each state (per unit time).
    pub velocities: Points,
    /// The chosen point and its time; it lies on the segment from state `segment` to the next.
    pub point: Vec<f32>,
    pub t: f32,
    pub segment: usize,
    /// Σ ‖x_{k+1} − x_k‖.
    pub length: f64,
    /// ‖x_1 − x_0‖.
    pub chord: f64,
    /// (1/N) Σ_k (1/D) ‖(x_1 − x_0) − (x_{k+1} − x_k)/h‖²: 0 for a straight path at constant speed.
    pub curvature: f64,
    /// Inverse steps that did not converge (the field is too steep for the step there); the path
    /// is then only near the drawn one.
    pub unconverged: usize,
}

impl FollowedPath {
    /// Length over chord: 1 for a straight path, more as it bends.
    pub fn detour(&self) -> f64 {
        if self.chord > 0.0 {
            self.length / self.chord
        } else {
            f64::INFINITY
        }
    }
}

/// Why a path cannot be followed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FollowError {
    #[error("a point of {got} coordinates, but the data has {expected}")]
    Dim { got: usize, expected: usize },
    #[error("a trajectory is followed at a time in [0, 1] and through a finite point, got t = {0}")]
    NotFinite(f32),
    #[error("the trajectory needs at least one Euler step")]
    NoSteps,
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// The trajectory of `steps` uniform Euler steps that passes through `point` (original units) at
/// time `t`, for `descriptor` on conditional models.
pub fn follow_through(
    sampler: &Sampler,
    descriptor: Option<&[f32]>,
    point: &[f32],
    t: f32,
    steps: usize,
) -> Result<FollowedPath, FollowError> {
    let dim = sampler.dim;
    if point.len() != dim {
        return Err(FollowError::Dim {
            got: point.len(),
            expected: dim,
        });
    }
    if !(0.0..=1.0).contains(&t) || point.iter().any(|x| !x.is_finite()) {
        return Err(FollowError::NotFinite(t));
    }
    if steps == 0 {
        return Err(FollowError::NoSteps);
    }
    let h = 1.0 / steps as f32;
    let time = |k: usize| k as f32 * h;
    // The drawn trajectory is a straight segment between Euler states, so the point lies on the
    // segment that starts at the state before t: x = y + (t − t_k) v(y, t_k).
    let segment = ((t * steps as f32) as usize).min(steps - 1);
    let velocity = |x: &[f32], t: f32| -> Result<Vec<f32>, SampleError> {
        Ok(sampler
            .model_velocity(descriptor, &Points::new(dim, x.to_vec()), t)?
            .data)
    };
    let mut unconverged = 0;
    let mut back = |x: &[f32], t_k: f32, h: f32| -> Result<Vec<f32>, SampleError> {
        let (y, converged) = inverse_step(x, t_k, h, &velocity)?;
        unconverged += usize::from(!converged);
        Ok(y)
    };
    let start = sampler.to_model(&Points::new(dim, point.to_vec())).data;
    let mut states = vec![Vec::new(); steps + 1];
    states[segment] = back(&start, time(segment), t - time(segment))?;
    for k in (0..segment).rev() {
        states[k] = back(&states[k + 1], time(k), h)?;
    }
    let mut velocities = vec![Vec::new(); steps + 1];
    for k in 0..=steps {
        if k > segment {
            states[k] = euler_step(&states[k - 1], &velocities[k - 1], h);
        }
        velocities[k] = velocity(&states[k], time(k))?;
    }
    let to_original = |rows: Vec<Vec<f32>>| sampler.to_original(&Points::new(dim, rows.concat()));
    let states = to_original(states);
    let velocities = sampler.velocity_to_original(Points::new(dim, velocities.concat()));
    let per_state: Vec<Points> = states.rows().map(|r| Points::new(dim, r.to_vec())).collect();
    let distance = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p - q) as f64 * (p - q) as f64)
            .sum::<f64>()
            .sqrt()
    };
    let rows: Vec<&[f32]> = states.rows().collect();
    Ok(FollowedPath {
        times: (0..=steps).map(time).collect(),
        length: rows.windows(2).map(|w| distance(w[0], w[1])).sum(),
        chord: distance(rows[0], rows[steps]),
        curvature: metrics::curvature(&per_state)[0],
        states,
        velocities,
        point: point.to_vec(),
        t,
        segment,
        unconverged,
    })
}

fn euler_step(x: &[f32], v: &[f32], h: f32) -> Vec<f32> {
    x.iter().zip(v).map(|(x, v)| x + h * v).collect()
}

/// The y with y + h v(y, t) = x, by fixed-point iteration from y = x − h v(x, t); and whether it
/// converged.
fn inverse_step(
    x: &[f32],
    t: f32,
    h: f32,
    velocity: &impl Fn(&[f32], f32) -> Result<Vec<f32>, SampleError>,
) -> Result<(Vec<f32>, bool), SampleError> {
    let mut y = x.to_vec();
    for _ in 0..MAX_ITERATIONS {
        let v = velocity(&y, t)?;
        let next = euler_step(x, &v, -h);
        let moved = next.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        y = next;
        if moved <= TOLERANCE {
            return Ok((y, true));
        }
    }
    Ok((y, false))
}
