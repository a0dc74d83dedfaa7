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
/// Exact ([`crate::lap`]). Each set is centred and scaled to unit spread first, which leaves the
/// optimum unchanged: Σ‖αa_i + s - b_π(i)‖² differs between permutations π only through
/// -2α Σ a_i · b_π(i) (the other terms do not depend on the pairing), so any shift and any
/// positive scale of either set have the same best π. It makes the solver's guess that partners
/// are near ones good even when one cloud sits off the other or is far tighter.
pub fn assignment(a: &Points, b: &Points) -> Vec<usize> {
    assert_eq!(a.len(), b.len(), "assignment needs equal-size sets");
    crate::lap::solve(a.len(), &sq_cost(&standardised(a), &standardised(b)))
}

/// The set centred on its mean and scaled to a root-mean-square radius of 1 (unless all its
/// points coincide).
fn standardised(p: &Points) -> Points {
    let mean = p.mean();
    let spread = p.std().iter().map(|s| s * s).sum::<f64>().sqrt();
    let scale = if spread > 0.0 { 1.0 / spread } else { 1.0 };
    let data = p
        .rows()
        .flat_map(|r| r.iter().zip(&mean).map(move |(&x, m)| ((x as f64 - m) * scale) as f32))
        .collect();
    Points::new(p.dim, data)
}

/// Reorders `x0` so that row i is paired with row i of `x1`. `groups` gives the row ranges of
/// the descriptor groups (used by [`Coupling::PerGroup`]).
pub fn pair(coupling: Coupling, x0: &Points, x1: &Points, groups: &[std::ops::Range<usize>]) -> Points {
    match coupling {
        Coupling::Independent => x0.clone(),
        Coupling::Exact => permute_rows(x0, &assignment(x1, x0)),
        Coupling::PerGroup => {
            let mut out = x0.clone();
            for (g, perm) in groups.iter().zip(group_assignments(x1, x0, groups)) {
                let permuted = permute_rows(&slice_rows(x0, g.clone()), &perm);
                out.data[g.start * x0.dim..g.end * x0.dim].copy_from_slice(&permuted.data);
            }
            out
        }
    }
}

/// [`assignment`] inside each group of rows: group g's rows of `a` to its rows of `b`, each
/// permutation indexing the group's own rows. The groups are spread over the machine's threads
/// when there is enough work (MixFlow-OOD's 8 groups of 64 are a fifth of its training step).
pub fn group_assignments(a: &Points, b: &Points, groups: &[std::ops::Range<usize>]) -> Vec<Vec<usize>> {
    /// Σ n² over the groups below which a thread costs more than it saves.
    const WORTH_A_THREAD: usize = 16_384;
    let solve = |g: &std::ops::Range<usize>| assignment(&slice_rows(a, g.clone()), &slice_rows(b, g.clone()));
    let work: usize = groups.iter().map(|g| g.len() * g.len()).sum();
    let threads = if cfg!(target_arch = "wasm32") || work < WORTH_A_THREAD {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(groups.len())
    };
    if threads <= 1 {
        return groups.iter().map(solve).collect();
    }
    if threads == 2 {
        // Half the groups on the helper thread that the training step's products keep awake
        // (src/pair.rs): starting a thread costs about 70 µs here, a tenth of the assignments.
        let (first, second) = groups.split_at(groups.len() / 2);
        let (mut perms, mut rest) = (Vec::new(), Vec::new());
        crate::pair::join(
            || perms = first.iter().map(solve).collect(),
            || rest = second.iter().map(solve).collect(),
        );
        perms.extend(rest);
        return perms;
    }
    let per_thread = groups.len().div_ceil(threads);
    let solve = &solve;
    std::thread::scope(|scope| {
        let others: Vec<_> = groups
            .chunks(per_thread)
            .skip(1)
            .map(|chunk| scope.spawn(move || chunk.iter().map(solve).collect::<Vec<_>>()))
            .collect();
        let mut perms: Vec<Vec<usize>> = groups[..per_thread].iter().map(solve).collect();
        for thread in others {
            perms.extend(thread.join().expect("an assignment thread panicked"));
        }
        perms
    })
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
