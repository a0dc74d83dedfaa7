//! B1 to B4 on the engine, on any burn backend: the training step of RF and of MixFlow-OOD, Euler
//! advection of particles through the reference MLP, and the wall time of training to a quality.
//! `bench/torch_ref.py` mirrors each function here; keep the two in step.

use super::{Figure, Sizes, rate};
use crate::backend::BackendKind;
use crate::config::TrainConfig;
use crate::data::{Dataset, Points, Split};
use crate::method::Method;
use crate::metrics;
use crate::rng::{self, Stream};
use crate::solve::SolveOptions;
use crate::train::Trainer;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::Path;
use web_time::{Duration, Instant};

/// Every training round runs at least this long (and steps before it are warm-up).
const ROUND: Duration = Duration::from_millis(600);
const WARMUP_STEPS: usize = 20;

/// B4's protocol: check every this many steps, with this many samples, Euler with this many
/// steps; give up after `B4_MAX_STEPS`.
pub const B4_CHECK_EVERY: usize = 100;
pub const B4_SAMPLES: usize = 2000;
pub const B4_EULER_STEPS: usize = 100;
pub const B4_MAX_STEPS: usize = 20_000;
/// B4 stops at W2 ≤ floor + this margin (the "floor + 0.1").
pub const B4_MARGIN: f64 = 0.1;

/// A run that never finishes on its own (benchmarks stop it).
fn config(dataset: &str, method: Method, batch: usize, backend: BackendKind, seed: u64) -> TrainConfig {
    TrainConfig {
        dataset: dataset.into(),
        method,
        batch,
        backend,
        seed,
        steps: 10_000_000,
        ..TrainConfig::default()
    }
}

/// B2's run: letters, 8 groups of 64, K = 8, flow and base steps alternating from the start
/// (one base step in ten), as in the middle of a MixFlow-OOD run.
pub fn b2_config(backend: BackendKind) -> TrainConfig {
    TrainConfig {
        groups: 8,
        components: 8,
        warmup: 0.0,
        cooldown: 0.0,
        ..config("letters", Method::MixflowOod, 8 * 64, backend, 0)
    }
}

