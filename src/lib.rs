//! MixFlow Explorer's engine: datasets, networks, couplings, methods, solvers, metrics and the
//! step-wise trainer. No UI code lives here; every network runs on whichever burn device it is
//! given, so the whole engine is tested headless on the CPU. The `cli` module is the command line.

pub mod backend;
pub mod cli;
pub mod config;
pub mod coupling;
pub mod data;
pub mod eval;
pub mod experiment;
pub mod kmeans;
pub mod method;
pub mod metrics;
pub mod mixture;
pub mod nn;
pub mod rng;
pub mod sample;
pub mod solve;
pub mod train;
