//! What to learn from: the dataset catalogue of SPEC section 6. A [`Dataset`] samples points in
//! original units, unconditionally or for one of its descriptor [`Condition`]s, each tagged with its
//! split. Parsing of dataset names lives here; the generators live in the submodules.

mod family;
mod glyphs;
mod lowdim;
mod table;
mod toy;

pub use family::Family;
pub use lowdim::LowDim;
pub use table::{CsvSpec, MAX_ROWS, Preview, Table, column_names, preview, read_csv, remember, write_points};
pub use toy::Toy;

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Which part of a conditional family a descriptor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Interpolation,
    Extrapolation,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Interpolation, Split::Extrapolation];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Interpolation => "interpolation",
            Split::Extrapolation => "extrapolation",
        }
    }
}

/// One descriptor value of a conditional family.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub descriptor: Vec<f32>,
    pub split: Split,
    /// Human-readable name, e.g. `A @ 90°`.
    pub label: String,
}

/// Row-major points: `len() / dim` rows of `dim` numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct Points {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Points {
    pub fn new(dim: usize, data: Vec<f32>) -> Self {
        assert!(
            dim > 0 && data.len().is_multiple_of(dim),
            "points of dim {dim} from {} numbers",
            data.len()
        );
        Self { dim, data }
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    /// Mean of each dimension.
    pub fn mean(&self) -> Vec<f64> {
        let mut m = vec![0.0f64; self.dim];
        for r in self.rows() {
            for (a, &x) in m.iter_mut().zip(r) {
                *a += x as f64;
            }
        }
        m.iter_mut().for_each(|a| *a /= self.len().max(1) as f64);
        m
    }

    /// Population standard deviation of each dimension.
    pub fn std(&self) -> Vec<f64> {
        let m = self.mean();
        let mut v = vec![0.0f64; self.dim];
        for r in self.rows() {
            for ((a, &x), mu) in v.iter_mut().zip(r).zip(&m) {
                *a += (x as f64 - mu).powi(2);
            }
        }
        v.iter().map(|a| (a / self.len().max(1) as f64).sqrt()).collect()
    }
}

/// Every dataset name the command line accepts (besides `csv:PATH`).
pub const NAMES: &[&str] = &[
    "gaussian",
    "8gaussians",
    "moons",
    "checkerboard",
    "spirals",
    "circles",
    "pinwheel",
    "swissroll",
    "letters",
    "rotating-moons",
    "shifting-modes",
    "ring-radius",
    "lowdim-perturbation",
];

#[derive(Clone, Debug)]
enum Generator {
    Toy(Toy),
    Family(Family),
    LowDim(LowDim),
    /// Rows read from a file, grouped by descriptor (one group when it has none).
    Table(Vec<Points>),
}

/// A target distribution, possibly conditioned on descriptors.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub dim: usize,
    /// Length of the descriptor vector; 0 for unconditional data.
    pub descriptor_dim: usize,
    /// Empty for unconditional data.
    pub conditions: Vec<Condition>,
    /// Something the user should know about the data (a file cut at the row limit).
    pub note: Option<String>,
    generator: Generator,
}

/// What the user asked for: a name plus the settings some datasets take.
#[derive(Clone, Debug, Default)]
pub struct DatasetRequest {
    pub name: String,
    /// Dimension for `lowdim-perturbation` (2..=32).
    pub dim: Option<usize>,
    pub csv: Option<CsvSpec>,
    pub data_seed: u64,
}

impl Dataset {
    pub fn load(req: &DatasetRequest) -> Result<Self, String> {
        let name = req.name.trim();
        if let Some(path) = name.strip_prefix("csv:") {
            let spec = req.csv.clone().unwrap_or_default();
            return table::load(path, &spec);
        }
        if let Some(toy) = Toy::parse(name) {
            return Ok(Self::unconditional(name, Generator::Toy(toy), 2));
        }
        if let Some(family) = Family::parse(name) {
            let conditions = family.conditions();
            return Ok(Self {
                name: name.to_string(),
                dim: 2,
                descriptor_dim: conditions[0].descriptor.len(),
                conditions,
                note: None,
                generator: Generator::Family(family),
            });
        }
        if name == "lowdim-perturbation" {
            let dim = req.dim.unwrap_or(8);
            if !(2..=32).contains(&dim) {
                return Err(format!(
                    "setting `dim`: lowdim-perturbation takes 2 to 32 dimensions, got {dim}"
                ));
            }
            let lowdim = LowDim::new(dim, req.data_seed);
            return Ok(Self {
                name: name.to_string(),
                dim,
                descriptor_dim: lowdim::DESCRIPTOR_DIM,
                conditions: lowdim.conditions(),
                note: None,
                generator: Generator::LowDim(lowdim),
            });
        }
        Err(format!(
            "unknown dataset `{name}`.{} Choose one of {}, or csv:PATH",
            crate::suggest::did_you_mean(name, NAMES.iter().copied()),
            NAMES.join(", ")
        ))
    }

