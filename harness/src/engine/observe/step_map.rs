//! The step map: where each Dockerfile step sits (its stage and its numbers in each engine's
//! scheme), with FROM names expanded as the model does (`models::predict::stage_bases`).

use models::dockerfile::Body;
use models::{BuildOptions, Profile};

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

/// The steps of `dockerfile_text` as a build with `options` on `profile` numbers them: read as
/// its frontend reads it (a Buildah without heredocs counts a heredoc's body lines as steps),
/// FROM names expanded as the builder does (a build arg may make one an earlier stage).
pub fn step_map(dockerfile_text: &str, options: &BuildOptions, profile: &Profile) -> Vec<StepInfo> {
    let parsed = models::predict::parse_as(profile, dockerfile_text);
    let bases = models::predict::stage_bases(&parsed.dockerfile, options, profile.builder);
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
