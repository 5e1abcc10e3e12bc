//! RUN: keyed on its command text (its flags, `--mount=...` included, are part of that text), the
//! build args, environment and shell it sees, never on files. A cache, tmpfs, secret or ssh
//! mount is outside the key by definition; what the model cannot key yet (a heredoc's body, the
//! content of a bind mount) makes the step `Unsupported`, with why.

use crate::dockerfile::{Body, Instruction, MountKind};
use crate::predict::key::{Component, StepKey};
use crate::predict::plan::{Cx, Planned, StageState};
use crate::predict::Outcome;
use crate::profiles::{buildah, buildkit, classic, general, Builder};

pub(crate) fn plan_run(
    cx: &Cx<'_>,
    st: &mut StageState,
    instruction: &Instruction,
    normalized: &str,
) -> Planned {
    let p = cx.profile;
    if let Some(why) = unkeyed(&instruction.body) {
        return Planned::Broken(Outcome::Unsupported { why });
    }
    st.has_run = true;
    let mut key = StepKey::new(general::TEXT_LITERAL.id, "RUN");
    key.push(Component::text(
        general::TEXT_LITERAL.id,
        general::literal(p, normalized.to_string()),
    ));
    if cx.args_on {
        let args = st.scope.args_with_values();
        key.extend(match p.builder {
            Builder::Classic => classic::run_args(p, args),
            Builder::BuildKit => Some(general::run_args(args)),
            Builder::Buildah => buildah::run_args(p, args),
        });
    }
    key.extend(buildkit::run_env(p, &st.scope));
    key.extend(general::run_context(cx));
    Planned::Step {
        key,
        changes_files: false,
        reads_stage: None,
    }
}

/// Why the model cannot key this RUN the way the engines do, if it cannot.
fn unkeyed(body: &Body) -> Option<String> {
    let Body::Run {
        flags, heredocs, ..
    } = body
    else {
        return None;
    };
    if !heredocs.is_empty() {
        return Some(
            "RUN <<heredoc: the engines that accept it key the heredoc's body (BuildKit's 1.4 \
             frontend, Buildah 1.35); the model does not key it yet"
                .to_string(),
        );
    }
    for mount in &flags.mounts {
        match (mount.kind, &mount.from) {
            (MountKind::Bind, None) => {
                return Some(
                    "RUN --mount=type=bind from the context: the engine keys the step on the \
                     mounted files' content, which the model does not key yet"
                        .to_string(),
                )
            }
            (MountKind::Bind | MountKind::Cache, Some(from)) => {
                return Some(format!(
                    "RUN --mount=type={},from=`{from}`: the engine keys the step on what the \
                     mounted stage or image holds, which the model does not know",
                    mount.kind.as_str()
                ))
            }
            _ => {}
        }
    }
    None
}
