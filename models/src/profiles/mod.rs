//! Profiles: one per builder and transport, each a rule table plus the switches of a mutant.
//!
//! The rules live in `general.rs`, `classic.rs`, `buildkit.rs` and `buildah.rs`: each `Rule` const
//! sits next to the functions that carry out its behaviour, and those functions are the only
//! callers of `Profile::on` / `Profile::off`. `predict/` calls the functions, never asks a rule.

pub mod buildah;
pub mod buildkit;
pub mod classic;
pub mod general;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::{Rule, RuleId, Switch};

/// Every rule cachet knows, in reading order: general, classic, BuildKit, Buildah.
pub fn catalogue() -> impl Iterator<Item = &'static Rule> {
    general::RULES
        .iter()
        .chain(classic::RULES)
        .chain(buildkit::RULES)
        .chain(buildah::RULES)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    Classic,
    BuildKit,
    Buildah,
}

/// How the context reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A tar built by the caller and sent in the request body: metadata exactly as the headers say.
    Api,
    /// The docker CLI reading a real directory: its own normalisation applies.
    Cli,
}

/// Dockerfile features the engine's frontend accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Features {
    pub copy_link: bool,
    pub heredoc: bool,
}

impl Features {
    /// Engine 20.10's built-in frontends and Buildah 1.28 as measured here: neither accepts
    /// `COPY --link` nor heredocs through the paths cachet drives.
    pub const ENGINES_UNDER_TEST: Features = Features {
        copy_link: false,
        heredoc: false,
    };
}

/// The engine generation a profile models. There is one today, the engines under test (Engine
/// 20.10.24's classic builder and BuildKit v0.8, Podman 4.3.1's Buildah 1.28); the
/// engine-generations issue adds the others (classic 26 / 28, BuildKit v0.13 / v0.25, Buildah
/// 1.39 / 1.43), and a rule that holds only for some says so in its `Rule::applies`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Generation {
    #[default]
    UnderTest,
}

/// A profile: builder × door × engine generation, plus the switches of a mutant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub builder: Builder,
    pub transport: Transport,
    /// Not serialised while there is only one, so reports and case files read as before.
    #[serde(default, skip_serializing)]
    pub generation: Generation,
    pub features: Features,
    /// Rules switched off or inverted (a mutant); empty for the reference profile.
    pub switches: BTreeMap<RuleId, Switch>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRule {
    pub id: String,
    pub profile: String,
}

impl std::fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule `{}` is not in the {} profile's table",
            self.id, self.profile
        )
    }
}

impl std::error::Error for UnknownRule {}

impl Profile {
    pub fn new(builder: Builder, transport: Transport) -> Profile {
        Profile {
            builder,
            transport,
            generation: Generation::default(),
            features: Features::ENGINES_UNDER_TEST,
            switches: BTreeMap::new(),
        }
    }

    /// Every profile cachet knows, reference (no switches).
    pub fn all() -> Vec<Profile> {
        let mut out = Vec::new();
        for builder in [Builder::Classic, Builder::BuildKit, Builder::Buildah] {
            for transport in [Transport::Api, Transport::Cli] {
                out.push(Profile::new(builder, transport));
            }
        }
        out
    }

    /// `classic`, `classic-cli`, `buildkit`, `buildkit-cli`, `podman`, `podman-cli`.
    pub fn name(&self) -> String {
        let builder = match self.builder {
            Builder::Classic => "classic",
            Builder::BuildKit => "buildkit",
            Builder::Buildah => "podman",
        };
        match self.transport {
            Transport::Api => builder.to_string(),
            Transport::Cli => format!("{builder}-cli"),
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::all().into_iter().find(|p| p.name() == name)
    }

    /// The rule table this profile follows, in reading order: the catalogue, filtered by where
    /// each rule holds (`Rule::applies`).
    pub fn rules(&self) -> Vec<Rule> {
        catalogue().filter(|r| (r.applies)(self)).copied().collect()
    }

    pub fn rule(&self, id: impl AsRef<str>) -> Option<Rule> {
        let id = id.as_ref();
        catalogue()
            .find(|r| r.id.as_str() == id)
            .filter(|r| (r.applies)(self))
            .copied()
    }

    /// Whether the profile's table holds the rule, switched or not.
    pub fn follows(&self, rule: &Rule) -> bool {
        (rule.applies)(self)
    }

    /// Whether the rule acts: the profile's table holds it and no mutant switched it.
    pub fn on(&self, rule: &Rule) -> bool {
        self.follows(rule) && !self.switches.contains_key(&rule.id)
    }

    /// Whether a mutant switched the rule off (or inverted it): the model does its `if_off`.
    /// False where the table does not hold the rule at all.
    pub fn off(&self, rule: &Rule) -> bool {
        self.follows(rule) && self.switches.contains_key(&rule.id)
    }

    /// A mutant: this profile with one rule switched.
    pub fn with_switch(&self, id: impl AsRef<str>, switch: Switch) -> Result<Profile, UnknownRule> {
        let Some(rule) = self.rule(id.as_ref()) else {
            return Err(UnknownRule {
                id: id.as_ref().to_string(),
                profile: self.name(),
            });
        };
        let mut mutant = self.clone();
        mutant.switches.insert(rule.id, switch);
        Ok(mutant)
    }

    pub fn is_mutant(&self) -> bool {
        !self.switches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_parse_back() {
        let ids: Vec<RuleId> = catalogue().map(|r| r.id).collect();
        let unique: std::collections::BTreeSet<&str> = ids.iter().map(|id| id.as_str()).collect();
        assert_eq!(unique.len(), ids.len(), "a rule id is used twice");
        for id in ids {
            assert_eq!(id.to_string().parse::<RuleId>(), Ok(id));
        }
        assert!("no.such-rule".parse::<RuleId>().is_err());
    }

    #[test]
    fn every_profile_keeps_its_name_and_table() {
        let names: Vec<String> = Profile::all().iter().map(Profile::name).collect();
        assert_eq!(
            names,
            [
                "classic",
                "classic-cli",
                "buildkit",
                "buildkit-cli",
                "podman",
                "podman-cli"
            ]
        );
        let podman_cli = Profile::from_name("podman-cli").unwrap();
        assert!(podman_cli.rule("classic.xattrs").is_some());
        assert!(podman_cli.rule("dockerignore").is_some());
        assert!(Profile::from_name("classic")
            .unwrap()
            .rule("dockerignore")
            .is_none());
        assert!(Profile::from_name("classic")
            .unwrap()
            .rule("classic.owner-ignored")
            .is_none());
    }

    /// The behaviour of a rule is the functions next to it: nothing under `predict/` asks whether
    /// a rule is on.
    #[test]
    fn only_the_rule_tables_ask_whether_a_rule_holds() {
        let predict = [
            ("mod.rs", include_str!("../predict/mod.rs")),
            ("plan.rs", include_str!("../predict/plan.rs")),
            ("from.rs", include_str!("../predict/from.rs")),
            ("run.rs", include_str!("../predict/run.rs")),
            ("copy.rs", include_str!("../predict/copy.rs")),
            ("metadata.rs", include_str!("../predict/metadata.rs")),
            ("key.rs", include_str!("../predict/key.rs")),
            ("explain.rs", include_str!("../predict/explain.rs")),
            ("state.rs", include_str!("../predict/state.rs")),
            ("lookup.rs", include_str!("../predict/lookup.rs")),
        ];
        for (name, text) in predict {
            for ask in [".on(", ".off(", ".follows(", ".switches"] {
                assert!(!text.contains(ask), "predict/{name} calls `{ask}`");
            }
        }
    }
}
