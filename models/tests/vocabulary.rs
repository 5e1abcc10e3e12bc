//! Prediction of the forms issue #16 added to the parser: every builder, cold and warm, on small
//! Dockerfiles written for these tests.

use models::{apply, predict, Build, BuildContext, EngineState, Entry, Outcome, Profile};

fn build(dockerfile: &str) -> Build {
    let mut context = BuildContext::new();
    context.insert("a", Entry::file("a")).unwrap();
    context.set_dockerfile_text(dockerfile);
    Build {
        context,
        options: Default::default(),
    }
}

/// Each profile's outcomes (`short()` words) for `second` after `first` was built.
fn after(first: &str, second: &str) -> Vec<(String, Result<Vec<&'static str>, String>)> {
    Profile::all()
        .into_iter()
        .map(|p| {
            let mut state = EngineState::new(p.clone());
            apply(&mut state, &build(first));
            let prediction = predict(&state, &build(second));
            let words = match prediction.rejected {
                Some(why) => Err(why),
                None => Ok(prediction.steps.iter().map(|s| s.outcome.short()).collect()),
            };
            (p.name(), words)
        })
        .collect()
}

fn words(
    all: &[(String, Result<Vec<&'static str>, String>)],
    profile: &str,
) -> Result<Vec<&'static str>, String> {
    all.iter().find(|(p, _)| p == profile).unwrap().1.clone()
}

#[test]
fn a_changed_shell_misses_at_the_next_run_everywhere() {
    let first = "FROM base\nSHELL [\"/bin/sh\", \"-c\"]\nRUN true\n";
    let second = "FROM base\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN true\n";
    let all = after(first, second);
    for (profile, outcome) in &all {
        let steps = outcome.as_ref().unwrap();
        assert_eq!(steps[2], "rebuilt", "{profile}");
    }
    assert_eq!(words(&all, "buildkit").unwrap()[1], "not-a-step");
    assert_eq!(words(&all, "classic").unwrap()[1], "rebuilt");
}

#[test]
fn metadata_instructions_follow_label() {
    let text = "FROM base\nVOLUME /v\nHEALTHCHECK NONE\nSTOPSIGNAL 9\nONBUILD RUN x\nMAINTAINER m\nRUN true\n";
    let all = after(text, text);
    assert_eq!(
        words(&all, "classic").unwrap(),
        ["cached", "cached", "cached", "cached", "cached", "cached", "cached"]
    );
    assert_eq!(
        words(&all, "buildkit").unwrap(),
        [
            "cached",
            "not-a-step",
            "not-a-step",
            "not-a-step",
            "not-a-step",
            "not-a-step",
            "cached"
        ]
    );
    let edited = "FROM base\nVOLUME /w\nHEALTHCHECK NONE\nSTOPSIGNAL 9\nONBUILD RUN x\nMAINTAINER m\nRUN true\n";
    let all = after(text, edited);
    assert_eq!(words(&all, "podman").unwrap()[1..3], ["rebuilt", "rebuilt"]);
    assert_eq!(words(&all, "buildkit").unwrap()[6], "cached");
}

#[test]
fn a_global_arg_reaches_from_and_a_redeclaring_stage() {
    let first = "ARG TAG=1\nFROM base${TAG}\nRUN true\n";
    let second = "ARG TAG=2\nFROM base${TAG}\nRUN true\n";
    for (profile, outcome) in after(first, second) {
        assert_eq!(
            outcome.unwrap()[1],
            "rebuilt",
            "{profile}: another base image"
        );
    }
    for (profile, outcome) in after(first, first) {
        assert_eq!(outcome.unwrap(), ["cached", "cached"], "{profile}");
    }
    let all = after(
        "FROM --platform=linux/amd64 base\nRUN true\n",
        "FROM --platform=linux/arm64 base\nRUN true\n",
    );
    assert_eq!(words(&all, "buildkit").unwrap(), ["cached", "rebuilt"]);
}

#[test]
fn cache_and_bind_mounts_are_predicted() {
    let text = "FROM base\nRUN --mount=type=cache,target=/c make\nRUN --mount=type=bind,target=/src make\nRUN true\n";
    let all = after(text, text);
    // The classic builder refuses `--mount` when it reaches that step (`classic.dispatch-refusal`).
    assert_eq!(
        words(&all, "classic").unwrap(),
        ["cached", "fails", "skipped", "skipped"]
    );
    for profile in ["buildkit", "podman"] {
        let steps = words(&all, profile).unwrap();
        assert_eq!(steps, ["cached", "cached", "cached", "cached"], "{profile}");
    }
    let edited = text.replace("target=/c make", "target=/c,id=x make");
    assert_eq!(
        words(&after(text, &edited), "buildkit").unwrap()[1],
        "rebuilt"
    );
}

#[test]
fn what_depends_on_an_unknown_stage_is_unknown_too() {
    let text = "FROM base AS b\nADD --checksum=sha256:00 https://example.com/x /x\nFROM b AS c\nRUN true\nFROM base\nCOPY --from=c /x /x\n";
    let profile = Profile::from_name("buildkit:26").unwrap();
    let prediction = predict(&EngineState::new(profile), &build(text));
    let unsupported: Vec<String> = prediction
        .steps
        .iter()
        .filter_map(|s| match &s.outcome {
            Outcome::Unsupported { why } => Some(why.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(unsupported.len(), 3, "{unsupported:?}");
    assert!(unsupported[1].contains("the stage it is built FROM"));
    assert!(unsupported[0].contains("ADD of a URL"), "{unsupported:?}");
}

#[test]
fn heredocs_are_refused_by_the_oldest_engines_or_read_as_instructions() {
    let text = "FROM base\nRUN <<EOF\ntrue\nEOF\n";
    for (profile, outcome) in after(text, text) {
        if profile.starts_with("podman") {
            // Buildah 1.28: `RUN <<EOF` runs as written, the body's `true` is an unknown
            // instruction when dispatched (`buildah.heredoc-as-lines`).
            assert_eq!(
                outcome.unwrap(),
                ["cached", "cached", "fails", "skipped"],
                "{profile}"
            );
        } else {
            assert!(outcome.unwrap_err().contains("heredocs"), "{profile}");
        }
    }
}

/// A multi-stage application build in the shape real ones take (a build stage, then a runtime
/// stage that installs packages and copies the binary `--link`). Only BuildKit on the containerd
/// store keeps the copy: on the graph drivers merge is off (moby#45153) and it is a plain COPY.
const LINKED_APP: &str = "FROM base AS build\nWORKDIR /src\nCOPY a ./\nRUN make\nFROM base\nRUN apk add ca-certificates\nCOPY --link --from=build /src/out /app\nCMD [\"/app\"]\n";

#[test]
fn a_linked_copy_survives_a_runtime_stage_edit_on_buildkit_with_containerd_only() {
    let edited = LINKED_APP.replace("ca-certificates", "ca-certificates tzdata");
    for (name, copy) in [
        ("buildkit:26+containerd", "cached"),
        ("buildkit-cli:28+containerd", "cached"),
        ("buildkit:28", "rebuilt"),
        ("podman:5.8", "rebuilt"),
    ] {
        let profile = Profile::from_name(name).unwrap();
        let mut state = EngineState::new(profile);
        apply(&mut state, &build(LINKED_APP));
        let prediction = predict(&state, &build(&edited));
        let words: Vec<&str> = prediction.steps.iter().map(|s| s.outcome.short()).collect();
        assert_eq!(words[5], "rebuilt", "{name}: the edited RUN");
        assert_eq!(words[6], copy, "{name}: the COPY --link");
        assert!(!words.contains(&"unsupported"), "{name}: {words:?}");
    }
}
