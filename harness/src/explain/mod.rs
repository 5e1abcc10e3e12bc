//! `cachet explain`: what the next build of a directory reuses from the build a snapshot
//! recorded, and why, per profile, with no engine.
//!
//! For each profile the model's `EngineState` is made by predicting and applying the snapshot's
//! build (`models::predict`, `models::apply`, as `ScenarioModel::step` does); the current build
//! is then predicted against it. A step's answer cites the rule that decided it, the rule's
//! source and the input that differs. Warnings come from the known-divergence catalogue
//! (`corpus::known`): where an entry says an engine does not see a change (`observed = "cached"`),
//! the build is predicted again as that engine sees the input (those paths as they were), and
//! each step that then hits is a stale hit; where an entry says a hit keeps stale files
//! (`observed = "stale"`), each cached step that reads such a path is marked. What the model
//! cannot judge is said for that step; the others are still explained.

pub mod snapshot;

use std::collections::BTreeMap;

use models::dockerfile::{self, Body, Line};
use models::{
    apply, predict, Build, BuildContext, BuildOptions, Builder, EngineState, Field, Outcome,
    Prediction, Profile, ReasonKind, Switch, Transport,
};
use serde::Serialize;

use crate::corpus::known::Known;
use crate::error::{Error, Result};
use crate::explain::snapshot::{EntryRecord, RecordKind, Snapshot};

/// One profile to explain for, and the engine kinds and version the known catalogue's entries
/// are matched with (`Known::engine`, `Known::versions`).
#[derive(Clone, Debug)]
pub struct Target {
    pub profile: Profile,
    pub kinds: Vec<String>,
    pub version: String,
}

impl Target {
    /// A profile's target: BuildKit through the CLI is the 20.10 CLI's own client and the buildx
    /// plugin on Engine 20.10, the buildx plugin alone from 23 on; the version is the one the
    /// generation was measured on.
    pub fn of_profile(profile: Profile) -> Target {
        let base = profile.base_name();
        let kinds = match (profile.builder, profile.transport) {
            (Builder::BuildKit, Transport::Cli) if profile.generation.is_oldest() => {
                vec![base, "buildx".to_string()]
            }
            (Builder::BuildKit, Transport::Cli) => vec!["buildx".to_string()],
            _ => vec![base],
        };
        let version = profile.generation.engine_version().to_string();
        Target {
            profile,
            kinds,
            version,
        }
    }
}

/// A reference profile by name (`buildkit-cli`, `buildkit:28`, `podman-cli:5.8`), or bad input.
pub fn profile_named(name: &str) -> Result<Profile> {
    Profile::from_name(name).ok_or_else(|| {
        Error::BadInput(format!(
            "unknown profile `{name}`; profiles are classic, classic-cli, buildkit, \
             buildkit-cli, podman, podman-cli, each optionally `:GENERATION` \
             (buildkit-cli:28, podman:5.8) and BuildKit's `+containerd`"
        ))
    })
}

/// The default: one CLI profile per builder, of the newest generation the model knows.
pub fn default_profiles() -> Vec<Profile> {
    [Builder::Classic, Builder::BuildKit, Builder::Buildah]
        .into_iter()
        .filter_map(|b| {
            let newest = *models::Generation::known(b).last()?;
            Profile::at(b, Transport::Cli, newest)
        })
        .collect()
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub dir: String,
    pub dockerfile: String,
    /// What differs between the snapshot and now, path by path.
    pub changes: Vec<Change>,
    /// Build args that differ.
    pub build_args: Vec<ArgChange>,
    /// What the model cannot represent or judge, file-wide.
    pub limits: Vec<String>,
    pub profiles: Vec<ProfileExplanation>,
}

