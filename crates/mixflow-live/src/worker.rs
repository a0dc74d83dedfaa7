//! The training worker: owns one [`Trainer`], runs it in time-boxed chunks, and talks to the app
//! only through messages. Commands go in ([`Command`]); steps, views of the model and metrics come
//! out ([`Event`]). Nothing here draws, and the app never touches a tensor. On native the worker
//! has a thread of its own. In the browser it runs as a task on an event loop: a Web Worker's own
//! (see `remote.rs`), or, where it must share the page's thread (WebGPU, or no Web Workers), the
//! page's, training in chunks of a few milliseconds and yielding between them, so input and
//! drawing always come first. The work is written once, as async code: the thread blocks on it,
//! the browser awaits it. A browser reads its GPU only asynchronously,
//! so there a run on WebGPU keeps a CPU mirror of its model for views, updated by one
//! asynchronous read of the weights per view.

use crate::history::Rewind;
use crate::pace::PaceSlot;
use crate::protocol::{Command, CommandError, Event, FollowRequest, RunInfo, StopReason, View, ViewRequest, Waker};
use crate::view::{
    PendingView, ViewError, make_view, metric_samples, run_info, viewed_descriptor, w2_against_nfe, w2_per_descriptor,
};
use burn::tensor::Device;
use mixflow_core::config::TrainConfig;
use mixflow_core::data::Split;
use mixflow_core::follow::follow_through;
use mixflow_core::train::{RunFolderError, SetupError, TrainError, Trainer};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Duration;
use web_time::Instant;

/// The worker's end of the event channel; each event also wakes the app.
#[derive(Clone)]
pub(crate) struct Outbox {
    events: Deliver,
    wake: Option<Waker>,
}

/// Where a worker's events go: a channel to the app in the same memory, or (a Web Worker) a
/// function that posts them to the page.
#[derive(Clone)]
enum Deliver {
    Channel(Sender<Event>),
    #[cfg(target_arch = "wasm32")]
    Post(std::rc::Rc<dyn Fn(Event) -> bool>),
}

impl Outbox {
    /// An outbox into the app's event channel, waking it with each event.
    pub(crate) fn channel(events: Sender<Event>, wake: Option<Waker>) -> Self {
        Self {
            events: Deliver::Channel(events),
            wake,
        }
    }

    /// An outbox that hands each event to `post` (false: the page has gone).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn posting(post: impl Fn(Event) -> bool + 'static) -> Self {
        Self {
            events: Deliver::Post(std::rc::Rc::new(post)),
            wake: None,
        }
    }

    /// False when the app has gone.
    pub(crate) fn send(&self, event: Event) -> bool {
        let sent = match &self.events {
            Deliver::Channel(events) => events.send(event).is_ok(),
            #[cfg(target_arch = "wasm32")]
            Deliver::Post(post) => post(event),
        };
        if let Some(wake) = &self.wake {
            wake();
        }
        sent
    }
}

/// The app's end of a worker.
pub struct WorkerHandle {
    commands: Sink,
    pub events: Receiver<Event>,
    /// What a replacement worker needs, should this one stop: the window's GPU device and a view
    /// request (the app sends its current one again after every reset).
    gpu: Option<Device>,
    view: ViewRequest,
    wake: Option<Waker>,
}

/// Where a handle's commands go: a channel to a worker in the same memory, or a Web Worker.
enum Sink {
    Channel(Sender<Command>),
    #[cfg(target_arch = "wasm32")]
    Remote(crate::remote::RemoteWorker),
}

/// Where a run trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A thread of its own (native).
    Thread,
    /// A Web Worker of the page.
    WebWorker,
    /// The page's own thread, between drawing (a run on the window's WebGPU device, or no Web
    /// Workers).
    Page,
}

