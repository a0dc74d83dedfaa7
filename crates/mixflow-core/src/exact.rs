//! The exact empirical velocity field u* of a finite training set (SPEC section 5, after Bertrand,
//! Gagneux, Massias and Emonet, NeurIPS 2025, arXiv 2506.03719). When the data is n points
//! y_1..y_n, the flow-matching loss under the linear path x_t = (1 − t) x0 + t x1 from
//! x0 ~ N(0, I) has a closed-form minimiser, and following it from noise reproduces the training
//! points: the memorising solution. A network generalises where it fails to fit it, so the gap
//! between the two, by time, says where generalisation comes from. Everything here works in the
//! model's space (where the source is N(0, I)), on the CPU, in f64; the networks come in as
//! closures, so the samplers mix the two fields freely (the hybrid of the paper).

use crate::data::Points;
use crate::rng::{self, Rng};
use crate::sample::SampleError;

/// Why the exact field or a sampler built on it cannot run as asked.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ExactError {
    #[error("the exact field needs a training set of at least one point")]
    NoPoints,
    #[error("the exact field is defined for 0 ≤ t < 1 (it divides by 1 − t), got t = {0}")]
    Time(f64),
    #[error("the hybrid's switch time τ must lie in [0, 1], got {0}")]
    Tau(f64),
    #[error("points of dimension {got} against a training set of dimension {expected}")]
    Dim { got: usize, expected: usize },
    #[error("the ODE needs at least one step")]
    NoSteps,
    #[error(
        "this run draws fresh data at every step, so there is no exact field: set train-n for a finite training set"
    )]
    NoTrainingSet,
    /// The learned field (the network) failed: a diverged model, say.
    #[error("the learned field: {0}")]
    Learned(#[from] SampleError),
}

/// A velocity field the samplers follow: velocities at (points, t), in model space.
pub type Field<'a> = dyn FnMut(&Points, f64) -> Result<Points, ExactError> + 'a;

/// u* of one training set (one descriptor's, for conditional data).
#[derive(Clone, Debug)]
pub struct EmpiricalField {
    dim: usize,
    /// The training points, row-major.
    points: Vec<f64>,
}

impl EmpiricalField {
    pub fn new(train: &Points) -> Result<Self, ExactError> {
        if train.is_empty() {
            return Err(ExactError::NoPoints);
        }
        Ok(Self {
            dim: train.dim,
            points: train.data.iter().map(|&v| v as f64).collect(),
        })
    }

    /// Training points.
    pub fn len(&self) -> usize {
        self.points.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// u*(x, t) for every row of `x`.
    pub fn velocity(&self, x: &Points, t: f64) -> Result<Points, ExactError> {
        if !(0.0..1.0).contains(&t) {
            return Err(ExactError::Time(t));
        }
        if x.dim != self.dim {
            return Err(ExactError::Dim {
                got: x.dim,
                expected: self.dim,
            });
        }
        let mut logits = vec![0.0; self.len()];
        let mut v = vec![0.0; self.dim];
        let mut out = Vec::with_capacity(x.data.len());
        for row in x.rows() {
            self.velocity_row(row, t, &mut logits, &mut v);
            out.extend(v.iter().map(|&vk| vk as f32));
        }
        Ok(Points::new(self.dim, out))
    }

    /// u*(x, t) at one point. Given x_t = x, training point i has posterior weight
    /// softmax_i(−||x − t y_i||² / (2 (1 − t)²)), and u* = (Σ_i w_i y_i − x) / (1 − t). The
    /// softmax is taken in log space (less its largest logit): near t = 1 the logits reach −1e8
    /// and more, where plain exponentials are all zero.
    fn velocity_row(&self, x: &[f32], t: f64, logits: &mut [f64], v: &mut [f64]) {
        let left = 1.0 - t;
        let scale = -0.5 / (left * left);
        let mut largest = f64::NEG_INFINITY;
        for (logit, y) in logits.iter_mut().zip(self.points.chunks_exact(self.dim)) {
            let d2: f64 = x
                .iter()
                .zip(y)
                .map(|(&xk, &yk)| {
                    let d = xk as f64 - t * yk;
                    d * d
                })
                .sum();
            *logit = scale * d2;
            largest = largest.max(*logit);
        }
        v.fill(0.0);
        let mut total = 0.0;
        for (logit, y) in logits.iter().zip(self.points.chunks_exact(self.dim)) {
            let w = (logit - largest).exp();
            total += w;
            for (vk, yk) in v.iter_mut().zip(y) {
                *vk += w * yk;
            }
        }
        for (vk, &xk) in v.iter_mut().zip(x) {
            *vk = (*vk / total - xk as f64) / left;
        }
    }

    /// This field as a [`Field`] for the samplers.
    pub fn as_field(&self) -> impl FnMut(&Points, f64) -> Result<Points, ExactError> + '_ {
        |x, t| self.velocity(x, t)
    }
}

