//! The `Profile`: builder × door × engine generation × image store, plus a mutant's switches;
//! its names and the reference profiles. What a profile follows (`Profile::rules`, `on`, `off`)
//! is in `profiles/mod.rs`, next to the catalogue.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profiles::builder::{Builder, ImageStore, Transport};
use crate::profiles::generation::{Features, Generation, GenerationChoice};
use crate::rules::id::{RuleId, Switch};

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

/// The name suffix of a profile of the containerd image store.
pub(crate) const CONTAINERD_SUFFIX: &str = "+containerd";

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

    pub fn is_mutant(&self) -> bool {
        !self.switches.is_empty()
    }
}
