//! The training worker: owns one [`Trainer`], runs it in time-boxed chunks, and talks to the app
//! only through messages. Commands go in ([`Command`]); steps, views of the model and metrics come
//! out ([`Event`]). Nothing here draws, and the app never touches a tensor. On native the worker
//! has a thread of its own. In the browser (no threads) it is a task on the page's event loop that
//! trains in chunks of a few milliseconds and yields between them, so input and drawing always
//! come first and training takes the idle time in between. The work is written once, as async
//! code: the thread blocks on it, the page awaits it. A browser reads its GPU only asynchronously,
//! so there a run on WebGPU keeps a CPU mirror of its model for views, updated by one
//! asynchronous read of the weights per view.

use super::pace::PaceSlot;
use crate::config::TrainConfig;
use crate::data::{Points, Split};
use crate::metrics;
use crate::rng::{self, Stream};
use crate::solve::SolveOptions;
use crate::train::{Snapshot, SnapshotRequest, StepMessage, TrainError, Trainer};
use burn::tensor::Device;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Duration;
use web_time::Instant;

/// Limits on what a view may ask for, so no slider can stall the worker or exhaust memory.
pub const MAX_PARTICLES: usize = 50_000;
pub const MAX_TRAJECTORIES: usize = 2_000;
/// Times at which the velocity field is sampled for the scrubber.
pub const FIELD_TIMES: usize = 11;
/// Grid points per side of the velocity field.
pub const FIELD_GRID: usize = 21;
/// Samples compared for the W2 tracked over training (and for its floor, and W2 against NFE).
const METRIC_N: usize = 500;
/// The evaluation stream's key of the fixed base draw behind W2 over training.
const METRIC_BASE_KEY: u64 = u64::MAX - 1;
/// Independent true draws the W2 floor is averaged over: one pair alone varies by about 10%.
const FLOOR_DRAWS: u64 = 4;

/// What a view of the model contains.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewRequest {
    pub particles: usize,
    pub trajectories: usize,
    /// Euler steps of the drawn trajectories (uniform, so curvature is read off them).
    pub euler_steps: usize,
    /// None: the first training descriptor.
    pub descriptor: Option<Vec<f32>>,
    /// MixFlow-RF: the w of the drawn source.
    pub source_w: f32,
    /// The data-space box the velocity field is sampled over (min, max) in the canvas plane's
    /// two data axes; None leaves the field out.
    pub field_box: Option<([f32; 2], [f32; 2])>,
    /// The display advects the particles on the GPU (`shaders/advect.wgsl`): the view integrates
    /// only the first [`METRIC_N`] for the metrics and carries the rest as an [`crate::train::Advection`].
    pub advect: bool,
}

impl Default for ViewRequest {
    fn default() -> Self {
        Self {
            particles: 2000,
            trajectories: 200,
            euler_steps: 24,
            descriptor: None,
            source_w: 0.0,
            field_box: None,
            advect: false,
        }
    }
}

impl ViewRequest {
    /// The request with every count inside its limits, and a note for each value that was changed.
    pub fn clamped(&self) -> (Self, Vec<String>) {
        let mut r = self.clone();
        let mut notes = Vec::new();
        let mut clamp = |value: &mut usize, lo: usize, hi: usize, what: &str| {
            let v = (*value).clamp(lo, hi);
            if v != *value {
                notes.push(format!("{what} {} is outside {lo}..{hi}: using {v}", *value));
                *value = v;
            }
        };
        clamp(&mut r.particles, 1, MAX_PARTICLES, "particles");
        clamp(&mut r.trajectories, 0, MAX_TRAJECTORIES, "trajectories");
        clamp(&mut r.euler_steps, 1, 200, "Euler steps");
        r.trajectories = r.trajectories.min(r.particles);
        (r, notes)
    }
}

pub enum Command {
    Play,
    Pause,
    /// One training step, then a fresh view.
    Step,
    /// A new run from scratch with these settings (the same seeds give the same run); `gpu` is
    /// the device for the GPU backend, when the app has one.
    Reset {
        config: Box<TrainConfig>,
        gpu: Option<Device>,
        /// A cached start to continue from (a demo's bundled weights), instead of step 0.
        start: Option<&'static [u8]>,
        /// The run's place in its comparison's lock-step (none for a run on its own).
        pace: Option<PaceSlot>,
    },
    View(ViewRequest),
    /// The next step's minibatch with its flow-matching terms (the step-by-step view).
    Inspect,
    /// W2 after Euler with 1..128 steps.
    MeasureNfe,
    /// W2 at each descriptor of every split.
    MeasureDescriptors,
    /// Write a checkpoint (a run folder, as `mixflow train` writes) into this folder.
    #[cfg(not(target_arch = "wasm32"))]
    Save(std::path::PathBuf),
    /// Continue from a run folder written by `mixflow train` or by `Save`.
    #[cfg(not(target_arch = "wasm32"))]
    Open(std::path::PathBuf),
}

/// The velocity field on a grid at one time.
#[derive(Clone, Debug)]
pub struct FieldSlice {
    pub t: f32,
    pub positions: Points,
    pub velocities: Points,
}

/// One picture of the model, in original units.
pub struct View {
    pub request: ViewRequest,
    /// Samples, base draws, mixture, κ-FC read-out and trajectories, as the trainer gives them.
    pub model: Snapshot,
    /// True data for the viewed descriptor (when the dataset can draw it).
    pub data: Option<Points>,
    /// One training minibatch's pairs (x0, x1).
    pub pairs: Option<(Points, Points)>,
    pub field: Vec<FieldSlice>,
}

