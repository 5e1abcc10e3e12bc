//! What a real run sees of the model's predictions (`Observable`), and whether it could tell a
//! mutant's predictions from the reference's (`distinguishes`, `build_differs`).

use models::Prediction;

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

/// Whether a real run could tell a mutant's predictions from the reference's: a build one
/// refuses and the other does not, or a step both make a claim on (cached, rebuilt, fails) and
/// answer differently. A step either leaves unknown (or calls no step, or skipped) is no kill:
/// the checker does not look at it (`check::Verdict::Unchecked`).
pub fn distinguishes(reference: Option<&[Observable]>, mutant: Option<&[Observable]>) -> bool {
    let (Some(reference), Some(mutant)) = (reference, mutant) else {
        return reference.is_some() != mutant.is_some();
    };
    reference.len() != mutant.len()
        || reference
            .iter()
            .zip(mutant)
            .any(|(r, m)| build_differs(r, m))
}

/// Whether a real run could tell one build's predictions apart (`distinguishes`).
pub fn build_differs((r_refused, r): &Observable, (m_refused, m): &Observable) -> bool {
    let claims = |outcome: &str| matches!(outcome, "cached" | "rebuilt" | "fails");
    if r_refused != m_refused {
        // The checker takes any failed build for a refused one: a refusal against a build that
        // fails at a step is no difference a real run can see (classic.dispatch-refusal).
        let other = if *r_refused { m } else { r };
        return !other.contains(&"fails");
    }
    r.len() != m.len()
        || r.iter()
            .zip(m)
            .any(|(r, m)| claims(r) && claims(m) && r != m)
}
