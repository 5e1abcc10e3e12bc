//! BuildKit (moby/buildkit `cache/contenthash`, `frontend/dockerfile/dockerfile2llb`), as embedded
//! in Engine 20.10 (v0.8 line).

use crate::dockerfile::{Body, CopyArgs};
use crate::fingerprint::fingerprint;
use crate::predict::key::{Component, Part, SourceFact, StepKey};
use crate::predict::plan::{Cx, Scope};
use crate::predict::{Outcome, Reason, ReasonKind};
use crate::profiles::{Builder, Profile};
use crate::rules::{Rule, RuleId, Status};

fn buildkit(p: &Profile) -> bool {
    p.builder == Builder::BuildKit
}

pub const CHECKSUM_FIELDS: Rule = Rule {
    id: RuleId::new("bk.checksum-fields"),
    statement: "Name, mode, uid, gid, size, type, link target and xattrs are in the COPY checksum; mtime is not.",
    source: "https://github.com/moby/buildkit/blob/master/cache/contenthash/tarsum.go",
    if_off: "only content and name are in the checksum",
    status: Status::Modelled,
    applies: buildkit,
};

/// Off: only content and name stay in a source's facts.
pub(crate) fn checksum_fields(p: &Profile, fact: &mut SourceFact) {
    if p.off(&CHECKSUM_FIELDS) {
        fact.mode = None;
        fact.owner = None;
        fact.link_target = None;
        fact.xattrs.clear();
        fact.kind = "any";
    }
}

pub const XATTR_FILTER: Rule = Rule {
    id: RuleId::new("bk.xattr-filter"),
    statement:
        "`security.*` and `system.*` xattrs are ignored, except `security.capability`; SELinux \
                labels once made CentOS hosts miss (buildkit#1330).",
    source: "https://github.com/moby/buildkit/pull/1393",
    if_off: "every xattr is in the checksum",
    status: Status::Modelled,
    applies: buildkit,
};

/// Drops `security.*` and `system.*` xattrs but `security.capability` (off: keeps every xattr).
pub(crate) fn xattr_filter(p: &Profile, fact: &mut SourceFact) {
    if p.on(&XATTR_FILTER) {
        fact.xattrs.retain(|(name, _)| {
            name == "security.capability"
                || !(name.starts_with("security.") || name.starts_with("system."))
        });
    }
}

pub const OWNER_RESET: Rule = Rule {
    id: RuleId::new("bk.owner-reset"),
    statement:
        "The owner of local context files does not reach the checksum: the CLI (fsutil) resets \
                uid/gid to 0, and the API tar upload was measured to hit on a uid/gid change too.",
    source: "https://github.com/moby/buildkit/issues/2383",
    if_off: "the files' uid/gid are checksummed",
    status: Status::Settled {
        note: "API door measured on Engine 20.10.24: a uid/gid change hits, but the copied files keep the tar's owners, so the hit is stale (buildkit#3291, found by cachet --fresh-check)",
    },
    applies: buildkit,
};

/// Whether local context files reach the checksum as uid/gid 0 (off: as owned).
pub(crate) fn owner_reset(p: &Profile) -> bool {
    p.on(&OWNER_RESET)
}

pub const CHMOD_FLAG: Rule = Rule {
    id: RuleId::new("bk.chmod-flag"),
    statement: "`COPY --chmod` does not mask a change of the source's mode: still a miss.",
    source: "https://github.com/moby/buildkit/issues/4374",
    if_off: "under `--chmod` the source's mode is not checksummed",
    status: Status::Modelled,
    applies: buildkit,
};

/// Under `--chmod` the source's mode stays in its facts (off: it is masked).
pub(crate) fn chmod_flag(p: &Profile, copy: &CopyArgs, fact: &mut SourceFact) {
    if copy.chmod.is_some() && p.off(&CHMOD_FLAG) {
        fact.mode = None;
    }
}

pub const METADATA_FREE: Rule = Rule {
    id: RuleId::new("bk.metadata-free"),
    statement: "Only FROM, RUN, COPY, ADD and WORKDIR are cacheable vertices; LABEL, EXPOSE, CMD and \
                ENTRYPOINT enter no later step's key, while ENV, USER, WORKDIR and build args reach later \
                RUNs through their environment.",
    source: "https://github.com/moby/buildkit/blob/master/frontend/dockerfile/dockerfile2llb/convert.go",
    if_off: "every instruction, metadata included, is part of the parent chain of later steps",
    status: Status::Modelled,
    applies: buildkit,
};

/// Whether an instruction is a step of its own: on BuildKit only FROM, RUN, COPY, ADD and WORKDIR.
pub(crate) fn is_vertex(p: &Profile, body: &Body) -> bool {
    !p.follows(&METADATA_FREE)
        || matches!(
            body,
            Body::From { .. }
                | Body::Run { .. }
                | Body::Copy(_)
                | Body::Add(_)
                | Body::Workdir { .. }
        )
}

/// The outcome of an instruction that is not a vertex.
pub(crate) fn not_a_step() -> Outcome {
    Outcome::NotAStep {
        rule: METADATA_FREE.id,
    }
}

