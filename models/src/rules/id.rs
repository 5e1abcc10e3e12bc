//! Rule ids and switches: the words a profile's switches and a step's key are written in, below
//! the rules themselves (a rule's `applies` takes a `Profile`, which holds switches by id).

use serde::{Deserialize, Serialize, Serializer};

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

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
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
