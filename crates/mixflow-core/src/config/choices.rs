//! The choices a configuration names (which method, what MixFlow-RF's encoder reads, its mixing
//! weight): they live with the configuration, so the methods depend on it and not the other way.

use crate::coupling::Coupling;
use crate::data::Dataset;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Rectified flow / I-CFM: independent coupling (descriptor-conditioned on conditional data).
    #[default]
    Rf,
    /// OT-CFM: exact optimal assignment over the whole minibatch.
    OtCfm,
    /// Conditional OT: exact assignment inside each descriptor group.
    COt,
    /// MixFlow-OOD: descriptor-conditioned mixture base + per-descriptor OT flow matching.
    MixflowOod,
    /// MixFlow-RF: κ-FC mixed source distributions.
    MixflowRf,
    /// Fast-ODE: MixFlow-RF with w fixed at 1.
    FastOde,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Rf => "rf",
            Method::OtCfm => "ot-cfm",
            Method::COt => "c-ot",
            Method::MixflowOod => "mixflow-ood",
            Method::MixflowRf => "mixflow-rf",
            Method::FastOde => "fast-ode",
        }
    }

    /// How a baseline pairs x0 with x1 (the MixFlow methods make their own pairs).
    pub fn coupling(self) -> Option<Coupling> {
        match self {
            Method::Rf => Some(Coupling::Independent),
            Method::OtCfm => Some(Coupling::Exact),
            Method::COt => Some(Coupling::PerGroup),
            Method::MixflowOod | Method::MixflowRf | Method::FastOde => None,
        }
    }

    /// Refuses method and dataset combinations that make no sense.
    pub fn check(self, dataset: &Dataset) -> Result<(), super::SettingError> {
        if self == Method::COt && !dataset.is_conditional() {
            return Err(super::SettingError::new(
                "method",
                format!(
                    "c-ot pairs inside descriptor groups, but `{}` has no descriptors (use ot-cfm)",
                    dataset.name
                ),
            ));
        }
        Ok(())
    }
}

/// What MixFlow-RF's κ-FC encoder reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Kappa {
    /// The data point x1 (the paper's setting).
    #[default]
    Data,
    /// The descriptor c (conditional data only).
    Descriptor,
    /// Fresh noise.
    Noise,
}

/// MixFlow-RF's mixing weight w: drawn per sample from U(0, 1), or fixed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MixWeight {
    Uniform,
    Fixed(f32),
}

impl std::str::FromStr for MixWeight {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("setting `w`: `{s}` is neither `uniform` nor `fixed:X` with X in [0, 1]");
        match s.trim() {
            "uniform" => Ok(MixWeight::Uniform),
            other => {
                let x: f32 = other
                    .strip_prefix("fixed:")
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                if (0.0..=1.0).contains(&x) {
                    Ok(MixWeight::Fixed(x))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl std::fmt::Display for MixWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MixWeight::Uniform => write!(f, "uniform"),
            MixWeight::Fixed(x) => write!(f, "fixed:{x}"),
        }
    }
}

impl Serialize for MixWeight {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MixWeight {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}
