//! MixFlow Explorer's front ends over its engine (`mixflow-core`, re-exported here under the same
//! module names, so `mixflow::train` is the engine's trainer): `cli` (the command line), `app`
//! (the egui app, native and in the browser), `bench` (the SPEC's benchmarks) and `web` (the
//! browser entry point). The engine (`mixflow-core`) and the renderer (`mixflow-render`, re-exported
//! as `render`) are crates of their own and never depend on these.

pub use mixflow_core::{
    adam, backend, config, coupling, data, eval, exact, experiment, flex, follow, fused, kmeans, lap, linear,
    memorisation, method, metrics, mixture, nn, pair, platform, projection, rng, sample, silu, solve, suggest, train,
};

/// The canvas's wgpu renderer, a crate of its own (no egui, no training).
pub use mixflow_render as render;

pub mod app;
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
#[cfg(target_arch = "wasm32")]
pub mod web;
