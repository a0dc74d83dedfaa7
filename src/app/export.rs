//! Exports: what a run shows turned into files (samples and trajectories as CSV, metrics as JSON
//! and CSV, the configuration as TOML, the canvas as PNG, the play-back as an animated GIF), and
//! where they go: a folder on the desktop, a download in the browser. Checkpoints are written by
//! the run's worker, which owns the model (`Command::Save`).

use crate::config::TrainConfig;
use crate::data::{Points, write_points};
use eframe::egui;
use mixflow_live::Run;
use mixflow_live::View;
use serde::Serialize;

/// One file to hand to the user.
pub struct Export {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A file name from free text: letters, digits, `-`, `_` and `.`, the rest as `-`.
pub fn file_stem(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// The run's name in file names: dataset, legend and step.
pub fn run_stem(run: &Run) -> String {
    file_stem(&format!("{}-{}-step{}", run.config.dataset, run.label(), run.step))
}

/// The view's samples, one row per sample (columns x, y, or d0, d1, …, as `mixflow sample` writes them).
pub fn samples_csv(view: &View) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    write_points(&mut out, &view.model.samples).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The traced trajectories, one row per particle and time: particle, t, then the data's columns.
pub fn trajectories_csv(view: &View) -> Result<Vec<u8>, String> {
    let model = &view.model;
    let dim = model.trajectories.first().map_or(0, |p| p.dim);
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| format!("cannot write the trajectories: {e}");
    let header = ["particle".to_string(), "t".into()]
        .into_iter()
        .chain(crate::data::column_names(dim));
    w.write_record(header).map_err(err)?;
    let particles = model.trajectories.first().map_or(0, Points::len);
    for i in 0..particles {
        for (t, states) in model.times.iter().zip(&model.trajectories) {
            let row = [i.to_string(), t.to_string()]
                .into_iter()
                .chain(states.row(i).iter().map(f32::to_string));
            w.write_record(row).map_err(err)?;
        }
    }
    w.into_inner()
        .map_err(|e| format!("cannot write the trajectories: {e}"))
}

#[derive(Serialize)]
struct MetricsFile<'a> {
    run: &'a str,
    config: &'a TrainConfig,
    /// W2 between two independent true draws: the best any model can reach.
    w2_floor: Option<f64>,
    rows: Vec<MetricsRow>,
    w2_by_euler_steps: &'a [(usize, f64)],
    w2_by_descriptor: Vec<DescriptorRow<'a>>,
    /// The memorisation lab's newest numbers, when it is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    lab: Option<LabNumbers<'a>>,
}

/// What the memorisation lab measured at one step.
#[derive(Serialize)]
struct LabNumbers<'a> {
    step: usize,
    train_n: usize,
    /// [t, E‖v_θ − u*‖²] per time bin.
    gap_by_t: Option<&'a [[f64; 2]]>,
    memorised_exact: f64,
    memorised_learned: f64,
    memorised_hybrid: f64,
    tau: f32,
}

/// One training step: its losses, and W2, curvature and memorisation where the app measured them.
#[derive(Serialize)]
struct MetricsRow {
    step: usize,
    flow_loss: Option<f32>,
    base_loss: Option<f32>,
    kl: Option<f32>,
    w2: Option<f64>,
    curvature: Option<f64>,
    /// On a finite training set: the share of samples that copy a training point.
    memorised: Option<f64>,
}

#[derive(Serialize)]
struct DescriptorRow<'a> {
    descriptor: &'a [f32],
    split: &'a str,
    w2: f64,
}

fn metric_rows(run: &Run) -> Vec<MetricsRow> {
    run.losses_by_step()
        .map(|(step, l)| {
            let measured = run.metrics.iter().find(|m| m.step == step);
            MetricsRow {
                step,
                flow_loss: l.flow,
                base_loss: l.base,
                kl: l.kl,
                w2: measured.map(|m| m.w2),
                curvature: measured.map(|m| m.curvature),
                memorised: measured.and_then(|m| m.memorised),
            }
        })
        .collect()
}

/// Every number the run's charts show, with the config that produced them.
pub fn metrics_json(run: &Run) -> Result<Vec<u8>, String> {
    let file = MetricsFile {
        run: run.label(),
        config: &run.config,
        w2_floor: run.info.as_ref().map(|i| i.w2_floor),
        rows: metric_rows(run),
        w2_by_euler_steps: &run.nfe_curve,
        w2_by_descriptor: run
            .descriptor_curve
            .iter()
            .map(|(d, split, w2)| DescriptorRow {
                descriptor: d,
                split: split.name(),
                w2: *w2,
            })
            .collect(),
        lab: run.lab.as_deref().map(|lab| LabNumbers {
            step: lab.step,
            train_n: lab.train.len(),
            gap_by_t: lab.gap_by_t.as_deref(),
            memorised_exact: lab.exact_samples.fraction(),
            memorised_learned: lab.learned_samples.fraction(),
            memorised_hybrid: lab.hybrid_samples.fraction(),
            tau: lab.request.tau,
        }),
    };
    serde_json::to_vec_pretty(&file).map_err(|e| format!("cannot write the metrics: {e}"))
}

