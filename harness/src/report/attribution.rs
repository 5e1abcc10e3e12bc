//! Attribution: in each build of a result, the first differing step is a root and the later
//! steps that differ the same way are its cascade. Buckets count roots; the matrices leave the
//! cascade out.

use crate::check::StepVerdict;
use crate::report::schema::ScenarioResult;

/// A build's first differing step and the later steps that differ only because of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    pub build: usize,
    pub step: usize,
    pub observed: String,
    /// The catalogue's link when the discrepancy is known.
    pub link: Option<String>,
    /// Later steps of the same build, disagreeing the same way (predicted and observed alike):
    /// they follow from this one.
    pub cascade: Vec<usize>,
}

pub(crate) fn verdict(result: &ScenarioResult, build: usize, step: usize) -> Option<&StepVerdict> {
    result
        .history
        .builds
        .iter()
        .find(|b| b.transition == build)?
        .verdicts
        .iter()
        .find(|v| v.step == step)
}

/// `(predicted, observed)` of a discrepancy: the whole image (step 0 with no verdict: the second
/// oracle's) is `fresh` / `stale`.
pub(crate) fn direction(
    result: &ScenarioResult,
    build: usize,
    step: usize,
    observed: &str,
) -> (String, String) {
    match verdict(result, build, step) {
        Some(v) => (
            v.predicted.short().to_string(),
            v.observed_short().to_string(),
        ),
        None => ("fresh".to_string(), observed.to_string()),
    }
}

/// The confirmed and known discrepancies of a result as roots with their cascades. In each build
/// the first differing step is a root; a later one that disagrees the same way (same predicted,
/// same observed: a step after a stale hit is a stale hit too, a step after a needless rebuild is
/// rebuilt too) is its cascade; one that disagrees otherwise is a root of its own. Step 0 (the
/// whole build, or its image) is always a root.
pub fn attribute(result: &ScenarioResult) -> Vec<Root> {
    let mut all: Vec<(usize, usize, String, Option<String>)> = result
        .confirmed
        .iter()
        .map(|(b, s, o)| (*b, *s, o.clone(), None))
        .chain(
            result
                .known
                .iter()
                .map(|(b, s, o, l)| (*b, *s, o.clone(), Some(l.clone()))),
        )
        .collect();
    all.sort();
    let mut roots: Vec<Root> = Vec::new();
    for (build, step, observed, link) in all {
        let this = direction(result, build, step, &observed);
        let parent = roots.iter_mut().rev().find(|r| {
            r.build == build
                && r.step > 0
                && step > 0
                && direction(result, r.build, r.step, &r.observed) == this
        });
        match parent {
            Some(root) => root.cascade.push(step),
            None => roots.push(Root {
                build,
                step,
                observed,
                link,
                cascade: Vec::new(),
            }),
        }
    }
    roots
}

/// `(build, step)` of every cascade step of a result: what the matrices leave out.
pub fn cascade_steps(result: &ScenarioResult) -> Vec<(usize, usize)> {
    attribute(result)
        .into_iter()
        .flat_map(|r| r.cascade.into_iter().map(move |s| (r.build, s)))
        .collect()
}
