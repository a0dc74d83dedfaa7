//! The protocol between the app and a live run: what the app asks ([`Command`], [`ViewRequest`]),
//! and what the run tells it ([`Event`]: steps, [`View`]s of the model, metrics, its [`RunInfo`]).
//! Plain data only: the app never touches a tensor, and nothing here trains or draws.

use crate::pace::PaceSlot;
use burn::tensor::Device;
use mixflow_core::config::TrainConfig;
use mixflow_core::data::{Points, Split};
use mixflow_core::nn::ShaderLimits;
use mixflow_core::train::{Snapshot, StepMessage, TrainError};

/// Limits on what a view may ask for, so no slider can stall the worker or exhaust memory.
pub const MAX_PARTICLES: usize = 50_000;
pub const MAX_TRAJECTORIES: usize = 2_000;
/// Times at which the velocity field is sampled for the scrubber.
pub const FIELD_TIMES: usize = 11;
/// Grid points per side of the velocity field.
pub const FIELD_GRID: usize = 21;

/// A cached start's bytes (a demo's bundled weights). An alias, so that serde's derive does not
/// take the field for bytes borrowed from the message (it reads them into a copy of its own).
pub type CachedStart = &'static [u8];

/// What a view of the model contains.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Set when the display advects the particles on the GPU (`shaders/advect.wgsl`), with what
    /// its shader takes: the view integrates only the first of them for the metrics and carries
    /// the rest as an [`mixflow_core::train::Advection`]. A network the shader cannot take is
    /// integrated on the CPU as without it.
    pub advect: Option<ShaderLimits>,
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
            advect: None,
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

#[derive(serde::Serialize, serde::Deserialize)]
pub enum Command {
    Play,
    Pause,
    /// One training step, then a fresh view.
    Step,
    /// A new run from scratch with these settings (the same seeds give the same run); `gpu` is
    /// the device for the GPU backend, when the app has one.
    Reset {
        config: Box<TrainConfig>,
        /// Not sent to a Web Worker: a run on the GPU trains in the page, on the window's device.
        #[serde(skip)]
        gpu: Option<Device>,
        /// A cached start to continue from (a demo's bundled weights), instead of step 0.
        #[serde(with = "crate::wire::static_bytes")]
        start: Option<CachedStart>,
        /// The run's place in its comparison's lock-step (none for a run on its own).
        #[serde(with = "crate::wire::pace_slot")]
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
    /// Show the memorisation lab with every view (none: stop).
    Lab(Option<LabRequest>),
    /// Views show the model at this training step (the kept state at or before it) while
    /// training goes on; none: the newest model.
    ShowStep(Option<usize>),
    /// Follow the trajectory through this point at this time with every view (none: stop).
    Follow(Option<FollowRequest>),
    /// Keep this table (CSV bytes) under its name, for a run on `csv:NAME` in a memory that did
    /// not load it: a file dropped on the page, or points drawn, sent to a Web Worker.
    Remember {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
}

/// A point of the data space and a time the followed trajectory passes through.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FollowRequest {
    pub point: Vec<f32>,
    pub t: f32,
}

/// What the memorisation lab asks of a run on a finite training set (`train-n`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabRequest {
    /// The time the learned and exact fields are compared at (the scrubbed time).
    pub t: f32,
    /// The hybrid sampler's switch time: the learned field before it, the exact one after.
    pub tau: f32,
    /// Samples per sampler, the three from the same noise.
    pub samples: usize,
    pub euler_steps: usize,
    /// The data-space box of the field grid (min, max).
    pub field_box: ([f32; 2], [f32; 2]),
}

impl Default for LabRequest {
    fn default() -> Self {
        Self {
            t: 0.5,
            tau: 0.5,
            // A view's cost is samples × steps network rows (and as many exact-field rows times
            // the training points): 300 × 64 keeps a view near the main view's 2,000 × 24.
            samples: 300,
            // u*'s last Euler step lands on the posterior mean at t = 1 - 1/steps, so more steps
            // separate closer training points (40 left 3% of a 64-point moons set between two).
            euler_steps: 64,
            field_box: ([-4.0, -4.0], [4.0, 4.0]),
        }
    }
}

/// One sampler's samples in the lab, each marked memorised (a copy of a training point) or not.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LabSamples {
    pub points: Points,
    pub memorised: Vec<bool>,
}

impl LabSamples {
    /// The memorised fraction.
    pub fn fraction(&self) -> f64 {
        self.memorised.iter().filter(|&&m| m).count() as f64 / self.memorised.len().max(1) as f64
    }
}

/// The memorisation lab's picture of a run at one step, in original units.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LabView {
    pub request: LabRequest,
    pub step: usize,
    /// The time the fields are shown at (the request's, kept below 1).
    pub t: f32,
    pub train: Points,
    pub held_out: Option<Points>,
    /// The grid of [`FIELD_GRID`]² points, and the learned and exact velocities there.
    pub grid: Points,
    pub learned: Points,
    pub exact: Points,
    /// ‖v_θ − u*‖² at each grid point.
    pub gap: Vec<f32>,
    /// E‖v_θ − u*‖² against t (model space), where the model flows from N(0, I).
    pub gap_by_t: Option<Vec<[f64; 2]>>,
    pub exact_samples: LabSamples,
    pub learned_samples: LabSamples,
    pub hybrid_samples: LabSamples,
    /// What the picture does not show as asked, and why.
    pub note: Option<String>,
    /// How long the worker took to compute this view.
    pub compute_ms: f64,
}

