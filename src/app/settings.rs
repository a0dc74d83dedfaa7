//! What the app remembers between launches (eframe persistence): the run settings, the view's
//! layers and counts, and the comparison line-up. Unknown or broken stored settings fall back to
//! the defaults instead of failing the start.

use super::scene::Layers;
use super::worker::ViewRequest;
use crate::config::TrainConfig;
use crate::method::Method;
use crate::projection::Projection;
use serde::{Deserialize, Serialize};

pub const STORAGE_KEY: &str = "mixflow-settings";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub config: TrainConfig,
    pub layers: Layers,
    pub particles: usize,
    pub trajectories: usize,
    pub euler_steps: usize,
    pub source_w: f32,
    pub projection: Projection,
    pub point_radius: f32,
    /// Methods shown side by side in the comparison view.
    pub compare: Vec<Method>,
    pub comparing: bool,
}

/// The default run: MixFlow-OOD on rotating moons, where a mixture base per descriptor is the
/// whole idea (its components visibly follow the rotating moons).
pub fn default_config() -> TrainConfig {
    TrainConfig {
        dataset: "rotating-moons".into(),
        method: Method::MixflowOod,
        steps: 4000,
        lr_schedule: crate::config::LrSchedule::Cosine,
        backend: default_backend(),
        ..TrainConfig::default()
    }
}

/// The CPU on the desktop (measured fastest for these small networks, see README); in a page,
/// WebGPU where the browser has a real GPU behind it, so the page's one thread is left to input
/// and drawing.
fn default_backend() -> crate::backend::BackendKind {
    #[cfg(target_arch = "wasm32")]
    if crate::web::has_hardware_webgpu() {
        return crate::backend::BackendKind::Gpu;
    }
    crate::backend::BackendKind::Cpu
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: default_config(),
            layers: Layers::default(),
            // A view costs particles × Euler steps network rows on the worker: about 0.2 s on a
            // 2-core CPU here, so views keep up with training. Drawing allows 25 times more.
            // In the page a view is one task that input waits for, so it is a third as large.
            particles: if cfg!(target_arch = "wasm32") { 1000 } else { 2000 },
            trajectories: if cfg!(target_arch = "wasm32") { 100 } else { 200 },
            euler_steps: if cfg!(target_arch = "wasm32") { 16 } else { 24 },
            source_w: 0.0,
            projection: Projection::Pca,
            point_radius: 1.6,
            compare: vec![Method::Rf, Method::MixflowRf, Method::MixflowOod, Method::OtCfm],
            comparing: false,
        }
    }
}

impl Settings {
    pub fn view_request(&self, descriptor: Option<Vec<f32>>, field_box: Option<([f32; 2], [f32; 2])>) -> ViewRequest {
        ViewRequest {
            particles: self.particles,
            trajectories: self.trajectories,
            euler_steps: self.euler_steps,
            descriptor,
            source_w: self.source_w,
            field_box,
        }
    }

    /// Settings from storage, or the defaults (with the reason) when they cannot be read.
    pub fn from_stored(text: Option<&str>) -> (Self, Option<String>) {
        let Some(text) = text else {
            return (Self::default(), None);
        };
        match ron::from_str::<Settings>(text) {
            Ok(s) => (s, None),
            Err(e) => (
                Self::default(),
                Some(format!("saved settings could not be read ({e}); using the defaults")),
            ),
        }
    }

    pub fn to_stored(&self) -> String {
        ron::to_string(self).unwrap_or_default()
    }

    /// The configs of the runs to show: one, or one per compared method on the same data and seeds.
    pub fn run_configs(&self) -> Vec<TrainConfig> {
        if self.comparing && !self.compare.is_empty() {
            self.compare
                .iter()
                .take(4)
                .map(|&method| TrainConfig {
                    method,
                    ..self.config.clone()
                })
                .collect()
        } else {
            vec![self.config.clone()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_storage() {
        let mut s = Settings::default();
        s.config.lr = 3e-4;
        s.layers.field = true;
        s.comparing = true;
        let (back, problem) = Settings::from_stored(Some(&s.to_stored()));
        assert_eq!(problem, None);
        assert_eq!(back, s);
    }

    #[test]
    fn broken_storage_falls_back_to_defaults_with_a_reason() {
        let (s, problem) = Settings::from_stored(Some("(config: 12"));
        assert_eq!(s, Settings::default());
        assert!(problem.unwrap().contains("using the defaults"));
    }
}
