//! Scenarios: an initial context, then a sequence of mutations and builds on named hosts.
//!
//! This is the data a case file, a generated run and a shrunk reproducer share. Applying a
//! mutation to a `BuildContext` is pure; the harness mirrors each one onto real files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::{
    normalize_context_path, BuildContext, Entry, EntryKind, PathError, DOCKERIGNORE_NAME,
};
use crate::predict::BuildOptions;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Mutation {
    /// New content; mtime moves on (as an editor would).
    Write {
        path: String,
        content: String,
    },
    /// New content of the same length, with mtime and atime kept (buildkit#4817's shape).
    WriteSameSize {
        path: String,
        content: String,
    },
    Chmod {
        path: String,
        mode: u32,
    },
    Chown {
        path: String,
        uid: u32,
        gid: u32,
    },
    /// mtime/atime only.
    Touch {
        path: String,
        mtime: i64,
    },
    SetXattr {
        path: String,
        name: String,
        value: String,
    },
    RemoveXattr {
        path: String,
        name: String,
    },
    /// Create or retarget a symlink.
    Symlink {
        path: String,
        target: String,
    },
    Mkdir {
        path: String,
    },
    Remove {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    /// Replace `.dockerignore` (an empty text removes it).
    Dockerignore {
        text: String,
    },
    /// Replace the Dockerfile's text.
    Dockerfile {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MutationError {
    Path(PathError),
    Missing(String),
    NotAFile(String),
}

impl std::fmt::Display for MutationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MutationError::Path(e) => write!(f, "{e}"),
            MutationError::Missing(p) => write!(f, "`{p}` does not exist in the context"),
            MutationError::NotAFile(p) => write!(f, "`{p}` is not a regular file"),
        }
    }
}

impl std::error::Error for MutationError {}

impl From<PathError> for MutationError {
    fn from(e: PathError) -> MutationError {
        MutationError::Path(e)
    }
}

impl Mutation {
    /// The context path this mutation touches first (for preconditions and reports).
    pub fn path(&self) -> &str {
        match self {
            Mutation::Write { path, .. }
            | Mutation::WriteSameSize { path, .. }
            | Mutation::Chmod { path, .. }
            | Mutation::Chown { path, .. }
            | Mutation::Touch { path, .. }
            | Mutation::SetXattr { path, .. }
            | Mutation::RemoveXattr { path, .. }
            | Mutation::Symlink { path, .. }
            | Mutation::Mkdir { path }
            | Mutation::Remove { path } => path,
            Mutation::Rename { from, .. } => from,
            Mutation::Dockerignore { .. } => DOCKERIGNORE_NAME,
            Mutation::Dockerfile { .. } => crate::context::DOCKERFILE_NAME,
        }
    }

    /// Whether the mutation can apply to `context` (the state-machine precondition).
    pub fn applies_to(&self, context: &BuildContext) -> bool {
        let mut copy = context.clone();
        apply_mutation(&mut copy, self, 0).is_ok()
    }
}

/// Applies a mutation. `clock` is the scenario's logical time, used as the new mtime of writes.
pub fn apply_mutation(
    context: &mut BuildContext,
    mutation: &Mutation,
    clock: i64,
) -> Result<(), MutationError> {
    match mutation {
        Mutation::Write { path, content } => write_file(context, path, content, clock),
        Mutation::WriteSameSize { path, content } => write_same_size(context, path, content),
        Mutation::Chmod { path, mode } => edit_entry(context, path, |e| e.mode = mode & 0o7777),
        Mutation::Chown { path, uid, gid } => edit_entry(context, path, |e| {
            e.uid = *uid;
            e.gid = *gid;
        }),
        Mutation::Touch { path, mtime } => edit_entry(context, path, |e| {
            e.mtime = *mtime;
            e.atime = *mtime;
        }),
        Mutation::SetXattr { path, name, value } => edit_entry(context, path, |e| {
            e.xattrs.insert(name.clone(), value.as_bytes().to_vec());
        }),
        Mutation::RemoveXattr { path, name } => edit_entry(context, path, |e| {
            e.xattrs.remove(name);
        }),
        Mutation::Symlink { path, target } => symlink(context, path, target, clock),
        Mutation::Mkdir { path } => mkdir(context, path),
        Mutation::Remove { path } => {
            let path = existing(context, path)?;
            context.remove(&path);
            Ok(())
        }
        Mutation::Rename { from, to } => {
            let from = existing(context, from)?;
            rename(context, &from, to)
        }
        Mutation::Dockerignore { text } => {
            set_dockerignore(context, text, clock);
            Ok(())
        }
        Mutation::Dockerfile { text } => {
            set_dockerfile(context, text, clock);
            Ok(())
        }
    }
}

