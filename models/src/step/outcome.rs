//! What the model says of a step: served from cache or rebuilt (`Outcome`), and why (`Reason`,
//! `ReasonKind`, the `Field` of a source that changed), and of a build's steps (`Prediction`).
//! A reason's words (`Display`) are in `predict/explain.rs`.

use serde::{Deserialize, Serialize};

use crate::rules::id::RuleId;

/// What changed in a source file, as the profile sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Content,
    Mode { from: u32, to: u32 },
    Owner { from: (u32, u32), to: (u32, u32) },
    Times,
    Xattr { name: String },
    Type { from: String, to: String },
    LinkTarget { from: String, to: String },
    Added,
    Removed,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Content => write!(f, "content"),
            Field::Mode { from, to } => write!(f, "mode {from:04o} -> {to:04o}"),
            Field::Owner { from, to } => {
                write!(f, "owner {}:{} -> {}:{}", from.0, from.1, to.0, to.1)
            }
            Field::Times => write!(f, "mtime/atime"),
            Field::Xattr { name } => write!(f, "xattr {name}"),
            Field::Type { from, to } => write!(f, "type {from} -> {to}"),
            Field::LinkTarget { from, to } => write!(f, "link target {from} -> {to}"),
            Field::Added => write!(f, "added"),
            Field::Removed => write!(f, "removed"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReasonKind {
    /// Nothing cached on this parent for this kind of step.
    NotInCache,
    /// An earlier step of the stage was rebuilt (1-based step number in the Dockerfile).
    ParentRebuilt {
        step: usize,
    },
    InstructionText {
        cached: String,
        now: String,
    },
    SourceChanged {
        path: String,
        field: Field,
    },
    BuildArg {
        name: String,
    },
    Environment {
        name: String,
    },
    /// The whole context entered the key (only with `run.opaque` or `bk.content-addressed` off).
    ContextChanged,
    NoCache,
    LayersOff,
    /// Imported inline cache holds the step's key but not its layer, and a later step needs it.
    NoLayer,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reason {
    pub rule: RuleId,
    #[serde(flatten)]
    pub kind: ReasonKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Served from cache; `from` names the registry reference for imported cache.
    Cached {
        rule: RuleId,
        from: Option<String>,
    },
    Rebuilt {
        reason: Reason,
    },
    /// Not a cacheable step for this builder (BuildKit metadata instructions): nothing to observe.
    NotAStep {
        rule: RuleId,
    },
    /// The stage is not built for this target.
    Skipped {
        why: String,
    },
    /// The build fails here (a COPY source is missing, ...); later steps do not run.
    Fails {
        why: String,
    },
    /// The model cannot say (`why` tells what is outside it).
    Unsupported {
        why: String,
    },
}

impl Outcome {
    pub fn is_cached(&self) -> bool {
        matches!(self, Outcome::Cached { .. })
    }
    pub fn is_rebuilt(&self) -> bool {
        matches!(self, Outcome::Rebuilt { .. })
    }
    /// The rule a checked step's prediction cites: a cache hit's or a rebuild's. (A step the
    /// model does not check, `NotAStep`, cites one too: see [`Outcome::cited_rule`].)
    pub fn deciding_rule(&self) -> Option<RuleId> {
        match self {
            Outcome::Cached { rule, .. } => Some(*rule),
            Outcome::Rebuilt { reason } => Some(reason.rule),
            _ => None,
        }
    }
    /// Every rule id the prediction names, `NotAStep`'s included.
    pub fn cited_rule(&self) -> Option<RuleId> {
        match self {
            Outcome::NotAStep { rule } => Some(*rule),
            other => other.deciding_rule(),
        }
    }
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
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPrediction {
    /// 1-based position among the Dockerfile's instructions.
    pub step: usize,
    /// 0-based stage index.
    pub stage: usize,
    pub stage_name: Option<String>,
    /// The instruction as the builder normalises it.
    pub instruction: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub profile: String,
    /// The engine refuses the Dockerfile before building (its parse error, in the model's words).
    pub rejected: Option<String>,
    pub steps: Vec<StepPrediction>,
}

impl Prediction {
    pub fn step(&self, step: usize) -> Option<&StepPrediction> {
        self.steps.iter().find(|s| s.step == step)
    }
}
