//! Profiles: one per builder and transport, each a rule table plus the switches of a mutant.
//!
//! The tables are data (`general.rs`, `classic.rs`, `buildkit.rs`, `buildah.rs`); `predict.rs`
//! asks `Profile::on(id)` at the one place each rule acts.

pub mod buildah;
pub mod buildkit;
pub mod classic;
pub mod general;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::{Rule, RuleId, Switch};

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub builder: Builder,
    pub transport: Transport,
    pub features: Features,
    /// Rules switched off or inverted (a mutant); empty for the reference profile.
    pub switches: BTreeMap<String, Switch>,
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

    /// The rule table this profile follows, in reading order.
    pub fn rules(&self) -> Vec<Rule> {
        // `.dockerignore` is the docker client's business: an API tar upload reaches Docker's
        // builders as it is. Buildah applies it itself.
        let applies_dockerignore =
            self.transport == Transport::Cli || self.builder == Builder::Buildah;
        let mut rules: Vec<Rule> = general::GENERAL
            .iter()
            .filter(|r| applies_dockerignore || r.id != "dockerignore")
            .copied()
            .collect();
        match self.builder {
            Builder::Classic => rules.extend(
                classic::OWN
                    .iter()
                    // The two CLI-door rules say nothing about an API tar upload.
                    .filter(|r| {
                        self.transport == Transport::Cli
                            || !matches!(r.id, "classic.owner-ignored" | "classic.xattrs")
                    })
                    .copied(),
            ),
            Builder::BuildKit => rules.extend_from_slice(buildkit::OWN),
            Builder::Buildah => {
                rules.extend_from_slice(buildah::OWN);
                if self.transport == Transport::Cli {
                    // The docker CLI's archive code, whatever engine it talks to. (It resets owners
                    // too, but Buildah replaces the owner anyway: `buildah.copy-digest`.)
                    rules.push(classic::XATTRS);
                }
            }
        }
        rules
    }

    pub fn rule(&self, id: &str) -> Option<Rule> {
        self.rules().into_iter().find(|r| r.id == id)
    }

    /// Whether the rule acts: it is in this profile's table and not switched.
    pub fn on(&self, id: RuleId) -> bool {
        debug_assert!(
            self.rule(id).is_some(),
            "rule {id} asked of the {} profile",
            self.name()
        );
        !self.switches.contains_key(id)
    }

    /// A mutant: this profile with one rule switched.
    pub fn with_switch(&self, id: &str, switch: Switch) -> Result<Profile, UnknownRule> {
        if self.rule(id).is_none() {
            return Err(UnknownRule {
                id: id.to_string(),
                profile: self.name(),
            });
        }
        let mut mutant = self.clone();
        mutant.switches.insert(id.to_string(), switch);
        Ok(mutant)
    }

    pub fn is_mutant(&self) -> bool {
        !self.switches.is_empty()
    }
}
