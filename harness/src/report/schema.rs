//! The schema of `report.json`, the one source of truth for it: `cachet run` fills a [`Report`],
//! `report` renders it and writes it, `report::compare` reads it back with [`load`].
//!
//! The predictions, observations and verdicts in it are the model's and the checker's own types
//! (`models::Outcome`, `observe::Observation`, `check::StepVerdict`), which read back as they
//! are written. A rule id reads back only if this cachet's rule tables know it (rule ids are
//! stable: renaming one is a schema change). What is here besides them is the run's shape: the
//! summary, the scenarios' results, their shrinking, and the histories without the raw logs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::check::StepVerdict;
pub use crate::engine::observe::Observation;
use crate::error::{Error, Result};
pub use models::predict::{Outcome, Prediction, Reason, ReasonKind, StepPrediction};

/// The `format_version` this cachet writes and the only one it reads. Bump it when a field
/// changes meaning or goes away (an added field with a default is not a new version).
pub const SCHEMA_VERSION: u32 = 1;

/// `report.json`: one run, every engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The schema version ([`SCHEMA_VERSION`]); named `format_version` since the first report.
    pub format_version: u32,
    pub seed: u64,
    /// `(engine, version)` of every engine of the run.
    pub engines: Vec<(String, String)>,
    pub summary: Summary,
    /// Per scenario and engine, sorted by engine, then scenario.
    pub results: Vec<ScenarioResult>,
    /// Which machine ran it (`--label`, or host a's distro): merged matrices tell runs of the
    /// same engine names on different machines apart by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Engines whose part of the run stopped early, and why (the rest of the run went on; what
    /// they finished is in `results`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aborted: Vec<(String, String)>,
    /// The model profile each engine was checked against (`buildkit-cli:28`), chosen from the
    /// version it reported, and a note where that choice is approximate (a version newer than
    /// any the model knows). Absent in reports written before engine generations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<EngineProfile>,
    /// The run's findings grouped by root cause (`report::buckets`), paths relative to the report's
    /// directory. Absent in reports written before buckets (readers derive them from
    /// `results`: `buckets::of_loaded`).
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    /// The known-divergence catalogue the run classified its findings with (`built-in (cachet
    /// 0.1.0)`, a file's path, or `none`). Absent in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<String>,
    /// Written while the run went on (after each scenario): more scenarios were to come, and the
    /// run's cleanup had not run. A run killed mid-way leaves such a report.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// One engine's model profile in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineProfile {
    pub engine: String,
    pub profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub scenarios: usize,
    pub builds: usize,
    /// Confirmed discrepancies the catalogue does not explain.
    pub discrepancies: usize,
    /// Confirmed discrepancies the known-divergence catalogue explains.
    #[serde(default)]
    pub known: usize,
    pub unconfirmed: usize,
    pub indeterminate: usize,
    /// Scenarios a fault cost (`ScenarioResult::lost`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One scenario on one engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub index: usize,
    pub engine: String,
    pub history: History,
    /// `(build, step, observed)` of discrepancies seen again from a fresh salt.
    pub confirmed: Vec<(usize, usize, String)>,
    /// Confirmed discrepancies the known-divergence catalogue explains: `(build, step, observed,
    /// link)`. Reported, not counted as nonconformance.
    #[serde(default)]
    pub known: Vec<(usize, usize, String, String)>,
    /// Discrepancies that did not show again: recorded, not counted.
    pub unconfirmed: usize,
    pub case_file: Option<PathBuf>,
    #[serde(default)]
    pub reproducer: Option<PathBuf>,
    #[serde(default)]
    pub shrunk: Option<ShrinkInfo>,
    /// The rules the shrunk finding implicates: those whose mutant (the rule switched off in the
    /// model) predicts what the engine did at every checked step (`run::suspects`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspects: Vec<String>,
    /// Why the scenario could not run to its end, if it could not: a host or the registry it
    /// needs stopped answering (the run waited, then went on). Its builds are no verdicts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<String>,
    /// The kinds of the mutations before each build (`known::mutation_kinds_per_build`: build
    /// `n` at index `n - 1`): the mutation of a bucket's signature. Absent in older reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutations: Vec<Vec<String>>,
    /// `(build, step, cause)` of each confirmed or known discrepancy: the kinds of the mutations
    /// that made the input difference the model's reason names (`known::cause`), whatever the
    /// builds between did; the mutation of a bucket's signature. Absent in older reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<(usize, usize, String)>,
    /// The shrunk scenario's builds (what the pages show first, the original folded below).
    /// Absent when nothing was shrunk, and in older reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk_history: Option<History>,
    /// The engine's raw output of each build of the shrunk scenario (`logs/NAME-build-N.log`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<PathBuf>,
    /// `(rule, build, step)`: the first kill in this scenario of each watched mutant not caught
    /// in an earlier one (`cachet mutants --engine`), seen again from a fresh salt. Absent in
    /// every other run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kills: Vec<(String, usize, usize)>,
}

