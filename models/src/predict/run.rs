//! RUN: keyed on its command text, the build args and environment it sees, never on files.

use crate::predict::key::{Component, StepKey};
use crate::predict::plan::{Cx, Planned, StageState};
use crate::profiles::{buildah, buildkit, classic, general, Builder};

pub(crate) fn plan_run(cx: &Cx<'_>, st: &mut StageState, normalized: &str) -> Planned {
    let p = cx.profile;
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
