//! The GPU backend (burn wgpu; Mesa's lavapipe where there is no GPU) against the CPU backend:
//! the same initial weights and data give the same loss curve. Kept to one small test, since
//! lavapipe compiles its kernels for minutes before the first step.

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