impl Place {
    pub fn name(self) -> &'static str {
        match self {
            Place::Thread => "thread",
            Place::WebWorker => "web-worker",
            Place::Page => "page",
        }
    }
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
        // The first run starts like any later one, so starting and resetting share one path.
        let reset = Command::Reset {
            config: Box::new(config),
            gpu: None,
            start,
            pace,
        };
        #[cfg(target_arch = "wasm32")]
        let reset = match Self::start_remote(reset, &view, play, &event_tx, &wake) {
            Ok(remote) => {
                return Self {
                    commands: Sink::Remote(remote),
                    events,
                    gpu,
                    view,
                    wake,
                };
            }
            Err(reset) => *reset,
        };
        let _ = commands.send(reset);
        let outbox = Outbox::channel(event_tx, wake.clone());
        #[cfg(not(target_arch = "wasm32"))]
        let crash = outbox.clone();
        let worker = Worker::new(command_rx, outbox, gpu.clone(), view.clone(), play);
        #[cfg(not(target_arch = "wasm32"))]
        spawn_guarded(move || worker.run(), crash);
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_futures::spawn_local(worker.run_in_page());
        Self {
            commands: Sink::Channel(commands),
            events,
            gpu,
            view,
            wake,
        }
    }

    /// In the page: `reset` run in a Web Worker, unless the run trains on the page's WebGPU
    /// device (which only the page holds) or Web Workers cannot start, which a note then says
    /// (the reset comes back, for the page's own loop).
    #[cfg(target_arch = "wasm32")]
    fn start_remote(
        reset: Command,
        view: &ViewRequest,
        play: bool,
        events: &Sender<Event>,
        wake: &Option<Waker>,
    ) -> Result<crate::remote::RemoteWorker, Box<Command>> {
        if matches!(&reset, Command::Reset { config, .. } if trains_on_page_gpu(config)) {
            return Err(Box::new(reset));
        }
        let why = match crate::remote::workers_unavailable() {
            Some(why) => why.to_string(),
            None => match crate::remote::RemoteWorker::start(Outbox::channel(events.clone(), wake.clone())) {
                Ok(remote) => {
                    remote.send(Command::View(view.clone()));
                    remote.send(reset);
                    if play {
                        remote.send(Command::Play);
                    }
                    return Ok(remote);
                }
                Err(why) => why,
            },
        };
        let _ = events.send(Event::Done(format!("training runs on the page's thread: {why}")));
        Err(Box::new(reset))
    }

    /// Where this run trains.
    pub fn place(&self) -> Place {
        match &self.commands {
            #[cfg(target_arch = "wasm32")]
            Sink::Remote(_) => Place::WebWorker,
            Sink::Channel(_) if cfg!(target_arch = "wasm32") => Place::Page,
            Sink::Channel(_) => Place::Thread,
        }
    }

    /// Whether a reset to `config` can go to this worker: not when it would move between the
    /// page's thread and a Web Worker (a run switched to or from the page's WebGPU device).
    pub fn suits(&self, config: &TrainConfig) -> bool {
        #[cfg(target_arch = "wasm32")]
        return match self.place() {
            Place::WebWorker => !trains_on_page_gpu(config),
            _ => trains_on_page_gpu(config) || crate::remote::workers_unavailable().is_some(),
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = config;
            true
        }
    }

    /// A new worker in place of one that stopped, with the same device.
    pub fn respawn(&mut self, config: TrainConfig, start: Option<&'static [u8]>, pace: Option<PaceSlot>, play: bool) {
        let (gpu, view, wake) = (self.gpu.clone(), self.view.clone(), self.wake.clone());
        *self = Self::spawn_from(config, start, pace, gpu, view, play, wake);
    }

    /// A worker for a run without a window (`mixflow train`): it trains `trainer` to its last
    /// step at once, computes no views, and writes a checkpoint into `dir` every
    /// `checkpoint_every` steps and when it finishes. Divergence, a lost GPU and failed saves
    /// are handled as in the app's runs, and reported by the same events.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn train_headless(trainer: Trainer, dir: std::path::PathBuf) -> Self {
        let (commands, command_rx) = channel();
        let (event_tx, events) = channel();
        let outbox = Outbox::channel(event_tx, None);
        let crash = outbox.clone();
        let view = ViewRequest::default();
        let mut worker = Worker::new(command_rx, outbox, None, view.clone(), true);
        worker.views = false;
        worker.autosave = Some(Autosave { dir, saved_step: None });
        spawn_guarded(
            move || {
                let info = run_info(&trainer, trainer.config.backend.name().into(), None);
                worker.install(trainer, None, info);
                worker.run();
            },
            crash,
        );
        Self {
            commands: Sink::Channel(commands),
            events,
            gpu: None,
            view,
            wake: None,
        }
    }

    /// Blocks until an event that `pick` accepts arrives (dropping the ones before it), or
    /// `timeout` passes: for a caller that drives a worker step by step (tests, scripts); the
    /// app only polls.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_for<T>(&self, timeout: Duration, mut pick: impl FnMut(Event) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if let Ok(event) = self.events.recv_timeout(left.min(Duration::from_millis(100)))
                && let Some(found) = pick(event)
            {
                return Some(found);
            }
        }
        None
    }

    pub fn send(&self, command: Command) {
        match &self.commands {
            // A live worker only stops when its handle is dropped; one that crashed has said so
            // through its events, so a failed send loses nothing that is not already reported.
            Sink::Channel(commands) => {
                let _ = commands.send(command);
            }
            #[cfg(target_arch = "wasm32")]
            Sink::Remote(remote) => remote.send(command),
        }
    }
}

