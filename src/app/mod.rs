//! The desktop app (eframe/egui): one or more live training runs, each drawn on a canvas by the
//! WGSL layers of `render`, with the settings, charts and the descriptor explorer around them.
//! The app owns no tensors: the live runs (`mixflow_live`: workers, and the `Run` that keeps what
//! they sent) train and send views; the app turns views into scenes (`scene`), draws them
//! (`canvas`, `paint`), and changes what runs only through its action queue (`action`).

mod action;
mod bars;
mod canvas;
mod charts;
pub mod demo;
mod demo_bar;
mod drawing;
mod explorer;
pub mod export;
mod export_menu;
mod follow;
mod history;
mod import;
mod lab;
mod page;
mod paint;
mod panels;
pub mod scene;
mod script;
pub mod settings;
pub mod share;
mod stepper;

use crate::method::Method;
use crate::projection::{Plane, Projection};
use crate::render::{Camera, Scene, Style};
use action::Action;
use burn::tensor::Device;
use eframe::egui;
use mixflow_live::{Command, Run};
use settings::Settings;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the command line asks of the app.
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// A shared link's state (its URL fragment), applied before the flags below.
    pub state: Option<String>,
    pub dataset: Option<String>,
    pub method: Option<Method>,
    /// Open the comparison view with these methods.
    pub compare: Option<Vec<Method>>,
    /// Save the window's rendering here after `exit_after` seconds, then quit.
    pub screenshot: Option<PathBuf>,
    pub exit_after: Option<f64>,
    /// Ignore the settings saved by earlier launches.
    pub fresh: bool,
    /// Open paused instead of training at once.
    pub paused: bool,
    /// Learning rate to open with (e.g. a far too high one, to show divergence).
    pub lr: Option<f64>,
    /// Particles and traced trajectories to draw (clamped by the worker).
    pub particles: Option<usize>,
    pub trajectories: Option<usize>,
    /// Where the drawn particles are advected.
    pub advect: Option<settings::Advect>,
    /// Start with the particles playing back from base to data.
    pub playback: bool,
    pub backend: Option<crate::backend::BackendKind>,
    /// Open this guided demo (see `mixflow demos`).
    pub demo: Option<String>,
    /// Presenter mode: larger type, the settings panel hidden.
    pub presenter: bool,
    /// Continue the run saved in this folder (by `mixflow train` or the Export menu).
    pub checkpoint: Option<PathBuf>,
    /// Where the Export menu writes (default `exports`).
    pub exports: Option<PathBuf>,
}

/// The window's wgpu device, registered with burn the first time the GPU backend is chosen.
struct Gpu {
    handles: Option<eframe::egui_wgpu::RenderState>,
    device: Option<Result<Device, String>>,
    /// What the drawing adapter offers the advection shader (read once: it does not change).
    adapter: Option<settings::Adapter>,
}

impl Gpu {
    fn device(&mut self) -> Result<Device, String> {
        let handles = &self.handles;
        self.device
            .get_or_insert_with(|| match handles {
                #[cfg(feature = "gpu")]
                Some(rs) => crate::backend::share_wgpu(&rs.instance, &rs.adapter, &rs.device, &rs.queue),
                _ => Err("this window has no GPU device to share".into()),
            })
            .clone()
    }
}

/// A scene built from one view, kept until its inputs change.
struct SceneCache {
    key: Option<(u64, scene::Layers, u32, Projection, Option<u32>)>,
    scene: Arc<Scene>,
    version: u64,
    /// What the scene draws beyond the data, for the camera (built with the scene: sorting the
    /// samples for their bulk is not work for every frame).
    fit: scene::Fit,
}

/// What the canvases show and from where, shared by every run's canvas.
#[derive(Default)]
struct Viewing {
    /// Shared by every canvas: the views are linked. It fits the data until the user moves it.
    camera: Option<Camera>,
    camera_follows: bool,
    /// The scrubbed time, and whether it plays back on its own.
    time: f32,
    playback: bool,
    /// The explored descriptor (empty: the first training descriptor).
    descriptor: Vec<f32>,
    /// The projection of data of more than two dimensions, for the run whose data it was fitted on.
    plane: Option<(usize, Projection, Arc<Plane>)>,
    /// The last view request sent, so an unchanged one is not sent again.
    sent_view: Option<mixflow_live::ViewRequest>,
    /// The training step the canvases show (the second clock).
    training: history::TrainingScrubber,
}

