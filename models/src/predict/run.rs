//! RUN: keyed on its command text (its flags, `--mount=...` included, are part of that text), the
//! build args, environment and shell it sees, never on files, except what the engine keys of its
//! mounts and heredocs: a heredoc's body (`bk.heredoc-keyed`, `buildah.heredoc-keyed`), the
//! bound files of a bind mount (`bk.run-bind-content`, `buildah.bind-sources`), a cache mount's
//! id before BuildKit v0.13 (`bk.cache-mount-id`). Cache, tmpfs, secret and ssh mounts' contents
//! are outside the key by definition.

use crate::context::{normalize_context_path, BuildContext};
use crate::dockerfile::{Body, Command, CopyArgs, Heredoc, Instruction, Mount, MountKind};
use crate::fingerprint::fingerprint;
use crate::predict::copy::{built_stage, missing_in_stage, source_fact, stage_content};
use crate::predict::cx::{arrived_owner, Cx, PlacedFile, Planned, StageOutcome, StageState};
use crate::profiles::{buildah, buildkit, classic, general, Builder, Profile};
use crate::step::key::{Component, Part, StepKey};
use crate::step::outcome::Outcome;

pub(crate) fn plan_run(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    instruction: &Instruction,
    normalized: &str,
) -> Planned {
    let p = cx.profile;
    let Body::Run {
        command,
        flags,
        heredocs,
    } = &instruction.body
    else {
        unreachable!("plan_run is called for RUN")
    };
    record_effect(cx, st, command, heredocs);
    let text = keyed_text(p, normalized, heredocs, &flags.mounts);
    let mut key = StepKey::new(general::TEXT_LITERAL.id, "RUN");
    key.push(Component::text(
        general::TEXT_LITERAL.id,
        general::literal(p, text),
    ));
    key.extend(match p.builder {
        Builder::BuildKit => buildkit::run_heredoc(p, heredocs),
        Builder::Buildah => buildah::run_heredoc(p, heredocs),
        Builder::Classic => None,
    });
    for mount in &flags.mounts {
        match mount_component(cx, outcomes, st, mount) {
            Ok(component) => key.extend(component),
            Err(outcome) => {
                let read = mount
                    .from
                    .as_deref()
                    .and_then(|from| cx.earlier_stage(st.index, &cx.expand(from, &st.scope)));
                return Planned::broken_reading(outcome, read);
            }
        }
    }
    if cx.args_on {
        let args = general::run_key_args(p, &st.scope);
        key.extend(match p.builder {
            Builder::Classic => classic::run_args(p, args),
            Builder::BuildKit => Some(general::run_args(args)),
            Builder::Buildah => buildah::run_args(p, args),
        });
    }
    key.extend(buildkit::run_env(p, &st.scope));
    key.extend(general::run_context(cx.profile, || cx.context_digest()));
    let mounted_stages = match buildah::skips_lookup_after_stage_ran(p) {
        true => mounted_stages(cx, st, &flags.mounts),
        false => Vec::new(),
    };
    Planned::Step {
        key,
        changes_files: false,
        reads_stage: None,
        mounted_stages,
        bound_stages: self::mounted_stages(cx, st, &flags.mounts),
        detached_parent: None,
    }
}

/// What the RUN leaves in the stage's files: a RUN of the few shell forms whose effect on the
/// image is known (`run_effect`, or a heredoc script's) writes those files; any other may have
/// written anything (`copy.from-chain`).
fn record_effect(cx: &Cx<'_>, st: &mut StageState, command: &Command, heredocs: &[Heredoc]) {
    let effect = match (command, heredocs) {
        (Command::Shell(line), []) => run_effect(&cx.expand(line, &st.scope)),
        // `RUN <<EOF` with the heredoc as the script: the shell runs its lines in turn.
        (Command::Shell(line), [doc])
            if doc.fd.is_none() && line.trim() == format!("<<{}", doc.name) =>
        {
            script_effect(&doc.content, |l| match doc.expand {
                true => cx.expand(l, &st.scope),
                false => l.to_string(),
            })
        }
        _ => None,
    };
    st.last_run_opaque = effect.is_none();
    match effect {
        None => st.has_run = true,
        Some(writes) => {
            // A plain file, 0644, root's (`run_effect`).
            for (path, content) in writes {
                let file = PlacedFile {
                    rest: fingerprint(&("written by RUN", content)),
                    owner: Some((0, 0)),
                    mode: Some(0o644),
                    is_dir: false,
                };
                st.files.insert(path, file);
            }
        }
    }
}

/// The RUN's text as its key holds it: the first line only when heredoc bodies follow (they are
/// keyed on their own), and on BuildKit without the cache mounts' ids where those are not keyed.
fn keyed_text(p: &Profile, normalized: &str, heredocs: &[Heredoc], mounts: &[Mount]) -> String {
    let text = match heredocs.is_empty() {
        true => normalized,
        false => normalized.split('\n').next().unwrap_or(normalized),
    };
    match p.builder {
        Builder::BuildKit => buildkit::run_text_without_cache_ids(p, text.to_string(), mounts),
        _ => text.to_string(),
    }
}

