//! Following one trajectory from the canvas: which point of the data space a click means (the
//! drawn particle nearest the click at the scrubbed time when one is near, or in data of more than
//! two dimensions; the clicked point itself otherwise), and how the followed path is painted and
//! told (length, straight-line distance, curvature).

use super::canvas::FollowedOverlay;
use crate::projection::Plane;
use mixflow_core::follow::FollowedPath;
use mixflow_live::{FollowRequest, View};

/// A click this close to a drawn particle (in screen points) follows that particle's own path.
pub const SNAP_POINTS: f32 = 8.0;

/// What a click at `clicked` (canvas plane, data units) at time `t` follows, for a view drawn in
/// `plane`; `snap` is [`SNAP_POINTS`] in data units.
pub fn request_at(view: &View, plane: &Plane, clicked: [f32; 2], t: f32, snap: f32) -> Option<FollowRequest> {
    let nearest = particles_at(view, t).into_iter().min_by(|a, b| {
        let d = |p: &[f32]| {
            let q = plane.project(p);
            (q[0] - clicked[0]).hypot(q[1] - clicked[1])
        };
        d(a).total_cmp(&d(b))
    });
    let near = nearest.as_ref().is_some_and(|p| {
        let q = plane.project(p);
        (q[0] - clicked[0]).hypot(q[1] - clicked[1]) <= snap
    });
    let point = match nearest {
        Some(p) if near || view.model.samples.dim != 2 => p,
        // In the plane the click is itself a point of the data space.
        _ if view.model.samples.dim == 2 => plane_point(plane, clicked),
        _ => return None,
    };
    Some(FollowRequest { point, t })
}

/// The traced particles at time `t`, each on the straight segment between its Euler states (as
/// the canvas draws them).
fn particles_at(view: &View, t: f32) -> Vec<Vec<f32>> {
    let (times, states) = (&view.model.times, &view.model.trajectories);
    let Some(k) = (0..times.len().saturating_sub(1)).find(|&k| t <= times[k + 1]) else {
        return states
            .last()
            .map_or_else(Vec::new, |s| s.rows().map(<[f32]>::to_vec).collect());
    };
    let along = ((t - times[k]) / (times[k + 1] - times[k])).clamp(0.0, 1.0);
    (states[k].rows().zip(states[k + 1].rows()))
        .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a + along * (b - a)).collect())
        .collect()
}

/// The data point of the 2D plane at canvas position `p` (a 2D plane is two axes about an origin).
fn plane_point(plane: &Plane, p: [f32; 2]) -> Vec<f32> {
    (0..plane.origin.len())
        .map(|d| plane.origin[d] + p[0] * plane.u[d] + p[1] * plane.v[d])
        .collect()
}

/// The path as the canvas paints it in `plane`, with `label` naming the run in its caption.
pub fn overlay(path: &FollowedPath, plane: &Plane, label: &str) -> FollowedOverlay {
    let arrows = path
        .states
        .rows()
        .zip(path.velocities.rows())
        .map(|(x, v)| {
            let (at, ahead) = (plane.project(x), plane.project(&step(x, v)));
            (at, [ahead[0] - at[0], ahead[1] - at[1]])
        })
        .collect();
    FollowedOverlay {
        path: plane.project_all(&path.states),
        arrows,
        through: plane.project(&path.point),
        caption: caption(path, label),
    }
}

/// `x + v`: where the velocity points, one time unit on (projected, it gives the arrow's
/// direction in the plane whatever the projection).
fn step(x: &[f32], v: &[f32]) -> Vec<f32> {
    x.iter().zip(v).map(|(x, v)| x + v).collect()
}

/// "rf · followed from t = 0.50: length 3.214, straight 2.981 (×1.08), curvature 0.1420".
pub fn caption(path: &FollowedPath, label: &str) -> String {
    format!(
        "{label} · followed from t = {:.2}: length {:.3}, straight {:.3} (×{:.2}), curvature {:.4}{}",
        path.t,
        path.length,
        path.chord,
        path.detour(),
        path.curvature,
        if path.unconverged > 0 {
            format!(" ({} steps back did not converge)", path.unconverged)
        } else {
            String::new()
        }
    )
}
