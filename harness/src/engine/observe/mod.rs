//! Observation: an engine's build output turned into per-step outcomes mapped to Dockerfile steps.
//!
//! Each engine says "cached" its own way (shared/ENGINES.md): the classic builder's
//! `Step i/N` / ` ---> Using cache`, Podman's `STEP i/N:` / `--> Using cache`, BuildKit's
//! `[stage i/n] NAME` vertices with `CACHED` (plain progress) or a `cached` flag (API trace).
//! These parsers are pure functions of the text (or vertices) and the Dockerfile.
//!
//! This file holds the outcome types, the raw build a door collects and `interpret`, which turns
//! one into the other; the parts are `step_map` (where each step sits in each engine's
//! numbering), `stream` (the shape the classic and Podman streams share), `classic`, `podman`,
//! `buildkit` (plain progress and the API trace's vertices) and `cli_output` (the docker CLI's
//! failure message and version lines).

mod buildkit;
mod classic;
mod cli_output;
mod podman;
mod step_map;
mod stream;

use std::collections::BTreeMap;

use crate::error::Fault;
use models::{BuildOptions, Builder};
use serde::{Deserialize, Serialize};

pub use buildkit::{map_vertices, parse_buildkit_plain, VertexMerge, VertexReport, VertexUpdate};
pub use classic::parse_classic;
pub use cli_output::{buildx_version_word, cli_failure_message, cli_version_word};
pub use podman::parse_podman;
pub use step_map::{step_map, StepInfo};
pub use stream::printed_image_ids;

use buildkit::{cancelled_steps_indeterminate, unrun_cached_steps_indeterminate};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "observed", rename_all = "snake_case")]
pub enum Observed {
    Cached,
    Rebuilt,
    Failed {
        message: String,
    },
    /// The harness cannot tell (the engine died, the step never completed, ...): not a verdict.
    Indeterminate {
        why: String,
    },
}

impl Observed {
    pub fn short(&self) -> &'static str {
        match self {
            Observed::Cached => "cached",
            Observed::Rebuilt => "rebuilt",
            Observed::Failed { .. } => "failed",
            Observed::Indeterminate { .. } => "indeterminate",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Deserialize)]
pub struct Observation {
    /// Outcome by 1-based Dockerfile step; steps the engine did not report are absent.
    pub steps: BTreeMap<usize, Observed>,
    /// The build's error, if it failed.
    pub error: Option<String>,
    /// Set when the whole build's outcome is unknown (engine died, timed out, transport error).
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    /// Images the build left behind besides its tag (Podman's intermediate images), to remove.
    pub intermediate_images: Vec<String>,
    /// The engine's raw output, for reports.
    #[serde(skip)]
    pub log: String,
}

/// What a door collected from one build, before any interpretation: the engine's text as it came
/// (classic JSON stream lines, Podman STEP lines, CLI `--progress=plain` text), the error and
/// image id it reported, and for BuildKit through the API its trace's vertices.
#[derive(Clone, Debug, Default)]
pub struct RawBuild {
    pub log: String,
    pub error: Option<String>,
    /// The door could not tell how the build went (timed out, the stream broke).
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    /// BuildKit's trace through the API, merged by digest (`VertexMerge`). `None`: the door
    /// reported text only.
    pub vertices: Option<Vec<VertexReport>>,
}

/// Why a failed build says nothing about cache rules, if its error (or, where a CLI reports only
/// its exit status, its log) shows the engine's surroundings failed it: Podman 4.3 sometimes
/// fails its cache scan while images are removed elsewhere in the store ("layer not known"); a
/// full data-root fails any step that writes ("no space left on device").
pub fn environment_fault(builder: Builder, error: &str, log: &str) -> Option<&'static str> {
    if builder == Builder::Buildah && error.contains("layer not known") {
        return Some("podman store race");
    }
    (Fault::of_message(error).is_some() || Fault::of_message(log).is_some())
        .then_some("the engine ran out of disk")
}

/// Turns what a door collected into per-step outcomes. Engine trouble becomes an indeterminate
/// observation, never a verdict.
pub fn interpret(
    builder: Builder,
    raw: RawBuild,
    dockerfile: &str,
    options: &BuildOptions,
) -> Observation {
    let map = step_map(dockerfile, options, builder);
    let mut observation = Observation {
        log: raw.log,
        error: raw.error,
        indeterminate: raw.indeterminate,
        image_id: raw.image_id,
        ..Observation::default()
    };
    if let Some(vertices) = &raw.vertices {
        for v in vertices.iter().filter(|v| v.cached) {
            observation.log.push_str(&format!("CACHED {}\n", v.name));
        }
    }
    // A failure the engine's surroundings caused says nothing about cache rules: the build's
    // outcome is unknown, and no step of it counts as failed.
    if let Some(why) = observation
        .error
        .as_deref()
        .and_then(|e| environment_fault(builder, e, &observation.log))
    {
        observation.indeterminate = observation.error.take().map(|e| format!("{why}: {e}"));
    } else if let Some(why) = observation.indeterminate.as_mut() {
        // A door that lost the stream says what broke it: a full disk is named as such too.
        if Fault::of_message(why).is_some() {
            *why = format!("the engine ran out of disk: {why}");
        }
    }
    let error = observation.error.clone();
    if let Some(e) = &error {
        observation
            .log
            .push_str(&format!("\n[cachet] build error: {e}\n"));
    }
    if let Some(why) = &observation.indeterminate {
        observation
            .log
            .push_str(&format!("\n[cachet] indeterminate: {why}\n"));
    }
    if builder != Builder::BuildKit {
        observation.intermediate_images = printed_image_ids(&observation.log);
    }
    observation.steps = match (builder, &raw.vertices) {
        (Builder::Classic, _) => parse_classic(&observation.log, &map, error.as_deref()),
        (Builder::Buildah, _) => parse_podman(&observation.log, &map, error.as_deref()),
        (Builder::BuildKit, None) => map_vertices(&parse_buildkit_plain(&observation.log), &map),
        (Builder::BuildKit, Some(vertices)) => map_vertices(vertices, &map),
    };
    if builder == Builder::BuildKit && observation.error.is_some() {
        cancelled_steps_indeterminate(&mut observation.steps);
        if observation
            .error
            .as_deref()
            .is_some_and(|e| e.contains("failed to compute cache key"))
        {
            unrun_cached_steps_indeterminate(&mut observation.steps);
        }
    }
    if let Some(why) = &observation.indeterminate {
        // A step that failed in a build whose outcome is unknown failed for that reason.
        for outcome in observation.steps.values_mut() {
            if let Observed::Failed { message } = outcome {
                *outcome = Observed::Indeterminate {
                    why: format!("{why} (the step said: {message})"),
                };
            }
        }
    }
    observation
}

