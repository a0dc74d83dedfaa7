//! The GPU paths (Mesa's lavapipe where there is no GPU) against the CPU: burn's wgpu backend gives
//! the CPU backend's loss curve, and the particle-advection shader gives burn's trajectories. Kept
//! few and small, since lavapipe compiles burn's kernels for minutes before the first step.

use mixflow::backend::BackendKind;
use mixflow::config::TrainConfig;
use mixflow::train::Trainer;

#[test]
fn gpu_loss_curve_matches_cpu() {
    let config = TrainConfig {
        dataset: "moons".into(),
        steps: 20,
        ..TrainConfig::default()
    };
    let curve = |backend: BackendKind| {
        let device = backend
            .device()
            .unwrap_or_else(|e| panic!("{e} (install mesa-vulkan-drivers)"));
        let mut t = Trainer::on_device(config.clone(), device).unwrap();
        (0..20)
            .map(|_| t.step().unwrap().losses.flow.unwrap())
            .collect::<Vec<f32>>()
    };
    let (cpu, gpu) = (curve(BackendKind::Cpu), curve(BackendKind::Gpu));
    for (step, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
        assert!((c - g).abs() <= 1e-3 * c.abs(), "step {}: cpu {c}, gpu {g}", step + 1);
    }
}

/// The fused advection kernel (shaders/advect.wgsl, on lavapipe here) against burn's forward pass
/// on the CPU: the same base samples, Euler steps and trained weights give the same trails to
/// 1e-4 at every step. Covers a plain field (raw t), a conditional one with sinusoidal time and
/// the descriptor re-fed at every layer (both folded into biases), and data trained scaled.
#[test]
fn advection_shader_matches_burns_forward() {
    use mixflow::method::Method;
    use mixflow::nn::TimeEmbedding;
    use mixflow::render::TrailSegment;
    use mixflow::render::advect::{Advection, Job, Plane, read_buffer};
    use mixflow::render::offscreen;
    use mixflow::solve::SolveOptions;

    let (device, queue, _) = offscreen::device().unwrap_or_else(|e| panic!("{e} (install mesa-vulkan-drivers)"));
    let advection = Advection::new(&device);
    let cases = [
        ("moons", Method::Rf, TimeEmbedding::Raw, false),
        ("letters", Method::MixflowOod, TimeEmbedding::Sinusoidal, true),
        ("8gaussians", Method::MixflowOod, TimeEmbedding::Raw, false),
    ];
    for (dataset, method, time_embedding, refeed) in cases {
        let mut trainer = mixflow::train::Trainer::new(TrainConfig {
            dataset: dataset.into(),
            method,
            steps: 30,
            time_embedding,
            refeed,
            pretrain_steps: 20,
            ..TrainConfig::default()
        })
        .unwrap();
        while !trainer.is_finished() {
            trainer.step().unwrap();
        }
        let sampler = trainer.sampler();
        let descriptor = trainer.dataset.conditions.first().map(|c| c.descriptor.clone());
        let (n, steps) = (300, 50);
        let x0 = sampler
            .base(
                descriptor.as_deref(),
                n,
                &mut mixflow::rng::seeded(1, mixflow::rng::Stream::Eval, 0),
            )
            .unwrap()
            .points;
        let field = sampler.flat_field(descriptor.as_deref(), steps).unwrap();
        let scale = sampler.scaler.as_ref().map(|s| (s.lo.as_slice(), s.hi.as_slice()));
        let job = Job::new(field, x0.data.clone(), Plane::first_axes(2, scale)).unwrap();
        let mut particles = advection.prepare(&device, &queue, &job).unwrap();
        advection.run(&device, &queue, &mut particles);
        let trails: Vec<TrailSegment> = read_buffer(&device, &queue, &particles.segments);
        let reference = sampler
            .generate_with_burn(descriptor.as_deref(), &x0, &SolveOptions::euler(steps), true)
            .unwrap();
        let mut worst = 0.0f32;
        for k in 0..steps {
            let (t, points) = &reference.trajectory[k + 1];
            for i in 0..n {
                let segment = trails[k * n + i];
                assert!(
                    (segment.t[1] - t).abs() < 1e-6,
                    "{dataset}: step {k} ends at {}",
                    segment.t[1]
                );
                for d in 0..2 {
                    worst = worst.max((segment.b[d] - points.row(i)[d]).abs());
                }
            }
        }
        eprintln!("{dataset} ({method:?}): largest difference {worst:e}");
        assert!(
            worst <= 1e-4,
            "{dataset} ({method:?}): shader and burn differ by {worst}"
        );
    }
}
