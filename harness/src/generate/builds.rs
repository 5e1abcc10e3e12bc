//! A scenario's builds: each build's options and host, the scripted changes in order, and
//! `transitions_of`, which turns a scenario's draws into its transitions.

use models::scenario::{BuildStep, Mutation, Transition};
use models::{BuildContext, BuildOptions};
use proptest::prelude::*;

use super::changes::{apply_fitting, mutations_of, next_arg, Change};
use super::edits::DockerfileEdit;
use super::foci::{metadata_opening, opening, stage_opening, Focus};
use super::pools::{PUSHED, STAGE};
use super::repair;

pub(super) fn arb_options() -> impl Strategy<Value = BuildOptions> {
    (prop::option::of("[12]"), prop::bool::weighted(0.12)).prop_map(|(v, no_cache)| {
        let mut options = BuildOptions {
            no_cache,
            ..BuildOptions::default()
        };
        if let Some(v) = v {
            options.build_args.insert("V".into(), v);
        }
        options
    })
}

/// One build's draw: its change, its options, whether it runs on host `b`, builds `--target`,
/// reverts the Dockerfile after a `--no-cache` build, and draws new build args (else it keeps the previous build's).
type StepDraw = (Change, BuildOptions, bool, bool, bool, bool);

/// What a scenario's builds share: its stages, its hosts, and its focus, the telling instruction
/// (`is_telling`, by index) most of its aimed mutations and telling edits change, so that one
/// feature meets changes from several sides.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub(super) two_stages: bool,
    pub(super) cross_host: bool,
    pub(super) focus: &'static Focus,
    /// Whether the second build makes the focus's opening change.
    pub(super) opens: bool,
    /// Which change of `s0` alone the third build of a two-stage scenario makes
    /// (`stage_opening`), or of the focus's metadata that of another (`metadata_opening`).
    pub(super) stage_change: usize,
}

/// Telling edits turned on the scenario's focus (`aim::resolve` turns most aimed mutations
/// there).
fn focused(change: Change, focus: &'static str) -> Change {
    match change {
        Change::Edit(DockerfileEdit::VaryTelling(n, _)) => {
            Change::Edit(DockerfileEdit::VaryTelling(n, focus))
        }
        other => other,
    }
}

/// A scripted change of a scenario's build.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Script {
    /// The import on `b` with only what the last stage reads from `s0` changed.
    Import,
    /// The focus's opening change.
    Opening,
    /// A change of `s0` alone.
    Stage,
    /// A change of the focus's metadata.
    Metadata,
}

/// The scripted changes of a scenario, one a build from the second on: half the cross-host
/// scenarios import the first build's cache on `b` with only what the last stage reads from `s0`
/// changed, so that stage's layers are needed and whether the inline cache holds them is all that
/// differs (`bk.inline-min`); then the focus's opening change; then a change of `s0` alone or of
/// the focus's metadata. Each comes as soon as the one before it has had its build (the opening
/// used to give way to the import, and the focus then often went unopened).
fn scripts(shape: &Shape, import: bool) -> Vec<Script> {
    let mut scripts = Vec::new();
    if import {
        scripts.push(Script::Import);
    }
    if shape.opens {
        scripts.push(Script::Opening);
    }
    if shape.two_stages {
        scripts.push(Script::Stage);
    } else if shape.opens {
        scripts.push(Script::Metadata);
    }
    scripts
}

fn scripted_change(script: Script, shape: &Shape, text: &str) -> Change {
    match script {
        Script::Import => Change::Edit(DockerfileEdit::VaryRead),
        Script::Opening => opening(shape.focus),
        Script::Stage => stage_opening(shape.stage_change, text),
        Script::Metadata => metadata_opening(shape.stage_change),
    }
}

/// The builds of a scenario from their draws. The first runs on the initial context; a build
/// after a `--no-cache` one may put the first build's Dockerfile back alone (the newest of two
/// chains wins: `*.newest-match`); build args carry over unless a build draws new ones.
pub(super) fn transitions_of(
    initial: &BuildContext,
    steps: Vec<StepDraw>,
    shape: Shape,
) -> Vec<Transition> {
    let Shape {
        two_stages,
        cross_host,
        focus,
        ..
    } = shape;
    let first_text = initial.dockerfile_text().unwrap_or_default();
    let mut current = initial.clone();
    let mut transitions: Vec<Transition> = Vec::new();
    let import = cross_host && steps.get(1).is_some_and(|s| s.2);
    let scripts = scripts(&shape, import);
    // A third of the scenarios build once with `--no-cache` after the scripted builds, which the
    // next build may follow by putting the first Dockerfile back (`*.newest-match`).
    let no_cache_at = scripts.len() + 1;
    let no_cache_fits = shape.stage_change.is_multiple_of(3) && no_cache_at + 1 < steps.len();
    for (n, (change, mut options, on_b, target, revert, new_args)) in steps.into_iter().enumerate()
    {
        let text = current.dockerfile_text().unwrap_or_default();
        let scripted = n
            .checked_sub(1)
            .and_then(|i| scripts.get(i))
            .map(|s| scripted_change(*s, &shape, &text));
        // A scripted change is the build's only difference: no `--target`, no `--no-cache`.
        let plain = scripted.is_some();
        let change = scripted.unwrap_or_else(|| focused(change, focus.word));
        let args_only = matches!(change, Change::Args);
        if let (false, Some(last)) = (new_args && !args_only, transitions.last()) {
            options.build_args = last.build.options.build_args.clone();
        }
        if args_only {
            next_arg(&mut options);
        }
        options.no_cache &= !plain;
        options.no_cache |= no_cache_fits && n == no_cache_at;
        // The first build of a cross-host scenario exports the whole final stage.
        if two_stages && target && !plain && (n > 0 || !cross_host) {
            options.target = Some(STAGE.into());
        }
        let host = place_build(&mut options, n, cross_host, on_b);
        let after_no_cache = transitions.last().is_some_and(|t| t.build.options.no_cache);
        let edited = current.dockerfile_text().unwrap_or_default() != first_text;
        // What the last build's change made fail is given back first (`repair`).
        let mut kept = Vec::new();
        if n > 0 {
            let repairs = repair::repair(&current);
            kept = apply_fitting(&mut current, repairs);
            if (revert || n == no_cache_at + 1) && after_no_cache && edited {
                let m = Mutation::Dockerfile {
                    text: first_text.clone(),
                };
                kept.extend(apply_fitting(&mut current, vec![m]));
            } else {
                kept.extend(mutations_of(&mut current, change, focus.word));
            }
        }
        transitions.push(Transition {
            mutations: kept,
            build: BuildStep { host, options },
        });
    }
    transitions
}

/// Where and how one build runs in a scenario that moves cache between hosts: the first build
/// on `a` exports inline cache and pushes; later builds run on `b` with `--cache-from` or on `a`.
fn place_build(options: &mut BuildOptions, n: usize, cross_host: bool, on_b: bool) -> String {
    if !cross_host {
        return "a".into();
    }
    if n == 0 {
        options.inline_cache = true;
        options.push = Some(PUSHED.into());
        return "a".into();
    }
    if on_b {
        options.cache_from = vec![PUSHED.into()];
        return "b".into();
    }
    "a".into()
}
