//! Engines: every call cachet makes to a build engine goes through the `Door` trait, and
//! nothing outside this module talks to one (no bollard, no docker CLI).
//!
//! One door per way a build gets in: `api` (Docker Engine API with a tar: classic and BuildKit),
//! `cli` (the docker CLI or buildx syncing a directory: classic-cli, buildkit-cli, buildx,
//! podman-cli) and `podman` (Podman's compat API). They share the Docker-compatible calls every
//! real engine answers (`daemon`), the base image (`base_image`), the registry (`registry`), the
//! build-cache records and their guard (`cache`) and the connections and version probes
//! (`client`). Doors collect raw output only; `observe` interprets it.
//!
//! `open` picks the door from an `inventory::Engine` and wraps it so every call logs its door,
//! operation and duration at debug level (`RUST_LOG=harness=debug`). The model engine (`model`:
//! a `model:` endpoint, builds answered from a `models::Profile` in process, no daemon) is one
//! more door.

pub mod api;
pub mod base_image;
pub mod cache;
pub mod clean;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod inventory;
pub mod materialize;
pub mod model;
pub mod observe;
pub mod podman;
pub mod registry;
mod traced;
pub mod versions;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use models::{BuildOptions, Transport};

use crate::engine::inventory::{Engine, Inventory};
use crate::engine::observe::Observation;
use crate::error::{Error, Result};

pub use base_image::BASE_LABEL;
pub use daemon::is_cachet_reference;

/// What one build needs besides the engine.
pub struct BuildRequest<'a> {
    pub context: &'a models::BuildContext,
    pub options: &'a BuildOptions,
    /// Registry references, already mapped to the local registry.
    pub cache_from: Vec<String>,
    pub tag: String,
    /// For the CLI door: the directory the context lives in. A scenario keeps one per host and
    /// rewrites it in place for every build, as a user edits a checkout, so the CLI's incremental
    /// context sync (and its bugs) is exercised. `None`: a fresh temporary directory.
    pub workdir: Option<&'a Path>,
}

/// Everything cachet asks of an engine. Errors are for an engine that cannot be reached or a
/// harness fault; a build that fails or whose outcome is unknown is an `Observation`.
pub trait Door: Send + Sync {
    /// The door's name in logs: `api`, `cli`, `podman`, `model`.
    fn name(&self) -> &'static str;
    fn engine(&self) -> &Engine;
    /// The engine's version (for buildx, the daemon's and the plugin's); fails if it is down.
    fn version(&self) -> Result<String>;
    /// The daemon's, the CLI's and the plugin's versions, for `cachet engines`. A door without a
    /// CLI (a model-backed engine) has only the first.
    fn versions(&self) -> Result<EngineVersions> {
        Ok(EngineVersions {
            daemon: self.version()?,
            cli: None,
            buildx: None,
        })
    }
    /// Loads the salted base image `reference` (a no-op when it is there already).
    fn ensure_base_image(&self, reference: &str, salt: &str) -> Result<()>;
    /// Runs one build and observes it.
    fn build(&self, request: &BuildRequest<'_>) -> Result<Observation>;
    fn tag(&self, image: &str, reference: &str) -> Result<()>;
    fn push(&self, reference: &str) -> Result<()>;
    /// Deletes a reference this engine pushed from its registry (missing is fine).
    fn delete_pushed(&self, reference: &str) -> Result<()>;
    /// Removes images by reference, the last first; missing ones are fine.
    fn remove_images(&self, references: &[String]) -> Result<()>;
    /// Removes containers by id, running ones too; missing ones are fine.
    fn remove_containers(&self, ids: &[String]) -> Result<()>;
    /// How many images (intermediate ones included) and containers (stopped ones included) the
    /// engine holds: what the leak check compares.
    fn resource_counts(&self) -> Result<(usize, usize)>;
    /// What cachet made there, children before the images they are built on: image ids and
    /// container ids.
    fn cachet_resources(&self) -> Result<(Vec<String>, Vec<String>)>;
    /// What one scenario made there (its base image's salt in their label), children first: image
    /// ids and container ids. None where a door keeps no labels (the model engine).
    fn salted_resources(&self, _salt: &str) -> Result<(Vec<String>, Vec<String>)> {
        Ok((Vec::new(), Vec::new()))
    }
    /// The ids of the build-cache records the engine holds (none where layers are images).
    fn build_cache_ids(&self) -> Result<BTreeSet<String>>;
    /// Removes the build-cache records not in `keep`; how many went.
    fn prune_build_cache(&self, keep: &BTreeSet<String>) -> Result<usize>;
    /// An image as a `docker save` archive.
    fn save_image(&self, image: &str) -> Result<Vec<u8>>;
}

/// What `cachet engines` shows of an engine: the daemon's version, and for CLI doors the CLI's
/// (`docker --version`) and, through buildx, the plugin's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineVersions {
    pub daemon: String,
    pub cli: Option<String>,
    pub buildx: Option<String>,
}