/// `path` normalized, or why not: it is not a context path, or nothing is there.
fn existing(context: &BuildContext, path: &str) -> Result<String, MutationError> {
    let path = normalize_context_path(path)?;
    if context.get(&path).is_none() {
        return Err(MutationError::Missing(path));
    }
    Ok(path)
}

/// Changes the metadata of the entry at `path`, which must exist (chmod, chown, touch, xattrs).
fn edit_entry(
    context: &mut BuildContext,
    path: &str,
    edit: impl FnOnce(&mut Entry),
) -> Result<(), MutationError> {
    let path = existing(context, path)?;
    if let Some(e) = context.get_mut(&path) {
        edit(e);
    }
    Ok(())
}

/// New content for an existing file, cut or padded with `.` to its old length; times kept.
fn write_same_size(
    context: &mut BuildContext,
    path: &str,
    content: &str,
) -> Result<(), MutationError> {
    let path = existing(context, path)?;
    let entry = context
        .get_mut(&path)
        .ok_or_else(|| MutationError::Missing(path.clone()))?;
    let EntryKind::File { content: old } = &entry.kind else {
        return Err(MutationError::NotAFile(path));
    };
    let mut new = content.as_bytes().to_vec();
    new.resize(old.len(), b'.');
    entry.kind = EntryKind::File { content: new };
    Ok(())
}

/// Makes a directory at `path`, where nothing is yet.
fn mkdir(context: &mut BuildContext, path: &str) -> Result<(), MutationError> {
    let path = normalize_context_path(path)?;
    if context.get(&path).is_some() {
        return Err(MutationError::NotAFile(path));
    }
    context.insert(&path, Entry::dir())?;
    Ok(())
}

/// Replaces `.dockerignore` with `text` as of `clock`; an empty text removes it.
fn set_dockerignore(context: &mut BuildContext, text: &str, clock: i64) {
    if text.is_empty() {
        context.remove(DOCKERIGNORE_NAME);
    } else {
        let mut entry = Entry::file(text.as_bytes());
        entry.mtime = clock;
        context.entries.insert(DOCKERIGNORE_NAME.to_string(), entry);
    }
}

/// Replaces the Dockerfile's text as an editor saves it: new content, new mtime.
fn set_dockerfile(context: &mut BuildContext, text: &str, clock: i64) {
    context.set_dockerfile_text(text);
    if let Some(entry) = context.get_mut(crate::context::DOCKERFILE_NAME) {
        entry.mtime = clock;
        entry.atime = clock;
    }
}

/// Writes a file (a new one, or new content for an existing file), as of `clock`.
fn write_file(
    context: &mut BuildContext,
    path: &str,
    content: &str,
    clock: i64,
) -> Result<(), MutationError> {
    let path = normalize_context_path(path)?;
    match context.get_mut(&path) {
        Some(entry) if matches!(entry.kind, EntryKind::File { .. }) => {
            entry.kind = EntryKind::File {
                content: content.as_bytes().to_vec(),
            };
            entry.mtime = clock;
            entry.atime = clock;
        }
        Some(_) => return Err(MutationError::NotAFile(path)),
        None => {
            let mut entry = Entry::file(content.as_bytes());
            entry.mtime = clock;
            entry.atime = clock;
            context.insert(&path, entry)?;
        }
    }
    Ok(())
}