/// What the app needs to know about a run once, when it starts.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub config: TrainConfig,
    pub dim: usize,
    pub descriptor_dim: usize,
    pub conditions: Vec<crate::data::Condition>,
    pub param_counts: Vec<(&'static str, usize)>,
    /// A sample of the training data, for fitting the canvas and projections.
    pub data_sample: Points,
    /// W2 between independent true draws of the metric's size (a mean over [`FLOOR_DRAWS`]): what
    /// a perfect model scores. One that puts its samples a little too close together can score
    /// lower, so a W2 just under the floor is not a bug.
    pub w2_floor: f64,
    /// The backend actually used, and why it differs from the one asked for.
    pub backend: String,
    pub note: Option<String>,
    /// Steps already trained and their losses (non-zero for a run opened from a checkpoint).
    pub step: usize,
    pub history: Vec<crate::train::Losses>,
}

/// Metrics tracked over training, read off a view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricPoint {
    pub step: usize,
    pub w2: f64,
    pub curvature: f64,
}

pub enum Event {
    Started(Box<RunInfo>),
    Steps {
        messages: Vec<StepMessage>,
        steps_per_s: f64,
    },
    View(Box<View>),
    Metric(MetricPoint),
    Inspection(Box<crate::train::Inspection>),
    Nfe(Vec<(usize, f64)>),
    Descriptors(Vec<(Vec<f32>, Split, f64)>),
    Playing(bool),
    /// Training stopped by itself (diverged or finished); the message says why and what to do.
    Stopped(String),
    /// A command could not be carried out; the run goes on as before.
    Error(String),
    /// The worker itself stopped (a bug: a panic); the message is the panic's. Nothing more
    /// comes from this worker; a reset starts a new one.
    Crashed(String),
    /// A command was carried out; what it did, for the user.
    Done(String),
}

/// Wakes the app when a worker has news: the window sleeps while nothing moves, instead of
/// polling the channels ten times a second.
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// The worker's end of the event channel; each event also wakes the app.
#[derive(Clone)]
struct Outbox {
    events: Sender<Event>,
    wake: Option<Waker>,
}

impl Outbox {
    /// False when the app has gone.
    fn send(&self, event: Event) -> bool {
        let sent = self.events.send(event).is_ok();
        if let Some(wake) = &self.wake {
            wake();
        }
        sent
    }
}

/// The app's end of a worker.
pub struct WorkerHandle {
    commands: Sender<Command>,
    pub events: Receiver<Event>,
    /// What a replacement worker needs, should this one stop: the window's GPU device and a view
    /// request (the app sends its current one again after every reset).
    gpu: Option<Device>,
    view: ViewRequest,
    wake: Option<Waker>,
}

impl WorkerHandle {
    /// Starts a worker on `config`; `gpu` is the device to use when the config asks for the GPU
    /// backend (the window's own device), if one is available.
    pub fn spawn(config: TrainConfig, gpu: Option<Device>, view: ViewRequest, play: bool) -> Self {
        Self::spawn_from(config, None, None, gpu, view, play, None)
    }

    /// [`Self::spawn`] continuing from a cached start, and keeping pace with other runs.
    pub fn spawn_from(
        config: TrainConfig,
        start: Option<&'static [u8]>,
        pace: Option<PaceSlot>,
        gpu: Option<Device>,
        view: ViewRequest,
        play: bool,
        wake: Option<Waker>,
    ) -> Self {
        let (commands, command_rx) = channel();
        let (event_tx, events) = channel();
        let outbox = Outbox {
            events: event_tx,
            wake: wake.clone(),
        };
        // The first run starts like any later one, so starting and resetting share one path.
        let _ = commands.send(Command::Reset {
            config: Box::new(config),
            gpu: None,
            start,
            pace,
        });
        #[cfg(not(target_arch = "wasm32"))]
        let crash = outbox.clone();
        let worker = Worker::new(command_rx, outbox, gpu.clone(), view.clone(), play);
        #[cfg(not(target_arch = "wasm32"))]
        spawn_guarded(move || worker.run(), crash);
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_futures::spawn_local(worker.run_in_page());
        Self {
            commands,
            events,
            gpu,
            view,
            wake,
        }
    }

    /// A new worker in place of one that stopped, with the same device.
    pub fn respawn(&mut self, config: TrainConfig, start: Option<&'static [u8]>, pace: Option<PaceSlot>, play: bool) {
        let (gpu, view, wake) = (self.gpu.clone(), self.view.clone(), self.wake.clone());
        *self = Self::spawn_from(config, start, pace, gpu, view, play, wake);
    }

    pub fn send(&self, command: Command) {
        // A live worker only stops when its handle is dropped; one that crashed has said so
        // through its events, so a failed send loses nothing that is not already reported.
        let _ = self.commands.send(command);
    }
}

/// Runs `body` on a thread of its own. A panic there is a bug, but it must not pass silently:
/// the app is told ([`Event::Crashed`]), shows the message with *Reset*, and the other runs keep
/// going. (In the page a panic aborts the module, and the page's panic hook says so.)
#[cfg(not(target_arch = "wasm32"))]
fn spawn_guarded(body: impl FnOnce() + Send + 'static, crash: Outbox) {
    std::thread::Builder::new()
        .name("mixflow-trainer".into())
        .spawn(move || {
            if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                crash.send(Event::Crashed(crate::backend::panic_text(&panic)));
            }
        })
        .expect("the OS can start a thread");
}

