//! The workloads that run on a wgpu adapter (lavapipe where there is no GPU): B3 through the fused
//! advection shader, and B5, the renderer's frame time at a heavy but real load.

use super::{Figure, Sizes};
use crate::config::TrainConfig;
use crate::data::Points;
use crate::method::Method;
use crate::render::advect::{Advection, Job, Plane};
use crate::render::offscreen::{self, Frame, Target};
use crate::render::{Camera, PointVertex, Scene, Style, TrailSegment};
use crate::rng::{self, Stream};
use crate::train::Trainer;
use eframe::wgpu;
use web_time::Instant;

/// B5's trajectories are this long, its picture this large.
pub const TRAIL_POINTS: usize = 64;
pub const FRAME_SIZE: [u32; 2] = [1280, 800];
/// Frames per B5 round.
const FRAMES: usize = 30;

/// The adapter the GPU workloads run on.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
}

impl Gpu {
    pub fn new() -> anyhow::Result<Self> {
        let (device, queue, info) = offscreen::device()?;
        Ok(Self {
            device,
            queue,
            adapter: format!("{} ({:?})", info.name, info.backend),
        })
    }
}

/// B3 on the GPU: the same particles, steps and network as [`super::engine::b3`], advected by
/// `shaders/advect.wgsl` into a trails vertex buffer (nothing read back).
pub fn b3_shader(gpu: &Gpu, sizes: &Sizes) -> anyhow::Result<Figure> {
    let trainer = Trainer::new(TrainConfig {
        dataset: "moons".into(),
        method: Method::Rf,
        ..TrainConfig::default()
    })?;
    let sampler = trainer.sampler();
    let x0 = Points::new(
        2,
        rng::normals(&mut rng::seeded(0, Stream::Eval, 0), 2 * sizes.particles),
    );
    let field = sampler.flat_field(None, sizes.euler_steps)?;
    let advection = Advection::new(&gpu.device);
    let job = Job::new(field, x0.data, Plane::first_axes(2, None))?;
    let run = || -> anyhow::Result<f64> {
        let mut particles = advection.prepare(&gpu.device, &gpu.queue, &job)?;
        let started = Instant::now();
        advection.run(&gpu.device, &gpu.queue, &mut particles);
        Ok((sizes.particles * sizes.euler_steps) as f64 / started.elapsed().as_secs_f64())
    };
    run()?; // compiles the kernel
    let rounds = (0..sizes.repeats).map(|_| run()).collect::<Result<Vec<_>, _>>()?;
    let detail = format!(
        "{} particles × {} Euler steps, advect.wgsl on {}",
        sizes.particles, sizes.euler_steps, gpu.adapter
    );
    Ok(Figure::new(
        "B3-shader",
        "Euler advection (shader)",
        "particle-steps/s",
        true,
        &rounds,
        detail,
    ))
}

/// B5: the canvas at `render_particles` points and `trajectories` trails of [`TRAIL_POINTS`]
/// points with their particles, drawn into a [`FRAME_SIZE`] image while the play-back time moves
/// (as it does every frame in the app); milliseconds per frame, the GPU's work included. The time
/// runs on across rounds, from 0 to 1 in 60 frames and round again.
pub fn b5(gpu: &Gpu, sizes: &Sizes) -> anyhow::Result<Figure> {
    let rounds = frame_rounds(gpu, sizes, |_| [0.0, 0.0]);
    let detail = format!("play-back, {}", b5_detail(gpu, sizes));
    Ok(Figure::new("B5", "frame time", "ms/frame", false, &rounds, detail))
}

/// B5 with the camera panning by a pixel every frame: every layer is drawn again, as in the first
/// frame after each new snapshot of a training run, or while the view is dragged.
pub fn b5_redrawn(gpu: &Gpu, sizes: &Sizes) -> anyhow::Result<Figure> {
    let rounds = frame_rounds(gpu, sizes, |k| [k as f32, 0.0]);
    let detail = format!("camera panning, {}", b5_detail(gpu, sizes));
    let name = "frame time, all redrawn";
    Ok(Figure::new("B5-redrawn", name, "ms/frame", false, &rounds, detail))
}

/// Milliseconds per frame of B5's scene, one figure per round of [`FRAMES`] frames, the camera's
/// centre moved by `pan(frame)` pixels.
fn frame_rounds(gpu: &Gpu, sizes: &Sizes, pan: impl Fn(usize) -> [f32; 2]) -> Vec<f64> {
    let scene = heavy_scene(sizes.render_particles, sizes.trajectories);
    let mut target = Target::new(&gpu.device, &gpu.queue, &scene, FRAME_SIZE);
    let size = [FRAME_SIZE[0] as f32, FRAME_SIZE[1] as f32];
    let frame = |k: usize| {
        let mut camera = Camera::fit([-4.0, -4.0], [4.0, 4.0], size);
        let [dx, dy] = pan(k).map(|px| px * camera.units_per_point);
        camera.center = [camera.center[0] + dx, camera.center[1] + dy];
        Frame {
            camera,
            style: Style::default(),
            time: (k % 60) as f32 / 59.0,
            size: FRAME_SIZE,
            background: [20, 22, 28, 255],
        }
    };
    target.draw(&gpu.device, &gpu.queue, &frame(0)); // compiles the pipelines
    (0..sizes.repeats)
        .map(|round| {
            let started = Instant::now();
            for k in 0..FRAMES {
                target.draw(&gpu.device, &gpu.queue, &frame(1 + round * FRAMES + k));
            }
            started.elapsed().as_secs_f64() * 1e3 / FRAMES as f64
        })
        .collect()
}

fn b5_detail(gpu: &Gpu, sizes: &Sizes) -> String {
    format!(
        "{} particles, {} trajectories × {TRAIL_POINTS}, {}×{} px, {}",
        sizes.render_particles, sizes.trajectories, FRAME_SIZE[0], FRAME_SIZE[1], gpu.adapter
    )
}

/// Points scattered over the view and spiralling trails, as a trained model's view looks.
fn heavy_scene(particles: usize, trajectories: usize) -> Scene {
    let mut rng = rng::seeded(0, Stream::Display, 0);
    let normals = rng::normals(&mut rng, 2 * particles.max(trajectories));
    let points = normals
        .chunks(2)
        .take(particles)
        .map(|p| PointVertex {
            pos: [1.5 * p[0], 1.5 * p[1]],
            color: [90, 200, 250, 200],
        })
        .collect();
    let steps = TRAIL_POINTS - 1;
    let times: Vec<f32> = (0..TRAIL_POINTS).map(|k| k as f32 / steps as f32).collect();
    let at = |start: &[f32], t: f32| {
        let (s, c) = (2.0 * t).sin_cos();
        let r = 1.0 + t;
        [r * (c * start[0] - s * start[1]), r * (s * start[0] + c * start[1])]
    };
    let mut trails = Vec::with_capacity(steps * trajectories);
    for k in 0..steps {
        for start in normals.chunks(2).take(trajectories) {
            trails.push(TrailSegment::new(
                at(start, times[k]),
                at(start, times[k + 1]),
                [times[k], times[k + 1]],
            ));
        }
    }
    Scene {
        points,
        trails,
        trail_times: times,
        show_trails: true,
        show_particles: true,
        ..Scene::default()
    }
}
