//! FROM: the stage starts on a base image, or on an earlier stage's last step.

use crate::fingerprint::fingerprint;
use crate::predict::plan::{Cx, Planned, StageOutcome, StageState};
use crate::predict::Outcome;

/// Starts the stage: on an earlier stage it inherits that stage's chain and files (and fails with
/// it, or is unknown with it); on an image, the chain is the image's name (global ARGs
/// expanded) and the `--platform` text as written, if any.
pub(crate) fn plan_from(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    image: &str,
    platform: Option<&str>,
) -> Planned {
    let image = cx.expand_globals(image);
    let parent_stage = cx
        .earlier_stage(st.index, &image)
        .and_then(|i| outcomes[i].as_ref());
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
            st.files = parent.files.clone();
            st.writer_chain = parent.writer_chain;
            parent.final_chain
        }
        None => match platform {
            None => fingerprint(&("FROM", image)),
            Some(platform) => fingerprint(&("FROM", image, platform)),
        },
    };
    if parent_stage.is_none() {
        st.writer_chain = st.chain;
    }
    Planned::From
}
