//! Running a scenario on an engine: the client half of the harness. For every transition it
//! applies the mutations, asks the model, runs the real build, observes and checks it, and keeps
//! everything in a `History`. It removes every image it created, whatever happens.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use models::scenario::{apply_mutation, Scenario, ScenarioModel};
use models::step::backends::{self, Backend};
use models::{Build, BuildOptions, Prediction};
use serde::Serialize;

use crate::check::{check, StepVerdict, Verdict};
use crate::engine::inventory::{Engine, Inventory};
use crate::engine::observe::Observation;
use crate::engine::{self, BuildRequest};
use crate::error::{Error, Result};
use crate::report::schema;
use crate::run::leftovers::{keep_unclean, sweep_salt};
use crate::run::second_oracle::{fresh_check, fresh_engine_for};
use crate::run::shadows::{shadow_kills, Shadow};

pub const DEFAULT_REGISTRY: &str = "127.0.0.1:5000";

#[derive(Clone, Debug, Serialize)]
pub struct BuildRecord {
    pub transition: usize,
    pub host: String,
    pub engine: String,
    pub options: BuildOptions,
    pub prediction: Prediction,
    pub observation: Observation,
    pub verdicts: Vec<StepVerdict>,
    /// The second oracle (`--fresh-check`): how this build's image differs from a fresh
    /// `--no-cache` build of the same input. Empty when they agree or the check did not run.
    pub stale: Vec<String>,
    /// `(rule, step)` where a watched mutant (`Hooks::shadows`) is killed: the engine did what
    /// the reference predicted there and not what the mutant predicted. Not in reports (a
    /// report's `ScenarioResult::kills` holds the confirmed ones).
    #[serde(skip)]
    pub kills: Vec<(String, usize)>,
    /// How long the engine took over the build (in reports as `millis`).
    #[serde(rename = "millis", serialize_with = "as_millis")]
    pub duration: Duration,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl BuildRecord {
    pub fn discrepancies(&self) -> impl Iterator<Item = &StepVerdict> {
        self.verdicts
            .iter()
            .filter(|v| v.verdict == Verdict::Discrepancy)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct History {
    pub engine: String,
    pub salt: String,
    pub builds: Vec<BuildRecord>,
}

impl History {
    /// Steps where engine and model disagree, plus builds whose cached image differs from a
    /// fresh build.
    pub fn discrepancy_count(&self) -> usize {
        self.builds
            .iter()
            .map(|b| b.discrepancies().count() + usize::from(!b.stale.is_empty()))
            .sum()
    }
    pub fn indeterminate_count(&self) -> usize {
        crate::check::indeterminate_count(self.builds.iter().flat_map(|b| &b.verdicts))
    }
}

/// A salt no other scenario has used: it names the scenario's base image, tags and registry refs,
/// so engines' global caches never leak between scenarios. `label` only makes it readable in logs.
pub fn fresh_salt(label: impl std::hash::Hash) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:016x}",
        models::fingerprint::fingerprint(&(label, nanos, std::process::id()))
    )
}

