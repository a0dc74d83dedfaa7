//! The real app in egui_kittest: clicks through the run, dataset, method and view controls,
//! steps training and reads what the window shows. No GPU needed: the canvases' paint callbacks
//! are simply not executed without a renderer.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use mixflow::app::{Launch, MixflowApp};

mod ui;

fn app(launch: Launch) -> Harness<'static, MixflowApp> {
    Harness::builder()
        .with_size(eframe::egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| MixflowApp::new(cc, launch))
}

/// The app opened paused on a link to `settings` at scrubbed time `time`.
fn app_at_link(settings: mixflow::app::settings::Settings, time: f32) -> Harness<'static, MixflowApp> {
    let state = mixflow::app::share::SharedState {
        settings,
        descriptor: Vec::new(),
        time,
        training_step: None,
        camera: None,
    };
    app(Launch {
        state: Some(state.to_fragment()),
        fresh: true,
        paused: true,
        ..Launch::default()
    })
}

/// Runs frames until a label containing `text` is shown.
fn wait_for_label(harness: &mut Harness<'_, MixflowApp>, text: &str) {
    ui::wait_for_label(harness, text, false);
}

#[test]
fn stepping_playing_and_pausing_show_in_the_window() {
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "step 0 / 4000");
    wait_for_label(&mut h, "rf · step 0");
    assert!(h.query_by_label("Play").is_some(), "a paused app offers Play");
    for n in 1..=3 {
        h.get_by_label("Step").click();
        wait_for_label(&mut h, &format!("step {n} / 4000"));
    }
    // The canvas title follows the newest view of the model.
    wait_for_label(&mut h, "rf · step 3");
    h.get_by_label("Play").click();
    wait_for_label(&mut h, "steps/s");
    wait_for_label(&mut h, "Pause");
    h.get_by_label("Pause").click();
    wait_for_label(&mut h, "paused");
    // Reset goes back to step 0 with the same seeds.
    h.get_by_label("Reset").click();
    wait_for_label(&mut h, "step 0 / 4000");
}

#[test]
fn switching_dataset_and_method_restarts_the_run() {
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Method").click();
    h.run_steps(2);
    h.get_by_label("ot-cfm").click();
    wait_for_label(&mut h, "ot-cfm · step 0");
    h.get_by_label("Dataset").click();
    h.run_steps(2);
    // The list is longer than its popup: pick by accessibility action rather than by position.
    h.get_by_label("rotating-moons").click_accesskit();
    wait_for_label(&mut h, "rotating-moons · 2D");
    // A conditional family opens the descriptor explorer at a training descriptor.
    wait_for_label(&mut h, "Descriptor");
    wait_for_label(&mut h, "(train)");
    assert!(h.query_by_label("Measure W2 per descriptor").is_some());
    // Jumping to an extrapolation descriptor re-samples the model there.
    h.get_by_label("Go to").click();
    h.run_steps(2);
    h.query_all_by_label_contains(" · extrapolation")
        .next()
        .expect("the list names each descriptor's split")
        .click_accesskit();
    wait_for_label(&mut h, "(extrapolation)");
    // A reset trains again from step 0 and stays at the descriptor explored.
    h.get_by_label("Reset").click();
    h.run_steps(2);
    wait_for_label(&mut h, "rotating-moons · 2D");
    wait_for_label(&mut h, "(extrapolation)");
    assert!(h.query_by_label_contains("(train)").is_none());
    // `run` settles the frame and checks that every widget has an accessible name.
    h.run();
}

