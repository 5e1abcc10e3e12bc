//! Watched mutants in a scenario's run (`--mutant`, `cachet mutants`): each mutant's own model of
//! every host's cache, checked against the same observations as the reference, and where it is
//! killed.

use models::scenario::ScenarioModel;
use models::Build;

use crate::check::{check, StepVerdict, Verdict};
use crate::engine::inventory::Engine;
use crate::engine::observe::Observation;

/// A watched mutant in a scenario's run: its rule and its own model of every host's cache.
pub(crate) struct Shadow<'r> {
    rule: &'r str,
    model: ScenarioModel,
}

impl<'r> Shadow<'r> {
    pub(crate) fn new(rule: &'r String) -> Shadow<'r> {
        Shadow {
            rule,
            model: ScenarioModel::default(),
        }
    }
}

/// The kills of each shadow on `build` as `(rule, step)`: its mutant of the host engine's
/// profile (every host's, as the model-only reach switches every host; a profile whose table
/// lacks the rule stays the reference) predicts the build, and is checked as the reference is
/// (`reference`, its verdicts) against the same observation, after the same evictions.
pub(crate) fn shadow_kills(
    shadows: &mut [Shadow<'_>],
    (host, engine): (&str, &Engine),
    build: &Build,
    (observation, evicted): (&Observation, usize),
    reference: &[StepVerdict],
) -> Vec<(String, usize)> {
    let mut kills = Vec::new();
    for shadow in shadows {
        let profile = engine
            .profile
            .with_switch(shadow.rule, models::Switch::Off)
            .unwrap_or_else(|_| engine.profile.clone());
        let predicted = shadow.model.step(host, &profile, build);
        let verdicts = crate::check::after_eviction(check(&predicted, observation), evicted);
        for step in kill_steps(reference, &verdicts) {
            kills.push((shadow.rule.to_string(), step));
        }
    }
    kills
}

/// The steps where a mutant is killed: its verdict is a discrepancy and the reference's agrees
/// (a step where the reference disagrees too is a finding, not a kill). A step only one of them
/// has (the whole build, step 0, where one predicts a refusal) counts when every verdict the
/// reference gave the build agrees or makes no claim.
pub fn kill_steps(reference: &[StepVerdict], mutant: &[StepVerdict]) -> Vec<usize> {
    let clean = reference
        .iter()
        .all(|v| matches!(v.verdict, Verdict::Agree | Verdict::Unchecked));
    mutant
        .iter()
        .filter(|m| m.verdict == Verdict::Discrepancy)
        .filter(|m| match reference.iter().find(|r| r.step == m.step) {
            Some(r) => r.verdict == Verdict::Agree,
            None => clean,
        })
        .map(|m| m.step)
        .collect()
}
