//! The model engine: a door with no daemon behind it. Its builds are answered by the model itself
//! (`models::predict`, then `models::apply`) from an `EngineState` it keeps per profile, so the
//! whole pipeline (`cachet run`, confirmation, shrinking, reproducers, every report) runs in any
//! `cargo test`. A host of kind `model` (endpoint `model:NAME`) offers every profile; with
//! `mutant = "RULE"` its engines switch that rule off, and a reference run must then find a
//! confirmed discrepancy.
//!
//! The door keeps the bookkeeping a daemon would, in process: an engine per endpoint (images by
//! id, tags, and one cache state per profile, shared by every door opened on that endpoint), and
//! one registry per process keyed by full reference (`REGISTRY/cachet-SALT/app:tag`), so a push
//! on one model host is what `--cache-from` on another imports (inline cache as
//! `models::CacheExport`, imported with `EngineState::import`, as `ScenarioModel` does).
//! Image ids are fingerprints of the build. Build-cache records are counted per build that added
//! model records; pruning some replays the builds that remain into a fresh state, so what is left
//! is exactly what they made. There are no containers and no image files: `save_image` (the
//! second oracle's) is refused.
//!
//! Like every door, it never looks at the profile's switches (the harness's `--mutant`): it
//! answers with the engine's reference profile, or the host's mutant.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use models::{Build, CacheExport, EngineState, Outcome, Prediction, Profile, Switch};

use crate::engine::door::{BuildRequest, Door};
use crate::engine::inventory::{Engine, Host, HostKind, Inventory, MODEL_SCHEME};
use crate::engine::observe::{Observation, Observed};
use crate::error::{Error, Result};

/// One image the model engine holds.
#[derive(Clone, Debug)]
struct Image {
    /// Creation order (for "newest first").
    created: u64,
    /// The inline cache pushed with it, if its build exported one.
    export: Option<CacheExport>,
}

/// One build recorded in a cache state, kept so a prune can replay the others.
#[derive(Clone, Debug)]
struct Applied {
    /// Its build-cache record id (listed while the build added records).
    id: String,
    build: Build,
    /// The inline caches it could import, as they were then.
    imports: Vec<(String, CacheExport)>,
    /// How many model records it added.
    records: usize,
}

/// The cache of one profile on one endpoint.
#[derive(Clone, Debug)]
struct Cache {
    state: EngineState,
    applied: Vec<Applied>,
}

impl Cache {
    /// Records `build` (after importing what it could import); the cache it exported.
    fn record(
        &mut self,
        id: String,
        build: &Build,
        imports: Vec<(String, CacheExport)>,
    ) -> models::Exports {
        // Counted as the chains new after the build: `classic.newest-match` may drop older
        // records, so the count can fall while the build adds some.
        let before: BTreeSet<u64> = self.state.record_chains().collect();
        for (reference, export) in &imports {
            self.state.import(reference, export.clone());
        }
        let export = models::apply(&mut self.state, build);
        self.applied.push(Applied {
            id,
            build: build.clone(),
            imports,
            records: self
                .state
                .record_chains()
                .filter(|c| !before.contains(c))
                .count(),
        });
        export
    }

    /// Keeps only the builds whose record id `keep` names, replayed in order into a fresh state
    /// (a build that added no records holds none to keep); returns how many records went.
    fn retain(&mut self, keep: &BTreeSet<String>) -> usize {
        let before = self.state.record_count();
        let applied = std::mem::take(&mut self.applied);
        self.state = EngineState::new(self.state.profile.clone());
        for a in applied
            .into_iter()
            .filter(|a| a.records > 0 && keep.contains(&a.id))
        {
            self.record(a.id, &a.build, a.imports);
        }
        before.saturating_sub(self.state.record_count())
    }
}

/// What one model endpoint holds: its images, their tags and a cache per profile.
#[derive(Debug, Default)]
struct Store {
    images: BTreeMap<String, Image>,
    tags: BTreeMap<String, String>,
    caches: BTreeMap<String, Cache>,
    counter: u64,
}

impl Store {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn add_image(&mut self, id: &str, tag: &str, export: Option<CacheExport>) {
        let created = self.next();
        self.images
            .entry(id.to_string())
            .or_insert(Image { created, export });
        self.tags.insert(tag.to_string(), id.to_string());
    }

    /// An image by tag or id.
    fn resolve(&self, image: &str) -> Option<String> {
        self.tags
            .get(image)
            .cloned()
            .or_else(|| self.images.contains_key(image).then(|| image.to_string()))
    }