pub struct MixflowApp {
    settings: Settings,
    /// Settings being edited, applied with "Restart with these settings".
    draft: crate::config::TrainConfig,
    runs: Vec<Run>,
    scenes: Vec<SceneCache>,
    gpu: Gpu,
    /// What the canvases show and from where (camera, time, descriptor, projection).
    viewing: Viewing,
    launch: Launch,
    script: script::Script,
    notes: Vec<String>,
    frames: script::FrameClock,
    /// The graphics API that draws (WebGPU, WebGL2, Vulkan, ...).
    renderer: String,
    /// What the web page is told and shown about the app.
    page: page::PageState,
    /// The guided demo on screen, presenter mode, and what leaving the demo restores.
    demo: demo_bar::DemoState,
    stepper: stepper::Stepper,
    lab: lab::Lab,
    export: export_menu::ExportMenu,
    /// The canvases' area in the last frame.
    canvases: Option<egui::Rect>,
    import: import::Import,
    drawing: drawing::Drawing,
    /// Files dropped on the page, once the browser has read them.
    #[cfg(target_arch = "wasm32")]
    dropped: Arc<std::sync::Mutex<Vec<(String, Result<Vec<u8>, String>)>>>,
    /// Repaints the window when a worker has news (see `ui`: nothing else does while idle).
    waker: mixflow_live::Waker,
    /// Changes of what runs asked for in this frame, applied after the panels (see `action`).
    actions: Vec<Action>,
}