#[test]
fn the_comparison_view_trains_one_run_per_method() {
    let launch = Launch {
        compare: Some(vec![mixflow::method::Method::Rf, mixflow::method::Method::MixflowRf]),
        ..ui::paused("moons", mixflow::method::Method::Rf)
    };
    let mut h = app(launch);
    wait_for_label(&mut h, "rf · step 0");
    wait_for_label(&mut h, "mixflow-rf · step 0");
    wait_for_label(&mut h, "comparison of 2 runs on moons · step 0 / 4000");
    h.get_by_label("Step").click();
    wait_for_label(&mut h, "rf · step 1");
    wait_for_label(&mut h, "mixflow-rf · step 1");
    // Playing, the runs keep in step: RF alone trains several times faster than MixFlow-RF.
    h.get_by_label("Play").click();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        h.run_steps(1);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.get_by_label("Pause").click();
    wait_for_label(&mut h, "paused");
    // The canvas titles follow each run's newest view, which a loaded machine (other tests
    // training beside this one) may take seconds to draw after the pause.
    let shown = |h: &mut Harness<'_, MixflowApp>| -> Vec<usize> {
        ["rf · step ", "mixflow-rf · step "]
            .iter()
            .map(|prefix| {
                let label = h
                    .query_all_by_label_contains(prefix)
                    .filter_map(|n| n.accesskit_node().value().map(|v| v.to_string()))
                    .find(|l| l.starts_with(prefix))
                    .unwrap();
                label[prefix.len()..].split(' ').next().unwrap().parse().unwrap()
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut steps = shown(&mut h);
    while std::time::Instant::now() < deadline && (steps[1] <= 10 || steps[0].abs_diff(steps[1]) > 20) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        h.run_steps(1);
        steps = shown(&mut h);
    }
    assert!(steps[1] > 10, "the comparison trained: {steps:?}");
    assert!(steps[0].abs_diff(steps[1]) <= 20, "the same step on screen: {steps:?}");
    // Leaving the comparison keeps one run.
    h.get_by_label("Compare").click();
    h.run_steps(3);
    wait_for_label(&mut h, "rf · step 0");
    assert!(h.query_all_by_label_contains("mixflow-rf · step").next().is_none());
}

#[test]
fn divergence_pauses_with_a_message_and_a_one_click_reset() {
    let launch = Launch {
        lr: Some(1e5),
        paused: false,
        ..ui::paused("moons", mixflow::method::Method::Rf)
    };
    let mut h = app(launch);
    wait_for_label(&mut h, "training diverged");
    h.run_steps(3);
    assert!(h.query_by_label("Play").is_some(), "a diverged run is paused");
    h.get_by_label("Reset with learning rate ÷ 10").click();
    h.run_steps(2);
    // The message is gone and the run starts over at the lower rate.
    wait_for_label(&mut h, "step 0 / 4000");
    assert!(h.query_all_by_label_contains("training diverged").next().is_none());
}

#[test]
fn a_gpu_without_a_device_falls_back_to_the_cpu_and_a_tiny_window_survives() {
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "backend: cpu");
    h.get_by_label("Backend").click();
    h.run_steps(2);
    h.get_by_label("gpu").click();
    wait_for_label(&mut h, "training on the CPU instead");
    h.set_size(eframe::egui::vec2(40.0, 30.0));
    h.run_steps(5);
    h.set_size(eframe::egui::vec2(900.0, 700.0));
    wait_for_label(&mut h, "step 0 / 4000");
}

#[test]
fn a_shared_link_reopens_its_run_and_a_bad_one_opens_the_defaults() {
    use mixflow::method::Method;
    let mut settings = mixflow::app::settings::Settings::default();
    settings.config.dataset = "8gaussians".into();
    settings.config.method = Method::OtCfm;
    settings.config.steps = 321;
    settings.comparing = false;
    let mut h = app_at_link(settings, 0.5);
    wait_for_label(&mut h, "ot-cfm · step 0");
    wait_for_label(&mut h, "step 0 / 321");
    wait_for_label(&mut h, "8gaussians · 2D");
    assert!(h.query_by_label("Copy link").is_some());

    for (fragment, message) in [
        ("v1=%%%", "the link's state is damaged"),
        ("v0=AAAA", "another version of MixFlow Explorer"),
    ] {
        let mut h = app(Launch {
            state: Some(fragment.into()),
            fresh: true,
            paused: true,
            ..Launch::default()
        });
        wait_for_label(&mut h, message);
        wait_for_label(&mut h, "opened the defaults instead");
        // The defaults: MixFlow-OOD on rotating moons.
        wait_for_label(&mut h, "mixflow-ood · step 0");
    }
}

#[test]
fn every_guided_demo_opens_and_steps_through_its_captions() {
    use mixflow::app::demo::DEMOS;
    for demo in DEMOS {
        let mut h = app(Launch {
            demo: Some(demo.name.into()),
            fresh: true,
            paused: true,
            ..Launch::default()
        });
        wait_for_label(&mut h, &format!("Demo: {}", demo.title));
        // Every run of the demo gets a canvas titled with its legend, opened from its cached
        // start (1,000 steps in).
        for (label, _) in demo.runs(mixflow::backend::BackendKind::Cpu) {
            wait_for_label(&mut h, &format!("{label} · step 1000"));
        }
        for (i, step) in demo.steps.iter().enumerate() {
            ui::wait_for_label(&mut h, step.caption, true);
            wait_for_label(&mut h, &format!("caption {} of {}", i + 1, demo.steps.len()));
            if i + 1 < demo.steps.len() {
                h.get_by_label("Next").click();
            }
        }
        h.get_by_label("Back").click();
        ui::wait_for_label(&mut h, demo.steps[demo.steps.len() - 2].caption, true);
        h.run();
    }
}

