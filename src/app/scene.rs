//! Turns a view of the model into the canvas's [`Scene`]: which layers are on and the projection
//! plane. Plain data in, plain vertices out, so it is tested without a GPU. The scrubbed time is
//! not an input: the trail shader applies it, so scrubbing never rebuilds a scene.

use crate::data::Points;
use crate::mixture::Mixture;
use crate::projection::Plane;
use crate::render::advect::{self, Job};
use crate::render::{Advected, DensityLayer, Gaussian2, PointVertex, Scene, Segment, TrailSegment};
use crate::train::Advection;
use mixflow_live::{FIELD_GRID, View};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The layers a user toggles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Layers {
    pub data: bool,
    pub samples: bool,
    pub base: bool,
    pub ellipses: bool,
    pub density: bool,
    pub trails: bool,
    /// Trails coloured by their trajectory's curvature instead of by time.
    pub curvature: bool,
    /// The traced particles at the scrubbed time.
    pub particles: bool,
    pub field: bool,
    /// MixFlow-RF: the source at w and the encoder's means and ellipses, linked to their data.
    pub kappa: bool,
    pub pairs: bool,
}

impl Default for Layers {
    fn default() -> Self {
        Self {
            data: true,
            samples: true,
            base: false,
            ellipses: true,
            density: true,
            trails: true,
            curvature: false,
            particles: true,
            field: false,
            kappa: true,
            pairs: false,
        }
    }
}

pub const DATA_COLOR: [u8; 4] = [225, 225, 235, 110];
pub const SAMPLE_COLOR: [u8; 4] = [80, 160, 255, 190];
const FIELD_COLOR: [u8; 4] = [200, 230, 200, 200];
const PAIR_COLOR: [u8; 4] = [220, 220, 220, 60];
const KAPPA_MU_COLOR: [u8; 4] = [255, 170, 60, 220];
const KAPPA_SOURCE_COLOR: [u8; 4] = [255, 110, 180, 200];

/// Ten distinguishable colours for mixture components (the "tab10" set).
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [188, 189, 34],
    [23, 190, 207],
    [127, 127, 127],
];

pub fn component_color(k: usize, alpha: u8) -> [u8; 4] {
    let [r, g, b] = PALETTE[k % PALETTE.len()];
    [r, g, b, alpha]
}

/// Colour of time t in [0, 1] along a trajectory: violet at the base, yellow at the data.
pub fn time_color(t: f32, alpha: u8) -> [u8; 4] {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f32, b: f32| (a + (b - a) * t) as u8;
    [lerp(120.0, 250.0), lerp(60.0, 220.0), lerp(220.0, 60.0), alpha]
}

/// Teal for a straight trajectory (shade 0) to red for the most curved (1), as `shaders/trails.wgsl`
/// colours trails by curvature.
pub fn curvature_color(shade: f32, alpha: u8) -> [u8; 4] {
    let s = shade.clamp(0.0, 1.0);
    let lerp = |a: f32, b: f32| (a + (b - a) * s) as u8;
    [lerp(40.0, 240.0), lerp(200.0, 60.0), lerp(190.0, 50.0), alpha]
}

/// The curvature of each traced trajectory (MixFlow-RF's definition, as the metrics measure it).
fn path_curvatures(view: &View) -> Option<Vec<f64>> {
    let states = &view.model.trajectories;
    (states.len() >= 2 && !states[0].is_empty()).then(|| crate::metrics::curvature(states))
}

/// The curvature drawn reddest when trails are coloured by curvature: the largest of the views'
/// 95th percentiles (one scale for every canvas, so the runs of a comparison compare; the
/// percentile, so one outlier does not wash out the rest).
pub fn curvature_scale<'a>(views: impl Iterator<Item = &'a View>) -> Option<f32> {
    let top = |mut each: Vec<f64>| {
        each.sort_by(f64::total_cmp);
        each[(each.len() - 1) * 95 / 100]
    };
    views
        .filter_map(path_curvatures)
        .map(top)
        .reduce(f64::max)
        .map(|c| c as f32)
}

pub struct SceneInput<'a> {
    pub view: &'a View,
    pub layers: Layers,
    pub plane: &'a Plane,
    /// Which recorded time the velocity field is shown at.
    pub field_time: f32,
    /// Trails coloured by curvature, red from this curvature on (see [`curvature_scale`]); none:
    /// coloured by time.
    pub curvature_scale: Option<f32>,
}