impl MixflowApp {
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let mut notes = Vec::new();
        let stored = (!launch.fresh)
            .then(|| cc.storage.and_then(|s| s.get_string(settings::STORAGE_KEY)))
            .flatten();
        let (mut settings, problem) = Settings::from_stored(stored.as_deref());
        notes.extend(problem);
        let demo_link = launch.state.as_deref().and_then(demo::Position::from_fragment);
        let state = launch.state.as_deref().filter(|_| demo_link.is_none());
        let mut opened_demo = match (demo_link, launch.demo.as_deref().map(demo::Demo::find)) {
            (_, Some(Ok(d))) => Some(demo::Position {
                demo: d,
                step: 0,
                presenter: launch.presenter,
            }),
            (Some(Ok(position)), _) => Some(position),
            (Some(Err(e)), _) | (_, Some(Err(e))) => {
                notes.push(format!("{e}: opened the app without a demo"));
                None
            }
            (None, None) => None,
        };
        let shared = match state.map(share::SharedState::from_fragment) {
            Some(Ok(state)) => state,
            Some(Err(e)) => {
                notes.push(format!("{e}: opened the defaults instead"));
                settings = Settings::default();
                None
            }
            None => None,
        };
        if let Some(state) = &shared {
            settings = state.settings.clone();
        }
        if let Some(d) = &launch.dataset {
            settings.config.dataset = d.clone();
        }
        if let Some(m) = launch.method {
            settings.config.method = m;
        }
        if let Some(lr) = launch.lr {
            settings.config.lr = lr;
        }
        if let Some(b) = launch.backend {
            settings.config.backend = b;
        }
        if let Some(n) = launch.particles {
            settings.particles = n;
        }
        if let Some(n) = launch.trajectories {
            settings.trajectories = n;
        }
        if let Some(a) = launch.advect {
            settings.advect = a;
        }
        if let Some(methods) = &launch.compare {
            settings.compare = methods.iter().copied().take(4).collect();
            settings.comparing = true;
        }
        if let Some(rs) = &cc.wgpu_render_state {
            paint::install(rs);
        }
        let renderer = cc
            .wgpu_render_state
            .as_ref()
            .map_or("none".to_string(), |rs| renderer_name(rs.adapter.get_info().backend));
        // Dark whatever the system theme (the browser would otherwise follow it): the layers are
        // drawn for a dark canvas.
        cc.egui_ctx.set_theme(egui::ThemePreference::Dark);
        let export_folder = launch
            .exports
            .as_ref()
            .map_or("exports".into(), |p| p.display().to_string());
        let mut app = Self {
            draft: settings.config.clone(),
            settings,
            runs: Vec::new(),
            scenes: Vec::new(),
            gpu: Gpu {
                handles: cc.wgpu_render_state.clone(),
                device: None,
                adapter: cc.wgpu_render_state.as_ref().map(settings::Adapter::of),
            },
            viewing: Viewing {
                camera_follows: true,
                time: 1.0,
                playback: launch.playback,
                ..Viewing::default()
            },
            launch,
            script: script::Script::default(),
            notes,
            frames: script::FrameClock::default(),
            renderer,
            page: Default::default(),
            demo: Default::default(),
            stepper: Default::default(),
            lab: Default::default(),
            export: export_menu::ExportMenu::new(export_folder),
            canvases: None,
            import: Default::default(),
            drawing: Default::default(),
            #[cfg(target_arch = "wasm32")]
            dropped: Default::default(),
            actions: Vec::new(),
            waker: {
                let ctx = cc.egui_ctx.clone();
                Arc::new(move || ctx.request_repaint())
            },
        };
        let presenter = app.launch.presenter || opened_demo.is_some_and(|d| d.presenter);
        app.set_presenter(&cc.egui_ctx, presenter);
        app.act(match opened_demo.take() {
            Some(position) => Action::OpenDemo(position),
            None => Action::Restart,
        });
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(dir) = app.launch.checkpoint.clone() {
            app.export.open_folder = dir.display().to_string();
            app.act(Action::OpenCheckpoint(dir));
        }
        app.apply_actions();
        if let Some(state) = shared {
            app.viewing.descriptor = state.descriptor;
            app.viewing.time = state.time;
            app.viewing.training.shown = state.training_step;
            app.viewing.camera = state.camera;
            app.viewing.camera_follows = state.camera.is_none();
        }
        app
    }

    fn page_status(&self) -> page::PageStatus {
        let first = self.runs.first();
        page::PageStatus {
            step: first.map_or(0, |r| r.step),
            playing: self.runs.iter().any(|r| r.playing),
            steps_per_s: first.map_or(0.0, |r| r.steps_per_s),
            runs: self.runs.len(),
            comparing: self.settings.comparing,
            dataset: self.settings.config.dataset.clone(),
            method: self.settings.config.method.name().into(),
            backend: self.info().map_or_else(|| "starting".into(), |i| i.backend.clone()),
            training: self.runs.iter().map(|r| r.place().name()).collect(),
            run_steps: self.runs.iter().map(|r| r.step).collect(),
            run_stopped: self.runs.iter().map(|r| r.stopped.is_some()).collect(),
            renderer: self.renderer.clone(),
            views: first.map_or(0, |r| r.view_version),
            shown_step: first.and_then(|r| r.shown_step()),
            view_ms: first
                .and_then(|r| r.view.as_ref())
                .map_or(0.0, |v| (v.compute_ms * 10.0).round() / 10.0),
            advected: first
                .and_then(|r| r.view.as_ref())
                .is_some_and(|v| v.model.advection.is_some()),
            frame_ms: (self.frames.mean_ms() * 10.0).round() / 10.0,
            frame_median_ms: (self.frames.median_ms() * 10.0).round() / 10.0,
            longest_frame_ms: self.frames.longest_ms().round(),
            note: self.all_notes().last().cloned(),
            stopped: first.and_then(|r| r.stopped.clone()),
            demo: self
                .demo
                .position
                .map(|d| format!("{} caption {} of {}", d.demo.name, d.step + 1, d.demo.steps.len())),
            import: self.import.open.then(|| self.import.file().to_string()),
            lab: self.lab.status(&self.runs),
            controls: Default::default(),
        }
    }

    /// The app's notes, then each run's, oldest first.
    fn all_notes(&self) -> impl Iterator<Item = &String> {
        self.notes.iter().chain(self.runs.iter().flat_map(|r| r.notes.iter()))
    }

    /// What a link needs to reproduce the screen.
    fn shared_state(&self) -> share::SharedState {
        share::SharedState {
            settings: self.settings.clone(),
            descriptor: self.viewing.descriptor.clone(),
            time: self.viewing.time,
            training_step: self.viewing.training.shown,
            // Only a camera the user placed: one that follows the fit moves with every view (it
            // holds the samples), and the address would change twice a second.
            camera: self.viewing.camera.filter(|_| !self.viewing.camera_follows),
        }
    }

    /// The state as a URL fragment: the demo's place while one is on, the whole state otherwise.
    fn fragment(&self) -> String {
        match &self.demo.position {
            Some(position) => position.to_fragment(),
            None => self.shared_state().to_fragment(),
        }
    }

    /// A link to this screen: the page's address with the state in the browser, and the command
    /// that opens it natively.
    fn share_link(&self) -> String {
        let fragment = self.fragment();
        #[cfg(target_arch = "wasm32")]
        return crate::web::link(&fragment);
        #[cfg(not(target_arch = "wasm32"))]
        format!("mixflow gui --state {fragment}")
    }

    /// The GPU device when the settings ask for the GPU backend (None otherwise or when there is
    /// none: the worker then falls back to the CPU and says so).
    fn gpu_for(&mut self, config: &crate::config::TrainConfig) -> Option<Device> {
        // In the page the worker sets up burn's own WebGPU device (see `backend::browser_gpu`).
        if config.backend != crate::backend::BackendKind::Gpu || cfg!(target_arch = "wasm32") {
            return None;
        }
        match self.gpu.device() {
            Ok(d) => Some(d),
            Err(e) => {
                self.notes.push(e);
                None
            }
        }
    }

    /// The runs to show, with their legends and cached starts: a demo's variants (from their
    /// bundled starts), one per compared method, or one.
    fn lineup(&self) -> Vec<(String, crate::config::TrainConfig, Option<&'static [u8]>)> {
        match &self.demo.position {
            Some(position) => {
                let demo = position.demo;
                let runs = demo.runs(self.settings.config.backend).into_iter().enumerate();
                runs.map(|(i, (label, config))| (label, config, demo.cached_start(i)))
                    .collect()
            }
            None => self
                .settings
                .run_configs()
                .into_iter()
                .map(|c| (c.method.name().to_string(), c, None))
                .collect(),
        }
    }

    /// Brings the runs in line with the settings (or the demo on screen).
    fn restart_runs(&mut self) {
        self.viewing.training.follow_training();
        let lineup = self.lineup();
        // A reset on the same data keeps the descriptor explored (and so the address); other
        // data starts again at its first training descriptor.
        let same_data = self
            .runs
            .first()
            .zip(lineup.first())
            .is_some_and(|(run, (_, config, _))| run.config.source_and_target() == config.source_and_target());
        self.runs.truncate(lineup.len());
        self.scenes.truncate(lineup.len());
        let view = self.settings.view_request(None, None);
        // Side by side, the runs keep in step (see `pace`); one run alone trains freely.
        let paces: Vec<_> = match lineup.len() {
            1 => vec![None],
            n => mixflow_live::pace::Pace::slots(n).into_iter().map(Some).collect(),
        };
        for (i, ((label, config, start), pace)) in lineup.into_iter().zip(paces).enumerate() {
            let gpu = self.gpu_for(&config);
            if i < self.runs.len() {
                self.runs[i].reset(label, config, start, pace, gpu);
            } else {
                self.runs.push(Run::start(
                    label,
                    config,
                    start,
                    pace,
                    gpu,
                    view.clone(),
                    !self.launch.paused,
                    self.waker.clone(),
                ));
                self.scenes.push(SceneCache {
                    key: None,
                    scene: Arc::new(Scene::default()),
                    version: 0,
                    fit: scene::Fit::default(),
                });
            }
        }
        self.viewing.camera = None;
        self.viewing.camera_follows = true;
        if !same_data {
            self.viewing.descriptor.clear();
        }
        self.viewing.plane = None;
        self.viewing.sent_view = None;
        self.lab.forget_sent();
    }

    /// Restarts the run on a finite training set of `n` points (the lab's size control).
    fn train_on_finite_set(&mut self, n: usize) {
        let config = crate::config::TrainConfig {
            train_n: Some(n),
            ..self.settings.config.clone()
        };
        self.act(Action::Train(config));
    }

    fn send_all(&self, command: impl Fn() -> Command) {
        for run in &self.runs {
            run.send(command());
        }
    }

    fn info(&self) -> Option<Arc<mixflow_live::RunInfo>> {
        self.runs.first().and_then(|r| r.info.clone())
    }

    /// The projection plane of the current dataset.
    fn plane(&mut self) -> Option<Arc<Plane>> {
        let info = self.info()?;
        let key = Arc::as_ptr(&info) as usize;
        let projection = self.settings.projection;
        if !matches!(&self.viewing.plane, Some((k, p, _)) if *k == key && *p == projection) {
            self.viewing.plane = Some((key, projection, Arc::new(Plane::new(projection, &info.data_sample))));
        }
        self.viewing.plane.as_ref().map(|(_, _, p)| p.clone())
    }

    /// The data's box in the plane (where the velocity field is sampled: it must not depend on
    /// the views, which are computed from it).
    fn data_bounds(&mut self) -> canvas::Bounds {
        self.data_fit()?.bounds()
    }

    fn data_fit(&mut self) -> Option<scene::Fit> {
        let plane = self.plane()?;
        let info = self.info()?;
        let mut fit = scene::Fit::default();
        fit.add_all(&plane.project_all(&info.data_sample));
        Some(fit)
    }

    /// The box the canvas fits: the data, and what the runs' scenes draw around it (their
    /// mixture components, and the bulk of their samples, base draws and pairs).
    fn fit_bounds(&mut self) -> canvas::Bounds {
        let mut fit = self.data_fit()?;
        for cache in &self.scenes {
            fit.add_fit(&cache.fit);
        }
        fit.bounds()
    }

    /// Sends the view request implied by the settings to every run, when it changed.
    fn update_view_request(&mut self) {
        let Some(info) = self.info() else {
            return;
        };
        if info.descriptor_dim > 0 && self.viewing.descriptor.len() != info.descriptor_dim {
            self.viewing.descriptor = info
                .conditions
                .iter()
                .find(|c| c.split == crate::data::Split::Train)
                .map(|c| c.descriptor.clone())
                .unwrap_or_default();
        }
        if let Some(split) = self.demo.pending_split.take()
            && let Some(c) = info.conditions.iter().find(|c| c.split == split)
        {
            self.viewing.descriptor = c.descriptor.clone();
        }
        let field_box = (info.dim == 2).then(|| self.data_bounds()).flatten().map(|(lo, hi)| {
            let pad = [(hi[0] - lo[0]) * 0.1, (hi[1] - lo[1]) * 0.1];
            ([lo[0] - pad[0], lo[1] - pad[1]], [hi[0] + pad[0], hi[1] + pad[1]])
        });
        let descriptor = (!self.viewing.descriptor.is_empty()).then(|| self.viewing.descriptor.clone());
        let mut request = self.settings.view_request(descriptor, field_box);
        request.advect = self.advect_choice().is_ok().then_some(crate::render::advect::LIMITS);
        if self.viewing.sent_view.as_ref() != Some(&request) {
            self.send_all(|| Command::View(request.clone()));
            self.viewing.sent_view = Some(request);
        }
    }

    /// Whether the particles drawn are carried by the GPU's advection shader, or why not.
    fn advect_choice(&self) -> Result<(), String> {
        let layers = self.settings.layers;
        if layers.trails && layers.curvature {
            return Err("trails coloured by curvature are integrated where their curvature is measured".into());
        }
        let (counts, _) = self.settings.view_request(None, None).clamped();
        self.settings
            .advect
            .choose(self.gpu.adapter.as_ref(), counts.particles, counts.euler_steps)
    }

    fn side_panel(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Run");
            if self.demo.position.is_some() {
                ui.label("The demo sets up its runs: changing a run setting leaves the demo.");
            }
            if panels::run_switches(ui, &mut self.draft, self.settings.comparing) {
                self.act(Action::Train(self.draft.clone()));
            }
            let changes = panels::settings(ui, &mut self.draft, &self.settings.config);
            if changes.apply {
                self.act(Action::Train(self.draft.clone()));
            }
            if changes.defaults {
                self.act(Action::Defaults);
            }
            ui.separator();
            self.view_settings(ui);
            if self.settings.comparing {
                ui.separator();
                self.compare_settings(ui);
            }
            ui.separator();
            if let Some(info) = self.info() {
                ui.label(format!("{} · {}D", info.config.dataset, info.dim));
                for (name, n) in &info.param_counts {
                    if *n > 0 {
                        ui.label(format!("{name}: {n} parameters"));
                    }
                }
            }
        });
    }

    fn view_settings(&mut self, ui: &mut egui::Ui) {
        ui.heading("View");
        let l = &mut self.settings.layers;
        ui.columns(2, |c| {
            c[0].checkbox(&mut l.data, "data");
            c[0].checkbox(&mut l.samples, "samples");
            c[0].checkbox(&mut l.base, "base samples");
            c[0].checkbox(&mut l.ellipses, "mixture ellipses");
            c[0].checkbox(&mut l.density, "base density");
            c[1].checkbox(&mut l.trails, "trajectories");
            c[1].add_enabled(l.trails, egui::Checkbox::new(&mut l.curvature, "by curvature"))
                .on_hover_text(
                    "Colour each trajectory by its curvature (teal: straight, red: curved) instead of by time",
                );
            c[1].checkbox(&mut l.particles, "particles at t");
            c[1].checkbox(&mut l.field, "velocity field");
            c[1].checkbox(&mut l.kappa, "κ-FC source");
            c[1].checkbox(&mut l.pairs, "minibatch pairs");
        });
        let s = &mut self.settings;
        // Counts go beyond what the worker draws on purpose: it clamps them and says so.
        panels::number(ui, "Particles", &mut s.particles, 0..=10_000_000);
        panels::number(ui, "Trajectories", &mut s.trajectories, 0..=10_000_000);
        panels::number(ui, "Euler steps drawn", &mut s.euler_steps, 0..=10_000);
        panels::row(ui, "Point size", egui::Slider::new(&mut s.point_radius, 0.5..=6.0));
        panels::choice(ui, "Particles advected on", &mut s.advect);
        let carried = match self.advect_choice() {
            Ok(()) => "the GPU (advect.wgsl)".to_string(),
            Err(why) => format!("the CPU: {why}"),
        };
        ui.weak(format!("Carried on {carried}"));
        let s = &mut self.settings;
        if matches!(s.config.method, Method::MixflowRf | Method::FastOde) || s.comparing {
            panels::row(ui, "κ-FC source w", egui::Slider::new(&mut s.source_w, 0.0..=1.0));
        }
        if let Some(info) = self.info()
            && info.dim > 2
        {
            self.projection_picker(ui, info.dim);
        }
    }

    fn projection_picker(&mut self, ui: &mut egui::Ui, dim: usize) {
        let p = &mut self.settings.projection;
        ui.horizontal(|ui| {
            ui.label("Projection");
            ui.radio_value(p, Projection::Pca, "PCA");
            if ui.radio(matches!(p, Projection::Axes(..)), "axes").clicked() && *p == Projection::Pca {
                *p = Projection::Axes(0, 1);
            }
        });
        if let Projection::Axes(i, j) = p {
            panels::number(ui, "x axis", i, 0..=dim - 1);
            panels::number(ui, "y axis", j, 0..=dim - 1);
        }
    }

    fn compare_settings(&mut self, ui: &mut egui::Ui) {
        ui.heading("Compared methods");
        let mut lineup = self.settings.compare.clone();
        for slot in 0..4 {
            if slot >= lineup.len() {
                if ui.button(format!("add run {}", slot + 1)).clicked() {
                    lineup.push(Method::Rf);
                }
                break;
            }
            let mut remove = false;
            ui.horizontal(|ui| {
                panels::choice(ui, &format!("run {}", slot + 1), &mut lineup[slot]);
                remove = lineup.len() > 2 && ui.small_button("remove").clicked();
            });
            if remove {
                lineup.remove(slot);
                break;
            }
        }
        if lineup != self.settings.compare {
            self.act(Action::Lineup(lineup));
        }
    }

    fn bottom_panel(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui
                .button("Measure W2 vs NFE")
                .on_hover_text("Generate with Euler at 1 to 128 steps and compare with true data")
                .clicked()
            {
                self.send_all(|| Command::MeasureNfe);
            }
        });
        type Chart = (&'static str, fn(&mut egui::Ui, &[Run], f32));
        let mut all: Vec<Chart> = vec![
            ("loss (solid: flow, dashed: base / KL)", charts::losses),
            ("W2 (dashed: floor)", charts::w2_over_training),
            ("curvature", charts::curvature),
            ("W2 vs NFE", charts::w2_by_nfe),
        ];
        if self.runs.iter().any(|r| r.config.train_n.is_some()) {
            all.insert(3, ("memorised (share of samples)", charts::memorised));
        }
        // A projector needs the room for the canvases: the charts the demos speak of, shorter,
        // and no table (its numbers are in the charts).
        let (shown, height) = if self.demo.presenter {
            (&all[1..], 100.0)
        } else {
            (&all[..], 150.0)
        };
        ui.columns(shown.len(), |columns| {
            for (ui, (title, draw)) in columns.iter_mut().zip(shown) {
                ui.add(egui::Label::new(*title).truncate());
                draw(ui, &self.runs, height);
            }
        });
        if !self.demo.presenter {
            charts::metrics_table(ui, &self.runs);
        }
    }

    fn explorer_panel(&mut self, ui: &mut egui::Ui, info: &mixflow_live::RunInfo) {
        ui.heading("Descriptor");
        if explorer::show(ui, &info.conditions, &mut self.viewing.descriptor) {
            self.update_view_request();
        }
        ui.separator();
        if ui.button("Measure W2 per descriptor").clicked() {
            self.send_all(|| Command::MeasureDescriptors);
        }
        explorer::w2_by_descriptor(ui, &self.runs);
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.toggle_value(&mut self.viewing.playback, "Play back")
                .on_hover_text("Move the particles from base (t = 0) to data (t = 1) on a loop");
            panels::row(ui, "t", egui::Slider::new(&mut self.viewing.time, 0.0..=1.0));
            ui.label("drag: pan · scroll: zoom · double-click: fit");
        });
        self.viewing.training.ui(ui, &mut self.runs);
        if self.viewing.playback {
            let dt = ui.input(|i| i.stable_dt).min(0.1);
            self.viewing.time += dt / 3.0;
            if self.viewing.time > 1.0 {
                self.viewing.time = 0.0;
            }
        }
        let Some(plane) = self.plane() else {
            // A static label, not a spinner: nothing should repaint while a worker starts.
            ui.centered_and_justified(|ui| ui.label("starting the run…"));
            return;
        };
        // Trails coloured by curvature share one scale: red means as curved in every canvas.
        let layers = self.settings.layers;
        let curvature_scale = (layers.trails && layers.curvature)
            .then(|| scene::curvature_scale(self.runs.iter().filter_map(|r| r.view.as_deref())))
            .flatten();
        // The scenes first: the camera fits what they draw.
        let scenes: Vec<(Arc<Scene>, u64)> = (self.runs.iter().zip(&mut self.scenes))
            .map(|(run, cache)| scene_for(cache, run, &self.settings, &plane, self.viewing.time, curvature_scale))
            .collect();
        let fit = self.fit_bounds();
        let n = self.runs.len();
        let avail = ui.available_size();
        let (cols, rows) = grid_shape(n, avail);
        // Each canvas has a title row above it; the pointer readout takes one row below them
        // all. Sized to the spacing egui puts between them, so no canvas runs under a panel.
        let gap = ui.spacing().item_spacing;
        let line = ui.text_style_height(&egui::TextStyle::Body);
        let size = egui::vec2(
            ((avail.x - gap.x * (cols - 1) as f32) / cols as f32).floor().max(16.0),
            ((avail.y - line - gap.y - rows as f32 * (line + 2.0 * gap.y)) / rows as f32)
                .floor()
                .max(16.0),
        );
        let style = Style {
            point_radius: self.settings.point_radius,
            trail_colour: match curvature_scale.is_some() {
                true => crate::render::TrailColour::Curvature,
                false => crate::render::TrailColour::Time,
            },
            ..Style::default()
        };
        let mut hover = None;
        let mut canvases: Option<egui::Rect> = None;
        let mut pressed = None;
        let mut clicked = None;
        for row in 0..rows {
            ui.horizontal(|ui| {
                for i in row * cols..((row + 1) * cols).min(n) {
                    ui.vertical(|ui| {
                        let run = &self.runs[i];
                        let title = match (&run.view, run.shown_step()) {
                            (Some(_), Some(s)) => format!("{} · step {s} of {} (history)", run.label(), run.step),
                            (Some(v), None) if run.finished() => {
                                format!("{} · step {} · finished", run.label(), v.model.step)
                            }
                            (Some(v), None) => format!("{} · step {}", run.label(), v.model.step),
                            (None, _) => format!("{} · starting…", run.label()),
                        };
                        ui.colored_label(charts::run_color(i), title);
                        let (scene, version) = scenes[i].clone();
                        let id = egui::Id::NULL.with(("canvas", i));
                        let legend = run
                            .view
                            .as_ref()
                            .map_or_else(Vec::new, |v| scene::legend(v, self.settings.layers, curvature_scale));
                        let drawn = canvas::Drawn {
                            scene,
                            version,
                            style,
                            time: self.viewing.time,
                            legend,
                            followed: run
                                .followed
                                .as_ref()
                                .map(|path| follow::overlay(path, &plane, run.label())),
                        };
                        let sketch = self.drawing.active.then_some(canvas::Sketch {
                            points: &self.drawing.points,
                            classes: &self.drawing.classes,
                            brush: self.drawing.brush,
                        });
                        let out = canvas::show(
                            ui,
                            id,
                            size,
                            &mut self.viewing.camera,
                            &mut self.viewing.camera_follows,
                            fit,
                            drawn,
                            sketch,
                        );
                        if let Some(asked) = Self::run_message(ui, run, out.rect) {
                            self.actions.push(asked);
                        }
                        hover = hover.or(out.hover);
                        pressed = pressed.or(out.pressed.map(|p| (p, out.units_per_point)));
                        clicked = clicked.or(out.clicked.map(|p| (i, p, out.units_per_point)));
                        canvases = Some(canvases.map_or(out.rect, |r| r.union(out.rect)));
                    });
                }
            });
        }
        self.canvases = canvases;
        if let Some((at, units_per_point)) = pressed {
            self.drawing.stroke(at, units_per_point);
            // Keep spraying while the pointer is held still.
            ui.ctx().request_repaint();
        }
        if let Some((i, at, units_per_point)) = clicked {
            self.follow_through(i, at, units_per_point * follow::SNAP_POINTS, &plane);
        }
        ui.horizontal(|ui| {
            if let Some(p) = hover {
                ui.label(format!("({:.3}, {:.3})", p[0], p[1]));
            }
            if self.runs.iter().any(|r| r.followed.is_some()) && ui.button("Clear path").clicked() {
                self.runs.iter_mut().for_each(|r| r.follow(None));
            }
        });
        for run in &self.runs {
            if let Some(path) = &run.followed {
                ui.label(follow::caption(path, run.label()));
            }
        }
    }

    /// A click on canvas `i` at `at` (canvas plane): every run of the view follows its own
    /// trajectory through the point the click means in that canvas's view.
    fn follow_through(&mut self, i: usize, at: [f32; 2], snap: f32, plane: &Plane) {
        let Some(view) = self.runs.get(i).and_then(|r| r.view.clone()) else {
            return;
        };
        if let Some(request) = follow::request_at(&view, plane, at, self.viewing.time, snap) {
            self.runs.iter_mut().for_each(|r| r.follow(Some(request.clone())));
        }
    }
}

