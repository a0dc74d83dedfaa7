//! Pictures of each main view, rendered by the real app on lavapipe (WGSL layers included) and
//! compared with the images committed under `tests/snapshots/`. Runs are stepped to a fixed step
//! while paused, so every picture is the same from run to run. `UPDATE_SNAPSHOTS=1 cargo test
//! --test snapshots` rewrites them after an intended change; a mismatch leaves NAME.new.png
//! beside the committed image.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mixflow::app::{Launch, MixflowApp};
use mixflow::method::Method;
use std::time::Duration;

mod ui;

const STEPS: usize = 5;

/// Opens the app on `launch`, steps every run to [`STEPS`], waits for their views, and compares
/// the window with `tests/snapshots/{name}.png`.
fn snapshot(name: &str, launch: Launch, titles: &[&str]) {
    snapshot_at(name, launch, titles, [1280.0, 800.0]);
}

/// [`snapshot`] in a window of `size` points.
fn snapshot_at(name: &str, launch: Launch, titles: &[&str], size: [f32; 2]) {
    let mut h = Harness::builder()
        .wgpu()
        .with_size(eframe::egui::vec2(size[0], size[1]))
        .build_eframe(move |cc| MixflowApp::new(cc, launch));
    // Every run shows its view of each step before the next: then the charts hold the same
    // measurements whatever the timing.
    for step in 0..=STEPS {
        if step > 0 {
            h.get_by_label("Step").click();
        }
        for title in titles {
            ui::wait_for_label(&mut h, &format!("{title} · step {step}"), true);
        }
    }
    // Let the last view's metrics and charts arrive, then draw two settled frames.
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(3);
    // `run` settles the frame and checks that every widget has an accessible name.
    h.run();
    let image = h.render().expect("the wgpu test renderer draws the window");
    compare_with_committed(name, &image);
}

/// Pixels whose channels differ by more than this count as changed.
const CHANNEL_TOLERANCE: u8 = 24;
/// Burn's CPU kernels may sum in another order on another machine, moving a few anti-aliased
/// points by a fraction of a pixel: allow that many changed pixels, and nothing more.
const MAX_CHANGED_PIXELS: usize = 400;

