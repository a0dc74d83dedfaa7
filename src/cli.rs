//! The `mixflow` command line: train, eval, sample and datasets. Every failure is one line naming
//! the file, row, column or setting at fault, with a non-zero exit; nothing is overwritten.

use crate::app::demo::{DEMOS, Demo, Position};
use crate::backend::BackendKind;
use crate::bench;
use crate::config::{TrainConfig, TrainFlags};
use crate::data::{self, Dataset, Points, Split};
use crate::eval::{self, Report};
use crate::experiment::{self as protocol, Experiment};
use crate::method::Method;
use crate::rng::{self, Stream};
use crate::solve::Solver;
use crate::train::{Trainer, write_json};
use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mixflow_live::{Event, StopReason, WorkerHandle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "mixflow",
    version,
    about = "MixFlow Explorer: train flow-matching models and measure what they learn."
)]
#[command(
    long_about = "MixFlow Explorer: train flow-matching models (RF, OT-CFM, C-OT) on 2D and \
low-dimensional data, evaluate them (W2 beside its floor, MMD², energy, curvature, W2 vs NFE) and \
sample from them, or watch them learn in the desktop app (`mixflow gui`). Without a subcommand it \
opens the app, or, with no display, trains the default model (rf on moons) and prints its metrics."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once per process: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model into a run folder (config.json, model.bpk, optimizer.bpk, state.json, metrics.json).
    #[command(allow_negative_numbers = true)]
    Train(TrainArgs),
    /// Evaluate a trained run: W2 (with its finite-sample floor), MMD², energy, curvature, W2 vs NFE.
    Eval {
        /// The run folder written by `mixflow train`.
        run: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Draw samples from a trained run into a CSV file.
    Sample {
        run: PathBuf,
        /// Number of samples.
        #[arg(long, default_value_t = 5000)]
        n: usize,
        /// Output CSV file (columns x,y in 2D, d0,d1,... above).
        #[arg(long)]
        out: PathBuf,
        /// Descriptor values, comma separated (conditional runs only).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
        descriptor: Option<Vec<f32>>,
        /// Seed of the base noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_enum)]
        solver: Option<Solver>,
        #[arg(long)]
        solver_steps: Option<usize>,
    },
    /// Run an evaluation protocol of SPEC section 7 (E1 out-of-distribution, E2 curvature, E3
    /// mixture base vs MixFlow-RF, E4 dimension sweep) or MixFlow-OOD's ablation; writes
    /// results/<experiment>.json and .md (never over earlier results without --force).
    Experiment {
        #[arg(value_enum)]
        experiment: Experiment,
        /// Seeds per (dataset, method): 0..N.
        #[arg(long, default_value_t = 3)]
        seeds: usize,
        /// Training steps of every run.
        #[arg(long, default_value_t = 6000)]
        steps: usize,
        /// Print one JSON object instead of the table.
        #[arg(long)]
        json: bool,
        /// Folder for the JSON and Markdown results.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Replace results already in that folder.
        #[arg(long)]
        force: bool,
    },
    /// List the datasets with their dimensions and descriptor splits.
    Datasets,
    /// List the guided demos (open one with `mixflow gui --demo NAME`).
    Demos {
        /// Train every demo run for --steps and write its cached start (and config) into this
        /// folder: what `assets/demos/` bundles so a demo opens already trained.
        #[arg(long, value_name = "DIR")]
        bake: Option<PathBuf>,
        #[arg(long, default_value_t = 1000, requires = "bake")]
        steps: usize,
    },
    /// Time the reference workloads of SPEC section 8 (B1 to B5); `bench/compare.sh` sets them
    /// beside PyTorch's.
    Bench(BenchArgs),
    /// Open the desktop app, already training (MixFlow-OOD on rotating-moons unless told otherwise).
    Gui(GuiArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Burn backend of B1 to B4 (B3 also runs the advection shader, B5 the renderer, on any
    /// wgpu adapter there is).
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    backend: BackendKind,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Run only these workloads, e.g. b1,b3.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Option<Vec<bench::Workload>>,
    /// Timed rounds per figure (B4: seeds).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// B1's minibatch (and B4's).
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// B3's particles.
    #[arg(long, default_value_t = 10_000)]
    particles: usize,
    /// B3's Euler steps.
    #[arg(long, default_value_t = 100)]
    euler_steps: usize,
    /// B5's particles on screen.
    #[arg(long, default_value_t = 50_000)]
    render_particles: usize,
    /// B5's trajectories (of 64 points) on screen.
    #[arg(long, default_value_t = 2_000)]
    trajectories: usize,
    /// Write the data of the workloads for `bench/torch_ref.py` into this folder, and stop.
    #[arg(long, value_name = "DIR")]
    write_data: Option<PathBuf>,
}

#[derive(Args, Debug, Default)]
struct GuiArgs {
    /// Dataset to open with (see `mixflow datasets`).
    #[arg(long)]
    dataset: Option<String>,
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Open the comparison view with these methods (2 to 4), e.g. rf,mixflow-rf,mixflow-ood,ot-cfm.
    #[arg(long, value_enum, value_delimiter = ',')]
    compare: Option<Vec<Method>>,
    /// Save the window's rendering as a PNG after --exit-after seconds, then quit.
    #[arg(long, requires = "exit_after")]
    screenshot: Option<PathBuf>,
    /// Quit after this many seconds of live training.
    #[arg(long)]
    exit_after: Option<f64>,
    /// Learning rate to open with (a far too high one shows how divergence is handled).
    #[arg(long)]
    lr: Option<f64>,
    /// Open paused instead of training at once.
    #[arg(long)]
    paused: bool,
    /// Particles to draw (at most 50,000).
    #[arg(long)]
    particles: Option<usize>,
    /// Trajectories to trace (at most 2,000).
    #[arg(long)]
    trajectories: Option<usize>,
    /// Advect the drawn particles on the `gpu` (the advection shader), the `cpu`, or `auto`: the
    /// GPU unless the window's adapter is a software renderer such as lavapipe.
    #[arg(long, value_enum)]
    advect: Option<crate::app::settings::Advect>,
    /// Start with the particles playing back from base to data.
    #[arg(long)]
    playback: bool,
    /// Train on `cpu` or `gpu` (the window's own wgpu device).
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
    /// Ignore the settings saved by earlier launches.
    #[arg(long)]
    fresh: bool,
    /// Open a guided demo (see `mixflow demos`).
    #[arg(long, value_name = "NAME")]
    demo: Option<String>,
    /// Presenter mode: larger type, no settings panel.
    #[arg(long)]
    presenter: bool,
    /// Continue the run saved in this folder (by `mixflow train` or the app's Export menu).
    #[arg(long, value_name = "DIR")]
    checkpoint: Option<PathBuf>,
    /// Folder the Export menu writes into [default: exports].
    #[arg(long, value_name = "DIR")]
    exports: Option<PathBuf>,
    /// Open the state of a shared link: its fragment (`v1=…`, what follows `#` in the web app's
    /// address), as "Copy link" gives it. Other flags apply on top of it.
    #[arg(long, value_name = "FRAGMENT")]
    state: Option<String>,
}

/// Every training setting. Flags override the `--config` file, which overrides the defaults.
#[derive(Args, Debug, Default)]
struct TrainArgs {
    /// TOML file with any of the settings below (kebab-case keys, e.g. `solver-steps = 50`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder to write. Default: runs/DATASET-METHOD-sSEED.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder (up to --steps in total).
    #[arg(long, conflicts_with_all = ["config", "out"])]
    resume: Option<PathBuf>,
    /// Replace an existing run folder.
    #[arg(long)]
    force: bool,
    /// Every setting of the run (see the README's table, made from the same declaration).
    #[command(flatten)]
    settings: TrainFlags,
}

impl TrainArgs {
    /// The config these arguments describe: defaults, then the TOML file, then the flags.
    fn config(&self) -> anyhow::Result<TrainConfig> {
        let mut c = match &self.config {
            Some(path) => TrainConfig::from_toml(path)?,
            None => TrainConfig::default(),
        };
        self.settings.apply(&mut c);
        Ok(c)
    }
}

#[allow(unsafe_code)] // set_var, before any other thread runs (see below)
pub fn main() -> ExitCode {
    // burn puts some state (a reloaded optimiser's) on its default device, which prefers a GPU
    // when one is compiled in; keep it on the CPU unless the user says otherwise. Nothing else
    // runs yet, so changing the environment is sound.
    if std::env::var_os("BURN_DEVICE").is_none() {
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Train(args)) => train(&args).map(|_| ()),
        Some(Command::Eval { run, json }) => eval_run(&run, json),
        Some(Command::Sample {
            run,
            n,
            out,
            descriptor,
            seed,
            solver,
            solver_steps,
        }) => sample(&run, n, &out, descriptor, seed, solver, solver_steps),
        Some(Command::Experiment {
            experiment,
            seeds,
            steps,
            json,
            out,
            force,
        }) => run_experiment(experiment, seeds, steps, json, &out, force),
        Some(Command::Datasets) => list_datasets(),
        Some(Command::Demos { bake: None, .. }) => {
            list_demos();
            Ok(())
        }
        Some(Command::Demos { bake: Some(dir), steps }) => bake_demo_starts(&dir, steps),
        Some(Command::Bench(args)) => run_bench(&args),
        Some(Command::Gui(args)) => gui(args),
        None if has_display() => gui(GuiArgs::default()),
        None => default_run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // `:#` joins the contexts: "what was being done: why it failed".
            eprintln!("error: {message:#}");
            ExitCode::FAILURE
        }
    }
}

