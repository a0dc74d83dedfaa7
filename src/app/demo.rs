//! The guided demos: each sets up its runs (one per compared variant, on the same data and seeds),
//! the layers to look at, and a short sequence of captions. Every caption states a claim the
//! viewer can check on screen, and may change the view (a layer, the descriptor, the κ-FC source
//! w) or ask the runs for a measurement. Plain data: the app applies it, `mixflow demos` lists it.

use super::scene::Layers;
use super::settings::Settings;
use crate::config::{LrSchedule, TrainConfig};
use crate::data::Split;
use crate::method::{Method, MixWeight};

/// How one of a demo's runs differs from the demo's base config.
pub type Variant = fn(&mut TrainConfig);

pub struct Demo {
    /// What `--demo NAME` and the link `#demo=NAME` take.
    pub name: &'static str,
    pub title: &'static str,
    /// The dataset every run trains on.
    pub dataset: &'static str,
    /// One run per entry: its legend, and how it differs from the demo's base config.
    pub runs: &'static [(&'static str, Variant)],
    pub steps: &'static [Step],
}

/// One caption, and what it changes on screen when it is shown.
#[derive(Clone, Copy, Default)]
pub struct Step {
    pub caption: &'static str,
    pub layers: Option<Layers>,
    /// MixFlow-RF's drawn source w.
    pub source_w: Option<f32>,
    /// Move the descriptor to the first listed descriptor of this split.
    pub split: Option<Split>,
    pub measure: Option<Measure>,
    /// Open the memorisation lab on one of the runs, with the hybrid's τ.
    pub lab: Option<LabFocus>,
}

/// What the memorisation lab shows for a caption.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabFocus {
    /// The run studied (its index in the demo's runs).
    pub run: usize,
    pub tau: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// W2 against Euler steps (the "straight paths need few steps" claim).
    Nfe,
    /// W2 per descriptor and split (the out-of-distribution claim).
    Descriptors,
}

const TRAILS: Layers = Layers {
    data: true,
    samples: true,
    base: false,
    ellipses: true,
    density: false,
    trails: true,
    curvature: false,
    particles: true,
    field: false,
    kappa: false,
    pairs: false,
};

const PAIRS: Layers = Layers {
    trails: false,
    particles: false,
    pairs: true,
    base: true,
    ..TRAILS
};

