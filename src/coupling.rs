//! How pairs (x0, x1) are made inside a minibatch (SPEC section 3.1): independently, by an exact
//! optimal assignment under squared Euclidean cost, or by one assignment per descriptor group.

use crate::data::Points;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Coupling {
    Independent,
    /// One exact assignment over the whole minibatch (OT-CFM).
    Exact,
    /// One exact assignment inside each descriptor group, never across (C-OT).
    PerGroup,
}

/// Squared Euclidean cost matrix, row-major |a| × |b|, in f64 for a stable solver.
pub fn sq_cost(a: &Points, b: &Points) -> Vec<f64> {
    let mut cost = Vec::with_capacity(a.len() * b.len());
    for x in a.rows() {
        for y in b.rows() {
            cost.push(x.iter().zip(y).map(|(p, q)| (*p as f64 - *q as f64).powi(2)).sum());
        }
    }
    cost
}

/// The optimal assignment between two equal-size sets: `a[i]` is matched to `b[perm[i]]`.
/// Exact (Jonker–Volgenant shortest augmenting paths, as scipy's linear_sum_assignment).
pub fn assignment(a: &Points, b: &Points) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "assignment needs equal-size sets");
    let n = a.len();
    if n == 0 {
        return Vec::new();
    }
    let cost = sq_cost(a, b);
    let (rows, cols) = lsap::solve(n, n, &cost, false).expect("a finite square cost matrix always has an assignment");
    let mut perm = vec![0; n];
    for (r, c) in rows.into_iter().zip(cols) {
        perm[r] = c;
    }
    perm
}

/// Reorders `x0` so that row i is paired with row i of `x1`. `groups` gives the row ranges of
/// the descriptor groups (used by [`Coupling::PerGroup`]).
pub fn pair(coupling: Coupling, x0: &Points, x1: &Points, groups: &[std::ops::Range<usize>]) -> Points {
    match coupling {
        Coupling::Independent => x0.clone(),
        Coupling::Exact => permute_rows(x0, &assignment(x1, x0)),
        Coupling::PerGroup => {
            let mut out = x0.clone();
            for g in groups {
                let a = slice_rows(x1, g.clone());
                let b = slice_rows(x0, g.clone());
                let perm = assignment(&a, &b);
                let permuted = permute_rows(&b, &perm);
                out.data[g.start * x0.dim..g.end * x0.dim].copy_from_slice(&permuted.data);
            }
            out
        }
    }
}

fn slice_rows(p: &Points, r: std::ops::Range<usize>) -> Points {
    Points::new(p.dim, p.data[r.start * p.dim..r.end * p.dim].to_vec())
}

/// Row i of the result is row `perm[i]` of `p`.
fn permute_rows(p: &Points, perm: &[usize]) -> Points {
    let mut data = Vec::with_capacity(p.data.len());
    for &i in perm {
        data.extend_from_slice(p.row(i));
    }
    Points::new(p.dim, data)
}
