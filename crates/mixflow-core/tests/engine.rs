//! Engine unit tests with known answers: metrics, the assignment solver, solvers and their NFE,
//! dataset moments and splits, CSV errors and config errors.

mod common;

use burn::tensor::{Device, Tensor};
use mixflow_core::config::TrainConfig;
use mixflow_core::coupling::assignment;
use mixflow_core::data::{
    CellProblem, CsvSpec, DataError, Dataset, DatasetRequest, Points, Split, TableError, read_csv,
};
use mixflow_core::metrics;
use mixflow_core::rng::{self, Stream};
use mixflow_core::solve::{self, SolveOptions, Solver, integrate, to_points, to_tensor};

fn random_points(n: usize, dim: usize, seed: u64) -> Points {
    Points::new(dim, rng::normals(&mut rng::seeded(seed, Stream::Data, 0), n * dim))
}

fn dataset(name: &str) -> Dataset {
    Dataset::load(&DatasetRequest {
        name: name.into(),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn w2_of_a_shifted_set_is_the_shift() {
    let a = random_points(300, 2, 1);
    let shift = [0.3f32, -0.4];
    let b = Points::new(2, a.data.iter().enumerate().map(|(i, x)| x + shift[i % 2]).collect());
    assert!((metrics::w2(&a, &b) - 0.5).abs() < 1e-5, "W2 {}", metrics::w2(&a, &b));
    assert!(metrics::w2(&a, &a) < 1e-9);
}

fn brute_force_cost(a: &Points, b: &Points) -> f64 {
    fn permutations(items: Vec<usize>) -> Vec<Vec<usize>> {
        if items.len() <= 1 {
            return vec![items];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.clone();
            let first = rest.remove(i);
            for mut p in permutations(rest) {
                p.insert(0, first);
                out.push(p);
            }
        }
        out
    }
    permutations((0..a.len()).collect())
        .iter()
        .map(|p| cost_of(a, b, p))
        .fold(f64::INFINITY, f64::min)
}

fn cost_of(a: &Points, b: &Points, perm: &[usize]) -> f64 {
    perm.iter()
        .enumerate()
        .map(|(i, &j)| {
            a.row(i)
                .iter()
                .zip(b.row(j))
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn assignment_matches_brute_force() {
    for seed in 0..20 {
        let n = 2 + (seed as usize % 6);
        let (a, b) = (random_points(n, 3, seed), random_points(n, 3, seed + 100));
        let perm = assignment(&a, &b);
        let mut sorted = perm.clone();
        sorted.sort();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a permutation");
        assert!(
            (cost_of(&a, &b, &perm) - brute_force_cost(&a, &b)).abs() < 1e-9,
            "seed {seed}"
        );
    }
}

/// Clouds large enough for the sparse solver, one of them tight and far off the other (the
/// case where near partners are the wrong guess without the standardising): the same optimum as
/// scipy's algorithm, here the `lsap` crate, on the original costs.
#[test]
fn assignment_of_large_offset_clouds_matches_a_dense_solver() {
    for (seed, scale, shift) in [(1, 1.0, 0.0), (2, 0.1, 3.0), (3, 4.0, -2.0)] {
        let a = random_points(600, 2, seed);
        let b = random_points(600, 2, seed + 100);
        let b = Points::new(2, b.data.iter().map(|x| x * scale + shift).collect());
        let perm = assignment(&a, &b);
        let mut sorted = perm.clone();
        sorted.sort();
        assert_eq!(sorted, (0..600).collect::<Vec<_>>(), "a permutation");
        let cost = mixflow_core::coupling::sq_cost(&a, &b);
        let (rows, cols) = lsap::solve(600, 600, &cost, false).unwrap();
        let dense: f64 = rows.iter().zip(&cols).map(|(&i, &j)| cost[i * 600 + j]).sum();
        let ours = cost_of(&a, &b, &perm);
        assert!(
            (ours - dense).abs() < 1e-9 * dense,
            "seed {seed}: {ours} against {dense}"
        );
    }
}

#[test]
fn mmd_and_energy_are_zero_for_equal_sets_and_grow_with_distance() {
    let a = random_points(400, 2, 3);
    let near = Points::new(2, a.data.iter().map(|x| x + 0.1).collect());
    let far = Points::new(2, a.data.iter().map(|x| x + 2.0).collect());
    assert!(metrics::mmd2(&a, &a).abs() < 1e-12);
    assert!(metrics::energy(&a, &a).abs() < 1e-12);
    assert!(metrics::mmd2(&a, &near) < metrics::mmd2(&a, &far));
    assert!(metrics::energy(&a, &near) < metrics::energy(&a, &far));
    // Energy distance of two point masses at distance d is 2d.
    let p = Points::new(2, vec![0.0, 0.0]);
    let q = Points::new(2, vec![3.0, 4.0]);
    assert!((metrics::energy(&p, &q) - 10.0).abs() < 1e-9);
}

#[test]
fn curvature_of_straight_paths_is_zero() {
    let x0 = random_points(50, 2, 4);
    let x1 = random_points(50, 2, 5);
    let states: Vec<Points> = (0..=16)
        .map(|k| {
            let t = k as f32 / 16.0;
            Points::new(
                2,
                x0.data
                    .iter()
                    .zip(&x1.data)
                    .map(|(a, b)| (1.0 - t) * a + t * b)
                    .collect(),
            )
        })
        .collect();
    assert!(metrics::curvature(&states).iter().all(|c| c.abs() < 1e-9));
}

#[test]
fn curvature_of_a_rotation_matches_the_closed_form() {
    // x(t) = R(ωt)·x0: steps of length 2|x0|sin(ωΔt/2), chord of squared length 2|x0|²(1 - cos ω).
    let (omega, n, r) = (1.5f64, 128usize, 2.0f64);
    let states: Vec<Points> = (0..=n)
        .map(|k| {
            let a = omega * k as f64 / n as f64;
            Points::new(2, vec![(r * a.cos()) as f32, (r * a.sin()) as f32])
        })
        .collect();
    let dt = 1.0 / n as f64;
    let step = 2.0 * r * (omega * dt / 2.0).sin() / dt;
    let expected = (step * step - 2.0 * r * r * (1.0 - omega.cos())) / 2.0;
    let got = metrics::curvature(&states)[0];
    assert!(
        (got - expected).abs() < 1e-4 * expected,
        "got {got}, expected {expected}"
    );
}

fn rotation_field(omega: f32) -> impl FnMut(Tensor<2>, f32) -> Tensor<2> {
    move |x: Tensor<2>, _t: f32| {
        let rot = Tensor::<2>::from_floats([[0.0, omega], [-omega, 0.0]], &x.device());
        x.matmul(rot)
    }
}

#[test]
fn fixed_step_solvers_count_nfe_and_converge() {
    let device = Device::flex();
    let x0 = to_tensor(&Points::new(2, vec![1.0, 0.0]), &device);
    let exact = [1.0f32.cos(), 1.0f32.sin()];
    for (solver, n, nfe, tol) in [
        (Solver::Euler, 100, 100, 2e-2),
        (Solver::Heun, 50, 99, 1e-3),
        (Solver::Rk4, 10, 40, 1e-5),
    ] {
        let opts = SolveOptions {
            solver,
            steps: n,
            ..SolveOptions::default()
        };
        let sol = integrate(&mut rotation_field(1.0), x0.clone(), &opts, true).unwrap();
        assert_eq!(sol.nfe, nfe, "{solver:?}");
        assert_eq!(sol.trajectory.len(), n + 1);
        let x = to_points(sol.x).data;
        let err = ((x[0] - exact[0]).powi(2) + (x[1] - exact[1]).powi(2)).sqrt();
        assert!(err < tol, "{solver:?} error {err}");
    }
}

#[test]
fn dopri5_is_accurate_and_counts_its_evaluations() {
    let device = Device::flex();
    let x0 = to_tensor(&Points::new(1, vec![1.0]), &device);
    let opts = SolveOptions {
        solver: Solver::Dopri5,
        rtol: 1e-6,
        atol: 1e-6,
        ..SolveOptions::default()
    };
    let mut calls = 0;
    let mut growth = |x: Tensor<2>, _t: f32| {
        calls += 1;
        x
    };
    let sol = integrate(&mut growth, x0, &opts, true).unwrap();
    assert_eq!(sol.nfe, calls);
    // One evaluation to start, then six per attempted step (the seventh is reused).
    assert_eq!(sol.nfe % 6, 1);
    let x = to_points(sol.x).data[0];
    assert!((x - std::f32::consts::E).abs() < 1e-4, "e^1 ≈ {x}");
    assert!((sol.trajectory.last().unwrap().0 - 1.0).abs() < 1e-5);
    let loose = SolveOptions {
        rtol: 1e-3,
        atol: 1e-3,
        ..opts
    };
    let cheap = integrate(
        &mut |x: Tensor<2>, _| x,
        to_tensor(&Points::new(1, vec![1.0]), &device),
        &loose,
        false,
    )
    .unwrap();
    assert!(cheap.nfe < sol.nfe, "looser tolerance, fewer evaluations");
}

#[test]
fn euler_curvature_of_a_rotation_field_is_near_the_continuum_value() {
    let device = Device::flex();
    let omega = 1.0f64;
    let x0 = to_tensor(&Points::new(2, vec![1.0, 0.0]), &device);
    let sol = integrate(&mut rotation_field(omega as f32), x0, &SolveOptions::euler(128), true).unwrap();
    let states: Vec<Points> = sol.trajectory.into_iter().map(|(_, x)| solve::to_points(x)).collect();
    let continuum = (omega * omega - 2.0 * (1.0 - omega.cos())) / 2.0;
    let got = metrics::curvature(&states)[0];
    assert!(
        (got - continuum).abs() < 0.02 * continuum,
        "got {got}, continuum {continuum}"
    );
}

#[test]
fn toy_moments_match_their_definitions() {
    let mut r = rng::seeded(7, Stream::Data, 0);
    let n = 100_000;
    let check = |name: &str, mean: [f64; 2], std: [f64; 2], r: &mut rng::Rng| {
        let p = dataset(name).sample(None, n, r);
        let (m, s) = (p.mean(), p.std());
        for d in 0..2 {
            assert!(
                (m[d] - mean[d]).abs() < 0.03,
                "{name} mean[{d}] {} vs {}",
                m[d],
                mean[d]
            );
            assert!((s[d] - std[d]).abs() < 0.03, "{name} std[{d}] {} vs {}", s[d], std[d]);
        }
    };
    // 8 gaussians: radius 5 centres (variance 12.5 per axis) plus covariance sqrt(0.1).
    let s8 = (12.5f64 + 0.1f64.sqrt()).sqrt();
    check("8gaussians", [0.0, 0.0], [s8, s8], &mut r);
    // Checkerboard: each marginal is uniform on [-4, 4].
    let sc = (64.0f64 / 12.0).sqrt();
    check("checkerboard", [0.0, 0.0], [sc, sc], &mut r);
    check("gaussian", [0.0, 0.0], [1.0, 1.0], &mut r);
    // Moons: raw means (0.5, 0.25), then ×3 - 1.
    let p = dataset("moons").sample(None, n, &mut r);
    let m = p.mean();
    assert!(
        (m[0] - 0.5).abs() < 0.03 && (m[1] + 0.25).abs() < 0.03,
        "moons mean {m:?}"
    );
    for name in ["spirals", "circles", "pinwheel", "swissroll"] {
        let p = dataset(name).sample(None, 10_000, &mut r);
        let inside = p.data.iter().filter(|x| x.abs() <= 5.0).count() as f64 / p.data.len() as f64;
        assert!(inside > 0.98, "{name} is scaled to about [-4, 4]²: {inside}");
    }
}

#[test]
fn conditional_splits_hold_out_the_specified_descriptors() {
    let moons = dataset("rotating-moons");
    for c in &moons.conditions {
        let deg = c.descriptor[1].atan2(c.descriptor[0]).to_degrees().rem_euclid(360.0);
        let expected = if (200.0 - 1e-3..=260.0 + 1e-3).contains(&deg) {
            Split::Extrapolation
        } else if (75.0 - 1e-3..=105.0 + 1e-3).contains(&deg) {
            Split::Interpolation
        } else {
            assert!((0.0..=180.0 + 1e-3).contains(&deg), "train angle {deg}");
            Split::Train
        };
        assert_eq!(c.split, expected, "{}", c.label);
    }
    let letters = dataset("letters");
    let unseen = 8; // 'F' is the last one-hot slot
    assert!(
        letters
            .conditions
            .iter()
            .filter(|c| c.descriptor[unseen] == 1.0)
            .all(|c| c.split == Split::Extrapolation)
    );
    assert!(letters.split_indices(Split::Train).len() >= 8 * 10);
    for name in ["shifting-modes", "ring-radius"] {
        let ds = dataset(name);
        let (lo, hi) = if name == "ring-radius" { (1.7, 2.3) } else { (0.4, 0.6) };
        for c in &ds.conditions {
            let v = c.descriptor[0];
            let inside = v > lo && v < hi;
            match c.split {
                Split::Train => assert!(!inside, "{name} train {v}"),
                Split::Interpolation => assert!(inside, "{name} interpolation {v}"),
                Split::Extrapolation => assert!(v > hi, "{name} extrapolation {v}"),
            }
        }
    }
    // A ring's radius is its descriptor.
    let ring = dataset("ring-radius");
    let p = ring.sample(Some(0), 5000, &mut rng::seeded(0, Stream::Data, 0));
    let mean_r: f32 = p.rows().map(|r| (r[0] * r[0] + r[1] * r[1]).sqrt()).sum::<f32>() / 5000.0;
    assert!((mean_r - ring.conditions[0].descriptor[0]).abs() < 0.02);
}

#[test]
fn lowdim_family_has_its_dimension_and_descriptor_shells() {
    for dim in [3, 16, 32] {
        let ds = Dataset::load(&DatasetRequest {
            name: "lowdim-perturbation".into(),
            dim: Some(dim),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ds.dim, dim);
        let p = ds.sample(Some(0), 10, &mut rng::seeded(0, Stream::Data, 0));
        assert_eq!(p.data.len(), 10 * dim);
        for c in &ds.conditions {
            let norm = c.descriptor.iter().map(|x| x * x).sum::<f32>().sqrt();
            let range = match c.split {
                Split::Train => 0.5..=1.2,
                Split::Interpolation => 0.6..=1.0,
                Split::Extrapolation => 1.6..=2.0,
            };
            assert!(
                range.contains(&(norm + 1e-6)) || range.contains(&(norm - 1e-6)),
                "{norm} in {range:?}"
            );
        }
    }
    let err = Dataset::load(&DatasetRequest {
        name: "lowdim-perturbation".into(),
        dim: Some(40),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("`dim`") && err.contains("40"), "{err}");
}

fn csv_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mixflow-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn csv_import_reads_chosen_columns_and_names_bad_cells() {
    let spec = |d: &[&str], c: &[&str]| CsvSpec {
        data_cols: d.iter().map(|s| s.to_string()).collect(),
        descriptor_cols: c.iter().map(|s| s.to_string()).collect(),
    };
    let good = csv_file("good.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,1\n");
    let table = read_csv(&good, &spec(&["b", "a"], &["label"])).unwrap();
    assert_eq!(table.data.data, vec![2.0, 1.0, 4.0, 3.0, 6.0, 5.0]);
    assert_eq!(table.descriptors.unwrap().data, vec![0.0, 1.0, 1.0]);
    assert!(!table.truncated);
    let ds = Dataset::load(&DatasetRequest {
        name: format!("csv:{}", good.display()),
        csv: Some(spec(&["a", "b"], &["label"])),
        ..Default::default()
    })
    .unwrap();
    assert_eq!((ds.dim, ds.descriptor_dim, ds.conditions.len()), (2, 1, 2));

    let cases = [
        ("missing.csv", "a,b\n1,2\n3,\n", "row 3, column `b`: missing value"),
        ("text.csv", "a,b\n1,2\n3,x\n", "row 3, column `b`: `x` is not a number"),
        (
            "nan.csv",
            "a,b\n1,NaN\n",
            "row 2, column `b`: `NaN` is not a finite number",
        ),
        (
            "inf.csv",
            "a,b\ninf,1\n",
            "row 2, column `a`: `inf` is not a finite number",
        ),
        ("empty.csv", "", "the file is empty"),
        ("header.csv", "a,b\n", "no data rows"),
        ("short.csv", "a,b\n1,2\n3\n", "row 3"),
    ];
    for (name, text, expected) in cases {
        let path = csv_file(name, text);
        let err = read_csv(&path, &CsvSpec::default()).unwrap_err().to_string();
        assert!(err.contains(expected) && err.contains(name), "{name}: {err}");
    }
    // The error says where and what, for a front end that points at the cell.
    let err = read_csv(&csv_file("text.csv", "a,b\n1,2\n3,x\n"), &CsvSpec::default()).unwrap_err();
    assert!(
        matches!(&err, TableError::Cell { row: 3, column, problem: CellProblem::NotANumber(x), .. } if column == "b" && x == "x"),
        "{err:?}"
    );
    let err = read_csv(&good, &spec(&["a", "nope"], &[])).unwrap_err().to_string();
    assert!(
        err.contains("no column named `nope`") && err.contains("a, b, label"),
        "{err}"
    );
    let err = read_csv(std::path::Path::new("/no/such/file.csv"), &CsvSpec::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/file.csv"), "{err}");
}

#[test]
fn a_huge_csv_is_cut_at_the_row_limit_and_says_so() {
    use mixflow_core::data::MAX_ROWS;
    let mut text = String::from("x,y\n");
    for i in 0..MAX_ROWS + 5 {
        text.push_str(&format!("{},{}\n", i % 7, i % 5));
    }
    let path = csv_file("huge.csv", &text);
    let table = read_csv(&path, &CsvSpec::default()).unwrap();
    assert!(table.truncated);
    assert_eq!(table.data.len(), MAX_ROWS);
    let ds = Dataset::load(&DatasetRequest {
        name: format!("csv:{}", path.display()),
        ..Default::default()
    })
    .unwrap();
    let note = ds.note.unwrap();
    assert!(
        note.ends_with("huge.csv: the file has more than 200000 rows; only the first 200000 were read"),
        "{note}"
    );
}

#[test]
fn a_table_kept_in_memory_loads_like_a_file_and_previews_without_reading_it_all() {
    mixflow_core::data::remember("dropped/points.csv", b"x,y,class\n0,1,0\n2,3,1\n4,5,1\n".to_vec());
    let ds = Dataset::load(&DatasetRequest {
        name: "csv:dropped/points.csv".into(),
        csv: Some(CsvSpec {
            data_cols: vec![],
            descriptor_cols: vec!["class".into()],
        }),
        ..Default::default()
    })
    .unwrap();
    assert_eq!((ds.dim, ds.descriptor_dim, ds.conditions.len()), (2, 1, 2));
    let preview = mixflow_core::data::preview(std::path::Path::new("dropped/points.csv"), 2).unwrap();
    assert_eq!(preview.headers, ["x", "y", "class"]);
    assert_eq!(preview.rows, [["0", "1", "0"], ["2", "3", "1"]]);
    let e = mixflow_core::data::preview(std::path::Path::new("dropped/none.csv"), 2)
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("dropped/none.csv: cannot read"), "{e}");
}

#[test]
fn config_errors_name_the_file_and_setting() {
    let bad_toml = csv_file("bad.toml", "steps = \n");
    let err = TrainConfig::from_toml(&bad_toml).unwrap_err().to_string();
    assert!(err.contains("bad.toml"), "{err}");
    let unknown = csv_file("unknown.toml", "stepz = 3\n");
    let err = TrainConfig::from_toml(&unknown).unwrap_err().to_string();
    assert!(err.contains("stepz"), "{err}");
    let ok = csv_file(
        "ok.toml",
        "dataset = \"8gaussians\"\nmethod = \"ot-cfm\"\nsolver-steps = 7\nlr = 0.01\n",
    );
    let c = TrainConfig::from_toml(&ok).unwrap();
    assert_eq!(
        (c.dataset.as_str(), c.method.name(), c.solver_steps, c.lr),
        ("8gaussians", "ot-cfm", 7, 0.01)
    );

    let moons = dataset("moons");
    let check = |edit: fn(&mut TrainConfig), setting: &str| {
        let mut c = TrainConfig::default();
        edit(&mut c);
        let err = c.validate(&moons).unwrap_err().to_string();
        assert!(err.contains(&format!("`{setting}`")), "{setting}: {err}");
    };
    check(|c| c.lr = -1.0, "lr");
    check(|c| c.steps = 0, "steps");
    check(|c| c.batch = 1, "batch");
    check(|c| c.beta2 = 1.0, "beta2");
    check(|c| c.method = mixflow_core::method::Method::COt, "method");
    check(|c| c.source = "nowhere".into(), "source");
    let mut c = TrainConfig {
        dataset: "letters".into(),
        groups: 1000,
        ..TrainConfig::default()
    };
    let letters = dataset("letters");
    assert_eq!(c.validate(&letters).unwrap_err().setting, "groups");
    c.groups = 8;
    c.validate(&letters).unwrap();
    for (setting, edit) in [
        (
            "group-size",
            (|c: &mut TrainConfig| c.group_size = 0) as fn(&mut TrainConfig),
        ),
        ("encoder-dropout", |c| c.encoder_dropout = 1.0),
    ] {
        let mut bad = c.clone();
        edit(&mut bad);
        assert!(bad.validate(&letters).unwrap_err().setting == setting, "{setting}");
    }
    let cosine = TrainConfig {
        lr: 0.1,
        steps: 100,
        lr_schedule: mixflow_core::config::LrSchedule::Cosine,
        ..TrainConfig::default()
    };
    assert_eq!((cosine.lr_at(0), cosine.lr_at(100)), (0.1, 0.0));
    assert!((cosine.lr_at(50) - 0.05).abs() < 1e-12);
    assert_eq!(TrainConfig::default().lr_at(3999), 1e-3);
    let err = Dataset::load(&DatasetRequest {
        name: "moonz".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(&err, DataError::Unknown { hint, .. } if hint == " Did you mean `moons`?"));
    let err = err.to_string();
    assert!(
        err.contains("unknown dataset `moonz`") && err.contains("moons"),
        "{err}"
    );
}

/// The fused CPU sampler (src/fused.rs) against burn's own Euler: the same trained weights and
/// base draws give the same samples and trajectories to 1e-5 (in original units). 2,500
/// particles split across threads and cache blocks unevenly; the cases cover a plain field, a
/// conditional one with sinusoidal time re-feeding its descriptor, and MixFlow-RF's w input.
#[test]
fn fused_euler_matches_burns_euler() {
    use mixflow_core::method::{Method, MixWeight};
    use mixflow_core::nn::TimeEmbedding;
    let cases = [
        ("moons", Method::Rf, TimeEmbedding::Raw, false, false),
        ("letters", Method::MixflowOod, TimeEmbedding::Sinusoidal, true, false),
        ("8gaussians", Method::MixflowRf, TimeEmbedding::Raw, false, true),
    ];
    for (dataset, method, time_embedding, refeed, w_input) in cases {
        let trainer = common::train(TrainConfig {
            time_embedding,
            refeed,
            w_input,
            w: MixWeight::Uniform,
            pretrain_steps: 20,
            ..common::config(dataset, method, 30)
        });
        let sampler = trainer.sampler();
        let descriptor = trainer.dataset.conditions.first().map(|c| c.descriptor.clone());
        let x0 = sampler
            .base(
                descriptor.as_deref(),
                2500,
                &mut mixflow_core::rng::seeded(3, mixflow_core::rng::Stream::Eval, 0),
            )
            .unwrap()
            .points;
        let opts = SolveOptions::euler(20);
        let fused = sampler.generate(descriptor.as_deref(), &x0, &opts, true).unwrap();
        let burn = sampler
            .generate_with_burn(descriptor.as_deref(), &x0, &opts, true)
            .unwrap();
        assert_eq!(fused.nfe, burn.nfe);
        assert_eq!(fused.trajectory.len(), burn.trajectory.len());
        let mut worst = 0.0f32;
        for ((tf, pf), (tb, pb)) in fused.trajectory.iter().zip(&burn.trajectory) {
            assert_eq!(tf, tb);
            for (a, b) in pf.data.iter().zip(&pb.data) {
                worst = worst.max((a - b).abs());
            }
        }
        for (a, b) in fused.samples.data.iter().zip(&burn.samples.data) {
            worst = worst.max((a - b).abs());
        }
        assert!(
            worst <= 1e-5,
            "{dataset} ({method:?}): fused and burn differ by {worst}"
        );
    }
}

/// The per-group assignments, split across the cores when there is enough work (8 groups of 64,
/// as MixFlow-OOD's step has), or more groups than cores, are each group's own assignment.
#[test]
fn group_assignments_split_across_cores_are_each_groups_own() {
    for (groups, size) in [(8, 64), (5, 70), (3, 4)] {
        let mut rng = rng::seeded(11, Stream::Eval, groups as u64);
        let n = groups * size;
        let a = Points::new(2, rng::normals(&mut rng, 2 * n));
        let b = Points::new(2, rng::normals(&mut rng, 2 * n).iter().map(|v| v * 0.5 + 1.0).collect());
        let ranges: Vec<_> = (0..groups).map(|g| g * size..(g + 1) * size).collect();
        let perms = mixflow_core::coupling::group_assignments(&a, &b, &ranges);
        assert_eq!(perms.len(), groups);
        for (perm, range) in perms.iter().zip(&ranges) {
            let rows = |p: &Points| Points::new(2, p.data[range.start * 2..range.end * 2].to_vec());
            assert_eq!(perm, &assignment(&rows(&a), &rows(&b)), "{groups} groups of {size}");
        }
    }
}
