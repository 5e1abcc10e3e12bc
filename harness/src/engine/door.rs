//! The `Door` trait, everything cachet asks of an engine, and what one build needs
//! (`BuildRequest`). A real door implements `build` (its raw output) and gets every other call
//! from `real_door!`: the Docker-compatible API (`daemon`), the base image, the registry and the
//! build-cache records.

use std::collections::BTreeSet;
use std::path::Path;

use models::BuildOptions;

use crate::engine::client::EngineVersions;
use crate::engine::inventory::Engine;
use crate::engine::observe::Observation;
use crate::error::Result;

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

/// The observation of a build a real door collected.
pub(crate) fn observed(
    engine: &Engine,
    request: &BuildRequest<'_>,
    raw: crate::engine::observe::RawBuild,
) -> Observation {
    let dockerfile = request.context.dockerfile_text().unwrap_or_default();
    crate::engine::observe::interpret(&engine.profile, raw, &dockerfile, request.options)
}

/// `impl Door` for a real door: a struct with an `engine: Engine` field in a module whose
/// `build(&Engine, &BuildRequest) -> Result<RawBuild>` collects a build's raw output. Every other
/// call goes the same way for all of them, through the Docker-compatible API (`daemon`), the base
/// image, the registry and the build-cache records.
macro_rules! real_door {
    ($door:ident, $name:literal) => {
        impl crate::engine::door::Door for $door {
            fn name(&self) -> &'static str {
                $name
            }
            fn build(
                &self,
                request: &crate::engine::door::BuildRequest<'_>,
            ) -> crate::error::Result<crate::engine::observe::Observation> {
                let raw = build(&self.engine, request)?;
                Ok(crate::engine::door::observed(&self.engine, request, raw))
            }
            crate::engine::door::daemon_calls!();
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
        fn versions(&self) -> crate::error::Result<crate::engine::client::EngineVersions> {
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
