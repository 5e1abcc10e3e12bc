//! The answer `cachet explain` gives (`Explanation`, per profile and per step, with its
//! warnings), the profile it is given for (`Target`), and the inputs every target's answer reads.

use std::collections::BTreeMap;

use models::{Build, Profile};
use serde::Serialize;

use super::changes::{ArgChange, Change};
use super::snapshot::Snapshot;
use crate::engine::doors::{Offered, DOORS};

/// One profile to explain for, and the engine kinds and version the known catalogue's entries
/// are matched with (`Known::engine`, `Known::versions`).
#[derive(Clone, Debug)]
pub struct Target {
    pub profile: Profile,
    pub kinds: Vec<String>,
    pub version: String,
}

impl Target {
    /// A profile's target: the doors of its builder and transport (`engine::doors::DOORS`), a door
    /// that needs the CLI's built-in BuildKit client only on the oldest generation (the 20.10 CLI;
    /// from 23 on `docker build` is buildx); the version is the one the generation was measured on.
    pub fn of_profile(profile: Profile) -> Target {
        let kinds = DOORS
            .iter()
            .filter(|d| d.builder == profile.builder && d.transport == profile.transport)
            .filter(|d| d.offered != Offered::BuiltinBuildKit || profile.generation.is_oldest())
            .map(|d| d.name.to_string())
            .collect();
        let version = profile.generation.engine_version().to_string();
        Target {
            profile,
            kinds,
            version,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub dir: String,
    pub dockerfile: String,
    /// What differs between the snapshot and now, path by path.
    pub changes: Vec<Change>,
    /// Build args that differ.
    pub build_args: Vec<ArgChange>,
    /// What the model cannot represent or judge, file-wide.
    pub limits: Vec<String>,
    pub profiles: Vec<ProfileExplanation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProfileExplanation {
    pub profile: String,
    /// The model says the engine refuses the current build: why.
    pub rejected: Option<String>,
    /// The model says the engine refused the snapshot's build (nothing of it is cached): why.
    pub snapshot_rejected: Option<String>,
    /// The first step (in Dockerfile order) that is rebuilt or fails: the one to read first.
    pub first_miss: Option<usize>,
    pub steps: Vec<StepExplanation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepExplanation {
    pub step: usize,
    pub stage: usize,
    pub instruction: String,
    /// `cached`, `rebuilt`, `not-a-step`, `skipped`, `fails` or `unknown` (the model cannot say).
    pub outcome: String,
    pub rule: Option<String>,
    pub source: Option<String>,
    pub why: String,
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Warning {
    /// The engine kinds the catalogue entry is about.
    pub engine: String,
    /// What the engine is known to do there: `cached` (a stale hit), `stale` (a hit that keeps
    /// old files) or `rebuilt` (a miss where the model says it hits).
    pub observed: String,
    pub text: String,
    pub link: String,
}

/// What every target's explanation reads.
pub(super) struct Input<'a> {
    pub(super) before: Build,
    pub(super) now: Build,
    pub(super) before_args: &'a BTreeMap<String, String>,
    pub(super) now_args: &'a BTreeMap<String, String>,
    pub(super) changes: Vec<Change>,
    pub(super) before_snapshot: &'a Snapshot,
    pub(super) unread: &'a BTreeMap<usize, (String, String)>,
}