/// Whether a run in the page asks for the page's WebGPU device (`backend::browser_gpu`, which
/// only the page's memory holds): such a run stays on the page's thread (its work runs on the
/// GPU), and falls back to the CPU there as before where that device cannot train.
#[cfg(target_arch = "wasm32")]
fn trains_on_page_gpu(config: &TrainConfig) -> bool {
    config.backend == mixflow_core::backend::BackendKind::Gpu
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
                crash.send(Event::Crashed(mixflow_core::backend::panic_text(&panic)));
            }
        })
        .expect("the OS can start a thread");
}

pub(crate) struct Worker {
    commands: Receiver<Command>,
    events: Outbox,
    gpu: Option<Device>,
    /// Why the GPU stopped working mid-run, if it did: later runs that ask for it train on the
    /// CPU, until the app hands over another device.
    gpu_lost: Option<String>,
    view: ViewRequest,
    /// False for a run without a window (the command line): no views are computed.
    views: bool,
    /// Where such a run keeps its checkpoints, if anywhere.
    autosave: Option<Autosave>,
    /// What the memorisation lab asks with every view, while it is open.
    lab: Option<crate::protocol::LabRequest>,
    /// The trajectory followed with every view, if any.
    follow: Option<FollowRequest>,
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
    /// The kept weights and the step the app asked to see (the training scrubber).
    rewind: Rewind,
    /// A worker with a Web Worker to itself (not sharing the page's thread).
    #[cfg(target_arch = "wasm32")]
    in_web_worker: bool,
}

/// Training time between looks at the commands: on a thread of its own (or a Web Worker), and
/// in the page, where the chunk also bounds how long input and drawing can wait for training.
const CHUNK: Duration = Duration::from_millis(25);
#[cfg(target_arch = "wasm32")]
const PAGE_CHUNK: Duration = Duration::from_millis(8);
/// Views at most this often while training.
const VIEW_EVERY: Duration = Duration::from_millis(200);

impl Worker {
    pub(crate) fn new(
        commands: Receiver<Command>,
        events: Outbox,
        gpu: Option<Device>,
        view: ViewRequest,
        play: bool,
    ) -> Self {
        Self {
            commands,
            events,
            gpu,
            gpu_lost: None,
            view,
            views: true,
            autosave: None,
            lab: None,
            follow: None,
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
            rewind: Rewind::for_run(&TrainConfig::default()),
            #[cfg(target_arch = "wasm32")]
            in_web_worker: false,
        }
    }

    /// Training time between looks at the commands.
    fn chunk(&self) -> Duration {
        #[cfg(target_arch = "wasm32")]
        if !self.in_web_worker {
            return PAGE_CHUNK;
        }
        CHUNK
    }

    /// A worker in a Web Worker: nothing else runs on its thread, so it trains in the chunks of
    /// a thread of its own.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn off_the_page(mut self) -> Self {
        self.in_web_worker = true;
        self
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
    pub(crate) async fn run_in_page(mut self) {
        loop {
            let idle = self.idle();
            let started = Instant::now();
            if !self.tick().await {
                return;
            }
            let rest = if idle { 30 } else { self.rest_after(started.elapsed()) };
            mixflow_core::platform::yield_to_page(rest).await;
        }
    }

    /// Milliseconds to rest after `busy` of work: none on the page's thread (which yields to
    /// drawing anyway); in a Web Worker, enough to keep to its share of the cores
    /// (`remote::core_share`).
    #[cfg(target_arch = "wasm32")]
    fn rest_after(&self, busy: Duration) -> i32 {
        if !self.in_web_worker {
            return 0;
        }
        let runs = self.pace.as_ref().map_or(1, PaceSlot::runs);
        let share = crate::remote::core_share(runs);
        (busy.as_secs_f64() * 1e3 * (1.0 / share - 1.0)).round() as i32
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
        if self.rewind.shows_the_past() && (due || !self.playing) && !self.measure_live().await {
            return false;
        }
        true
    }