/// `mixflow bench`: each workload in turn, its figure printed as soon as it is known.
fn run_bench(args: &BenchArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.write_data {
        return bench::engine::write_reference_data(dir);
    }
    let sizes = bench::Sizes {
        repeats: args.repeats,
        batch: args.batch,
        particles: args.particles,
        euler_steps: args.euler_steps,
        render_particles: args.render_particles,
        trajectories: args.trajectories,
    };
    sizes.check()?;
    let wanted = |w: bench::Workload| args.only.as_ref().is_none_or(|only| only.contains(&w));
    let mut report = bench::Report {
        threads: bench::threads(),
        backend: args.backend.name().into(),
        figures: Vec::new(),
        skipped: Vec::new(),
    };
    if !args.json {
        println!("threads: {}  backend: {}", report.threads, report.backend);
    }
    type Run = fn(&bench::Sizes, BackendKind) -> anyhow::Result<bench::Figure>;
    type GpuRun = fn(&bench::gpu::Gpu, &bench::Sizes) -> anyhow::Result<bench::Figure>;
    let engine: [(bench::Workload, Run); 5] = [
        (bench::Workload::B1, bench::engine::b1),
        (bench::Workload::B1Layer, bench::engine::b1_layer),
        (bench::Workload::B2, bench::engine::b2),
        (bench::Workload::B3, bench::engine::b3),
        (bench::Workload::B4, bench::engine::b4),
    ];
    for (_, run) in engine.into_iter().filter(|(w, _)| wanted(*w)) {
        let figure = run(&sizes, args.backend)?;
        if !args.json {
            println!("{}", figure.line());
        }
        report.figures.push(figure);
    }
    let on_gpu: [(bench::Workload, &str, GpuRun); 3] = [
        (bench::Workload::B3, "B3-shader", bench::gpu::b3_shader),
        (bench::Workload::B5, "B5", bench::gpu::b5),
        (bench::Workload::B5, "B5-redrawn", bench::gpu::b5_redrawn),
    ];
    let on_gpu: Vec<_> = on_gpu.into_iter().filter(|(w, ..)| wanted(*w)).collect();
    if !on_gpu.is_empty() {
        match bench::gpu::Gpu::new() {
            Ok(gpu) => {
                for (_, _, run) in on_gpu {
                    let figure = run(&gpu, &sizes)?;
                    if !args.json {
                        println!("{}", figure.line());
                    }
                    report.figures.push(figure);
                }
            }
            Err(reason) => {
                for (_, id, _) in on_gpu {
                    if !args.json {
                        println!("{id:<10} skipped: {reason}");
                    }
                    report.skipped.push(bench::Skipped {
                        id: id.into(),
                        reason: format!("{reason:#}"),
                    });
                }
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

/// `mixflow` alone: the default model, trained headless, with its metrics. It never replaces a
/// run: a second call trains into runs/default-2, and so on.
fn default_run() -> anyhow::Result<()> {
    let out = free_run_folder(Path::new("runs"), "default");
    let config = TrainConfig::default();
    println!(
        "No display found: training the default model ({} on {}) headless into {}.",
        config.method.name(),
        config.dataset,
        out.display()
    );
    let args = TrainArgs {
        out: Some(out),
        ..TrainArgs::default()
    };
    train(&args)?;
    println!("\nWith a display, `mixflow` opens the desktop app; `mixflow --help` lists the command line.");
    Ok(())
}

/// `parent/name`, or `parent/name-2`, `-3`, … when that already holds something.
fn free_run_folder(parent: &Path, name: &str) -> PathBuf {
    std::iter::once(parent.join(name))
        .chain((2..).map(|i| parent.join(format!("{name}-{i}"))))
        .find(|p| !p.exists())
        .expect("an unbounded sequence has a free name")
}

/// Whether a window can be opened here (X11 or Wayland on Linux; always elsewhere).
fn has_display() -> bool {
    if cfg!(target_os = "linux") {
        ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

fn gui(args: GuiArgs) -> anyhow::Result<()> {
    if let Some(methods) = &args.compare
        && !(2..=4).contains(&methods.len())
    {
        anyhow::bail!("--compare takes 2 to 4 methods, got {}", methods.len());
    }
    if let Some(s) = args.exit_after
        && !(s.is_finite() && s >= 0.0)
    {
        anyhow::bail!("--exit-after must be a number of seconds, got {s}");
    }
    if let Some(fragment) = &args.state {
        match Position::from_fragment(fragment) {
            Some(demo) => drop(demo.map_err(anyhow::Error::msg).context("--state")?),
            None => drop(
                crate::app::share::SharedState::from_fragment(fragment)
                    .map_err(anyhow::Error::msg)
                    .context("--state")?,
            ),
        }
    }
    if let Some(name) = &args.demo {
        Demo::find(name).map_err(anyhow::Error::msg)?;
    }
    if let Some(dir) = &args.checkpoint
        && !dir.join("config.json").is_file()
    {
        anyhow::bail!(
            "--checkpoint: {} is not a run folder (it has no config.json)",
            dir.display()
        );
    }
    let launched = crate::app::run(crate::app::Launch {
        state: args.state,
        dataset: args.dataset,
        method: args.method,
        compare: args.compare,
        screenshot: args.screenshot,
        exit_after: args.exit_after,
        fresh: args.fresh,
        paused: args.paused,
        lr: args.lr,
        particles: args.particles,
        trajectories: args.trajectories,
        advect: args.advect,
        playback: args.playback,
        backend: args.backend,
        demo: args.demo,
        presenter: args.presenter,
        checkpoint: args.checkpoint,
        exports: args.exports,
    });
    launched.map_err(anyhow::Error::msg)
}

fn bake_demo_starts(dir: &Path, steps: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for demo in DEMOS {
        for (i, (label, config)) in demo.runs(BackendKind::Cpu).into_iter().enumerate() {
            if steps >= config.steps {
                anyhow::bail!("--steps must be below the demo runs' {} steps", config.steps);
            }
            let mut trainer = Trainer::new(config.clone())?;
            for _ in 0..steps {
                trainer.step().with_context(|| format!("{} / {label}", demo.name))?;
            }
            let stem = dir.join(format!("{}-{i}", demo.name));
            let bytes = pollster::block_on(trainer.cached_start())?;
            std::fs::write(stem.with_extension("start"), &bytes)
                .with_context(|| format!("{}: cannot write", stem.display()))?;
            write_json(&stem.with_extension("json"), &config)?;
            println!("{}/{label}: {} bytes at step {steps}", demo.name, bytes.len());
        }
    }
    Ok(())
}

fn list_demos() {
    for demo in DEMOS {
        println!("{:<22}{} ({} captions)", demo.name, demo.title, demo.steps.len());
    }
    println!("\nopen one with: mixflow gui --demo NAME [--presenter]");
}

fn train(args: &TrainArgs) -> anyhow::Result<Report> {
    let (trainer, out) = match &args.resume {
        Some(dir) => {
            let steps = args.settings.steps;
            let backend = args.settings.backend;
            let t = Trainer::resume(dir, |c| {
                c.steps = steps.unwrap_or(c.steps);
                c.backend = backend.unwrap_or(c.backend);
            })?;
            (t, dir.clone())
        }
        None => {
            let config = args.config()?;
            let out = args.out.clone().unwrap_or_else(|| {
                let name = config.dataset.replace(['/', ':', '>'], "-");
                PathBuf::from(format!("runs/{name}-{}-s{}", config.method.name(), config.seed))
            });
            if out.join("config.json").exists() && !args.force {
                anyhow::bail!(
                    "{}: a run is already there; pass --force to replace it or --resume to continue it",
                    out.display()
                );
            }
            (Trainer::new(config)?, out)
        }
    };
    let counts: Vec<String> = trainer
        .param_counts()
        .iter()
        .map(|(name, n)| format!("{name} {n} parameters"))
        .collect();
    let descriptor = if trainer.dataset.is_conditional() {
        format!(", descriptor {}D", trainer.dataset.descriptor_dim)
    } else {
        String::new()
    };
    println!(
        "{} on {} ({}D{descriptor}), backend {}: {}",
        trainer.config.method.name(),
        trainer.dataset.name,
        trainer.dataset.dim,
        trainer.config.backend.name(),
        counts.join(", ")
    );
    let total = trainer.config.steps;
    let bar = ProgressBar::new(total as u64).with_position(trainer.steps_done() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  {msg}  eta {eta}")
            .expect("valid template"),
    );
    let (started, first_step) = (std::time::Instant::now(), trainer.steps_done());
    // The same live-run worker as the app's, without views: divergence, a lost GPU and the
    // checkpoints (every `checkpoint_every` steps and at the end) are handled there, once.
    let worker = WorkerHandle::train_headless(trainer, out.clone());
    let followed = follow_training(&worker, &bar);
    drop(worker); // its thread sees the channel close and ends, freeing the model it trained
    if let Err(e) = followed {
        bar.abandon();
        let kept = if out.join("state.json").exists() {
            format!("; the last good checkpoint is kept in {}", out.display())
        } else {
            "; no checkpoint had been written yet".into()
        };
        anyhow::bail!("{e:#}{kept}");
    }
    bar.finish_and_clear();
    let rate = total.saturating_sub(first_step) as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let trainer = Trainer::load(&out)?;
    println!(
        "trained to step {total} at {rate:.0} steps/s; run saved in {}",
        out.display()
    );
    let report = evaluate_showing_progress(&trainer)?;
    write_json(&out.join("metrics.json"), &report)?;
    print_report(&report);
    Ok(report)
}

/// Shows a headless run's progress until it finishes; why it stopped otherwise.
fn follow_training(worker: &WorkerHandle, bar: &ProgressBar) -> anyhow::Result<()> {
    let mut last_warning: Option<String> = None;
    loop {
        let event = worker
            .events
            .recv()
            .map_err(|_| anyhow!("the training thread ended without a word"))?;
        match event {
            Event::Started(info) => {
                if let Some(note) = info.note {
                    bar.println(note);
                }
            }
            Event::Steps { messages, .. } => {
                let Some(last) = messages.last() else { continue };
                bar.set_position(last.step as u64);
                bar.set_message(last.losses.to_string());
                // Each distinct warning is shown once.
                for (step, w) in messages.into_iter().filter_map(|m| Some(m.step).zip(m.warning)) {
                    if last_warning.as_ref() != Some(&w) {
                        bar.println(format!("warning at step {step}: {w}"));
                        last_warning = Some(w);
                    }
                }
            }
            Event::Stopped(StopReason::Finished { .. }) => return Ok(()),
            // The app's wording tells its user to press Reset; here the error alone says it.
            Event::Stopped(StopReason::Failed(e)) => return Err(e.into()),
            Event::Stopped(why) => return Err(why.into()),
            Event::Error(e) => return Err(e.into()),
            Event::Crashed(why) => anyhow::bail!("training stopped with an internal error: {why}"),
            _ => {}
        }
    }
}

fn eval_run(run: &Path, json: bool) -> anyhow::Result<()> {
    let trainer = Trainer::load(run)?;
    let report = evaluate_showing_progress(&trainer)?;
    if json {
        println!("{}", serde_json::to_string(&report).expect("serialisable"));
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Evaluates a run with a progress bar on the terminal: it takes seconds (thousands of
/// samples, each compared by exact optimal transport, for every split and step count).
fn evaluate_showing_progress(trainer: &Trainer) -> anyhow::Result<Report> {
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("evaluating {bar:30} {pos}/{len}  {msg}").expect("valid template"));
    let report = eval::evaluate_run(trainer, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(p.stage);
    });
    bar.finish_and_clear();
    Ok(report?)
}

fn print_report(r: &Report) {
    println!(
        "metrics (original units, {} samples per comparison, solver {} with {:.0} NFE):",
        r.n, r.solver, r.nfe
    );
    let row = |name: &str, q: &eval::Quality| {
        println!(
            "  {name:<14} W2 {:.4}  (floor {:.4})  MMD² {:.5}  energy {:.5}",
            q.w2, q.w2_floor, q.mmd2, q.energy
        )
    };
    match &r.splits {
        Some(splits) => {
            for split in Split::ALL {
                if let Some(s) = splits.get(split.name()) {
                    row(&format!("{} ({})", split.name(), s.descriptors), &s.quality);
                }
            }
        }
        None => row("all", &r.quality),
    }
    println!("  curvature      {:.4} ± {:.4}", r.curvature_mean, r.curvature_std);
    if let Some(n) = r.base_steps {
        println!("  base steps     {n} (steps that trained the mixture base)");
    }
    let sweep: Vec<String> = eval::NFE_SWEEP
        .iter()
        .map(|k| k.to_string())
        .chain(["dopri5".to_string()])
        .filter_map(|k| r.w2_by_nfe.get(&k).map(|w| format!("{k}: {w:.3}")))
        .collect();
    println!(
        "  W2 vs Euler steps (floor {:.3})  {}",
        r.quality.w2_floor,
        sweep.join("  ")
    );
    if let Some(m) = &r.memorisation {
        let held_out = m
            .measures
            .to_held_out
            .map(|d| format!(", held-out set {d:.4}"))
            .unwrap_or_default();
        println!(
            "  memorised      {:.1}% of samples (train-n {}); mean distance to the training set {:.4}{held_out}",
            100.0 * m.measures.memorised,
            m.train_n,
            m.measures.to_train
        );
        if let Some(gap) = &m.gap_by_t {
            let bins: Vec<String> = gap.iter().map(|[t, g]| format!("{t:.2}: {g:.3}")).collect();
            println!("  gap to u* by t {}", bins.join("  "));
        }
    }
}

fn sample(
    run: &Path,
    n: usize,
    out: &Path,
    descriptor: Option<Vec<f32>>,
    seed: u64,
    solver: Option<Solver>,
    solver_steps: Option<usize>,
) -> anyhow::Result<()> {
    if !(1..=10_000_000).contains(&n) {
        anyhow::bail!("setting `n`: must be between 1 and 10,000,000, got {n}");
    }
    let trainer = Trainer::load(run)?;
    let ds = &trainer.dataset;
    match (&descriptor, ds.is_conditional()) {
        (None, true) => {
            anyhow::bail!(
                "setting `descriptor`: {} is conditional; give {} values",
                ds.name,
                ds.descriptor_dim
            );
        }
        (Some(d), true) if d.len() != ds.descriptor_dim => {
            anyhow::bail!(
                "setting `descriptor`: {} takes {} values, got {}",
                ds.name,
                ds.descriptor_dim,
                d.len()
            );
        }
        (Some(_), false) => {
            anyhow::bail!("setting `descriptor`: {} is unconditional", ds.name);
        }
        _ => {}
    }
    if descriptor.iter().flatten().any(|x| !x.is_finite()) {
        anyhow::bail!("setting `descriptor`: values must be finite numbers");
    }
    let mut opts = trainer.config.solve_options();
    opts.solver = solver.unwrap_or(opts.solver);
    opts.steps = solver_steps.unwrap_or(opts.steps);
    let sampler = trainer.sampler();
    let base = sampler
        .base(descriptor.as_deref(), n, &mut rng::seeded(seed, Stream::Eval, u64::MAX))?
        .points;
    let generated = sampler.generate(descriptor.as_deref(), &base, &opts, false)?;
    write_points(out, &generated.samples)?;
    println!("wrote {n} samples to {} ({} NFE)", out.display(), generated.nfe);
    Ok(())
}

fn write_points(path: &Path, p: &Points) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("{}: cannot write", path.display()))?;
    crate::data::write_points(std::io::BufWriter::new(file), p).with_context(|| path.display().to_string())
}

fn run_experiment(
    experiment: Experiment,
    seeds: usize,
    steps: usize,
    json: bool,
    out: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let name = experiment.name();
    let files = [out.join(format!("{name}.json")), out.join(format!("{name}.md"))];
    // Checked before training: a protocol runs for minutes, and its results are often committed.
    if let Some(there) = files.iter().find(|f| f.exists())
        && !force
    {
        anyhow::bail!(
            "{}: results are already there; pass --force to replace them or --out DIR to write elsewhere",
            there.display()
        );
    }
    eprintln!(
        "{name}: the results will be written to {} and {}",
        files[0].display(),
        files[1].display()
    );
    let results = protocol::run(experiment, seeds, steps, |run| eprintln!("training {run}"))?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    write_json(&files[0], &results)?;
    let mut table = protocol::markdown(&results);
    if !results.lr_choices.is_empty() {
        table += "\nLearning rates, chosen per arm on seed 0:\n\n";
        table += &protocol::lr_table(&results);
    }
    if experiment == Experiment::E4 {
        table += "\nExtrapolation against the dimension:\n\n";
        table += &protocol::sweep_table(&results);
    }
    if experiment == Experiment::E5 {
        table += "\nMemorisation against the training set's size:\n\n";
        table += &protocol::memorisation_table(&results);
        table += "\nThe gap E‖v_θ − u*‖² to the exact field, by time:\n\n";
        table += &protocol::gap_table(&results);
    }
    std::fs::write(&files[1], &table).with_context(|| format!("{}: cannot write", files[1].display()))?;
    if json {
        println!("{}", serde_json::to_string(&results).expect("serialisable"));
    } else {
        println!("{table}");
    }
    eprintln!("wrote {} and {}", files[0].display(), files[1].display());
    Ok(())
}

fn list_datasets() -> anyhow::Result<()> {
    for name in data::NAMES {
        let ds = Dataset::load(&data::DatasetRequest {
            name: name.to_string(),
            ..Default::default()
        })?;
        if ds.is_conditional() {
            let count = |s| ds.split_indices(s).len();
            println!(
                "{name:<22} {}D, descriptor {}D: {} train, {} interpolation, {} extrapolation descriptors",
                ds.dim,
                ds.descriptor_dim,
                count(Split::Train),
                count(Split::Interpolation),
                count(Split::Extrapolation)
            );
        } else {
            println!("{name:<22} {}D", ds.dim);
        }
    }
    println!("csv:PATH               --data-cols a,b[,..] [--descriptor-cols c,..]");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_run_takes_the_next_free_folder_instead_of_replacing_one() {
        let parent = std::env::temp_dir().join(format!("mixflow-free-folder-{}", std::process::id()));
        std::fs::remove_dir_all(&parent).ok();
        assert_eq!(free_run_folder(&parent, "default"), parent.join("default"));
        std::fs::create_dir_all(parent.join("default")).unwrap();
        std::fs::create_dir_all(parent.join("default-2")).unwrap();
        assert_eq!(free_run_folder(&parent, "default"), parent.join("default-3"));
        std::fs::remove_dir_all(&parent).ok();
    }
}
