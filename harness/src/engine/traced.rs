//! The wrapper `open` puts around every door: each call logs, at debug level, the engine, the
//! door, the operation, how long it took and whether it succeeded; and an error whose words name
//! a fault of the engine's own (its disk is full) becomes `Error::EngineFault`, whichever door or
//! call met it, so a run loses the scenario in flight instead of blaming itself.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::engine::door::{BuildRequest, Door};
use crate::engine::inventory::Engine;
use crate::engine::observe::Observation;
use crate::error::{Error, Fault, Result};

pub(super) struct Traced(pub(super) Box<dyn Door>);

impl Traced {
    fn call<T>(&self, op: &str, f: impl FnOnce(&dyn Door) -> Result<T>) -> Result<T> {
        let started = Instant::now();
        let result = f(self.0.as_ref());
        tracing::debug!(
            engine = %self.0.engine().name,
            door = self.0.name(),
            op,
            ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "engine call"
        );
        result.map_err(|e| as_engine_fault(e, self.0.engine()))
    }
}

impl Door for Traced {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn engine(&self) -> &Engine {
        self.0.engine()
    }
    fn version(&self) -> Result<String> {
        self.call("version", |d| d.version())
    }
    fn versions(&self) -> Result<crate::engine::client::EngineVersions> {
        self.call("versions", |d| d.versions())
    }
    fn ensure_base_image(&self, reference: &str, salt: &str) -> Result<()> {
        self.call("ensure_base_image", |d| {
            d.ensure_base_image(reference, salt)
        })
    }
    fn build(&self, request: &BuildRequest<'_>) -> Result<Observation> {
        self.call("build", |d| d.build(request))
    }
    fn tag(&self, image: &str, reference: &str) -> Result<()> {
        self.call("tag", |d| d.tag(image, reference))
    }
    fn push(&self, reference: &str) -> Result<()> {
        self.call("push", |d| d.push(reference))
    }
    fn delete_pushed(&self, reference: &str) -> Result<()> {
        self.call("delete_pushed", |d| d.delete_pushed(reference))
    }
    fn remove_images(&self, references: &[String]) -> Result<()> {
        self.call("remove_images", |d| d.remove_images(references))
    }
    fn remove_containers(&self, ids: &[String]) -> Result<()> {
        self.call("remove_containers", |d| d.remove_containers(ids))
    }
    fn resource_counts(&self) -> Result<(usize, usize)> {
        self.call("resource_counts", |d| d.resource_counts())
    }
    fn cachet_resources(&self) -> Result<(Vec<String>, Vec<String>)> {
        self.call("cachet_resources", |d| d.cachet_resources())
    }
    fn salted_resources(&self, salt: &str) -> Result<(Vec<String>, Vec<String>)> {
        self.call("salted_resources", |d| d.salted_resources(salt))
    }
    fn build_cache_ids(&self) -> Result<BTreeSet<String>> {
        self.call("build_cache_ids", |d| d.build_cache_ids())
    }
    fn prune_build_cache(&self, keep: &BTreeSet<String>) -> Result<usize> {
        self.call("prune_build_cache", |d| d.prune_build_cache(keep))
    }
    fn save_image(&self, image: &str) -> Result<Vec<u8>> {
        self.call("save_image", |d| d.save_image(image))
    }
}

/// `e` as an `EngineFault` when its words name one (an engine's message carried in an engine-call
/// or unavailable error: a base image load, a tag or a push that ran out of disk); otherwise `e`.
fn as_engine_fault(e: Error, engine: &Engine) -> Error {
    // An engine that said "no space left on device" answered: it is not unreachable either.
    let (Error::EngineCall(detail) | Error::EngineUnavailable { detail, .. }) = &e else {
        return e;
    };
    if let Some(fault) = Fault::of_message(detail) {
        return Error::EngineFault {
            engine: engine.name.clone(),
            endpoint: engine.endpoint.clone(),
            fault,
            detail: detail.clone(),
        };
    }
    // bollard's words for a request that got no answer within `call_timeout()`.
    if matches!(e, Error::EngineCall(_)) && detail.contains("Timeout error") {
        return Error::EngineUnavailable {
            engine: engine.name.clone(),
            endpoint: engine.endpoint.clone(),
            detail: format!(
                "no answer within {} s: {detail}",
                crate::engine::settings::call_timeout().as_secs()
            ),
        };
    }
    e
}