pub fn build(input: &SceneInput) -> Scene {
    let SceneInput {
        view, layers, plane, ..
    } = *input;
    let mut scene = Scene::default();
    // Only a learned mixture's density: a fixed N(0, I) base spreads over the whole canvas,
    // and as a heat map it painted everything one colour over the data.
    if layers.density
        && let Some(m) = &view.model.mixture
    {
        scene.density = Some(density_layer(m, plane));
    }
    if layers.pairs
        && let Some((x0, x1)) = &view.pairs
    {
        for (a, b) in plane.project_all(x0).into_iter().zip(plane.project_all(x1)) {
            scene.under.push(segment(
                a,
                b,
                time_color(0.0, PAIR_COLOR[3]),
                time_color(1.0, PAIR_COLOR[3]),
            ));
        }
    }
    // Particles the GPU carries: the CPU integrated only those the metrics use.
    let advection = view.model.advection.as_ref();
    if layers.trails || layers.particles {
        if advection.is_none() {
            let shades = (input.curvature_scale.zip(path_curvatures(view))).map(|(top, each)| {
                let shade = |c: f64| if top > 0.0 { c as f32 / top } else { 0.0 };
                each.into_iter().map(shade).collect::<Vec<_>>()
            });
            scene.trails = trails(view, plane, shades.as_deref());
            scene.trail_times = view.model.times.clone();
        }
        scene.show_trails = layers.trails;
        scene.show_particles = layers.particles;
    }
    if layers.field {
        field(&mut scene.under, view, input.field_time);
    }
    if layers.base {
        let comps = view.model.base_components.as_deref();
        points(&mut scene.points, &view.model.base, plane, |i| match comps {
            Some(c) => component_color(c[i], 170),
            None => time_color(0.0, 150),
        });
    }
    match advection {
        Some(a) if layers.samples || layers.trails || layers.particles => {
            scene.advected = advected(a, plane).map(|job| Advected {
                job: Arc::new(job),
                traced: if layers.trails || layers.particles {
                    view.request.trajectories
                } else {
                    0
                },
                samples_at: layers.samples.then_some(scene.points.len()),
            });
        }
        Some(_) => {}
        None if layers.samples => points(&mut scene.points, &view.model.samples, plane, |_| SAMPLE_COLOR),
        None => {}
    }
    // The data over the samples, light and translucent: what the model should match stays
    // visible wherever the samples are (and where they miss it, both show).
    if layers.data
        && let Some(data) = &view.data
    {
        points(&mut scene.points, data, plane, |_| DATA_COLOR);
    }
    if layers.ellipses
        && let Some(m) = &view.model.mixture
    {
        mixture_ellipses(&mut scene.over, m, plane);
    }
    if layers.kappa
        && let Some(k) = &view.model.kappa
    {
        kappa(&mut scene, k, plane);
    }
    scene
}

/// How a legend entry is marked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    Dot([u8; 4]),
    /// A line whose colour runs from the first to the second (a path from base to data).
    Line([u8; 4], [u8; 4]),
    Ring([u8; 4]),
}

/// One line of a canvas's legend.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendEntry {
    pub mark: Mark,
    pub label: std::borrow::Cow<'static, str>,
}

