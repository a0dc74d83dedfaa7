//! The canvas layers rendered for real (WGSL on lavapipe, or a GPU), checked pixel by pixel:
//! points, ellipses and the density heat map land where their data says, and a trained model's
//! mixture ellipses and samples land where the model puts them.

use mixflow::app::scene::{self, Layers, SceneInput};
use mixflow::config::TrainConfig;
use mixflow::method::Method;
use mixflow::projection::{Plane, Projection};
use mixflow::render::offscreen::{self, Frame};
use mixflow::render::{Camera, DensityLayer, Gaussian2, PointVertex, Scene, Segment, Style, TrailSegment};
use mixflow::train::Trainer;
use mixflow_live::{ViewRequest, make_view};

const BACKGROUND: [u8; 4] = [0, 0, 0, 255];
const SIZE: u32 = 200;

fn pixel(img: &image::RgbaImage, p: [f32; 2]) -> [u8; 4] {
    img.get_pixel(p[0].round() as u32, p[1].round() as u32).0
}

/// Whether any pixel within `r` of `p` differs from the background.
fn drawn_near(img: &image::RgbaImage, p: [f32; 2], r: i32) -> bool {
    (-r..=r).any(|dy| {
        (-r..=r).any(|dx| {
            let (x, y) = (p[0].round() as i32 + dx, p[1].round() as i32 + dy);
            x >= 0
                && y >= 0
                && (x as u32) < img.width()
                && (y as u32) < img.height()
                && img.get_pixel(x as u32, y as u32).0 != BACKGROUND
        })
    })
}

/// Pixel coordinates of a data point for a camera over an image of `size` (one pixel per point).
fn to_pixel(camera: &Camera, size: [u32; 2], p: [f32; 2]) -> [f32; 2] {
    let o = camera.to_screen(p);
    [size[0] as f32 / 2.0 + o[0], size[1] as f32 / 2.0 + o[1]]
}