/// The door an engine's builds go through, traced.
pub fn open(engine: &Engine) -> Box<dyn Door> {
    let engine = engine.clone();
    let door: Box<dyn Door> = match (engine.builder(), engine.transport()) {
        _ if engine.is_model() => Box::new(model::ModelDoor::new(engine)),
        (_, Transport::Cli) => Box::new(cli::CliDoor { engine }),
        (models::Builder::Buildah, Transport::Api) => Box::new(podman::PodmanDoor { engine }),
        (_, Transport::Api) => Box::new(api::ApiDoor { engine }),
    };
    Box::new(traced::Traced(door))
}

/// The engine's version; fails if it does not answer.
pub fn version(engine: &Engine) -> Result<String> {
    open(engine).version()
}

/// The engine's daemon, CLI and plugin versions; fails if the daemon does not answer.
pub fn versions(engine: &Engine) -> Result<EngineVersions> {
    open(engine).versions()
}

/// The inventory (`Inventory::load_with`), asking each CLI what it has (buildx, a built-in BuildKit client) if need be.
pub fn load_inventory() -> Result<Inventory> {
    Inventory::load_with(client::cli_facts)
}

/// An inventory file (`Inventory::from_file_with`), asking each CLI what it has if need be.
pub fn inventory_from_file(path: &Path) -> Result<Inventory> {
    Inventory::from_file_with(path, client::cli_facts)
}

/// The settings read from the environment as whole seconds, with their defaults (what each
/// bounds: `build_timeout`, `call_timeout`, `run`'s engine wait).
pub const SECONDS_SETTINGS: [(&str, u64); 3] = [
    ("CACHET_BUILD_TIMEOUT", 300),
    ("CACHET_CALL_TIMEOUT", 120),
    ("CACHET_ENGINE_WAIT", 120),
];

fn default_seconds(name: &str) -> u64 {
    SECONDS_SETTINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, d)| *d)
}

/// `name`'s value in whole seconds, or its default (`SECONDS_SETTINGS`) when unset; a value that
/// is not a whole number of seconds is bad input (`check_environment` says so before any work).
pub fn env_seconds(name: &str) -> Result<Duration> {
    let default = default_seconds(name);
    match std::env::var(name) {
        Err(_) => Ok(Duration::from_secs(default)),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                Error::BadInput(format!(
                    "{name}=`{v}` is not a whole number of seconds (unset, it is {default})"
                ))
            }),
    }
}

/// `env_seconds`, its default where the value does not parse (the command line refused such a
/// value before any work: `check_environment`).
pub(crate) fn seconds_setting(name: &str) -> Duration {
    env_seconds(name).unwrap_or(Duration::from_secs(default_seconds(name)))
}

/// Every `SECONDS_SETTINGS` value parses, or the first that does not, as bad input.
pub fn check_environment() -> Result<()> {
    SECONDS_SETTINGS
        .iter()
        .try_for_each(|(name, _)| env_seconds(name).map(|_| ()))
}

/// How long one build may take before its outcome counts as unknown: 300 s, or
/// `CACHET_BUILD_TIMEOUT` seconds (read once per process).
pub(crate) fn build_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| seconds_setting("CACHET_BUILD_TIMEOUT"))
}

