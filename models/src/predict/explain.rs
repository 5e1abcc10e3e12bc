//! Miss explanations, read off the keys that decided the miss.
//!
//! The nearest cached key is one of the same keyword, with the same text if there is one; the
//! first kind of component (in `Slot` order) that differs from it names the rule and the reason.

use std::collections::BTreeMap;

use crate::profiles::{buildkit, general};
use crate::step::key::{Component, Part, Slot, SourceFact, StepKey};
use crate::step::outcome::{Field, Reason, ReasonKind};

/// The kinds of key components, in the order a difference is looked for.
const SLOTS: [Slot; 5] = [
    Slot::Text,
    Slot::Sources,
    Slot::Args,
    Slot::Env,
    Slot::Digest,
];

/// Why `key` missed, given the keys cached under the same parent, nearest first in their order.
pub(crate) fn explain_miss(key: &StepKey, candidates: &[&StepKey]) -> Reason {
    let same_kind: Vec<&StepKey> = candidates
        .iter()
        .copied()
        .filter(|c| c.keyword() == key.keyword())
        .collect();
    // Of the keys with the same text, the one that differs least (the record a builder whose
    // view lacks one change would have used: after a chmod and then an xattr edit, the record of
    // the chmod's build, which differs in the xattr alone); the first of equals.
    let same_text: Vec<&StepKey> = same_kind
        .iter()
        .copied()
        .filter(|c| c.text() == key.text())
        .collect();
    let nearest = same_text
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (distance(key, c), *i))
        .map(|(_, c)| c);
    let Some(best) = nearest.or_else(|| same_kind.first()) else {
        let keyword = &key.components()[0];
        return Reason {
            rule: keyword.rule,
            kind: ReasonKind::NotInCache,
        };
    };
    for slot in SLOTS {
        let now: Vec<&Component> = key.of(slot).collect();
        let cached: Vec<&Component> = best.of(slot).collect();
        if now != cached {
            // The first component of the slot that differs names the rule.
            let at = (0..)
                .find(|i| now.get(*i) != cached.get(*i))
                .expect("two different lists differ somewhere");
            let rule = now.get(at).or(cached.get(at)).map(|c| c.rule);
            let (cached, now) = (&cached[at.min(cached.len())..], &now[at.min(now.len())..]);
            return Reason {
                rule: rule.expect("one of two different lists is not empty"),
                kind: difference(slot, cached, now),
            };
        }
    }
    // Equal keys on the same parent are one record: only an imported record that could not be
    // used gets here.
    Reason {
        rule: if key.keyword() == Some("RUN") {
            general::RUN_OPAQUE.id
        } else {
            buildkit::CONTENT_ADDRESSED.id
        },
        kind: ReasonKind::ContextChanged,
    }
}

/// How many things differ between two keys: each differing component, and within the sources
/// each differing field of each path.
fn distance(a: &StepKey, b: &StepKey) -> usize {
    let mut n = 0;
    for slot in SLOTS {
        let (x, y): (Vec<&Component>, Vec<&Component>) =
            (a.of(slot).collect(), b.of(slot).collect());
        if slot == Slot::Sources {
            let (fx, fy) = (facts_of(&x), facts_of(&y));
            let (px, py) = (by_path(&fx), by_path(&fy));
            for path in px.keys().chain(py.keys().filter(|p| !px.contains_key(*p))) {
                n += match (px.get(path), py.get(path)) {
                    (Some(f), Some(g)) => field_count(f, g),
                    _ => 1,
                };
            }
        } else {
            n += x.len().max(y.len()) - x.iter().zip(&y).filter(|(c, d)| c == d).count();
        }
    }
    n
}

/// How many fields of one path's facts differ.
fn field_count(a: &SourceFact, b: &SourceFact) -> usize {
    [
        a.kind != b.kind,
        a.content != b.content,
        a.mode != b.mode,
        a.owner != b.owner,
        a.times != b.times,
        a.link_target != b.link_target,
        a.xattrs != b.xattrs,
    ]
    .into_iter()
    .filter(|d| *d)
    .count()
}