/// `FROM base` becomes `FROM <base_ref>`: the scenario's salted base image.
pub fn substitute_base(dockerfile: &str, base_ref: &str) -> String {
    let mut out = String::new();
    for line in dockerfile.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let mut words = trimmed.splitn(3, [' ', '\t']);
        match (words.next(), words.next()) {
            (Some(kw), Some(image))
                if kw.eq_ignore_ascii_case("from") && image.trim_end() == "base" =>
            {
                let rest = &trimmed[kw.len() + 1 + 4..];
                out.push_str(&format!("{indent}{kw} {base_ref}{rest}"));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Hosts a scenario names, mapped onto engines: `a` is the engine under test, any other name the
/// same builder and door on another host of the inventory.
pub fn engines_for(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &Scenario,
) -> Result<BTreeMap<String, Engine>> {
    let mut out = BTreeMap::new();
    let others: Vec<String> = inventory
        .hosts
        .keys()
        .filter(|h| **h != engine.host)
        .cloned()
        .collect();
    for transition in &scenario.transitions {
        let host = transition.build.host_name();
        if out.contains_key(host) {
            continue;
        }
        let mapped = if host == "a" {
            engine.clone()
        } else {
            others
                .iter()
                .filter_map(|h| engine.on_host(inventory, h))
                .find(|e| !out.values().any(|o: &Engine| o.name == e.name))
                .ok_or_else(|| {
                    Error::BadInput(format!(
                        "scenario names host `{host}` but {} has no second host in the inventory",
                        engine.name
                    ))
                })?
        };
        out.insert(host.to_string(), mapped);
    }
    Ok(out)
}

pub fn run_scenario(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &Scenario,
    salt: &str,
) -> Result<History> {
    run_scenario_checked(inventory, engine, scenario, salt, false)
}

/// `run_scenario`, and with `fresh_check` every build that reported a cached step is compared
/// with a fresh `--no-cache` build of the same input on its own base image (so the fresh build
/// leaves the scenario's cache alone).
pub fn run_scenario_checked(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &Scenario,
    salt: &str,
    fresh_check: bool,
) -> Result<History> {
    let hooks = Hooks {
        fresh_check,
        ..Hooks::default()
    };
    run_scenario_with(inventory, engine, scenario, salt, &hooks)
}

/// What a scenario's run does besides its builds.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Compare every build that reported a cached step with a fresh build (`--fresh-check`).
    pub fresh_check: bool,
    /// Called before build `n` (from 0) with the engine that runs it: a nemesis's way in (a test
    /// that evicts build-cache records, or stops a daemon, between builds).
    pub before_build: BeforeBuild<'a>,
    /// Rules whose mutants are watched beside the reference (`cachet mutants --engine`): each
    /// is predicted on every build as given to the engine, checked against the same
    /// observation, and its kills recorded (`BuildRecord::kills`). Nothing else changes.
    pub shadows: &'a [String],
}

/// `run_scenario` with `hooks`.
pub fn run_scenario_with(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &Scenario,
    salt: &str,
    hooks: &Hooks<'_>,
) -> Result<History> {
    let salted = with_salted_content(scenario, salt);
    let scenario = &salted;
    let hosts = engines_for(inventory, engine, scenario)?;
    if let Some(e) = hosts.values().find(|e| !e.passes_cache_to()) {
        if exports_cache(scenario) {
            return Err(Error::BadInput(format!(
                "the scenario exports cache (`--cache-to`), which only the buildx door can ask for, not {}",
                e.name
            )));
        }
    }
    let fresh_engine = if hooks.fresh_check {
        fresh_engine_for(inventory, engine, &hosts)
    } else {
        None
    };
    let base_ref = base_ref(salt);
    let registry = inventory
        .registry
        .clone()
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    let mut created: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Whatever happens from here on, everything recorded in `created` is removed at the end.
    let result = hosts
        .values()
        .try_for_each(|e| {
            created
                .entry(e.name.clone())
                .or_default()
                .push(base_ref.clone());
            engine::open(e).ensure_base_image(&base_ref, salt)
        })
        .and_then(|()| {
            run_transitions(
                scenario,
                salt,
                &hosts,
                (&base_ref, &registry),
                &mut created,
                (fresh_engine.as_ref(), hooks),
            )
        });
    remove_created(&created, &hosts, fresh_engine.as_ref(), &registry, salt);
    if result.is_err() {
        // A scenario an engine fault ended may have left what no tag names (a base image loaded
        // half, a killed build's layers and container): its salt is swept once the engine answers.
        for e in hosts.values().chain(fresh_engine.iter()) {
            keep_unclean(e, salt, Vec::new());
        }
    }
    result.map(|builds| History {
        engine: engine.name.clone(),
        salt: salt.to_string(),
        builds,
    })
}

/// Whether any build of `scenario` exports cache to a backend (`--cache-to`).
pub fn exports_cache(scenario: &Scenario) -> bool {
    (scenario.transitions.iter()).any(|t| !t.build.options.cache_to.is_empty())
}

/// Removes what a scenario made (`created`, per engine name among `hosts` and `fresh_engine`):
/// its tags from the registry (`registry`) and everything of its salt from the engines. What an
/// engine did not let go waits for it (`keep_unclean`).
fn remove_created(
    created: &BTreeMap<String, Vec<String>>,
    hosts: &BTreeMap<String, Engine>,
    fresh_engine: Option<&Engine>,
    registry: &str,
    salt: &str,
) {
    for (name, refs) in created {
        let Some(e) = hosts.values().chain(fresh_engine).find(|e| &e.name == name) else {
            continue;
        };
        let door = engine::open(e);
        // What was pushed goes from the registry too (its tags; blobs wait for the registry's GC).
        for reference in refs
            .iter()
            .filter(|r| r.starts_with(&format!("{registry}/")))
        {
            if let Err(e) = door.delete_pushed(reference) {
                eprintln!("warning: {e}");
            }
        }
        // What no tag names goes too: a removal the daemon refused (a full disk) leaves a
        // classic build's whole chain of intermediate images.
        if !matches!(sweep_salt(door.as_ref(), salt, refs), Ok(0)) {
            // The engine went away or refused: what the scenario made waits (`take_unclean`).
            keep_unclean(e, salt, refs.clone());
        }
    }
}

/// The placeholder a case file's contents may hold: each run replaces it with the scenario's
/// salt, for the model and the engine alike. A step keyed apart from the base image (`COPY
/// --link` on the containerd store) is shared across scenarios of equal content, which the
/// salted base image cannot keep apart; salted content does.
pub const SALT_PLACEHOLDER: &str = "{salt}";

/// `scenario` with `SALT_PLACEHOLDER` in its files' contents and its writes replaced by `salt`.
fn with_salted_content(scenario: &Scenario, salt: &str) -> Scenario {
    let mut salted = scenario.clone();
    for entry in salted.context.entries.values_mut() {
        if let models::EntryKind::File { content } = &mut entry.kind {
            if let Ok(text) = std::str::from_utf8(content) {
                if text.contains(SALT_PLACEHOLDER) {
                    *content = text.replace(SALT_PLACEHOLDER, salt).into_bytes();
                }
            }
        }
    }
    for t in &mut salted.transitions {
        for m in &mut t.mutations {
            if let models::scenario::Mutation::Write { content, .. }
            | models::scenario::Mutation::WriteSameSize { content, .. } = m
            {
                *content = content.replace(SALT_PLACEHOLDER, salt);
            }
        }
    }
    salted
}

/// The reference of a scenario's salted base image.
pub fn base_ref(salt: &str) -> String {
    format!("{}:{salt}", models::predict::from::BASE_REPOSITORY)
}

/// The tag of build `n` (from 0) of a scenario.
pub fn build_tag(salt: &str, n: usize) -> String {
    format!("cachet-scn-{salt}:b{n}")
}

/// One context directory per host for the whole scenario (the CLI door rewrites it in place);
/// the API door sends a tar and needs none.
fn context_dirs(
    hosts: &BTreeMap<String, Engine>,
    salt: &str,
) -> Result<BTreeMap<String, tempfile::TempDir>> {
    let mut workdirs = BTreeMap::new();
    for (host, _) in hosts
        .iter()
        .filter(|(_, e)| e.transport() != models::Transport::Api)
    {
        let dir = tempfile::Builder::new()
            .prefix(&format!("cachet-{salt}-{host}-"))
            .tempdir()
            .map_err(|e| Error::Harness(format!("temp dir: {e}")))?;
        workdirs.insert(host.clone(), dir);
    }
    Ok(workdirs)
}

/// The registry references a build's options name: the one it pushes, and those of its cache
/// backends of type registry (`--cache-from`, `--cache-to`).
fn registry_places(options: &BuildOptions) -> impl Iterator<Item = String> + '_ {
    let backends = (options.cache_from.iter().map(|v| (v, false)))
        .chain(options.cache_to.iter().map(|v| (v, true)))
        .filter_map(|(v, exporting)| backends::parse(v, exporting).ok())
        .filter(|spec| spec.backend == Backend::Registry)
        .map(|spec| spec.place);
    options.push.iter().cloned().chain(backends)
}

/// Runs the build and, if it succeeded and asks for it, tags and pushes its image (recorded in
/// `created`); the observation and how long the build took.
fn build_and_push(
    engine: &Engine,
    request: &BuildRequest<'_>,
    build: &Build,
    created: &mut BTreeMap<String, Vec<String>>,
) -> Result<(Observation, Duration)> {
    // The model engine's registry lives in process.
    if let Some(registry) = registry_places(&build.options)
        .find_map(|r| r.split_once('/').map(|(host, _)| host.to_string()))
        .filter(|_| !engine.is_model())
    {
        engine::registry::registry_answers(&registry)?;
    }
    let started = Instant::now();
    let door = engine::open(engine);
    let observation = door.build(request)?;
    let duration = started.elapsed();
    if observation.error.is_none() && observation.indeterminate.is_none() {
        if let Some(reference) = &build.options.push {
            door.tag(&request.tag, reference)?;
            created
                .entry(engine.name.clone())
                .or_default()
                .push(reference.clone());
            door.push(reference)?;
        }
    }
    Ok((observation, duration))
}

type BeforeBuild<'a> = Option<&'a (dyn Fn(usize, &Engine) + Sync)>;

fn run_transitions(
    scenario: &Scenario,
    salt: &str,
    hosts: &BTreeMap<String, Engine>,
    (base_ref, registry): (&str, &str),
    created: &mut BTreeMap<String, Vec<String>>,
    (fresh_engine, hooks): (Option<&Engine>, &Hooks<'_>),
) -> Result<Vec<BuildRecord>> {
    // Local cache backends live in one directory per scenario, gone when it ends.
    let cache_dir = tempfile::Builder::new()
        .prefix(&format!("cachet-{salt}-cache-"))
        .tempdir()
        .map_err(|e| Error::Harness(format!("temp dir: {e}")))?;
    let places = |backend: Backend, place: &str| match backend {
        Backend::Registry => run_ref(registry, salt, place),
        Backend::Local => cache_dir.path().join(place).display().to_string(),
        Backend::Inline => place.to_string(),
    };
    let mut model = ScenarioModel::default();
    let mut shadows: Vec<Shadow<'_>> = hooks.shadows.iter().map(Shadow::new).collect();
    let mut context = scenario.context.clone();
    let mut builds = Vec::new();
    let workdirs = context_dirs(hosts, salt)?;
    // Per host whose engine's GC is on: the durable records present after its last build.
    let mut records: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (n, transition) in scenario.transitions.iter().enumerate() {
        apply_mutations(&mut context, &transition.mutations, n)?;
        let host = transition.build.host_name().to_string();
        let engine = &hosts[&host];
        let build = build_as_given(
            &context,
            engine,
            &transition.build.options,
            base_ref,
            &places,
        );
        // The model's side first (nothing in it depends on what the engine does).
        let prediction = model.step(&host, &engine.profile, &build);
        let tag = build_tag(salt, n);
        remember(created, engine, [tag.clone()]);
        // What a `--cache-to` sends to the registry goes when the scenario ends, as a push does.
        let exported = build.options.cache_to.iter();
        let exported = exported.filter_map(|v| backends::parse(v, true).ok());
        remember(
            created,
            engine,
            exported
                .filter(|spec| spec.backend == Backend::Registry)
                .map(|spec| spec.place),
        );
        let workdir = workdirs.get(&host).map(|d: &tempfile::TempDir| d.path());
        let request = build_request(&build, &tag, workdir);
        if let Some(hook) = hooks.before_build {
            hook(n, engine);
        }
        let (observation, duration) = build_and_push(engine, &request, &build, created)?;
        let intermediates = observation.intermediate_images.iter().cloned();
        remember(created, engine, intermediates);
        let evicted = evictions(engine, records.entry(host.clone()).or_default())?;
        let verdicts = crate::check::after_eviction(check(&prediction, &observation), evicted);
        let kills = shadow_kills(
            &mut shadows,
            (&host, engine),
            &build,
            (&observation, evicted),
            &verdicts,
        );
        // After an eviction the engine's cache is no longer what the model holds.
        let unknown = observation.indeterminate.is_some() || evicted > 0;
        let stale = match fresh_engine {
            Some(fresh)
                if observation.error.is_none() && !unknown && reported_cached(&verdicts) =>
            {
                fresh_check(engine, fresh, &build, &tag, (base_ref, salt), created)
            }
            _ => Vec::new(),
        };
        builds.push(BuildRecord {
            transition: n + 1,
            host,
            engine: engine.name.clone(),
            options: transition.build.options.clone(),
            prediction,
            observation,
            verdicts,
            stale,
            kills,
            duration,
        });
        if unknown {
            // The engine's cache state is unknown from here on: later builds could not be checked.
            break;
        }
    }
    Ok(builds)
}

/// A reference of a case's (`r`, `latest` when it names no tag) in the run's `registry`, under
/// the scenario's `salt`.
fn run_ref(registry: &str, salt: &str, r: &str) -> String {
    let (name, tag) = r.rsplit_once(':').unwrap_or((r, "latest"));
    format!("{registry}/cachet-{salt}/{name}:{tag}")
}

/// Applies transition `n`'s (from 0) `mutations` to `context`, at that transition's clock.
fn apply_mutations(
    context: &mut models::BuildContext,
    mutations: &[models::scenario::Mutation],
    n: usize,
) -> Result<()> {
    for mutation in mutations {
        apply_mutation(context, mutation, 1_700_000_000 + n as i64 * 1000)
            .map_err(|e| Error::BadInput(format!("transition {}: {e}", n + 1)))?;
    }
    Ok(())
}

/// Records `refs` as made on `engine`, for removal when the scenario ends.
fn remember(
    created: &mut BTreeMap<String, Vec<String>>,
    engine: &Engine,
    refs: impl IntoIterator<Item = String>,
) {
    created.entry(engine.name.clone()).or_default().extend(refs);
}

/// The request that runs `build` tagged `tag`, from `workdir` where its door takes a directory.
fn build_request<'b>(
    build: &'b Build,
    tag: &str,
    workdir: Option<&'b std::path::Path>,
) -> BuildRequest<'b> {
    BuildRequest {
        context: &build.context,
        options: &build.options,
        cache_from: build.options.cache_from.clone(),
        tag: tag.to_string(),
        workdir,
    }
}

