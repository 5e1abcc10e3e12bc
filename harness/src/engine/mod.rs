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
//! operation and duration at debug level (`RUST_LOG=cachet=debug`). The model engine (`model`:
//! a `model:` endpoint, builds answered from a `models::Profile` in process, no daemon) is one
//! more door.

pub mod api;
pub mod base_image;
pub mod cache;
pub mod clean;
pub mod cli;
pub mod client;
pub mod daemon;
pub mod door;
pub mod doors;
pub mod guard;
pub mod inventory;
pub mod materialize;
pub mod model;
pub mod observe;
pub mod places;
pub mod podman;
pub mod registry;
pub mod settings;
mod traced;
pub mod versions;

use std::path::Path;

use crate::engine::doors::Via;
use crate::engine::inventory::{Engine, Inventory};
use crate::error::Result;

pub use base_image::BASE_LABEL;
pub use client::EngineVersions;
pub use daemon::is_cachet_reference;
pub use door::{BuildRequest, Door};
pub use settings::{check_environment, env_seconds, SECONDS_SETTINGS};

/// The door an engine's builds go through, traced.
pub fn open(engine: &Engine) -> Box<dyn Door> {
    let engine = engine.clone();
    let door: Box<dyn Door> = match engine.door.spec().via {
        _ if engine.is_model() => Box::new(model::ModelDoor::new(engine)),
        Via::Cli => Box::new(cli::CliDoor { engine }),
        Via::PodmanApi => Box::new(podman::PodmanDoor { engine }),
        Via::DockerApi => Box::new(api::ApiDoor { engine }),
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
