//! Unit tests of `execute`. `history` stays one long table: every outcome and reason the
//! model has, as data.

use super::substitute_base;
use crate::check::{StepVerdict, Verdict};
use crate::engine::observe::Observed;
use crate::run::shadows::kill_steps;
use models::predict::{Field, ReasonKind as M, StepPrediction as MStep};

fn verdicts(list: &[(usize, Verdict)]) -> Vec<StepVerdict> {
    list.iter()
        .map(|(step, verdict)| StepVerdict {
            step: *step,
            instruction: "RUN x".into(),
            predicted: models::Outcome::Skipped { why: String::new() },
            observed: None,
            verdict: verdict.clone(),
        })
        .collect()
}

#[test]
fn a_kill_is_where_the_reference_agrees_and_the_mutant_does_not() {
    use Verdict::{Agree, Discrepancy, Unchecked};
    let reference = verdicts(&[(1, Agree), (2, Discrepancy), (3, Agree), (4, Unchecked)]);
    let mutant = verdicts(&[
        (1, Discrepancy),
        (2, Discrepancy),
        (3, Agree),
        (4, Discrepancy),
    ]);
    assert_eq!(kill_steps(&reference, &mutant), [1], "step 2 is a finding");
    // The mutant refuses the whole build the engine built as the reference said.
    let whole = verdicts(&[(0, Discrepancy)]);
    assert_eq!(
        kill_steps(&verdicts(&[(1, Agree), (2, Unchecked)]), &whole),
        [0]
    );
    assert!(
        kill_steps(&reference, &whole).is_empty(),
        "not over a finding"
    );
}

#[test]
fn only_from_base_is_rewritten() {
    assert_eq!(
        substitute_base(
            "FROM base AS x\nfrom base\nFROM basement\nRUN echo base\n",
            "localhost/b:1"
        ),
        "FROM localhost/b:1 AS x\nfrom localhost/b:1\nFROM basement\nRUN echo base\n"
    );
}

fn reason(kind: M) -> models::Outcome {
    models::Outcome::Rebuilt {
        reason: models::Reason {
            rule: "copy.checksum".parse().unwrap(),
            kind,
        },
    }
}

/// Every outcome and reason the model has, as the run holds them in memory.
fn history() -> super::History {
    let outcomes = vec![
        models::Outcome::Cached {
            rule: "from.unaffected".parse().unwrap(),
            from: Some("127.0.0.1:5000/x:1".into()),
        },
        models::Outcome::NotAStep {
            rule: "bk.metadata-free".parse().unwrap(),
        },
        models::Outcome::Skipped {
            why: "stage".into(),
        },
        models::Outcome::Fails { why: "no a".into() },
        models::Outcome::Unsupported {
            why: "ADD URL".into(),
        },
        reason(M::NotInCache),
        reason(M::ParentRebuilt { step: 2 }),
        reason(M::InstructionText {
            cached: "RUN a".into(),
            now: "RUN b".into(),
        }),
        reason(M::SourceChanged {
            path: "a".into(),
            field: Field::Owner {
                from: (0, 0),
                to: (1, 1),
            },
        }),
        reason(M::BuildArg { name: "V".into() }),
        reason(M::Environment { name: "E".into() }),
        reason(M::ContextChanged),
        reason(M::NoCache),
        reason(M::LayersOff),
        reason(M::NoLayer),
    ];
    let steps: Vec<MStep> = outcomes
        .iter()
        .enumerate()
        .map(|(i, outcome)| MStep {
            step: i + 1,
            stage: 0,
            stage_name: Some("base".into()),
            instruction: format!("RUN {i}"),
            outcome: outcome.clone(),
        })
        .collect();
    let verdicts = outcomes
        .iter()
        .enumerate()
        .map(|(i, predicted)| crate::check::StepVerdict {
            step: i + 1,
            instruction: format!("RUN {i}"),
            predicted: predicted.clone(),
            observed: (i % 2 == 0).then_some(Observed::Cached),
            verdict: crate::check::Verdict::Indeterminate { why: "x".into() },
        })
        .collect();
    let mut observation = crate::engine::observe::Observation {
        error: Some("failed".into()),
        image_id: Some("sha256:ab".into()),
        log: "raw engine output".into(),
        ..Default::default()
    };
    observation.steps.insert(1, Observed::Rebuilt);
    super::History {
        engine: "buildkit@a".into(),
        salt: "0123456789abcdef".into(),
        builds: vec![super::BuildRecord {
            transition: 1,
            host: "a".into(),
            engine: "buildkit@a".into(),
            options: models::BuildOptions::default(),
            prediction: models::Prediction {
                profile: "buildkit".into(),
                rejected: Some("parse error".into()),
                steps,
            },
            observation,
            verdicts,
            stale: vec!["a: content differs from a fresh build".into()],
            kills: Vec::new(),
            duration: std::time::Duration::from_secs(1),
        }],
    }
}

#[test]
fn the_report_history_serialises_as_the_run_history_does() {
    let run = history();
    let report = crate::report::schema::History::from(&run);
    let (a, b) = (serde_json::to_string(&run), serde_json::to_string(&report));
    assert_eq!(a.unwrap(), b.unwrap());
    let back: crate::report::schema::History =
        serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
    assert_eq!(back, report);
}