/// Whether the engine reported a step other than a FROM as cached: a build the second oracle
/// (`--fresh-check`) then compares with a fresh one.
fn reported_cached(verdicts: &[StepVerdict]) -> bool {
    verdicts.iter().any(|v| {
        v.observed == Some(crate::engine::observe::Observed::Cached)
            && !v.instruction.starts_with("FROM ")
    })
}

/// The build the engine is given (and the model, and every watched mutant): the context as
/// `engine`'s host presents it (its umask, SELinux label, owner), `FROM base` the salted base
/// image, registry references and cache directories the scenario's own (`places`).
fn build_as_given(
    context: &models::BuildContext,
    engine: &Engine,
    options: &BuildOptions,
    base_ref: &str,
    places: &dyn Fn(Backend, &str) -> String,
) -> Build {
    let mut concrete = models::scenario::apply_host_settings(context, &engine.settings);
    if let Some(text) = concrete.dockerfile_text() {
        concrete.set_dockerfile_text(&substitute_base(&text, base_ref));
    }
    let mut options = options.clone();
    options.cache_from = (options.cache_from.iter())
        .map(|v| backends::map_place(v, false, places))
        .collect();
    options.cache_to = (options.cache_to.iter())
        .map(|v| backends::map_place(v, true, places))
        .collect();
    options.push = options
        .push
        .as_deref()
        .map(|p| places(Backend::Registry, p));
    Build {
        context: concrete,
        options,
    }
}