struct Worker {
    commands: Receiver<Command>,
    events: Outbox,
    gpu: Option<Device>,
    /// Why the GPU stopped working mid-run, if it did: later runs that ask for it train on the
    /// CPU, until the app hands over another device.
    gpu_lost: Option<String>,
    view: ViewRequest,
    playing: bool,
    trainer: Option<Trainer>,
    /// A CPU copy of the model that views are computed on, for a trainer whose device cannot be
    /// read synchronously (WebGPU in the page).
    mirror: Option<Trainer>,
    /// Set when the model changed since the last view.
    stale: bool,
    last_view: Instant,
    /// How long the last view took: views are spaced so training gets most of the time.
    view_cost: Duration,
    last_metric_step: Option<usize>,
    pending_view: Option<PendingView>,
    rate: RateMeter,
    pace: Option<PaceSlot>,
}

/// Training time between looks at the commands: on a thread of its own, and in the page, where
/// the chunk also bounds how long input and drawing can wait for training.
#[cfg(not(target_arch = "wasm32"))]
const CHUNK: Duration = Duration::from_millis(25);
#[cfg(target_arch = "wasm32")]
const CHUNK: Duration = Duration::from_millis(8);
/// Views at most this often while training.
const VIEW_EVERY: Duration = Duration::from_millis(200);

impl Worker {
    fn new(commands: Receiver<Command>, events: Outbox, gpu: Option<Device>, view: ViewRequest, play: bool) -> Self {
        Self {
            commands,
            events,
            gpu,
            gpu_lost: None,
            view,
            playing: play,
            trainer: None,
            mirror: None,
            stale: true,
            last_view: Instant::now(),
            view_cost: Duration::ZERO,
            last_metric_step: None,
            pending_view: None,
            rate: RateMeter::default(),
            pace: None,
        }
    }

    fn emit(&self, event: Event) -> bool {
        self.events.send(event)
    }

    /// A worker thread's life: sleep while there is nothing to do, work otherwise.
    #[cfg(not(target_arch = "wasm32"))]
    fn run(mut self) {
        loop {
            if self.idle() {
                let Ok(command) = self.commands.recv() else {
                    return;
                };
                if !pollster::block_on(self.handle(command)) {
                    return;
                }
            }
            if !pollster::block_on(self.tick()) {
                return;
            }
        }
    }

    /// The worker's life as a task in the page: work, then yield to the event loop (at once while
    /// there is work; a little later while idle, to look for commands), until the app has gone.
    #[cfg(target_arch = "wasm32")]
    async fn run_in_page(mut self) {
        loop {
            let idle = self.idle();
            if !self.tick().await {
                return;
            }
            crate::platform::yield_to_page(if idle { 30 } else { 0 }).await;
        }
    }

    /// Nothing to do until a command arrives.
    fn idle(&self) -> bool {
        !self.playing && !self.stale && self.pending_view.is_none()
    }

