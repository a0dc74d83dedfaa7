//! The training methods and what distinguishes them. The baselines of SPEC section 3.1 share one
//! conditional flow-matching step and differ only in how x0 is paired with x1.

use crate::coupling::Coupling;
use crate::data::Dataset;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Rectified flow / I-CFM: independent coupling (descriptor-conditioned on conditional data).
    #[default]
    Rf,
    /// OT-CFM: exact optimal assignment over the whole minibatch.
    OtCfm,
    /// Conditional OT: exact assignment inside each descriptor group.
    COt,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Rf => "rf",
            Method::OtCfm => "ot-cfm",
            Method::COt => "c-ot",
        }
    }

    pub fn coupling(self) -> Coupling {
        match self {
            Method::Rf => Coupling::Independent,
            Method::OtCfm => Coupling::Exact,
            Method::COt => Coupling::PerGroup,
        }
    }

    /// Refuses method and dataset combinations that make no sense.
    pub fn check(self, dataset: &Dataset) -> Result<(), String> {
        if self == Method::COt && !dataset.is_conditional() {
            return Err(format!(
                "setting `method`: c-ot pairs inside descriptor groups, but `{}` has no descriptors (use ot-cfm)",
                dataset.name
            ));
        }
        Ok(())
    }
}