/// What a sampler returns: the end points and, when asked, every state with its time.
pub struct Followed {
    pub samples: Points,
    pub trajectory: Vec<(f32, Points)>,
}

/// Euler with `steps` uniform steps from t = 0 to 1, velocity at the left end of each step
/// (SPEC section 4), so the field is never asked at t = 1. On u* the last step lands exactly on
/// the posterior mean of the training points at t = 1 − 1/steps, which is one training point
/// unless two are closer than about 1/steps.
pub fn euler(x0: &Points, steps: usize, record: bool, field: &mut Field) -> Result<Followed, ExactError> {
    euler_from(x0, 0, steps, record, field)
}

/// [`euler`] from step `first` on: `x` is the state at t = first / steps (another field took
/// the steps before).
pub fn euler_from(
    x: &Points,
    first: usize,
    steps: usize,
    record: bool,
    field: &mut Field,
) -> Result<Followed, ExactError> {
    if steps == 0 {
        return Err(ExactError::NoSteps);
    }
    let h = 1.0 / steps as f64;
    let mut x = x.clone();
    let mut trajectory = if record {
        vec![((first as f64 * h) as f32, x.clone())]
    } else {
        Vec::new()
    };
    for k in first..steps {
        let t = k as f64 * h;
        let v = field(&x, t)?;
        for (xi, vi) in x.data.iter_mut().zip(&v.data) {
            *xi += (h as f32) * vi;
        }
        if record {
            trajectory.push((((k + 1) as f64 * h) as f32, x.clone()));
        }
    }
    Ok(Followed { samples: x, trajectory })
}

/// How many of `steps` uniform Euler steps start before τ (the steps [`switching`] gives to
/// its first field).
pub fn steps_before(tau: f64, steps: usize) -> usize {
    (0..steps).take_while(|&k| (k as f64 / steps as f64) < tau).count()
}

/// The hybrid field of the paper: `before` while t < τ, `after` from τ on (the learned field
/// then the exact one, or the reverse). τ = 0 is `after` alone, τ = 1 `before` alone.
pub fn switching(
    tau: f64,
    mut before: impl FnMut(&Points, f64) -> Result<Points, ExactError>,
    mut after: impl FnMut(&Points, f64) -> Result<Points, ExactError>,
) -> Result<impl FnMut(&Points, f64) -> Result<Points, ExactError>, ExactError> {
    if !(0.0..=1.0).contains(&tau) {
        return Err(ExactError::Tau(tau));
    }
    Ok(move |x: &Points, t: f64| if t < tau { before(x, t) } else { after(x, t) })
}

/// The gap E||v_θ(x, t) − u*(x, t)||² between a learned field and the exact one, at the centre of
/// each of `bins` equal bins of [0, 1), with x ~ p_t of the training set (x0 ~ N(0, I), y a
/// training point, x = (1 − t) x0 + t y): `per_bin` draws per bin, from `rng`.
pub fn field_gap(
    exact: &EmpiricalField,
    learned: &mut Field,
    bins: usize,
    per_bin: usize,
    rng: &mut Rng,
) -> Result<Vec<(f64, f64)>, ExactError> {
    (0..bins)
        .map(|b| {
            let t = (b as f64 + 0.5) / bins as f64;
            let x = interpolant(exact, t, per_bin, rng);
            let (u, v) = (exact.velocity(&x, t)?, learned(&x, t)?);
            let gap = u
                .data
                .iter()
                .zip(&v.data)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>();
            Ok((t, gap / per_bin.max(1) as f64))
        })
        .collect()
}

