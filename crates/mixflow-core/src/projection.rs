//! Planes that show D-dimensional data in 2D: any pair of axes, or the first two principal
//! components of the training data. A plane maps points and diagonal Gaussians (mixture
//! components) alike, so every canvas layer works in any dimension.

use crate::data::Points;
use serde::{Deserialize, Serialize};

/// How the user chose to look at the data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    /// The first two principal components of the training data.
    #[default]
    Pca,
    /// Data axis i horizontally, j vertically.
    Axes(usize, usize),
}

/// x -> ((x - origin)·u, (x - origin)·v), with u and v orthonormal.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    pub origin: Vec<f32>,
    pub u: Vec<f32>,
    pub v: Vec<f32>,
}

impl Plane {
    /// The plane for `projection` of `data`; 2D data is always shown as it is.
    pub fn new(projection: Projection, data: &Points) -> Self {
        let dim = data.dim;
        match projection {
            _ if dim == 2 => Self::axes(2, 0, 1),
            Projection::Axes(i, j) if i < dim && j < dim && i != j => Self::axes(dim, i, j),
            Projection::Axes(..) => Self::axes(dim, 0, 1.min(dim - 1)),
            Projection::Pca => Self::pca(data),
        }
    }

    fn axes(dim: usize, i: usize, j: usize) -> Self {
        let unit = |k: usize| (0..dim).map(|d| if d == k { 1.0 } else { 0.0 }).collect();
        Self {
            origin: vec![0.0; dim],
            u: unit(i),
            v: unit(j),
        }
    }

    /// Principal axes by power iteration with deflation on the covariance (D is at most a few tens).
    fn pca(data: &Points) -> Self {
        let dim = data.dim;
        let mean: Vec<f64> = data.mean();
        let mut cov = vec![0.0f64; dim * dim];
        for r in data.rows() {
            for a in 0..dim {
                let da = r[a] as f64 - mean[a];
                for b in 0..dim {
                    cov[a * dim + b] += da * (r[b] as f64 - mean[b]);
                }
            }
        }
        cov.iter_mut().for_each(|c| *c /= data.len().max(1) as f64);
        let first = principal(&cov, dim, None);
        let second = principal(&cov, dim, Some(&first));
        // The plane goes through the origin, so a point's coordinates are its data coordinates
        // along u and v (the canvas centres itself on the data).
        Self {
            origin: vec![0.0; dim],
            u: first.iter().map(|&x| x as f32).collect(),
            v: second.iter().map(|&x| x as f32).collect(),
        }
    }

    pub fn project(&self, x: &[f32]) -> [f32; 2] {
        let mut p = [0.0f32; 2];
        for (((x, o), u), v) in x.iter().zip(&self.origin).zip(&self.u).zip(&self.v) {
            p[0] += (x - o) * u;
            p[1] += (x - o) * v;
        }
        p
    }

    pub fn project_all(&self, points: &Points) -> Vec<[f32; 2]> {
        points.rows().map(|r| self.project(r)).collect()
    }

    /// The projected covariance (xx, xy, yy) of a Gaussian with diagonal standard deviations `sigma`.
    pub fn project_diagonal(&self, sigma: &[f32]) -> [f32; 3] {
        let mut c = [0.0f32; 3];
        for ((s, u), v) in sigma.iter().zip(&self.u).zip(&self.v) {
            let var = s * s;
            c[0] += u * u * var;
            c[1] += u * v * var;
            c[2] += v * v * var;
        }
        c
    }

    /// Whether this plane is a pair of data axes (then a vector field in the plane is exact).
    pub fn is_identity_2d(&self) -> bool {
        self.u.len() == 2 && self.u == [1.0, 0.0] && self.v == [0.0, 1.0]
    }
}

/// The leading eigenvector of a symmetric matrix, orthogonal to `not` when given.
fn principal(m: &[f64], dim: usize, not: Option<&[f64]>) -> Vec<f64> {
    // A start vector that is not orthogonal to the answer for any ordinary data.
    let mut x: Vec<f64> = (0..dim).map(|i| 1.0 + 0.1 * i as f64).collect();
    for _ in 0..500 {
        if let Some(n) = not {
            let dot: f64 = x.iter().zip(n).map(|(a, b)| a * b).sum();
            x.iter_mut().zip(n).for_each(|(a, b)| *a -= dot * b);
        }
        let mut y = vec![0.0; dim];
        for a in 0..dim {
            y[a] = (0..dim).map(|b| m[a * dim + b] * x[b]).sum();
        }
        let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm < 1e-30 {
            break;
        }
        x = y.into_iter().map(|v| v / norm).collect();
    }
    if let Some(n) = not {
        let dot: f64 = x.iter().zip(n).map(|(a, b)| a * b).sum();
        x.iter_mut().zip(n).for_each(|(a, b)| *a -= dot * b);
    }
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-30);
    x.into_iter().map(|v| v / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_long_axis_of_a_stretched_cloud() {
        // A grid: spread 3 along (1, 1, 0)/sqrt(2), spread 1 along (0, 0, 1), uncorrelated.
        let mut data = Vec::new();
        for i in 0..20 {
            for j in 0..20 {
                let a = (i as f32 / 19.0 - 0.5) * 6.0;
                let b = (j as f32 / 19.0 - 0.5) * 2.0;
                data.extend([a / 2f32.sqrt(), a / 2f32.sqrt(), b]);
            }
        }
        let plane = Plane::new(Projection::Pca, &Points::new(3, data));
        assert!(
            (plane.u[0].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3 && plane.u[2].abs() < 1e-3,
            "{:?}",
            plane.u
        );
        assert!(plane.v[2].abs() > 0.999, "{:?}", plane.v);
        let dot: f32 = plane.u.iter().zip(&plane.v).map(|(a, b)| a * b).sum();
        assert!(dot.abs() < 1e-5);
    }

    #[test]
    fn axes_projection_picks_coordinates_and_variances() {
        let plane = Plane::new(Projection::Axes(2, 0), &Points::new(3, vec![0.0; 3]));
        assert_eq!(plane.project(&[1.0, 2.0, 3.0]), [3.0, 1.0]);
        assert_eq!(plane.project_diagonal(&[1.0, 2.0, 3.0]), [9.0, 0.0, 1.0]);
    }
}