#[test]
fn a_demo_link_opens_its_caption_in_presenter_mode_and_leaving_restores_the_settings_panel() {
    let mut h = app(Launch {
        state: Some("demo=out-of-distribution&step=3&presenter".into()),
        fresh: true,
        paused: true,
        ..Launch::default()
    });
    let demo = mixflow::app::demo::Demo::find("out-of-distribution").unwrap();
    ui::wait_for_label(&mut h, demo.steps[2].caption, true);
    // The caption moved the descriptor explorer to an extrapolation radius.
    wait_for_label(&mut h, "(extrapolation)");
    assert!(
        h.query_by_label("Run").is_none(),
        "presenter mode hides the settings panel"
    );
    h.get_by_label("Presenter").click();
    wait_for_label(&mut h, "The demo sets up its runs");
    h.get_by_label("Leave demo").click();
    h.run_steps(3);
    assert!(h.query_by_label("Leave demo").is_none());
    wait_for_label(&mut h, "mixflow-ood · step 0");
}

#[test]
fn the_step_by_step_view_shows_the_minibatch_that_training_then_reports() {
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Step-by-step").click();
    wait_for_label(&mut h, "rf · minibatch of step 1");
    let shown = h
        .query_all_by_label_contains("loss = mean over pairs")
        .next()
        .unwrap()
        .accesskit_node()
        .value()
        .unwrap();
    let shown: f32 = shown.rsplit("= ").next().unwrap().parse().unwrap();
    assert!(h.query_by_label("u (target)").is_some(), "the table lists the pairs");
    h.get_by_label("Train this step").click();
    wait_for_label(&mut h, "rf · minibatch of step 2");
    // The engine's reported loss for step 1 is the loss the view showed for its minibatch.
    wait_for_label(
        &mut h,
        &format!("step 1: shown loss {shown:.5}, training reported {shown:.5}"),
    );
    wait_for_label(&mut h, "step 1 / 4000");
    h.run();
}

#[test]
fn the_export_menu_writes_files_and_a_folder_that_cannot_be_written_says_why() {
    let dir = std::env::temp_dir().join(format!("mixflow-app-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut h = app(Launch {
        exports: Some(dir.clone()),
        ..ui::paused("moons", mixflow::method::Method::Rf)
    });
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Step").click();
    wait_for_label(&mut h, "rf · step 1");
    for item in [
        "Samples as CSV",
        "Trajectories as CSV",
        "Metrics as JSON",
        "Metrics as CSV",
        "Configuration as TOML",
    ] {
        h.get_by_label("Export").click();
        h.run_steps(2);
        h.get_by_label(item).click();
        h.run_steps(2);
    }
    wait_for_label(&mut h, "saved ");
    let stem = dir.join("moons-rf-step1");
    let read = |suffix: &str| std::fs::read_to_string(format!("{}-{suffix}", stem.display())).unwrap();
    let samples = mixflow::data::read_csv(&dir.join("moons-rf-step1-samples.csv"), &Default::default())
        .unwrap()
        .data;
    assert_eq!((samples.len(), samples.dim), (2000, 2), "the view's 2,000 particles");
    assert!(read("trajectories.csv").starts_with("particle,t,x,y\n0,0,"));
    assert!(read("metrics.csv").starts_with("step,flow_loss,base_loss,kl,w2,curvature,memorised\n1,"));
    let metrics: serde_json::Value = serde_json::from_str(&read("metrics.json")).unwrap();
    assert_eq!(metrics["rows"][0]["step"], 1);
    let config = mixflow::config::TrainConfig::from_toml(&dir.join("moons-rf-step1-config.toml")).unwrap();
    assert_eq!(
        (config.dataset.as_str(), config.method),
        ("moons", mixflow::method::Method::Rf)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let mut h = app(Launch {
        exports: Some("/proc/forbidden".into()),
        ..ui::paused("moons", mixflow::method::Method::Rf)
    });
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Export").click();
    h.run_steps(2);
    h.get_by_label("Configuration as TOML").click();
    wait_for_label(&mut h, "not exported: /proc/forbidden: cannot create the folder");
    // Nothing is lost: the run is still there and still trains.
    h.get_by_label("Step").click();
    wait_for_label(&mut h, "rf · step 1");
}

/// A file dropped on the window, as the desktop integration hands it over.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl eframe::egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(h: &mut Harness<'static, MixflowApp>, path: &std::path::Path) {
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path.to_path_buf())));
    h.run_steps(2);
}