    fn unconditional(name: &str, generator: Generator, dim: usize) -> Self {
        Self {
            name: name.to_string(),
            dim,
            descriptor_dim: 0,
            conditions: Vec::new(),
            note: None,
            generator,
        }
    }

    pub(crate) fn from_table(name: String, dim: usize, groups: Vec<(Vec<f32>, Points)>) -> Self {
        let descriptor_dim = groups[0].0.len();
        let conditions = if descriptor_dim == 0 {
            Vec::new()
        } else {
            groups
                .iter()
                .map(|(d, _)| Condition {
                    descriptor: d.clone(),
                    split: Split::Train,
                    label: format!("{d:?}"),
                })
                .collect()
        };
        let tables = groups.into_iter().map(|(_, p)| p).collect();
        Self {
            name,
            dim,
            descriptor_dim,
            conditions,
            note: None,
            generator: Generator::Table(tables),
        }
    }

    pub fn is_conditional(&self) -> bool {
        self.descriptor_dim > 0
    }

    /// Indices of the conditions in `split`.
    pub fn split_indices(&self, split: Split) -> Vec<usize> {
        (0..self.conditions.len())
            .filter(|&i| self.conditions[i].split == split)
            .collect()
    }

    /// `n` points in original units, for condition `cond` (ignored by unconditional data).
    pub fn sample(&self, cond: Option<usize>, n: usize, rng: &mut Rng) -> Points {
        let c = cond.map(|i| &self.conditions[i]);
        match &self.generator {
            Generator::Toy(t) => t.sample(n, rng),
            Generator::Family(f) => f.sample(c.expect("conditional family needs a condition"), n, rng),
            Generator::LowDim(l) => l.sample(&c.expect("conditional family needs a condition").descriptor, n, rng),
            Generator::Table(groups) => {
                let g = &groups[cond.unwrap_or(0)];
                let mut data = Vec::with_capacity(n * self.dim);
                for _ in 0..n {
                    data.extend_from_slice(g.row(crate::rng::index(rng, g.len())));
                }
                Points::new(self.dim, data)
            }
        }
    }

    /// `n` true points for any descriptor value, also one between or beyond the listed conditions
    /// (the descriptor explorer's slider); None where the data has no generator (tables).
    pub fn sample_at(&self, descriptor: &[f32], n: usize, rng: &mut Rng) -> Option<Points> {
        match &self.generator {
            Generator::Family(f) => Some(f.sample_descriptor(descriptor, n, rng)),
            Generator::LowDim(l) => Some(l.sample(descriptor, n, rng)),
            Generator::Toy(t) => Some(t.sample(n, rng)),
            Generator::Table(_) => {
                let cond = self.conditions.iter().position(|c| c.descriptor == descriptor)?;
                Some(self.sample(Some(cond), n, rng))
            }
        }
    }

    /// Whether the data is a finite table (then the "target" is the table itself).
    pub fn is_table(&self) -> bool {
        matches!(self.generator, Generator::Table(_))
    }
}

/// Per-dimension affine map of the training split to [-1, 1] (SPEC section 2); identity when off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
}

impl Scaler {
    pub fn identity(dim: usize) -> Self {
        Self {
            lo: vec![-1.0; dim],
            hi: vec![1.0; dim],
        }
    }

    pub fn fit(points: &Points) -> Self {
        let mut lo = vec![f32::INFINITY; points.dim];
        let mut hi = vec![f32::NEG_INFINITY; points.dim];
        for r in points.rows() {
            for d in 0..points.dim {
                lo[d] = lo[d].min(r[d]);
                hi[d] = hi[d].max(r[d]);
            }
        }
        for d in 0..points.dim {
            if hi[d] - lo[d] < 1e-6 {
                hi[d] = lo[d] + 1.0;
            }
        }
        Self { lo, hi }
    }

    pub fn forward(&self, p: &Points) -> Points {
        self.map(p, |x, lo, hi| 2.0 * (x - lo) / (hi - lo) - 1.0)
    }

    pub fn inverse(&self, p: &Points) -> Points {
        self.map(p, |y, lo, hi| (y + 1.0) * 0.5 * (hi - lo) + lo)
    }

    /// Half the training range of dimension `d`: how a spread in model space scales to original units.
    pub fn half_range(&self, d: usize) -> f32 {
        0.5 * (self.hi[d] - self.lo[d])
    }

    fn map(&self, p: &Points, f: impl Fn(f32, f32, f32) -> f32) -> Points {
        let dim = p.dim;
        let data = p
            .data
            .iter()
            .enumerate()
            .map(|(i, &x)| f(x, self.lo[i % dim], self.hi[i % dim]))
            .collect();
        Points::new(dim, data)
    }
}
