//! MixFlow Explorer's engine: datasets, networks, couplings, methods, solvers, metrics and the
//! step-wise trainer. No UI code lives here; every network runs on whichever burn device it is
//! given, so the whole engine is tested headless on the CPU. The front ends consume the engine and
//! never the other way round: `cli` (the command line), `app` (the egui app, native and in the
//! browser), `render` (its wgpu layers) and `web` (the browser entry point).

pub mod adam;
pub mod app;
pub mod backend;
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod config;
pub mod coupling;
pub mod data;
pub mod eval;
pub mod experiment;
pub mod flex;
pub mod fused;
pub mod kmeans;
pub mod lap;
pub mod linear;
pub mod method;
pub mod metrics;
pub mod mixture;
pub mod nn;
pub mod pair;
pub mod projection;
pub mod render;
pub mod rng;
pub mod sample;
pub mod silu;
pub mod solve;
pub mod suggest;
pub mod train;
#[cfg(target_arch = "wasm32")]
pub mod web;