/// `n` draws of x_t = (1 − t) x0 + t y with x0 ~ N(0, I) and y a uniform training point.
fn interpolant(exact: &EmpiricalField, t: f64, n: usize, rng: &mut Rng) -> Points {
    let d = exact.dim;
    let mut data = Vec::with_capacity(n * d);
    for _ in 0..n {
        let i = rng::index(rng, exact.len());
        let y = &exact.points[i * d..(i + 1) * d];
        data.extend(
            y.iter()
                .map(|&yk| ((1.0 - t) * rng::normal(rng) as f64 + t * yk) as f32),
        );
    }
    Points::new(d, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    fn points(rows: &[[f32; 2]]) -> Points {
        Points::new(2, rows.iter().flatten().copied().collect())
    }

    fn noise(n: usize, seed: u64) -> Points {
        Points::new(2, rng::normals(&mut rng::seeded(seed, Stream::Eval, 0), 2 * n))
    }

    fn distance(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
    }

    #[test]
    fn following_the_exact_field_lands_on_training_points() {
        let train = points(&[[-2.0, 0.0], [1.5, 1.0], [0.0, -2.5], [2.0, -1.0], [-1.0, 2.0]]);
        let exact = EmpiricalField::new(&train).unwrap();
        let followed = euler(&noise(400, 1), 200, false, &mut exact.as_field()).unwrap();
        for sample in followed.samples.rows() {
            let nearest = train.rows().map(|y| distance(sample, y)).fold(f32::INFINITY, f32::min);
            assert!(
                nearest < 1e-3,
                "{sample:?} is {nearest} from the nearest training point"
            );
        }
    }

    #[test]
    fn on_one_training_point_the_exact_flow_is_the_straight_line_to_it() {
        let y = [1.5f32, -0.5];
        let exact = EmpiricalField::new(&points(&[y])).unwrap();
        let x0 = noise(20, 2);
        let followed = euler(&x0, 16, true, &mut exact.as_field()).unwrap();
        for (t, state) in &followed.trajectory {
            for (x, start) in state.rows().zip(x0.rows()) {
                for k in 0..2 {
                    let on_line = (1.0 - t) * start[k] + t * y[k];
                    assert!((x[k] - on_line).abs() < 1e-5, "t {t}: {} against {on_line}", x[k]);
                }
            }
        }
    }

    /// E[x1 − x0 | x_t = x] estimated with no formula: draw (x0, y), keep the draws whose x_t
    /// falls within a small ball around x, average their x1 − x0.
    #[test]
    fn the_exact_field_matches_a_monte_carlo_estimate_of_the_conditional_velocity() {
        let train = points(&[[-1.0, 0.0], [1.0, 0.5], [0.0, 1.5]]);
        let exact = EmpiricalField::new(&train).unwrap();
        let mut rng = rng::seeded(3, Stream::Eval, 0);
        for (t, x) in [(0.3f32, [0.1f32, 0.4]), (0.7, [0.5, 0.6])] {
            let (radius, mut sum, mut kept) = (0.04f32, [0.0f64; 2], 0usize);
            while kept < 6000 {
                let y = train.row(rng::index(&mut rng, 3));
                let x0 = [rng::normal(&mut rng), rng::normal(&mut rng)];
                let xt = [(1.0 - t) * x0[0] + t * y[0], (1.0 - t) * x0[1] + t * y[1]];
                if distance(&xt, &x) < radius {
                    kept += 1;
                    sum[0] += (y[0] - x0[0]) as f64;
                    sum[1] += (y[1] - x0[1]) as f64;
                }
            }
            let u = exact.velocity(&points(&[x]), t as f64).unwrap();
            for k in 0..2 {
                let estimate = sum[k] / kept as f64;
                assert!(
                    (u.data[k] as f64 - estimate).abs() < 0.06,
                    "t {t}, axis {k}: exact {} against Monte-Carlo {estimate}",
                    u.data[k]
                );
            }
        }
    }

    #[test]
    fn the_exact_field_stays_finite_next_to_t_1_and_far_from_the_data() {
        let exact = EmpiricalField::new(&points(&[[0.0, 0.0], [3.0, 0.0]])).unwrap();
        let far = points(&[[100.0, -80.0], [2.9, 0.01]]);
        let u = exact.velocity(&far, 1.0 - 1e-4).unwrap();
        assert!(u.data.iter().all(|v| v.is_finite()), "{u:?}");
        // The second point is pulled towards its nearest training point, (3, 0).
        assert!(u.data[2] > 0.0 && u.data[3] < 0.0, "{u:?}");
    }

    #[test]
    fn the_exact_field_refuses_t_1_a_tau_outside_0_1_and_an_empty_set() {
        let exact = EmpiricalField::new(&points(&[[0.0, 0.0]])).unwrap();
        let x = points(&[[1.0, 1.0]]);
        assert_eq!(exact.velocity(&x, 1.0).unwrap_err(), ExactError::Time(1.0));
        assert!(matches!(exact.velocity(&x, f64::NAN), Err(ExactError::Time(_))));
        assert_eq!(
            switching(1.5, exact.as_field(), exact.as_field()).err(),
            Some(ExactError::Tau(1.5))
        );
        assert_eq!(
            EmpiricalField::new(&Points::new(2, vec![])).unwrap_err(),
            ExactError::NoPoints
        );
        assert_eq!(
            exact
                .velocity(&Points::new(3, vec![0.0; 3]), 0.5)
                .unwrap_err()
                .to_string(),
            "points of dimension 3 against a training set of dimension 2"
        );
    }

    #[test]
    fn the_hybrid_follows_the_first_field_before_tau_and_the_second_after() {
        let exact = EmpiricalField::new(&points(&[[1.0, 1.0], [-1.0, 1.0]])).unwrap();
        let still = |x: &Points, _t: f64| Ok(Points::new(x.dim, vec![0.0; x.data.len()]));
        let x0 = noise(50, 4);
        // Standing still until τ = 0.5, then u*: still on training points, from x0 itself.
        let mut hybrid = switching(0.5, still, exact.as_field()).unwrap();
        let end = euler(&x0, 100, true, &mut hybrid).unwrap();
        assert_eq!(end.trajectory[50].1, x0, "nothing moves before τ");
        for sample in end.samples.rows() {
            let nearest = [[1.0f32, 1.0], [-1.0, 1.0]]
                .iter()
                .map(|y| distance(sample, y))
                .fold(f32::INFINITY, f32::min);
            assert!(nearest < 1e-2, "{sample:?}");
        }
    }

    #[test]
    fn the_gap_of_the_exact_field_to_itself_is_zero_and_to_a_still_field_is_not() {
        let exact = EmpiricalField::new(&points(&[[1.0, 1.0], [-1.0, 1.0], [0.0, -1.0]])).unwrap();
        let mut rng = rng::seeded(5, Stream::Eval, 0);
        let same = field_gap(&exact, &mut exact.as_field(), 10, 64, &mut rng).unwrap();
        assert_eq!(same.len(), 10);
        assert!((same[0].0 - 0.05).abs() < 1e-12 && (same[9].0 - 0.95).abs() < 1e-12);
        assert!(same.iter().all(|&(_, gap)| gap == 0.0), "{same:?}");
        let mut still = |x: &Points, _t: f64| Ok(Points::new(x.dim, vec![0.0; x.data.len()]));
        let apart = field_gap(&exact, &mut still, 10, 64, &mut rng).unwrap();
        assert!(apart.iter().all(|&(_, gap)| gap > 0.1), "{apart:?}");
    }
}