    /// One round of work: every command that arrived, a chunk of training, and a view when one
    /// is due. False when the app has gone.
    async fn tick(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(command) => {
                    if !self.handle(command).await {
                        return false;
                    }
                }
                Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => break,
            }
        }
        if let Some(pending) = self.pending_view.take() {
            let metric = self.viewed().and_then(|t| pending.measure(t));
            return metric.is_none_or(|point| self.emit(Event::Metric(point))) && self.emit(Event::View(pending.view));
        }
        if self.playing && !self.train_chunk().await {
            return false;
        }
        self.report_pace();
        let due = self.last_view.elapsed() >= VIEW_EVERY.max(self.view_cost * 3);
        if self.stale && (due || !self.playing) && !self.publish_view().await {
            return false;
        }
        true
    }

    /// Carries out one command; false when the app has gone.
    async fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Play => {
                if self.trainer.as_ref().is_some_and(|t| t.is_finished()) {
                    return self.emit(Event::Error(
                        "training has reached its last step: raise Steps and restart to train longer".into(),
                    ));
                }
                self.set_playing(true)
            }
            Command::Pause => self.set_playing(false),
            Command::Step => {
                self.set_playing(false);
                self.step_once().await
            }
            Command::Reset {
                config,
                gpu,
                start,
                pace,
            } => {
                if gpu.is_some() {
                    self.gpu = gpu;
                    self.gpu_lost = None;
                }
                self.pace = pace;
                self.reset(*config, start).await;
                self.report_pace();
                true
            }
            Command::View(request) => {
                let (request, notes) = request.clamped();
                self.view = request;
                self.stale = true;
                notes.into_iter().all(|n| self.emit(Event::Error(n)))
            }
            Command::Inspect => match &self.trainer {
                Some(trainer) => match trainer.inspect_next_step().await {
                    Ok(seen) => self.emit(Event::Inspection(Box::new(seen))),
                    Err(e) => self.emit(Event::Error(format!("cannot show the next minibatch: {e}"))),
                },
                None => true,
            },
            #[cfg(not(target_arch = "wasm32"))]
            Command::Save(dir) => match &self.trainer {
                Some(trainer) => match trainer.save(&dir) {
                    Ok(()) => self.emit(Event::Done(format!(
                        "saved the checkpoint of step {} to {} (open it with `mixflow eval {}`)",
                        trainer.steps_done(),
                        dir.display(),
                        dir.display()
                    ))),
                    Err(e) => self.emit(Event::Error(format!("the checkpoint was not saved: {e}"))),
                },
                None => self.emit(Event::Error(
                    "the run has not started yet: there is no checkpoint to save".into(),
                )),
            },
            #[cfg(not(target_arch = "wasm32"))]
            Command::Open(dir) => self.open(&dir),
            Command::MeasureNfe => match self.measure_nfe().await {
                Ok(curve) => self.emit(Event::Nfe(curve)),
                Err(e) => self.emit(Event::Error(e)),
            },
            Command::MeasureDescriptors => match self.measure_descriptors().await {
                Ok(curve) => self.emit(Event::Descriptors(curve)),
                Err(e) => self.emit(Event::Error(e)),
            },
        }
    }

    fn set_playing(&mut self, playing: bool) -> bool {
        self.playing = playing;
        self.rate = RateMeter::default();
        self.report_pace();
        self.emit(Event::Playing(playing))
    }

    /// Tells the comparison's other runs where this one is: its step while it trains, nothing
    /// while it is paused, finished or stopped (so it holds nobody back).
    fn report_pace(&self) {
        if let Some(pace) = &self.pace {
            let training = self.trainer.as_ref().filter(|t| self.playing && !t.is_finished());
            pace.set(training.map(Trainer::steps_done));
        }
    }

    /// Replaces the run by the one saved in `dir`; a folder that cannot be read leaves the run
    /// as it was.
    #[cfg(not(target_arch = "wasm32"))]
    fn open(&mut self, dir: &std::path::Path) -> bool {
        match Trainer::resume(dir, |_| {}) {
            Ok(trainer) => {
                let note = format!("opened {} at step {}", dir.display(), trainer.steps_done());
                let info = run_info(&trainer, trainer.config.backend.name().into(), Some(note));
                self.install(trainer, None, info)
            }
            Err(e) => self.emit(Event::Error(format!("cannot open the checkpoint: {e}"))),
        }
    }

    /// Makes `trainer` (with its view mirror, if any) the worker's run, forgetting what the run
    /// before it had pending, and tells the app.
    fn install(&mut self, trainer: Trainer, mirror: Option<Trainer>, info: RunInfo) -> bool {
        self.trainer = Some(trainer);
        self.mirror = mirror;
        self.last_metric_step = None;
        self.pending_view = None;
        self.rate = RateMeter::default();
        self.stale = true;
        self.emit(Event::Started(Box::new(info)))
    }

    async fn reset(&mut self, config: TrainConfig, start: Option<&'static [u8]>) {
        // A playing run keeps playing after a reset: switching dataset or method mid-training
        // goes straight on training the new run.
        self.trainer = None;
        self.mirror = None;
        self.last_metric_step = None;
        self.pending_view = None;
        self.rate = RateMeter::default();
        let (device, backend, note) = self.device_for(&config).await;
        let mirrored = device.needs_mirror;
        let started = Trainer::on_device(config.clone(), device.device).and_then(|mut trainer| {
            if let Some(bytes) = start {
                trainer.start_from(bytes)?;
            }
            let mirror = match mirrored {
                true => Some(trainer.mirror_on(crate::backend::BackendKind::Cpu.device()?)?),
                false => None,
            };
            Ok((trainer, mirror))
        });
        match started {
            Ok((trainer, mirror)) => {
                let info = run_info(&trainer, backend, note);
                self.install(trainer, mirror, info);
            }
            Err(e) => {
                self.playing = false;
                self.emit(Event::Error(format!("cannot start this run: {e}")));
                self.emit(Event::Playing(false));
            }
        }
    }

    /// The device for the configured backend, falling back to the CPU (with a note) when the GPU
    /// cannot be had.
    async fn device_for(&self, config: &TrainConfig) -> (TrainDevice, String, Option<String>) {
        use crate::backend::BackendKind;
        let cpu = || TrainDevice::plain(BackendKind::Cpu.device().expect("the CPU backend always starts"));
        match config.backend {
            BackendKind::Gpu if let Some(lost) = &self.gpu_lost => (cpu(), "cpu".into(), Some(gpu_lost_note(lost))),
            BackendKind::Gpu => match self.gpu_device().await {
                Some(Ok((device, name))) => (device, name, slow_gpu_note()),
                Some(Err(e)) => (cpu(), "cpu".into(), Some(gpu_lost_note(&e))),
                None => (
                    cpu(),
                    "cpu".into(),
                    Some("no GPU device is available here: training on the CPU instead".into()),
                ),
            },
            kind => match kind.device() {
                Ok(d) => (TrainDevice::plain(d), kind.name().into(), None),
                Err(e) => (cpu(), "cpu".into(), Some(format!("{e}: training on the CPU instead"))),
            },
        }
    }

    /// The window's own wgpu device, shared with burn.
    #[cfg(not(target_arch = "wasm32"))]
    async fn gpu_device(&self) -> Option<Result<(TrainDevice, String), String>> {
        let device = self.gpu.clone().map(crate::backend::probe)?;
        Some(device.map(|d| (TrainDevice::plain(d), "gpu (the window's wgpu device)".into())))
    }

    /// burn's WebGPU device in the page, with a CPU mirror for views (a browser reads its GPU
    /// only asynchronously, and views read a great deal).
    #[cfg(target_arch = "wasm32")]
    async fn gpu_device(&self) -> Option<Result<(TrainDevice, String), String>> {
        let device = crate::backend::browser_gpu().await.map(|device| TrainDevice {
            device,
            needs_mirror: true,
        });
        Some(device.map(|d| (d, "gpu (WebGPU; views on the CPU)".into())))
    }

    /// The trainer that views read: the CPU mirror where there is one.
    fn viewed(&self) -> Option<&Trainer> {
        self.mirror.as_ref().or(self.trainer.as_ref())
    }

    /// Brings the mirror (if any) up to the trainer's step before a view reads it. A device that
    /// can no longer be read moves the run to the CPU (see [`Self::continue_on_cpu`]); false when
    /// the app has gone.
    async fn sync_mirror(&mut self) -> bool {
        let synced = match (&self.trainer, &mut self.mirror) {
            (Some(trainer), Some(mirror)) if mirror.steps_done() != trainer.steps_done() => {
                trainer.update_mirror(mirror).await
            }
            _ => Ok(()),
        };
        match synced {
            Ok(()) => true,
            Err(e) => self.continue_on_cpu(&e),
        }
    }

    /// The training device failed (a GPU lost or poisoned mid-run, as headless Chromium's WebGPU
    /// can be): rather than stopping, the run goes on on the CPU, from its mirror's weights (the
    /// step of the last view, with a fresh optimiser) where it has one, else from step 0. It keeps
    /// playing if it was; later runs asking for the GPU start on the CPU. False when the app has gone.
    fn continue_on_cpu(&mut self, error: &str) -> bool {
        self.gpu_lost = Some(error.to_string());
        #[cfg(target_arch = "wasm32")]
        crate::backend::lose_browser_gpu(error);
        let Some(lost) = self.trainer.take() else {
            return true;
        };
        let resumed = match self.mirror.take() {
            Some(mirror) => Ok(mirror),
            None => crate::backend::BackendKind::Cpu
                .device()
                .and_then(|cpu| Trainer::on_device(lost.config.clone(), cpu)),
        };
        match resumed {
            Ok(trainer) => {
                let note = format!("{}, from step {}", gpu_lost_note(error), trainer.steps_done());
                let info = run_info(&trainer, "cpu".into(), Some(note));
                self.install(trainer, None, info)
            }
            Err(e) => {
                self.playing = false;
                self.emit(Event::Stopped(format!(
                    "the GPU failed ({error}) and the CPU cannot take over: {e}"
                ))) && self.emit(Event::Playing(false))
            }
        }
    }

    /// Trains for one chunk of time; false when the app has gone.
    async fn train_chunk(&mut self) -> bool {
        let may_lose_gpu = self.may_lose_gpu();
        let Some(trainer) = self.trainer.as_mut() else {
            self.playing = false;
            return true;
        };
        let started = Instant::now();
        let mut messages = Vec::new();
        let mut stop = None;
        let mut device_lost = None;
        let mut held_back = false;
        while started.elapsed() < CHUNK {
            if let Some(pace) = &self.pace
                && !pace.may_step(trainer.steps_done())
            {
                held_back = true;
                break;
            }
            match trainer.step_async().await {
                Ok(m) => {
                    if let Some(pace) = &self.pace {
                        pace.set(Some(m.step));
                    }
                    messages.push(m);
                }
                Err(TrainError::Finished) => {
                    stop = Some(format!("finished all {} steps", trainer.config.steps));
                    break;
                }
                Err(TrainError::Device(e)) if may_lose_gpu => {
                    device_lost = Some(e);
                    break;
                }
                Err(e @ (TrainError::Diverged { .. } | TrainError::Device(_))) => {
                    stop = Some(format!("{e}. Paused: press Reset to start again"));
                    break;
                }
            }
        }
        let trained = messages.len();
        if trained > 0 {
            self.stale = true;
            self.rate.add(trained);
            let steps_per_s = self.rate.per_second();
            if !self.emit(Event::Steps { messages, steps_per_s }) {
                return false;
            }
        }
        if let Some(e) = device_lost {
            return self.continue_on_cpu(&e);
        }
        if held_back
            && trained == 0
            && let Some(pace) = &self.pace
        {
            // Waiting for a slower run of the comparison: sleep until it moves, not spin.
            pace.wait(CHUNK);
        }
        match stop {
            Some(reason) => {
                self.playing = false;
                self.emit(Event::Stopped(reason)) && self.emit(Event::Playing(false))
            }
            None => true,
        }
    }

    async fn step_once(&mut self) -> bool {
        let may_lose_gpu = self.may_lose_gpu();
        let Some(trainer) = self.trainer.as_mut() else {
            return true;
        };
        match trainer.step_async().await {
            Ok(m) => {
                self.stale = true;
                self.emit(Event::Steps {
                    messages: vec![m],
                    steps_per_s: 0.0,
                })
            }
            Err(TrainError::Device(e)) if may_lose_gpu => self.continue_on_cpu(&e),
            Err(e) => self.emit(Event::Stopped(e.to_string())),
        }
    }

    /// Whether a device failure of this run is a GPU's, to be survived on the CPU: a run asked
    /// for the GPU, before any GPU failed (a CPU run that fails is stopped, not restarted).
    fn may_lose_gpu(&self) -> bool {
        self.gpu_lost.is_none()
            && self
                .trainer
                .as_ref()
                .is_some_and(|t| t.config.backend == crate::backend::BackendKind::Gpu)
    }

    /// Computes and sends a view of the model; false when the app has gone.
    async fn publish_view(&mut self) -> bool {
        let started = Instant::now();
        if !self.sync_mirror().await {
            return false;
        }
        let Some(trainer) = self.viewed() else {
            self.stale = false;
            return true;
        };
        let result = make_view(trainer, &self.view);
        // A view of a new step gets a point of W2 over training: the descriptor it is measured
        // at and its samples are drawn now, from the model the view shows (W2 itself waits for
        // the next round). Another view of the same step needs neither.
        let metric = match &result {
            Ok(view) if self.last_metric_step != Some(view.model.step) => {
                let descriptor = viewed_descriptor(trainer, self.view.descriptor.as_deref());
                let samples = metric_samples(trainer, descriptor.as_deref(), self.view.euler_steps).ok();
                Some((descriptor, samples))
            }
            _ => None,
        };
        self.view_cost = started.elapsed();
        self.last_view = Instant::now();
        self.stale = false;
        match (result, metric) {
            (Ok(view), Some((descriptor, samples))) => {
                self.last_metric_step = Some(view.model.step);
                self.pending_view = Some(PendingView::of(view, descriptor, samples));
                true
            }
            (Ok(view), None) => self.emit(Event::View(Box::new(view))),
            // A model that cannot be drawn (it produced NaN or inf) pauses training, without
            // replacing a message that already says why training stopped.
            (Err(e), _) if self.playing => {
                self.playing = false;
                self.emit(Event::Stopped(format!(
                    "cannot draw the model: {e}. Paused: press Reset to start again"
                ))) && self.emit(Event::Playing(false))
            }
            (Err(e), _) => self.emit(Event::Error(format!("cannot draw the model: {e}"))),
        }
    }

    async fn measure_nfe(&mut self) -> Result<Vec<(usize, f64)>, String> {
        if !self.sync_mirror().await {
            return Err("the app has gone".into());
        }
        let trainer = self.viewed().ok_or("no run is loaded")?;
        let sampler = trainer.sampler();
        let descriptor = viewed_descriptor(trainer, self.view.descriptor.as_deref());
        // The size of the floor's draws: W2 falls as samples grow, so a larger sample than the
        // floor's would seem to beat it.
        let (data, _) = reference(trainer, descriptor.as_deref(), METRIC_N)?;
        let mut rng = rng::seeded(trainer.config.data_seed, Stream::Eval, 1);
        let base = sampler.base(descriptor.as_deref(), METRIC_N, &mut rng)?.points;
        crate::eval::NFE_SWEEP
            .iter()
            .map(|&steps| {
                let generated = sampler.generate(descriptor.as_deref(), &base, &SolveOptions::euler(steps), false)?;
                Ok((generated.nfe, metrics::w2(&generated.samples, &data)))
            })
            .collect()
    }

    async fn measure_descriptors(&mut self) -> Result<Vec<(Vec<f32>, Split, f64)>, String> {
        if !self.sync_mirror().await {
            return Err("the app has gone".into());
        }
        let trainer = self.viewed().ok_or("no run is loaded")?;
        if !trainer.dataset.is_conditional() {
            return Err("W2 against the descriptor needs a conditional dataset".into());
        }
        let sampler = trainer.sampler();
        let solve = SolveOptions::euler(self.view.euler_steps);
        let mut out = Vec::new();
        for (i, cond) in trainer.dataset.conditions.iter().enumerate() {
            let mut rng = rng::seeded(trainer.config.data_seed, Stream::Reference, i as u64);
            let data = trainer.dataset.sample(Some(i), METRIC_N, &mut rng);
            let base = sampler.base(Some(&cond.descriptor), METRIC_N, &mut rng)?.points;
            let generated = sampler.generate(Some(&cond.descriptor), &base, &solve, false)?;
            out.push((
                cond.descriptor.clone(),
                cond.split,
                metrics::w2(&generated.samples, &data),
            ));
        }
        Ok(out)
    }
}

