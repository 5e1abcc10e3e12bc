//! Rules: the unit the model is built from, reports cite, and mutants switch off.
//!
//! A rule is a testable statement with a stable id, a source, where it
//! holds (`applies`: builders and doors; `versions`: engine generations), and what the model does
//! instead when the rule is switched off. The rules themselves live in `profiles/`, each `Rule`
//! const next to the functions that carry out its behaviour: those functions are the only code
//! that asks `Profile::on` / `Profile::off`.
//!
//! The ids and switches (`id.rs`) sit below the profiles, which hold them; a `Rule` sits above
//! them (`applies` takes a `Profile`). Parsing an id needs the catalogue, so `RuleId`'s
//! `FromStr` and `Deserialize` are in `profiles/mod.rs`.

pub(crate) mod id;

use serde::Serialize;

use crate::profiles::generation::Versions;
use crate::profiles::profile::Profile;

pub use id::{RuleId, Switch, UnknownRuleId};

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
    /// The builders and doors whose table holds the rule. `Profile::rules` is the catalogue
    /// filtered by it and `versions`, and `Profile::on` / `off` are false where it does not hold.
    #[serde(skip)]
    pub applies: fn(&Profile) -> bool,
    /// The engine generations it holds for (`Versions::All`, or since an upstream release, with
    /// the change that made it so): the one place a difference between generations is stated.
    pub versions: Versions,
}

impl Rule {
    pub fn is_exercised(&self) -> bool {
        !matches!(self.status, Status::NotExercised { .. })
    }
}

/// `Rule::applies` for a rule every profile follows.
pub fn everywhere(_: &Profile) -> bool {
    true
}
