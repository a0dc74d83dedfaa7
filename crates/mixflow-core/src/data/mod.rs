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
pub use table::{
    CellProblem, CsvSpec, MAX_ROWS, Preview, Table, TableError, column_names, preview, read_csv, remember, remembered,
    write_points,
};
pub use toy::Toy;

use crate::config::SettingError;
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
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Condition {
    pub descriptor: Vec<f32>,
    pub split: Split,
    /// Human-readable name, e.g. `A @ 90°`.
    pub label: String,
}

/// Row-major points: `len() / dim` rows of `dim` numbers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The fixed training set training draws from, when the run has one (`train-n`).
    finite: Option<FiniteSets>,
}

/// Finite training sets (SPEC section 6, `train-n`): n points per training descriptor (one set for
/// unconditional data) drawn once from the data seed, and a held-out set of up to the same size
/// from the rest of the generator. Indexed like the conditions (index 0 without descriptors);
/// descriptors outside the training split have none.
#[derive(Clone, Debug)]
struct FiniteSets {
    train: Vec<Option<Points>>,
    held_out: Vec<Option<Points>>,
}

/// What the user asked for: a name plus the settings some datasets take.
#[derive(Clone, Debug, Default)]
pub struct DatasetRequest {
    pub name: String,
    /// Dimension for `lowdim-perturbation` (2..=32).
    pub dim: Option<usize>,
    pub csv: Option<CsvSpec>,
    pub data_seed: u64,
    /// Train on a fixed set of this many points per training descriptor (none: fresh draws).
    pub train_n: Option<usize>,
}

/// Why a dataset could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("unknown dataset `{name}`.{hint} Choose one of {}, or csv:PATH", NAMES.join(", "))]
    Unknown {
        name: String,
        /// " Did you mean `…`?" when a known name is close, else empty.
        hint: String,
    },
    #[error(transparent)]
    Table(#[from] TableError),
    /// A setting the dataset cannot take (`dim`, `train-n`).
    #[error(transparent)]
    Setting(#[from] SettingError),
}

impl Dataset {
    pub fn load(req: &DatasetRequest) -> Result<Self, DataError> {
        let dataset = Self::load_generator(req)?;
        match req.train_n {
            Some(n) => Ok(dataset.with_training_sets(n, req.data_seed)?),
            None => Ok(dataset),
        }
    }

    fn load_generator(req: &DatasetRequest) -> Result<Self, DataError> {
        let name = req.name.trim();
        if let Some(path) = name.strip_prefix("csv:") {
            let spec = req.csv.clone().unwrap_or_default();
            return Ok(table::load(path, &spec)?);
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
                finite: None,
            });
        }
        if name == "lowdim-perturbation" {
            let dim = req.dim.unwrap_or(8);
            if !(2..=32).contains(&dim) {
                let why = format!("lowdim-perturbation takes 2 to 32 dimensions, got {dim}");
                return Err(SettingError::new("dim", why).into());
            }
            let lowdim = LowDim::new(dim, req.data_seed);
            return Ok(Self {
                name: name.to_string(),
                dim,
                descriptor_dim: lowdim::DESCRIPTOR_DIM,
                conditions: lowdim.conditions(),
                note: None,
                generator: Generator::LowDim(lowdim),
                finite: None,
            });
        }
        Err(DataError::Unknown {
            name: name.to_string(),
            hint: crate::suggest::did_you_mean(name, NAMES.iter().copied()),
        })
    }

    fn unconditional(name: &str, generator: Generator, dim: usize) -> Self {
        Self {
            name: name.to_string(),
            dim,
            descriptor_dim: 0,
            conditions: Vec::new(),
            note: None,
            generator,
            finite: None,
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
            finite: None,
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

    /// `n` training points for condition `cond`: from the fixed training set when the run has one
    /// (uniformly, with replacement, like a table's rows), else fresh from the generator.
    pub fn train_sample(&self, cond: Option<usize>, n: usize, rng: &mut Rng) -> Points {
        match self.training_set(cond) {
            Some(set) => {
                let mut data = Vec::with_capacity(n * self.dim);
                for _ in 0..n {
                    data.extend_from_slice(set.row(crate::rng::index(rng, set.len())));
                }
                Points::new(self.dim, data)
            }
            None => self.sample(cond, n, rng),
        }
    }

    /// The fixed training set of condition `cond` (of the data, without descriptors), if any.
    pub fn training_set(&self, cond: Option<usize>) -> Option<&Points> {
        self.finite.as_ref()?.train.get(cond.unwrap_or(0))?.as_ref()
    }

    /// The held-out set that goes with [`Self::training_set`]; none where the data has no
    /// points left (a table of exactly n rows).
    pub fn held_out_set(&self, cond: Option<usize>) -> Option<&Points> {
        self.finite
            .as_ref()?
            .held_out
            .get(cond.unwrap_or(0))?
            .as_ref()
            .filter(|p| !p.is_empty())
    }

    /// Fixes the training sets at `n` points per training descriptor (SPEC section 6).
    fn with_training_sets(mut self, n: usize, data_seed: u64) -> Result<Self, SettingError> {
        use crate::rng::{Stream, seeded};
        let refuse = |why: String| SettingError::new("train-n", why);
        if n < crate::metrics::MIN_TRAINING_POINTS {
            return Err(refuse(format!(
                "a training set needs at least {} points (the memorisation test compares a \
                 sample's two nearest), got {n}",
                crate::metrics::MIN_TRAINING_POINTS
            )));
        }
        let groups = self.conditions.len().max(1);
        let (mut train, mut held_out) = (vec![None; groups], vec![None; groups]);
        for g in 0..groups {
            let cond = self.is_conditional().then_some(g);
            if cond.is_some_and(|c| self.conditions[c].split != Split::Train) {
                continue;
            }
            let (fit, rest) = match &self.generator {
                Generator::Table(tables) => {
                    split_rows(&tables[g], n, &mut seeded(data_seed, Stream::TrainingSet, g as u64)).map_err(
                        |rows| {
                            refuse(format!(
                                "{n} points asked for, but the data has {rows} rows{}",
                                self.conditions
                                    .get(g)
                                    .map(|c| format!(" for {}", c.label))
                                    .unwrap_or_default()
                            ))
                        },
                    )?
                }
                _ => {
                    let draw = |key: u64| self.sample(cond, n, &mut seeded(data_seed, Stream::TrainingSet, key));
                    (draw(2 * g as u64), draw(2 * g as u64 + 1))
                }
            };
            (train[g], held_out[g]) = (Some(fit), Some(rest));
        }
        self.finite = Some(FiniteSets { train, held_out });
        Ok(self)
    }
}

/// A table's rows shuffled once: the first `n` to train on, up to `n` of the rest held out; the
/// number of rows when there are fewer than `n`.
fn split_rows(rows: &Points, n: usize, rng: &mut Rng) -> Result<(Points, Points), usize> {
    let total = rows.len();
    if n > total {
        return Err(total);
    }
    let mut order: Vec<usize> = (0..total).collect();
    for i in 0..total.saturating_sub(1) {
        order.swap(i, i + crate::rng::index(rng, total - i));
    }
    let pick = |idx: &[usize]| Points::new(rows.dim, idx.iter().flat_map(|&i| rows.row(i).to_vec()).collect());
    Ok((pick(&order[..n]), pick(&order[n..total.min(2 * n)])))
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
