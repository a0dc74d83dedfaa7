//! ODE solvers for dx/dt = v(x, t) from t = 0 to t = 1 (SPEC section 4): Euler, Heun with a final
//! Euler step, RK4 and adaptive Dopri5, each counting its function evaluations (NFE) and, on
//! request, recording the trajectory. They work on tensors, so sampling stays on the device.

use crate::data::Points;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    Euler,
    Heun,
    Rk4,
    Dopri5,
}

impl Solver {
    pub fn name(self) -> &'static str {
        match self {
            Solver::Euler => "euler",
            Solver::Heun => "heun",
            Solver::Rk4 => "rk4",
            Solver::Dopri5 => "dopri5",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolveOptions {
    pub solver: Solver,
    /// Uniform steps for the fixed-step solvers.
    pub steps: usize,
    /// Tolerances of Dopri5.
    pub rtol: f64,
    pub atol: f64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            solver: Solver::Dopri5,
            steps: 100,
            rtol: 1e-5,
            atol: 1e-5,
        }
    }
}

impl SolveOptions {
    pub fn euler(steps: usize) -> Self {
        Self {
            solver: Solver::Euler,
            steps,
            ..Self::default()
        }
    }
}

pub struct Solution {
    pub x: Tensor<2>,
    pub nfe: usize,
    /// (t, state) at every step, when recording was asked for; starts with (0, x0).
    pub trajectory: Vec<(f32, Tensor<2>)>,
}

/// Dopri5 gives up past this many steps (a field too stiff for the tolerance).
const MAX_ADAPTIVE_STEPS: usize = 10_000;

/// Why an integration, or a read of its result from the device, failed.
#[derive(Clone, Debug, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum SolveError {
    #[error("setting `solver-steps`: a fixed-step solver needs at least 1 step")]
    NoSteps,
    #[error("settings `rtol` and `atol`: Dopri5 needs positive tolerances")]
    Tolerances,
    #[error("Dopri5 needed more than {MAX_ADAPTIVE_STEPS} steps (rtol {rtol}, atol {atol})")]
    TooStiff { rtol: f32, atol: f32 },
    #[error("Dopri5: the velocity field returned NaN or inf")]
    NotFinite,
    /// A tensor could not be read back (a lost GPU, a failed transfer).
    #[error("reading from the device failed: {0}")]
    Read(String),
}