/// Makes `path` a symlink to `target` (replacing what was there), as of `clock`.
fn symlink(
    context: &mut BuildContext,
    path: &str,
    target: &str,
    clock: i64,
) -> Result<(), MutationError> {
    let path = normalize_context_path(path)?;
    if context
        .get(&path)
        .is_some_and(|e| !matches!(e.kind, EntryKind::Symlink { .. }))
    {
        context.remove(&path);
    }
    let mut entry = Entry::symlink(target.to_string());
    entry.mtime = clock;
    entry.atime = clock;
    context.insert(&path, entry)?;
    Ok(())
}

/// Moves the existing `from` (and everything below it) to `to`, which must be free.
fn rename(context: &mut BuildContext, from: &str, to: &str) -> Result<(), MutationError> {
    let to = normalize_context_path(to)?;
    if context.get(&to).is_some() || to.starts_with(&format!("{from}/")) {
        return Err(MutationError::NotAFile(to));
    }
    let moved: Vec<(String, Entry)> = context
        .entries
        .iter()
        .filter(|(p, _)| p.as_str() == from || p.starts_with(&format!("{from}/")))
        .map(|(p, e)| (format!("{to}{}", &p[from.len()..]), e.clone()))
        .collect();
    context.remove(from);
    for (p, e) in moved {
        context.insert(&p, e)?;
    }
    Ok(())
}

/// One build of a scenario: on which host, with which options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStep {
    /// Host name as in the inventory (`a`, `b`, `podman`); the builder comes from the engine.
    /// Empty means `a`.
    pub host: String,
    pub options: BuildOptions,
}

impl BuildStep {
    /// The scenario host this build runs on: `host`, or `a` when it names none.
    pub fn host_name(&self) -> &str {
        if self.host.is_empty() {
            "a"
        } else {
            &self.host
        }
    }
}

/// A transition: mutations, then one build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub mutations: Vec<Mutation>,
    pub build: BuildStep,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub context: BuildContext,
    pub transitions: Vec<Transition>,
}

/// Each build's context: the initial one with every mutation up to that build applied.
pub fn contexts_per_build(
    scenario: &Scenario,
) -> Result<Vec<BuildContext>, (usize, MutationError)> {
    let mut context = scenario.context.clone();
    let mut out = Vec::new();
    for (n, transition) in scenario.transitions.iter().enumerate() {
        for mutation in &transition.mutations {
            apply_mutation(&mut context, mutation, 1_700_000_000 + n as i64 * 1000)
                .map_err(|e| (n, e))?;
        }
        out.push(context.clone());
    }
    Ok(out)
}

/// Build args as given on the command line, for display.
pub fn describe_options(options: &BuildOptions) -> String {
    let mut words = Vec::new();
    let args: &BTreeMap<String, String> = &options.build_args;
    for (k, v) in args {
        words.push(format!("--build-arg {k}={v}"));
    }
    if options.no_cache {
        words.push("--no-cache".to_string());
    }
    if let Some(t) = &options.target {
        words.push(format!("--target {t}"));
    }
    if options.inline_cache {
        words.push("--build-arg BUILDKIT_INLINE_CACHE=1".to_string());
    }
    for c in &options.cache_from {
        words.push(format!("--cache-from {c}"));
    }
    for c in &options.cache_to {
        words.push(format!("--cache-to {c}"));
    }
    if let Some(p) = &options.push {
        words.push(format!("(push {p})"));
    }
    words.join(" ")
}

/// The engines of a scenario as the model sees them: one state per host, and the cache exported
/// so far (inline cache pushed with an image, each `--cache-to` backend's), which every later
/// build can import (as through a registry, or a directory every host reads).
#[derive(Debug, Default)]
pub struct ScenarioModel {
    states: BTreeMap<String, crate::EngineState>,
    exports: BTreeMap<String, crate::CacheExport>,
}

impl ScenarioModel {
    /// Predicts `build` on `host` (whose state starts empty under `profile`), then records it
    /// there, and its inline cache under the reference it pushes.
    pub fn step(
        &mut self,
        host: &str,
        profile: &crate::Profile,
        build: &crate::Build,
    ) -> crate::Prediction {
        let state = self
            .states
            .entry(host.to_string())
            .or_insert_with(|| crate::EngineState::new(profile.clone()));
        for (reference, export) in &self.exports {
            state.import(reference, export.clone());
        }
        let prediction = crate::predict(state, build);
        let exports = crate::apply(state, build);
        if let (Some(export), Some(reference)) = (exports.inline, &build.options.push) {
            self.exports.insert(reference.clone(), export);
        }
        // A cache export goes to its backend during the build, pushed or not.
        self.exports.extend(exports.to);
        prediction
    }
}

