//! MixFlow Explorer's live runs: the app's training runs as a stream of messages. The app sends a
//! run [`Command`]s and reads its [`Event`]s (steps, [`View`]s of the model, metrics), folded
//! into a [`Run`]; a [`worker`] owns the trainer, on a thread of its own natively and in a Web
//! Worker of its own in the browser (`remote`, speaking the protocol as bytes: [`wire`]), or as a
//! task on the page's event loop where it must share the page's thread, with the GPU fallback and
//! the CPU mirror a browser's WebGPU needs. The runs of a comparison keep in lock-step through a
//! shared [`pace::Pace`].
//! No egui and no drawing here: the app turns views into pictures.

mod history;
pub mod lab;
pub mod pace;
mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod remote;
mod run;
mod view;
pub mod wire;
pub mod worker;

pub use lab::make_lab;
pub use protocol::{
    Command, CommandError, Event, FIELD_GRID, FIELD_TIMES, FieldSlice, FollowRequest, LabRequest, LabSamples, LabView,
    MAX_PARTICLES, MAX_TRAJECTORIES, MetricPoint, RunInfo, StopReason, View, ViewRequest, Waker,
};
pub use run::Run;
pub use view::make_view;
pub use worker::WorkerHandle;
