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
//!
//! This file holds the entry point (`explain`); the parts are `answer` (the answer's types),
//! `changes` (what differs between the snapshots), `steps` (each step's answer and why it hit or
//! missed), `warnings` (from the known catalogue) and `render` (text and Markdown).

pub mod snapshot;

mod answer;
mod bases;
mod changes;
mod render;
mod steps;
mod warnings;

use std::collections::BTreeMap;

use models::dockerfile::{self, Body, Line};
use models::{
    apply, predict, Build, BuildContext, BuildOptions, Builder, EngineState, Profile, Switch,
    Transport,
};

use crate::corpus::known::Known;
use crate::error::{Error, Result};
use crate::explain::snapshot::Snapshot;

pub use answer::{Explanation, ProfileExplanation, StepExplanation, Target, Warning};
pub use changes::{changes, ArgChange, Change};
pub use render::{render_markdown, render_text};

use answer::Input;
use changes::arg_changes;
use steps::{left_out, own_changes, step_explanation};
use warnings::{stale_files, stale_hits};

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

/// The Dockerfile as the model is given it: each instruction with a flag or mount type the model
/// does not know (and so would refuse the whole file for) becomes a step it does not judge (`ADD`
/// of a URL), so the others are still explained. Returns the text and, per step, the original text and why.
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
        // An unreadable FROM or global ARG changes what every later step means, and what every
        // frontend refuses (no arguments, an unknown instruction) fails the build: not replaced
        // (the model then refuses the file and says why). Only a flag or mount type a newer
        // frontend may know is left unjudged.
        if is_from || !seen_from || !dockerfile::is_unknown_syntax(why) {
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
            target: snapshot.target.clone(),
            // The user's engine can pull a `# syntax=` frontend image (`bk.syntax-frontend`).
            frontend_pull: true,
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
    bases::mark_base_changes(state.profile.builder, &input.before, &input.now, &mut steps);
    let first_miss = steps
        .iter()
        .find(|s| s.outcome == "rebuilt" || s.outcome == "fails")
        .map(|s| s.step);
    ProfileExplanation {
        profile: target.profile.name(),
        rejected: prediction.rejected.clone(),
        snapshot_rejected,
        first_miss,
        steps,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
