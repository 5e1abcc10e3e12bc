//! Checking: each observed step against the model's prediction. Unsure observations are data
//! (`Indeterminate`), never discrepancies.

use models::{Outcome, Prediction};
use serde::{Deserialize, Serialize};

use crate::engine::observe::{Observation, Observed};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Agree,
    Discrepancy,
    Indeterminate {
        why: String,
    },
    /// The model makes no claim here (not a cacheable step, skipped stage, unsupported).
    Unchecked,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, Deserialize)]
pub struct StepVerdict {
    pub step: usize,
    pub instruction: String,
    pub predicted: Outcome,
    pub observed: Option<Observed>,
    pub verdict: Verdict,
}

/// How many of the verdicts are `Indeterminate`: what a history's and a report's counts say.
pub fn indeterminate_count<'a>(verdicts: impl IntoIterator<Item = &'a StepVerdict>) -> usize {
    verdicts
        .into_iter()
        .filter(|v| matches!(v.verdict, Verdict::Indeterminate { .. }))
        .count()
}

impl StepVerdict {
    /// `cached`, `rebuilt`, `failed`, `-` for display and divergence records.
    pub fn observed_short(&self) -> &'static str {
        self.observed.as_ref().map(Observed::short).unwrap_or("-")
    }
}

pub fn check(prediction: &Prediction, observation: &Observation) -> Vec<StepVerdict> {
    if let Some(why) = &prediction.rejected {
        return vec![rejected_verdict(why, observation)];
    }
    // A build that failed although the model predicts every step to run, and without any step
    // reported as the failing one (the engine refused the request, say): the first step the
    // model expects to run is where engine and model part.
    let unexplained_failure = observation.indeterminate.is_none()
        && observation.error.is_some()
        && !observation
            .steps
            .values()
            .any(|o| matches!(o, Observed::Failed { .. }))
        && !prediction
            .steps
            .iter()
            .any(|p| matches!(p.outcome, Outcome::Fails { .. }));
    let mut failure_placed = false;
    prediction
        .steps
        .iter()
        .map(|p| {
            let mut observed = observation.steps.get(&p.step).cloned();
            let runs = matches!(p.outcome, Outcome::Cached { .. } | Outcome::Rebuilt { .. });
            if unexplained_failure && !failure_placed && runs && observed.is_none() {
                failure_placed = true;
                observed = Some(Observed::Failed {
                    message: observation.error.clone().unwrap_or_default(),
                });
            }
            StepVerdict {
                step: p.step,
                instruction: p.instruction.clone(),
                predicted: p.outcome.clone(),
                verdict: step_verdict(&p.outcome, observed.as_ref(), observation),
                observed,
            }
        })
        .collect()
}

/// The one verdict on a build the model says the frontend refuses (`why`): it agrees when the
/// build failed.
fn rejected_verdict(why: &str, observation: &Observation) -> StepVerdict {
    let verdict = if observation.indeterminate.is_some() {
        Verdict::Indeterminate {
            why: observation.indeterminate.clone().unwrap_or_default(),
        }
    } else if observation.error.is_some() {
        Verdict::Agree
    } else {
        Verdict::Discrepancy
    };
    StepVerdict {
        step: 0,
        instruction: "(whole build)".to_string(),
        predicted: Outcome::Fails {
            why: why.to_string(),
        },
        observed: observation
            .error
            .clone()
            .map(|message| Observed::Failed { message }),
        verdict,
    }
}

/// The verdict on one step the model predicts `predicted` and the engine reported as `observed`
/// (`None`: not reported) in a build whose whole `observation` this is.
fn step_verdict(
    predicted: &Outcome,
    observed: Option<&Observed>,
    observation: &Observation,
) -> Verdict {
    match (predicted, observed) {
        (Outcome::NotAStep { .. } | Outcome::Skipped { .. } | Outcome::Unsupported { .. }, _) => {
            Verdict::Unchecked
        }
        (_, Some(Observed::Indeterminate { why })) => Verdict::Indeterminate { why: why.clone() },
        (_, None) if observation.indeterminate.is_some() => Verdict::Indeterminate {
            why: observation.indeterminate.clone().unwrap_or_default(),
        },
        (Outcome::Cached { .. }, Some(Observed::Cached)) => Verdict::Agree,
        (Outcome::Rebuilt { .. }, Some(Observed::Rebuilt)) => Verdict::Agree,
        (Outcome::Fails { .. }, Some(Observed::Failed { .. })) => Verdict::Agree,
        // The build stopped at an earlier failure: a predicted failure is the same story.
        (Outcome::Fails { .. }, None) if observation.error.is_some() => Verdict::Agree,
        (_, None) if observation.error.is_some() => Verdict::Indeterminate {
            why: "not reached: the build failed earlier".to_string(),
        },
        (_, None) => Verdict::Indeterminate {
            why: "the engine did not report this step".to_string(),
        },
        _ => Verdict::Discrepancy,
    }
}

