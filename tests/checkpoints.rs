//! Checkpoints between the app's live runs and the command line: a run the worker saves is a run
//! folder `mixflow` reads, and a folder `mixflow train` writes opens in the worker.

use mixflow_core::config::TrainConfig;
use mixflow_core::method::Method;
use mixflow_live::{Command, CommandError, Event, ViewRequest, WorkerHandle};
use std::time::Duration;

/// Waits for the first event `pick` accepts, failing after a minute.
fn wait_for<T>(worker: &WorkerHandle, what: &str, pick: impl FnMut(Event) -> Option<T>) -> T {
    worker
        .wait_for(Duration::from_secs(60), pick)
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// A checkpoint exported from the app's worker is a run folder the CLI reads: `mixflow sample`
/// draws from it exactly what the same model draws in-process for the same seed. And a folder
/// written by `mixflow train` opens in the worker at its step, and trains on from there.
#[test]
fn checkpoints_go_from_the_app_to_the_cli_and_back() {
    use mixflow_core::rng::{self, Stream};
    use mixflow_core::train::Trainer;
    let dir = std::env::temp_dir().join(format!("mixflow-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = TrainConfig {
        dataset: "moons".into(),
        method: Method::Rf,
        steps: 100,
        ..TrainConfig::default()
    };
    let worker = WorkerHandle::spawn(config.clone(), None, ViewRequest::default(), false);
    wait_for(&worker, "a started run", |e| {
        matches!(e, Event::Started(_)).then_some(())
    });
    for _ in 0..5 {
        worker.send(Command::Step);
    }
    wait_for(&worker, "five steps", |e| match e {
        Event::Steps { messages, .. } => messages.last().filter(|m| m.step >= 5).map(|_| ()),
        _ => None,
    });
    let saved = dir.join("from-app");
    worker.send(Command::Save(saved.clone()));
    let done = wait_for(&worker, "the saved checkpoint", |e| match e {
        Event::Done(m) => Some(m),
        Event::Error(e) => panic!("{e}"),
        _ => None,
    });
    assert!(done.contains("step 5"), "{done}");

    let csv = dir.join("samples.csv");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixflow"))
        .args([
            "sample",
            saved.to_str().unwrap(),
            "--n",
            "300",
            "--seed",
            "7",
            "--out",
            csv.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli = mixflow_core::data::read_csv(&csv, &Default::default()).unwrap().data;

    // The same five steps in-process, sampled as the CLI samples.
    let mut trainer = Trainer::new(config.clone()).unwrap();
    for _ in 0..5 {
        trainer.step().unwrap();
    }
    let sampler = trainer.sampler();
    let base = sampler
        .base(None, 300, &mut rng::seeded(7, Stream::Eval, u64::MAX))
        .unwrap()
        .points;
    let expected = sampler
        .generate(None, &base, &config.solve_options(), false)
        .unwrap()
        .samples;
    assert_eq!(cli.len(), 300);
    let worst = cli
        .data
        .iter()
        .zip(&expected.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "the CLI's samples differ from the app's model by {worst}");

    // Back: a CLI run folder opens in the worker at its step, and views show its model.
    let trained = dir.join("from-cli");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mixflow"))
        .args([
            "train",
            "--dataset",
            "8gaussians",
            "--steps",
            "12",
            "--out",
            trained.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    worker.send(Command::Open(trained));
    let info = wait_for(&worker, "the opened run", |e| match e {
        Event::Started(info) => Some(info),
        Event::Error(e) => panic!("{e}"),
        _ => None,
    });
    assert_eq!(
        (info.config.dataset.as_str(), info.step, info.history.len()),
        ("8gaussians", 12, 12)
    );
    let shown = wait_for(&worker, "a view of the opened run", |e| match e {
        Event::View(v) => Some(v),
        _ => None,
    });
    assert_eq!(shown.model.step, 12);
    // It finished its 12 steps: stepping says so instead of training past them.
    worker.send(Command::Step);
    let why = wait_for(&worker, "the finished run's answer", |e| match e {
        Event::Error(e) => Some(e),
        _ => None,
    });
    assert_eq!(why, CommandError::LastStep);

    // A folder that is not a run leaves the run as it was, with a message.
    worker.send(Command::Open(dir.join("nothing-here")));
    let e = wait_for(&worker, "the refusal", |e| match e {
        Event::Error(e) => Some(e.to_string()),
        _ => None,
    });
    assert!(e.contains("no such run folder"), "{e}");
    worker.send(Command::Save(std::path::PathBuf::from("/proc/forbidden/run")));
    let e = wait_for(&worker, "the failed save", |e| match e {
        Event::Error(e) => Some(e.to_string()),
        _ => None,
    });
    assert!(
        e.starts_with("the checkpoint was not saved: /proc/forbidden/run: cannot create"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