/// The layers a view draws with `layers`, as the canvas's legend names them (a layer with
/// nothing to draw, such as the components of a N(0, I) base, is left out).
pub fn legend(view: &View, layers: Layers, curvature_scale: Option<f32>) -> Vec<LegendEntry> {
    let model = &view.model;
    let mixture = model.mixture.is_some();
    let kappa = model.kappa.is_some();
    let entry = |on: bool, mark: Mark, label: &'static str| {
        on.then_some(LegendEntry {
            mark,
            label: label.into(),
        })
    };
    let by_curvature = curvature_scale.filter(|_| layers.trails).map(|top| LegendEntry {
        mark: Mark::Line(curvature_color(0.0, 255), curvature_color(1.0, 255)),
        label: format!("paths by curvature: straight to ≥ {top:.3}").into(),
    });
    let opaque = |c: [u8; 4]| [c[0], c[1], c[2], 255];
    [
        entry(
            layers.data && view.data.is_some(),
            Mark::Dot(opaque(DATA_COLOR)),
            "data",
        ),
        entry(layers.samples, Mark::Dot(opaque(SAMPLE_COLOR)), "samples (t = 1)"),
        entry(layers.base, Mark::Dot(time_color(0.0, 255)), "base draws (t = 0)"),
        entry(
            layers.trails && by_curvature.is_none(),
            Mark::Line(time_color(0.0, 255), time_color(1.0, 255)),
            "paths from base to data",
        ),
        by_curvature,
        entry(
            layers.ellipses && mixture,
            Mark::Ring(component_color(0, 255)),
            "base components (1σ)",
        ),
        entry(
            layers.density && mixture,
            Mark::Dot([250, 160, 60, 255]),
            "base density",
        ),
        entry(
            layers.kappa && kappa,
            Mark::Dot(opaque(KAPPA_SOURCE_COLOR)),
            "κ-FC source at w",
        ),
        entry(
            layers.kappa && kappa,
            Mark::Ring(opaque(KAPPA_MU_COLOR)),
            "κ-FC encoder (μ, σ)",
        ),
        entry(
            layers.field && !view.field.is_empty(),
            Mark::Line(opaque(FIELD_COLOR), opaque(FIELD_COLOR)),
            "velocity field",
        ),
        entry(
            layers.pairs && view.pairs.is_some(),
            Mark::Line(time_color(0.0, 255), time_color(1.0, 255)),
            "minibatch pairs",
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A box in the plane that grows to hold what the canvas must show.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    lo: [f32; 2],
    hi: [f32; 2],
}

impl Default for Fit {
    fn default() -> Self {
        Self {
            lo: [f32::INFINITY; 2],
            hi: [f32::NEG_INFINITY; 2],
        }
    }
}

impl Fit {
    pub fn add(&mut self, p: [f32; 2]) {
        if p.iter().all(|v| v.is_finite()) {
            for (d, v) in p.into_iter().enumerate() {
                self.lo[d] = self.lo[d].min(v);
                self.hi[d] = self.hi[d].max(v);
            }
        }
    }

    pub fn add_all(&mut self, points: &[[f32; 2]]) {
        points.iter().for_each(|&p| self.add(p));
    }

    /// The bulk of `points`: each axis from its 2nd to its 98th percentile, so a few stray
    /// samples of an untrained model do not shrink everything else to a dot.
    pub fn add_bulk(&mut self, points: &[[f32; 2]]) {
        if points.is_empty() {
            return;
        }
        let mut lo = [0.0; 2];
        let mut hi = [0.0; 2];
        for d in 0..2 {
            let mut v: Vec<f32> = points.iter().map(|p| p[d]).filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                return;
            }
            v.sort_by(f32::total_cmp);
            lo[d] = v[v.len() * 2 / 100];
            hi[d] = v[(v.len() * 98 / 100).min(v.len() - 1)];
        }
        self.add(lo);
        self.add(hi);
    }

    /// Grows this box to hold `other` too.
    pub fn add_fit(&mut self, other: &Fit) {
        if let Some((lo, hi)) = other.bounds() {
            self.add(lo);
            self.add(hi);
        }
    }

    pub fn bounds(&self) -> Option<([f32; 2], [f32; 2])> {
        self.lo[0].is_finite().then_some((self.lo, self.hi))
    }
}

/// What `view` draws with `layers` beyond its data, for the camera to fit: the mixture
/// components to 2σ (they were clipped at the canvas's edges), and the bulk of the samples, base
/// draws and pairs' base ends (the couplings' lines ran off the canvas).
pub fn view_fit(view: &View, layers: Layers, plane: &Plane) -> Fit {
    let mut fit = Fit::default();
    let model = &view.model;
    if layers.ellipses
        && let Some(m) = &model.mixture
    {
        for k in 0..m.components() {
            let mean = plane.project(m.mean(k));
            let cov = plane.project_diagonal(m.sigma(k));
            let (rx, ry) = (2.0 * cov[0].max(0.0).sqrt(), 2.0 * cov[2].max(0.0).sqrt());
            fit.add([mean[0] - rx, mean[1] - ry]);
            fit.add([mean[0] + rx, mean[1] + ry]);
        }
    }
    if layers.samples {
        fit.add_bulk(&plane.project_all(&model.samples));
    }
    if layers.base {
        fit.add_bulk(&plane.project_all(&model.base));
    }
    if layers.pairs
        && let Some((x0, _)) = &view.pairs
    {
        fit.add_bulk(&plane.project_all(x0));
    }
    fit
}

fn segment(a: [f32; 2], b: [f32; 2], color_a: [u8; 4], color_b: [u8; 4]) -> Segment {
    Segment { a, b, color_a, color_b }
}

fn points(out: &mut Vec<PointVertex>, p: &Points, plane: &Plane, color: impl Fn(usize) -> [u8; 4]) {
    out.extend(
        plane
            .project_all(p)
            .into_iter()
            .enumerate()
            .map(|(i, pos)| PointVertex { pos, color: color(i) }),
    );
}

