//! The Export menu: files from what the runs show (see `export` for the formats), checkpoints
//! saved by the workers and opened from run folders, and window captures: the canvases as a PNG,
//! and two animated GIFs, one screenshot per frame: the particle play-back at evenly spaced times,
//! and the training play-back at evenly spaced kept steps (each frame waits for every run's view
//! of its step).

use super::MixflowApp;
use super::export::{self, Export};
use eframe::egui;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use web_time::Instant;

/// Frames of the play-back GIF (t = 0 to 1), at most as many of the training GIF (kept steps),
/// their spacing, and the widest frame kept.
const GIF_FRAMES: usize = 24;
const TRAINING_GIF_FRAMES: usize = 40;
const GIF_DELAY_MS: u32 = 100;
const GIF_MAX_WIDTH: u32 = 640;
/// How long a screenshot may take before it is asked for again, and how often. The window drops
/// a requested screenshot when it skips the frame (eframe's web painter does on a surface timeout
/// or a zero-sized canvas); without a retry the capture would wait, and block every later one,
/// for ever; after the last try it gives up with a message.
const SCREENSHOT_PATIENCE: Duration = Duration::from_secs(3);
const SCREENSHOT_TRIES: usize = 4;
/// How long a frame of the training GIF may wait for the runs' views of its step (one view takes
/// under a second; a run that stopped drawing views would hold the capture for ever).
const VIEW_PATIENCE: Duration = Duration::from_secs(30);

/// What the Export menu keeps between frames.
pub struct ExportMenu {
    /// Where files go on the desktop.
    pub folder: String,
    /// The run folder to open.
    #[cfg(not(target_arch = "wasm32"))]
    pub open_folder: String,
    capture: Option<Capture>,
}

impl ExportMenu {
    pub fn new(folder: String) -> Self {
        Self {
            folder,
            #[cfg(not(target_arch = "wasm32"))]
            open_folder: String::new(),
            capture: None,
        }
    }
}

/// What a capture records.
enum Clip {
    /// The canvases as they are: one frame.
    Canvas,
    /// The particle play-back, t = 0 to 1.
    Time,
    /// The training play-back: one frame per step (kept by some run), the scrubbed time fixed.
    Training(Vec<usize>),
}

/// A capture of the canvases in progress, one screenshot at a time.
pub struct Capture {
    clip: Clip,
    frames: Vec<image::RgbaImage>,
    /// The screenshot asked for and not yet arrived, when it was asked for, and how many times
    /// the current frame has been asked for.
    slot: Option<Arc<Mutex<Option<Arc<egui::ColorImage>>>>>,
    asked: Instant,
    tries: usize,
    /// The area cropped, and the time and play-back to restore afterwards.
    rect: Option<egui::Rect>,
    /// When the current frame's training step was set (the training GIF waits for its views).
    framed: Instant,
    /// The time, its play-back, the training step and its play-back to restore afterwards.
    restore: (f32, bool, Option<usize>, bool),
}

impl Capture {
    fn wanted(&self) -> usize {
        match &self.clip {
            Clip::Canvas => 1,
            Clip::Time => GIF_FRAMES,
            Clip::Training(steps) => steps.len(),
        }
    }

    /// The scrubbed time of the frame being captured.
    fn time(&self, current: f32) -> f32 {
        match self.clip {
            Clip::Time => self.frames.len() as f32 / (GIF_FRAMES - 1) as f32,
            _ => current,
        }
    }

    /// The training step of the frame being captured (none: the one on screen).
    fn step(&self) -> Option<usize> {
        match &self.clip {
            Clip::Training(steps) => steps.get(self.frames.len()).copied(),
            _ => None,
        }
    }
}

/// Up to `most` steps kept by any of the runs, evenly spaced from the first to the newest.
fn kept_steps(runs: &[mixflow_live::Run], most: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = runs.iter().flat_map(|r| r.history_steps.iter().copied()).collect();
    steps.sort_unstable();
    steps.dedup();
    if steps.len() <= most {
        return steps;
    }
    let last = steps.len() - 1;
    let mut picked: Vec<usize> = (0..most).map(|i| steps[i * last / (most - 1)]).collect();
    picked.dedup();
    picked
}

/// Whether every run shows the state it kept at or before `step` (a run with nothing kept that
/// early has nothing to wait for).
fn runs_show(runs: &[mixflow_live::Run], step: usize) -> bool {
    runs.iter().all(|run| {
        let kept = run.kept_step_at(step);
        kept.is_none() || run.shown_step() == kept
    })
}

