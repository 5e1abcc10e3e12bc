//! Profiles: one per builder, transport and engine generation, each a rule table plus the
//! switches of a mutant.
//!
//! The rules live in `general.rs`, `classic.rs`, `buildkit.rs` and `buildah.rs`: each `Rule` const
//! sits next to the functions that carry out its behaviour, and those functions are the only
//! callers of `Profile::on` / `Profile::off`. `predict/` calls the functions, never asks a rule.
//! Generations (`generation.rs`) differ only through a rule's `versions` and `Features::of`.

pub mod buildah;
pub mod builder;
pub mod buildkit;
pub mod classic;
pub mod general;
pub mod generation;
pub mod profile;

use crate::rules::id::{RuleId, Switch, UnknownRuleId};
use crate::rules::Rule;

pub use builder::{Builder, ImageStore, Transport};
pub use generation::{Features, Generation, GenerationChoice, Project, Support, Version, Versions};
pub use profile::Profile;

/// Every rule cachet knows, in reading order: general, classic, BuildKit, Buildah.
pub fn catalogue() -> impl Iterator<Item = &'static Rule> {
    general::RULES
        .iter()
        .chain(classic::RULES)
        .chain(buildkit::RULES)
        .chain(buildah::RULES)
}

/// A rule id from its text: exactly the ids of the catalogue (here, where the catalogue is, so
/// `rules` needs nothing above it).
impl std::str::FromStr for RuleId {
    type Err = UnknownRuleId;