pub const DEMOS: &[Demo] = &[
    Demo {
        name: "curvature",
        title: "curvature: Gaussian source vs mixed source (MixFlow-RF)",
        dataset: "moons",
        runs: &[
            ("RF (w = 0)", |c| c.method = Method::Rf),
            ("MixFlow-RF (w ~ U(0, 1))", |c| c.method = Method::MixflowRf),
            ("Fast-ODE (w = 1)", |c| c.method = Method::FastOde),
        ],
        steps: &[
            Step {
                caption: "Three runs learn the same moons from the same seeds. They differ only in the source: \
                          RF starts from N(0, I), Fast-ODE from the κ-FC encoder's Gaussian around each data point \
                          (w = 1), and MixFlow-RF mixes the two with a fresh w ~ U(0, 1) per sample.",
                layers: Some(TRAILS),
                ..STEP
            },
            Step {
                caption: "RF's trails bend: its pairs are independent, so paths cross and the learned field \
                          averages them into curves. The curvature chart below shows RF far above the other two \
                          (about 0.85 against 0.1 for MixFlow-RF after 2,000 steps in results/e2.md).",
                ..STEP
            },
            Step {
                caption: "As w grows the source moves from N(0, I) toward the κ-FC encoder's Gaussian of each \
                          data point (orange: its mean and 1σ ellipse, linked to the data point). At w = 0 the pink \
                          source points are plain noise, about 3.0 from the data point each one flows to.",
                layers: Some(Layers { kappa: true, ..TRAILS }),
                source_w: Some(0.0),
                ..STEP
            },
            Step {
                caption: "w = 1: the source is the encoder's Gaussian alone. Its KL term keeps it wide and near \
                          the centre: MixFlow-RF's source points lie about 1.2 from their data point, Fast-ODE's \
                          about 2.0 (one central blob). Fast-ODE trains only here, so its paths are the straightest \
                          (lowest curvature), but sampling starts from N(0, I), which it never trained on: its \
                          samples miss the moons (highest W2). MixFlow-RF trains on every w and keeps both.",
                layers: Some(Layers { kappa: true, ..TRAILS }),
                source_w: Some(1.0),
                ..STEP
            },
            Step {
                caption: "Straighter paths need fewer solver steps: in the W2 vs NFE chart MixFlow-RF reaches \
                          a given W2 with fewer Euler steps than RF, most clearly at 1 to 4 steps.",
                measure: Some(Measure::Nfe),
                ..STEP
            },
        ],
    },
    Demo {
        name: "mixture-bases",
        title: "mixture bases: one mode vs K modes (MixFlow-OOD)",
        dataset: "rotating-moons",
        runs: &[
            ("MixFlow-OOD, K = 1", |c| c.components = 1),
            ("MixFlow-OOD, K = 8", |c| c.components = 8),
        ],
        steps: &[
            Step {
                caption: "Both runs are MixFlow-OOD on rotating moons with the same seeds; the left base has one \
                          Gaussian per descriptor, the right one eight. The ellipses are the base's components.",
                layers: Some(Layers {
                    density: true,
                    ..TRAILS
                }),
                ..STEP
            },
            Step {
                caption: "With one mode every particle starts in one blob per descriptor and travels all the way \
                          to its moon: long trails. With eight modes the components sit on the moons, and each \
                          particle only travels a short way inside its own cell: short trails.",
                ..STEP
            },
            Step {
                caption: "The base draws are coloured by component: the K = 8 base is a coarse copy of the target, \
                          close to a K-means quantisation of it, so the flow only refines it. Both runs pair base \
                          and data by OT, so both paths are nearly straight (the curvature chart stays near 0): \
                          the mixture makes them short.",
                layers: Some(Layers {
                    base: true,
                    trails: false,
                    ..TRAILS
                }),
                ..STEP
            },
            Step {
                caption: "Short, straight paths need few solver steps: in the W2 vs NFE chart the K = 8 curve \
                          is flat, one Euler step as good as 128, and it lies well below the K = 1 curve at every \
                          step count: the eight modes do most of the work, and the flow only refines them.",
                measure: Some(Measure::Nfe),
                ..STEP
            },
        ],
    },
    Demo {
        name: "out-of-distribution",
        title: "out of distribution: interpolating and extrapolating a descriptor",
        dataset: "ring-radius",
        runs: &[
            ("C-OT (Gaussian base)", |c| c.method = Method::COt),
            ("MixFlow-OOD (mixture base)", |c| c.method = Method::MixflowOod),
        ],
        steps: &[
            Step {
                caption: "The descriptor is a ring's radius. Training sees radii 1.0 to 1.6 and 2.4 to 3.0 only. \
                          Both runs are shown at a training radius: grey is the true ring, blue the samples.",
                layers: Some(Layers {
                    density: true,
                    ..TRAILS
                }),
                split: Some(Split::Train),
                ..STEP
            },
            Step {
                caption: "Interpolation: radius 1.8 was never trained. MixFlow-OOD's base components (ellipses) \
                          are placed by its descriptor encoder, so they move to the new radius; C-OT's base is the \
                          same N(0, I) for every radius and only its flow knows the descriptor.",
                split: Some(Split::Interpolation),
                ..STEP
            },
            Step {
                caption: "Extrapolation: radius 3.3 lies beyond every training radius. The paper's claim is that \
                          the mixture base generalises further: compare how close each run's samples come to the \
                          grey ring.",
                split: Some(Split::Extrapolation),
                ..STEP
            },
            Step {
                caption: "The W2 per descriptor chart (right) measures it at every listed radius: train, \
                          interpolation and extrapolation. Lower is better; the gap between the runs is the \
                          out-of-distribution claim, checked on this run.",
                measure: Some(Measure::Descriptors),
                ..STEP
            },
        ],
    },
    Demo {
        name: "couplings",
        title: "couplings: independent vs OT vs per-descriptor OT",
        dataset: "rotating-moons",
        runs: &[
            ("independent (RF)", |c| c.method = Method::Rf),
            ("OT over the batch (OT-CFM)", |c| c.method = Method::OtCfm),
            ("OT per descriptor (C-OT)", |c| c.method = Method::COt),
        ],
        steps: &[
            Step {
                caption: "The lines join one training minibatch's pairs: a source point (the purple end) and the \
                          data point it is trained to flow to (the yellow end). Only the pairing differs between the runs.",
                layers: Some(PAIRS),
                ..STEP
            },
            Step {
                caption: "Independent pairs (left) join random points: long lines that cross each other. Where \
                          they cross the field must average two directions, which bends the paths.",
                ..STEP
            },
            Step {
                caption: "OT over the batch (middle) pairs to minimise total squared length: lines are short and \
                          do not cross. But the batch mixes eight descriptors, so a point may be paired with the \
                          data of another descriptor.",
                ..STEP
            },
            Step {
                caption: "OT per descriptor (right) solves one assignment inside each descriptor group: short, \
                          uncrossed pairs that also respect the condition. In the curvature chart both OT runs are \
                          far straighter than independent pairs; in the W2 chart only C-OT's straight paths also \
                          lead to the right descriptor's data.",
                layers: Some(TRAILS),
                ..STEP
            },
        ],
    },
    Demo {
        name: "memorisation",
        title: "memorisation: the exact field copies its training set, a network generalises",
        dataset: "moons",
        runs: &[
            ("RF on 16 points", |c| {
                c.method = Method::Rf;
                c.train_n = Some(16);
            }),
            ("RF on 1,024 points", |c| {
                c.method = Method::Rf;
                c.train_n = Some(1024);
            }),
        ],
        steps: &[
            Step {
                caption: "Both runs learn moons with RF from the same seeds: one from a fixed set of 16 points, the \
                          other from 1,024 (the rings in the lab). On a finite set the loss has an exact minimiser, \
                          the empirical field u*: the lab draws it (orange) beside the network's v_θ (blue). From the \
                          same noise, u*'s samples all land on training points: it memorises, 100%.",
                layers: Some(TRAILS),
                lab: Some(LabFocus { run: 0, tau: 1.0 }),
                ..STEP
            },
            Step {
                caption: "The network does not copy: at step 1,000 about 30% of its samples pass the memorisation \
                          test (nearest training point three times closer than the next), and they lie about 0.46 from \
                          the training set against 0.85 from held-out points. Its gap to u* is small at early t and \
                          grows toward t = 1; the hybrid (v_θ until τ = 0.5, then u*) memorises every sample again: \
                          where a sample ends is decided late.",
                lab: Some(LabFocus { run: 0, tau: 0.5 }),
                ..STEP
            },
            Step {
                caption: "With 1,024 points the network's samples lie as close to held-out points as to training \
                          points (about 0.12 against 0.13): it generalises, and fewer of them pass the test than on 16 \
                          points. Train on and watch the memorised chart below: E5 in docs/RESULTS.md follows both \
                          sizes to the end.",
                lab: Some(LabFocus { run: 1, tau: 1.0 }),
                ..STEP
            },
        ],
    },
];

