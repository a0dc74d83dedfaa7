//! The scripted run of `--exit-after SECONDS` (with `--screenshot PATH`): the window's picture
//! saved after the time, the frame times it drew at, and the exit. Benchmarks and the README's
//! pictures use it.

use super::MixflowApp;
use eframe::egui;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use web_time::Instant;

/// What a scripted run keeps: when it started, and the screenshot asked for.
pub struct Script {
    started: Instant,
    requested: bool,
    /// Where the window's screenshot arrives from the integration.
    shot: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            requested: false,
            shot: Arc::default(),
        }
    }
}

/// Frame intervals of the last few seconds, for the frame-time readout.
#[derive(Default)]
pub(super) struct FrameClock {
    last: Option<Instant>,
    intervals: std::collections::VecDeque<f64>,
    /// Every interval since the newest view of the first run arrived, for the summary printed
    /// by `--exit-after` (so it measures drawing what the settings ask for, not the start-up).
    all: Vec<f64>,
    measured_version: u64,
    reported: bool,
}

impl FrameClock {
    pub(super) fn tick(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last {
            let ms = (now - last).as_secs_f64() * 1e3;
            self.intervals.push_back(ms);
            self.all.push(ms);
            if self.intervals.len() > 120 {
                self.intervals.pop_front();
            }
        }
        self.last = Some(now);
    }

    pub(super) fn mean_ms(&self) -> f64 {
        self.intervals.iter().sum::<f64>() / self.intervals.len().max(1) as f64
    }

    pub(super) fn median_ms(&self) -> f64 {
        let mut v: Vec<f64> = self.intervals.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    pub(super) fn longest_ms(&self) -> f64 {
        self.intervals.iter().copied().fold(0.0, f64::max)
    }

    /// Starts measuring afresh when the first run shows a view at the requested size for the
    /// first time.
    pub(super) fn measure_from(&mut self, view_version: u64) {
        if self.measured_version == 0 && view_version > 0 {
            self.measured_version = view_version;
            self.all.clear();
        }
    }

    /// Mean and 95th percentile of the frame intervals after the first `skip`.
    fn summary(&self, skip: usize) -> Option<(f64, f64, usize)> {
        let mut v: Vec<f64> = self.all.iter().skip(skip).copied().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        Some((mean, v[(v.len() * 95 / 100).min(v.len() - 1)], v.len()))
    }
}

impl MixflowApp {
    /// Frame times of a scripted run, from the first view drawn as the settings ask (its first
    /// 10 frames left out).
    fn print_frame_summary(&mut self) {
        if std::mem::replace(&mut self.frames.reported, true) {
            return;
        }
        if let Some((mean, p95, n)) = self.frames.summary(10) {
            let view = self.runs.first().and_then(|r| r.view.as_ref());
            let (particles, traced) = view.map_or((0, 0), |v| match &v.model.advection {
                Some(a) => (a.x0.len(), v.request.trajectories.min(a.x0.len())),
                None => (
                    v.model.samples.len(),
                    v.model.trajectories.first().map_or(0, |p| p.len()),
                ),
            });
            let on = if view.is_some_and(|v| v.model.advection.is_some()) {
                "GPU"
            } else {
                "CPU"
            };
            println!(
                "frames: {n}, mean interval {mean:.1} ms ({:.0} fps), 95th percentile {p95:.1} ms; \
                 {} canvas(es), {particles} particles and {traced} trajectories drawn (advected on the {on})",
                1e3 / mean,
                self.runs.len()
            );
        }
    }

    /// The screenshot and exit timer of `--screenshot PATH --exit-after SECONDS`.
    pub(super) fn scripted_exit(&mut self, ui: &mut egui::Ui) {
        let Some(after) = self.launch.exit_after else {
            return;
        };
        let due = self.script.started.elapsed() >= Duration::from_secs_f64(after);
        let ctx = ui.ctx().clone();
        match self.launch.screenshot.clone() {
            Some(path) => {
                let shot = self.script.shot.lock().map(|mut s| s.take()).ok().flatten();
                if let Some(image) = shot {
                    self.print_frame_summary();
                    match save_png(&path, &image) {
                        Ok(()) => println!("saved the window to {}", path.display()),
                        Err(e) => eprintln!("error: {e}"),
                    }
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                } else if due && !self.script.requested {
                    self.script.requested = true;
                    let (slot, waker) = (self.script.shot.clone(), ctx.clone());
                    ctx.request_screenshot(move |image| {
                        if let Ok(mut s) = slot.lock() {
                            *s = Some(image);
                        }
                        waker.request_repaint();
                    });
                }
            }
            None if due => {
                self.print_frame_summary();
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            None => {}
        }
        ctx.request_repaint_after(Duration::from_millis(100));
    }
}

fn save_png(path: &std::path::Path, image: &egui::ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let img = image::RgbaImage::from_raw(w as u32, h as u32, bytes).ok_or("the screenshot has no pixels")?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    img.save(path)
        .map_err(|e| format!("{}: cannot save the screenshot: {e}", path.display()))
}