/// A build arg whose value differs (`None`: not given).
#[derive(Clone, Debug, Serialize)]
pub struct ArgChange {
    pub name: String,
    pub then: Option<String>,
    pub now: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub path: String,
    /// In the catalogue's words (`write`, `write-same-size`, `chmod`, `chmod-dir`, `chown`,
    /// `touch`, `set-xattr`, `remove-xattr`, `symlink`, `remove`, `mkdir`, `dockerignore`,
    /// `dockerfile`).
    pub kinds: Vec<String>,
    pub what: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProfileExplanation {
    pub profile: String,
    /// The model says the engine refuses the current build: why.
    pub rejected: Option<String>,
    /// The model says the engine refused the snapshot's build (nothing of it is cached): why.
    pub snapshot_rejected: Option<String>,
    pub steps: Vec<StepExplanation>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepExplanation {
    pub step: usize,
    pub stage: usize,
    pub instruction: String,
    /// `cached`, `rebuilt`, `not-a-step`, `skipped`, `fails` or `unknown` (the model cannot say).
    pub outcome: String,
    pub rule: Option<String>,
    pub source: Option<String>,
    pub why: String,
    pub warnings: Vec<Warning>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Warning {
    /// The engine kinds the catalogue entry is about.
    pub engine: String,
    /// What the engine is known to do there: `cached` (a stale hit), `stale` (a hit that keeps
    /// old files) or `rebuilt` (a miss where the model says it hits).
    pub observed: String,
    pub text: String,
    pub link: String,
}

/// The Dockerfile as the model is given it: each instruction the model cannot read (and so
/// would refuse the whole file for) becomes a step it does not judge (`ADD` of a URL), so the
/// others are still explained. Returns the text and, per step, the original text and why.
fn model_view(text: &str) -> (String, BTreeMap<usize, (String, String)>) {
    let mut parsed = dockerfile::parse(text).dockerfile;
    let mut unread = BTreeMap::new();
    let mut step = 0;
    let mut seen_from = false;
    for line in &mut parsed.lines {
        let Line::Instruction(instruction) = line else {
            continue;
        };
        step += 1;
        let is_from = instruction.keyword.eq_ignore_ascii_case("from");
        seen_from |= is_from;
        let Body::Unsupported { why } = &instruction.body else {
            continue;
        };
        // An unreadable FROM or global ARG changes what every later step means: not replaced
        // (the model then refuses the file and says why).
        if is_from || !seen_from {
            continue;
        }
        let original = format!("{} {}", instruction.keyword, instruction.raw_args);
        let first_line = original.lines().next().unwrap_or_default().to_string();
        unread.insert(step, (first_line, why.clone()));
        instruction.keyword = "ADD".to_string();
        instruction.raw_args = "http://cachet.invalid/not-read /cachet-not-read".to_string();
    }
    if unread.is_empty() {
        return (text.to_string(), unread);
    }
    (dockerfile::render(&parsed), unread)
}

/// A snapshot's build as the model is given it.
fn build_of(snapshot: &Snapshot, dockerfile_text: &str) -> Build {
    let mut context = snapshot.context();
    context.set_dockerfile_text(dockerfile_text);
    Build {
        context,
        options: BuildOptions {
            build_args: snapshot.build_args.clone(),
            ..BuildOptions::default()
        },
    }
}

/// The profile as it applies to this snapshot: a Dockerfile that is not the context's own
/// `Dockerfile` is not among what COPY sees (`dockerfile.self` does not hold for it).
fn profile_for_snapshot(profile: &Profile, snapshot: &Snapshot) -> Profile {
    if snapshot.dockerfile_is_context_dockerfile() {
        return profile.clone();
    }
    profile
        .with_switch("dockerfile.self", Switch::Off)
        .unwrap_or_else(|_| profile.clone())
}

/// Explains `now` against `before` for every target, with warnings from `catalogue`.
pub fn explain(
    before: &Snapshot,
    now: &Snapshot,
    targets: &[Target],
    catalogue: &[Known],
) -> Explanation {
    let (before_text, _) = model_view(&before.dockerfile.text);
    let (now_text, unread) = model_view(&now.dockerfile.text);
    let input = Input {
        before: build_of(before, &before_text),
        now: build_of(now, &now_text),
        before_args: &before.build_args,
        now_args: &now.build_args,
        changes: changes(before, now),
        before_snapshot: before,
        unread: &unread,
    };
    let profiles = targets
        .iter()
        .map(|t| explain_target(&input, t, catalogue))
        .collect();
    Explanation {
        dir: now.dir.clone(),
        dockerfile: now.dockerfile.path.clone(),
        build_args: arg_changes(&before.build_args, &now.build_args),
        limits: limits(now, &unread),
        changes: input.changes.clone(),
        profiles,
    }
}

/// What every target's explanation reads.
struct Input<'a> {
    before: Build,
    now: Build,
    before_args: &'a BTreeMap<String, String>,
    now_args: &'a BTreeMap<String, String>,
    changes: Vec<Change>,
    before_snapshot: &'a Snapshot,
    unread: &'a BTreeMap<usize, (String, String)>,
}

fn arg_changes(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<ArgChange> {
    let mut names: Vec<&String> = before.keys().chain(now.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(*n) != now.get(*n))
        .map(|n| ArgChange {
            name: n.clone(),
            then: before.get(n).cloned(),
            now: now.get(n).cloned(),
        })
        .collect()
}

/// File-wide limits of what the model sees, in plain words.
fn limits(now: &Snapshot, unread: &BTreeMap<usize, (String, String)>) -> Vec<String> {
    let mut out = Vec::new();
    let escaped = now.escaped_paths();
    if !escaped.is_empty() {
        out.push(format!(
            "{} name(s) are not UTF-8 and are recorded with `\\xNN` escapes ({}); the model \
             matches `.dockerignore` and COPY patterns against the escaped text",
            escaped.len(),
            escaped
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.extend(now.not_represented.iter().cloned());
    if !now.dockerfile_is_context_dockerfile() {
        let place = if now.dockerfile.in_context {
            "is not the context's `Dockerfile`"
        } else {
            "is outside the context"
        };
        out.push(format!(
            "the Dockerfile `{}` {place}: the model leaves it out of what COPY sees",
            now.dockerfile.path
        ));
        if now.entries.contains_key(models::context::DOCKERFILE_NAME) {
            out.push(
                "the context also has a file named `Dockerfile`, which the model cannot hold \
                 besides the Dockerfile used: a COPY of it is not judged"
                    .to_string(),
            );
        }
    }
    for (step, (text, why)) in unread {
        out.push(format!(
            "step {step} (`{text}`): the model cannot read it ({why}); it and the rest of its \
             stage are not judged"
        ));
    }
    out
}

fn explain_target(input: &Input<'_>, target: &Target, catalogue: &[Known]) -> ProfileExplanation {
    let profile = profile_for_snapshot(&target.profile, input.before_snapshot);
    let mut state = EngineState::new(profile);
    let snapshot_rejected = refusal(&state, &input.before);
    apply(&mut state, &input.before);
    let prediction = predict(&state, &input.now);
    let mut steps: Vec<StepExplanation> = prediction
        .steps
        .iter()
        .map(|s| step_explanation(input, &prediction, s))
        .collect();
    for (step, warning) in stale_hits(input, target, catalogue, &state, &prediction) {
        if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
            s.warnings.push(warning);
        }
    }
    for (step, warning) in stale_files(input, target, catalogue, &state, &prediction) {
        if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
            s.warnings.push(warning);
        }
    }
    for (step, also) in own_changes(input, &state.profile, &prediction) {
        if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
            s.why = format!("{}; its own key changed too{also}", s.why);
        }
    }
    let mut explained: Vec<usize> = Vec::new();
    for (step, change, rule) in left_out(input, &state, &prediction) {
        let Some(s) = steps.iter_mut().find(|s| s.step == step) else {
            continue;
        };
        let text = format!(
            "`{}` changed ({}), left out of its key: {}",
            change.path, change.what, rule.statement
        );
        if explained.contains(&step) {
            s.why = format!("{} {text} ({})", s.why, rule.id);
        } else {
            explained.push(step);
            s.why = text;
            s.rule = Some(rule.id.to_string());
            s.source = Some(rule.source.to_string());
        }
    }
    ProfileExplanation {
        profile: target.profile.name(),
        rejected: prediction.rejected.clone(),
        snapshot_rejected,
        steps,
    }
}

/// Steps rebuilt because an earlier step was (`cascade`) whose own key changed too: they miss
/// with `cascade` switched off (looked up by their own key alone), and the build args are named
/// when the snapshot's build with today's args alone misses there.
fn own_changes(
    input: &Input<'_>,
    profile: &Profile,
    prediction: &Prediction,
) -> Vec<(usize, String)> {
    let cascaded: Vec<usize> = prediction
        .steps
        .iter()
        .filter(|s| {
            matches!(&s.outcome, Outcome::Rebuilt { reason }
                if matches!(reason.kind, ReasonKind::ParentRebuilt { .. }))
        })
        .map(|s| s.step)
        .collect();
    let Ok(loose) = profile.with_switch("cascade", Switch::Off) else {
        return Vec::new();
    };
    if cascaded.is_empty() {
        return Vec::new();
    }
    let mut state = EngineState::new(loose);
    apply(&mut state, &input.before);
    let alone = predict(&state, &input.now);
    let same_dockerfile =
        input.before.context.dockerfile_text() == input.now.context.dockerfile_text();
    let changed_args: Vec<&str> = input
        .now_args
        .keys()
        .chain(input.before_args.keys())
        .filter(|k| input.before_args.get(*k) != input.now_args.get(*k))
        .map(String::as_str)
        .collect();
    let args_alone = (same_dockerfile && !changed_args.is_empty()).then(|| {
        let mut build = input.before.clone();
        build.options.build_args = input.now.options.build_args.clone();
        predict(&state, &build)
    });
    let misses = |p: &Prediction, step: usize| p.step(step).is_some_and(|s| s.outcome.is_rebuilt());
    cascaded
        .into_iter()
        .filter(|step| misses(&alone, *step))
        .map(|step| {
            let by_args = args_alone.as_ref().is_some_and(|p| misses(p, step));
            let also = if by_args {
                let mut names = changed_args.clone();
                names.sort_unstable();
                names.dedup();
                format!(" (--build-arg {})", names.join(", "))
            } else {
                String::new()
            };
            (step, also)
        })
        .collect()
}

/// Why the model has the engine refuse `build`, if it does. A refusal is decided by the
/// Dockerfile, the profile and the options alone, so the context is left out (cheap on a large
/// tree).
fn refusal(state: &EngineState, build: &Build) -> Option<String> {
    let mut bare = Build {
        context: BuildContext::new(),
        options: build.options.clone(),
    };
    if let Some(text) = build.context.dockerfile_text() {
        bare.context.set_dockerfile_text(&text);
    }
    predict(state, &bare).rejected
}

fn rule_source(rule: models::RuleId) -> Option<String> {
    models::profiles::catalogue()
        .find(|r| r.id == rule)
        .map(|r| r.source.to_string())
}

fn step_explanation(
    input: &Input<'_>,
    prediction: &Prediction,
    s: &models::predict::StepPrediction,
) -> StepExplanation {
    let unread = input.unread.get(&s.step);
    let instruction = unread.map_or_else(|| s.instruction.clone(), |(text, _)| text.clone());
    let (outcome, why) = match &s.outcome {
        Outcome::Cached { .. } => (
            "cached",
            "its key and parent match the snapshot's build".to_string(),
        ),
        Outcome::Rebuilt { reason } => ("rebuilt", reason_text(input, &reason.kind, reason)),
        Outcome::NotAStep { .. } => (
            "not-a-step",
            "not a cache step of its own on this builder".to_string(),
        ),
        Outcome::Skipped { why } => ("skipped", why.clone()),
        Outcome::Fails { why } => ("fails", format!("the build fails here: {why}")),
        Outcome::Unsupported { why } => ("unknown", unknown_text(input, prediction, s, why)),
    };
    let rule = s.outcome.cited_rule();
    StepExplanation {
        step: s.step,
        stage: s.stage,
        instruction,
        outcome: outcome.to_string(),
        rule: rule.map(|r| r.to_string()),
        source: rule.and_then(rule_source),
        why,
        warnings: Vec::new(),
    }
}

/// Why the model cannot judge a step: its own reason, or the earlier step of its stage it
/// follows.
fn unknown_text(
    input: &Input<'_>,
    prediction: &Prediction,
    s: &models::predict::StepPrediction,
    why: &str,
) -> String {
    let first = prediction.steps.iter().find(|o| {
        o.stage == s.stage && matches!(&o.outcome, Outcome::Unsupported { why: w } if w == why)
    });
    let own = |step: usize| match input.unread.get(&step) {
        Some((_, parse_why)) => format!("the model cannot read it: {parse_why}"),
        None => why.to_string(),
    };
    match first {
        Some(f) if f.step != s.step => format!(
            "the model cannot judge it: it follows step {}, which the model cannot judge ({})",
            f.step,
            own(f.step)
        ),
        _ => format!("the model cannot judge this step: {}", own(s.step)),
    }
}

fn arg_value(v: Option<&String>) -> String {
    v.map_or_else(|| "(not given)".to_string(), |v| format!("`{v}`"))
}

/// A rebuild's reason with the input that differs.
fn reason_text(input: &Input<'_>, kind: &ReasonKind, reason: &models::Reason) -> String {
    match kind {
        ReasonKind::SourceChanged { path, field } => format!("`{path}`: {}", field_text(field)),
        ReasonKind::BuildArg { name } => {
            match (input.before_args.get(name), input.now_args.get(name)) {
                // Not given either time: its default follows other ARGs (`ARG W=v${V}`).
                (before, now) if before == now => {
                    format!("ARG {name}: its value follows other build args, which changed")
                }
                (before, now) => format!(
                    "--build-arg {name}: {} → {}",
                    arg_value(before),
                    arg_value(now)
                ),
            }
        }
        ReasonKind::ParentRebuilt { step } => format!("parent rebuilt at step {step}"),
        ReasonKind::InstructionText { cached, now } => {
            format!("instruction text `{cached}` → `{now}`")
        }
        ReasonKind::NotInCache => "the snapshot's build has no such step here".to_string(),
        _ => {
            let text = reason.to_string();
            let suffix = format!(" ({})", reason.rule);
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
    }
}

fn field_text(field: &Field) -> String {
    match field {
        Field::Content => "content changed".to_string(),
        Field::Mode { from, to } => format!("mode {from:04o} → {to:04o}"),
        Field::Owner { from, to } => {
            format!("owner {}:{} → {}:{}", from.0, from.1, to.0, to.1)
        }
        Field::Times => "mtime/atime changed".to_string(),
        Field::Xattr { name } => format!("xattr `{name}` changed"),
        Field::Type { from, to } => format!("type {from} → {to}"),
        Field::LinkTarget { from, to } => format!("link target `{from}` → `{to}`"),
        Field::Added => "added".to_string(),
        Field::Removed => "removed".to_string(),
    }
}

/// What changed between two snapshots, path by path, in the catalogue's words.
pub fn changes(before: &Snapshot, now: &Snapshot) -> Vec<Change> {
    let mut paths: Vec<&String> = before.entries.keys().chain(now.entries.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let kinds = match (before.entries.get(path), now.entries.get(path)) {
            (None, Some(n)) => vec![added_kind(n).to_string()],
            (Some(_), None) => vec!["remove".to_string()],
            (Some(b), Some(n)) => entry_change_kinds(b, n),
            (None, None) => Vec::new(),
        };
        let kinds = match path.as_str() {
            models::context::DOCKERIGNORE_NAME if !kinds.is_empty() => {
                vec!["dockerignore".to_string()]
            }
            p if p == now.dockerfile.path && now.dockerfile.in_context && !kinds.is_empty() => {
                vec!["dockerfile".to_string()]
            }
            _ => kinds,
        };
        if !kinds.is_empty() {
            let what = kinds.join(", ");
            out.push(Change {
                path: path.clone(),
                kinds,
                what,
            });
        }
    }
    if !now.dockerfile.in_context && before.dockerfile.text != now.dockerfile.text {
        out.push(Change {
            path: now.dockerfile.path.clone(),
            kinds: vec!["dockerfile".to_string()],
            what: "dockerfile".to_string(),
        });
    }
    out
}

fn added_kind(entry: &EntryRecord) -> &'static str {
    match entry.kind {
        RecordKind::File => "write",
        RecordKind::Dir => "mkdir",
        RecordKind::Symlink => "symlink",
    }
}

/// The kinds of an in-place change (atime is left out: reading a file moves it).
fn entry_change_kinds(b: &EntryRecord, n: &EntryRecord) -> Vec<String> {
    if b.kind != n.kind {
        return vec!["remove".to_string(), added_kind(n).to_string()];
    }
    let same_times = (b.mtime, b.mtime_nsec) == (n.mtime, n.mtime_nsec);
    let mut kinds = Vec::new();
    if b.sha256 != n.sha256 {
        let same_size = b.size == n.size;
        kinds.push(if same_size && same_times {
            "write-same-size"
        } else {
            "write"
        });
    }
    if b.target != n.target {
        kinds.push("symlink");
    }
    if b.mode != n.mode {
        kinds.push(if n.kind == RecordKind::Dir {
            "chmod-dir"
        } else {
            "chmod"
        });
    }
    if (b.uid, b.gid) != (n.uid, n.gid) {
        kinds.push("chown");
    }
    if n.xattrs.iter().any(|(k, v)| b.xattrs.get(k) != Some(v)) {
        kinds.push("set-xattr");
    }
    if b.xattrs.keys().any(|k| !n.xattrs.contains_key(k)) {
        kinds.push("remove-xattr");
    }
    if kinds.is_empty() && !same_times {
        kinds.push("touch");
    }
    kinds.into_iter().map(str::to_string).collect()
}

/// The catalogue entry for `target` that covers every kind of a change, with `observed`.
fn covering<'a>(
    catalogue: &'a [Known],
    target: &Target,
    observed: &str,
    change: &Change,
) -> Option<&'a Known> {
    catalogue.iter().find(|k| {
        target.kinds.contains(&k.engine)
            && k.versions.contains_engine(&target.version)
            && k.observed == observed
            && k.after.is_empty()
            && !k.mutations.is_empty()
            && change.kinds.iter().all(|kind| k.mutations.contains(kind))
    })
}

/// Steps an engine serves from cache although the model says they rebuild, because (per the
/// catalogue) it does not see some changes: the build predicted again with those paths as they
/// were.
fn stale_hits(
    input: &Input<'_>,
    target: &Target,
    catalogue: &[Known],
    state: &EngineState,
    prediction: &Prediction,
) -> Vec<(usize, Warning)> {
    let unseen: Vec<(&Change, &Known)> = input
        .changes
        .iter()
        .filter(|c| input.before.context.get(&c.path).is_some())
        .filter_map(|c| covering(catalogue, target, "cached", c).map(|k| (c, k)))
        .collect();
    if unseen.is_empty() {
        return Vec::new();
    }
    let mut seen = input.now.clone();
    for (change, _) in &unseen {
        if let Some(old) = input.before.context.get(&change.path) {
            seen.context
                .entries
                .insert(change.path.clone(), old.clone());
        }
    }
    let as_seen = predict(state, &seen);
    let mut out = Vec::new();
    let mut first_in_stage: BTreeMap<usize, usize> = BTreeMap::new();
    for (now, then) in prediction.steps.iter().zip(&as_seen.steps) {
        if !(now.outcome.is_rebuilt() && then.outcome.is_cached()) {
            continue;
        }
        let (_, known) = unseen[0];
        let text = match first_in_stage.get(&now.stage) {
            Some(first) => format!("follows the stale hit at step {first}"),
            None => {
                first_in_stage.insert(now.stage, now.step);
                let paths: Vec<String> = unseen
                    .iter()
                    .map(|(c, _)| format!("`{}` ({})", c.path, c.what))
                    .collect();
                format!(
                    "{}: the engine is known not to see this change and to serve the step from \
                     cache with the old input. {}",
                    paths.join(", "),
                    known.note
                )
            }
        };
        out.push((
            now.step,
            Warning {
                engine: target.kinds.join(", "),
                observed: "cached".to_string(),
                text,
                link: known.link.clone(),
            },
        ));
    }
    out
}

/// Cached steps the catalogue says an engine answers otherwise: `stale` entries (served from
/// cache, but the image keeps the old file) and `rebuilt` entries (the engine misses where the
/// model hits, and so do the later steps of the stage). The steps that read a changed path are
/// found by changing it further and seeing which step then misses.
fn stale_files(
    input: &Input<'_>,
    target: &Target,
    catalogue: &[Known],
    state: &EngineState,
    prediction: &Prediction,
) -> Vec<(usize, Warning)> {
    let mut out = Vec::new();
    for (change, observed) in input
        .changes
        .iter()
        .flat_map(|c| [(c, "stale"), (c, "rebuilt")])
    {
        let Some(known) = covering(catalogue, target, observed, change) else {
            continue;
        };
        let Some(probe) = probed(&input.now, &change.path) else {
            continue;
        };
        let as_probed = predict(state, &probe);
        let mut first: Option<&models::predict::StepPrediction> = None;
        for (now, then) in prediction.steps.iter().zip(&as_probed.steps) {
            let reads = matches!(&then.outcome, Outcome::Rebuilt { reason }
                if matches!(&reason.kind, ReasonKind::SourceChanged { path, .. } if *path == change.path));
            let follows = observed == "rebuilt"
                && first.is_some_and(|f| f.stage == now.stage && f.step < now.step);
            if !now.outcome.is_cached() || !(reads || follows) {
                continue;
            }
            let text = match (observed, first) {
                (_, Some(f)) if follows => format!("follows the rebuild at step {}", f.step),
                ("stale", _) => format!(
                    "`{}` ({}): served from cache, but the image keeps the old file. {}",
                    change.path, change.what, known.note
                ),
                _ => format!(
                    "`{}` ({}): the engine is known to rebuild this step where the model says \
                     it hits. {}",
                    change.path, change.what, known.note
                ),
            };
            first = first.or(Some(now));
            out.push((
                now.step,
                Warning {
                    engine: target.kinds.join(", "),
                    observed: observed.to_string(),
                    text,
                    link: known.link.clone(),
                },
            ));
        }
    }
    out
}

/// The cached steps that read a changed path, each with the first such path it reads (in path
/// order): every candidate path changed further at once, each step that then misses on one of
/// them (the first such step of a stage: the later ones follow its miss).
fn cached_readers<'c>(
    state: &EngineState,
    now: &Build,
    prediction: &Prediction,
    candidates: &[&'c Change],
) -> Vec<(usize, &'c Change)> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut probe = now.clone();
    for c in candidates {
        perturb(&mut probe, &c.path);
    }
    let as_probed = predict(state, &probe);
    prediction
        .steps
        .iter()
        .zip(&as_probed.steps)
        .filter(|(now, _)| now.outcome.is_cached())
        .filter_map(|(now, then)| match &then.outcome {
            Outcome::Rebuilt { reason } => match &reason.kind {
                ReasonKind::SourceChanged { path, .. } => candidates
                    .iter()
                    .find(|c| c.path == *path)
                    .map(|c| (now.step, *c)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Why a cached step that reads a changed path still hits ("why did it not miss?"): the rule
/// whose switching off (a mutant, `Profile::with_switch`) makes the step miss on that path.
fn left_out<'a>(
    input: &'a Input<'_>,
    state: &EngineState,
    prediction: &Prediction,
) -> Vec<(usize, &'a Change, models::Rule)> {
    // A path a rebuilt step names was seen by the step that reads it first: not probed.
    let seen = |path: &str| {
        prediction.steps.iter().any(|s| {
            matches!(&s.outcome, Outcome::Rebuilt { reason }
                if matches!(&reason.kind, ReasonKind::SourceChanged { path: p, .. } if p == path))
        })
    };
    let candidates: Vec<&Change> = input
        .changes
        .iter()
        .filter(|c| input.now.context.get(&c.path).is_some() && !seen(&c.path))
        .collect();
    let readers = cached_readers(state, &input.now, prediction, &candidates);
    if readers.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut done: Vec<(usize, &str)> = Vec::new();
    for rule in state
        .profile
        .rules()
        .into_iter()
        .filter(|r| r.is_exercised())
    {
        let Ok(mutant) = state.profile.with_switch(rule.id, Switch::Off) else {
            continue;
        };
        if done.len() == readers.len() {
            break;
        }
        let mut mutant_state = EngineState::new(mutant);
        apply(&mut mutant_state, &input.before);
        for (step, change) in &readers {
            if done.contains(&(*step, change.path.as_str())) {
                continue;
            }
            let as_mutant = predict(&mutant_state, &only_change(input, &change.path));
            let misses_on_it = as_mutant.step(*step).is_some_and(|s| {
                matches!(&s.outcome, Outcome::Rebuilt { reason }
                    if matches!(&reason.kind, ReasonKind::SourceChanged { path, .. } if *path == change.path))
            });
            if misses_on_it {
                done.push((*step, change.path.as_str()));
                out.push((*step, *change, rule));
            }
        }
    }
    out
}

/// The current build with every entry as the snapshot had it but `path` (and the Dockerfile):
/// one change alone.
fn only_change(input: &Input<'_>, path: &str) -> Build {
    let mut build = input.now.clone();
    build.context = input.before.context.clone();
    for p in [path, models::context::DOCKERFILE_NAME] {
        match input.now.context.get(p) {
            Some(entry) => {
                build.context.entries.insert(p.to_string(), entry.clone());
            }
            None => {
                build.context.entries.remove(p);
            }
        }
    }
    build
}

/// `build` with the entry at `path` changed in a way every key that reads it sees.
fn probed(build: &Build, path: &str) -> Option<Build> {
    let mut probe = build.clone();
    perturb(&mut probe, path).then_some(probe)
}

/// Changes the entry at `path` in a way every key that reads it sees; false if there is none.
fn perturb(build: &mut Build, path: &str) -> bool {
    let Some(entry) = build.context.get_mut(path) else {
        return false;
    };
    match &mut entry.kind {
        models::EntryKind::File { content } => content.extend_from_slice(b"~cachet-probe"),
        models::EntryKind::Symlink { target } => target.push_str("~cachet-probe"),
        models::EntryKind::Dir => {
            build.context.entries.insert(
                format!("{path}/~cachet-probe"),
                models::Entry::file("probe"),
            );
        }
    }
    true
}

/// Renders an explanation for a terminal.
pub fn render_text(e: &Explanation) -> String {
    let mut out = format!("{} (Dockerfile `{}`)\n", e.dir, e.dockerfile);
    out.push_str(&changes_lines(e, ""));
    for limit in &e.limits {
        out.push_str(&format!("limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n{}\n", p.profile));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "  the engine refused the snapshot's build, so nothing of it is cached: {why}\n"
            ));
        }
        if let Some(why) = &p.rejected {
            out.push_str(&format!("  the engine refuses this build: {why}\n"));
        }
        for s in &p.steps {
            out.push_str(&format!(
                "  step {:<3} {:<10} {}\n",
                s.step, s.outcome, s.instruction
            ));
            let rule = s
                .rule
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            out.push_str(&format!("             {}{rule}\n", s.why));
            if let Some(source) = s.source.as_deref().filter(|_| s.outcome == "rebuilt") {
                out.push_str(&format!("             {source}\n"));
            }
            for w in &s.warnings {
                out.push_str(&format!(
                    "             WARNING ({}): {} {}\n",
                    w.engine, w.text, w.link
                ));
            }
        }
    }
    out
}

/// The changes and build-arg changes, one line each, behind `prefix`.
fn changes_lines(e: &Explanation, prefix: &str) -> String {
    let mut out = String::new();
    if e.changes.is_empty() && e.build_args.is_empty() {
        out.push_str(&format!("{prefix}no change since the snapshot\n"));
    }
    for c in &e.changes {
        out.push_str(&format!("{prefix}changed: `{}`: {}\n", c.path, c.what));
    }
    for a in &e.build_args {
        out.push_str(&format!(
            "{prefix}changed: --build-arg {}: {} → {}\n",
            a.name,
            arg_value(a.then.as_ref()),
            arg_value(a.now.as_ref())
        ));
    }
    out
}

/// Renders an explanation as Markdown (a pull-request comment).
pub fn render_markdown(e: &Explanation) -> String {
    let mut out = format!("### cachet explain: `{}`\n\n", e.dir);
    out.push_str(&changes_lines(e, "- "));
    for limit in &e.limits {
        out.push_str(&format!("- limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n#### {}\n\n", p.profile));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "The engine refused the snapshot's build, so nothing of it is cached: {why}\n\n"
            ));
        }
        if let Some(why) = &p.rejected {
            out.push_str(&format!("The engine refuses this build: {why}\n\n"));
        }
        out.push_str("| step | instruction | outcome | why | rule |\n|---|---|---|---|---|\n");
        for s in &p.steps {
            let rule = match (&s.rule, &s.source) {
                (Some(r), Some(src)) => format!("[`{r}`]({src})"),
                (Some(r), None) => format!("`{r}`"),
                _ => String::new(),
            };
            let mut why = s.why.replace('|', "\\|");
            for w in &s.warnings {
                why.push_str(&format!(
                    "<br>⚠️ **{}**: {} ([upstream]({}))",
                    w.engine,
                    w.text.replace('|', "\\|"),
                    w.link
                ));
            }
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                s.step,
                s.instruction.replace('|', "\\|").replace('`', "'"),
                s.outcome,
                why,
                rule
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sha: char, size: u64, mtime: (i64, i64)) -> EntryRecord {
        EntryRecord {
            kind: RecordKind::File,
            sha256: Some(sha.to_string().repeat(64)),
            size: Some(size),
            target: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: mtime.0,
            mtime_nsec: mtime.1,
            atime: mtime.0,
            xattrs: BTreeMap::new(),
            escaped: false,
        }
    }

