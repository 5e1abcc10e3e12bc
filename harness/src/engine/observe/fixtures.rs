//! Test fixtures the parsers' tests share: a two-stage Dockerfile, its step map, and a check of
//! per-step outcomes against a one-line summary.

use std::collections::BTreeMap;

use models::{BuildOptions, Builder};

use super::step_map::{step_map, StepInfo};
use super::types::Observed;

pub(super) const DOCKERFILE: &str = "FROM base AS first\nCOPY a /a\nENV X=1\nRUN true\nFROM base\nCOPY --from=first /a /b\nRUN echo\n";

fn render(steps: &BTreeMap<usize, Observed>) -> String {
    steps
        .iter()
        .map(|(s, o)| format!("{s} {}", o.short()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn check(got: BTreeMap<usize, Observed>, expect: &str) {
    assert_eq!(render(&got), expect);
}

/// The steps of a build with no build args (the builder only changes FROM's expansion).
pub(super) fn steps_of(dockerfile: &str) -> Vec<StepInfo> {
    step_map(
        dockerfile,
        &BuildOptions::default(),
        &models::Profile::new(Builder::BuildKit, models::Transport::Api),
    )
}
