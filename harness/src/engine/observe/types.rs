//! The outcome types of observation: what a build showed of each step (`Observed`) and of the
//! whole build (`Observation`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "observed", rename_all = "snake_case")]
pub enum Observed {
    Cached,
    Rebuilt,
    Failed {
        message: String,
    },
    /// The harness cannot tell (the engine died, the step never completed, ...): not a verdict.
    Indeterminate {
        why: String,
    },
}

impl Observed {
    pub fn short(&self) -> &'static str {
        match self {
            Observed::Cached => "cached",
            Observed::Rebuilt => "rebuilt",
            Observed::Failed { .. } => "failed",
            Observed::Indeterminate { .. } => "indeterminate",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Deserialize)]
pub struct Observation {
    /// Outcome by 1-based Dockerfile step; steps the engine did not report are absent.
    pub steps: BTreeMap<usize, Observed>,
    /// The build's error, if it failed.
    pub error: Option<String>,
    /// Set when the whole build's outcome is unknown (engine died, timed out, transport error).
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    /// Images the build left behind besides its tag (Podman's intermediate images), to remove.
    pub intermediate_images: Vec<String>,
    /// The engine's raw output, for reports.
    #[serde(skip)]
    pub log: String,
}