    /// While views show a past step, W2 over training still follows the live model: a point at
    /// the views' cadence from a view of the live model that is measured, not sent. False when
    /// the app has gone.
    async fn measure_live(&mut self) -> bool {
        if !self.views {
            return true;
        }
        if !self.sync_mirror().await {
            return false;
        }
        let Some(trainer) = self.viewed() else {
            return true;
        };
        let step = trainer.steps_done();
        if self.last_metric_step == Some(step) {
            return true;
        }
        let started = Instant::now();
        let descriptor = viewed_descriptor(trainer, self.view.descriptor.as_deref());
        let point = make_view(trainer, &self.view).ok().and_then(|view| {
            let samples = metric_samples(trainer, descriptor.as_deref(), self.view.euler_steps).ok();
            PendingView::of(view, descriptor, samples).measure(trainer)
        });
        self.view_cost = started.elapsed();
        self.last_view = Instant::now();
        self.last_metric_step = Some(step);
        point.is_none_or(|p| self.emit(Event::Metric(p)))
    }

    /// Carries out one command; false when the app has gone.
    async fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Play => {
                if self.trainer.as_ref().is_some_and(|t| t.is_finished()) {
                    return self.emit(Event::Error(CommandError::LastStep));
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
                notes
                    .into_iter()
                    .all(|n| self.emit(Event::Error(CommandError::ViewClamped(n))))
            }
            Command::Lab(request) => {
                self.stale |= request.is_some();
                self.lab = request;
                true
            }
            Command::Follow(request) => {
                self.stale |= request.is_some();
                self.follow = request;
                true
            }
            Command::ShowStep(step) => {
                self.rewind.show(step);
                self.stale = true;
                true
            }
            Command::Remember { name, bytes } => {
                mixflow_core::data::remember(&name, bytes);
                true
            }
            Command::Inspect => match &self.trainer {
                Some(trainer) => match trainer.inspect_next_step().await {
                    Ok(seen) => self.emit(Event::Inspection(Box::new(seen))),
                    Err(e) => self.emit(Event::Error(CommandError::Inspect(e.to_string()))),
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
                    Err(e) => self.emit(Event::Error(CommandError::Save(e.to_string()))),
                },
                None => self.emit(Event::Error(CommandError::NothingToSave)),
            },
            #[cfg(not(target_arch = "wasm32"))]
            Command::Open(dir) => self.open(&dir),
            Command::MeasureNfe => match self.measure_nfe().await {
                Ok(curve) => self.emit(Event::Nfe(curve)),
                Err(e) => self.emit(Event::Error(CommandError::Measure(e.to_string()))),
            },
            Command::MeasureDescriptors => match self.measure_descriptors().await {
                Ok(curve) => self.emit(Event::Descriptors(curve)),
                Err(e) => self.emit(Event::Error(CommandError::Measure(e.to_string()))),
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
            Err(e) => self.emit(Event::Error(CommandError::Open(e.to_string()))),
        }
    }