/// The model's prediction for every build of `scenario` under `profile` (`ScenarioModel`).
pub fn predict_scenario(
    profile: &crate::Profile,
    scenario: &Scenario,
) -> Result<Vec<crate::Prediction>, (usize, MutationError)> {
    let contexts = contexts_per_build(scenario)?;
    let mut model = ScenarioModel::default();
    Ok(scenario
        .transitions
        .iter()
        .zip(contexts)
        .map(|(transition, context)| {
            let host = transition.build.host_name();
            let build = crate::Build {
                context,
                options: transition.build.options.clone(),
            };
            model.step(host, profile, &build)
        })
        .collect())
}

/// How a host presents a checked-out context, as distributions differ in the wild: the umask the
/// checkout ran under, the SELinux label the files get, and the user who owns them. `None` leaves
/// the scenario's own metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostSettings {
    /// Files become `0666` (`0777` when the owner may execute) and directories `0777`, masked by
    /// this, as a checkout under it creates them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// Every entry without one carries `security.selinux` with this label (as on an enforcing
    /// CentOS or Fedora host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    /// Every entry is owned by this uid (and the same gid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

impl HostSettings {
    pub fn is_empty(&self) -> bool {
        *self == HostSettings::default()
    }
}

/// The context as it looks on a host with `settings` (the Dockerfile and `.dockerignore` too:
/// they are files of the checkout).
pub fn apply_host_settings(context: &BuildContext, settings: &HostSettings) -> BuildContext {
    let mut out = context.clone();
    for entry in out.entries.values_mut() {
        if let Some(umask) = settings.umask {
            let base = match entry.kind {
                EntryKind::Dir => Some(0o777),
                EntryKind::File { .. } if entry.mode & 0o100 != 0 => Some(0o777),
                EntryKind::File { .. } => Some(0o666),
                EntryKind::Symlink { .. } => None,
            };
            if let Some(base) = base {
                entry.mode = base & !umask & 0o777;
            }
        }
        if let Some(label) = &settings.selinux_label {
            entry
                .xattrs
                .entry("security.selinux".to_string())
                .or_insert_with(|| label.as_bytes().to_vec());
        }
        if let Some(uid) = settings.uid {
            entry.uid = uid;
            entry.gid = uid;
        }
    }
    out
}

#[cfg(test)]
mod host_settings_tests {
    use super::*;
    use crate::Entry;

    #[test]
    fn a_host_masks_modes_labels_and_owns_the_checkout() {
        let mut context = BuildContext::new();
        context.insert("a", Entry::file("x")).unwrap();
        let mut run = Entry::file("#!/bin/sh");
        run.mode = 0o755;
        context.insert("d/run", run).unwrap();
        let centos = HostSettings {
            umask: Some(0o002),
            selinux_label: Some("system_u:object_r:container_file_t:s0".into()),
            uid: Some(1000),
        };
        let seen = apply_host_settings(&context, &centos);
        assert_eq!(seen.get("a").unwrap().mode, 0o664);
        assert_eq!(seen.get("d/run").unwrap().mode, 0o775);
        assert_eq!(seen.get("d").unwrap().mode, 0o775);
        assert_eq!(seen.get("a").unwrap().uid, 1000);
        assert_eq!(
            seen.get("a").unwrap().xattrs["security.selinux"],
            b"system_u:object_r:container_file_t:s0".to_vec()
        );
        let debian = HostSettings {
            umask: Some(0o022),
            ..HostSettings::default()
        };
        assert_eq!(
            apply_host_settings(&context, &debian)
                .get("a")
                .unwrap()
                .mode,
            0o644
        );
        assert_eq!(
            apply_host_settings(&context, &HostSettings::default()),
            context
        );
    }
}
