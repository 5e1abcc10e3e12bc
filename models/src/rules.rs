//! Rules: the unit the model is built from, reports cite, and mutants switch off.
//!
//! A rule is a testable statement with a stable id (as in `shared/RULES.md`), a source, and what the
//! model does instead when the rule is switched off. The tables themselves live in `profiles/`.

use serde::{Deserialize, Serialize};

/// A stable rule id such as `copy.mtime-ignored` or `bk.xattr-filter`.
pub type RuleId = &'static str;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    /// The model implements the rule; switching it off changes predictions.
    Modelled,
    /// Modelled as documented, but sources disagree or nobody measured it: real engines settle it.
    Verify,
    /// Measured on the engines under test and modelled as measured (the note says what and where).
    Settled { note: &'static str },
    /// Outside what cachet can exercise here; kept so reports can cite it.
    NotExercised { why: &'static str },
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Rule {
    pub id: RuleId,
    /// What the engine does, in one sentence.
    pub statement: &'static str,
    /// Where it comes from (documentation, source file, issue or pull request).
    pub source: &'static str,
    /// What the model does instead when the rule is switched off in a mutant.
    pub if_off: &'static str,
    pub status: Status,
}

impl Rule {
    pub fn is_exercised(&self) -> bool {
        !matches!(self.status, Status::NotExercised { .. })
    }
}

/// How a mutant changes one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    /// The rule is removed: the model does what the table's `if_off` says.
    Off,
    /// The rule's yes/no is negated. For every rule in the tables this is the same behaviour as
    /// `Off`, because each rule is one yes/no decision; the two are kept apart so reports say which
    /// was asked for.
    Inverted,
}