/// Each demo run's cached start (weights and step, f16), trained by `mixflow demos --bake
/// assets/demos`, so a demo opens on a trained picture while training goes on live. Beside each
/// is the config it was trained with; a test checks that the demos still ask for those.
const STARTS: &[(&str, &[u8])] = &[
    ("curvature-0", include_bytes!("../../assets/demos/curvature-0.start")),
    ("curvature-1", include_bytes!("../../assets/demos/curvature-1.start")),
    ("curvature-2", include_bytes!("../../assets/demos/curvature-2.start")),
    (
        "mixture-bases-0",
        include_bytes!("../../assets/demos/mixture-bases-0.start"),
    ),
    (
        "mixture-bases-1",
        include_bytes!("../../assets/demos/mixture-bases-1.start"),
    ),
    (
        "out-of-distribution-0",
        include_bytes!("../../assets/demos/out-of-distribution-0.start"),
    ),
    (
        "out-of-distribution-1",
        include_bytes!("../../assets/demos/out-of-distribution-1.start"),
    ),
    ("couplings-0", include_bytes!("../../assets/demos/couplings-0.start")),
    ("couplings-1", include_bytes!("../../assets/demos/couplings-1.start")),
    ("couplings-2", include_bytes!("../../assets/demos/couplings-2.start")),
    (
        "memorisation-0",
        include_bytes!("../../assets/demos/memorisation-0.start"),
    ),
    (
        "memorisation-1",
        include_bytes!("../../assets/demos/memorisation-1.start"),
    ),
];

