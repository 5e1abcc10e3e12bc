//! Profiles: one per builder, transport and engine generation, each a rule table plus the
//! switches of a mutant.
//!
//! The rules live in `general.rs`, `classic.rs`, `buildkit.rs` and `buildah.rs`: each `Rule` const
//! sits next to the functions that carry out its behaviour, and those functions are the only
//! callers of `Profile::on` / `Profile::off`. `predict/` calls the functions, never asks a rule.
//! Generations (`generation.rs`) differ only through a rule's `versions` and `Features::of`.

pub mod buildah;
pub mod buildkit;
pub mod classic;
pub mod general;
pub mod generation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::{Rule, RuleId, Switch};

pub use generation::{Features, Generation, GenerationChoice, Project, Support, Version, Versions};

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

/// A profile: builder × door × engine generation, plus the switches of a mutant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub builder: Builder,
    pub transport: Transport,
    /// Which releases the profile models (`generation.rs`); fits the builder.
    pub generation: Generation,
    /// What the generation's frontend accepts (`Features::of`).
    pub features: Features,
    /// Rules switched off or inverted (a mutant); empty for the reference profile.
    pub switches: BTreeMap<RuleId, Switch>,
    /// Where the daemon keeps images (`ImageStore`): a BuildKit rule may hold for one only.
    #[serde(default)]
    pub store: ImageStore,
}

/// Where a Docker daemon keeps images: the graph drivers' layer store (Engine 20.10 to 28's
/// default), or containerd's snapshotters (`"features": {"containerd-snapshotter": true}`,
/// Engine 29's default on new installs). It decides whether BuildKit inside the daemon can merge
/// layers: moby#45153 (Engine 23+) turns merge and diff off for the graph drivers, so `COPY
/// --link` falls back to a plain COPY there (`bk.link` holds with containerd only).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ImageStore {
    #[default]
    Graph,
    Containerd,
}

/// The name suffix of a profile of the containerd image store.
const CONTAINERD_SUFFIX: &str = "+containerd";

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
    /// The reference profile of the builder's oldest generation (the engines first measured:
    /// Engine 20.10.24, Podman 4.3.1).
    pub fn new(builder: Builder, transport: Transport) -> Profile {
        Profile::at(builder, transport, Generation::oldest(builder))
            .expect("the oldest generation fits its builder")
    }

    /// The reference profile of a generation, if it is one of the builder's engine.
    pub fn at(builder: Builder, transport: Transport, generation: Generation) -> Option<Profile> {
        generation.fits(builder).then(|| Profile {
            builder,
            transport,
            generation,
            features: Features::of(builder, generation),
            switches: BTreeMap::new(),
            store: ImageStore::Graph,
        })
    }

    /// This profile on a daemon with the given image store.
    pub fn with_store(mut self, store: ImageStore) -> Profile {
        self.store = store;
        self
    }

    /// The reference profile for what an engine reports (`Generation::from_version`), with the
    /// choice (whose note says when the version is not one cachet knows).
    pub fn for_version(
        builder: Builder,
        transport: Transport,
        reported: &str,
    ) -> (Profile, GenerationChoice) {
        let choice = Generation::from_version(builder, reported);
        let profile = Profile::at(builder, transport, choice.generation)
            .expect("from_version picks a generation of the builder");
        (profile, choice)
    }

    /// The six reference profiles of the default (oldest) generation.
    pub fn all() -> Vec<Profile> {
        Profile::all_generations()
            .into_iter()
            .filter(|p| p.generation.is_oldest())
            .collect()
    }

    /// Every reference profile of every generation: builder × door × generation, 18 in all,
    /// grouped by builder and door, oldest generation first; then BuildKit of Engine 26 and 28
    /// on the containerd image store (4 more, `buildkit:28+containerd`), where a rule differs.
    pub fn all_generations() -> Vec<Profile> {
        let mut out = Vec::new();
        for builder in [Builder::Classic, Builder::BuildKit, Builder::Buildah] {
            for transport in [Transport::Api, Transport::Cli] {
                for generation in Generation::known(builder) {
                    out.extend(Profile::at(builder, transport, *generation));
                }
            }
        }
        let containerd: Vec<Profile> = out
            .iter()
            .filter(|p| p.builder == Builder::BuildKit && !p.generation.is_oldest())
            .map(|p| p.clone().with_store(ImageStore::Containerd))
            .collect();
        out.extend(containerd);
        out
    }

    /// `classic`, `classic-cli`, `buildkit`, `buildkit-cli`, `podman`, `podman-cli` for the
    /// oldest generation; `NAME:LABEL` for the others (`buildkit-cli:28`, `podman:5.8`).
    pub fn name(&self) -> String {
        let store = match self.store {
            ImageStore::Graph => "",
            ImageStore::Containerd => CONTAINERD_SUFFIX,
        };
        if self.generation.is_oldest() {
            format!("{}{store}", self.base_name())
        } else {
            format!("{}:{}{store}", self.base_name(), self.generation.label())
        }
    }

    /// The name without the generation: what engine kinds and case-file keys of the default
    /// generation use.
    pub fn base_name(&self) -> String {
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

    /// A reference profile by name: `buildkit-cli` (oldest generation), `buildkit-cli:28`, or
    /// the oldest spelled out (`buildkit-cli:20.10`).
    pub fn from_name(name: &str) -> Option<Profile> {
        let (name, store) = match name.strip_suffix(CONTAINERD_SUFFIX) {
            Some(name) => (name, ImageStore::Containerd),
            None => (name, ImageStore::Graph),
        };
        let (base, label) = match name.split_once(':') {
            Some((base, label)) => (base, Some(label)),
            None => (name, None),
        };
        Profile::all_generations().into_iter().find(|p| {
            p.store == store
                && p.base_name() == base
                && match label {
                    None => p.generation.is_oldest(),
                    Some(label) => p.generation.label() == label,
                }
        })
    }

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
                CONTAINERD_SUFFIX
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