#[test]
fn layers_draw_where_their_data_says() {
    let (device, queue, _) = offscreen::device().expect("a Vulkan device (lavapipe) for rendering tests");
    // 0.01 units per pixel: the 200-pixel image shows [-1, 1]², y up.
    let camera = Camera {
        center: [0.0, 0.0],
        units_per_point: 0.01,
    };
    let size = [SIZE, SIZE];
    let ellipse = scene::ellipse([-0.5, 0.5], [0.04, 0.0, 0.04], 64);
    let scene = Scene {
        density: Some(DensityLayer {
            components: vec![Gaussian2 {
                weight: 1.0,
                mean: [0.5, 0.5],
                cov: [0.01, 0.0, 0.01],
            }],
            range: 6.0,
            opacity: 1.0,
        }),
        under: Vec::new(),
        // One trajectory across the top, from t = 0 at x = -0.8 to t = 1 at x = 0.8.
        trails: vec![
            TrailSegment::new([-0.8, 0.9], [0.0, 0.9], [0.0, 0.5]),
            TrailSegment::new([0.0, 0.9], [0.8, 0.9], [0.5, 1.0]),
        ],
        trail_times: vec![0.0, 0.5, 1.0],
        show_trails: true,
        show_particles: true,
        points: vec![
            PointVertex {
                pos: [0.5, -0.5],
                color: [255, 0, 0, 255],
            },
            PointVertex {
                pos: [-0.5, -0.5],
                color: [0, 255, 0, 255],
            },
        ],
        over: ellipse
            .windows(2)
            .map(|w| Segment {
                a: w[0],
                b: w[1],
                color_a: [0, 0, 255, 255],
                color_b: [0, 0, 255, 255],
            })
            .collect(),
        advected: None,
    };
    let frame = Frame {
        camera,
        style: Style {
            point_radius: 3.0,
            line_width: 2.0,
            ..Style::default()
        },
        time: 0.25,
        size,
        background: BACKGROUND,
    };
    let img = offscreen::render(&device, &queue, &scene, &frame);

    // Points: red at (0.5, -0.5) -> pixel (150, 150); green at (-0.5, -0.5) -> (50, 150).
    let red = pixel(&img, to_pixel(&camera, size, [0.5, -0.5]));
    assert!(red[0] > 240 && red[1] < 20 && red[2] < 20, "red point drawn as {red:?}");
    let green = pixel(&img, to_pixel(&camera, size, [-0.5, -0.5]));
    assert!(green[1] > 240 && green[0] < 20, "green point drawn as {green:?}");
    assert_eq!(pixel(&img, [100.0, 150.0]), BACKGROUND, "nothing between the points");

    // Ellipse: radius 0.2 around (-0.5, 0.5): its rim at (-0.3, 0.5) is blue, its inside is empty.
    let rim = pixel(&img, to_pixel(&camera, size, [-0.3, 0.5]));
    assert!(rim[2] > 150 && rim[0] < 30, "ellipse rim drawn as {rim:?}");
    let rim_top = pixel(&img, to_pixel(&camera, size, [-0.5, 0.7]));
    assert!(rim_top[2] > 150, "ellipse top drawn as {rim_top:?}");
    assert_eq!(pixel(&img, to_pixel(&camera, size, [-0.44, 0.44])), BACKGROUND);

    // Trail and particle at t = 0.25: the trail runs from x = -0.8 to the particle at x = -0.4,
    // which is white; the rest of the trajectory is not drawn yet.
    let particle = pixel(&img, to_pixel(&camera, size, [-0.4, 0.9]));
    assert!(
        particle.iter().take(3).all(|&c| c > 200),
        "particle drawn as {particle:?}"
    );
    assert!(
        drawn_near(&img, to_pixel(&camera, size, [-0.7, 0.9]), 0),
        "the trail behind the particle"
    );
    assert_eq!(
        pixel(&img, to_pixel(&camera, size, [0.3, 0.9])),
        BACKGROUND,
        "the trail ahead of it"
    );
    // At t = 1 the particle has reached the end and the whole trail is drawn.
    let done = offscreen::render(&device, &queue, &scene, &Frame { time: 1.0, ..frame });
    assert!(
        pixel(&done, to_pixel(&camera, size, [0.8, 0.9]))
            .iter()
            .take(3)
            .all(|&c| c > 200)
    );
    assert!(drawn_near(&done, to_pixel(&camera, size, [0.3, 0.9]), 0));

    // Density: brightest at its mean (0.5, 0.5), fading with distance, nothing far away.
    let brightness = |p: [f32; 2]| {
        pixel(&img, to_pixel(&camera, size, p))[..3]
            .iter()
            .map(|&c| c as u32)
            .sum::<u32>()
    };
    let (peak, one_sigma, three_sigma) = (brightness([0.5, 0.5]), brightness([0.6, 0.5]), brightness([0.8, 0.5]));
    assert!(peak > 400, "density peak brightness {peak}");
    assert!(
        peak > one_sigma && one_sigma > three_sigma,
        "{peak} > {one_sigma} > {three_sigma}"
    );
    assert_eq!(pixel(&img, to_pixel(&camera, size, [0.5, -0.95])), BACKGROUND);
    // The shader's density agrees with the CPU formula it mirrors.
    let layer = scene.density.as_ref().unwrap();
    let expected = -(2.0 * std::f32::consts::PI * 0.01).ln();
    assert!((layer.log_density([0.5, 0.5]) - expected).abs() < 1e-4);
}