#[cfg(test)]
mod tests {
    use super::*;

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
        step_map(dockerfile, &BuildOptions::default(), Builder::BuildKit)
    }

    #[test]
    fn a_build_that_failed_computing_a_cache_key_trusts_no_cached_step() {
        // Seen on Engine 20.10.24 through buildx: the first build of a scenario, --no-cache.
        let dockerfile = "FROM base\nCOPY . /app\nADD l /l\n";
        let log = "#4 [1/3] FROM base\n#4 DONE 0.0s\n#6 [2/3] COPY . /app\n#6 CACHED\n#7 [3/3] ADD l /l\n#7 ERROR: \"/gone\" not found: not found\n";
        let raw = RawBuild {
            log: log.into(),
            error: Some(
                "failed to solve: failed to compute cache key: \"/gone\" not found: not found"
                    .into(),
            ),
            ..RawBuild::default()
        };
        let observation = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(
            observation.steps,
            "1 indeterminate, 2 indeterminate, 3 failed",
        );
    }

    #[test]
    fn interpret_keeps_what_a_failed_buildkit_build_reported_of_other_steps() {
        let dockerfile = "FROM base\nCOPY a /a\nRUN false\n";
        let raw = RawBuild {
            error: Some("exit code 1".into()),
            vertices: Some(vec![
                VertexReport {
                    name: "[2/3] COPY a /a".into(),
                    cached: true,
                    completed: true,
                    ..VertexReport::default()
                },
                VertexReport {
                    name: "[3/3] RUN false".into(),
                    error: Some("exit code 1".into()),
                    ..VertexReport::default()
                },
            ]),
            ..RawBuild::default()
        };
        let observation = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(observation.steps.clone(), "2 cached, 3 failed");
        // A step BuildKit cancelled because another failed is no failure of its own.
        let raw = RawBuild {
            error: Some("exit code 1".into()),
            vertices: Some(vec![
                VertexReport {
                    name: "[2/3] COPY a /a".into(),
                    error: Some("context canceled".into()),
                    ..VertexReport::default()
                },
                VertexReport {
                    name: "[3/3] RUN false".into(),
                    error: Some("exit code 1".into()),
                    ..VertexReport::default()
                },
            ]),
            ..RawBuild::default()
        };
        let cancelled = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(cancelled.steps, "2 indeterminate, 3 failed");
        assert!(observation.log.contains("CACHED [2/3] COPY a /a\n"));
        assert!(observation
            .log
            .contains("[cachet] build error: exit code 1"));
    }

    #[test]
    fn interpret_calls_a_podman_store_race_indeterminate() {
        let raw = RawBuild {
            log: "STEP 1/2: FROM base\nSTEP 2/2: RUN true\n".into(),
            error: Some("layer not known".into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Buildah,
            raw,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.error, None);
        assert_eq!(
            observation.indeterminate.as_deref(),
            Some("podman store race: layer not known")
        );
        check(observation.steps, "1 cached, 2 rebuilt");
    }

    #[test]
    fn interpret_calls_a_full_disk_indeterminate_on_every_builder() {
        let enospc = "write /var/lib/docker/tmp/x: no space left on device";
        let classic = RawBuild {
            log: "Step 1/2 : FROM base\nStep 2/2 : RUN true\n".into(),
            error: Some(enospc.into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Classic,
            classic,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.error, None);
        assert_eq!(
            observation.indeterminate.as_deref(),
            Some(format!("the engine ran out of disk: {enospc}").as_str())
        );
        // BuildKit's failing vertex carries the error itself: it is no failed step either.
        let buildkit = RawBuild {
            error: Some("failed to solve: exit code 1".into()),
            vertices: Some(vec![VertexReport {
                name: "[2/2] RUN true".into(),
                started: true,
                completed: true,
                error: Some(enospc.into()),
                ..VertexReport::default()
            }]),
            log: format!("#5 ERROR: {enospc}\n"),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::BuildKit,
            buildkit,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        check(observation.steps, "2 indeterminate");
        assert!(observation.indeterminate.is_some());
        // A build that failed for its own reasons stays a failure.
        let own = RawBuild {
            log: "Step 1/2 : FROM base\nStep 2/2 : RUN false\n".into(),
            error: Some("returned a non-zero code: 1".into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Classic,
            own,
            "FROM base\nRUN false\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.indeterminate, None);
    }
}