/// How long any other engine call may wait for its answer before the engine counts as not
/// answering: 120 s, or `CACHET_CALL_TIMEOUT` seconds. A daemon that stalled (SIGSTOP, a hung
/// storage driver) then costs the scenario in flight, and the run waits for it as for one that
/// went away.
pub(crate) fn call_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| seconds_setting("CACHET_CALL_TIMEOUT"))
}

/// The observation of a build a real door collected.
fn observed(
    engine: &Engine,
    request: &BuildRequest<'_>,
    raw: crate::engine::observe::RawBuild,
) -> Observation {
    let dockerfile = request.context.dockerfile_text().unwrap_or_default();
    crate::engine::observe::interpret(engine.builder(), raw, &dockerfile, request.options)
}

/// `impl Door` for a real door: a struct with an `engine: Engine` field in a module whose
/// `build(&Engine, &BuildRequest) -> Result<RawBuild>` collects a build's raw output. Every other
/// call goes the same way for all of them, through the Docker-compatible API (`daemon`), the base
/// image, the registry and the build-cache records.
macro_rules! real_door {
    ($door:ident, $name:literal) => {
        impl crate::engine::Door for $door {
            fn name(&self) -> &'static str {
                $name
            }
            fn build(
                &self,
                request: &crate::engine::BuildRequest<'_>,
            ) -> crate::error::Result<crate::engine::observe::Observation> {
                let raw = build(&self.engine, request)?;
                Ok(crate::engine::observed(&self.engine, request, raw))
            }
            crate::engine::daemon_calls!();
        }
    };
}
pub(crate) use real_door;

/// The non-build calls of `real_door`.
macro_rules! daemon_calls {
    () => {
        fn engine(&self) -> &crate::engine::inventory::Engine {
            &self.engine
        }
        fn version(&self) -> crate::error::Result<String> {
            crate::engine::client::engine_version(&self.engine)
        }
        fn versions(&self) -> crate::error::Result<crate::engine::EngineVersions> {
            crate::engine::client::engine_versions(&self.engine)
        }
        fn ensure_base_image(&self, reference: &str, salt: &str) -> crate::error::Result<()> {
            crate::engine::base_image::ensure_base_image(&self.engine, reference, salt)
        }
        fn tag(&self, image: &str, reference: &str) -> crate::error::Result<()> {
            crate::engine::daemon::tag_image(&self.engine, image, reference)
        }
        fn push(&self, reference: &str) -> crate::error::Result<()> {
            crate::engine::daemon::push_image(&self.engine, reference)
        }
        fn delete_pushed(&self, reference: &str) -> crate::error::Result<()> {
            crate::engine::registry::delete_from_registry(reference)
        }
        fn remove_images(&self, references: &[String]) -> crate::error::Result<()> {
            crate::engine::daemon::remove_images(&self.engine, references)
        }
        fn remove_containers(&self, ids: &[String]) -> crate::error::Result<()> {
            crate::engine::daemon::remove_containers(&self.engine, ids)
        }
        fn resource_counts(&self) -> crate::error::Result<(usize, usize)> {
            crate::engine::daemon::resource_counts(&self.engine)
        }
        fn cachet_resources(&self) -> crate::error::Result<(Vec<String>, Vec<String>)> {
            crate::engine::daemon::cachet_resources(&self.engine)
        }
        fn salted_resources(&self, salt: &str) -> crate::error::Result<(Vec<String>, Vec<String>)> {
            crate::engine::daemon::salted_resources(&self.engine, salt)
        }
        fn build_cache_ids(&self) -> crate::error::Result<std::collections::BTreeSet<String>> {
            crate::engine::cache::build_cache_ids(&self.engine)
        }
        fn prune_build_cache(
            &self,
            keep: &std::collections::BTreeSet<String>,
        ) -> crate::error::Result<usize> {
            crate::engine::cache::prune_build_cache(&self.engine, keep)
        }
        fn save_image(&self, image: &str) -> crate::error::Result<Vec<u8>> {
            crate::engine::daemon::save_image(&self.engine, image)
        }
    };
}
pub(crate) use daemon_calls;
