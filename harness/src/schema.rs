//! The schema of `report.json`, the one source of truth for it: `cachet run` fills a [`Report`],
//! `report.rs` renders it and writes it, `compare.rs` reads it back with [`load`].
//!
//! The model's own types (`models::Outcome`, `models::Prediction`) serialise only: rule ids are
//! `&'static str` into the rule tables. The report keeps the same JSON shape with owned strings,
//! so that a report written by another cachet (a rule renamed since) still reads back. The
//! conversions from the run's in-memory history are at the end of this file; a unit test checks
//! that both serialise to the same JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::Verdict;
use crate::error::{Error, Result};
use crate::observe::Observed;

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
    /// model) predicts what the engine did at every checked step (`suspects.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspects: Vec<String>,
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
}

/// `models::Prediction` with owned rule ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub profile: String,
    /// The engine refuses the Dockerfile before building (its parse error, in the model's words).
    pub rejected: Option<String>,
    pub steps: Vec<StepPrediction>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPrediction {
    pub step: usize,
    pub stage: usize,
    pub stage_name: Option<String>,
    pub instruction: String,
    pub outcome: Outcome,
}

/// `models::Outcome` with owned rule ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Cached { rule: String, from: Option<String> },
    Rebuilt { reason: Reason },
    NotAStep { rule: String },
    Skipped { why: String },
    Fails { why: String },
    Unsupported { why: String },
}

impl Outcome {
    /// `cached`, `rebuilt`, ... as `models::Outcome::short` says it.
    pub fn short(&self) -> &'static str {
        match self {
            Outcome::Cached { .. } => "cached",
            Outcome::Rebuilt { .. } => "rebuilt",
            Outcome::NotAStep { .. } => "not-a-step",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Fails { .. } => "fails",
            Outcome::Unsupported { .. } => "unsupported",
        }
    }

    /// The rule a checked step's prediction cites: a cache hit's or a rebuild's. (A step the
    /// model does not check, `NotAStep`, cites one too: see [`Outcome::cited_rule`].)
    pub fn deciding_rule(&self) -> Option<&str> {
        match self {
            Outcome::Cached { rule, .. } => Some(rule),
            Outcome::Rebuilt { reason } => Some(&reason.rule),
            _ => None,
        }
    }

    /// Every rule id the prediction names, `NotAStep`'s included.
    pub fn cited_rule(&self) -> Option<&str> {
        match self {
            Outcome::NotAStep { rule } => Some(rule),
            other => other.deciding_rule(),
        }
    }
}

/// `models::Reason` with an owned rule id; displayed as the model displays it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    #[serde(flatten)]
    pub kind: ReasonKind,
}

/// `models::ReasonKind`, field for field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReasonKind {
    NotInCache,
    ParentRebuilt {
        step: usize,
    },
    InstructionText {
        cached: String,
        now: String,
    },
    SourceChanged {
        path: String,
        field: models::predict::Field,
    },
    BuildArg {
        name: String,
    },
    Environment {
        name: String,
    },
    ContextChanged,
    NoCache,
    LayersOff,
    NoLayer,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ReasonKind::NotInCache => write!(f, "not in cache")?,
            ReasonKind::ParentRebuilt { step } => write!(f, "parent rebuilt at step {step}")?,
            ReasonKind::InstructionText { cached, now } => {
                write!(f, "instruction text `{cached}` -> `{now}`")?
            }
            ReasonKind::SourceChanged { path, field } => write!(f, "source `{path}`: {field}")?,
            ReasonKind::BuildArg { name } => write!(f, "build arg `{name}` changed")?,
            ReasonKind::Environment { name } => write!(f, "environment `{name}` changed")?,
            ReasonKind::ContextChanged => write!(f, "context changed")?,
            ReasonKind::NoCache => write!(f, "--no-cache")?,
            ReasonKind::LayersOff => write!(f, "layer cache off")?,
            ReasonKind::NoLayer => write!(
                f,
                "imported inline cache holds its key but not its layer, and a later step needs it"
            )?,
        }
        write!(f, " ({})", self.rule)
    }
}