    fn from_str(s: &str) -> Result<RuleId, UnknownRuleId> {
        catalogue()
            .find(|r| r.id.as_str() == s)
            .map(|r| r.id)
            .ok_or_else(|| UnknownRuleId(s.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RuleId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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

/// What a profile follows: the catalogue filtered by where each rule holds.
impl Profile {
    /// The rule table this profile follows, in reading order: the catalogue, filtered by where
    /// each rule holds (`Rule::applies`, `Rule::versions`).
    pub fn rules(&self) -> Vec<Rule> {
        catalogue().filter(|r| self.follows(r)).copied().collect()
    }

    pub fn rule(&self, id: impl AsRef<str>) -> Option<Rule> {
        let id = id.as_ref();
        catalogue()
            .find(|r| r.id.as_str() == id)
            .filter(|r| self.follows(r))
            .copied()
    }

    /// Whether the profile's table holds the rule, switched or not: its builder and door
    /// (`applies`) and its generation (`versions`).
    pub fn follows(&self, rule: &Rule) -> bool {
        (rule.applies)(self) && rule.versions.holds(self.generation)
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

    #[test]
    fn every_generation_has_a_name_that_reads_back() {
        let all = Profile::all_generations();
        assert_eq!(all.len(), 22);
        assert_eq!(Profile::all().len(), 6);
        let names: std::collections::BTreeSet<String> = all.iter().map(Profile::name).collect();
        assert_eq!(names.len(), 22, "two profiles share a name");
        assert!(names.contains("buildkit-cli:28+containerd"));
        for p in &all {
            assert_eq!(Profile::from_name(&p.name()).as_ref(), Some(p));
            let store = if p.store == ImageStore::Containerd {
                profile::CONTAINERD_SUFFIX
            } else {
                ""
            };
            let spelled = format!("{}:{}{store}", p.base_name(), p.generation.label());
            assert_eq!(Profile::from_name(&spelled).as_ref(), Some(p));
        }
        assert!(names.contains("buildkit-cli:28") && names.contains("podman:5.8"));
        assert_eq!(
            Profile::from_name("buildkit-cli:20.10"),
            Profile::from_name("buildkit-cli")
        );
        assert!(Profile::from_name("classic:5.8").is_none());
        assert!(Profile::from_name("buildkit:29").is_none());
        assert!(Profile::at(Builder::Buildah, Transport::Api, Generation::Docker26).is_none());
    }

    #[test]
    fn a_reported_version_picks_the_profile() {
        let (p, choice) = Profile::for_version(Builder::BuildKit, Transport::Cli, "28.5.2+dfsg4");
        assert_eq!((p.name().as_str(), choice.exact), ("buildkit-cli:28", true));
        let (p, choice) = Profile::for_version(Builder::Buildah, Transport::Api, "6.1.0");
        assert_eq!(p.name(), "podman:5.8");
        assert!(choice.note.unwrap().contains("newer than any known"));
    }

    #[test]
    fn version_ranges_shape_the_tables() {
        let bk = |name: &str| Profile::from_name(name).unwrap();
        assert!(bk("buildkit").rule("bk.from-owner").is_none());
        assert!(bk("buildkit:26").rule("bk.from-owner").is_some());
        assert!(bk("buildkit").rule("bk.link").is_none());
        assert!(bk("buildkit-cli:28").rule("bk.link").is_none());
        assert!(bk("buildkit-cli:28+containerd").rule("bk.link").is_some());
        assert!(bk("podman:5.4").rule("buildah.newest-match").is_none());
        assert!(bk("podman-cli:5.8").rule("buildah.newest-match").is_some());
        // The default generation's table is what `applies` alone gave before generations, less
        // the rules whose range starts later (bk.nocache-filter, refused by the 20.10 frontend;
        // bk.link, which holds on the containerd store only, is in no graph-store table; bk.from-owner and, on the API door,
        // bk.api-owner, from v0.11).
        for p in Profile::all() {
            let later: Vec<&str> = catalogue()
                .filter(|r| (r.applies)(&p) && !p.follows(r))
                .map(|r| r.id.as_str())
                .collect();
            let expected: &[&str] = match (p.builder, p.transport) {
                (Builder::BuildKit, Transport::Api) => &[
                    "bk.api-owner",
                    "bk.from-owner",
                    "bk.nocache-filter",
                    "bk.heredoc-keyed",
                    "bk.cache-mount-id",
                    "bk.copy-exclude",
                    "bk.exclude-dangling-link",
                    "bk.declared-platform-arg",
                    "bk.add-checksum-remote",
                    "bk.chmod-expanded",
                ],
                (Builder::BuildKit, Transport::Cli) => &[
                    "bk.from-owner",
                    "bk.nocache-filter",
                    "bk.heredoc-keyed",
                    "bk.cache-mount-id",
                    "bk.copy-exclude",
                    "bk.exclude-dangling-link",
                    "bk.declared-platform-arg",
                    "bk.add-checksum-remote",
                    "bk.chmod-expanded",
                ],
                (Builder::Buildah, _) => &[
                    "buildah.newest-match",
                    "buildah.cache-from-repo",
                    "buildah.heredoc-keyed",
                    "buildah.bind-sources",
                    "buildah.bind-mtime-ignored",
                    "buildah.bind-stage-keyed",
                    "buildah.link-keyed",
                    "buildah.add-checksum-local-fails",
                    "buildah.copy-exclude-context",
                    "buildah.copy-parents",
                    "buildah.stage-args",
                    "buildah.words-at-step",
                    "buildah.platform-args-in-defaults",
                    "buildah.platform-args-in-from",
                    "buildah.bind-digest-fields",
                ],
                (Builder::Classic, _) => &[
                    "classic.copy-heredoc-fails",
                    "classic.link-ignored",
                    "classic.checksum-ignored",
                    "classic.exclude-ignored",
                ],
            };
            assert_eq!(later, expected, "{}", p.name());
        }
    }

    /// The behaviour of a rule is the functions next to it: nothing under `predict/` or `step/`
    /// asks whether a rule is on.
    #[test]
    fn only_the_rule_tables_ask_whether_a_rule_holds() {
        let predict = [
            ("predict/mod.rs", include_str!("../predict/mod.rs")),
            ("predict/plan.rs", include_str!("../predict/plan.rs")),
            ("predict/from.rs", include_str!("../predict/from.rs")),
            ("predict/run.rs", include_str!("../predict/run.rs")),
            ("predict/copy.rs", include_str!("../predict/copy.rs")),
            (
                "predict/metadata.rs",
                include_str!("../predict/metadata.rs"),
            ),
            ("predict/explain.rs", include_str!("../predict/explain.rs")),
            ("predict/state.rs", include_str!("../predict/state.rs")),
            ("predict/lookup.rs", include_str!("../predict/lookup.rs")),
            ("predict/cx.rs", include_str!("../predict/cx.rs")),
            ("step/mod.rs", include_str!("../step/mod.rs")),
            ("step/key.rs", include_str!("../step/key.rs")),
            ("step/outcome.rs", include_str!("../step/outcome.rs")),
            ("step/scope.rs", include_str!("../step/scope.rs")),
        ];
        for (name, text) in predict {
            for ask in [".on(", ".off(", ".follows(", ".switches"] {
                assert!(!text.contains(ask), "{name} calls `{ask}`");
            }
        }
    }
}
