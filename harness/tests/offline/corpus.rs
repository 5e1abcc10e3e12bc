//! The corpus against the model alone (no engine): every case's pinned expectations hold, and
//! every rule each profile exercises is shown by some case (switching it off changes a case's
//! predictions on that profile).

use std::path::Path;

use cachet::corpus::case_file::{load_corpus, LoadedCase};
use models::scenario::predict_scenario;
use models::{Prediction, Profile, Switch};

fn corpus() -> Vec<LoadedCase> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    load_corpus(&dir).expect("the corpus loads")
}

fn outcomes(predictions: &[Prediction]) -> Vec<Vec<&'static str>> {
    predictions
        .iter()
        .map(|p| p.steps.iter().map(|s| s.outcome.short()).collect())
        .collect()
}

#[test]
fn every_exercised_rule_is_shown_by_a_corpus_case_on_every_profile() {
    let cases = corpus();
    let mut gaps = Vec::new();
    for profile in Profile::all() {
        let reference: Vec<_> = cases
            .iter()
            .map(|c| predict_scenario(&profile, &c.scenario).expect("case applies"))
            .collect();
        for rule in profile.rules().into_iter().filter(|r| r.is_exercised()) {
            let mutant = profile.with_switch(rule.id, Switch::Off).unwrap();
            let shown = cases.iter().zip(&reference).any(|(case, expected)| {
                let predicted = predict_scenario(&mutant, &case.scenario).expect("case applies");
                outcomes(&predicted) != outcomes(expected)
            });
            if !shown {
                gaps.push(format!("{} on {}", rule.id, profile.name()));
            }
        }
    }
    assert!(
        gaps.is_empty(),
        "{} rules no corpus case shows:\n{}",
        gaps.len(),
        gaps.join("\n")
    );
}

#[test]
fn every_corpus_case_pins_every_build_and_the_model_meets_the_pins() {
    let mut problems = Vec::new();
    for case in corpus() {
        let suggested = cachet::corpus::case_file::pins_for(&case.scenario).expect("case applies");
        for (n, (build, pin)) in case.file.builds.iter().zip(&suggested).enumerate() {
            let mut wrong = Vec::new();
            // Every profile, and every profile (generation included) a pin of the case names:
            // a pin is checked against the profile and generation it names.
            let mut profiles = Profile::all();
            for p in cachet::corpus::case_file::pinned_profiles(&case.file) {
                if !profiles.contains(&p) {
                    profiles.push(p);
                }
            }
            for profile in profiles {
                let name = profile.name();
                let predicted = predict_scenario(&profile, &case.scenario).expect("case applies");
                let words = cachet::corpus::case_file::outcome_words(&predicted[n]);
                match cachet::corpus::case_file::pin_for_profile(&build.expect, &profile) {
                    Some(pinned) if *pinned == words => {}
                    Some(pinned) => {
                        wrong.push(format!("{name}: pinned `{pinned}`, model `{words}`"))
                    }
                    None => wrong.push(format!("{name}: no pin")),
                }
            }
            if !wrong.is_empty() {
                problems.push(format!(
                    "{} build {}: {}\n  model: {}",
                    case.path.display(),
                    n + 1,
                    wrong.join("; "),
                    cachet::corpus::case_file::pin_line(pin)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} builds whose pins do not hold (run `cachet pins FILE` for the model's):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