/// The per-step losses, W2 and curvature as a table (empty cells where not measured).
pub fn metrics_csv(run: &Run) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in metric_rows(run) {
        w.serialize(row).map_err(|e| format!("cannot write the metrics: {e}"))?;
    }
    w.into_inner().map_err(|e| format!("cannot write the metrics: {e}"))
}

/// The run's settings as a file `mixflow train --config` reads.
pub fn config_toml(config: &TrainConfig) -> Result<Vec<u8>, String> {
    toml::to_string(config)
        .map(String::into_bytes)
        .map_err(|e| format!("cannot write the configuration: {e}"))
}

/// The part of a window screenshot inside `rect` (in points), as RGBA.
pub fn crop(image: &egui::ColorImage, rect: egui::Rect, pixels_per_point: f32) -> Result<image::RgbaImage, String> {
    let [w, h] = image.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, y0, x1, y1) = (
        px(rect.min.x, w),
        px(rect.min.y, h),
        px(rect.max.x, w),
        px(rect.max.y, h),
    );
    if x1 <= x0 || y1 <= y0 {
        return Err("the canvas is not on screen".into());
    }
    let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
    for (y, row) in (y0..y1).enumerate() {
        for (x, col) in (x0..x1).enumerate() {
            out.put_pixel(x as u32, y as u32, image::Rgba(image.pixels[row * w + col].to_array()));
        }
    }
    Ok(out)
}

pub fn png(image: &image::RgbaImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok(out.into_inner())
}

/// An animated GIF of `frames`, `delay_ms` apart, looping forever.
pub fn gif(frames: Vec<image::RgbaImage>, delay_ms: u32) -> Result<Vec<u8>, String> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let err = |e: image::ImageError| format!("cannot encode the GIF: {e}");
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(err)?;
        let delay = image::Delay::from_numer_denom_ms(delay_ms, 1);
        for frame in frames {
            encoder
                .encode_frame(image::Frame::from_parts(frame, 0, 0, delay))
                .map_err(err)?;
        }
    }
    Ok(out)
}

/// Hands a file to the user: written into `folder` on the desktop, downloaded in the browser.
/// Returns what happened, for the app's notes; a folder that cannot be written is an error and
/// loses nothing (the run and its views are untouched).
pub fn deliver(export: &Export, folder: &std::path::Path) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = folder;
        crate::web::download(&export.name, &export.bytes)?;
        Ok(format!("downloaded {}", export.name))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let path = folder.join(&export.name);
        std::fs::create_dir_all(folder).map_err(|e| format!("{}: cannot create the folder: {e}", folder.display()))?;
        std::fs::write(&path, &export.bytes).map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        Ok(format!("saved {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_keep_only_safe_characters() {
        assert_eq!(
            file_stem("csv:/tmp/a b.csv-MixFlow-OOD, K = 8"),
            "csv-tmp-a-b.csv-MixFlow-OOD-K-8"
        );
    }

    #[test]
    fn a_gif_holds_every_frame() {
        use image::AnimationDecoder;
        let frames: Vec<_> = (0..4u8)
            .map(|i| image::RgbaImage::from_pixel(6, 4, image::Rgba([i * 60, 0, 255 - i * 60, 255])))
            .collect();
        let bytes = gif(frames, 80).unwrap();
        let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        let back = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back[3].buffer().dimensions(), (6, 4));
        assert_eq!(back[0].delay().numer_denom_ms(), (80, 1));
    }

    #[test]
    fn the_configuration_round_trips_through_toml() {
        let config = TrainConfig {
            dataset: "rotating-moons".into(),
            method: crate::method::Method::MixflowOod,
            grad_clip: Some(1.0),
            lr: 3e-4,
            ..TrainConfig::default()
        };
        let dir = std::env::temp_dir().join(format!("mixflow-toml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, config_toml(&config).unwrap()).unwrap();
        assert_eq!(TrainConfig::from_toml(&path).unwrap(), config);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_crop_outside_the_window_is_refused() {
        let image = egui::ColorImage::new([10, 10], vec![egui::Color32::RED; 100]);
        let inside = crop(
            &image,
            egui::Rect::from_min_max(egui::pos2(1.0, 2.0), egui::pos2(4.0, 4.0)),
            2.0,
        )
        .unwrap();
        assert_eq!(inside.dimensions(), (6, 4));
        let e = crop(
            &image,
            egui::Rect::from_min_max(egui::pos2(20.0, 20.0), egui::pos2(30.0, 30.0)),
            1.0,
        );
        assert_eq!(e.err().unwrap(), "the canvas is not on screen");
    }
}
