//! Unit tests of `execute`.

use super::substitute_base;
use crate::check::{StepVerdict, Verdict};
use crate::run::shadows::kill_steps;

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