/// Why a run asked for the GPU trains on the CPU.
fn gpu_lost_note(error: &str) -> String {
    format!("the GPU cannot run burn ({error}): training on the CPU instead")
}

/// What to expect from a GPU that is software (only the page can tell).
fn slow_gpu_note() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    if !crate::web::has_hardware_webgpu() {
        return Some(
            "this browser's WebGPU is a software rasteriser: burn's kernels take minutes to compile \
             and then train far slower than the cpu backend"
                .into(),
        );
    }
    None
}

/// A device to train on, and whether views need a CPU mirror of the model (see [`Worker::viewed`]).
struct TrainDevice {
    device: Device,
    needs_mirror: bool,
}

impl TrainDevice {
    fn plain(device: Device) -> Self {
        Self {
            device,
            needs_mirror: false,
        }
    }
}

/// The descriptor a view shows: the requested one when it fits this run's data (a request may
/// still carry the previous dataset's descriptor just after a switch), else the first training one.
fn viewed_descriptor(trainer: &Trainer, requested: Option<&[f32]>) -> Option<Vec<f32>> {
    requested
        .filter(|d| d.len() == trainer.dataset.descriptor_dim && trainer.dataset.is_conditional())
        .map(<[f32]>::to_vec)
        .or_else(|| first_train_descriptor(trainer))
}