#[test]
fn a_trained_models_mixture_and_samples_are_drawn_where_the_model_puts_them() {
    let config = TrainConfig {
        dataset: "moons".into(),
        method: Method::MixflowOod,
        steps: 40,
        pretrain_steps: 40,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(config).unwrap();
    while !trainer.is_finished() {
        trainer.step().unwrap();
    }
    let request = ViewRequest {
        particles: 500,
        trajectories: 20,
        euler_steps: 10,
        ..ViewRequest::default()
    };
    let view = make_view(&trainer, &request).unwrap();
    let mixture = view.model.mixture.clone().expect("MixFlow-OOD has a mixture base");
    let data = view.data.clone().unwrap();
    let plane = Plane::new(Projection::Pca, &data);
    let layers = Layers {
        data: false,
        samples: true,
        base: false,
        ellipses: true,
        density: false,
        trails: false,
        curvature: false,
        particles: false,
        field: false,
        kappa: false,
        pairs: false,
    };
    let scene = scene::build(&SceneInput {
        view: &view,
        layers,
        plane: &plane,
        field_time: 1.0,
        curvature_scale: None,
    });
    // Frame every component's ellipse (an early model's means can sit far from the data).
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for k in 0..mixture.components() {
        for d in 0..2 {
            lo[d] = lo[d].min(mixture.mean(k)[d] - 1.5 * mixture.sigma(k)[d]);
            hi[d] = hi[d].max(mixture.mean(k)[d] + 1.5 * mixture.sigma(k)[d]);
        }
    }
    let size = [400, 400];
    let camera = Camera::fit(lo, hi, [400.0, 400.0]);
    let (device, queue, _) = offscreen::device().unwrap();
    let frame = Frame {
        camera,
        style: Style::default(),
        time: 1.0,
        size,
        background: BACKGROUND,
    };
    let img = offscreen::render(&device, &queue, &scene, &frame);

    // Every component's σ ellipse passes through mean ± σ along x.
    for k in 0..mixture.components() {
        let (m, s) = (mixture.mean(k), mixture.sigma(k));
        for p in [[m[0] + s[0], m[1]], [m[0] - s[0], m[1]]] {
            let px = to_pixel(&camera, size, p);
            assert!(
                drawn_near(&img, px, 1),
                "component {k}: nothing drawn at {p:?} (pixel {px:?})"
            );
        }
    }
    // Every sample inside the frame is drawn.
    for s in view.model.samples.rows().take(200) {
        let px = to_pixel(&camera, size, [s[0], s[1]]);
        if px.iter().all(|&c| (2.0..398.0).contains(&c)) {
            assert!(drawn_near(&img, px, 1), "sample {s:?} not drawn at pixel {px:?}");
        }
    }
    // And well away from every sample and ellipse, nothing is drawn.
    assert_eq!(pixel(&img, [2.0, 2.0]), BACKGROUND);
}

/// Trails advected on the GPU (shaders/advect.wgsl writing the trails layer's vertex buffer) draw
/// the picture that burn's trajectories, uploaded from the CPU, draw: trails cut at the scrubbed
/// time and particles riding them.
#[test]
fn trails_advected_on_the_gpu_draw_what_burns_trajectories_draw() {
    use mixflow::render::advect::{Job, Plane as DrawnPlane};
    use mixflow::solve::SolveOptions;
    let mut trainer = Trainer::new(TrainConfig {
        dataset: "moons".into(),
        steps: 40,
        ..TrainConfig::default()
    })
    .unwrap();
    while !trainer.is_finished() {
        trainer.step().unwrap();
    }
    let sampler = trainer.sampler();
    let steps = 32;
    let x0 = sampler
        .base(None, 400, &mut mixflow::rng::seeded(5, mixflow::rng::Stream::Eval, 0))
        .unwrap()
        .points;
    let traced = sampler
        .generate_with_burn(None, &x0, &SolveOptions::euler(steps), true)
        .unwrap();
    let mut trails = Vec::new();
    for k in 0..steps {
        let ((ta, a), (tb, b)) = (&traced.trajectory[k], &traced.trajectory[k + 1]);
        for i in 0..x0.len() {
            trails.push(TrailSegment::new(
                [a.row(i)[0], a.row(i)[1]],
                [b.row(i)[0], b.row(i)[1]],
                [*ta, *tb],
            ));
        }
    }
    let on_cpu = Scene {
        trails,
        trail_times: traced.trajectory.iter().map(|(t, _)| *t).collect(),
        show_trails: true,
        show_particles: true,
        ..Scene::default()
    };
    let field = sampler.flat_field(None, steps).unwrap();
    let job = Job::new(field, x0.data.clone(), DrawnPlane::first_axes(2, None)).unwrap();
    let on_gpu = Scene {
        advected: Some(mixflow::render::Advected {
            job: std::sync::Arc::new(job),
            traced: 400,
            samples_at: None,
        }),
        show_trails: true,
        show_particles: true,
        ..Scene::default()
    };
    assert_same_picture(&on_cpu, &on_gpu, ([-4.0, -3.0], [4.0, 3.0]), 2000);

    // A scene rebuilt around the same job (another layer shown) keeps its trails; another job
    // runs the kernel again.
    let (device, queue, _) = offscreen::device().unwrap();
    let frame = Frame {
        camera: Camera::fit([-4.0, -3.0], [4.0, 3.0], [300.0, 300.0]),
        style: Style::default(),
        time: 0.6,
        size: [300, 300],
        background: BACKGROUND,
    };
    let trails_only = Scene {
        show_particles: false,
        ..on_gpu.clone()
    };
    let mut target = offscreen::Target::new(&device, &queue, &trails_only, [300, 300]);
    assert!(!target.show(&device, &queue, &on_gpu, 1), "the same job advected again");
    target.draw(&device, &queue, &frame);
    assert_eq!(
        target.read(&device, &queue),
        offscreen::render(&device, &queue, &on_gpu, &frame)
    );
    let mut moved = on_gpu.clone();
    let advected = moved.advected.as_mut().unwrap();
    let mut job = (*advected.job).clone();
    job.x0[0] += 0.5;
    advected.job = std::sync::Arc::new(job);
    assert!(target.show(&device, &queue, &moved, 2), "a new job not advected");
}

/// Both scenes drawn at t = 0.6 over `area` (300 × 300 pixels): more than `least` pixels drawn,
/// and no more than one in a thousand of them different.
fn assert_same_picture(expected: &Scene, drawn: &Scene, area: ([f32; 2], [f32; 2]), least: usize) {
    let (device, queue, _) = offscreen::device().unwrap();
    let frame = Frame {
        camera: Camera::fit(area.0, area.1, [300.0, 300.0]),
        style: Style::default(),
        time: 0.6,
        size: [300, 300],
        background: BACKGROUND,
    };
    let (expected, got) = (
        offscreen::render(&device, &queue, expected, &frame),
        offscreen::render(&device, &queue, drawn, &frame),
    );
    let lit = expected.pixels().filter(|p| p.0 != BACKGROUND).count();
    assert!(lit > least, "only {lit} pixels drawn");
    let differing = expected
        .pixels()
        .zip(got.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > 2))
        .count();
    assert!(differing * 1000 <= lit, "{differing} of {lit} drawn pixels differ");
}