impl MixflowApp {
    pub(super) fn export_menu(&mut self, ui: &mut egui::Ui) {
        let menu = ui.menu_button("Export", |ui| {
            #[cfg(not(target_arch = "wasm32"))]
            ui.horizontal(|ui| {
                ui.label("Folder");
                ui.text_edit_singleline(&mut self.export.folder);
            });
            let mut files: Vec<Result<Export, String>> = Vec::new();
            let png = ui.button("Canvas as PNG");
            self.page.control("export-png", png.rect);
            if png.clicked() {
                self.start_capture(Clip::Canvas);
            }
            if ui.button("Play-back as GIF").clicked() {
                self.start_capture(Clip::Time);
            }
            let training = ui
                .button("Training as GIF")
                .on_hover_text("Every run redrawn from its kept weights, step 0 to the newest, at the scrubbed time");
            if training.clicked() {
                self.start_training_capture();
            }
            ui.separator();
            type Format = fn(&mixflow_live::Run) -> Result<Export, String>;
            let formats: [(&str, Format); 5] = [
                ("Samples as CSV", |r| view_file(r, "samples.csv", export::samples_csv)),
                ("Trajectories as CSV", |r| {
                    view_file(r, "trajectories.csv", export::trajectories_csv)
                }),
                ("Metrics as JSON", |r| run_file(r, "metrics.json", export::metrics_json)),
                ("Metrics as CSV", |r| run_file(r, "metrics.csv", export::metrics_csv)),
                ("Configuration as TOML", |r| {
                    run_file(r, "config.toml", |r| export::config_toml(&r.config))
                }),
            ];
            // Particles the GPU advects are drawn, never read back: the files hold those the CPU
            // integrated for the metrics.
            let advected = self.runs.iter().find_map(|r| {
                let v = r.view.as_ref()?;
                v.model.advection.as_ref().map(|_| v.model.samples.len())
            });
            for (label, format) in formats {
                let mut item = ui.button(label);
                if let Some(n) = advected
                    && label.ends_with("CSV")
                    && !label.starts_with("Metrics")
                {
                    item = item.on_hover_text(format!(
                        "The particles are advected on the GPU: this holds the first {n}, integrated on the CPU for the metrics"
                    ));
                }
                if label.ends_with("TOML") {
                    self.page.control("export-toml", item.rect);
                }
                if item.clicked() {
                    files.extend(self.runs.iter().map(format));
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            self.checkpoint_items(ui);
            for file in files {
                self.hand_over(file);
            }
        });
        self.page.control("export", menu.response.rect);
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn checkpoint_items(&mut self, ui: &mut egui::Ui) {
        ui.separator();
        if ui
            .button("Checkpoint (run folder)")
            .on_hover_text("The model and optimiser state, as `mixflow train` writes it: eval, sample or resume it")
            .clicked()
        {
            for run in &self.runs {
                let dir = std::path::Path::new(&self.export.folder).join(export::run_stem(run));
                run.send(mixflow_live::Command::Save(dir));
            }
        }
        ui.horizontal(|ui| {
            ui.label("Run folder");
            ui.text_edit_singleline(&mut self.export.open_folder);
            if ui
                .button("Open")
                .on_hover_text("Continue a run saved by `mixflow train` or by this menu")
                .clicked()
            {
                let dir = std::path::PathBuf::from(self.export.open_folder.trim());
                self.act(super::action::Action::OpenCheckpoint(dir));
            }
        });
    }

    fn start_training_capture(&mut self) {
        let steps = kept_steps(&self.runs, TRAINING_GIF_FRAMES);
        if steps.len() < 2 {
            let kept = steps.len();
            self.hand_over(Err(format!(
                "the runs kept {kept} state{} of their training so far: a training GIF needs two (train some steps first)",
                if kept == 1 { "" } else { "s" }
            )));
            return;
        }
        self.start_capture(Clip::Training(steps));
    }

    fn start_capture(&mut self, clip: Clip) {
        if self.export.capture.is_some() {
            return;
        }
        let training = &self.viewing.training;
        self.export.capture = Some(Capture {
            clip,
            frames: Vec::new(),
            slot: None,
            asked: Instant::now(),
            tries: 0,
            rect: None,
            framed: Instant::now(),
            restore: (
                self.viewing.time,
                self.viewing.playback,
                training.shown,
                training.playing,
            ),
        });
        // The first frame's time and step are set before the next frame is drawn.
        self.viewing.playback = false;
        self.viewing.training.playing = false;
    }

    /// Before drawing: takes a screenshot that arrived, and sets the time of the next frame.
    pub(super) fn capture_before_frame(&mut self, ctx: &egui::Context) {
        let Some(capture) = &mut self.export.capture else {
            return;
        };
        let arrived = capture.slot.as_ref().and_then(|s| s.lock().ok()?.take());
        if let Some(image) = arrived {
            capture.slot = None;
            capture.tries = 0;
            let frame = capture
                .rect
                .ok_or_else(|| "the canvas is not on screen".to_string())
                .and_then(|rect| export::crop(&image, rect, ctx.pixels_per_point()));
            match frame {
                Ok(f) => capture.frames.push(f),
                Err(e) => {
                    self.finish_capture(false);
                    self.hand_over(Err(e));
                    return;
                }
            }
        }
        let Some(capture) = &mut self.export.capture else {
            return;
        };
        if capture.slot.is_none() {
            if capture.frames.len() == capture.wanted() {
                self.finish_capture(true);
            } else {
                self.viewing.playback = false;
                self.viewing.time = capture.time(self.viewing.time);
                if let Some(step) = capture.step()
                    && self.viewing.training.shown != Some(step)
                {
                    capture.framed = Instant::now();
                    self.viewing.training.shown = Some(step);
                }
            }
        }
    }

    /// After drawing: asks for a screenshot of the frame just drawn, when one is due.
    pub(super) fn capture_after_frame(&mut self, ctx: &egui::Context, canvases: Option<egui::Rect>) {
        let drawn = self.frame_drawn();
        let Some(capture) = &mut self.export.capture else {
            return;
        };
        // A screenshot is read back from the GPU, and in the browser that read completes only
        // when a later frame submits its work: a window idle (a finished run, say) never
        // delivered it. So frames keep coming while one is on its way.
        ctx.request_repaint();
        let slot = match &capture.slot {
            Some(_) if capture.asked.elapsed() < SCREENSHOT_PATIENCE => return,
            Some(_) if capture.tries >= SCREENSHOT_TRIES => {
                self.finish_capture(false);
                self.hand_over(Err(format!(
                    "the window returned no screenshot in {SCREENSHOT_TRIES} tries of {} s",
                    SCREENSHOT_PATIENCE.as_secs()
                )));
                return;
            }
            // Asked again into the same slot: a late answer to an earlier request counts too.
            Some(slot) => slot.clone(),
            None if !drawn => {
                if capture.framed.elapsed() > VIEW_PATIENCE {
                    self.finish_capture(false);
                    self.hand_over(Err(format!(
                        "the runs drew no view of the kept step in {} s",
                        VIEW_PATIENCE.as_secs()
                    )));
                }
                return;
            }
            None => {
                capture.rect = canvases;
                capture.slot.insert(Arc::default()).clone()
            }
        };
        capture.tries += 1;
        capture.asked = Instant::now();
        let waker = ctx.clone();
        ctx.request_screenshot(move |image| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(image);
            }
            waker.request_repaint();
        });
    }

    /// Whether the frame being captured is drawn as it should be: the training GIF's frame once
    /// every run's view of its step has arrived.
    fn frame_drawn(&self) -> bool {
        let step = self.export.capture.as_ref().and_then(Capture::step);
        step.is_none_or(|step| runs_show(&self.runs, step))
    }

    fn finish_capture(&mut self, deliver: bool) {
        let Some(capture) = self.export.capture.take() else {
            return;
        };
        let training = &mut self.viewing.training;
        (
            self.viewing.time,
            self.viewing.playback,
            training.shown,
            training.playing,
        ) = capture.restore;
        if !deliver {
            return;
        }
        let stem = self.runs.first().map_or("mixflow".into(), export::run_stem);
        let gif = match capture.clip {
            Clip::Canvas => None,
            Clip::Time => Some("playback"),
            Clip::Training(_) => Some("training"),
        };
        let file = if let Some(kind) = gif {
            let frames = capture.frames.into_iter().map(shrink).collect();
            export::gif(frames, GIF_DELAY_MS).map(|bytes| Export {
                name: format!("{stem}-{kind}.gif"),
                bytes,
            })
        } else {
            let first = capture.frames.into_iter().next();
            first.ok_or_else(|| "no frame was captured".to_string()).and_then(|f| {
                Ok(Export {
                    name: format!("{stem}-canvas.png"),
                    bytes: export::png(&f)?,
                })
            })
        };
        self.hand_over(file);
    }

    /// Delivers an export (or says why there is none) and notes what happened.
    fn hand_over(&mut self, file: Result<Export, String>) {
        let outcome = file.and_then(|f| export::deliver(&f, std::path::Path::new(&self.export.folder)));
        self.notes
            .push(outcome.unwrap_or_else(|e| format!("not exported: {e}")));
    }
}

/// A frame no wider than the GIF keeps (GIFs are large; the play-back reads well at this size).
fn shrink(frame: image::RgbaImage) -> image::RgbaImage {
    let (w, h) = frame.dimensions();
    if w <= GIF_MAX_WIDTH {
        return frame;
    }
    let height = (h as u64 * GIF_MAX_WIDTH as u64 / w as u64).max(1) as u32;
    image::imageops::resize(&frame, GIF_MAX_WIDTH, height, image::imageops::FilterType::Triangle)
}

/// A file made from the run's newest view.
fn view_file(
    run: &mixflow_live::Run,
    suffix: &str,
    format: fn(&mixflow_live::View) -> Result<Vec<u8>, String>,
) -> Result<Export, String> {
    let view = run
        .view
        .as_ref()
        .ok_or_else(|| format!("{}: no view of the model yet", run.label()))?;
    Ok(Export {
        name: format!("{}-{suffix}", export::run_stem(run)),
        bytes: format(view)?,
    })
}

/// A file made from the run's settings and history.
fn run_file(
    run: &mixflow_live::Run,
    suffix: &str,
    format: impl Fn(&mixflow_live::Run) -> Result<Vec<u8>, String>,
) -> Result<Export, String> {
    Ok(Export {
        name: format!("{}-{suffix}", export::run_stem(run)),
        bytes: format(run)?,
    })
}