#[test]
fn a_dropped_csv_is_previewed_and_trained_on_and_bad_files_name_row_and_column() {
    let dir = std::env::temp_dir().join(format!("mixflow-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("two-classes.csv");
    let mut text = String::from("x,y,class\n");
    for i in 0..200 {
        let (c, a) = (i % 2, i as f32 * 0.1);
        text.push_str(&format!("{},{},{c}\n", a.cos() + 3.0 * c as f32, a.sin()));
    }
    std::fs::write(&good, text).unwrap();
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    drop_file(&mut h, &good);
    wait_for_label(&mut h, "Import CSV");
    // The preview guessed `class` as the descriptor.
    wait_for_label(&mut h, "2 data column(s), 1 descriptor column(s)");
    h.get_by_label("Train on this file").click();
    wait_for_label(&mut h, &format!("csv:{} · 2D", good.display()));
    // Two classes: the descriptor explorer lists them.
    wait_for_label(&mut h, "Descriptor");

    let cases = [
        (
            "bad.csv",
            "x,y\n1,2\n3,oops\n",
            "row 3, column `y`: `oops` is not a number",
        ),
        ("empty.csv", "", "the file is empty (no header row)"),
        ("header-only.csv", "x,y\n", "no data rows after the header"),
    ];
    for (name, text, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        drop_file(&mut h, &path);
        if h.query_by_label("Train on this file").is_some() {
            h.get_by_label("Train on this file").click();
        }
        wait_for_label(&mut h, &format!("{}: {expected}", path.display()));
        // The run on the good file goes on.
        assert!(
            h.query_all_by_label_contains(&format!("csv:{} · 2D", good.display()))
                .next()
                .is_some(),
            "{name}: the current run is kept"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn points_drawn_on_the_canvas_train_once_there_are_enough() {
    use eframe::egui::{Event, PointerButton, Pos2, vec2};
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Draw data").click();
    wait_for_label(&mut h, "0 points");
    h.get_by_label("Train on the drawing").click();
    wait_for_label(&mut h, "draw at least 50 points to train on (the drawing has 0)");
    let centre = h
        .get_all_by_role(eframe::egui::accesskit::Role::Canvas)
        .next()
        .unwrap()
        .rect()
        .center();
    let at = |dx: f32| centre + vec2(dx, 0.0);
    let press = |pos: Pos2, pressed: bool| Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    };
    h.input_mut().events.push(Event::PointerMoved(at(-60.0)));
    h.input_mut().events.push(press(at(-60.0), true));
    for i in 0..30 {
        h.input_mut()
            .events
            .push(Event::PointerMoved(at(-60.0 + 4.0 * i as f32)));
        h.run_steps(1);
    }
    h.input_mut().events.push(press(at(60.0), false));
    h.run_steps(2);
    let sprayed = h
        .query_all_by_label_contains(" points")
        .filter_map(|n| {
            n.accesskit_node()
                .value()?
                .strip_suffix(" points")?
                .parse::<usize>()
                .ok()
        })
        .next()
        .expect("the drawing counts its points");
    assert!(
        sprayed >= 100,
        "a 30-frame stroke sprays 4 points a frame, got {sprayed}"
    );
    h.get_by_label("Train on the drawing").click();
    wait_for_label(&mut h, "csv:drawing.csv · 2D");
}

#[test]
fn clicking_the_descriptor_pad_or_track_between_listed_descriptors_keeps_training() {
    // The middle of the pad (rotating-moons: cos θ, sin θ inside the circle of listed angles)
    // or of the track (ring-radius: 2.5, between the listed 2.4 and 2.6) is no listed
    // descriptor; training and views go on there.
    for (dataset, control) in [
        ("rotating-moons", "descriptor pad"),
        ("ring-radius", "descriptor track"),
    ] {
        let mut h = app(ui::paused(dataset, mixflow::method::Method::MixflowRf));
        wait_for_label(&mut h, "mixflow-rf · step 0");
        h.get_by_label(control).click();
        wait_for_label(&mut h, "between listed descriptors");
        for n in 1..=3 {
            h.get_by_label("Step").click();
            wait_for_label(&mut h, &format!("mixflow-rf · step {n}"));
        }
        assert!(
            h.query_all_by_label_contains("stopped unexpectedly").next().is_none(),
            "{dataset}: the worker is alive"
        );
    }
}

/// The memorised share (in %) a lab label gives for `sampler`, once the lab shows it.
fn memorised(h: &mut Harness<'_, MixflowApp>, sampler: &str) -> f64 {
    let prefix = format!("{sampler}: ");
    wait_for_label(h, &prefix);
    let text = h
        .query_all_by_label_contains(&prefix)
        .find_map(|n| n.accesskit_node().value())
        .unwrap();
    text.trim_start_matches(&prefix)
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_memorisation_lab_fixes_a_training_set_and_its_controls_restart_and_resample() {
    use eframe::egui::accesskit::Role;
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    // Opening the lab fixes a training set (64 points) and restarts the run on it.
    h.get_by_label("Lab").click();
    wait_for_label(&mut h, "64 training points");
    // The exact field reproduces its training points; the untrained network copies few of them.
    let (exact, learned) = (
        memorised(&mut h, "exact field u*"),
        memorised(&mut h, "learned field v_θ"),
    );
    assert!(exact > 95.0 && learned < 50.0, "exact {exact}%, learned {learned}%");
    // τ = 0 switches to the exact field at once: the hybrid memorises as the exact field does.
    h.get_by_role_and_label(Role::Slider, "τ (hybrid: learned, then exact)")
        .set_value_accesskit(0.0);
    wait_for_label(&mut h, &format!("hybrid: {exact:.1}% memorised"));
    // A new size restarts the run on a set of that size.
    h.get_by_role_and_label(Role::Slider, "training points")
        .set_value_accesskit(16.0);
    wait_for_label(&mut h, "step 0 · 16 training points");
    for n in 1..=2 {
        h.get_by_label("Step").click();
        wait_for_label(&mut h, &format!("step {n} · 16 training points"));
    }
}

#[test]
fn the_training_scrubber_redraws_every_run_of_a_comparison_at_a_kept_step() {
    use eframe::egui::accesskit::Role;
    use mixflow::method::Method;
    let mut settings = mixflow::app::settings::Settings::default();
    settings.config.dataset = "moons".into();
    settings.config.history_every = Some(2);
    settings.compare = vec![Method::Rf, Method::MixflowRf];
    settings.comparing = true;
    let mut h = app_at_link(settings, 1.0);
    for n in 0..=6 {
        if n > 0 {
            h.get_by_label("Step").click();
        }
        for run in ["rf", "mixflow-rf"] {
            ui::wait_for_label(&mut h, &format!("{run} · step {n}"), true);
        }
    }
    // Every other step is kept (0, 2, 4; step 6 once training goes on from it): step 3 shows
    // each run as it was at step 2, and the metrics table says so.
    h.get_by_role_and_label(Role::Slider, "training step")
        .set_value_accesskit(3.0);
    for run in ["rf", "mixflow-rf"] {
        ui::wait_for_label(&mut h, &format!("{run} · step 2 of 6 (history)"), true);
    }
    wait_for_label(&mut h, "2 (of 6)");
    // Newest snaps back to the live model.
    h.get_by_label("Newest").click();
    for run in ["rf", "mixflow-rf"] {
        ui::wait_for_label(&mut h, &format!("{run} · step 6"), true);
    }
}

#[test]
fn clicking_the_canvas_follows_a_trajectory_through_that_point_and_tells_its_curvature() {
    let mut h = app(ui::paused("moons", mixflow::method::Method::Rf));
    wait_for_label(&mut h, "rf · step 0");
    h.get_by_label("Step").click();
    wait_for_label(&mut h, "rf · step 1");
    // The canvas's centre, at the scrubbed time (t = 1 when the app opens).
    h.get_by_label("canvas").click();
    wait_for_label(&mut h, "rf · followed from t = 1.00: length ");
    let caption = h
        .query_all_by_label_contains("rf · followed from")
        .filter_map(|n| n.accesskit_node().value().map(|v| v.to_string()))
        .next()
        .unwrap();
    let curvature: f64 = caption.rsplit("curvature ").next().unwrap().parse().unwrap();
    assert!(curvature.is_finite() && curvature >= 0.0, "{caption}");
    // It is followed again with every view (of the newer model), until cleared.
    h.get_by_label("Step").click();
    wait_for_label(&mut h, "rf · step 2");
    assert!(h.query_all_by_label_contains("rf · followed from").next().is_some());
    h.get_by_label("Clear path").click();
    h.run_steps(3);
    assert!(h.query_all_by_label_contains("rf · followed from").next().is_none());
}