fn compare_with_committed(name: &str, image: &image::RgbaImage) {
    let dir = std::path::Path::new("tests/snapshots");
    let path = dir.join(format!("{name}.png"));
    let new_path = dir.join(format!("{name}.new.png"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        image.save(&path).unwrap();
        return;
    }
    let Ok(committed) = image::open(&path).map(|i| i.to_rgba8()) else {
        image.save(&new_path).unwrap();
        panic!(
            "{} is missing: run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        );
    };
    let changed = if committed.dimensions() == image.dimensions() {
        committed
            .pixels()
            .zip(image.pixels())
            .filter(|(a, b)| a.0.iter().zip(b.0).any(|(x, y)| x.abs_diff(y) > CHANNEL_TOLERANCE))
            .count()
    } else {
        usize::MAX
    };
    if changed > MAX_CHANGED_PIXELS {
        image.save(&new_path).unwrap();
        panic!(
            "{name}: {changed} pixels differ from {} (at most {MAX_CHANGED_PIXELS} may); the new picture is {}",
            path.display(),
            new_path.display()
        );
    }
}

#[test]
fn mixture_base_on_rotating_moons() {
    snapshot(
        "mixflow-ood-rotating-moons",
        ui::paused("rotating-moons", Method::MixflowOod),
        &["mixflow-ood"],
    );
}

#[test]
fn comparison_of_four_methods() {
    let methods = vec![Method::Rf, Method::MixflowRf, Method::MixflowOod, Method::OtCfm];
    let titles: Vec<&str> = methods.iter().map(|m| m.name()).collect();
    let compare = Launch {
        compare: Some(methods.clone()),
        ..ui::paused("8gaussians", Method::Rf)
    };
    snapshot("compare-8gaussians", compare, &titles);
}

/// The layout at the common screen sizes, normal and in presenter mode: a comparison of four
/// runs on conditional data (descriptor panel open), the fullest screen there is.
#[test]
fn the_layout_holds_at_three_screen_sizes_normal_and_presenting() {
    let methods = vec![Method::Rf, Method::MixflowRf, Method::MixflowOod, Method::OtCfm];
    let titles: Vec<&str> = methods.iter().map(|m| m.name()).collect();
    for (w, h) in [(1280.0, 720.0), (1400.0, 900.0), (1920.0, 1080.0)] {
        for presenter in [false, true] {
            let launch = Launch {
                compare: Some(methods.clone()),
                presenter,
                ..ui::paused("rotating-moons", Method::Rf)
            };
            let mode = if presenter { "-presenter" } else { "" };
            snapshot_at(&format!("layout-{w}x{h}{mode}"), launch, &titles, [w, h]);
        }
    }
}

#[test]
fn low_dimensional_data_in_its_pca_plane() {
    snapshot("lowdim-pca", ui::paused("lowdim-perturbation", Method::Rf), &["rf"]);
}

#[test]
fn mixflow_rf_source_and_encoder() {
    snapshot(
        "mixflow-rf-moons",
        ui::paused("moons", Method::MixflowRf),
        &["mixflow-rf"],
    );
}

/// The Export menu's captures on the real renderer: the canvas as a PNG of the canvas's size,
/// and the play-back as a GIF whose frames move the particles from base (t = 0) to data (t = 1).
#[test]
fn the_canvas_exports_as_png_and_the_play_back_as_gif() {
    use image::AnimationDecoder;
    let dir = std::env::temp_dir().join(format!("mixflow-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let launch = Launch {
        exports: Some(dir.clone()),
        ..ui::paused("moons", Method::Rf)
    };
    let mut h = Harness::builder()
        .wgpu()
        .with_size(eframe::egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| MixflowApp::new(cc, launch));
    ui::wait_for_label(&mut h, "rf · step 0", true);
    for item in ["Canvas as PNG", "Play-back as GIF"] {
        h.get_by_label("Export").click();
        h.run_steps(2);
        h.get_by_label(item).click();
        let suffix = if item.ends_with("PNG") {
            "canvas.png"
        } else {
            "playback.gif"
        };
        ui::wait_for_label(
            &mut h,
            &format!("saved {}", dir.join(format!("moons-rf-step0-{suffix}")).display()),
            false,
        );
    }
    let png = image::open(dir.join("moons-rf-step0-canvas.png")).unwrap();
    let (w, h_px) = (png.width(), png.height());
    assert!(
        w > 600 && h_px > 300 && w < 1280 && h_px < 800,
        "the canvas alone, not the window: {w}×{h_px}"
    );
    let file = std::fs::File::open(dir.join("moons-rf-step0-playback.gif")).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 24);
    let (first, last) = (frames[0].buffer(), frames[23].buffer());
    let differ = first.pixels().zip(last.pixels()).filter(|(a, b)| a != b).count();
    assert!(differ > 500, "t = 0 and t = 1 look different ({differ} pixels)");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The training play-back as a GIF: one frame per kept step, each drawn once every run shows
/// that step's weights, and the newest frame unlike the first.
#[test]
fn the_training_play_back_exports_as_a_gif_of_the_kept_steps() {
    use image::AnimationDecoder;
    let dir = std::env::temp_dir().join(format!("mixflow-training-gif-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut settings = mixflow::app::settings::Settings::default();
    settings.config.dataset = "moons".into();
    settings.config.method = Method::Rf;
    settings.config.history_every = Some(2);
    settings.config.lr = 0.05;
    let state = mixflow::app::share::SharedState {
        settings,
        descriptor: Vec::new(),
        time: 1.0,
        training_step: None,
        camera: None,
    };
    let launch = Launch {
        state: Some(state.to_fragment()),
        exports: Some(dir.clone()),
        fresh: true,
        paused: true,
        ..Launch::default()
    };
    let mut h = Harness::builder()
        .wgpu()
        .with_size(eframe::egui::vec2(1280.0, 800.0))
        .build_eframe(move |cc| MixflowApp::new(cc, launch));
    ui::wait_for_label(&mut h, "rf · step 0", true);
    // Nothing to play back yet: a state is kept as training goes on from its step.
    h.get_by_label("Export").click();
    h.run_steps(2);
    h.get_by_label("Training as GIF").click();
    ui::wait_for_label(
        &mut h,
        "not exported: the runs kept 0 states of their training so far",
        false,
    );
    // Steps 0, 2, 4, 6 and 8 are kept by step 9.
    for step in 1..=9 {
        h.get_by_label("Step").click();
        ui::wait_for_label(&mut h, &format!("rf · step {step}"), true);
    }
    h.get_by_label("Export").click();
    h.run_steps(2);
    h.get_by_label("Training as GIF").click();
    let path = dir.join("moons-rf-step9-training.gif");
    ui::wait_for_label(&mut h, &format!("saved {}", path.display()), false);
    // The canvas shows the newest model again afterwards.
    ui::wait_for_label(&mut h, "rf · step 9", true);
    let frames = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 5, "steps 0, 2, 4, 6, 8");
    let (first, last) = (frames[0].buffer(), frames[4].buffer());
    let differ = first.pixels().zip(last.pixels()).filter(|(a, b)| a != b).count();
    assert!(differ > 500, "step 0 and step 8 look different ({differ} pixels)");
    std::fs::remove_dir_all(&dir).unwrap();
}
