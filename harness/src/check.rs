//! Checking: each observed step against the model's prediction. Unsure observations are data
//! (`Indeterminate`), never discrepancies.

use models::{Outcome, Prediction};
use serde::Serialize;

use crate::observe::{Observation, Observed};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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

#[derive(Clone, Debug, Serialize)]
pub struct StepVerdict {
    pub step: usize,
    pub instruction: String,
    pub predicted: Outcome,
    pub observed: Option<Observed>,
    pub verdict: Verdict,
}

impl StepVerdict {
    /// `cached`, `rebuilt`, `failed`, `-` for display and divergence records.
    pub fn observed_short(&self) -> &'static str {
        self.observed.as_ref().map(Observed::short).unwrap_or("-")
    }
}

pub fn check(prediction: &Prediction, observation: &Observation) -> Vec<StepVerdict> {
    if let Some(why) = &prediction.rejected {
        let verdict = if observation.indeterminate.is_some() {
            Verdict::Indeterminate {
                why: observation.indeterminate.clone().unwrap_or_default(),
            }
        } else if observation.error.is_some() {
            Verdict::Agree
        } else {
            Verdict::Discrepancy
        };
        return vec![StepVerdict {
            step: 0,
            instruction: "(whole build)".to_string(),
            predicted: Outcome::Fails { why: why.clone() },
            observed: observation
                .error
                .clone()
                .map(|message| Observed::Failed { message }),
            verdict,
        }];
    }
    prediction
        .steps
        .iter()
        .map(|p| {
            let observed = observation.steps.get(&p.step).cloned();
            let verdict = match (&p.outcome, &observed) {
                (
                    Outcome::NotAStep { .. }
                    | Outcome::Skipped { .. }
                    | Outcome::Unsupported { .. },
                    _,
                ) => Verdict::Unchecked,
                (_, Some(Observed::Indeterminate { why })) => {
                    Verdict::Indeterminate { why: why.clone() }
                }
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
            };
            StepVerdict {
                step: p.step,
                instruction: p.instruction.clone(),
                predicted: p.outcome.clone(),
                observed,
                verdict,
            }
        })
        .collect()
}