/// The cached layers change no picture: a target that caches, drawing frame after frame while the
/// play-back time moves forward and back and the camera pans and zooms, draws what a target that
/// draws every layer every frame draws, to the cache's 8-bit rounding.
#[test]
fn cached_layers_draw_what_drawing_every_layer_draws() {
    let (device, queue, _) = offscreen::device().expect("a Vulkan device (lavapipe) for rendering tests");
    let size = [160, 120];
    // Enough points and trail steps to be worth caching on this canvas, crossing one another.
    let wave = |k: usize, s: f32| ((k as f32 * 0.37 + s).sin(), (k as f32 * 0.73 + 2.0 * s).cos());
    let points = (0..400)
        .map(|k| {
            let (x, y) = wave(k, 0.0);
            PointVertex {
                pos: [x, y],
                color: [(k * 37 % 256) as u8, 120, 200, 180],
            }
        })
        .collect();
    let steps = 16;
    let trail_times: Vec<f32> = (0..=steps).map(|k| k as f32 / steps as f32).collect();
    let at = |j: usize, t: f32| {
        let (x, y) = wave(j, 0.0);
        [x * (1.0 - t) + 0.5 * t * y, y * (1.0 - t) - 0.5 * t * x]
    };
    let trails = (0..steps)
        .flat_map(|k| {
            let (t0, t1) = (trail_times[k], trail_times[k + 1]);
            (0..60).map(move |j| TrailSegment::new(at(j, t0), at(j, t1), [t0, t1]))
        })
        .collect();
    let scene = Scene {
        trails,
        trail_times,
        show_trails: true,
        show_particles: true,
        points,
        ..Scene::default()
    };
    let mut cached = offscreen::Target::new(&device, &queue, &scene, size);
    let mut direct = offscreen::Target::new(&device, &queue, &scene, size).without_cache();
    let camera = Camera::fit([-1.5, -1.5], [1.5, 1.5], [size[0] as f32, size[1] as f32]);
    let panned = Camera {
        center: [0.1, -0.05],
        ..camera
    };
    let zoomed = Camera {
        units_per_point: camera.units_per_point * 0.8,
        ..panned
    };
    let frames = [
        (camera, 0.0),
        (camera, 0.2),
        (camera, 0.21),
        (camera, 0.7),
        (camera, 1.0),
        (camera, 0.4), // back in time
        (panned, 0.4),
        (zoomed, 0.9),
    ];
    for (camera, time) in frames {
        let frame = Frame {
            camera,
            style: Style::default(),
            time,
            size,
            background: [20, 22, 28, 255],
        };
        cached.draw(&device, &queue, &frame);
        direct.draw(&device, &queue, &frame);
        assert_eq!(cached.cached(), (true, true), "both layers are worth caching here");
        assert_eq!(direct.cached(), (false, false));
        let (a, b) = (cached.read(&device, &queue), direct.read(&device, &queue));
        let diffs: Vec<i32> = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| (x as i32 - y as i32).abs())
            .collect();
        let worst = diffs.iter().max().copied().unwrap_or(0);
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        assert!(worst <= 3 && mean < 0.05, "at t = {time}: worst {worst}, mean {mean}");
        assert!(
            a.pixels().filter(|p| p.0 != [20, 22, 28, 255]).count() > 1000,
            "a picture was drawn"
        );
    }
}