/// The velocity field on a grid at one time.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FieldSlice {
    pub t: f32,
    pub positions: Points,
    pub velocities: Points,
}

/// One picture of the model, in original units.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct View {
    pub request: ViewRequest,
    /// Samples, base draws, mixture, κ-FC read-out and trajectories, as the trainer gives them.
    pub model: Snapshot,
    /// True data for the viewed descriptor (when the dataset can draw it).
    pub data: Option<Points>,
    /// One training minibatch's pairs (x0, x1).
    pub pairs: Option<(Points, Points)>,
    pub field: Vec<FieldSlice>,
    /// How long the worker took to compute this view.
    pub compute_ms: f64,
    /// Drawn from weights the run kept at an earlier step (the training scrubber), not the newest.
    pub from_history: bool,
}

/// What the app needs to know about a run once, when it starts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunInfo {
    pub config: TrainConfig,
    pub dim: usize,
    pub descriptor_dim: usize,
    pub conditions: Vec<mixflow_core::data::Condition>,
    pub param_counts: Vec<(String, usize)>,
    /// A sample of the training data, for fitting the canvas and projections.
    pub data_sample: Points,
    /// W2 between independent true draws of the metric's size (a mean over [`crate::view::FLOOR_DRAWS`]): what
    /// a perfect model scores. One that puts its samples a little too close together can score
    /// lower, so a W2 just under the floor is not a bug.
    pub w2_floor: f64,
    /// The backend actually used, and why it differs from the one asked for.
    pub backend: String,
    pub note: Option<String>,
    /// Steps already trained and their losses (non-zero for a run opened from a checkpoint).
    pub step: usize,
    pub history: Vec<mixflow_core::train::Losses>,
}

/// Metrics tracked over training, read off a view.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricPoint {
    pub step: usize,
    pub w2: f64,
    pub curvature: f64,
    /// On a finite training set: the share of the samples that copy a training point.
    pub memorised: Option<f64>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub enum Event {
    Started(Box<RunInfo>),
    Steps {
        messages: Vec<StepMessage>,
        steps_per_s: f64,
    },
    View(Box<View>),
    Metric(MetricPoint),
    Inspection(Box<mixflow_core::train::Inspection>),
    Nfe(Vec<(usize, f64)>),
    Descriptors(Vec<(Vec<f32>, Split, f64)>),
    Lab(Box<LabView>),
    /// The trajectory through the point of [`Command::Follow`], of the model the last view showed.
    Followed(Box<mixflow_core::follow::FollowedPath>),
    /// The steps whose weights the run keeps for the training scrubber, what they take in memory,
    /// and the interval they are kept at now.
    History {
        steps: Vec<usize>,
        bytes: usize,
        every: usize,
    },
    Playing(bool),
    /// Training stopped by itself: finished, diverged, or cannot go on.
    Stopped(StopReason),
    /// A command could not be carried out; the run goes on as before.
    Error(CommandError),
    /// The worker itself stopped (a bug: a panic); the message is the panic's. Nothing more
    /// comes from this worker; a reset starts a new one.
    Crashed(String),
    /// A command was carried out; what it did, for the user.
    Done(String),
}

/// Why a run stopped training by itself. What it says is for the app's user; the command line
/// words the failures itself from the variant.
#[derive(Clone, Debug, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum StopReason {
    /// Every configured step is trained (the one stop that is not a problem).
    #[error("finished all {steps} steps")]
    Finished { steps: usize },
    /// A step failed: the loss diverged, or the device failed with no CPU to take over from it.
    #[error("{0}. Paused: press Reset to start again")]
    Failed(TrainError),
    /// The model produced NaN or inf where a view evaluates it.
    #[error("cannot draw the model: {0}. Paused: press Reset to start again")]
    Undrawable(String),
    /// A run that keeps checkpoints (the command line's) could not write one, and stops rather
    /// than train on unsaved.
    #[error("the checkpoint was not saved: {0}")]
    Unsaved(String),
    /// The GPU failed, and a CPU run could not be made from the GPU run's weights.
    #[error("the GPU failed ({gpu}) and the CPU cannot take over: {cpu}")]
    NoFallback { gpu: String, cpu: String },
}

/// Wakes the app when a worker has news: the window sleeps while nothing moves, instead of
/// polling the channels ten times a second.
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// Why a command was not carried out (or not as asked); the run goes on as before. Like every
/// event, it carries the engine error's text, not the error: events cross from the worker to the
/// app and are cloned into its log, which an I/O error could not be.
#[derive(Clone, Debug, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CommandError {
    #[error("training has reached its last step: raise Steps and restart to train longer")]
    LastStep,
    /// A view request's count outside its limits, and the value used instead.
    #[error("{0}")]
    ViewClamped(String),
    #[error("cannot start this run: {0}")]
    Start(String),
    #[error("cannot draw the model: {0}")]
    Draw(String),
    #[error("cannot show the next minibatch: {0}")]
    Inspect(String),
    #[error("{0}")]
    Measure(String),
    #[error("the run has not started yet: there is no checkpoint to save")]
    NothingToSave,
    #[error("the checkpoint was not saved: {0}")]
    Save(String),
    #[error("cannot open the checkpoint: {0}")]
    Open(String),
    #[error("the memorisation lab: {0}")]
    Lab(String),
    #[error("the training history: {0}")]
    History(String),
    #[error("cannot follow that trajectory: {0}")]
    Follow(String),
}
