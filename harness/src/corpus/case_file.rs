//! Case files (`cases/*.toml`): a scenario a person can write and cachet can emit, with the rules
//! it shows, upstream links and the known divergences of real engines. Schema: `cases/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use models::scenario::{BuildStep, Mutation, Scenario, Transition};
use models::{BuildContext, BuildOptions, Entry, EntryKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseFile {
    pub name: String,
    pub shows: String,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub rules: Vec<String>,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub links: Vec<String>,
    #[serde(default)]
    pub files: BTreeMap<String, FileSpec>,
    pub dockerfile: String,
    #[serde(rename = "build")]
    pub builds: Vec<BuildSpec>,
    #[serde(default, rename = "divergence", skip_serializing_if = "Vec::is_empty")]
    pub divergences: Vec<Divergence>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSpec {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime: Option<i64>,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub xattrs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub mutations: Vec<Mutation>,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub args: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inline_cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<String>,
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub cache_from: Vec<String>,
    /// Cache exports, as buildx writes them (`type=registry,ref=NAME,mode=max`,
    /// `type=local,dest=NAME`): a name the run maps to its own registry reference or directory.
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub cache_to: Vec<String>,
    /// Pinned expectations: the model's outcome for every step of this build, as words
    /// (`cached rebuilt ...`), keyed by profile names (comma-separated) or `all`.
    #[serde(default, skip_serializing_if = "is_empty_collection")]
    pub expect: BTreeMap<String, String>,
}

/// An engine's recorded behaviour where it differs from the model: data, with its source.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Divergence {
    /// Engine kind: a profile name (`classic`, `buildkit-cli`, `podman`, ...) or `buildx`.
    pub engine: String,
    /// The engine versions it holds for (`engine::versions`: `20.10`, `>=26, <29`), compared with the
    /// engine's own version; a divergence recorded on one generation says nothing of another.
    pub versions: crate::engine::versions::VersionRange,
    /// 1-based build number in the case.
    pub build: usize,
    pub step: usize,
    /// What the engine does: `cached`, `rebuilt` or `failed`.
    pub observed: String,
    pub link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn is_empty_collection<T>(value: &T) -> bool
where
    for<'a> &'a T: IntoIterator,
{
    value.into_iter().next().is_none()
}

/// A case file as TOML, with modes written in octal as people write them.
pub fn case_to_toml(case: &CaseFile) -> Result<String> {
    let text =
        toml::to_string(case).map_err(|e| Error::Harness(format!("serialising a case: {e}")))?;
    Ok(text
        .lines()
        .map(|line| {
            match line
                .strip_prefix("mode = ")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(mode) => format!("mode = 0o{mode:o}"),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n")
}

pub struct LoadedCase {
    pub path: PathBuf,
    pub file: CaseFile,
    pub scenario: Scenario,
}

impl LoadedCase {
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .scenario
            .transitions
            .iter()
            .map(|t| t.build.host.clone())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|n| n + 1)
        .unwrap_or(1)
}

/// The line of a `[files]` entry's table header (`[files.a]`, `[files."d/c"]`), or of its first
/// mention when it is written inline.
fn file_line(text: &str, path: &str) -> usize {
    let headers = [format!("[files.{path}]"), format!("[files.\"{path}\"]")];
    text.lines()
        .position(|l| headers.iter().any(|h| l.trim() == h))
        .map(|n| n + 1)
        .unwrap_or_else(|| line_of(text, &format!("\"{path}\"")))
}

pub fn load_case(path: &Path) -> Result<LoadedCase> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_case(path, &text)
}

pub fn parse_case(path: &Path, text: &str) -> Result<LoadedCase> {
    let bad = |line: usize, reason: String| Error::BadCase {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let file: CaseFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .unwrap_or(1);
        bad(line, e.message().to_string())
    })?;
    let mut context = BuildContext::new();
    for (p, spec) in &file.files {
        let line = file_line(text, p);
        let entry = context_entry(p, spec).map_err(|reason| bad(line, reason))?;
        context
            .insert(p, entry)
            .map_err(|e| bad(line, e.to_string()))?;
    }
    let parsed = models::dockerfile::parse(&file.dockerfile);
    if let Some(d) = parsed.diagnostics.first() {
        let line = line_of(text, "dockerfile") + d.line;
        return Err(bad(
            line,
            format!("the Dockerfile cannot be parsed: {}", d.message),
        ));
    }
    context.set_dockerfile_text(&file.dockerfile);
    let transitions = file
        .builds
        .iter()
        .enumerate()
        .map(|(n, b)| {
            transition(n, b).map_err(|(needle, reason)| bad(line_of(text, &needle), reason))
        })
        .collect::<Result<Vec<_>>>()?;
    if transitions.is_empty() {
        return Err(bad(1, "a case needs at least one [[build]]".to_string()));
    }
    for d in &file.divergences {
        if !crate::engine::inventory::is_engine_kind(&d.engine) {
            return Err(bad(
                line_of(text, &format!("engine = \"{}\"", d.engine)),
                format!(
                    "a divergence names engine `{}`, which is no engine kind ({})",
                    d.engine,
                    crate::engine::inventory::engine_kinds().join(", ")
                ),
            ));
        }
    }
    let scenario = Scenario {
        context,
        transitions,
    };
    if let Err((n, e)) = models::scenario::contexts_per_build(&scenario) {
        return Err(bad(1, format!("build {}: {e}", n + 1)));
    }
    Ok(LoadedCase {
        path: path.to_path_buf(),
        file,
        scenario,
    })
}

/// One `[files]` entry as a context entry, or why it is refused.
fn context_entry(p: &str, spec: &FileSpec) -> std::result::Result<Entry, String> {
    let mut entry = match spec.kind.as_deref().unwrap_or("file") {
        "file" => Entry::file(spec.content.clone().unwrap_or_default()),
        "dir" => Entry::dir(),
        "symlink" => Entry::symlink(
            spec.target
                .clone()
                .ok_or_else(|| format!("symlink `{p}` needs a target"))?,
        ),
        other => {
            return Err(format!(
                "unknown type `{other}` for `{p}` (file, dir or symlink)"
            ))
        }
    };
    if let Some(m) = spec.mode {
        entry.mode = m;
    }
    entry.uid = spec.uid.unwrap_or(0);
    entry.gid = spec.gid.unwrap_or(0);
    if let Some(t) = spec.mtime {
        entry.mtime = t;
        entry.atime = t;
    }
    entry.xattrs = spec
        .xattrs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
        .collect();
    if let EntryKind::Symlink { target } = &entry.kind {
        let base = p
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        if target.starts_with('/')
            || models::context::normalize_context_path(&format!("{base}{target}")).is_err()
        {
            return Err(format!(
                "symlink `{p}` -> `{target}` escapes the build context"
            ));
        }
    }
    Ok(entry)
}

/// Build `n` (0-based) of the case as a transition; refused with the text to find its line by
/// and the reason.
fn transition(n: usize, b: &BuildSpec) -> std::result::Result<Transition, (String, String)> {
    for m in &b.mutations {
        if let Err(e) = check_mutation_paths(m) {
            return Err((format!("\"{}\"", m.path()), format!("build {}: {e}", n + 1)));
        }
    }
    for key in b.expect.keys() {
        if let Some(bad_name) = key
            .split(',')
            .map(str::trim)
            .find(|k| *k != "all" && models::Profile::from_name(k).is_none())
        {
            return Err((
                "expect".to_string(),
                format!(
                    "build {}: `expect` names `{bad_name}`, which is neither `all` nor a profile \
                     ({})",
                    n + 1,
                    models::Profile::all()
                        .iter()
                        .map(models::Profile::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let specs =
        (b.cache_from.iter().map(|v| (v, false))).chain(b.cache_to.iter().map(|v| (v, true)));
    for (value, exporting) in specs {
        let field = if exporting { "cache-to" } else { "cache-from" };
        let spec = models::step::backends::parse(value, exporting)
            .map_err(|why| (field.to_string(), format!("build {}: {why}", n + 1)))?;
        // A directory is a name in the scenario's own cache directory, never a path out of it.
        let plain = |p: &str| {
            !matches!(p, "." | "..")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        if spec.backend == models::step::backends::Backend::Local && !plain(&spec.place) {
            return Err((
                field.to_string(),
                format!(
                    "build {}: local cache `{}` must be a plain name (letters, digits, `._-`): the run keeps it in the scenario's own directory",
                    n + 1,
                    spec.place
                ),
            ));
        }
    }
    Ok(Transition {
        mutations: b.mutations.clone(),
        build: BuildStep {
            host: b.host.clone().unwrap_or_else(|| "a".to_string()),
            options: BuildOptions {
                build_args: b.args.clone(),
                no_cache: b.no_cache,
                target: b.target.clone(),
                cache_from: b.cache_from.clone(),
                cache_to: b.cache_to.clone(),
                inline_cache: b.inline_cache,
                push: b.push.clone(),
                platform: None,
                // cachet's engines have no network: no frontend image can be pulled.
                frontend_pull: false,
            },
        },
    })
}

/// The words a build's pin uses: one per step, the model's outcome (`cached`, `rebuilt`, ...).
pub fn outcome_words(prediction: &models::Prediction) -> String {
    if let Some(why) = &prediction.rejected {
        return format!("rejected: {why}");
    }
    prediction
        .steps
        .iter()
        .map(|s| s.outcome.short())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pin that applies to `profile` in one build's `expect` table, if any.
pub fn pin_for<'a>(expect: &'a BTreeMap<String, String>, profile: &str) -> Option<&'a String> {
    expect
        .iter()
        .find(|(k, _)| k.split(',').map(str::trim).any(|k| k == profile))
        .or_else(|| expect.iter().find(|(k, _)| k.as_str() == "all"))
        .map(|(_, v)| v)
}

/// The pin that applies to `profile`, generation included: a key naming this profile with its
/// generation (whatever `Profile::from_name` takes that gives this builder, door and generation
/// under a name other than the plain one; `+containerd` for that image store, whose profiles
/// otherwise share the graph store's pins), else the plain builder-and-door name (`buildkit-cli`:
/// every generation without a pin of its own), else `all`.
pub fn pin_for_profile<'a>(
    expect: &'a BTreeMap<String, String>,
    profile: &models::Profile,
) -> Option<&'a String> {
    let plain = models::Profile::new(profile.builder, profile.transport).name();
    // A key of this generation on this image store; else of this generation (a graph-store key,
    // which a containerd profile shares unless it has its own).
    let plain_name = plain.as_str();
    let names = |k: &str, store: models::ImageStore| {
        k != plain_name
            && models::Profile::from_name(k).is_some_and(|q| {
                (q.builder, q.transport, q.generation, q.store)
                    == (
                        profile.builder,
                        profile.transport,
                        profile.generation,
                        store,
                    )
            })
    };
    let find = |store: models::ImageStore| {
        expect
            .iter()
            .find(|(k, _)| k.split(',').map(str::trim).any(|k| names(k, store)))
            .map(|(_, v)| v)
    };
    find(profile.store)
        .or_else(|| find(models::ImageStore::Graph))
        .or_else(|| pin_for(expect, &plain))
}

/// Every profile a case's `expect` keys name (generation-qualified ones included).
pub fn pinned_profiles(case: &CaseFile) -> Vec<models::Profile> {
    let mut out: Vec<models::Profile> = Vec::new();
    for key in case.builds.iter().flat_map(|b| b.expect.keys()) {
        for k in key.split(',').map(str::trim) {
            if let Some(p) = models::Profile::from_name(k).filter(|p| !out.contains(p)) {
                out.push(p);
            }
        }
    }
    out
}

/// One build's pins as the TOML line a case file holds.
pub fn pin_line(pin: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = pin
        .iter()
        .map(|(k, v)| {
            let key = if k.contains(',') || k.contains('-') {
                format!("{k:?}")
            } else {
                k.clone()
            };
            format!("{key} = {v:?}")
        })
        .collect();
    format!("expect = {{ {} }}", entries.join(", "))
}

/// Pins for every build of `scenario`, as the model predicts them: on the six reference
/// profiles, the most common outcome line under `all` and the others under the profiles that
/// differ; then, under its own name, every generation whose line differs from the pin
/// `pin_for_profile` would give it.
pub fn pins_for(
    scenario: &Scenario,
) -> std::result::Result<Vec<BTreeMap<String, String>>, models::scenario::MutationError> {
    let mut pins = reference_pins(scenario)?;
    let reference = models::Profile::all();
    for profile in models::Profile::all_generations() {
        if reference.contains(&profile) {
            continue;
        }
        let predictions =
            models::scenario::predict_scenario(&profile, scenario).map_err(|(_, e)| e)?;
        for (pin, prediction) in pins.iter_mut().zip(&predictions) {
            let line = outcome_words(prediction);
            if pin_for_profile(pin, &profile) == Some(&line) {
                continue;
            }
            let key = pin
                .iter()
                .find(|(k, v)| **v == line && k.as_str() != "all" && k.contains(':'))
                .map(|(k, _)| k.clone());
            match key {
                Some(k) => {
                    pin.remove(&k);
                    pin.insert(format!("{k},{}", profile.name()), line);
                }
                None => {
                    pin.insert(profile.name(), line);
                }
            }
        }
    }
    Ok(pins)
}

/// `pins_for` on the six reference profiles alone.
fn reference_pins(
    scenario: &Scenario,
) -> std::result::Result<Vec<BTreeMap<String, String>>, models::scenario::MutationError> {
    let profiles = models::Profile::all();
    let mut per_profile = Vec::new();
    for profile in &profiles {
        let predictions =
            models::scenario::predict_scenario(profile, scenario).map_err(|(_, e)| e)?;
        per_profile.push(predictions.iter().map(outcome_words).collect::<Vec<_>>());
    }
    let builds = scenario.transitions.len();
    Ok((0..builds)
        .map(|b| {
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            for (profile, lines) in profiles.iter().zip(&per_profile) {
                match groups.iter_mut().find(|(line, _)| *line == lines[b]) {
                    Some((_, names)) => names.push(profile.name()),
                    None => groups.push((lines[b].clone(), vec![profile.name()])),
                }
            }
            let common = groups
                .iter()
                .enumerate()
                .max_by_key(|(i, (_, names))| (names.len(), std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .unwrap_or(0);
            groups
                .into_iter()
                .enumerate()
                .map(|(i, (line, names))| {
                    let key = if i == common {
                        "all".to_string()
                    } else {
                        names.join(",")
                    };
                    (key, line)
                })
                .collect()
        })
        .collect())
}

fn check_mutation_paths(m: &Mutation) -> std::result::Result<(), models::context::PathError> {
    models::context::normalize_context_path(m.path())?;
    if let Mutation::Rename { to, .. } = m {
        models::context::normalize_context_path(to)?;
    }
    if let Mutation::Symlink { path, target } = m {
        let base = path
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default();
        if target.starts_with('/') {
            return Err(models::context::PathError::Absolute(target.clone()));
        }
        models::context::normalize_context_path(&format!("{base}{target}"))?;
    }
    Ok(())
}

/// Every `*.toml` under `dir`, sorted by name.
pub fn load_corpus(dir: &Path) -> Result<Vec<LoadedCase>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_case(p)).collect()
}

/// A case file for a scenario (what `cachet run` writes for a confirmed discrepancy).
pub fn case_from_scenario(name: &str, shows: &str, scenario: &Scenario) -> CaseFile {
    let files = scenario
        .context
        .entries
        .iter()
        .filter(|(p, _)| p.as_str() != models::context::DOCKERFILE_NAME)
        .map(|(p, e)| {
            let (kind, content, target) = match &e.kind {
                EntryKind::File { content } => (
                    None,
                    Some(String::from_utf8_lossy(content).into_owned()),
                    None,
                ),
                EntryKind::Dir => (Some("dir".to_string()), None, None),
                EntryKind::Symlink { target } => {
                    (Some("symlink".to_string()), None, Some(target.clone()))
                }
            };
            let spec = FileSpec {
                kind,
                content,
                target,
                mode: Some(e.mode),
                uid: (e.uid != 0).then_some(e.uid),
                gid: (e.gid != 0).then_some(e.gid),
                mtime: Some(e.mtime),
                xattrs: e
                    .xattrs
                    .iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
            };
            (p.clone(), spec)
        })
        .collect();
    let builds = scenario
        .transitions
        .iter()
        .map(|t| BuildSpec {
            host: (t.build.host != "a").then(|| t.build.host.clone()),
            mutations: t.mutations.clone(),
            args: t.build.options.build_args.clone(),
            no_cache: t.build.options.no_cache,
            target: t.build.options.target.clone(),
            inline_cache: t.build.options.inline_cache,
            push: t.build.options.push.clone(),
            cache_from: t.build.options.cache_from.clone(),
            cache_to: t.build.options.cache_to.clone(),
            expect: BTreeMap::new(),
        })
        .collect::<Vec<_>>();
    let mut builds = builds;
    if let Ok(pins) = pins_for(scenario) {
        for (build, pin) in builds.iter_mut().zip(pins) {
            build.expect = pin;
        }
    }
    CaseFile {
        name: name.to_string(),
        shows: shows.to_string(),
        rules: Vec::new(),
        links: Vec::new(),
        files,
        dockerfile: scenario.context.dockerfile_text().unwrap_or_default(),
        builds,
        divergences: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