    /// Untags (or, given an id, removes) each reference; an image no tag names any more goes.
    fn remove(&mut self, references: &[String]) {
        for reference in references.iter().rev() {
            if self.tags.remove(reference).is_none() && self.images.remove(reference).is_some() {
                self.tags.retain(|_, id| id != reference);
            }
        }
        let tagged: BTreeSet<&String> = self.tags.values().collect();
        self.images.retain(|id, _| tagged.contains(id));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every model endpoint of the process, by endpoint.
fn stores() -> &'static Mutex<BTreeMap<String, Arc<Mutex<Store>>>> {
    static STORES: OnceLock<Mutex<BTreeMap<String, Arc<Mutex<Store>>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

/// The process's registry: what model engines pushed, by full reference, with its inline cache.
fn registry() -> &'static Mutex<BTreeMap<String, Option<CacheExport>>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Option<CacheExport>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The references model engines have pushed under `registry/` and not deleted (for leak checks).
pub fn pushed(registry_address: &str) -> Vec<String> {
    let prefix = format!("{registry_address}/");
    lock(registry())
        .keys()
        .filter(|r| r.starts_with(&prefix))
        .cloned()
        .collect()
}

/// A fingerprint as an image id: `sha256:` and 64 hex digits.
fn image_id(what: &str) -> String {
    let hex: String = (0u8..4)
        .map(|i| format!("{:016x}", models::fingerprint::fingerprint(&(what, i))))
        .collect();
    format!("sha256:{hex}")
}

/// A door to the model engine of `engine.endpoint`.
pub struct ModelDoor {
    engine: Engine,
    store: Arc<Mutex<Store>>,
}

impl ModelDoor {
    pub fn new(engine: Engine) -> ModelDoor {
        let store = lock(stores())
            .entry(engine.endpoint.clone())
            .or_default()
            .clone();
        ModelDoor { engine, store }
    }

    /// The profile this engine answers with: the engine's, without the harness's switches, and
    /// with the host's mutant switched off.
    fn profile(&self) -> Result<Profile> {
        let mut profile = self.engine.profile.clone();
        profile.switches.clear();
        match &self.engine.mutant {
            None => Ok(profile),
            Some(rule) => profile
                .with_switch(rule, Switch::Off)
                .map_err(|e| Error::BadInput(format!("{}: mutant: {e}", self.engine.name))),
        }
    }

    /// `buildkit`, or `buildkit, copy.mtime-ignored off`.
    fn describe(&self) -> String {
        let mut text = self.engine.profile.name();
        if let Some(rule) = &self.engine.mutant {
            let _ = write!(text, ", {rule} off");
        }
        text
    }

    /// The cache `request` may import, from the registry (which holds local backends' exports
    /// too, under their keys: `CacheSpec::key`).
    fn imports(request: &BuildRequest<'_>) -> Vec<(String, CacheExport)> {
        let registry = lock(registry());
        let keys = request.cache_from.iter();
        let keys = keys.filter_map(|v| models::step::backends::parse(v, false).ok());
        keys.map(|spec| spec.key())
            .filter_map(|k| Some((k.clone(), registry.get(&k)?.clone()?)))
            .collect()
    }
}

/// What a real door's observation of this build would be if the engine behaved as `prediction`
/// says: each step cached or rebuilt, the failing step failed and the build's error set, a
/// refused Dockerfile an error with no steps; steps the model makes no claim on are absent.
pub fn observation_of(prediction: &Prediction, label: &str) -> Observation {
    let mut observation = Observation::default();
    let mut log = format!("[model {label}]\n");
    if let Some(why) = &prediction.rejected {
        let error = format!("the model refuses the Dockerfile: {why}");
        let _ = writeln!(log, "error: {error}");
        observation.error = Some(error);
        observation.log = log;
        return observation;
    }
    for step in &prediction.steps {
        let observed = match &step.outcome {
            Outcome::Cached { .. } => Some(Observed::Cached),
            Outcome::Rebuilt { .. } => Some(Observed::Rebuilt),
            Outcome::Fails { why } => {
                observation.error.get_or_insert_with(|| why.clone());
                Some(Observed::Failed {
                    message: why.clone(),
                })
            }
            Outcome::NotAStep { .. } | Outcome::Skipped { .. } | Outcome::Unsupported { .. } => {
                None
            }
        };
        let why = match &step.outcome {
            Outcome::Cached { rule, .. } | Outcome::NotAStep { rule } => rule.to_string(),
            Outcome::Rebuilt { reason } => reason.to_string(),
            Outcome::Fails { why } | Outcome::Skipped { why } | Outcome::Unsupported { why } => {
                why.clone()
            }
        };
        let _ = writeln!(
            log,
            "#{} {}: {} ({why})",
            step.step,
            step.instruction,
            step.outcome.short()
        );
        if let Some(observed) = observed {
            observation.steps.insert(step.step, observed);
        }
    }
    observation.log = log;
    observation
}

impl Door for ModelDoor {
    fn name(&self) -> &'static str {
        "model"
    }
    fn engine(&self) -> &Engine {
        &self.engine
    }
    fn version(&self) -> Result<String> {
        self.profile()?;
        Ok(format!(
            "cachet-model {} ({})",
            env!("CARGO_PKG_VERSION"),
            self.describe()
        ))
    }
    fn ensure_base_image(&self, reference: &str, salt: &str) -> Result<()> {
        let mut store = lock(&self.store);
        if store.resolve(reference).is_none() {
            store.add_image(&image_id(&format!("base {salt}")), reference, None);
        }
        Ok(())
    }
    fn build(&self, request: &BuildRequest<'_>) -> Result<Observation> {
        let profile = self.profile()?;
        let build = Build {
            context: request.context.clone(),
            options: request.options.clone(),
        };
        let imports = Self::imports(request);
        let mut store = lock(&self.store);
        let n = store.next();
        let cache = store
            .caches
            .entry(self.describe())
            .or_insert_with(|| Cache {
                state: EngineState::new(profile.clone()),
                applied: Vec::new(),
            });
        for (reference, export) in &imports {
            cache.state.import(reference, export.clone());
        }
        let prediction = models::predict(&cache.state, &build);
        let input = serde_json::to_string(&build).map_err(|e| Error::Harness(e.to_string()))?;
        let record_id = format!(
            "{:016x}",
            models::fingerprint::fingerprint(&(n, &self.engine.endpoint))
        );
        let export = cache.record(record_id, &build, imports);
        let mut observation = observation_of(&prediction, &self.describe());
        if observation.error.is_none() {
            let id = image_id(&format!("{} {input}", self.describe()));
            store.add_image(&id, &request.tag, export.inline);
            let mut registry = lock(registry());
            for (key, export) in export.to {
                registry.insert(key, Some(export));
            }
            observation.image_id = Some(id);
        }
        Ok(observation)
    }
    fn tag(&self, image: &str, reference: &str) -> Result<()> {
        let mut store = lock(&self.store);
        let id = store
            .resolve(image)
            .ok_or_else(|| Error::Harness(format!("no image `{image}` on {}", self.engine.name)))?;
        store.tags.insert(reference.to_string(), id);
        Ok(())
    }
    fn push(&self, reference: &str) -> Result<()> {
        let store = lock(&self.store);
        let export = store
            .resolve(reference)
            .and_then(|id| store.images.get(&id))
            .ok_or_else(|| {
                Error::Harness(format!("no image `{reference}` on {}", self.engine.name))
            })?
            .export
            .clone();
        lock(registry()).insert(reference.to_string(), export);
        Ok(())
    }
    fn delete_pushed(&self, reference: &str) -> Result<()> {
        lock(registry()).remove(reference);
        Ok(())
    }
    fn remove_images(&self, references: &[String]) -> Result<()> {
        lock(&self.store).remove(references);
        Ok(())
    }
    fn remove_containers(&self, _ids: &[String]) -> Result<()> {
        Ok(())
    }
    fn resource_counts(&self) -> Result<(usize, usize)> {
        Ok((lock(&self.store).images.len(), 0))
    }
    fn cachet_resources(&self) -> Result<(Vec<String>, Vec<String>)> {
        let store = lock(&self.store);
        let mut images: Vec<(&String, &Image)> = store.images.iter().collect();
        images.sort_by_key(|(_, image)| std::cmp::Reverse(image.created));
        Ok((
            images.into_iter().map(|(id, _)| id.clone()).collect(),
            vec![],
        ))
    }
    fn build_cache_ids(&self) -> Result<BTreeSet<String>> {
        let store = lock(&self.store);
        Ok(store
            .caches
            .values()
            .flat_map(|c| &c.applied)
            .filter(|a| a.records > 0)
            .map(|a| a.id.clone())
            .collect())
    }
    fn prune_build_cache(&self, keep: &BTreeSet<String>) -> Result<usize> {
        let mut store = lock(&self.store);
        Ok(store.caches.values_mut().map(|c| c.retain(keep)).sum())
    }
    fn save_image(&self, image: &str) -> Result<Vec<u8>> {
        Err(Error::BadInput(format!(
            "{} is a model engine: it has no image files to save (`{image}`); --fresh-check needs a real engine",
            self.engine.name
        )))
    }
}

/// An inventory built in code (for tests and trying cachet without engines): model hosts `a` and
/// `b`, both with `mutant` if given, on endpoints and a registry address no other call of this
/// function returns, so what one test builds is never seen by another.
pub fn inventory(mutant: Option<&str>) -> Inventory {
    static SETS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let set = SETS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let host = |name: &str| Host {
        mutant: mutant.map(str::to_string),
        ..Host::at(
            format!("{MODEL_SCHEME}{}-{set}-{name}", std::process::id()),
            HostKind::Model,
        )
    };
    Inventory {
        registry: Some(format!("model-registry-{}-{set}", std::process::id())),
        cli: None,
        buildx: Some(false),
        hosts: ["a", "b"]
            .into_iter()
            .map(|name| (name.to_string(), host(name)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::BuildOptions;

    fn request<'a>(
        context: &'a models::BuildContext,
        options: &'a BuildOptions,
    ) -> BuildRequest<'a> {
        BuildRequest {
            context,
            options,
            cache_from: options.cache_from.clone(),
            tag: "t:1".into(),
            workdir: None,
        }
    }

    #[test]
    fn a_second_build_hits_and_pruning_forgets_it() {
        let inventory = inventory(None);
        let engine = inventory.engine("buildkit@a").unwrap();
        let door = ModelDoor::new(engine);
        let mut context = models::BuildContext::new();
        context.insert("a", models::Entry::file("x")).unwrap();
        context.set_dockerfile_text("FROM base\nCOPY a /a\n");
        let options = BuildOptions::default();
        let keep = door.build_cache_ids().unwrap();
        let first = door.build(&request(&context, &options)).unwrap();
        assert_eq!(first.steps[&2], Observed::Rebuilt);
        let again = door.build(&request(&context, &options)).unwrap();
        assert_eq!(again.steps[&2], Observed::Cached);
        assert_eq!(first.image_id, again.image_id);
        assert_eq!(door.resource_counts().unwrap(), (1, 0));
        assert_eq!(door.build_cache_ids().unwrap().len(), 1);
        assert!(door.prune_build_cache(&keep).unwrap() > 0);
        assert!(door.build_cache_ids().unwrap().is_empty());
        let after = door.build(&request(&context, &options)).unwrap();
        assert_eq!(after.steps[&2], Observed::Rebuilt, "the records are gone");
        door.remove_images(&["t:1".to_string()]).unwrap();
        assert_eq!(door.resource_counts().unwrap(), (0, 0));
        assert!(door.save_image("t:1").is_err());
    }

    #[test]
    fn a_mutant_host_answers_as_its_mutant_and_offers_the_profiles_holding_its_rule() {
        let inventory = inventory(Some("bk.xattr-filter"));
        let kinds: Vec<String> = inventory
            .engines()
            .into_iter()
            .filter(|e| e.host == "a")
            .map(|e| e.kind())
            .collect();
        assert_eq!(kinds, ["buildkit", "buildkit-cli"]);
        let door = ModelDoor::new(inventory.engine("buildkit@a").unwrap());
        assert!(door
            .version()
            .unwrap()
            .ends_with("(buildkit, bk.xattr-filter off)"));
    }

    #[test]
    fn model_hosts_are_checked_when_an_inventory_loads() {
        let check = |text: &str| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("inventory.toml");
            std::fs::write(&path, text).unwrap();
            Inventory::parse_file(&path).map(|i| i.engines().len())
        };
        let host = "[hosts.a]\nendpoint = \"model:a\"\nkind = \"model\"\n";
        assert_eq!(check(host).unwrap(), 6);
        let mutant = format!("{host}mutant = \"classic.xattrs\"\n");
        let holding = Profile::all()
            .iter()
            .filter(|p| p.rule("classic.xattrs").is_some())
            .count();
        assert!(holding < 6);
        assert_eq!(check(&mutant).unwrap(), holding, "the profiles holding it");
        let unknown = format!("{host}mutant = \"no.such-rule\"\n");
        assert!(check(&unknown).unwrap_err().to_string().contains("mutant"));
        let daemon = "[hosts.a]\nendpoint = \"model:a\"\nkind = \"docker\"\n";
        assert!(
            check(daemon).is_err(),
            "a docker host with a model endpoint"
        );
    }
}
