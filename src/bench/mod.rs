//! The reference workloads of SPEC section 8 as `mixflow bench` runs them: B1 to B4 on the engine
//! ([`engine`]), B3 through the particle-advection shader and B5 on the renderer ([`gpu`]). Every
//! figure is measured the same way: a warm-up, then repeated rounds, reported as the median with
//! the range of the rounds and the thread count, so that `bench/compare.sh` can set it beside
//! PyTorch's figure for the same workload (`bench/torch_ref.py` times it the same way).

pub mod engine;
#[cfg(not(target_arch = "wasm32"))]
pub mod gpu;

use serde::Serialize;
use web_time::{Duration, Instant};

/// The workloads, by their SPEC names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Workload {
    B1,
    /// B1's hidden layer alone, forward: the products' throughput.
    B1Layer,
    B2,
    B3,
    B4,
    B5,
}

/// The sizes of the workloads; the defaults are SPEC section 8's.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizes {
    /// Timed rounds per figure.
    pub repeats: usize,
    /// B1's minibatch.
    pub batch: usize,
    /// B3's particles and Euler steps.
    pub particles: usize,
    pub euler_steps: usize,
    /// B5's particles and traced trajectories.
    pub render_particles: usize,
    pub trajectories: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            repeats: 5,
            batch: 256,
            particles: 10_000,
            euler_steps: 100,
            render_particles: 50_000,
            trajectories: 2_000,
        }
    }
}

impl Sizes {
    /// Refuses sizes that measure nothing or would not finish (the message names the flag).
    pub fn check(&self) -> anyhow::Result<()> {
        let limits: [(&str, usize, usize, usize); 6] = [
            ("repeats", self.repeats, 2, 50),
            ("batch", self.batch, 2, 65_536),
            ("particles", self.particles, 1, 1_000_000),
            ("euler-steps", self.euler_steps, 1, 10_000),
            ("render-particles", self.render_particles, 1, 1_000_000),
            ("trajectories", self.trajectories, 1, 20_000),
        ];
        for (flag, value, lo, hi) in limits {
            if !(lo..=hi).contains(&value) {
                anyhow::bail!("--{flag} must be between {lo} and {hi}, got {value}");
            }
        }
        if self.particles * self.euler_steps > 1_000_000_000 {
            anyhow::bail!(
                "--particles × --euler-steps must be at most 10^9 particle-steps, got {}",
                self.particles * self.euler_steps
            );
        }
        Ok(())
    }
}

/// One benchmark's figure: the median of its rounds with their range.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// "B1" .. "B5", with a suffix for a variant (e.g. "B3-shader").
    pub id: String,
    pub name: String,
    pub unit: String,
    pub higher_is_better: bool,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: usize,
    /// The machine's threads when it was measured.
    pub threads: usize,
    /// What ran: sizes, backend, adapter.
    pub detail: String,
}

impl Figure {
    pub fn new(id: &str, name: &str, unit: &str, higher_is_better: bool, rounds: &[f64], detail: String) -> Self {
        let mut sorted = rounds.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            f64::NAN
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Self {
            id: id.into(),
            name: name.into(),
            unit: unit.into(),
            higher_is_better,
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            rounds: n,
            threads: threads(),
            detail,
        }
    }

    /// The range of the rounds as a percentage of the median.
    pub fn spread_percent(&self) -> f64 {
        100.0 * (self.max - self.min) / self.median.abs().max(f64::MIN_POSITIVE)
    }

    /// One line: `B1  RF train step  1234.5 steps/s  range 1200.0–1250.0 (spread 4.0%, 5 rounds,
    /// 2 threads)  detail`.
    pub fn line(&self) -> String {
        format!(
            "{:<10} {:<28} {:>12} {:<16} range {}–{} (spread {:.1}%, {} rounds, {} threads)  {}",
            self.id,
            self.name,
            format_value(self.median),
            self.unit,
            format_value(self.min),
            format_value(self.max),
            self.spread_percent(),
            self.rounds,
            self.threads,
            self.detail
        )
    }
}

fn format_value(v: f64) -> String {
    if v.abs() >= 1e5 {
        format!("{v:.3e}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// Everything `mixflow bench --json` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Threads this machine offers (what PyTorch is told to use too).
    pub threads: usize,
    /// The burn backend of B1 to B4.
    pub backend: String,
    pub figures: Vec<Figure>,
    /// Workloads that could not run here, with the reason (e.g. no GPU adapter for B5).
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// The threads this machine offers.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` (which reports how many units it did) until at least `min_time` has passed and
/// returns units per second. One round of a throughput benchmark.
pub fn rate(min_time: Duration, mut work: impl FnMut() -> anyhow::Result<usize>) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut units = 0;
    while started.elapsed() < min_time || units == 0 {
        units += work()?;
    }
    Ok(units as f64 / started.elapsed().as_secs_f64())
}