    /// Makes `trainer` (with its view mirror, if any) the worker's run, forgetting what the run
    /// before it had pending, and tells the app.
    fn install(&mut self, trainer: Trainer, mirror: Option<Trainer>, info: RunInfo) -> bool {
        self.rewind = Rewind::for_run(&trainer.config);
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
                true => Some(trainer.mirror_on(mixflow_core::backend::BackendKind::Cpu.device()?)?),
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
                self.emit(Event::Error(CommandError::Start(e.to_string())));
                self.emit(Event::Playing(false));
            }
        }
    }

    /// The device for the configured backend, falling back to the CPU (with a note) when the GPU
    /// cannot be had.
    async fn device_for(&self, config: &TrainConfig) -> (TrainDevice, String, Option<String>) {
        use mixflow_core::backend::BackendKind;
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
        let device = self.gpu.clone().map(mixflow_core::backend::probe)?;
        Some(device.map(|d| (TrainDevice::plain(d), "gpu (the window's wgpu device)".into())))
    }

    /// burn's WebGPU device in the page, with a CPU mirror for views (a browser reads its GPU
    /// only asynchronously, and views read a great deal).
    #[cfg(target_arch = "wasm32")]
    async fn gpu_device(&self) -> Option<Result<(TrainDevice, String), String>> {
        let device = mixflow_core::backend::browser_gpu().await.map(|device| TrainDevice {
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
            Err(e) => self.continue_on_cpu(&e.to_string()),
        }
    }

    /// The training device failed (a GPU lost or poisoned mid-run, as headless Chromium's WebGPU
    /// can be): rather than stopping, the run goes on on the CPU, from its mirror's weights (the
    /// step of the last view, with a fresh optimiser) where it has one, else from step 0. It keeps
    /// playing if it was; later runs asking for the GPU start on the CPU. False when the app has gone.
    fn continue_on_cpu(&mut self, error: &str) -> bool {
        self.gpu_lost = Some(error.to_string());
        #[cfg(target_arch = "wasm32")]
        mixflow_core::backend::lose_browser_gpu(error);
        let Some(lost) = self.trainer.take() else {
            return true;
        };
        let resumed = match self.mirror.take() {
            Some(mirror) => Ok(mirror),
            None => mixflow_core::backend::BackendKind::Cpu
                .device()
                .map_err(SetupError::from)
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
                self.emit(Event::Stopped(StopReason::NoFallback {
                    gpu: error.to_string(),
                    cpu: e.to_string(),
                })) && self.emit(Event::Playing(false))
            }
        }
    }

    /// Trains for one chunk of time; false when the app has gone.
    async fn train_chunk(&mut self) -> bool {
        let may_lose_gpu = self.may_lose_gpu();
        let chunk = self.chunk();
        let Some(trainer) = self.trainer.as_mut() else {
            self.playing = false;
            return true;
        };
        let started = Instant::now();
        let mut messages = Vec::new();
        let mut stop = None;
        let mut device_lost = None;
        let mut held_back = false;
        while started.elapsed() < chunk {
            if let Some(pace) = &self.pace
                && !pace.may_step(trainer.steps_done())
            {
                held_back = true;
                break;
            }
            if !keep_history(&mut self.rewind, trainer, &self.events).await {
                return false;
            }
            self.stale |= self.rewind.outdated();
            match trainer.step_async().await {
                Ok(m) => {
                    if let Some(pace) = &self.pace {
                        pace.set(Some(m.step));
                    }
                    let step = m.step;
                    messages.push(m);
                    if let Some(save) = &mut self.autosave
                        && (step % trainer.config.checkpoint_every == 0 || step == trainer.config.steps)
                        && let Err(e) = save.write(trainer)
                    {
                        stop = Some(StopReason::Unsaved(e.to_string()));
                        break;
                    }
                }
                Err(TrainError::Finished) => {
                    // A run that was finished when it came (resumed with fewer steps) is saved too.
                    let unsaved = self
                        .autosave
                        .as_mut()
                        .filter(|s| s.saved_step != Some(trainer.steps_done()));
                    stop = Some(match unsaved.map(|s| s.write(trainer)) {
                        Some(Err(e)) => StopReason::Unsaved(e.to_string()),
                        _ => StopReason::Finished {
                            steps: trainer.config.steps,
                        },
                    });
                    break;
                }
                Err(TrainError::Device(e)) if may_lose_gpu => {
                    device_lost = Some(e);
                    break;
                }
                Err(e @ (TrainError::Diverged { .. } | TrainError::Device(_))) => {
                    stop = Some(StopReason::Failed(e));
                    break;
                }
            }
        }
        let trained = messages.len();
        if trained > 0 {
            self.stale |= !self.rewind.shows_the_past();
            self.rate.add(trained);
            let steps_per_s = self.rate.per_second();
            if !self.emit(Event::Steps { messages, steps_per_s }) {
                return false;
            }
        }
        if let Some(e) = device_lost {
            return self.continue_on_cpu(&e.to_string());
        }
        if held_back
            && trained == 0
            && let Some(pace) = &self.pace
        {
            // Waiting for a slower run of the comparison: sleep until it moves, not spin. In the
            // browser the news comes as a message, which this task must yield to hear: a timer
            // of 1 ms rather than an immediate turn, which would spin.
            #[cfg(not(target_arch = "wasm32"))]
            pace.wait(chunk);
            #[cfg(target_arch = "wasm32")]
            {
                let _ = pace;
                mixflow_core::platform::yield_to_page(1).await;
            }
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
        if !keep_history(&mut self.rewind, trainer, &self.events).await {
            return false;
        }
        self.stale |= self.rewind.outdated();
        match trainer.step_async().await {
            Ok(m) => {
                self.stale |= !self.rewind.shows_the_past();
                self.emit(Event::Steps {
                    messages: vec![m],
                    steps_per_s: 0.0,
                })
            }
            Err(TrainError::Device(e)) if may_lose_gpu => self.continue_on_cpu(&e.to_string()),
            Err(TrainError::Finished) => self.emit(Event::Error(CommandError::LastStep)),
            Err(e) => self.emit(Event::Stopped(StopReason::Failed(e))),
        }
    }

    /// Whether a device failure of this run is a GPU's, to be survived on the CPU: a run asked
    /// for the GPU, before any GPU failed (a CPU run that fails is stopped, not restarted).
    fn may_lose_gpu(&self) -> bool {
        self.gpu_lost.is_none()
            && self
                .trainer
                .as_ref()
                .is_some_and(|t| t.config.backend == mixflow_core::backend::BackendKind::Gpu)
    }

    /// Computes and sends a view of the model; false when the app has gone.
    async fn publish_view(&mut self) -> bool {
        if !self.views {
            self.stale = false;
            return true;
        }
        let started = Instant::now();
        if !self.sync_mirror().await {
            return false;
        }
        let past = match self.trainer.as_ref().map(|live| self.rewind.ready(live)) {
            Some(Ok(past)) => past,
            Some(Err(e)) => {
                self.rewind.show(None);
                if !self.emit(Event::Error(CommandError::History(e.to_string()))) {
                    return false;
                }
                false
            }
            None => false,
        };
        let viewed = match past {
            true => self.rewind.replayed(),
            false => self.viewed(),
        };
        let Some(trainer) = viewed else {
            self.stale = false;
            return true;
        };
        let result = make_view(trainer, &self.view).map(|view| View {
            from_history: past,
            ..view
        });
        let descriptor = viewed_descriptor(trainer, self.view.descriptor.as_deref());
        let lab = (self.lab.as_ref())
            .filter(|_| result.is_ok())
            .map(|request| crate::lab::make_lab(trainer, descriptor.as_deref(), request));
        let followed = (self.follow.as_ref()).filter(|_| result.is_ok()).map(|f| {
            let sampler = trainer.sampler();
            follow_through(&sampler, descriptor.as_deref(), &f.point, f.t, self.view.euler_steps)
        });
        // A view of a new step gets a point of W2 over training: the descriptor it is measured
        // at and its samples are drawn now, from the model the view shows (W2 itself waits for
        // the next round). Another view of the same step needs neither, and neither does a view
        // of a past step (its point is on the chart already).
        let metric = match &result {
            Ok(view) if !past && self.last_metric_step != Some(view.model.step) => {
                let samples = metric_samples(trainer, descriptor.as_deref(), self.view.euler_steps).ok();
                Some((descriptor, samples))
            }
            _ => None,
        };
        self.view_cost = started.elapsed();
        self.last_view = Instant::now();
        self.stale = false;
        let lab_sent = match lab {
            Some(Ok(lab)) => self.emit(Event::Lab(Box::new(lab))),
            Some(Err(e)) => self.emit(Event::Error(CommandError::Lab(e.to_string()))),
            None => true,
        };
        let followed_sent = match followed {
            Some(Ok(path)) => self.emit(Event::Followed(Box::new(path))),
            Some(Err(e)) => {
                self.follow = None;
                self.emit(Event::Error(CommandError::Follow(e.to_string())))
            }
            None => true,
        };
        if !lab_sent || !followed_sent {
            return false;
        }
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
                self.emit(Event::Stopped(StopReason::Undrawable(e.to_string()))) && self.emit(Event::Playing(false))
            }
            (Err(e), _) => self.emit(Event::Error(CommandError::Draw(e.to_string()))),
        }
    }

    async fn measure_nfe(&mut self) -> Result<Vec<(usize, f64)>, ViewError> {
        if !self.sync_mirror().await {
            return Err(ViewError::AppGone);
        }
        let trainer = self.viewed().ok_or(ViewError::NoRun)?;
        w2_against_nfe(trainer, self.view.descriptor.as_deref())
    }

    async fn measure_descriptors(&mut self) -> Result<Vec<(Vec<f32>, Split, f64)>, ViewError> {
        if !self.sync_mirror().await {
            return Err(ViewError::AppGone);
        }
        let trainer = self.viewed().ok_or(ViewError::NoRun)?;
        w2_per_descriptor(trainer, self.view.euler_steps)
    }
}

