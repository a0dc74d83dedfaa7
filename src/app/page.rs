//! What the web page around the app is told (in the browser only; a no-op on native): the
//! address's fragment is kept equal to the shared state, so the address bar is always a link to
//! the screen, and a JSON status (step, backend, renderer, where the main controls are) is written
//! into the page's `#mixflow-status` element for pages embedding the app and for the end-to-end
//! test.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use web_time::Instant;

/// The address bar follows the state at most this often (scrubbing changes it every frame).
const FRAGMENT_EVERY: Duration = Duration::from_millis(500);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PageStatus {
    pub step: usize,
    pub playing: bool,
    pub steps_per_s: f64,
    pub runs: usize,
    pub comparing: bool,
    pub dataset: String,
    pub method: String,
    /// The training backend that runs, and the graphics API that draws.
    pub backend: String,
    /// Where each run trains: `web-worker`, `page` (its thread), or `thread` (native).
    pub training: Vec<&'static str>,
    /// Each run's step, and whether it stopped by itself (finished, diverged, crashed).
    pub run_steps: Vec<usize>,
    pub run_stopped: Vec<bool>,
    pub renderer: String,
    /// Views of the first run drawn so far.
    pub views: u64,
    /// The past training step the first run's canvas shows (the training scrubber), if any.
    pub shown_step: Option<usize>,
    /// How long the worker took to compute the first run's newest view.
    pub view_ms: f64,
    /// Whether the first run's view is advected on the GPU (the advection shader).
    pub advected: bool,
    /// Mean, median and longest interval between frames over the last 120 frames.
    pub frame_ms: f64,
    pub frame_median_ms: f64,
    pub longest_frame_ms: f64,
    /// The newest note shown to the user, if any.
    pub note: Option<String>,
    /// Why the first run stopped by itself (finished, diverged), until it is reset.
    pub stopped: Option<String>,
    /// The guided demo on screen and its caption (`NAME caption K of N`).
    pub demo: Option<String>,
    /// The file the import window previews, while it is open.
    pub import: Option<String>,
    /// The memorisation lab's newest picture, while it is open.
    pub lab: Option<LabStatus>,
    /// Where the main controls are, in CSS pixels: name -> [left, top, right, bottom].
    pub controls: BTreeMap<&'static str, [f32; 4]>,
}

/// What the memorisation lab shows, for the page.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabStatus {
    pub step: usize,
    pub train_n: usize,
    /// Memorised shares of the exact, learned and hybrid samplers' samples.
    pub memorised: [f64; 3],
    /// How long the worker took to compute the picture.
    pub compute_ms: f64,
}

#[derive(Default)]
pub struct PageState {
    controls: BTreeMap<&'static str, [f32; 4]>,
    published: Option<PageStatus>,
    fragment: String,
    synced: Option<Instant>,
}

impl PageState {
    /// Records where a control was drawn this frame.
    pub fn control(&mut self, name: &'static str, rect: eframe::egui::Rect) {
        if cfg!(target_arch = "wasm32") {
            self.controls
                .insert(name, [rect.min.x, rect.min.y, rect.max.x, rect.max.y]);
        }
    }

    /// Whether the page wants an update this frame (always false on native).
    pub fn wanted(&self) -> bool {
        cfg!(target_arch = "wasm32")
    }

    /// Whether the address bar may follow the state now: only then is the fragment built.
    pub fn fragment_due(&self) -> bool {
        self.synced.is_none_or(|t| t.elapsed() >= FRAGMENT_EVERY)
    }

    /// Publishes the status when it changed, and the fragment (given when due) when it changed.
    /// The controls are this frame's: a closed menu's items are no longer listed.
    pub fn update(&mut self, mut status: PageStatus, fragment: Option<String>) {
        status.controls = std::mem::take(&mut self.controls);
        if self.published.as_ref() != Some(&status) {
            #[cfg(target_arch = "wasm32")]
            crate::web::publish_status(&serde_json::to_string(&status).unwrap_or_default());
            self.published = Some(status);
        }
        let Some(fragment) = fragment else {
            return;
        };
        self.synced = Some(Instant::now());
        if fragment != self.fragment {
            #[cfg(target_arch = "wasm32")]
            crate::web::set_fragment(&fragment);
            self.fragment = fragment;
        }
    }
}