/// `observe::Observation` without the raw log (which reports never carried).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Outcome by 1-based Dockerfile step; steps the engine did not report are absent.
    pub steps: BTreeMap<usize, Observed>,
    pub error: Option<String>,
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    pub intermediate_images: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepVerdict {
    pub step: usize,
    pub instruction: String,
    pub predicted: Outcome,
    pub observed: Option<Observed>,
    pub verdict: Verdict,
}

impl StepVerdict {
    /// `cached`, `rebuilt`, `failed`, `-` for display and divergence records.
    pub fn observed_short(&self) -> &'static str {
        self.observed.as_ref().map(Observed::short).unwrap_or("-")
    }
}

impl History {
    pub fn indeterminate_count(&self) -> usize {
        self.builds
            .iter()
            .flat_map(|b| &b.verdicts)
            .filter(|v| matches!(v.verdict, Verdict::Indeterminate { .. }))
            .count()
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
        };
        Report {
            format_version: SCHEMA_VERSION,
            seed,
            engines,
            summary,
            results,
            label: None,
            aborted: Vec::new(),
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

// From the run's in-memory history: the model's types to the report's.

impl From<&models::Outcome> for Outcome {
    fn from(o: &models::Outcome) -> Outcome {
        match o {
            models::Outcome::Cached { rule, from } => Outcome::Cached {
                rule: rule.to_string(),
                from: from.clone(),
            },
            models::Outcome::Rebuilt { reason } => Outcome::Rebuilt {
                reason: Reason::from(reason),
            },
            models::Outcome::NotAStep { rule } => Outcome::NotAStep {
                rule: rule.to_string(),
            },
            models::Outcome::Skipped { why } => Outcome::Skipped { why: why.clone() },
            models::Outcome::Fails { why } => Outcome::Fails { why: why.clone() },
            models::Outcome::Unsupported { why } => Outcome::Unsupported { why: why.clone() },
        }
    }
}

impl From<&models::Reason> for Reason {
    fn from(r: &models::Reason) -> Reason {
        use models::predict::ReasonKind as M;
        let kind = match &r.kind {
            M::NotInCache => ReasonKind::NotInCache,
            M::ParentRebuilt { step } => ReasonKind::ParentRebuilt { step: *step },
            M::InstructionText { cached, now } => ReasonKind::InstructionText {
                cached: cached.clone(),
                now: now.clone(),
            },
            M::SourceChanged { path, field } => ReasonKind::SourceChanged {
                path: path.clone(),
                field: field.clone(),
            },
            M::BuildArg { name } => ReasonKind::BuildArg { name: name.clone() },
            M::Environment { name } => ReasonKind::Environment { name: name.clone() },
            M::ContextChanged => ReasonKind::ContextChanged,
            M::NoCache => ReasonKind::NoCache,
            M::LayersOff => ReasonKind::LayersOff,
            M::NoLayer => ReasonKind::NoLayer,
        };
        Reason {
            rule: r.rule.to_string(),
            kind,
        }
    }
}

impl From<&models::Prediction> for Prediction {
    fn from(p: &models::Prediction) -> Prediction {
        Prediction {
            profile: p.profile.clone(),
            rejected: p.rejected.clone(),
            steps: p
                .steps
                .iter()
                .map(|s| StepPrediction {
                    step: s.step,
                    stage: s.stage,
                    stage_name: s.stage_name.clone(),
                    instruction: s.instruction.clone(),
                    outcome: Outcome::from(&s.outcome),
                })
                .collect(),
        }
    }
}

impl From<&crate::execute::BuildRecord> for BuildRecord {
    fn from(b: &crate::execute::BuildRecord) -> BuildRecord {
        let o = &b.observation;
        BuildRecord {
            transition: b.transition,
            host: b.host.clone(),
            engine: b.engine.clone(),
            options: b.options.clone(),
            prediction: Prediction::from(&b.prediction),
            observation: Observation {
                steps: o.steps.clone(),
                error: o.error.clone(),
                indeterminate: o.indeterminate.clone(),
                image_id: o.image_id.clone(),
                intermediate_images: o.intermediate_images.clone(),
            },
            verdicts: b
                .verdicts
                .iter()
                .map(|v| StepVerdict {
                    step: v.step,
                    instruction: v.instruction.clone(),
                    predicted: Outcome::from(&v.predicted),
                    observed: v.observed.clone(),
                    verdict: v.verdict.clone(),
                })
                .collect(),
            stale: b.stale.clone(),
        }
    }
}

impl From<&crate::execute::History> for History {
    fn from(h: &crate::execute::History) -> History {
        History {
            engine: h.engine.clone(),
            salt: h.salt.clone(),
            builds: h.builds.iter().map(BuildRecord::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::predict::{Field, ReasonKind as M, StepPrediction as MStep};

    fn reason(kind: M) -> models::Outcome {
        models::Outcome::Rebuilt {
            reason: models::Reason {
                rule: "copy.checksum".parse().unwrap(),
                kind,
            },
        }
    }

    /// Every outcome and reason the model has, as the run holds them in memory.
    fn history() -> crate::execute::History {
        let outcomes = vec![
            models::Outcome::Cached {
                rule: "from.unaffected".parse().unwrap(),
                from: Some("127.0.0.1:5000/x:1".into()),
            },
            models::Outcome::NotAStep {
                rule: "bk.metadata-free".parse().unwrap(),
            },
            models::Outcome::Skipped {
                why: "stage".into(),
            },
            models::Outcome::Fails { why: "no a".into() },
            models::Outcome::Unsupported {
                why: "ADD URL".into(),
            },
            reason(M::NotInCache),
            reason(M::ParentRebuilt { step: 2 }),
            reason(M::InstructionText {
                cached: "RUN a".into(),
                now: "RUN b".into(),
            }),
            reason(M::SourceChanged {
                path: "a".into(),
                field: Field::Owner {
                    from: (0, 0),
                    to: (1, 1),
                },
            }),
            reason(M::BuildArg { name: "V".into() }),
            reason(M::Environment { name: "E".into() }),
            reason(M::ContextChanged),
            reason(M::NoCache),
            reason(M::LayersOff),
            reason(M::NoLayer),
        ];
        let steps: Vec<MStep> = outcomes
            .iter()
            .enumerate()
            .map(|(i, outcome)| MStep {
                step: i + 1,
                stage: 0,
                stage_name: Some("base".into()),
                instruction: format!("RUN {i}"),
                outcome: outcome.clone(),
            })
            .collect();
        let verdicts = outcomes
            .iter()
            .enumerate()
            .map(|(i, predicted)| crate::check::StepVerdict {
                step: i + 1,
                instruction: format!("RUN {i}"),
                predicted: predicted.clone(),
                observed: (i % 2 == 0).then_some(Observed::Cached),
                verdict: Verdict::Indeterminate { why: "x".into() },
            })
            .collect();
        let mut observation = crate::observe::Observation {
            error: Some("failed".into()),
            image_id: Some("sha256:ab".into()),
            log: "raw engine output".into(),
            ..Default::default()
        };
        observation.steps.insert(1, Observed::Rebuilt);
        crate::execute::History {
            engine: "buildkit@a".into(),
            salt: "0123456789abcdef".into(),
            builds: vec![crate::execute::BuildRecord {
                transition: 1,
                host: "a".into(),
                engine: "buildkit@a".into(),
                options: models::BuildOptions::default(),
                prediction: models::Prediction {
                    profile: "buildkit".into(),
                    rejected: Some("parse error".into()),
                    steps,
                },
                observation,
                verdicts,
                stale: vec!["a: content differs from a fresh build".into()],
                duration: std::time::Duration::from_secs(1),
            }],
        }
    }

    #[test]
    fn the_report_history_serialises_as_the_run_history_does() {
        let run = history();
        let report = History::from(&run);
        let (a, b) = (serde_json::to_string(&run), serde_json::to_string(&report));
        assert_eq!(a.unwrap(), b.unwrap());
        let back: History = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn reasons_read_as_the_model_says_them() {
        let run = history();
        for (m, r) in run.builds[0]
            .prediction
            .steps
            .iter()
            .zip(&History::from(&run).builds[0].prediction.steps)
        {
            assert_eq!(m.outcome.short(), r.outcome.short());
            if let (models::Outcome::Rebuilt { reason: m }, Outcome::Rebuilt { reason: r }) =
                (&m.outcome, &r.outcome)
            {
                assert_eq!(m.to_string(), r.to_string());
            }
        }
    }
}
