//! Rules: the unit the model is built from, reports cite, and mutants switch off.
//!
//! A rule is a testable statement with a stable id (as in `shared/RULES.md`), a source, where it
//! holds (`applies`: builders and doors; `versions`: engine generations), and what the model does
//! instead when the rule is switched off. The rules themselves live in `profiles/`, each `Rule`
//! const next to the functions that carry out its behaviour: those functions are the only code
//! that asks `Profile::on` / `Profile::off`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::profiles::generation::Versions;
use crate::profiles::Profile;

/// A stable rule id such as `copy.mtime-ignored` or `bk.xattr-filter`. Only the rule tables make
/// them (`RuleId::new` is crate-private); `FromStr` accepts exactly the ids of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(&'static str);

impl RuleId {
    pub(crate) const fn new(id: &'static str) -> RuleId {
        RuleId(id)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.0)
    }
}

impl AsRef<str> for RuleId {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A string that is no rule's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRuleId(pub String);

impl std::fmt::Display for UnknownRuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a rule id", self.0)
    }
}

impl std::error::Error for UnknownRuleId {}

impl std::str::FromStr for RuleId {
    type Err = UnknownRuleId;

    fn from_str(s: &str) -> Result<RuleId, UnknownRuleId> {
        crate::profiles::catalogue()
            .find(|r| r.id.0 == s)
            .map(|r| r.id)
            .ok_or_else(|| UnknownRuleId(s.to_string()))
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RuleId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

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
