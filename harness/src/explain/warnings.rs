//! Warnings from the known-divergence catalogue (`corpus::known`): the steps an engine serves
//! from cache although the model says they rebuild (a stale hit), and the cached steps it is
//! known to answer otherwise (`stale` files kept, `rebuilt` where the model hits).

use std::collections::BTreeMap;

use models::{predict, EngineState, Outcome, Prediction, ReasonKind};

use super::answer::{Input, Target, Warning};
use super::changes::Change;
use super::steps::probed;
use crate::corpus::known::Known;

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
pub(super) fn stale_hits(
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
pub(super) fn stale_files(
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
