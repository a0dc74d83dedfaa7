//! The training worker driven the way the app drives it: play, switch dataset and method
//! mid-training, diverge, and keep answering, without a panic.

use mixflow_core::config::TrainConfig;
use mixflow_core::method::Method;
use mixflow_core::train::TrainError;
use mixflow_live::{Command, Event, StopReason, ViewRequest, WorkerHandle};
use std::time::{Duration, Instant};

/// Waits for the first event `pick` accepts, failing after a minute.
fn wait_for<T>(worker: &WorkerHandle, what: &str, pick: impl FnMut(Event) -> Option<T>) -> T {
    worker
        .wait_for(Duration::from_secs(60), pick)
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

fn started(worker: &WorkerHandle) -> (String, Method) {
    wait_for(worker, "a started run", |e| match e {
        Event::Started(info) => Some((info.config.dataset.clone(), info.config.method)),
        _ => None,
    })
}

fn step_reached(worker: &WorkerHandle, at_least: usize) -> usize {
    wait_for(worker, "training steps", |e| match e {
        Event::Steps { messages, .. } => messages.last().map(|m| m.step).filter(|&s| s >= at_least),
        _ => None,
    })
}

#[test]
fn worker_survives_switches_and_divergence() {
    let config = TrainConfig {
        dataset: "moons".into(),
        method: Method::Rf,
        ..TrainConfig::default()
    };
    let view = ViewRequest {
        particles: 300,
        trajectories: 30,
        euler_steps: 8,
        ..ViewRequest::default()
    };
    let worker = WorkerHandle::spawn(config.clone(), None, view, true);
    assert_eq!(started(&worker), ("moons".to_string(), Method::Rf));
    step_reached(&worker, 20);
    let shown = wait_for(&worker, "a view", |e| match e {
        Event::View(v) => Some(v),
        _ => None,
    });
    assert_eq!(shown.model.samples.len(), 300);
    assert_eq!(shown.model.trajectories.len(), 9, "Euler-8 records 9 states");

    // Switch dataset and method while training: the new run starts from step 0 and goes on.
    let switched = TrainConfig {
        dataset: "rotating-moons".into(),
        method: Method::MixflowOod,
        pretrain_steps: 20,
        ..config.clone()
    };
    worker.send(Command::Reset {
        config: Box::new(switched),
        gpu: None,
        start: None,
        pace: None,
    });
    assert_eq!(started(&worker), ("rotating-moons".to_string(), Method::MixflowOod));
    step_reached(&worker, 5);

    // A learning rate far too high: training stops itself with a message, no panic.
    let diverging = TrainConfig {
        lr: 1e5,
        ..config.clone()
    };
    worker.send(Command::Reset {
        config: Box::new(diverging),
        gpu: None,
        start: None,
        pace: None,
    });
    worker.send(Command::Play);
    let reason = wait_for(&worker, "divergence", |e| match e {
        Event::Stopped(reason) => Some(reason),
        _ => None,
    });
    assert!(
        matches!(reason, StopReason::Failed(TrainError::Diverged { .. })),
        "{reason:?}"
    );
    let reason = reason.to_string();
    assert!(reason.contains("diverged"), "{reason}");
    assert!(reason.contains("Reset"), "the message says what to do: {reason}");

    // The worker still answers: a fresh run after the divergence trains again.
    worker.send(Command::Reset {
        config: Box::new(config),
        gpu: None,
        start: None,
        pace: None,
    });
    started(&worker);
    worker.send(Command::Step);
    assert_eq!(step_reached(&worker, 1), 1);
}

#[test]
fn out_of_range_view_requests_are_clamped_with_a_note() {
    let worker = WorkerHandle::spawn(TrainConfig::default(), None, ViewRequest::default(), false);
    started(&worker);
    worker.send(Command::View(ViewRequest {
        particles: 0,
        trajectories: 1_000_000,
        ..ViewRequest::default()
    }));
    let notes: Vec<String> = (0..2)
        .map(|_| {
            wait_for(&worker, "a clamping note", |e| match e {
                Event::Error(note) => Some(note.to_string()),
                _ => None,
            })
        })
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("particles 0 is outside 1..50000")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("trajectories 1000000")), "{notes:?}");
    let view = wait_for(&worker, "the clamped view", |e| match e {
        Event::View(v) if v.request.particles == 1 => Some(v),
        _ => None,
    });
    assert_eq!(view.model.samples.len(), 1);
}

