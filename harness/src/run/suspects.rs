//! Suspects: which rules a finding implicates. A rule is a suspect when the model with that rule
//! switched off (its mutant) predicts what the engine did at every step the run checked, the
//! disagreements included: the engine behaves as if it did not follow the rule. Pure: the model
//! alone, on the shrunk scenario. A mutant model engine's finding names its own rule this way.

use std::collections::BTreeMap;

use models::scenario::{apply_host_settings, contexts_per_build, HostSettings, Scenario};
use models::{Build, Prediction, Profile, Switch};

use crate::check::Verdict;
use crate::run::execute::History;

/// The rules of `profile` (not already switched) whose mutant agrees with every checked step of
/// `history`, in the rule table's order; none when `history` shows no discrepancy. `settings`
/// gives each scenario host's presentation of the context, as the run applied it.
pub fn suspects(
    profile: &Profile,
    scenario: &Scenario,
    settings: &BTreeMap<String, HostSettings>,
    history: &History,
) -> Vec<String> {
    if history.discrepancy_count() == 0 {
        return Vec::new();
    }
    profile
        .rules()
        .iter()
        .filter(|rule| !profile.switches.contains_key(&rule.id))
        .filter_map(|rule| {
            let mutant = profile.with_switch(rule.id, Switch::Off).ok()?;
            let predictions = predict(&mutant, scenario, settings)?;
            explains(&predictions, history).then(|| rule.id.to_string())
        })
        .collect()
}

/// The model's predictions for every build of `scenario` under `profile`, each host's context as
/// that host presents it.
fn predict(
    profile: &Profile,
    scenario: &Scenario,
    settings: &BTreeMap<String, HostSettings>,
) -> Option<Vec<Prediction>> {
    let contexts = contexts_per_build(scenario).ok()?;
    let mut model = models::scenario::ScenarioModel::default();
    let none = HostSettings::default();
    Some(
        scenario
            .transitions
            .iter()
            .zip(contexts)
            .map(|(transition, context)| {
                let host = transition.build.host_name();
                let build = Build {
                    context: apply_host_settings(&context, settings.get(host).unwrap_or(&none)),
                    options: transition.build.options.clone(),
                };
                model.step(host, profile, &build)
            })
            .collect(),
    )
}

/// Whether `predictions` say what the engine was observed doing at every checked step.
fn explains(predictions: &[Prediction], history: &History) -> bool {
    history.builds.iter().all(|build| {
        let Some(prediction) = predictions.get(build.transition.wrapping_sub(1)) else {
            return false;
        };
        build
            .verdicts
            .iter()
            .filter(|v| matches!(v.verdict, Verdict::Agree | Verdict::Discrepancy))
            .all(|v| {
                if v.step == 0 {
                    // The whole build: refused by the Dockerfile's parse, or not.
                    return prediction.rejected.is_some() == (v.observed_short() == "failed");
                }
                let Some(predicted) = prediction.step(v.step) else {
                    return false;
                };
                matches!(
                    (predicted.outcome.short(), v.observed_short()),
                    ("cached", "cached") | ("rebuilt", "rebuilt") | ("fails", "failed")
                )
            })
    })
}