/// The earlier stages the mounts name (`from=`, expanded), of any mount type: Buildah looks at
/// every mount with a `from=` (`runStageMountPoints`, stage_executor.go v1.43.0 L618-L725).
fn mounted_stages(cx: &Cx<'_>, st: &StageState, mounts: &[Mount]) -> Vec<usize> {
    let named = mounts.iter().filter_map(|m| m.from.as_deref());
    let stages = named.filter_map(|f| cx.earlier_stage(st.index, &cx.expand(f, &st.scope)));
    let mut stages: Vec<usize> = stages.collect();
    stages.dedup();
    stages
}

/// What one mount adds to the RUN's key beyond its text: the bound files of a bind mount, where
/// the builder keys them. A bind mount of an image adds nothing: its files are constant while
/// its name (in the text) is, as FROM's base is.
fn mount_component(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &StageState,
    mount: &Mount,
) -> Result<Option<Component>, Outcome> {
    let p = cx.profile;
    if mount.kind != MountKind::Bind {
        return Ok(None);
    }
    let source = mount
        .source
        .as_deref()
        .map(|s| cx.expand(s, &st.scope))
        .unwrap_or_else(|| ".".to_string());
    match &mount.from {
        None => {
            let keyed = match p.builder {
                Builder::BuildKit => buildkit::keys_bind_mounts(p),
                Builder::Buildah => buildah::keys_bind_sources(p),
                Builder::Classic => false,
            };
            if !keyed {
                return Ok(None);
            }
            bound_context_files(cx, &source).map(Some)
        }
        Some(from) => {
            let from = cx.expand(from, &st.scope);
            let Some(stage) = cx.earlier_stage(st.index, &from) else {
                return Ok(None);
            };
            // Every builder refuses to bind a path the stage certainly lacks (measured on every
            // BuildKit and Buildah generation here: case run-bind-stage-missing).
            if let Some(fails) = missing_in_stage(
                outcomes[stage].as_ref(),
                std::slice::from_ref(&source),
                &format!("RUN --mount from={from}"),
            ) {
                return Err(fails);
            }
            built_stage(outcomes, (&from, stage))?;
            // Buildah keys no stage mount's content (`buildah.bind-stage-keyed`: whether the
            // stage ran decides the lookup instead, `mounted_stages`).
            if !(p.builder == Builder::BuildKit && buildkit::keys_bind_mounts(p)) {
                return Ok(None);
            }
            let plain = CopyArgs::default();
            let (_, component) = stage_content(p, outcomes, (&from, stage), &[source], &plain)?;
            Ok(Some(component))
        }
    }
}

/// The facts of the context files a bind mount binds (`source` and everything below it), as the
/// transport shapes them, or why the build fails (a missing source).
fn bound_context_files(cx: &Cx<'_>, source: &str) -> Result<Component, Outcome> {
    let p = cx.profile;
    let context: &BuildContext = &cx.visible;
    let root = match source.trim_matches('/') {
        "" | "." => String::new(),
        s => normalize_context_path(s).map_err(|e| Outcome::Fails {
            why: format!("RUN --mount source: {e}"),
        })?,
    };
    if !root.is_empty() && context.get(&root).is_none() {
        return Err(Outcome::Fails {
            why: format!("RUN --mount source `{root}` not found in the context"),
        });
    }
    let plain = CopyArgs::default();
    let root_entry = context.get(&root).map(|entry| (&root, entry));
    let mut facts = Vec::new();
    for (path, entry) in root_entry.into_iter().chain(context.entries_under(&root)) {
        let mut fact = source_fact(cx, path, entry, &plain);
        buildah::bind_fact(p, &mut fact, arrived_owner(cx.effect, entry));
        if buildah::bind_keeps_mtime(p) {
            fact.times = Some((entry.mtime, 0));
        }
        facts.push(fact);
    }
    let rule = match p.builder {
        Builder::Buildah => buildah::BIND_SOURCES.id,
        _ => buildkit::RUN_BIND_CONTENT.id,
    };
    Ok(Component {
        rule,
        part: Part::Sources(facts),
    })
}

/// What a script (a heredoc run as a RUN's command) writes, if every line is of known effect
/// (`run_effect`; blank lines and `#` comments do nothing); `expand` expands a line's variables.
fn script_effect(script: &str, expand: impl Fn(&str) -> String) -> Option<Vec<(String, String)>> {
    let mut writes = Vec::new();
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        writes.extend(run_effect(&expand(line))?);
    }
    Some(writes)
}

/// What a RUN of one of the few shell forms whose effect the model knows writes into the image:
/// `true`, `echo WORDS` and `cat PATH` write nothing; `echo WORDS > /PATH` writes WORDS and a
/// newline to that absolute path (a plain file, 0644, root's: what busybox's shell makes there).
/// `line` has its `$NAME` references expanded as the shell would (ARG and ENV values). Any other
/// command is opaque (`None`): it may have written anything.
pub(crate) fn run_effect(line: &str) -> Option<Vec<(String, String)>> {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '='))
    };
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["true"] => Some(Vec::new()),
        ["cat", path] if plain(path) => Some(Vec::new()),
        ["echo", rest @ ..] if rest.iter().all(|w| plain(w)) => Some(Vec::new()),
        ["echo", rest @ .., ">", path]
            if path.starts_with('/') && plain(path) && rest.iter().all(|w| plain(w)) =>
        {
            Some(vec![(path.to_string(), format!("{}\n", rest.join(" ")))])
        }
        _ => None,
    }
}