fn first_train_descriptor(trainer: &Trainer) -> Option<Vec<f32>> {
    let train = trainer.dataset.split_indices(Split::Train);
    train.first().map(|&i| trainer.dataset.conditions[i].descriptor.clone())
}

/// `n` true points for `descriptor`, and whether they came from the generator (vs. none known).
fn reference(trainer: &Trainer, descriptor: Option<&[f32]>, n: usize) -> Result<(Points, bool), String> {
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Reference, 0);
    match descriptor {
        Some(d) => trainer
            .dataset
            .sample_at(d, n, &mut rng)
            .map(|p| (p, true))
            .ok_or_else(|| "this dataset cannot draw data for that descriptor".to_string()),
        None => Ok((trainer.dataset.sample(None, n, &mut rng), true)),
    }
}

fn run_info(trainer: &Trainer, backend: String, note: Option<String>) -> RunInfo {
    let descriptor = first_train_descriptor(trainer);
    let cond = descriptor
        .as_ref()
        .and_then(|d| trainer.dataset.conditions.iter().position(|c| &c.descriptor == d));
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Display, 0);
    // The canvas fits every training descriptor's data, so switching descriptors keeps the frame.
    let data_sample = if trainer.dataset.is_conditional() {
        let train = trainer.dataset.split_indices(Split::Train);
        let per = (4000 / train.len().max(1)).max(50);
        let mut all = Vec::new();
        for &i in &train {
            all.extend(trainer.dataset.sample(Some(i), per, &mut rng).data);
        }
        Points::new(trainer.dataset.dim, all)
    } else {
        trainer.dataset.sample(None, 4000, &mut rng)
    };
    let a = trainer.dataset.sample(
        cond,
        METRIC_N,
        &mut rng::seeded(trainer.config.data_seed, Stream::Reference, 0),
    );
    let floor = (0..FLOOR_DRAWS)
        .map(|key| {
            let b = trainer.dataset.sample(
                cond,
                METRIC_N,
                &mut rng::seeded(trainer.config.data_seed, Stream::Floor, key),
            );
            metrics::w2(&a, &b)
        })
        .sum::<f64>()
        / FLOOR_DRAWS as f64;
    RunInfo {
        config: trainer.config.clone(),
        dim: trainer.dataset.dim,
        descriptor_dim: trainer.dataset.descriptor_dim,
        conditions: trainer.dataset.conditions.clone(),
        param_counts: trainer.param_counts(),
        data_sample,
        w2_floor: floor,
        backend,
        // The data's own note (a file cut at the row limit) after the device's.
        note: note
            .into_iter()
            .chain(trainer.dataset.note.clone())
            .reduce(|a, b| format!("{a}; {b}")),
        step: trainer.steps_done(),
        history: trainer.history().to_vec(),
    }
}