/// How many of the durable build-cache records `seen` after the engine's earlier builds of the
/// scenario are gone now (its GC evicted them); `seen` becomes what is there now. Zero, and no
/// call, on an engine that does not garbage-collect (`Engine::watches_evictions`).
fn evictions(engine: &Engine, seen: &mut BTreeSet<String>) -> Result<usize> {
    if !engine.watches_evictions() {
        return Ok(0);
    }
    let now = engine::cache::durable_build_cache_ids(engine)?;
    let gone = seen.difference(&now).count();
    *seen = now;
    Ok(gone)
}

// The run's in-memory history as the report holds it.

impl From<&BuildRecord> for schema::BuildRecord {
    fn from(b: &BuildRecord) -> schema::BuildRecord {
        schema::BuildRecord {
            transition: b.transition,
            host: b.host.clone(),
            engine: b.engine.clone(),
            options: b.options.clone(),
            prediction: b.prediction.clone(),
            // Reports never carried the raw log.
            observation: Observation {
                log: String::new(),
                ..b.observation.clone()
            },
            verdicts: b.verdicts.clone(),
            stale: b.stale.clone(),
            millis: b.duration.as_millis() as usize,
        }
    }
}

impl From<&History> for schema::History {
    fn from(h: &History) -> schema::History {
        schema::History {
            engine: h.engine.clone(),
            salt: h.salt.clone(),
            builds: h.builds.iter().map(schema::BuildRecord::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests;