/// The chain after a metadata instruction: unchanged, or (off) with its key folded in.
pub(crate) fn after_metadata(p: &Profile, chain: u64, key: &StepKey) -> u64 {
    if p.off(&METADATA_FREE) {
        fingerprint(&(chain, key))
    } else {
        chain
    }
}

/// The environment a BuildKit RUN sees (ENV, USER, WORKDIR, SHELL), part of its key.
pub(crate) fn run_env(p: &Profile, scope: &Scope) -> Option<Component> {
    p.follows(&METADATA_FREE).then(|| {
        let mut env = scope.env.clone();
        if let Some(u) = &scope.user {
            env.push(("(user)".to_string(), u.clone()));
        }
        env.push(("(workdir)".to_string(), scope.workdir.clone()));
        if let Some(shell) = &scope.shell {
            env.push(("(shell)".to_string(), shell.join(" ")));
        }
        Component {
            rule: METADATA_FREE.id,
            part: Part::Env(env),
        }
    })
}

pub const ADD_URL: Rule = Rule {
    id: RuleId::new("bk.add-url"),
    statement: "The ADD URL key includes Last-Modified although the docs say mtime is ignored.",
    source: "https://github.com/moby/buildkit/blob/master/source/http/httpsource.go",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "builds run with network mode none and nothing can be fetched",
    },
    applies: buildkit,
};

pub const LINK: Rule = Rule {
    id: RuleId::new("bk.link"),
    statement: "With `COPY --link`, a change in earlier steps does not invalidate the copy.",
    source: "https://docs.docker.com/reference/dockerfile/#copy---link",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "Engine 20.10's built-in frontend rejects `--link`; the model predicts the rejection",
    },
    applies: buildkit,
};

pub const INLINE_MIN: Rule = Rule {
    id: RuleId::new("bk.inline-min"),
    statement:
        "Inline cache (`BUILDKIT_INLINE_CACHE=1`) exports only the layers of the final image: \
                steps of other stages cannot hit from it.",
    source: "https://docs.docker.com/build/cache/backends/inline/",
    if_off: "inline cache exports the steps of every stage",
    status: Status::Modelled,
    applies: buildkit,
};

/// Whether a step's layer travels with the inline cache: only the final image's (off: every one).
pub(crate) fn exports_layer(p: &Profile, chain: u64, final_chains: &[u64]) -> bool {
    !p.on(&INLINE_MIN) || final_chains.contains(&chain)
}

/// Why a step imported as a key alone has to run: a later step needs its layer.
pub(crate) fn layer_needed() -> Reason {
    Reason {
        rule: INLINE_MIN.id,
        kind: ReasonKind::NoLayer,
    }
}

pub const IMPORT_PREFIX: Rule = Rule {
    id: RuleId::new("bk.import-prefix"),
    statement: "With `--cache-from`, a change at step N keeps the steps before N cached.",
    source: "https://github.com/moby/buildkit/issues/3660",
    if_off: "imported cache is used only when every step of the build matches it",
    status: Status::Verify,
    applies: buildkit,
};

/// Whether imported cache serves steps: always, or (off) only when every step of the build is in
/// it (`all_imported`).
pub(crate) fn import_usable(p: &Profile, all_imported: impl FnOnce() -> bool) -> bool {
    !p.off(&IMPORT_PREFIX) || all_imported()
}

pub const NOCACHE_FILTER: Rule = Rule {
    id: RuleId::new("bk.nocache-filter"),
    statement: "`--no-cache-filter S` rebuilds only stage S.",
    source: "https://docs.docker.com/reference/cli/docker/buildx/build/#no-cache-filter",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "needs BuildKit 0.10 or later; Engine 20.10 embeds 0.8",
    },
    applies: buildkit,
};

pub const CONTENT_ADDRESSED: Rule = Rule {
    id: RuleId::new("bk.content-addressed"),
    statement:
        "Identical sources on the same parent hit, even from another context directory or an \
                earlier, unrelated build.",
    source: "https://github.com/moby/buildkit/blob/master/solver/cachekey.go",
    if_off: "the context's identity is part of every COPY key",
    status: Status::Modelled,
    applies: buildkit,
};

/// What a COPY key holds of the context beyond its sources: nothing, or (off) the whole context.
pub(crate) fn copy_context(cx: &Cx<'_>) -> Option<Component> {
    cx.profile.off(&CONTENT_ADDRESSED).then(|| Component {
        rule: CONTENT_ADDRESSED.id,
        part: Part::Digest(cx.context_digest()),
    })
}

/// A COPY --from key: what the selected paths hold in the source stage, not the rest of it.
pub(crate) fn stage_selection(digest: u64) -> Component {
    Component {
        rule: CONTENT_ADDRESSED.id,
        part: Part::Digest(digest),
    }
}

pub const RULES: &[Rule] = &[
    CHECKSUM_FIELDS,
    XATTR_FILTER,
    OWNER_RESET,
    CHMOD_FLAG,
    METADATA_FREE,
    ADD_URL,
    LINK,
    INLINE_MIN,
    IMPORT_PREFIX,
    NOCACHE_FILTER,
    CONTENT_ADDRESSED,
];