/// The mixture as 2D Gaussians in the plane.
pub fn density_layer(m: &Mixture, plane: &Plane) -> DensityLayer {
    DensityLayer {
        components: (0..m.components())
            .map(|k| Gaussian2 {
                weight: m.weights[k],
                mean: plane.project(m.mean(k)),
                cov: plane.project_diagonal(m.sigma(k)),
            })
            .collect(),
        range: 6.0,
        opacity: 0.75,
    }
}

/// Points on the 1σ ellipse of a 2D Gaussian with covariance (xx, xy, yy).
pub fn ellipse(mean: [f32; 2], cov: [f32; 3], segments: usize) -> Vec<[f32; 2]> {
    let [a, b, c] = cov;
    // Eigen-decomposition of [[a, b], [b, c]].
    let half_trace = (a + c) / 2.0;
    let disc = (((a - c) / 2.0).powi(2) + b * b).sqrt();
    let (l1, l2) = ((half_trace + disc).max(0.0), (half_trace - disc).max(0.0));
    let angle = 0.5 * (2.0 * b).atan2(a - c);
    let (r1, r2) = (l1.sqrt(), l2.sqrt());
    let (cos, sin) = (angle.cos(), angle.sin());
    (0..=segments)
        .map(|i| {
            let th = i as f32 / segments as f32 * std::f32::consts::TAU;
            let (x, y) = (r1 * th.cos(), r2 * th.sin());
            [mean[0] + x * cos - y * sin, mean[1] + x * sin + y * cos]
        })
        .collect()
}

fn polyline(out: &mut Vec<Segment>, pts: &[[f32; 2]], color: [u8; 4]) {
    out.extend(pts.windows(2).map(|w| segment(w[0], w[1], color, color)));
}

/// σ ellipses with opacity by weight (the heaviest component fully opaque), and a cross at
/// each mean.
fn mixture_ellipses(out: &mut Vec<Segment>, m: &Mixture, plane: &Plane) {
    let heaviest = m.weights.iter().copied().fold(0.0f32, f32::max).max(1e-12);
    for k in 0..m.components() {
        let alpha = (40.0 + 215.0 * m.weights[k] / heaviest) as u8;
        let color = component_color(k, alpha);
        let mean = plane.project(m.mean(k));
        let cov = plane.project_diagonal(m.sigma(k));
        polyline(out, &ellipse(mean, cov, 64), color);
        let r = 0.35 * cov[0].max(cov[2]).sqrt();
        out.push(segment([mean[0] - r, mean[1]], [mean[0] + r, mean[1]], color, color));
        out.push(segment([mean[0], mean[1] - r], [mean[0], mean[1] + r], color, color));
    }
}

/// The advection of a view's particles, drawn in `plane`.
fn advected(a: &Advection, plane: &Plane) -> Option<Job> {
    Job::new(a.field.clone(), a.x0.data.clone(), drawn_plane(a, plane)).ok()
}

/// The map from model space to the canvas plane: the scaler's inverse (per axis, y -> lo + (y +
/// 1)·(hi - lo)/2), then the projection (x -> ((x - origin)·u, (x - origin)·v)), as one affine map.
pub fn drawn_plane(a: &Advection, plane: &Plane) -> advect::Plane {
    let dim = a.x0.dim;
    let (scale, shift): (Vec<f32>, Vec<f32>) = (0..dim)
        .map(|d| match &a.scaler {
            Some(s) => (s.half_range(d), s.lo[d] + s.half_range(d)),
            None => (1.0, 0.0),
        })
        .unzip();
    let row = |axis: &[f32]| (0..dim).map(|d| axis[d] * scale[d]).collect::<Vec<f32>>();
    let offset = |axis: &[f32]| (0..dim).map(|d| axis[d] * (shift[d] - plane.origin[d])).sum::<f32>();
    advect::Plane {
        rows: [row(&plane.u), row(&plane.v)],
        offset: [offset(&plane.u), offset(&plane.v)],
    }
}

/// Every step of every traced trajectory, with its start and end time, and each trajectory's
/// shade when the trails are coloured by curvature.
fn trails(view: &View, plane: &Plane, shades: Option<&[f32]>) -> Vec<TrailSegment> {
    let projected: Vec<Vec<[f32; 2]>> = view.model.trajectories.iter().map(|s| plane.project_all(s)).collect();
    let mut out = Vec::with_capacity(projected.len().saturating_sub(1) * projected.first().map_or(0, Vec::len));
    let shade = |i: usize| shades.map_or(0.0, |s| s[i]);
    for (k, pair) in projected.windows(2).enumerate() {
        let t = [view.model.times[k], view.model.times[k + 1]];
        let steps = pair[0].iter().zip(&pair[1]).enumerate();
        out.extend(steps.map(|(i, (&a, &b))| TrailSegment::shaded(a, b, t, shade(i))));
    }
    out
}