/// The verdicts of a build after which the engine had lost `evicted` build-cache records the
/// scenario's earlier builds made (its garbage collection ran): a step the model expects cached
/// that the engine rebuilt is no verdict then, since the record it would have hit may be gone.
pub fn after_eviction(verdicts: Vec<StepVerdict>, evicted: usize) -> Vec<StepVerdict> {
    if evicted == 0 {
        return verdicts;
    }
    let why = format!(
        "the engine evicted {evicted} build-cache record(s) of this scenario (its build-cache \
         garbage collection, on by default since Engine 28.2: moby#49899): a miss proves nothing"
    );
    verdicts
        .into_iter()
        .map(|mut v| {
            if v.verdict == Verdict::Discrepancy
                && matches!(v.predicted, Outcome::Cached { .. })
                && v.observed == Some(Observed::Rebuilt)
            {
                v.verdict = Verdict::Indeterminate { why: why.clone() };
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::scenario::predict_scenario;
    use models::{BuildContext, Entry, Profile};

    fn two_builds() -> Vec<Prediction> {
        let mut context = BuildContext::new();
        context.insert("a", Entry::file("x")).unwrap();
        context.set_dockerfile_text("FROM base\nCOPY a /a\n");
        let scenario = models::scenario::Scenario {
            context,
            transitions: vec![Default::default(), Default::default()],
        };
        predict_scenario(&Profile::from_name("buildkit").unwrap(), &scenario).unwrap()
    }

    /// Verdict words per step: `step:verdict:observed`.
    fn check_words(prediction: &Prediction, observation: &Observation, expect: &str) {
        let got: Vec<String> = check(prediction, observation)
            .iter()
            .map(|v| {
                let verdict = match &v.verdict {
                    Verdict::Agree => "agree",
                    Verdict::Discrepancy => "DISCREPANCY",
                    Verdict::Indeterminate { .. } => "indeterminate",
                    Verdict::Unchecked => "unchecked",
                };
                format!("{}:{verdict}:{}", v.step, v.observed_short())
            })
            .collect();
        assert_eq!(got.join(" "), expect);
    }

    #[test]
    fn a_build_that_fails_where_the_model_expects_none_is_a_discrepancy_at_its_first_step() {
        let predictions = two_builds();
        let failed = Observation {
            error: Some("dockerfile parse error line 1: unknown instruction".into()),
            ..Observation::default()
        };
        check_words(
            &predictions[1],
            &failed,
            "1:DISCREPANCY:failed 2:indeterminate:-",
        );
        let unsure = Observation {
            indeterminate: Some("the engine died".into()),
            ..failed.clone()
        };
        check_words(
            &predictions[1],
            &unsure,
            "1:indeterminate:- 2:indeterminate:-",
        );
        let mut reported = failed.clone();
        reported.steps.insert(
            2,
            Observed::Failed {
                message: "boom".into(),
            },
        );
        check_words(
            &predictions[1],
            &reported,
            "1:indeterminate:- 2:DISCREPANCY:failed",
        );
        let mut fine = Observation::default();
        fine.steps.insert(1, Observed::Cached);
        fine.steps.insert(2, Observed::Cached);
        check_words(&predictions[1], &fine, "1:agree:cached 2:agree:cached");
    }

    #[test]
    fn a_miss_after_an_eviction_is_indeterminate_and_nothing_else_changes() {
        let predictions = two_builds();
        let words = |verdicts: &[StepVerdict]| {
            verdicts
                .iter()
                .map(|v| match &v.verdict {
                    Verdict::Agree => "agree",
                    Verdict::Discrepancy => "DISCREPANCY",
                    Verdict::Indeterminate { .. } => "indeterminate",
                    Verdict::Unchecked => "unchecked",
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        // Step 1 is the FROM, step 2 the COPY.
        let mut missed = Observation::default();
        missed.steps.insert(1, Observed::Cached);
        missed.steps.insert(2, Observed::Rebuilt);
        let verdicts = check(&predictions[1], &missed);
        assert_eq!(words(&verdicts), "agree DISCREPANCY");
        assert_eq!(
            words(&after_eviction(verdicts.clone(), 0)),
            "agree DISCREPANCY"
        );
        let evicted = after_eviction(verdicts, 2);
        assert_eq!(words(&evicted), "agree indeterminate");
        let Verdict::Indeterminate { why } = &evicted[1].verdict else {
            unreachable!()
        };
        assert!(
            why.contains("evicted 2") && why.contains("moby#49899"),
            "{why}"
        );
        // A stale hit (predicted rebuilt, served cached) is no eviction's doing: it stays.
        let mut first = Observation::default();
        first.steps.insert(1, Observed::Cached);
        first.steps.insert(2, Observed::Cached);
        let stale = after_eviction(check(&predictions[0], &first), 3);
        assert_eq!(words(&stale), "agree DISCREPANCY");
    }
}
