//! FROM: the stage starts on a base image, or on an earlier stage's last step.

use crate::fingerprint::fingerprint;
use crate::predict::cx::{unavailable_base, Cx, Planned, StageOutcome, StageState};
use crate::profiles::general;
use crate::step::outcome::Outcome;

pub use crate::step::{is_base_image, BASE_IMAGE, BASE_REPOSITORY};

/// The top-level directories of an image built on `base` that hold anything no step of the
/// Dockerfile put there: the base image's own, and what an engine mounts or makes for a RUN.
pub(crate) const BASE_DIRS: &[&str] = &["bin", "etc", "dev", "proc", "sys", "tmp", "run"];

/// Whether `name` is an image reference the engines parse: a lower-case repository path (with
/// a registry's `host:port` if any), an optional `:tag` and `@digest`. An empty name, or one
/// with a `$` left unexpanded, is not.
fn is_reference(name: &str) -> bool {
    let name = name.split_once('@').map_or(name, |(n, _)| n);
    let (repository, tag) = match name.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (name, None),
    };
    let repository_ok = !repository.is_empty()
        && repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c));
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    repository_ok && tag_ok
}

/// Starts the stage: on an earlier stage it inherits that stage's chain, files and (with
/// `general::inherits_scope`) its WORKDIR, ENV, USER and SHELL (and fails with it, or is unknown
/// with it); on an image, the chain is the image's name (global ARGs expanded:
/// `StageSpan::base`) and the `--platform` value, if any (expanded in the global scope:
/// `--platform=$BUILDPLATFORM` is the build's platform).
pub(crate) fn plan_from(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    platform: Option<&str>,
) -> Planned {
    let image = cx.stages[st.index].base.clone();
    let stage = cx.earlier_stage(st.index, &image);
    if let Some(why) = unavailable_base(cx.profile, cx.stages, st.index) {
        return Planned::Broken(Outcome::Fails { why });
    }
    if stage.is_none() && !is_reference(&image) {
        return Planned::Broken(Outcome::Fails {
            why: format!("FROM `{image}`: not a stage, nor a valid image reference"),
        });
    }
    let parent_stage = stage.and_then(|i| outcomes[i].as_ref());
    st.chain = match parent_stage {
        Some(parent) => {
            if parent.fails {
                st.broken = Some(Outcome::Skipped {
                    why: "the stage it is built FROM fails".to_string(),
                });
            } else if parent.unknown {
                st.broken = Some(Outcome::Unsupported {
                    why: "the stage it is built FROM has a step the model cannot key".to_string(),
                });
            }
            st.fs_digest = parent.fs_digest;
            st.has_run = parent.has_run;
            st.on_base = parent.on_base;
            st.workdirs = parent.workdirs.clone();
            st.files = parent.files.clone();
            st.writer_chain = parent.writer_chain;
            if general::inherits_scope(cx.profile) {
                st.scope = parent.scope.clone();
                if !crate::profiles::buildkit::inherits_stage_args(cx.profile)
                    && !crate::profiles::buildah::inherits_stage_args(cx.profile)
                {
                    st.scope.args.clear();
                }
            }
            parent.final_chain
        }
        None => match platform {
            None => fingerprint(&("FROM", &image)),
            Some(platform) => fingerprint(&("FROM", &image, cx.expand_global(platform))),
        },
    };
    if parent_stage.is_none() {
        st.writer_chain = st.chain;
        st.on_base = is_base_image(&image);
    }
    Planned::From
}
