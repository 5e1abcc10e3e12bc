//! Observation: an engine's build output turned into per-step outcomes mapped to Dockerfile steps.
//!
//! Each engine says "cached" its own way: the classic builder's
//! `Step i/N` / ` ---> Using cache`, Podman's `STEP i/N:` / `--> Using cache`, BuildKit's
//! `[stage i/n] NAME` vertices with `CACHED` (plain progress) or a `cached` flag (API trace).
//! These parsers are pure functions of the text (or vertices) and the Dockerfile.
//!
//! This file holds the raw build a door collects and `interpret`, which turns it into the
//! outcome types (`types`); the parts are `step_map` (where each step sits in each engine's
//! numbering), `stream` (the shape the classic and Podman streams share), `classic`, `podman`,
//! `buildkit` (plain progress and the API trace's vertices) and `cli_output` (the docker CLI's
//! failure message and version lines).

mod buildkit;
mod classic;
mod cli_output;
#[cfg(test)]
mod fixtures;
mod podman;
mod step_map;
mod stream;
mod types;

use crate::error::Fault;
use models::{BuildOptions, Builder, Profile};

pub use buildkit::{map_vertices, parse_buildkit_plain, VertexMerge, VertexReport, VertexUpdate};
pub use classic::parse_classic;
pub use cli_output::{buildx_version_word, cli_failure_message, cli_version_word};
pub use podman::parse_podman;
pub use step_map::{step_map, StepInfo};
pub use stream::printed_image_ids;
pub use types::{Observation, Observed};

use buildkit::{cancelled_steps_indeterminate, unrun_cached_steps_indeterminate};

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
    profile: &Profile,
    raw: RawBuild,
    dockerfile: &str,
    options: &BuildOptions,
) -> Observation {
    let builder = profile.builder;
    let map = step_map(dockerfile, options, profile);
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
    use fixtures::{check, steps_of};
    use models::dockerfile;

    fn profile(builder: Builder) -> Profile {
        Profile::new(builder, models::Transport::Api)
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
        let observation = interpret(
            &profile(Builder::BuildKit),
            raw,
            dockerfile,
            &BuildOptions::default(),
        );
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
        let observation = interpret(
            &profile(Builder::BuildKit),
            raw,
            dockerfile,
            &BuildOptions::default(),
        );
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
        let cancelled = interpret(
            &profile(Builder::BuildKit),
            raw,
            dockerfile,
            &BuildOptions::default(),
        );
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
            &profile(Builder::Buildah),
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
            &profile(Builder::Classic),
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
            &profile(Builder::BuildKit),
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
            &profile(Builder::Classic),
            own,
            "FROM base\nRUN false\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.indeterminate, None);
    }

    #[test]
    fn a_stage_built_from_a_stage_numbers_from_its_first_instruction() {
        // Measured: `FROM s0` gets no vertex, so `COPY --from` is `[stage-1 1/2]`.
        let dockerfile = "FROM base AS s0\nCOPY a /a\nFROM s0\nCOPY --from=s0 /a /x\nCOPY d /d\n";
        let vertices = parse_buildkit_plain(
            "#4 [s0 1/2] FROM base\n#6 [s0 2/2] COPY a /a\n#6 CACHED\n#7 [stage-1 1/2] COPY --from=s0 /a /x\n#7 CACHED\n#8 [stage-1 2/2] COPY d /d\n#8 DONE 0.1s\n",
        );
        check(
            map_vertices(&vertices, &steps_of(dockerfile)),
            "1 cached, 2 cached, 4 cached, 5 rebuilt",
        );
    }

    /// The model's stage selection for a Dockerfile's text.
    fn built_stages(dockerfile_text: &str, options: &BuildOptions, builder: Builder) -> Vec<usize> {
        models::predict::built_stages(
            &dockerfile::parse(dockerfile_text).dockerfile,
            options,
            builder,
        )
    }

    /// Build options with only a target.
    fn aimed(target: Option<&str>) -> BuildOptions {
        BuildOptions {
            target: target.map(str::to_string),
            ..BuildOptions::default()
        }
    }

    #[test]
    fn a_build_arg_that_makes_a_from_name_a_stage_builds_that_stage() {
        // Podman 5.4.2's own output for `--build-arg T=s0` (the stage s0 is built first, and the
        // second stage starts FROM its image id): without the build arg, `[1/2]` would be read as
        // the second stage and s0's steps would go unreported.
        let dockerfile = "ARG T\nFROM base AS s0\nCOPY a /a\nFROM ${T:-base}\nCOPY b /b\n";
        let options = BuildOptions {
            build_args: [("T".to_string(), "s0".to_string())].into(),
            ..BuildOptions::default()
        };
        assert_eq!(
            built_stages(dockerfile, &options, Builder::Buildah),
            vec![0, 1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(None), Builder::Buildah),
            vec![1]
        );
        let log = "[1/2] STEP 1/2: FROM base AS s0\n[1/2] STEP 2/2: COPY a /a\n--> Using cache 052ba055b3ec2bd6c472e4a57f01147345d90d77dfc9c3e1fe516f759b6c85a5\n--> 052ba055b3ec\n[2/2] STEP 1/2: FROM 052ba055b3ec2bd6c472e4a57f01147345d90d77dfc9c3e1fe516f759b6c85a5\n[2/2] STEP 2/2: COPY b /b\n--> 6dba3ac09f2d\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "2 cached, 3 cached, 4 cached, 5 rebuilt",
        );
        // BuildKit then numbers the second stage's steps from its COPY, as for `FROM s0`.
        let vertices = parse_buildkit_plain(
            "#1 [s0 2/2] COPY a /a\n#1 CACHED\n#2 [stage-1 1/1] COPY b /b\n#2 DONE 0.0s\n",
        );
        check(
            map_vertices(
                &vertices,
                &step_map(dockerfile, &options, &profile(Builder::BuildKit)),
            ),
            "3 cached, 5 rebuilt",
        );
    }

    #[test]
    fn built_stages_take_a_numeric_target_and_never_depend_on_themselves_or_later_stages() {
        // `COPY --from=1` in stage 1 and `--from=late` naming a later stage are not dependencies
        // (the model's rule: only earlier stages); a numeric target is a stage index.
        let dockerfile = "FROM base AS s0\nRUN true\nFROM base AS s1\nCOPY --from=1 /a /a\nCOPY --from=late /b /b\nFROM base AS late\nRUN true\nFROM s0\nCOPY --from=s1 /a /a\n";
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("1")), Builder::Buildah),
            vec![1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("s1")), Builder::BuildKit),
            vec![1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(None), Builder::Buildah),
            vec![0, 1, 3]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("2")), Builder::Classic),
            vec![0, 1, 2]
        );
        // A stage named like a number resolves by name first, as in the model.
        let named =
            "FROM base AS 1\nRUN true\nFROM base\nRUN true\nFROM base\nCOPY --from=1 /a /a\n";
        assert_eq!(
            built_stages(named, &aimed(None), Builder::Buildah),
            vec![0, 2]
        );
        assert_eq!(
            built_stages("", &aimed(None), Builder::Buildah),
            Vec::<usize>::new()
        );
    }
}
