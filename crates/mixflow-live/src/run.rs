//! One training run as the app sees it: a worker handle plus everything its events told us
//! (settings, losses, metrics, the newest view, status). The UI reads only this.

use crate::pace::PaceSlot;
use crate::protocol::{Command, Event, MetricPoint, RunInfo, StopReason, View, ViewRequest, Waker};
use crate::worker::WorkerHandle;
use burn::tensor::Device;
use mixflow_core::config::TrainConfig;
use mixflow_core::data::Split;
use mixflow_core::train::{Losses, Phase};
use std::sync::Arc;

pub struct Run {
    worker: WorkerHandle,
    /// The settings this run was started with (what Reset restarts).
    pub config: TrainConfig,
    /// The legend: the method's name, or a guided demo's name for this variant.
    pub label: String,
    pub info: Option<Arc<RunInfo>>,
    pub view: Option<Arc<View>>,
    /// Bumped for every new view, so the canvas uploads each view once.
    pub view_version: u64,
    pub step: usize,
    pub phase: Option<Phase>,
    /// The losses of the steps trained in this app (and a checkpoint's history), oldest first;
    /// `losses[0]` is step `first_loss_step`.
    pub losses: Vec<Losses>,
    pub first_loss_step: usize,
    pub metrics: Vec<MetricPoint>,
    pub nfe_curve: Vec<(usize, f64)>,
    /// The newest picture of the memorisation lab, while it is open.
    pub lab: Option<Arc<crate::protocol::LabView>>,
    /// The steps whose weights the worker keeps for the training scrubber, and their memory.
    pub history_steps: Vec<usize>,
    pub history_bytes: usize,
    /// The trajectory followed through a clicked point, of the model on screen.
    pub followed: Option<Arc<mixflow_core::follow::FollowedPath>>,
    /// The training step the app asked views to show (none: the newest model).
    showing: Option<usize>,
    /// The newest minibatch shown by the step-by-step view.
    pub inspection: Option<Arc<mixflow_core::train::Inspection>>,
    pub descriptor_curve: Vec<(Vec<f32>, Split, f64)>,
    pub steps_per_s: f64,
    pub playing: bool,
    /// Why training stopped by itself (diverged, finished, crashed), shown until the next reset.
    pub stopped: Option<String>,
    /// It stopped because every step is trained.
    finished: bool,
    /// Problems and notes (clamped values, a GPU that could not start), newest last.
    pub notes: Vec<String>,
    pub warning: Option<String>,
    /// The worker stopped for good (it panicked, or its channel closed): a reset starts another.
    crashed: bool,
    /// After a reset, until the new run reports its start: what the old run still had in flight
    /// is dropped, so it never mixes with the new run (a view of the old dataset, say).
    awaiting_start: bool,
}

