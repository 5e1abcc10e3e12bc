//! Generator reach, engine-free: for every exercised rule of a profile, the first generated
//! scenario whose predictions under the rule's mutant differ from the reference's. That is the
//! most a real `cachet run --mutant` of the same seed could catch.

use models::scenario::{predict_scenario, Scenario};
use models::{Prediction, Profile, Switch};

/// One mutant's reach: the profile and rule, and the first scenario (0-based index into the
/// seed's scenarios) that tells it from the reference, if any does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    pub profile: String,
    pub rule: String,
    pub first: Option<usize>,
}

/// What a real run sees of one build: whether it is refused as a whole, and each step's outcome
/// kind.
pub type Observable = (bool, Vec<&'static str>);

/// What a real run sees of each build's prediction.
pub fn observable(predictions: &[Prediction]) -> Vec<Observable> {
    predictions
        .iter()
        .map(|p| {
            let steps = p.steps.iter().map(|s| s.outcome.short()).collect();
            (p.rejected.is_some(), steps)
        })
        .collect()
}

/// The observable predictions of every scenario under `profile` (none where one does not apply).
fn predict_all(profile: &Profile, scenarios: &[Scenario]) -> Vec<Option<Vec<Observable>>> {
    scenarios
        .iter()
        .map(|s| predict_scenario(profile, s).ok().map(|p| observable(&p)))
        .collect()
}

/// The reach of every exercised rule's mutant of `profile` over `scenarios`, in table order.
pub fn reach(profile: &Profile, scenarios: &[Scenario]) -> Vec<Reach> {
    let reference = predict_all(profile, scenarios);
    profile
        .rules()
        .into_iter()
        .filter(|r| r.is_exercised())
        .map(|rule| {
            let mutant = profile
                .with_switch(rule.id, Switch::Off)
                .expect("a rule of the profile's own table");
            let first = scenarios.iter().zip(&reference).position(|(s, expected)| {
                let predicted = predict_scenario(&mutant, s).ok().map(|p| observable(&p));
                predicted != *expected
            });
            Reach {
                profile: profile.name(),
                rule: rule.id.to_string(),
                first,
            }
        })
        .collect()
}

/// The reach of every profile's mutants over `scenarios`.
pub fn reach_all(profiles: &[Profile], scenarios: &[Scenario]) -> Vec<Reach> {
    profiles.iter().flat_map(|p| reach(p, scenarios)).collect()
}

/// The mutants no scenario distinguished, as `rule on profile`.
pub fn survivors(reaches: &[Reach]) -> Vec<String> {
    reaches
        .iter()
        .filter(|r| r.first.is_none())
        .map(|r| format!("{} on {}", r.rule, r.profile))
        .collect()
}

/// The table (profile, rule, first distinguishing scenario or `—`) and the final line.
pub fn render(reaches: &[Reach], scenarios: usize) -> String {
    let width = |f: fn(&Reach) -> usize| reaches.iter().map(f).max().unwrap_or(0);
    let (pw, rw) = (
        width(|r| r.profile.len()).max(7),
        width(|r| r.rule.len()).max(4),
    );
    let mut out = format!("{:<pw$}  {:<rw$}  first\n", "profile", "rule");
    for r in reaches {
        let first = r.first.map_or("—".to_string(), |n| n.to_string());
        out.push_str(&format!("{:<pw$}  {:<rw$}  {first}\n", r.profile, r.rule));
    }
    let distinguished = reaches.iter().filter(|r| r.first.is_some()).count();
    out.push_str(&format!(
        "distinguished {distinguished}/{} mutants within {scenarios} scenarios\n",
        reaches.len()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reaches: &[Reach], expect: &str) {
        assert_eq!(render(reaches, 50), expect);
    }

    #[test]
    fn renders_a_table_and_the_count() {
        let r = |rule: &str, first| Reach {
            profile: "classic".into(),
            rule: rule.into(),
            first,
        };
        check(
            &[
                r("copy.mtime-ignored", Some(3)),
                r("classic.copy-key", None),
            ],
            "profile  rule                first\n\
             classic  copy.mtime-ignored  3\n\
             classic  classic.copy-key    —\n\
             distinguished 1/2 mutants within 50 scenarios\n",
        );
    }

    #[test]
    fn a_scenario_the_mutant_answers_differently_distinguishes_it() {
        let profile = Profile::from_name("buildkit").unwrap();
        let scenarios = crate::generate::generate_scenarios(1, 30);
        let reaches = reach(&profile, &scenarios);
        assert!(!reaches.is_empty());
        for r in reaches.iter().filter(|r| r.first.is_some()) {
            let n = r.first.unwrap();
            let mutant = profile.with_switch(&r.rule, Switch::Off).unwrap();
            let a = observable(&predict_scenario(&profile, &scenarios[n]).unwrap());
            let b = observable(&predict_scenario(&mutant, &scenarios[n]).unwrap());
            assert_ne!(a, b, "{}", r.rule);
        }
    }
}