/// Arrows of the velocity field at the recorded time nearest to `time` (2D data only), scaled so
/// the fastest arrow spans one grid cell.
fn field(out: &mut Vec<Segment>, view: &View, time: f32) {
    let Some(slice) = view
        .field
        .iter()
        .min_by(|a, b| (a.t - time).abs().total_cmp(&(b.t - time).abs()))
    else {
        return;
    };
    debug_assert_eq!(slice.positions.len(), FIELD_GRID * FIELD_GRID);
    let (first, second) = (
        slice.positions.row(0),
        slice.positions.row(1.min(slice.positions.len() - 1)),
    );
    let cell = (second[0] - first[0]).abs().max(1e-6);
    let fastest = slice
        .velocities
        .rows()
        .map(|v| v[0].hypot(v[1]))
        .fold(0.0f32, f32::max)
        .max(1e-9);
    let scale = 0.9 * cell / fastest;
    for (p, v) in slice.positions.rows().zip(slice.velocities.rows()) {
        let tip = [p[0] + v[0] * scale, p[1] + v[1] * scale];
        let tail = [p[0], p[1]];
        let faded = [FIELD_COLOR[0], FIELD_COLOR[1], FIELD_COLOR[2], 40];
        out.push(segment(tail, tip, faded, FIELD_COLOR));
        // Arrow head: two short strokes back from the tip.
        let (dx, dy) = (tip[0] - tail[0], tip[1] - tail[1]);
        for side in [-1.0f32, 1.0] {
            let (c, s) = (0.9f32.cos(), side * 0.9f32.sin());
            let back = [tip[0] - 0.3 * (dx * c - dy * s), tip[1] - 0.3 * (dx * s + dy * c)];
            out.push(segment(tip, back, FIELD_COLOR, FIELD_COLOR));
        }
    }
}

/// MixFlow-RF: sampled data points, each linked to its encoder mean (with its 1σ ellipse), and
/// the mean linked to the point's source at w.
fn kappa(scene: &mut Scene, k: &crate::sample::KappaView, plane: &Plane) {
    let shown = k.mu.len().min(150);
    for i in 0..shown {
        let x = plane.project(k.data.row(i));
        let mu = plane.project(k.mu.row(i));
        scene.over.push(segment(x, mu, DATA_COLOR, KAPPA_MU_COLOR));
        let cov = plane.project_diagonal(k.sigma.row(i));
        polyline(
            &mut scene.over,
            &ellipse(mu, cov, 24),
            [KAPPA_MU_COLOR[0], KAPPA_MU_COLOR[1], KAPPA_MU_COLOR[2], 70],
        );
        let src = plane.project(k.source.row(i));
        scene.over.push(segment(src, mu, KAPPA_SOURCE_COLOR, KAPPA_MU_COLOR));
        scene.points.push(PointVertex {
            pos: mu,
            color: KAPPA_MU_COLOR,
        });
        scene.points.push(PointVertex {
            pos: src,
            color: KAPPA_SOURCE_COLOR,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Scaler;
    use crate::nn::FlatField;

    #[test]
    fn the_drawn_plane_unscales_and_projects_in_one_affine_map() {
        let scaler = Scaler {
            lo: vec![-3.0, 0.5, 10.0],
            hi: vec![1.0, 2.5, 30.0],
        };
        let plane = Plane {
            origin: vec![0.2, -0.1, 5.0],
            u: vec![0.6, 0.8, 0.0],
            v: vec![0.0, 0.0, 1.0],
        };
        let x0 = Points::new(3, vec![0.3, -0.9, 0.1, -1.0, 1.0, 0.5]);
        let field = FlatField {
            dim: 3,
            width: 1,
            hidden_layers: 1,
            steps: 1,
            net: Vec::new(),
            step_bias: Vec::new(),
        };
        for scaler in [Some(scaler), None] {
            let a = Advection {
                field: field.clone(),
                x0: x0.clone(),
                scaler: scaler.clone(),
            };
            let drawn = drawn_plane(&a, &plane);
            let original = scaler.as_ref().map_or(x0.clone(), |s| s.inverse(&x0));
            for (y, x) in x0.rows().zip(original.rows()) {
                let expected = plane.project(x);
                for axis in 0..2 {
                    let got: f32 = drawn.offset[axis] + (0..3).map(|d| drawn.rows[axis][d] * y[d]).sum::<f32>();
                    assert!((got - expected[axis]).abs() < 1e-5, "{got} vs {expected:?}");
                }
            }
        }
    }
}