impl Run {
    // Each part is one the app holds apart (label, settings, cached start, pace, device, view).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        label: String,
        config: TrainConfig,
        start: Option<&'static [u8]>,
        pace: Option<PaceSlot>,
        gpu: Option<Device>,
        view: ViewRequest,
        play: bool,
        wake: Waker,
    ) -> Self {
        Self {
            worker: WorkerHandle::spawn_from(config.clone(), start, pace, gpu, view, play, Some(wake)),
            config,
            label,
            info: None,
            view: None,
            view_version: 0,
            step: 0,
            phase: None,
            losses: Vec::new(),
            first_loss_step: 1,
            metrics: Vec::new(),
            nfe_curve: Vec::new(),
            lab: None,
            history_steps: Vec::new(),
            history_bytes: 0,
            showing: None,
            followed: None,
            inspection: None,
            descriptor_curve: Vec::new(),
            steps_per_s: 0.0,
            playing: play,
            stopped: None,
            finished: false,
            notes: Vec::new(),
            warning: None,
            crashed: false,
            awaiting_start: false,
        }
    }

    pub fn send(&self, command: Command) {
        self.worker.send(command);
    }

    /// Restarts with `config` from scratch (the same seeds give the same run), or from a cached
    /// start, keeping `pace` with the other runs of a comparison.
    pub fn reset(
        &mut self,
        label: String,
        config: TrainConfig,
        start: Option<&'static [u8]>,
        pace: Option<PaceSlot>,
        gpu: Option<Device>,
    ) {
        self.config = config.clone();
        self.label = label;
        self.info = None;
        self.step = 0;
        self.phase = None;
        self.losses.clear();
        self.first_loss_step = 1;
        self.metrics.clear();
        self.nfe_curve.clear();
        self.lab = None;
        self.history_steps.clear();
        self.history_bytes = 0;
        self.showing = None;
        self.followed = None;
        self.inspection = None;
        self.descriptor_curve.clear();
        self.stopped = None;
        self.finished = false;
        self.warning = None;
        if self.crashed || !self.worker.suits(&config) {
            // The dead (or replaced) worker's events are gone with it: the new one's are the
            // first to come.
            self.crashed = false;
            self.worker.respawn(config, start, pace, self.playing);
            return;
        }
        self.awaiting_start = true;
        self.send(Command::Reset {
            config: Box::new(config),
            gpu,
            start,
            pace,
        });
    }

    /// Applies every event that has arrived; true when anything changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        loop {
            let event = match self.worker.events.try_recv() {
                Ok(event) => event,
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    changed |= self.worker_stopped("its channel closed");
                    break;
                }
            };
            changed = true;
            if self.awaiting_start {
                match &event {
                    Event::Started(info) if info.config == self.config => self.awaiting_start = false,
                    Event::Error(_) | Event::Stopped(_) | Event::Playing(_) | Event::Crashed(_) => {}
                    _ => continue,
                }
            }
            match event {
                Event::Started(info) => {
                    if let Some(note) = &info.note {
                        self.notes.push(note.clone());
                    }
                    // A run opened from a checkpoint brings its settings and progress.
                    self.config = info.config.clone();
                    self.step = info.step;
                    self.losses = info.history.clone();
                    // A cached start comes at its step without the history before it.
                    self.first_loss_step = info.step + 1 - info.history.len();
                    self.info = Some(Arc::new(*info));
                }
                Event::Steps { messages, steps_per_s } => {
                    if let Some(last) = messages.last() {
                        self.step = last.step;
                        self.phase = Some(last.phase);
                    }
                    for m in messages {
                        if m.warning.is_some() {
                            self.warning = m.warning;
                        }
                        self.losses.push(m.losses);
                    }
                    if steps_per_s > 0.0 {
                        self.steps_per_s = steps_per_s;
                    }
                }
                Event::View(view) => {
                    self.view = Some(Arc::new(*view));
                    self.view_version += 1;
                }
                Event::Metric(point) => self.metrics.push(point),
                Event::Inspection(seen) => self.inspection = Some(Arc::from(seen)),
                Event::Lab(lab) => self.lab = Some(Arc::from(lab)),
                Event::Followed(path) => self.followed = Some(Arc::from(path)),
                Event::History { steps, bytes, .. } => (self.history_steps, self.history_bytes) = (steps, bytes),
                Event::Nfe(curve) => self.nfe_curve = curve,
                Event::Descriptors(curve) => self.descriptor_curve = curve,
                Event::Playing(playing) => {
                    self.playing = playing;
                    if !playing {
                        self.steps_per_s = 0.0;
                    }
                }
                Event::Stopped(reason) => {
                    self.finished = matches!(reason, StopReason::Finished { .. });
                    self.stopped = Some(reason.to_string());
                }
                Event::Error(e) => self.notes.push(e.to_string()),
                Event::Done(done) => self.notes.push(done),
                Event::Crashed(why) => {
                    self.worker_stopped(&why);
                }
            }
        }
        if self.notes.len() > 20 {
            self.notes.drain(..self.notes.len() - 20);
        }
        changed
    }

    /// Views show the model at `step` (the kept state at or before it) from now on; none: the
    /// newest model, as training goes on.
    pub fn show_step(&mut self, step: Option<usize>) {
        if self.showing != step {
            self.showing = step;
            self.send(Command::ShowStep(step));
        }
    }

    /// Follows the trajectory through `request`'s point with every view from now on (none: stop).
    pub fn follow(&mut self, request: Option<crate::protocol::FollowRequest>) {
        if request.is_none() {
            self.followed = None;
        }
        self.send(Command::Follow(request));
    }

    /// The kept state a view of `step` is drawn from: the newest kept at or before it.
    pub fn kept_step_at(&self, step: usize) -> Option<usize> {
        self.history_steps.iter().copied().filter(|&s| s <= step).max()
    }

    /// The training step the view on screen shows when it is a past one.
    pub fn shown_step(&self) -> Option<usize> {
        self.view.as_ref().filter(|v| v.from_history).map(|v| v.model.step)
    }

    /// Where the run trains (its own thread, a Web Worker, the page's thread).
    pub fn place(&self) -> crate::worker::Place {
        self.worker.place()
    }

    /// Whether the run trained all its steps (the one stop that is not a problem).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Whether the worker stopped for good, so that only a reset brings the run back.
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// Marks the worker as gone and says so where the run's status shows; false when already
    /// known. What the run showed (its view, losses and charts) stays on screen.
    fn worker_stopped(&mut self, why: &str) -> bool {
        if self.crashed {
            return false;
        }
        self.crashed = true;
        self.playing = false;
        self.steps_per_s = 0.0;
        self.stopped = Some(format!(
            "training stopped unexpectedly ({why}): this is a bug. Reset starts the run again; other runs are not affected."
        ));
        true
    }

    /// Each recorded step with its losses.
    pub fn losses_by_step(&self) -> impl Iterator<Item = (usize, &Losses)> {
        self.losses
            .iter()
            .enumerate()
            .map(|(i, l)| (self.first_loss_step + i, l))
    }

    /// The losses reported for `step`, if recorded.
    pub fn losses_at(&self, step: usize) -> Option<&Losses> {
        self.losses.get(step.checked_sub(self.first_loss_step)?)
    }

    pub fn label(&self) -> &str {
        &self.label
    }
}