/// Integrates from t = 0 to 1. `v(x, t)` is the velocity field.
pub fn integrate(
    v: &mut impl FnMut(Tensor<2>, f32) -> Tensor<2>,
    x0: Tensor<2>,
    opts: &SolveOptions,
    record: bool,
) -> Result<Solution, SolveError> {
    let mut sol = Solution {
        x: x0.clone(),
        nfe: 0,
        trajectory: Vec::new(),
    };
    if record {
        sol.trajectory.push((0.0, x0.clone()));
    }
    let mut f = |x: Tensor<2>, t: f32, nfe: &mut usize| {
        *nfe += 1;
        v(x, t)
    };
    if opts.solver == Solver::Dopri5 {
        return dopri5(&mut f, sol, opts, record);
    }
    let n = opts.steps;
    if n == 0 {
        return Err(SolveError::NoSteps);
    }
    let h = 1.0 / n as f32;
    let mut x = x0;
    for k in 0..n {
        let t = k as f32 * h;
        let nfe = &mut sol.nfe;
        x = match opts.solver {
            // Heun's last interval is an Euler step, so it never evaluates v at t = 1: NFE = 2N - 1.
            Solver::Euler => x.clone() + f(x, t, nfe) * h,
            Solver::Heun if k == n - 1 => x.clone() + f(x, t, nfe) * h,
            Solver::Heun => {
                let k1 = f(x.clone(), t, nfe);
                let k2 = f(x.clone() + k1.clone() * h, t + h, nfe);
                x + (k1 + k2) * (h / 2.0)
            }
            Solver::Rk4 => {
                let k1 = f(x.clone(), t, nfe);
                let k2 = f(x.clone() + k1.clone() * (h / 2.0), t + h / 2.0, nfe);
                let k3 = f(x.clone() + k2.clone() * (h / 2.0), t + h / 2.0, nfe);
                let k4 = f(x.clone() + k3.clone() * h, t + h, nfe);
                x + (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (h / 6.0)
            }
            Solver::Dopri5 => unreachable!(),
        };
        if record {
            sol.trajectory.push(((k + 1) as f32 * h, x.clone()));
        }
    }
    sol.x = x;
    Ok(sol)
}

// Dormand–Prince 5(4) tableau.
const C: [f32; 6] = [0.2, 0.3, 0.8, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f32]; 6] = [
    &[0.2],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Fifth-order weights minus the embedded fourth-order ones: the local error estimate.
const E: [f32; 7] = [
    35.0 / 384.0 - 5179.0 / 57600.0,
    0.0,
    500.0 / 1113.0 - 7571.0 / 16695.0,
    125.0 / 192.0 - 393.0 / 640.0,
    -2187.0 / 6784.0 + 92097.0 / 339200.0,
    11.0 / 84.0 - 187.0 / 2100.0,
    -1.0 / 40.0,
];

fn dopri5(
    f: &mut impl FnMut(Tensor<2>, f32, &mut usize) -> Tensor<2>,
    mut sol: Solution,
    opts: &SolveOptions,
    record: bool,
) -> Result<Solution, SolveError> {
    let (rtol, atol) = (opts.rtol as f32, opts.atol as f32);
    if !(rtol > 0.0 && atol > 0.0) {
        return Err(SolveError::Tolerances);
    }
    let mut x = sol.x.clone();
    let mut t = 0.0f32;
    let mut k1 = f(x.clone(), t, &mut sol.nfe);
    // Initial step from the scale of the state and of its derivative (Hairer, Nørsett & Wanner).
    let scale = x.clone().abs() * rtol + atol;
    let d0 = rms(x.clone() / scale.clone());
    let d1 = rms(k1.clone() / scale);
    let mut h = if d0 < 1e-5 || d1 < 1e-5 {
        1e-3
    } else {
        (0.01 * d0 / d1).clamp(1e-4, 1.0)
    };
    let mut steps = 0;
    while 1.0 - t > 1e-6 {
        steps += 1;
        if steps > MAX_ADAPTIVE_STEPS {
            return Err(SolveError::TooStiff { rtol, atol });
        }
        h = h.min(1.0 - t);
        let mut ks = vec![k1.clone()];
        for (i, row) in A.iter().enumerate() {
            let mut xi = x.clone();
            for (a, k) in row.iter().zip(&ks) {
                if *a != 0.0 {
                    xi = xi + k.clone() * (h * a);
                }
            }
            if i == 5 {
                // The last row is the fifth-order solution itself; its slope is reused (FSAL).
                ks.push(f(xi.clone(), t + h, &mut sol.nfe));
                let mut err = ks[0].clone() * (h * E[0]);
                for (e, k) in E.iter().zip(&ks).skip(1) {
                    if *e != 0.0 {
                        err = err + k.clone() * (h * e);
                    }
                }
                let scale = x.clone().abs().max_pair(xi.clone().abs()) * rtol + atol;
                let norm = rms(err / scale);
                if !norm.is_finite() {
                    return Err(SolveError::NotFinite);
                }
                if norm <= 1.0 {
                    t += h;
                    x = xi;
                    k1 = ks[6].clone();
                    if record {
                        sol.trajectory.push((t, x.clone()));
                    }
                }
                let factor = if norm == 0.0 {
                    10.0
                } else {
                    (0.9 * norm.powf(-0.2)).clamp(0.2, 10.0)
                };
                h *= factor;
            } else {
                ks.push(f(xi, t + C[i] * h, &mut sol.nfe));
            }
        }
    }
    sol.x = x;
    Ok(sol)
}

fn rms(t: Tensor<2>) -> f32 {
    t.powi_scalar(2).mean().sqrt().into_scalar::<f32>()
}

/// Reads a [N, D] tensor back into points.
pub fn to_points(t: Tensor<2>) -> Points {
    let [_, d] = t.dims();
    Points::new(d, t.into_data().try_to_vec::<f32>().expect("float tensor"))
}

/// Reads a [N, D] tensor back into points without blocking: the only way a browser can read a
/// GPU. (On the CPU backends the read is ready at once.)
pub async fn read_points(t: Tensor<2>) -> Result<Points, SolveError> {
    let [_, d] = t.dims();
    let data = t.into_data_async().await.map_err(read_failed)?;
    Ok(Points::new(d, data.try_into_vec::<f32>().map_err(read_failed)?))
}

/// Reads a one-element tensor (a loss) without blocking; see [`read_points`].
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, SolveError> {
    t.into_scalar_async::<f32>().await.map_err(read_failed)
}

fn read_failed(e: impl std::fmt::Debug) -> SolveError {
    SolveError::Read(format!("{e:?}"))
}

/// Uploads points as a [N, D] tensor.
pub fn to_tensor(p: &Points, device: &burn::tensor::Device) -> Tensor<2> {
    Tensor::from_data(burn::tensor::TensorData::new(p.data.clone(), [p.len(), p.dim]), device)
}