impl ScenarioResult {
    /// Scenario `index` on `engine` with `history` and nothing found, confirmed or shrunk yet.
    pub fn of_history(index: usize, engine: &str, history: History) -> ScenarioResult {
        ScenarioResult {
            index,
            engine: engine.to_string(),
            history,
            confirmed: Vec::new(),
            known: Vec::new(),
            unconfirmed: 0,
            case_file: None,
            reproducer: None,
            shrunk: None,
            suspects: Vec::new(),
            lost: None,
            mutations: Vec::new(),
            causes: Vec::new(),
            shrunk_history: None,
            logs: Vec::new(),
            kills: Vec::new(),
        }
    }

    /// A scenario a fault cost: no builds, and why.
    pub fn lost(index: usize, engine: &str, why: String) -> ScenarioResult {
        let history = History {
            engine: engine.to_string(),
            salt: String::new(),
            builds: Vec::new(),
        };
        ScenarioResult {
            lost: Some(why),
            ..ScenarioResult::of_history(index, engine, history)
        }
    }
}

/// What shrinking cost and left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShrinkInfo {
    pub builds_spent: usize,
    pub candidates_tried: usize,
    pub builds: usize,
    pub instructions: usize,
    pub files: usize,
}

/// Every build of one scenario on one engine (the run's `execute::History` without raw logs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub engine: String,
    /// The salt of the scenario's base image (`localhost/cachet-base:<salt>`).
    pub salt: String,
    pub builds: Vec<BuildRecord>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub transition: usize,
    pub host: String,
    pub engine: String,
    pub options: models::BuildOptions,
    pub prediction: Prediction,
    pub observation: Observation,
    pub verdicts: Vec<StepVerdict>,
    /// The second oracle (`--fresh-check`): how this build's image differs from a fresh
    /// `--no-cache` build of the same input. Empty when they agree or the check did not run.
    #[serde(default)]
    pub stale: Vec<String>,
    /// How long the engine took over the build, in milliseconds (0 in reports written before).
    #[serde(default)]
    pub millis: usize,
}

impl History {
    pub fn indeterminate_count(&self) -> usize {
        crate::check::indeterminate_count(self.builds.iter().flat_map(|b| &b.verdicts))
    }
}

impl Report {
    /// A report of results (sorted by engine, then scenario), with its summary; no label, no
    /// aborted engines.
    pub fn from_results(
        seed: u64,
        engines: Vec<(String, String)>,
        mut results: Vec<ScenarioResult>,
    ) -> Report {
        results.sort_by(|a, b| (a.engine.as_str(), a.index).cmp(&(b.engine.as_str(), b.index)));
        let summary = Summary {
            scenarios: results.len(),
            builds: results.iter().map(|r| r.history.builds.len()).sum(),
            discrepancies: results.iter().map(|r| r.confirmed.len()).sum(),
            known: results.iter().map(|r| r.known.len()).sum(),
            unconfirmed: results.iter().map(|r| r.unconfirmed).sum(),
            indeterminate: results
                .iter()
                .map(|r| r.history.indeterminate_count())
                .sum(),
            lost: results.iter().filter(|r| r.lost.is_some()).count(),
        };
        Report {
            format_version: SCHEMA_VERSION,
            seed,
            engines,
            summary,
            results,
            label: None,
            aborted: Vec::new(),
            profiles: Vec::new(),
            buckets: Vec::new(),
            catalogue: None,
            partial: false,
        }
    }