/// A view whose particles the GPU advects (the app's choice on a hardware GPU, forced here on
/// lavapipe) draws the picture of the view the CPU integrates: samples, trails and particles, in
/// 8 dimensions scaled to [-1, 1] and seen through their principal plane. The CPU integrates
/// only the particles the metrics use, and those are the same.
#[test]
fn a_view_advected_on_the_gpu_draws_what_the_cpu_view_draws() {
    let mut config = TrainConfig {
        dataset: "lowdim-perturbation".into(),
        method: Method::MixflowOod,
        steps: 30,
        pretrain_steps: 10,
        ..TrainConfig::default()
    };
    config.dim = Some(8);
    let mut trainer = Trainer::new(config).unwrap();
    while !trainer.is_finished() {
        trainer.step().unwrap();
    }
    let on_cpu = ViewRequest {
        particles: 1500,
        trajectories: 60,
        euler_steps: 12,
        ..ViewRequest::default()
    };
    let on_gpu = ViewRequest {
        advect: Some(mixflow::render::advect::LIMITS),
        ..on_cpu.clone()
    };
    let (cpu, gpu) = (
        make_view(&trainer, &on_cpu).unwrap(),
        make_view(&trainer, &on_gpu).unwrap(),
    );
    assert!(cpu.model.advection.is_none());
    let advection = gpu
        .model
        .advection
        .as_ref()
        .expect("the GPU view carries its particles");
    assert_eq!(advection.x0.len(), 1500);
    assert_eq!(
        gpu.model.samples.len(),
        500,
        "the CPU integrates the metrics' particles"
    );
    assert_eq!(gpu.model.samples.data[..], cpu.model.samples.data[..500 * 8]);
    assert_eq!(gpu.model.trajectories.len(), 13);

    let plane = Plane::new(Projection::Pca, cpu.data.as_ref().unwrap());
    let layers = Layers {
        data: false,
        samples: true,
        base: false,
        ellipses: false,
        density: false,
        trails: true,
        curvature: false,
        particles: true,
        field: false,
        kappa: false,
        pairs: false,
    };
    let scene_of = |view| {
        scene::build(&SceneInput {
            view,
            layers,
            plane: &plane,
            field_time: 1.0,
            curvature_scale: None,
        })
    };
    let (cpu_scene, gpu_scene) = (scene_of(&cpu), scene_of(&gpu));
    assert!(
        gpu_scene.trails.is_empty() && gpu_scene.points.is_empty(),
        "nothing from the CPU"
    );
    let advected = gpu_scene.advected.as_ref().unwrap();
    assert_eq!((advected.traced, advected.samples_at), (60, Some(0)));

    let projected = plane.project_all(&cpu.model.samples);
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in &projected {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    assert_same_picture(&cpu_scene, &gpu_scene, (lo, hi), 3000);
}

/// Pixels of two images of one size whose colour differs by more than a faint anti-aliased edge
/// (a channel by more than 24, the snapshot tests' tolerance).
fn changed_pixels(a: &image::RgbaImage, b: &image::RgbaImage) -> usize {
    let differs = |p: &image::Rgba<u8>, q: &image::Rgba<u8>| p.0.iter().zip(q.0).any(|(x, y)| x.abs_diff(y) > 24);
    a.pixels().zip(b.pixels()).filter(|(p, q)| differs(p, q)).count()
}

#[test]
fn a_kept_step_draws_with_the_noise_of_every_view_and_trails_colour_by_curvature() {
    use mixflow::render::TrailColour;
    let (device, queue, _) = offscreen::device().unwrap();
    let config = TrainConfig {
        dataset: "moons".into(),
        method: Method::Rf,
        steps: 40,
        ..TrainConfig::default()
    };
    let request = ViewRequest {
        particles: 400,
        trajectories: 60,
        euler_steps: 12,
        ..ViewRequest::default()
    };
    let camera = Camera::fit([-2.0, -1.5], [3.0, 2.0], [300.0, 300.0]);
    let draw = |trainer: &Trainer, trail_colour: TrailColour| {
        let view = make_view(trainer, &request).unwrap();
        let by_curvature = trail_colour == TrailColour::Curvature;
        let layers = Layers {
            curvature: by_curvature,
            ..Layers::default()
        };
        let plane = Plane::new(Projection::Pca, view.data.as_ref().unwrap());
        let scale = by_curvature
            .then(|| scene::curvature_scale(std::iter::once(&view)))
            .flatten();
        let scene = scene::build(&SceneInput {
            view: &view,
            layers,
            plane: &plane,
            field_time: 1.0,
            curvature_scale: scale,
        });
        let style = Style {
            trail_colour,
            ..Style::default()
        };
        let frame = Frame {
            camera,
            style,
            time: 0.6,
            size: [300, 300],
            background: BACKGROUND,
        };
        offscreen::render(&device, &queue, &scene, &frame)
    };
    let mut trainer = Trainer::new(config.clone()).unwrap();
    for _ in 0..20 {
        trainer.step().unwrap();
    }
    let kept = pollster::block_on(trainer.cached_start()).unwrap();
    let at_20 = draw(&trainer, TrailColour::Time);
    for _ in 0..20 {
        trainer.step().unwrap();
    }
    let at_40 = draw(&trainer, TrailColour::Time);
    // The state kept at step 20, reloaded as the training scrubber does: the same noise and
    // (within f16 weights) the same model draw the same picture, twice alike; step 40 another.
    let mut replay = Trainer::new(config).unwrap();
    replay.start_from(&kept).unwrap();
    let (again, twice) = (draw(&replay, TrailColour::Time), draw(&replay, TrailColour::Time));
    assert_eq!(changed_pixels(&again, &twice), 0);
    let (near, far) = (changed_pixels(&at_20, &again), changed_pixels(&at_20, &at_40));
    assert!(
        far > 2000 && near * 10 < far,
        "step 20 reloaded: {near} pixels changed, step 40: {far}"
    );
    // Coloured by curvature, the trails change colour but not place.
    let by_curvature = draw(&trainer, TrailColour::Curvature);
    let recoloured = changed_pixels(&at_40, &by_curvature);
    let background = |img: &image::RgbaImage| img.pixels().filter(|p| p.0 == BACKGROUND).count();
    assert!(recoloured > 500, "only {recoloured} pixels changed colour");
    assert_eq!(background(&at_40), background(&by_curvature));
}