    fn check(before: &EntryRecord, now: &EntryRecord, kinds: &[&str]) {
        assert_eq!(
            entry_change_kinds(before, now),
            kinds,
            "{before:?} -> {now:?}"
        );
    }

    #[test]
    fn changes_are_named_as_the_catalogue_names_them() {
        let a = file('a', 3, (10, 5));
        check(&a, &a, &[]);
        check(&a, &file('b', 3, (10, 5)), &["write-same-size"]);
        check(&a, &file('b', 3, (10, 6)), &["write"]);
        check(&a, &file('b', 4, (10, 5)), &["write"]);
        check(&a, &file('a', 3, (11, 5)), &["touch"]);
        let atime_only = EntryRecord {
            atime: 99,
            ..a.clone()
        };
        check(&a, &atime_only, &[]);
        check(
            &a,
            &EntryRecord {
                mode: 0o755,
                ..a.clone()
            },
            &["chmod"],
        );
        check(
            &a,
            &EntryRecord {
                uid: 7,
                ..a.clone()
            },
            &["chown"],
        );
        let dir = EntryRecord {
            kind: RecordKind::Dir,
            sha256: None,
            size: None,
            ..a.clone()
        };
        check(
            &dir,
            &EntryRecord {
                mode: 0o700,
                ..dir.clone()
            },
            &["chmod-dir"],
        );
        check(&a, &dir, &["remove", "mkdir"]);
        let labelled = EntryRecord {
            xattrs: BTreeMap::from([("user.k".to_string(), "76".to_string())]),
            ..a.clone()
        };
        check(&a, &labelled, &["set-xattr"]);
        check(&labelled, &a, &["remove-xattr"]);
    }

    #[test]
    fn an_unreadable_instruction_is_put_to_the_model_as_a_step_it_does_not_judge() {
        let (text, unread) = model_view("FROM base\nRUN --frobnicate x\nRUN y\n");
        assert_eq!(
            text,
            "FROM base\nADD http://cachet.invalid/not-read /cachet-not-read\nRUN y\n"
        );
        assert_eq!(unread[&2].0, "RUN --frobnicate x");
        let unreadable_from = "FROM --frobnicate base\nRUN y\n";
        assert!(!dockerfile::parse(unreadable_from).diagnostics.is_empty());
        let (text, unread) = model_view(unreadable_from);
        assert!(
            unread.is_empty(),
            "an unreadable FROM is left to refuse the file"
        );
        assert_eq!(text, "FROM --frobnicate base\nRUN y\n");
    }
}