/// `once` done `WARMUP_STEPS` times, then `repeats` timed rounds of it: times per second.
fn per_second(repeats: usize, mut once: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<f64>> {
    for _ in 0..WARMUP_STEPS {
        once()?;
    }
    (0..repeats)
        .map(|_| {
            rate(ROUND, || {
                once()?;
                Ok(1)
            })
        })
        .collect()
}

fn steps_per_second(trainer: &mut Trainer, repeats: usize) -> anyhow::Result<Vec<f64>> {
    per_second(repeats, || trainer.step().map(drop).map_err(Into::into))
}

/// B1: RF on moons, the reference MLP, Adam 1e-3: training steps per second.
pub fn b1(sizes: &Sizes, backend: BackendKind) -> anyhow::Result<Figure> {
    let mut trainer = Trainer::new(config("moons", Method::Rf, sizes.batch, backend, 0))?;
    let rounds = steps_per_second(&mut trainer, sizes.repeats)?;
    let detail = format!("rf, moons, batch {}, {}", sizes.batch, backend.name());
    Ok(Figure::new("B1", "RF train step", "steps/s", true, &rounds, detail))
}

/// B2: MixFlow-OOD on letters, 8 groups × 64, K = 8, exact OT inside each group: steps per second.
pub fn b2(sizes: &Sizes, backend: BackendKind) -> anyhow::Result<Figure> {
    let mut trainer = Trainer::new(b2_config(backend))?;
    let rounds = steps_per_second(&mut trainer, sizes.repeats)?;
    let detail = format!("mixflow-ood, letters, 8×64, K=8, base step 1 in 10, {}", backend.name());
    Ok(Figure::new(
        "B2",
        "MixFlow-OOD train step",
        "steps/s",
        true,
        &rounds,
        detail,
    ))
}

/// B1's products alone: its hidden layer, x [batch × 128] · W [128 × 128] + b then SiLU, forward,
/// without autodiff, in GFLOP/s of the product (2 · batch · 128 · 128 per call). A B1 step is
/// six such products and little else, so beside B1 this says how much of a step's rate is the
/// products' (`web/bench.sh` sets the browser's beside native's, as it does B1).
pub fn b1_layer(sizes: &Sizes, backend: BackendKind) -> anyhow::Result<Figure> {
    use burn::tensor::{Tensor, TensorData};
    const WIDTH: usize = 128;
    let device = backend.device()?;
    let mut rng = rng::seeded(0, Stream::Eval, 0);
    let layer = crate::nn::linear(WIDTH, WIDTH, &mut rng, &device);
    let values = rng::normals(&mut rng, sizes.batch * WIDTH);
    let x = Tensor::<2>::from_data(TensorData::new(values, [sizes.batch, WIDTH]), &device);
    let gflop = (2 * sizes.batch * WIDTH * WIDTH) as f64 / 1e9;
    let per_second = per_second(sizes.repeats, || {
        let y = crate::linear::apply_silu(&layer, x.clone());
        // Read one value back, so that a lazy backend computes the layer inside the round.
        y.slice([0..1, 0..1]).into_scalar::<f32>();
        Ok(())
    })?;
    let rounds: Vec<f64> = per_second.iter().map(|r| r * gflop).collect();
    let detail = format!(
        "x·W + b, SiLU, {} × {WIDTH} → {WIDTH}, forward, {}",
        sizes.batch,
        backend.name()
    );
    Ok(Figure::new(
        "B1-layer",
        "B1's layer alone",
        "GFLOP/s",
        true,
        &rounds,
        detail,
    ))
}

/// B3: particles × Euler steps through the reference MLP (untrained weights, no autodiff):
/// particle-steps per second.
pub fn b3(sizes: &Sizes, backend: BackendKind) -> anyhow::Result<Figure> {
    let trainer = Trainer::new(config("moons", Method::Rf, 256, backend, 0))?;
    let sampler = trainer.sampler();
    let x0 = Points::new(
        2,
        rng::normals(&mut rng::seeded(0, Stream::Eval, 0), 2 * sizes.particles),
    );
    let opts = SolveOptions::euler(sizes.euler_steps);
    let work = sizes.particles * sizes.euler_steps;
    sampler.generate(None, &x0, &opts, false)?; // warm-up
    let rounds = (0..sizes.repeats)
        .map(|_| {
            rate(Duration::ZERO, || {
                sampler.generate(None, &x0, &opts, false)?;
                Ok(work)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let detail = format!(
        "{} particles × {} Euler steps, {}",
        sizes.particles,
        sizes.euler_steps,
        backend.name()
    );
    Ok(Figure::new(
        "B3",
        "Euler advection",
        "particle-steps/s",
        true,
        &rounds,
        detail,
    ))
}

/// What one B4 run reached.
pub struct TimeToQuality {
    pub seconds: f64,
    pub steps: usize,
    pub w2: f64,
    pub floor: f64,
}

/// B4, one run: RF on moons trained until W2 (2,000 Euler-100 samples against 2,000 true
/// points) is within [`B4_MARGIN`] of the floor (W2 between two true samples), checked every
/// [`B4_CHECK_EVERY`] steps. The wall time includes the checks: they are part of knowing.
pub fn time_to_quality(batch: usize, backend: BackendKind, seed: u64) -> anyhow::Result<TimeToQuality> {
    let mut trainer = Trainer::new(config("moons", Method::Rf, batch, backend, seed))?;
    let data = &trainer.dataset;
    let target = data.sample(None, B4_SAMPLES, &mut rng::seeded(seed, Stream::Reference, 0));
    let second = data.sample(None, B4_SAMPLES, &mut rng::seeded(seed, Stream::Floor, 0));
    let floor = metrics::w2(&second, &target);
    let base = Points::new(2, rng::normals(&mut rng::seeded(seed, Stream::Eval, 0), 2 * B4_SAMPLES));
    let opts = SolveOptions::euler(B4_EULER_STEPS);
    let started = Instant::now();
    while trainer.steps_done() < B4_MAX_STEPS {
        for _ in 0..B4_CHECK_EVERY {
            trainer.step()?;
        }
        let samples = trainer.sampler().generate(None, &base, &opts, false)?.samples;
        let w2 = metrics::w2(&samples, &target);
        if w2 <= floor + B4_MARGIN {
            return Ok(TimeToQuality {
                seconds: started.elapsed().as_secs_f64(),
                steps: trainer.steps_done(),
                w2,
                floor,
            });
        }
    }
    anyhow::bail!("B4: W2 did not reach the floor + {B4_MARGIN} within {B4_MAX_STEPS} steps")
}

/// B4 over `repeats` seeds: the median wall time.
pub fn b4(sizes: &Sizes, backend: BackendKind) -> anyhow::Result<Figure> {
    let mut rounds = Vec::new();
    let mut reached = String::new();
    for seed in 0..sizes.repeats as u64 {
        let run = time_to_quality(sizes.batch, backend, seed)?;
        let _ = write!(reached, "{}{}", if seed == 0 { "" } else { "," }, run.steps);
        rounds.push(run.seconds);
    }
    let detail = format!(
        "rf, moons, W2 ≤ floor + {B4_MARGIN}, reached at steps {reached}, {}",
        backend.name()
    );
    Ok(Figure::new("B4", "time to quality", "s", false, &rounds, detail))
}

/// Writes the training data of B2 for `bench/torch_ref.py`: `letters.csv`, one row per point of
/// each training descriptor's pool, with columns `condition, c0..cN, x, y` (original units; the
/// reference rescales to [-1, 1] from these points as the trainer does from its own).
pub fn write_reference_data(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cfg = b2_config(BackendKind::Cpu);
    let dataset = Dataset::load(&cfg.dataset_request())?;
    let path = dir.join("letters.csv");
    let cannot_write = || format!("cannot write {}", path.display());
    let mut out = csv::Writer::from_path(&path).with_context(cannot_write)?;
    let mut header = vec!["condition".to_string()];
    header.extend((0..dataset.descriptor_dim).map(|i| format!("c{i}")));
    header.extend(["x".into(), "y".into()]);
    out.write_record(&header).with_context(cannot_write)?;
    let mut rng = rng::seeded(cfg.data_seed, Stream::Data, 0);
    for cond in dataset.split_indices(Split::Train) {
        let descriptor = &dataset.conditions[cond].descriptor;
        for p in dataset.sample(Some(cond), 512, &mut rng).rows() {
            let mut row = vec![cond.to_string()];
            row.extend(descriptor.iter().chain(p).map(|v| v.to_string()));
            out.write_record(&row).with_context(cannot_write)?;
        }
    }
    out.flush().with_context(cannot_write)
}