    /// The version an engine of the run reported, by engine name.
    pub fn engine_version(&self, engine: &str) -> Option<&str> {
        self.engines
            .iter()
            .find(|(name, _)| name == engine)
            .map(|(_, version)| version.as_str())
    }

    /// `report.json`'s text.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Harness(format!("serialising the report: {e}")))
    }

    /// A report from `report.json`'s text; `file` names it in errors. A malformed report, or
    /// one of another schema version, is bad input (exit 2), with serde's line and column.
    pub fn from_json(text: &str, file: &Path) -> Result<Report> {
        let bad = |e: serde_json::Error| Error::BadInput(format!("{}: {e}", file.display()));
        // The version first, so that a report of another schema says so rather than failing
        // on whichever field changed.
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<u32>,
        }
        match serde_json::from_str::<Version>(text).map_err(bad)?.format_version {
            Some(SCHEMA_VERSION) => serde_json::from_str::<Report>(text).map_err(bad),
            Some(other) => Err(Error::BadInput(format!(
                "{}: report format_version {other}: this cachet reads version {SCHEMA_VERSION} only",
                file.display()
            ))),
            None => Err(Error::BadInput(format!(
                "{}: no `format_version`: not a cachet report.json",
                file.display()
            ))),
        }
    }
}

/// Reads a run's `report.json` (or the directory holding it); returns it with the file's path.
pub fn load(path: &Path) -> Result<(Report, PathBuf)> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| Error::Read {
        path: file.clone(),
        source,
    })?;
    Ok((Report::from_json(&text, &file)?, file))
}

/// One root cause: every finding of one signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Engine kind (`classic`, `buildkit-cli`, `buildx`, ...): the engine name before `@`.
    pub engine_kind: String,
    /// The engine generation (`20.10`, `28`, `5.8`: the model profile's), or the engine's
    /// version where the report names no profile.
    pub generation: String,
    /// The rule the model cites at the first differing step (`-` where it cites none).
    pub rule: String,
    /// The kinds of the mutations that caused the first differing step (`known::cause`: for a
    /// source the model names, the mutations of that source's attribute in any build up to the
    /// finding's; else the build's own), `write-same-size+chmod`, `none`; `?` in reports that did
    /// not record them.
    pub mutation: String,
    pub predicted: String,
    pub observed: String,
    /// Findings (first differing steps of a build) in the bucket.
    pub count: usize,
    /// The run (or night) it was first seen in.
    pub first_seen: String,
    /// Where: `ENGINE #SCENARIO build B step S`, one per finding.
    #[serde(default)]
    pub findings: Vec<String>,
    /// The smallest shrunk finding's case file and reproducer, relative to the directory of the
    /// report (or merged page) holding the bucket, and its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrunk: Option<ShrinkInfo>,
    /// The upstream link of a known divergence (the catalogue's); none for a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// What makes two findings the same root cause.
pub type Signature = (String, String, String, String, String, String);

impl Bucket {
    pub fn signature(&self) -> Signature {
        (
            self.engine_kind.clone(),
            self.generation.clone(),
            self.rule.clone(),
            self.mutation.clone(),
            self.predicted.clone(),
            self.observed.clone(),
        )
    }

    /// The signature without the generation: how `report diff` pairs buckets across an upgrade.
    pub fn cause(&self) -> (String, String, String, String, String) {
        let (kind, _, rule, mutation, predicted, observed) = self.signature();
        (kind, rule, mutation, predicted, observed)
    }

    pub fn is_known(&self) -> bool {
        self.link.is_some()
    }

    /// `ENGINE-KIND GENERATION: RULE after MUTATION, predicted P, observed O`.
    pub fn title(&self) -> String {
        format!(
            "{} {}: {} after {}, predicted {}, observed {}",
            self.engine_kind,
            self.generation,
            self.rule,
            self.mutation,
            self.predicted,
            self.observed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_id_no_table_knows_is_refused() {
        let text = r#"{"outcome":"cached","rule":"no.such-rule","from":null}"#;
        let e = serde_json::from_str::<Outcome>(text).expect_err("refused");
        assert!(
            e.to_string().contains("`no.such-rule` is not a rule id"),
            "{e}"
        );
    }
}