fn renderer_name(backend: eframe::wgpu::Backend) -> String {
    use eframe::wgpu::Backend;
    match backend {
        Backend::BrowserWebGpu => "WebGPU".into(),
        Backend::Gl if cfg!(target_arch = "wasm32") => "WebGL2".into(),
        other => format!("{other:?}"),
    }
}

/// Columns and rows of the canvases: the grid whose cells are largest in their smaller side
/// (a wide, short area puts three runs in a row; a squarer one, in a 2 x 2 grid). A grid with
/// no empty cell wins over one nearly as good with a hole (four runs as 3 + 1 wasted a quarter
/// of the room).
fn grid_shape(runs: usize, area: egui::Vec2) -> (usize, usize) {
    let runs = runs.max(1);
    let shape = |cols: usize| (cols, runs.div_ceil(cols));
    let side = |(cols, rows): (usize, usize)| (area.x / cols as f32).min(area.y / rows as f32);
    let score = |s: (usize, usize)| side(s) * if s.0 * s.1 == runs { 1.0 } else { 0.9 };
    (1..=runs)
        .map(shape)
        .max_by(|a, b| score(*a).total_cmp(&score(*b)))
        .unwrap_or((1, 1))
}

/// The run's scene, rebuilt only when its view, the layers, the time or the projection changed.
fn scene_for(
    cache: &mut SceneCache,
    run: &Run,
    settings: &Settings,
    plane: &Plane,
    time: f32,
    curvature_scale: Option<f32>,
) -> (Arc<Scene>, u64) {
    let Some(view) = &run.view else {
        return (cache.scene.clone(), cache.version);
    };
    // The velocity field is recorded at a few times: only a change of the nearest one (with the
    // field shown) rebuilds; trails and particles follow the time on the GPU.
    let field_slot = if settings.layers.field {
        (time * (mixflow_live::FIELD_TIMES - 1) as f32).round() as u32
    } else {
        0
    };
    let key = Some((
        run.view_version,
        settings.layers,
        field_slot,
        settings.projection,
        curvature_scale.map(f32::to_bits),
    ));
    if cache.key != key {
        cache.key = key;
        cache.scene = Arc::new(scene::build(&scene::SceneInput {
            view,
            layers: settings.layers,
            plane,
            field_time: time,
            curvature_scale,
        }));
        cache.fit = scene::view_fit(view, settings.layers, plane);
        cache.version += 1;
    }
    (cache.scene.clone(), cache.version)
}

