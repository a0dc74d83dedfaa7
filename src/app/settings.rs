//! What the app remembers between launches (eframe persistence): the run settings, the view's
//! layers and counts, and the comparison line-up. Unknown or broken stored settings fall back to
//! the defaults instead of failing the start.

use super::scene::Layers;
use crate::config::TrainConfig;
use crate::method::Method;
use crate::projection::Projection;
use mixflow_live::ViewRequest;
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
    /// Where the drawn particles are carried from base to data.
    pub advect: Advect,
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
    if crate::platform::has_hardware_webgpu() {
        return crate::backend::BackendKind::Gpu;
    }
    crate::backend::BackendKind::Cpu
}

/// Whether views are computed on the thread that draws: in a page whose runs cannot train in Web
/// Workers.
fn views_block_drawing() -> bool {
    #[cfg(target_arch = "wasm32")]
    return mixflow_live::remote::workers_unavailable().is_some();
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// Where the particles a canvas draws are carried from base to data: on the GPU by the advection
/// shader (`shaders/advect.wgsl`, writing straight into the trails layer's vertex buffer) or on
/// the CPU (the fused Euler path, uploaded as vertices).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Advect {
    /// The GPU where the display's adapter is a hardware GPU; the CPU where it is a CPU itself
    /// (lavapipe, SwiftShader), as there the CPU path is about 100 times faster (docs/PERFORMANCE.md).
    #[default]
    Auto,
    Cpu,
    Gpu,
}

/// What the display's wgpu adapter offers the advection shader.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adapter {
    /// A software renderer (wgpu's `DeviceType::Cpu`).
    pub software: bool,
    pub compute_shaders: bool,
    /// The largest storage binding: the trails buffer must fit one.
    pub max_storage_binding: u64,
}

impl Adapter {
    pub fn of(render_state: &eframe::egui_wgpu::RenderState) -> Self {
        use eframe::wgpu;
        let adapter = &render_state.adapter;
        Self {
            software: adapter.get_info().device_type == wgpu::DeviceType::Cpu,
            compute_shaders: adapter
                .get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS),
            max_storage_binding: render_state.device.limits().max_storage_buffer_binding_size,
        }
    }
}

impl Advect {
    /// Whether `particles` advected for `steps` steps are carried on the GPU (`Ok`) or the CPU
    /// (`Err`, with why), on `adapter` (None: no GPU draws the canvas).
    pub fn choose(self, adapter: Option<&Adapter>, particles: usize, steps: usize) -> Result<(), String> {
        let Some(adapter) = adapter else {
            return Err("nothing draws on a GPU here".into());
        };
        if self == Advect::Cpu {
            return Err("as chosen".into());
        }
        if !adapter.compute_shaders {
            return Err("this renderer has no compute shaders".into());
        }
        let bytes = crate::render::advect::trail_bytes(particles, steps);
        if bytes > adapter.max_storage_binding {
            return Err(format!(
                "{particles} particles × {steps} steps need {} MB, more than one GPU buffer holds ({} MB)",
                bytes >> 20,
                adapter.max_storage_binding >> 20
            ));
        }
        if self == Advect::Auto && adapter.software {
            return Err("the GPU is a software renderer, slower than the CPU path".into());
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: default_config(),
            layers: Layers::default(),
            // A view costs particles × Euler steps network rows on the worker: about 0.2 s on a
            // 2-core CPU here, so views keep up with training. Drawing allows 25 times more.
            // In a page without Web Workers a view is one task of the page's thread that input
            // waits for, so there it is a third as large.
            particles: if views_block_drawing() { 1000 } else { 2000 },
            // Enough paths to show the flow's shape; 200 hid the data under them.
            trajectories: if views_block_drawing() { 48 } else { 64 },
            euler_steps: if views_block_drawing() { 16 } else { 24 },
            source_w: 0.0,
            projection: Projection::Pca,
            point_radius: 1.6,
            advect: Advect::Auto,
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
            advect: None,
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
    fn particles_go_to_the_gpu_only_where_it_is_real_able_and_large_enough() {
        let gpu = Adapter {
            software: false,
            compute_shaders: true,
            max_storage_binding: 128 << 20,
        };
        let lavapipe = Adapter { software: true, ..gpu };
        let webgl = Adapter {
            compute_shaders: false,
            ..gpu
        };
        assert_eq!(Advect::Auto.choose(Some(&gpu), 50_000, 64), Ok(()));
        assert!(
            Advect::Auto
                .choose(Some(&lavapipe), 2000, 24)
                .unwrap_err()
                .contains("software")
        );
        assert_eq!(Advect::Gpu.choose(Some(&lavapipe), 2000, 24), Ok(()), "forced");
        assert_eq!(Advect::Cpu.choose(Some(&gpu), 2000, 24), Err("as chosen".into()));
        assert!(Advect::Gpu.choose(Some(&webgl), 10, 2).unwrap_err().contains("compute"));
        assert!(Advect::Gpu.choose(None, 10, 2).is_err());
        // 50,000 × 200 steps × 32 bytes is 305 MiB.
        let too_big = Advect::Auto.choose(Some(&gpu), 50_000, 200).unwrap_err();
        assert!(
            too_big.contains("305 MB, more than one GPU buffer holds (128 MB)"),
            "{too_big}"
        );
    }

    #[test]
    fn broken_storage_falls_back_to_defaults_with_a_reason() {
        let (s, problem) = Settings::from_stored(Some("(config: 12"));
        assert_eq!(s, Settings::default());
        assert!(problem.unwrap().contains("using the defaults"));
    }
}
