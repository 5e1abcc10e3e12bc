//! Each step's answer: its outcome, the rule that decided it and the input that differs; why a
//! rebuilt step's own key changed too, and why a cached step that reads a changed path still hits
//! (the rule whose mutant misses on it), found by changing that path further.

use models::{
    apply, predict, Build, EngineState, Field, Outcome, Prediction, Profile, ReasonKind, Switch,
};

use super::answer::{Input, StepExplanation};
use super::changes::{arg_value, Change};

/// Steps rebuilt because an earlier step was (`cascade`) whose own key changed too: they miss
/// with `cascade` switched off (looked up by their own key alone), and the build args are named
/// when the snapshot's build with today's args alone misses there.
pub(super) fn own_changes(
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

/// Why a cached step hit, when nothing it reads changed.
pub(super) const CACHED: &str = "its key and parent match the snapshot's build";

/// Why a step missed when the snapshot's build has no step of that key after that parent.
pub(super) const NOT_IN_CACHE: &str = "the snapshot's build has no such step here";

fn rule_source(rule: models::RuleId) -> Option<String> {
    models::profiles::catalogue()
        .find(|r| r.id == rule)
        .map(|r| r.source.to_string())
}

pub(super) fn step_explanation(
    input: &Input<'_>,
    prediction: &Prediction,
    s: &models::predict::StepPrediction,
) -> StepExplanation {
    let unread = input.unread.get(&s.step);
    let instruction = unread.map_or_else(|| s.instruction.clone(), |(text, _)| text.clone());
    let (outcome, why) = match &s.outcome {
        Outcome::Cached { .. } => ("cached", CACHED.to_string()),
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
        ReasonKind::NotInCache => NOT_IN_CACHE.to_string(),
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
pub(super) fn left_out<'a>(
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
pub(super) fn probed(build: &Build, path: &str) -> Option<Build> {
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
