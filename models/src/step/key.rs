//! Step keys: ordered components, each tagged with the rule that put it into the key.
//!
//! A key decides hit or miss (its digest is folded into the chain id), and the same components
//! explain a miss (`predict/explain.rs`): the first component that differs from the nearest
//! cached key names the rule that made the difference.

use serde::Serialize;

use crate::rules::RuleId;

/// What a COPY/ADD source contributes to the key, with fields the profile leaves out as `None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SourceFact {
    pub path: String,
    pub kind: &'static str,
    pub content: Option<u64>,
    pub mode: Option<u32>,
    pub owner: Option<(u32, u32)>,
    pub times: Option<(i64, i64)>,
    pub link_target: Option<String>,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// One part of a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The instruction's keyword: keys of different kinds are never near each other.
    Keyword(&'static str),
    /// The instruction text as the builder keys it.
    Text(String),
    /// The facts of the copied sources.
    Sources(Vec<SourceFact>),
    /// Build args with their values (or, for Buildah's ARG, whether one is given).
    Args(Vec<(String, String)>),
    /// The environment a step sees.
    Env(Vec<(String, String)>),
    /// A digest the key holds whole (the context, or what a COPY --from selects).
    Digest(u64),
}

/// The kinds of `Part`, in the order a miss is explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    Keyword,
    Text,
    Sources,
    Args,
    Env,
    Digest,
}

impl Part {
    pub fn slot(&self) -> Slot {
        match self {
            Part::Keyword(_) => Slot::Keyword,
            Part::Text(_) => Slot::Text,
            Part::Sources(_) => Slot::Sources,
            Part::Args(_) => Slot::Args,
            Part::Env(_) => Slot::Env,
            Part::Digest(_) => Slot::Digest,
        }
    }
}

/// One component of a key: what it holds and the rule that put it there.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Component {
    pub rule: RuleId,
    pub part: Part,
}

impl Component {
    pub fn text(rule: RuleId, text: String) -> Component {
        Component {
            rule,
            part: Part::Text(text),
        }
    }
}

/// The key one step gets under a profile. Two steps with the same parent chain and equal keys
/// are the same cache record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StepKey {
    components: Vec<Component>,
}

impl StepKey {
    /// A key that holds the keyword so far (`rule` is the one that cites a kind never cached).
    pub fn new(rule: RuleId, keyword: &'static str) -> StepKey {
        StepKey {
            components: vec![Component {
                rule,
                part: Part::Keyword(keyword),
            }],
        }
    }

    pub fn push(&mut self, component: Component) {
        self.components.push(component);
    }

    pub fn extend(&mut self, component: Option<Component>) {
        self.components.extend(component);
    }

    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The components of one kind, in key order.
    pub fn of(&self, slot: Slot) -> impl Iterator<Item = &Component> {
        self.components
            .iter()
            .filter(move |c| c.part.slot() == slot)
    }

    pub fn keyword(&self) -> Option<&'static str> {
        self.components.iter().find_map(|c| match c.part {
            Part::Keyword(k) => Some(k),
            _ => None,
        })
    }

    pub fn text(&self) -> Option<&str> {
        self.components.iter().find_map(|c| match &c.part {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }

    pub fn has_sources(&self) -> bool {
        self.of(Slot::Sources).next().is_some()
    }
}
