//! Metadata instructions: WORKDIR, ARG, ENV, LABEL, USER, EXPOSE, CMD, ENTRYPOINT, VOLUME, SHELL,
//! HEALTHCHECK, STOPSIGNAL, MAINTAINER, ONBUILD. They update the stage's scope; each builder keys
//! them its own way (BuildKit not at all: `bk.metadata-free`).

use crate::dockerfile::Body;
use crate::dockerfile::Instruction;
use crate::fingerprint::fingerprint;
use crate::predict::cx::{join_workdir, Cx, Planned, StageState};
use crate::profiles::{buildah, classic, general, Builder};
use crate::step::key::{Component, StepKey};

/// Any instruction but FROM, RUN, COPY and ADD.
pub(crate) fn plan_metadata(
    cx: &Cx<'_>,
    st: &mut StageState,
    instruction: &Instruction,
    normalized: &str,
) -> Planned {
    let p = cx.profile;
    let keyword = instruction.body.keyword();
    let mut key = StepKey::new(general::TEXT_LITERAL.id, keyword);
    // The keyword as the builder keys it, and the line with it (`buildah.keyword-as-written`).
    let keyed = buildah::keyed_keyword(p, instruction);
    let written = normalized.replacen(keyword, keyed, 1);
    let literal =
        |text: String| Component::text(general::TEXT_LITERAL.id, general::literal(p, text));
    match &instruction.body {
        Body::Workdir { path } => {
            st.scope.workdir = join_workdir(&st.scope.workdir, &cx.expand_raw(path, &st.scope));
            key.push(literal(format!("{keyed} {}", st.scope.workdir)));
            st.fs_digest = fingerprint(&(st.fs_digest, &st.scope.workdir));
            st.workdirs.insert(st.scope.workdir.clone());
        }
        Body::Arg { args } => {
            let options = &cx.build.options;
            // Buildah keys the names that hold a value, not the text (`buildah.arg-names`).
            if !buildah::keys_arg_names_only(p) {
                key.push(literal(normalized.to_string()));
            }
            for decl in args {
                // A stage's `ARG NAME` without a default takes the global ARG's value, else the
                // automatic platform ARG's (`general::platform_args`).
                let default = decl.default.as_deref().map(|d| cx.expand(d, &st.scope));
                let value = options
                    .build_args
                    .get(&decl.name)
                    .cloned()
                    .or(default)
                    .or_else(|| cx.global.args.get(&decl.name).cloned().flatten())
                    .or_else(|| cx.global.platform.get(&decl.name).cloned());
                st.scope.args.insert(decl.name.clone(), value);
            }
            key.extend(buildah::arg_names(p, &st.scope.args, &options.build_args));
        }
        Body::Env { pairs } | Body::Label { pairs } => {
            key.push(env_or_label(cx, st, instruction, pairs, normalized));
        }
        Body::User { user } => {
            let user = cx.expand_raw(user, &st.scope);
            key.push(literal(format!("{keyed} {user}")));
            st.scope.user = Some(user);
        }
        Body::Shell { shell } => {
            // Later RUNs run under it: the classic and Buildah chains pass through this step,
            // and BuildKit's RUN keys carry it (`buildkit::run_env`).
            st.scope.shell = Some(shell.clone());
            key.push(config_or_literal(cx, keyword, &written, &instruction.body));
        }
        Body::Volume { paths } => {
            let paths = paths.iter().map(|v| cx.expand(v, &st.scope)).collect();
            let config = Body::Volume { paths };
            key.push(config_or_literal(cx, keyword, &written, &config));
        }
        Body::Expose { .. }
        | Body::Cmd { .. }
        | Body::Entrypoint { .. }
        | Body::Healthcheck { .. }
        | Body::Stopsignal { .. }
        | Body::Maintainer { .. }
        | Body::Onbuild { .. } => {
            key.push(config_or_literal(cx, keyword, &written, &instruction.body));
        }
        Body::From { .. }
        | Body::Run { .. }
        | Body::Copy(_)
        | Body::Add(_)
        | Body::Unsupported { .. } => {
            unreachable!("plan_instruction routes {keyword} elsewhere")
        }
    }
    Planned::Step {
        key,
        changes_files: false,
        reads_stage: None,
        mounted_stages: Vec::new(),
        bound_stages: Vec::new(),
        detached_parent: None,
    }
}

/// The classic builder keys on the config the instruction produces; the others on its text.
fn config_or_literal(cx: &Cx<'_>, keyword: &str, normalized: &str, config: &Body) -> Component {
    let p = cx.profile;
    match p.builder {
        Builder::Classic => classic::config_text(p, keyword, normalized, config),
        _ => Component::text(
            general::TEXT_LITERAL.id,
            general::literal(p, normalized.to_string()),
        ),
    }
}

/// ENV sets its pairs in the scope; both key on the expanded pairs, each builder its own way.
fn env_or_label(
    cx: &Cx<'_>,
    st: &mut StageState,
    instruction: &Instruction,
    pairs: &[(String, String)],
    normalized: &str,
) -> Component {
    let p = cx.profile;
    let is_env = matches!(instruction.body, Body::Env { .. });
    let expanded: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (cx.expand(k, &st.scope), cx.expand(v, &st.scope)))
        .collect();
    if is_env {
        for (k, v) in &expanded {
            st.scope.set_env(k, v.clone());
        }
    }
    let keyword = instruction.body.keyword();
    match p.builder {
        Builder::Buildah => buildah::env_text(p, instruction, &expanded),
        Builder::Classic => {
            let config = if is_env {
                Body::Env { pairs: expanded }
            } else {
                Body::Label { pairs: expanded }
            };
            classic::config_text(p, keyword, normalized, &config)
        }
        Builder::BuildKit => Component::text(
            general::TEXT_LITERAL.id,
            general::literal(p, format!("{keyword} {expanded:?}")),
        ),
    }
}