/// A view of `trainer`'s model as `req` asks (what the worker sends; public for rendering tests).
pub fn make_view(trainer: &Trainer, req: &ViewRequest) -> Result<View, String> {
    let descriptor = viewed_descriptor(trainer, req.descriptor.as_deref());
    let take = |advect: bool| {
        trainer.snapshot(&SnapshotRequest {
            particles: req.particles,
            trajectories: if advect {
                METRIC_N.min(req.particles)
            } else {
                req.trajectories
            },
            solve: SolveOptions::euler(req.euler_steps),
            descriptor: descriptor.clone(),
            source_w: req.source_w,
            advect,
        })
    };
    let mut snapshot = take(req.advect)?;
    // A network too wide for the shader's arrays is drawn from the CPU instead.
    if let Some(a) = &snapshot.advection
        && crate::render::advect::takes(&a.field).is_err()
    {
        snapshot = take(false)?;
    }
    let data = reference(trainer, descriptor.as_deref(), req.particles.min(10_000))
        .ok()
        .map(|(p, _)| p);
    let pairs = trainer.minibatch_pairs(req.source_w).ok();
    let field = match req.field_box {
        Some((lo, hi)) if trainer.dataset.dim == 2 => field(trainer, descriptor.as_deref(), lo, hi)?,
        _ => Vec::new(),
    };
    Ok(View {
        request: req.clone(),
        model: snapshot,
        data,
        pairs,
        field,
    })
}

/// The velocity field on a grid over `lo..hi` at [`FIELD_TIMES`] evenly spaced times.
fn field(trainer: &Trainer, descriptor: Option<&[f32]>, lo: [f32; 2], hi: [f32; 2]) -> Result<Vec<FieldSlice>, String> {
    let sampler = trainer.sampler();
    let g = FIELD_GRID;
    let mut grid = Vec::with_capacity(g * g * 2);
    for iy in 0..g {
        for ix in 0..g {
            let fx = (ix as f32 + 0.5) / g as f32;
            let fy = (iy as f32 + 0.5) / g as f32;
            grid.push(lo[0] + fx * (hi[0] - lo[0]));
            grid.push(lo[1] + fy * (hi[1] - lo[1]));
        }
    }
    let positions = Points::new(2, grid);
    (0..FIELD_TIMES)
        .map(|i| {
            let t = i as f32 / (FIELD_TIMES - 1) as f32;
            Ok(FieldSlice {
                t,
                velocities: sampler.velocity(descriptor, &positions, t)?,
                positions: positions.clone(),
            })
        })
        .collect()
}

/// A new view waiting for its metrics, measured in the next round and sent just before it (so the
/// charts always hold the view's step): W2's exact assignment is the dearest part, and in the page
/// each round is one task, so the two never add up to one long one.
struct PendingView {
    view: Box<View>,
    step: usize,
    /// [`metric_samples`] of the model the view shows (None when they could not be drawn).
    samples: Option<Points>,
    descriptor: Option<Vec<f32>>,
    curvature: f64,
}

impl PendingView {
    fn of(view: View, descriptor: Option<Vec<f32>>, samples: Option<Points>) -> Self {
        let m = &view.model;
        let curvature = if m.trajectories.len() >= 2 && !m.trajectories[0].is_empty() {
            metrics::mean_std(&metrics::curvature(&m.trajectories)).0
        } else {
            f64::NAN
        };
        Self {
            step: m.step,
            samples,
            descriptor,
            curvature,
            view: Box::new(view),
        }
    }

    /// W2 of the metric samples against the reference draw the floor is measured on, of the
    /// same size.
    fn measure(&self, trainer: &Trainer) -> Option<MetricPoint> {
        let samples = self.samples.as_ref()?;
        let (data, _) = reference(trainer, self.descriptor.as_deref(), samples.len()).ok()?;
        Some(MetricPoint {
            step: self.step,
            w2: metrics::w2(samples, &data),
            curvature: self.curvature,
        })
    }
}

