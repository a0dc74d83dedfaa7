//! MixFlow Explorer's front ends over its engine (`mixflow-core`, re-exported here under the same
//! module names, so `mixflow::train` is the engine's trainer): `cli` (the command line), `app`
//! (the egui app, native and in the browser), `render` (its wgpu layers), `bench` (the SPEC's
//! benchmarks) and `web` (the browser entry point). The engine never depends on these: it is a
//! crate of its own, without eframe, egui or winit.

pub use mixflow_core::{
    adam, backend, config, coupling, data, eval, experiment, flex, fused, kmeans, lap, linear, method, metrics,
    mixture, nn, pair, platform, projection, rng, sample, silu, solve, suggest, train,
};

pub mod app;
pub mod bench;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod render;
#[cfg(target_arch = "wasm32")]
pub mod web;