/// What differs between two lists of components of the same kind.
fn difference(slot: Slot, cached: &[&Component], now: &[&Component]) -> ReasonKind {
    match slot {
        Slot::Keyword | Slot::Digest => ReasonKind::ContextChanged,
        Slot::Text => ReasonKind::InstructionText {
            cached: text_of(cached),
            now: text_of(now),
        },
        Slot::Sources => {
            let (path, field) = explain_source_difference(&facts_of(cached), &facts_of(now))
                .unwrap_or_else(|| ("?".to_string(), Field::Content));
            ReasonKind::SourceChanged { path, field }
        }
        Slot::Args => ReasonKind::BuildArg {
            name: first_changed(&pairs_of(cached), &pairs_of(now)),
        },
        Slot::Env => ReasonKind::Environment {
            name: first_changed(&pairs_of(cached), &pairs_of(now)),
        },
    }
}

fn text_of(components: &[&Component]) -> String {
    components
        .iter()
        .find_map(|c| match &c.part {
            Part::Text(t) => Some(t.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn facts_of<'a>(components: &[&'a Component]) -> Vec<&'a SourceFact> {
    components
        .iter()
        .flat_map(|c| match &c.part {
            Part::Sources(facts) => facts.iter().collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn pairs_of<'a>(components: &[&'a Component]) -> Vec<&'a (String, String)> {
    components
        .iter()
        .flat_map(|c| match &c.part {
            Part::Args(pairs) | Part::Env(pairs) => pairs.iter().collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The name of the first pair now that was not cached, else the first cached pair now gone.
fn first_changed(cached: &[&(String, String)], now: &[&(String, String)]) -> String {
    now.iter()
        .find(|a| !cached.contains(a))
        .or_else(|| cached.iter().find(|a| !now.contains(a)))
        .map(|(n, _)| n.clone())
        .unwrap_or_default()
}

/// The first source path (in path order) whose facts differ, and the first field that does.
fn explain_source_difference(
    cached: &[&SourceFact],
    now: &[&SourceFact],
) -> Option<(String, Field)> {
    let (cached_by_path, now_by_path) = (by_path(cached), by_path(now));
    for (path, new) in &now_by_path {
        let Some(old) = cached_by_path.get(path) else {
            return Some((path.to_string(), Field::Added));
        };
        if let Some(field) = field_difference(old, new) {
            return Some((path.to_string(), field));
        }
    }
    cached_by_path
        .keys()
        .find(|p| !now_by_path.contains_key(*p))
        .map(|p| (p.to_string(), Field::Removed))
}

/// Source facts by their path.
fn by_path<'a>(facts: &[&'a SourceFact]) -> BTreeMap<&'a str, &'a SourceFact> {
    facts.iter().map(|f| (f.path.as_str(), *f)).collect()
}

fn field_difference(old: &SourceFact, new: &SourceFact) -> Option<Field> {
    if old.kind != new.kind {
        Some(Field::Type {
            from: old.kind.to_string(),
            to: new.kind.to_string(),
        })
    } else if old.content != new.content {
        Some(Field::Content)
    } else if old.mode != new.mode {
        Some(Field::Mode {
            from: old.mode.unwrap_or(0),
            to: new.mode.unwrap_or(0),
        })
    } else if old.owner != new.owner {
        Some(Field::Owner {
            from: old.owner.unwrap_or_default(),
            to: new.owner.unwrap_or_default(),
        })
    } else if old.link_target != new.link_target {
        Some(Field::LinkTarget {
            from: old.link_target.clone().unwrap_or_default(),
            to: new.link_target.clone().unwrap_or_default(),
        })
    } else if old.xattrs != new.xattrs {
        let name = new
            .xattrs
            .iter()
            .find(|x| !old.xattrs.contains(x))
            .or_else(|| old.xattrs.iter().find(|x| !new.xattrs.contains(x)))
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        Some(Field::Xattr { name })
    } else if old.times != new.times {
        Some(Field::Times)
    } else {
        None
    }
}

/// A reason in words: here, with the explanations, since one names a rule of the tables
/// (`from.chain`) and the vocabulary (`step/`) sits below them.
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
            ReasonKind::ContextChanged if self.rule == general::FROM_CHAIN.id => write!(
                f,
                "what a RUN or the base image made there changed: the source's chain up to \
                     its last RUN (or FROM) differs, RUN taken as deterministic"
            )?,
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
