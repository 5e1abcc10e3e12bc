//! The step map: where each Dockerfile step sits (its stage and its numbers in each engine's
//! scheme), with FROM names expanded as the model does (`models::predict::stage_bases`).

use models::dockerfile::{self, Body};
use models::{BuildOptions, Builder};

/// Where each Dockerfile step sits: its stage and its numbers in each engine's scheme.
#[derive(Clone, Debug)]
pub struct StepInfo {
    pub step: usize,
    pub stage: usize,
    /// BuildKit's label: the stage name, or `stage-K`.
    pub stage_label: String,
    /// 1-based within the stage, FROM first (Podman's `STEP i/N`); 0 for a global ARG.
    pub index_in_stage: usize,
    /// 1-based among FROM, RUN, COPY, ADD and WORKDIR of the stage (BuildKit's numbering).
    pub vertex_index: Option<usize>,
    pub is_from: bool,
    /// A FROM's image as written (lowercased): BuildKit solves two FROMs of one image as one
    /// vertex, named after whichever stage the solver met first.
    pub from_image: Option<String>,
}

/// The steps of `dockerfile_text` as a build with `options` on `builder` numbers them: FROM
/// names expanded as the builder does (a build arg may make one an earlier stage).
pub fn step_map(dockerfile_text: &str, options: &BuildOptions, builder: Builder) -> Vec<StepInfo> {
    let parsed = dockerfile::parse(dockerfile_text);
    let bases = models::predict::stage_bases(&parsed.dockerfile, options, builder);
    let mut out: Vec<StepInfo> = Vec::new();
    let mut stage = 0usize;
    let mut label = String::new();
    let mut index = 0;
    let mut vertex = 0;
    let mut seen_from = false;
    for (n, instruction) in parsed.dockerfile.instructions().enumerate() {
        let is_from = matches!(instruction.body, Body::From { .. });
        // A stage built FROM an earlier stage has no FROM vertex of its own: BuildKit numbers
        // its instructions from the first one after FROM (`[stage-1 1/1] COPY ...`, measured on
        // Engine 20.10.24).
        let from_stage = is_from
            && bases
                .get(if seen_from { stage + 1 } else { 0 })
                .is_some_and(Result::is_ok);
        if let Body::From { stage: name, .. } = &instruction.body {
            // Global ARGs before the first FROM belong to no stage.
            if seen_from {
                stage += 1;
            }
            seen_from = true;
            label = name.clone().unwrap_or_else(|| format!("stage-{stage}"));
            index = 0;
            vertex = 0;
        }
        // Buildah numbers a stage's steps from its FROM: a global ARG is none of them.
        if seen_from {
            index += 1;
        }
        let has_vertex = !from_stage
            && matches!(
                instruction.body,
                Body::From { .. }
                    | Body::Run { .. }
                    | Body::Copy(_)
                    | Body::Add(_)
                    | Body::Workdir { .. }
            );
        if has_vertex {
            vertex += 1;
        }
        let from_image = match bases.get(stage) {
            Some(Err(image)) if is_from => Some(image.to_ascii_lowercase()),
            _ => None,
        };
        out.push(StepInfo {
            step: n + 1,
            stage,
            stage_label: label.clone(),
            index_in_stage: index,
            vertex_index: has_vertex.then_some(vertex),
            is_from,
            from_image,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observe::tests::{check, steps_of};
    use crate::engine::observe::{map_vertices, parse_buildkit_plain, parse_podman};

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
                &step_map(dockerfile, &options, Builder::BuildKit),
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