impl eframe::App for MixflowApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frames.tick();
        for run in &mut self.runs {
            run.poll();
        }
        if let Some(run) = self.runs.first()
            && run
                .view
                .as_ref()
                .is_some_and(|v| Some(&v.request) == self.viewing.sent_view.as_ref())
        {
            self.frames.measure_from(run.view_version);
        }
        self.update_view_request();
        self.capture_before_frame(ui.ctx());
        egui::Panel::top("top").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        if let Some(position) = self.demo.position {
            egui::Panel::top("demo").show(ui, |ui| self.demo_bar(ui, position));
        }
        if self.drawing.active {
            egui::Panel::top("drawing").show(ui, |ui| {
                if self.drawing.controls(ui) {
                    match self.drawing.run_config(&self.settings.config) {
                        Ok(config) => {
                            self.drawing.active = false;
                            self.act(Action::TrainAlone(config));
                        }
                        Err(e) => self.notes.push(e),
                    }
                }
            });
        }
        if !self.demo.presenter {
            egui::Panel::left("settings")
                .resizable(true)
                .default_size(290.0)
                .show(ui, |ui| self.side_panel(ui));
        }
        // Presenter mode has a panel (and a size) of its own.
        let (charts, height) = if self.demo.presenter {
            ("charts-presenter", 150.0)
        } else {
            ("charts", 230.0)
        };
        egui::Panel::bottom(charts)
            .resizable(true)
            .default_size(height)
            .show(ui, |ui| self.bottom_panel(ui));
        if let Some(info) = self.info()
            && info.descriptor_dim > 0
        {
            egui::Panel::right("explorer")
                .resizable(true)
                .default_size(260.0)
                .show(ui, |ui| self.explorer_panel(ui, &info));
        }
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        if self.stepper.open
            && let Some(run) = self.runs.first()
        {
            self.stepper.show(ui.ctx(), run);
        }
        if self.lab.open
            && let Some(n) = self.lab.show(ui.ctx(), &self.runs, self.viewing.time)
        {
            self.train_on_finite_set(n);
        }
        self.take_dropped_files(ui.ctx());
        if self.import.open
            && let Some(config) = self.import.show(ui.ctx(), &self.settings.config, &mut self.page)
        {
            self.act(Action::TrainAlone(config));
        }
        self.apply_actions();
        self.capture_after_frame(ui.ctx(), self.canvases);
        self.scripted_exit(ui);
        if self.page.wanted() {
            let fragment = self.page.fragment_due().then(|| self.fragment());
            self.page.update(self.page_status(), fragment);
        }
        // Training and play-back redraw at the display's pace. Paused, the app sleeps until input
        // or a worker's event (each one wakes the window, see `waker`).
        if self.viewing.playback || self.runs.iter().any(|r| r.playing) {
            ui.ctx().request_repaint_after(Duration::from_millis(16));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // A demo's runs are the demo's: the next launch opens the user's own settings.
        let own = self.demo.before.as_ref().filter(|_| self.demo.position.is_some());
        storage.set_string(settings::STORAGE_KEY, own.unwrap_or(&self.settings).to_stored());
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Window options: the wgpu device is created with the adapter's full features and limits, so
/// burn can train on the same device that draws.
pub fn native_options() -> eframe::NativeOptions {
    use eframe::egui_wgpu::{WgpuConfiguration, WgpuSetup, WgpuSetupCreateNew};
    use eframe::wgpu;
    let mut setup = WgpuSetupCreateNew::without_display_handle();
    // wgpu's GL backend deadlocks with burn on lavapipe; the primary APIs serve every desktop.
    setup.instance_descriptor.backends = wgpu::Backends::PRIMARY;
    setup.device_descriptor = Arc::new(|adapter| wgpu::DeviceDescriptor {
        label: Some("mixflow device"),
        required_features: adapter.features(),
        required_limits: adapter.limits(),
        ..Default::default()
    });
    eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("MixFlow Explorer")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([320.0, 240.0]),
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: WgpuConfiguration {
            wgpu_setup: WgpuSetup::CreateNew(setup),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Opens the window; returns when it closes.
pub fn run(launch: Launch) -> Result<(), String> {
    eframe::run_native(
        "MixFlow Explorer",
        native_options(),
        Box::new(move |cc| Ok(Box::new(MixflowApp::new(cc, launch)))),
    )
    .map_err(|e| format!("cannot open the window: {e}"))
}
