//! A stage whose base image changed since the snapshot (a build arg in its `FROM`, an edited
//! tag): its FROM is the cause of every miss in the stage, where the model's own reasons show
//! only that the snapshot's build has no such step after that parent.

use models::dockerfile;
use models::predict::stage_bases;
use models::{Build, Builder};

use super::answer::StepExplanation;
use super::steps::NOT_IN_CACHE;

/// Marks the FROM of each built stage whose base image differs between `before` and `now` as the
/// miss (`rebuilt`, naming both images), and the steps of that stage that miss for want of a
/// cached step after that parent as following it. Stages are paired by position, so only when
/// both Dockerfiles have as many.
pub(super) fn mark_base_changes(
    builder: Builder,
    before: &Build,
    now: &Build,
    steps: &mut [StepExplanation],
) {
    let (then, here) = (bases(builder, before), bases(builder, now));
    if then.len() != here.len() {
        return;
    }
    for (stage, (old, new)) in then.iter().zip(&here).enumerate() {
        let (Err(old), Err(new)) = (old, new) else {
            continue;
        };
        if old == new {
            continue;
        }
        let Some(from) = steps.iter_mut().find(|s| {
            s.stage == stage
                && s.instruction
                    .get(..4)
                    .is_some_and(|k| k.eq_ignore_ascii_case("from"))
        }) else {
            continue;
        };
        // A stage the build does not build (`skipped`), or one the model cannot judge or that
        // fails, is no miss of this build, whatever its base.
        if !matches!(from.outcome.as_str(), "cached" | "not-a-step") {
            continue;
        }
        from.outcome = "rebuilt".to_string();
        from.why = format!("the base image changed: `{old}` → `{new}`");
        from.rule = None;
        from.source = None;
        let from_step = from.step;
        for s in steps
            .iter_mut()
            .filter(|s| s.stage == stage && s.step > from_step && s.why == NOT_IN_CACHE)
        {
            s.why = format!("its stage's base image changed at step {from_step}");
            s.rule = None;
            s.source = None;
        }
    }
}

/// Each stage's base as `builder` names it (`Err(image)` for an image), for `build`'s Dockerfile.
fn bases(builder: Builder, build: &Build) -> Vec<Result<usize, String>> {
    let Some(text) = build.context.dockerfile_text() else {
        return Vec::new();
    };
    let parsed = dockerfile::parse(&text);
    stage_bases(&parsed.dockerfile, &build.options, builder)
}
