//! The command line as a user meets it: the documented forms work, run folders hold what they
//! should, and bad input gets one line naming what is wrong, a non-zero exit and no overwrite.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mixflow(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mixflow"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mixflow-cli-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure: non-zero exit, and one `error:` line saying `expected`.
fn assert_error(o: &Output, expected: &str) {
    assert!(!o.status.success(), "should fail");
    let err = stderr(o);
    let line = err
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_else(|| panic!("no error line in {err}"));
    assert!(line.contains(expected), "`{line}` should mention `{expected}`");
}

const QUICK: &[&str] = &[
    "--steps",
    "60",
    "--eval-n",
    "200",
    "--curvature-n",
    "100",
    "--solver",
    "euler",
    "--solver-steps",
    "20",
];

#[test]
fn train_eval_sample_round_trip() {
    let dir = workdir("roundtrip");
    let mut args = vec![
        "train",
        "--dataset",
        "moons",
        "--method",
        "rf",
        "--seed",
        "0",
        "--out",
        "runs/quick",
    ];
    args.extend(QUICK);
    let o = mixflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("velocity field 33794 parameters"), "{stdout}");
    for file in [
        "config.json",
        "model.bpk",
        "optimizer.bpk",
        "state.json",
        "metrics.json",
    ] {
        assert!(dir.join("runs/quick").join(file).exists(), "{file}");
    }

    let o = mixflow(&["eval", "runs/quick", "--json"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "w2",
        "w2_floor",
        "mmd2",
        "energy",
        "curvature_mean",
        "curvature_std",
        "nfe",
        "w2_by_nfe",
    ] {
        assert!(json.get(key).is_some(), "eval --json lacks {key}: {json}");
    }
    assert_eq!(json["nfe"], 20.0);
    // Evaluation is deterministic: the same numbers as the metrics written after training.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/quick/metrics.json")).unwrap()).unwrap();
    assert_eq!(json["w2"], saved["w2"]);

    let o = mixflow(&["sample", "runs/quick", "--n", "300", "--out", "samples.csv"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("samples.csv")).unwrap();
    assert_eq!(text.lines().count(), 301);
    assert_eq!(text.lines().next(), Some("x,y"));

    // An existing run is never overwritten by accident.
    let before = std::fs::read(dir.join("runs/quick/model.bpk")).unwrap();
    assert_error(&mixflow(&args, &dir), "--force");
    assert_eq!(std::fs::read(dir.join("runs/quick/model.bpk")).unwrap(), before);

    // Resuming continues to the new total.
    let o = mixflow(&["train", "--resume", "runs/quick", "--steps", "80"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/quick/state.json")).unwrap()).unwrap();
    assert_eq!(state["step"], 80);
}

#[test]
fn a_diverging_run_stops_with_its_last_good_checkpoint_kept() {
    let dir = workdir("diverge");
    let o = mixflow(
        &[
            "train",
            "--dataset",
            "moons",
            "--method",
            "rf",
            "--lr",
            "1e5",
            "--steps",
            "500",
            "--checkpoint-every",
            "1",
            "--out",
            "runs/hot",
        ],
        &dir,
    );
    assert_error(&o, "training diverged at step");
    let line = stderr(&o);
    assert!(line.contains("the last good checkpoint is kept in runs/hot"), "{line}");
    // The step that diverged is not saved; the one before it is, and it can be evaluated.
    let diverged: usize = line
        .split("diverged at step ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in {line}"));
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/hot/state.json")).unwrap()).unwrap();
    assert_eq!(state["step"], diverged - 1);
    assert!(
        !dir.join("runs/hot/metrics.json").exists(),
        "no metrics for a run that did not finish"
    );
}

#[test]
fn config_file_accepts_the_flag_settings() {
    let dir = workdir("config");
    std::fs::write(
        dir.join("run.toml"),
        "dataset = \"8gaussians\"\nmethod = \"ot-cfm\"\nsteps = 30\nbatch = 64\neval-n = 100\ncurvature-n = 50\nsolver = \"rk4\"\nsolver-steps = 5\nlr-schedule = \"cosine\"\n",
    )
    .unwrap();
    let o = mixflow(&["train", "--config", "run.toml", "--seed", "3", "--out", "r"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/config.json")).unwrap()).unwrap();
    assert_eq!(config["method"], "ot-cfm");
    assert_eq!(config["batch"], 64);
    assert_eq!(config["seed"], 3);
    assert_eq!(config["lr-schedule"], "cosine");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["nfe"], 20.0, "rk4 with 5 steps");
}

#[test]
fn conditional_runs_sample_for_a_descriptor_and_report_splits() {
    let dir = workdir("conditional");
    let o = mixflow(
        &[
            "train",
            "--dataset",
            "ring-radius",
            "--method",
            "c-ot",
            "--steps",
            "30",
            "--eval-per-condition",
            "100",
            "--eval-conditions",
            "2",
            "--curvature-n",
            "50",
            "--solver",
            "euler",
            "--solver-steps",
            "10",
            "--out",
            "r",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mixflow(&["eval", "r", "--json"], &dir);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for split in ["train", "interpolation", "extrapolation"] {
        assert!(json["splits"][split]["w2"].is_number(), "{json}");
    }
    let o = mixflow(
        &["sample", "r", "--n", "10", "--out", "s.csv", "--descriptor", "2.5"],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_error(
        &mixflow(&["sample", "r", "--n", "10", "--out", "s.csv"], &dir),
        "`descriptor`",
    );
    assert_error(
        &mixflow(
            &["sample", "r", "--n", "10", "--out", "s.csv", "--descriptor", "1,2"],
            &dir,
        ),
        "takes 1 values",
    );
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = workdir("bad");
    assert_error(
        &mixflow(&["train", "--dataset", "moonz", "--out", "x"], &dir),
        "unknown dataset `moonz`. Did you mean `moons`?",
    );
    assert_error(
        &mixflow(&["train", "--dataset", "rotating-mons", "--out", "x"], &dir),
        "Did you mean `rotating-moons`?",
    );
    std::fs::write(dir.join("typo.toml"), "method = \"mixflow-od\"\n").unwrap();
    assert_error(
        &mixflow(&["train", "--config", "typo.toml", "--out", "x"], &dir),
        "Did you mean `mixflow-ood`?",
    );
    let o = mixflow(&["train", "--method", "mixflow-od", "--out", "x"], &dir);
    assert!(
        stderr(&o).contains("similar value exists: 'mixflow-ood'"),
        "clap suggests the method: {}",
        stderr(&o)
    );
    let o = mixflow(&["train", "--method", "sgd"], &dir);
    assert!(
        !o.status.success() && stderr(&o).contains("rf, ot-cfm, c-ot"),
        "{}",
        stderr(&o)
    );
    assert_error(&mixflow(&["train", "--lr", "-1", "--out", "x"], &dir), "`lr`");
    assert_error(&mixflow(&["train", "--method", "c-ot", "--out", "x"], &dir), "`method`");
    std::fs::write(dir.join("broken.toml"), "steps = [\n").unwrap();
    assert_error(&mixflow(&["train", "--config", "broken.toml"], &dir), "broken.toml");
    std::fs::write(dir.join("bad.csv"), "a,b\n1,2\n3,oops\n").unwrap();
    assert_error(
        &mixflow(&["train", "--dataset", "csv:bad.csv", "--out", "x"], &dir),
        "row 3, column `b`",
    );
    assert_error(
        &mixflow(
            &["train", "--dataset", "csv:bad.csv", "--data-cols", "a,c", "--out", "x"],
            &dir,
        ),
        "no column named `c`",
    );
    assert_error(&mixflow(&["eval", "runs/none"], &dir), "no such run folder");
    std::fs::create_dir_all(dir.join("plain")).unwrap();
    assert_error(&mixflow(&["eval", "plain"], &dir), "plain: not a run folder");
    assert_error(
        &mixflow(
            &["train", "--method", "mixflow-ood", "--components", "0", "--out", "x"],
            &dir,
        ),
        "`components`",
    );
    assert_error(
        &mixflow(
            &["train", "--method", "mixflow-rf", "--kappa", "descriptor", "--out", "x"],
            &dir,
        ),
        "`kappa`",
    );
    assert_error(
        &mixflow(
            &[
                "train",
                "--method",
                "mixflow-rf",
                "--dataset",
                "8gaussians->moons",
                "--out",
                "x",
            ],
            &dir,
        ),
        "`source`",
    );
    assert!(!dir.join("x").exists(), "nothing written for a refused run");
}

#[test]
fn datasets_are_listed_with_their_splits() {
    let o = mixflow(&["datasets"], &std::env::temp_dir());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("letters") && text.contains("interpolation") && text.contains("csv:PATH"),
        "{text}"
    );
}

#[test]
fn experiments_print_the_checked_json_schema() {
    let dir = workdir("experiment");
    let o = mixflow(&["experiment", "e3", "--seeds", "1", "--steps", "20", "--json"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["experiment"], "e3");
    assert_eq!(json["steps"], 20);
    assert_eq!(json["seeds"], serde_json::json!([0]));
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 2, "three targets, two methods, one seed");
    for row in rows {
        for key in [
            "dataset",
            "method",
            "seed",
            "split",
            "w2",
            "w2_floor",
            "mmd2",
            "energy",
            "curvature_mean",
            "curvature_std",
        ] {
            assert!(row.get(key).is_some(), "row lacks {key}: {row}");
        }
        assert_eq!(row["split"], "all");
        for k in ["1", "2", "4", "8", "16", "32", "128", "dopri5"] {
            assert!(row["w2_by_nfe"][k].is_number(), "w2_by_nfe lacks {k}: {row}");
        }
    }
    // Each arm chose its learning rate on seed 0 (E3 has no held-out split: on the data itself),
    // and its rows carry the rate it trained with.
    let choices = json["lr_choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3 * 2);
    for choice in choices {
        assert_eq!(choice["split"], "all");
        let tried: Vec<f64> = choice["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c[0].as_f64().unwrap())
            .collect();
        assert_eq!(tried, [3e-4, 1e-3, 3e-3]);
        assert!(tried.contains(&choice["chosen"].as_f64().unwrap()));
    }
    assert!(
        rows.iter()
            .all(|r| [3e-4, 1e-3, 3e-3].contains(&r["lr"].as_f64().unwrap()))
    );
    let ood = rows.iter().find(|r| r["method"] == "mixflow-ood").unwrap();
    assert_eq!(
        ood["base_steps"], 1,
        "20 steps: warm-up to 2, cool-down from 18, base step 11"
    );
    assert!(dir.join("results/e3.json").exists() && dir.join("results/e3.md").exists());
    assert!(
        stderr(&o).contains("results/e3.json"),
        "says where it writes: {}",
        stderr(&o)
    );

    // Results are never replaced by accident (refused before any training).
    let before = std::fs::read(dir.join("results/e3.json")).unwrap();
    assert_error(
        &mixflow(&["experiment", "e3", "--seeds", "1", "--steps", "20"], &dir),
        "results/e3.json: results are already there; pass --force",
    );
    assert_eq!(std::fs::read(dir.join("results/e3.json")).unwrap(), before);
}

#[test]
fn gui_flags_are_checked_before_a_window_opens() {
    let dir = workdir("gui");
    assert_error(
        &mixflow(&["gui", "--compare", "rf"], &dir),
        "--compare takes 2 to 4 methods, got 1",
    );
    assert_error(
        &mixflow(&["gui", "--compare", "rf,ot-cfm,c-ot,mixflow-rf,mixflow-ood"], &dir),
        "got 5",
    );
    assert_error(
        &mixflow(&["gui", "--exit-after=-3"], &dir),
        "--exit-after must be a number of seconds",
    );
    // A screenshot needs a time to take it at.
    let o = mixflow(&["gui", "--screenshot", "x.png"], &dir);
    assert_error(&o, "required arguments were not provided");
    assert!(stderr(&o).contains("--exit-after"));
    assert_error(&mixflow(&["gui", "--method", "nope"], &dir), "nope");
    assert_error(
        &mixflow(&["gui", "--state", "v2=AAAA"], &dir),
        "--state: the link was made by another version",
    );
}

/// `mixflow bench --json`: the schema `bench/compare.sh` reads, with figures whose range holds
/// their median. Small sizes keep it quick; B5 and the shader need no GPU here (they are skipped
/// with a reason, or run on lavapipe).
#[test]
fn bench_prints_the_checked_json_schema() {
    let dir = workdir("bench");
    let o = mixflow(
        &[
            "bench",
            "--json",
            "--only",
            "b1,b3",
            "--repeats",
            "2",
            "--batch",
            "32",
            "--particles",
            "64",
            "--euler-steps",
            "4",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object on stdout");
    assert!(report["threads"].as_u64().unwrap() >= 1);
    assert_eq!(report["backend"], "cpu");
    let figures = report["figures"].as_array().unwrap();
    let ids: Vec<&str> = figures.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(&ids[..2], ["B1", "B3"]);
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"B3-shader") || skipped.contains(&"B3-shader"),
        "{ids:?} {skipped:?}"
    );
    for f in figures {
        for key in ["name", "unit", "detail"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        assert!(f["higher_is_better"].is_boolean());
        assert_eq!(f["rounds"], 2);
        assert_eq!(f["threads"], report["threads"]);
        let (min, median, max) = (
            f["min"].as_f64().unwrap(),
            f["median"].as_f64().unwrap(),
            f["max"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= median && median <= max, "{f}");
    }
    assert_eq!(figures[0]["unit"], "steps/s");
    assert!(figures[0]["detail"].as_str().unwrap().contains("batch 32"));
    assert_eq!(figures[1]["unit"], "particle-steps/s");

    // Reference data for bench/torch_ref.py: one row per point, descriptor columns before x, y.
    let o = mixflow(&["bench", "--write-data", "data"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let letters = std::fs::read_to_string(dir.join("data/letters.csv")).unwrap();
    let header = letters.lines().next().unwrap();
    assert!(
        header.starts_with("condition,c0,") && header.ends_with(",x,y"),
        "{header}"
    );
    assert!(letters.lines().count() > 512);
}

#[test]
fn bench_refuses_sizes_that_measure_nothing() {
    let dir = workdir("bench-bad");
    assert_error(
        &mixflow(&["bench", "--particles", "0"], &dir),
        "--particles must be between 1 and 1000000, got 0",
    );
    assert_error(
        &mixflow(&["bench", "--repeats", "1"], &dir),
        "--repeats must be between 2 and 50, got 1",
    );
    assert_error(
        &mixflow(&["bench", "--particles", "1000000", "--euler-steps", "10000"], &dir),
        "at most 10^9 particle-steps",
    );
}