/// A step that changes nothing on screen; `..STEP` fills what a step leaves out.
const STEP: Step = Step {
    caption: "",
    layers: None,
    source_w: None,
    split: None,
    measure: None,
    lab: None,
};

impl Demo {
    pub fn find(name: &str) -> Result<&'static Demo, String> {
        DEMOS.iter().find(|d| d.name == name.trim()).ok_or_else(|| {
            format!(
                "no demo named `{name}`; the demos are {}",
                DEMOS.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The runs' configs and legends: the app's defaults on the demo's data, changed per run.
    pub fn runs(&self, backend: crate::backend::BackendKind) -> Vec<(String, TrainConfig)> {
        let base = TrainConfig {
            dataset: self.dataset.into(),
            method: Method::MixflowOod,
            steps: 4000,
            lr_schedule: LrSchedule::Cosine,
            w: MixWeight::Uniform,
            backend,
            ..TrainConfig::default()
        };
        self.runs
            .iter()
            .map(|(label, edit)| {
                let mut config = base.clone();
                edit(&mut config);
                (label.to_string(), config)
            })
            .collect()
    }

    /// The bundled cached start of run `index`.
    pub fn cached_start(&self, index: usize) -> Option<&'static [u8]> {
        let key = format!("{}-{index}", self.name);
        STARTS.iter().find(|(k, _)| *k == key).map(|(_, bytes)| *bytes)
    }

    /// The view settings a demo opens with (the first step's layers apply on top).
    pub fn settings(&self, current: &Settings) -> Settings {
        Settings {
            config: self.runs(current.config.backend)[0].1.clone(),
            comparing: false,
            source_w: 0.0,
            ..current.clone()
        }
    }
}

/// Where a demo is: which one, which caption, and whether it is being presented. It is also
/// the link to it: `demo=NAME&step=K&presenter` (what follows `#` in the page's address).
#[derive(Clone, Copy)]
pub struct Position {
    pub demo: &'static Demo,
    /// 0-based.
    pub step: usize,
    pub presenter: bool,
}

impl Position {
    pub fn to_fragment(&self) -> String {
        let presenter = if self.presenter { "&presenter" } else { "" };
        format!("demo={}&step={}{presenter}", self.demo.name, self.step + 1)
    }

    /// The demo a fragment opens; `None` when the fragment is not a demo link at all.
    pub fn from_fragment(fragment: &str) -> Option<Result<Self, String>> {
        let mut parts = fragment.trim_start_matches('#').trim().split('&');
        let name = parts.next()?.strip_prefix("demo=")?;
        Some((|| {
            let mut position = Position {
                demo: Demo::find(name)?,
                step: 0,
                presenter: false,
            };
            for part in parts {
                match part.split_once('=') {
                    Some(("step", k)) => {
                        let n = position.demo.steps.len();
                        position.step = k
                            .parse::<usize>()
                            .ok()
                            .filter(|k| (1..=n).contains(k))
                            .ok_or_else(|| format!("the link's demo step `{k}` is not one of 1 to {n}"))?
                            - 1;
                    }
                    None if part == "presenter" => position.presenter = true,
                    _ => return Err(format!("the link's demo part `{part}` is not understood")),
                }
            }
            Ok(position)
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, DatasetRequest};

    #[test]
    fn every_demo_runs_valid_configs_and_has_captions() {
        for demo in DEMOS {
            assert!(!demo.steps.is_empty() && demo.steps.iter().all(|s| !s.caption.is_empty()));
            let runs = demo.runs(crate::backend::BackendKind::Cpu);
            assert!(
                (1..=4).contains(&runs.len()),
                "{}: the canvas grid holds 1 to 4 runs",
                demo.name
            );
            for (label, config) in runs {
                let data = Dataset::load(&DatasetRequest {
                    name: config.dataset.clone(),
                    ..Default::default()
                })
                .unwrap();
                config
                    .validate(&data)
                    .unwrap_or_else(|e| panic!("{} / {label}: {e}", demo.name));
            }
        }
    }

    #[test]
    fn demo_links_round_trip_and_bad_ones_say_why() {
        let p = Position {
            demo: Demo::find("couplings").unwrap(),
            step: 2,
            presenter: true,
        };
        assert_eq!(p.to_fragment(), "demo=couplings&step=3&presenter");
        let back = Position::from_fragment(&p.to_fragment()).unwrap().unwrap();
        assert_eq!((back.demo.name, back.step, back.presenter), ("couplings", 2, true));
        assert!(Position::from_fragment("v1=abc").is_none());
        let e = Position::from_fragment("#demo=curvature&step=9")
            .unwrap()
            .err()
            .unwrap();
        assert_eq!(e, "the link's demo step `9` is not one of 1 to 5");
        let e = Position::from_fragment("demo=curvature&zoom=2").unwrap().err().unwrap();
        assert!(e.contains("`zoom=2`"), "{e}");
    }

    #[test]
    fn every_demo_run_has_a_cached_start_for_its_current_config() {
        for demo in DEMOS {
            for (i, (label, config)) in demo.runs(crate::backend::BackendKind::Cpu).into_iter().enumerate() {
                let what = format!(
                    "{} / {label}: regenerate with `mixflow demos --bake assets/demos`",
                    demo.name
                );
                let path = format!("{}/assets/demos/{}-{i}.json", env!("CARGO_MANIFEST_DIR"), demo.name);
                let baked: TrainConfig = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
                assert_eq!(baked, config, "{what}");
                let mut trainer = crate::train::Trainer::new(config).unwrap();
                trainer.start_from(demo.cached_start(i).expect(&what)).expect(&what);
                assert_eq!(trainer.steps_done(), 1000);
            }
        }
        use crate::train::WeightsError;
        let mut rf = crate::train::Trainer::new(TrainConfig::default()).unwrap();
        let e = rf.start_from(DEMOS[1].cached_start(0).unwrap()).err().unwrap();
        assert_eq!(e, WeightsError::StartMismatch);
        assert_eq!(e.to_string(), "the cached start does not fit this run's network");
        assert_eq!(rf.start_from(b"MFS1junk").err().unwrap(), WeightsError::Damaged);
    }

    #[test]
    fn an_unknown_demo_lists_the_known_ones() {
        let e = Demo::find("nope").err().unwrap();
        assert!(
            e.contains("curvature, mixture-bases, out-of-distribution, couplings"),
            "{e}"
        );
    }
}