/// The samples W2 over training is measured on: [`METRIC_N`] of them, from one base draw that is
/// the same at every step. With a fresh draw per view the curve showed the draw, not the model:
/// on moons a converged RF run's W2 wandered between 0.37 and 0.66 over its last 500 steps, so
/// the last point often looked like a jump.
fn metric_samples(trainer: &Trainer, descriptor: Option<&[f32]>, euler_steps: usize) -> Result<Points, String> {
    let sampler = trainer.sampler();
    let mut rng = rng::seeded(trainer.config.data_seed, Stream::Eval, METRIC_BASE_KEY);
    let base = sampler.base(descriptor, METRIC_N, &mut rng)?.points;
    Ok(sampler
        .generate(descriptor, &base, &SolveOptions::euler(euler_steps), false)?
        .samples)
}

/// Steps per second of wall time (views included) over the last two seconds of playing.
#[derive(Default)]
struct RateMeter {
    /// When each chunk ended and how many steps it ran.
    chunks: std::collections::VecDeque<(Instant, usize)>,
    since: Option<Instant>,
}

impl RateMeter {
    fn add(&mut self, steps: usize) {
        let now = Instant::now();
        self.chunks.push_back((now, steps));
        while self.chunks.len() > 1 && now - self.chunks[0].0 > Duration::from_secs(2) {
            self.since = Some(self.chunks[0].0);
            self.chunks.pop_front();
        }
    }

    fn per_second(&self) -> f64 {
        let Some(&(last, _)) = self.chunks.back() else {
            return 0.0;
        };
        let steps: usize = self.chunks.iter().map(|(_, s)| s).sum();
        // The window opens where the chunk before the oldest kept one ended (or the first chunk began).
        let first = self.chunks[0].0;
        let opened = self.since.unwrap_or(first.checked_sub(CHUNK).unwrap_or(first));
        let secs = (last - opened).as_secs_f64();
        if secs > 0.0 { steps as f64 / secs } else { 0.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;
    use crate::method::Method;

    fn cpu() -> Device {
        BackendKind::Cpu.device().unwrap()
    }

    #[test]
    fn a_worker_that_panics_says_why_and_wakes_the_app() {
        let (events, received) = channel();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = woken.clone();
        let wake: Waker = std::sync::Arc::new(move || flag.store(true, std::sync::atomic::Ordering::Relaxed));
        spawn_guarded(
            || panic!("conditional family needs a condition"),
            Outbox {
                events,
                wake: Some(wake),
            },
        );
        match received.recv_timeout(Duration::from_secs(10)) {
            Ok(Event::Crashed(why)) => assert!(why.contains("needs a condition"), "{why}"),
            _ => panic!("no crash report"),
        }
        // The app is woken just after the event is sent.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !woken.load(std::sync::atomic::Ordering::Relaxed) {
            assert!(Instant::now() < deadline, "the app was not woken");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A worker holding `trainer` (and `mirror`), as if they had been started on the GPU.
    fn worker_with(trainer: Trainer, mirror: Option<Trainer>) -> (Worker, Receiver<Event>) {
        let (_, commands) = channel();
        let (events, received) = channel();
        let outbox = Outbox { events, wake: None };
        let mut worker = Worker::new(commands, outbox, None, ViewRequest::default(), true);
        worker.trainer = Some(trainer);
        worker.mirror = mirror;
        (worker, received)
    }

    fn started_info(events: &Receiver<Event>) -> RunInfo {
        events
            .try_iter()
            .find_map(|e| match e {
                Event::Started(info) => Some(*info),
                _ => None,
            })
            .expect("a Started event")
    }

    #[test]
    fn a_gpu_lost_mid_run_hands_the_run_to_the_cpu() {
        let config = TrainConfig {
            dataset: "moons".into(),
            method: Method::Rf,
            backend: BackendKind::Gpu,
            ..TrainConfig::default()
        };
        // The "GPU" trainer runs on the CPU here: only its config says GPU, which is what the
        // worker goes by. Its mirror was last synced at step 5, and it went on to step 8.
        let mut trainer = Trainer::on_device(config.clone(), cpu()).unwrap();
        for _ in 0..5 {
            trainer.step().unwrap();
        }
        let mut mirror = trainer.mirror_on(cpu()).unwrap();
        pollster::block_on(trainer.update_mirror(&mut mirror)).unwrap();
        for _ in 0..3 {
            trainer.step().unwrap();
        }
        let (mut worker, events) = worker_with(trainer, Some(mirror));

        assert!(worker.may_lose_gpu());
        assert!(worker.continue_on_cpu("device lost"));
        let info = started_info(&events);
        assert_eq!(info.backend, "cpu");
        assert_eq!(info.step, 5, "the run goes on from the mirror's weights");
        assert_eq!(
            info.note.as_deref(),
            Some("the GPU cannot run burn (device lost): training on the CPU instead, from step 5")
        );
        assert!(worker.mirror.is_none() && worker.playing);
        assert!(pollster::block_on(worker.train_chunk()));
        assert!(worker.trainer.as_ref().unwrap().steps_done() > 5, "training goes on");
        assert!(
            !worker.may_lose_gpu(),
            "a second failure stops the run rather than restarting it"
        );

        // A later run that asks for the GPU starts on the CPU, saying why.
        pollster::block_on(worker.reset(config.clone(), None));
        let info = started_info(&events);
        assert_eq!((info.backend.as_str(), info.step), ("cpu", 0));
        assert!(info.note.unwrap().contains("(device lost)"));

        // Without a mirror to take the weights from, the run starts again from step 0.
        let (mut worker, events) = worker_with(Trainer::on_device(config, cpu()).unwrap(), None);
        assert!(worker.continue_on_cpu("device lost"));
        assert_eq!(started_info(&events).step, 0);
    }
}