/// Keeps the live model's weights in the history when it wants this step, and tells the app;
/// false when the app has gone. A failed read leaves a gap in the history and says so.
async fn keep_history(rewind: &mut Rewind, live: &Trainer, events: &Outbox) -> bool {
    match rewind.record(live).await {
        Ok(true) => events.send(rewind.event()),
        Ok(false) => true,
        Err(e) => events.send(Event::Error(CommandError::History(e.to_string()))),
    }
}

/// Why a run asked for the GPU trains on the CPU.
fn gpu_lost_note(error: &str) -> String {
    format!("the GPU cannot run burn ({error}): training on the CPU instead")
}

/// What to expect from a GPU that is software (only the page can tell).
fn slow_gpu_note() -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    if !mixflow_core::platform::has_hardware_webgpu() {
        return Some(
            "this browser's WebGPU is a software rasteriser: burn's kernels take minutes to compile \
             and then train far slower than the cpu backend"
                .into(),
        );
    }
    None
}

/// The checkpoints of a run without a window, and the step last written. (The page has no
/// command line, so there it is never made.)
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
struct Autosave {
    dir: std::path::PathBuf,
    saved_step: Option<usize>,
}

impl Autosave {
    fn write(&mut self, trainer: &Trainer) -> Result<(), RunFolderError> {
        trainer.save(&self.dir)?;
        self.saved_step = Some(trainer.steps_done());
        Ok(())
    }
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
    use mixflow_core::backend::BackendKind;
    use mixflow_core::method::Method;

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
            Outbox::channel(events, Some(wake)),
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
        let outbox = Outbox::channel(events, None);
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
    fn a_past_step_is_drawn_from_its_kept_weights_with_the_noise_of_every_view() {
        let config = TrainConfig {
            dataset: "moons".into(),
            method: Method::Rf,
            steps: 40,
            history_every: Some(10),
            ..TrainConfig::default()
        };
        let (mut worker, events) = worker_with(Trainer::on_device(config.clone(), cpu()).unwrap(), None);
        worker.rewind = Rewind::for_run(&config);
        worker.view = ViewRequest {
            particles: 300,
            trajectories: 10,
            ..ViewRequest::default()
        };
        while worker.trainer.as_ref().unwrap().steps_done() < 40 {
            assert!(pollster::block_on(worker.step_once()));
        }
        assert_eq!(worker.rewind.history.steps(), [0, 10, 20, 30]);
        // Asked for a step whose state is not yet drawn, a view is due (also while training
        // goes on: a state kept later may be the one the step resolves to).
        worker.rewind.show(Some(25));
        assert!(worker.rewind.outdated());
        let view_at = |worker: &mut Worker, step| {
            assert!(pollster::block_on(worker.handle(Command::ShowStep(step))));
            assert!(pollster::block_on(worker.publish_view()));
            events
                .try_iter()
                .find_map(|e| match e {
                    Event::View(view) => Some(view),
                    _ => None,
                })
                .expect("a view")
        };
        // Step 25 shows the state kept at 20: what a run trained to 20 draws, within f16.
        let past = view_at(&mut worker, Some(25));
        assert!(
            !worker.rewind.outdated(),
            "the view drawn is of the state step 25 resolves to"
        );
        assert_eq!(past.model.step, 20);
        let mut twin = Trainer::on_device(config, cpu()).unwrap();
        for _ in 0..20 {
            twin.step().unwrap();
        }
        let expected = make_view(&twin, &past.request).unwrap().model.samples;
        let worst = (past.model.samples.data.iter().zip(&expected.data))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 0.01, "the kept weights moved a sample by {worst}");
        // The same step draws the same picture; another step, another one.
        assert_eq!(view_at(&mut worker, Some(20)).model.samples, past.model.samples);
        // W2 over training goes on measuring the live model meanwhile, once per step reached.
        assert!(pollster::block_on(worker.measure_live()));
        let live = events.try_iter().find_map(|e| match e {
            Event::Metric(point) => Some(point),
            _ => None,
        });
        assert_eq!(live.map(|p| p.step), Some(40));
        assert!(pollster::block_on(worker.measure_live()));
        assert!(events.try_iter().next().is_none(), "no second point of the same step");
        let other = view_at(&mut worker, Some(10));
        assert_eq!(other.model.step, 10);
        assert_ne!(other.model.samples, past.model.samples);
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
