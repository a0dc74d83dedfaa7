//! MixFlow Explorer's engine: datasets, networks, couplings, methods, solvers, metrics, the
//! evaluation protocols and the step-wise trainer. No UI code lives here, and Cargo enforces it:
//! this crate depends on burn and plain data crates only, never on eframe, egui or winit. Every
//! network runs on whichever burn device it is given, so the whole engine is tested headless on
//! the CPU (`cargo test -p mixflow-core`). The front ends (the command line, the egui app and its
//! wgpu layers, the browser entry point) live in the `mixflow` package and consume this crate.

pub mod adam;
pub mod backend;
pub mod config;
pub mod coupling;
pub mod data;
pub mod eval;
pub mod exact;
pub mod experiment;
#[cfg(any(target_arch = "wasm32", test))]
mod f32x4;
pub mod flex;
pub mod follow;
pub mod fused;
pub mod kmeans;
pub mod lap;
pub mod linear;
pub mod memorisation;
pub mod method;
pub mod metrics;
pub mod mixture;
pub mod nn;
pub mod pair;
pub mod platform;
pub mod projection;
pub mod rng;
pub mod sample;
pub mod silu;
pub mod solve;
pub mod suggest;
pub mod train;