#[test]
fn a_gpu_run_without_a_gpu_falls_back_to_the_cpu_and_says_so() {
    let config = TrainConfig {
        backend: mixflow_core::backend::BackendKind::Gpu,
        ..TrainConfig::default()
    };
    let worker = WorkerHandle::spawn(config, None, ViewRequest::default(), false);
    let (backend, note) = wait_for(&worker, "a started run", |e| match e {
        Event::Started(info) => Some((info.backend.clone(), info.note.clone())),
        _ => None,
    });
    assert_eq!(backend, "cpu");
    assert!(note.unwrap().contains("training on the CPU instead"));
}

#[test]
fn a_view_at_an_unlisted_descriptor_keeps_the_worker_training() {
    // What dragging the descriptor pad between listed descriptors sends (it used to kill the
    // worker thread on every conditional family).
    let config = TrainConfig {
        dataset: "rotating-moons".into(),
        method: Method::MixflowOod,
        ..TrainConfig::default()
    };
    let small = ViewRequest {
        particles: 200,
        trajectories: 10,
        euler_steps: 4,
        ..ViewRequest::default()
    };
    let worker = WorkerHandle::spawn(config, None, small.clone(), true);
    started(&worker);
    let angle = 0.123f32;
    worker.send(Command::View(ViewRequest {
        descriptor: Some(vec![angle.cos(), angle.sin()]),
        ..small
    }));
    let view = wait_for(&worker, "a view at the unlisted descriptor", |e| match e {
        Event::View(v) if v.request.descriptor.is_some() => Some(v),
        Event::Crashed(why) => panic!("the worker stopped: {why}"),
        _ => None,
    });
    assert_eq!(view.model.samples.len(), 200);
    assert!(
        view.data.is_some(),
        "the true data at that descriptor comes from the generator"
    );
    let now = step_reached(&worker, 1);
    assert!(step_reached(&worker, now + 5) > now, "training goes on");
}

#[test]
fn the_runs_of_a_comparison_train_in_lock_step() {
    use mixflow_live::pace::{LEAD, Pace};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // RF trains many times faster than MixFlow-OOD on rotating-moons; paced, it waits.
    let methods = [Method::Rf, Method::MixflowOod];
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    let wake: mixflow_live::Waker = Arc::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let workers: Vec<WorkerHandle> = methods
        .iter()
        .zip(Pace::slots(methods.len()))
        .map(|(&method, pace)| {
            let config = TrainConfig {
                dataset: "rotating-moons".into(),
                method,
                ..TrainConfig::default()
            };
            let view = ViewRequest::default();
            WorkerHandle::spawn_from(config, None, Some(pace), None, view, true, Some(wake.clone()))
        })
        .collect();
    let mut latest = [0usize; 2];
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut widest = 0usize;
    while Instant::now() < deadline {
        for (i, worker) in workers.iter().enumerate() {
            while let Ok(event) = worker.events.try_recv() {
                if let Event::Steps { messages, .. } = event {
                    latest[i] = messages.last().map_or(latest[i], |m| m.step);
                }
            }
        }
        widest = widest.max(latest[0].abs_diff(latest[1]));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(latest[1] > 20, "the slower run trained: {latest:?}");
    // Steps arrive in chunks of up to 25 ms, so what has been *reported* may lag by a chunk of
    // the slower run's steps; unpaced, RF would be hundreds ahead.
    assert!(widest <= LEAD + 20, "widest gap {widest}, last {latest:?}");
    // Every event woke the app (which sleeps while paused instead of polling).
    assert!(wakes.load(Ordering::Relaxed) > 10);
}
