//! BuildKit (moby/buildkit `cache/contenthash`, `frontend/dockerfile/dockerfile2llb`), as embedded
//! in Engine 20.10 (v0.8 line).

use crate::rules::{Rule, Status};

pub const CHECKSUM_FIELDS: Rule = Rule {
    id: "bk.checksum-fields",
    statement: "Name, mode, uid, gid, size, type, link target and xattrs are in the COPY checksum; mtime is not.",
    source: "https://github.com/moby/buildkit/blob/master/cache/contenthash/tarsum.go",
    if_off: "only content and name are in the checksum",
    status: Status::Modelled,
};

pub const XATTR_FILTER: Rule = Rule {
    id: "bk.xattr-filter",
    statement:
        "`security.*` and `system.*` xattrs are ignored, except `security.capability`; SELinux \
                labels once made CentOS hosts miss (buildkit#1330).",
    source: "https://github.com/moby/buildkit/pull/1393",
    if_off: "every xattr is in the checksum",
    status: Status::Modelled,
};

pub const OWNER_RESET: Rule = Rule {
    id: "bk.owner-reset",
    statement:
        "The owner of local context files does not reach the checksum: the CLI (fsutil) resets \
                uid/gid to 0, and the API tar upload was measured to hit on a uid/gid change too.",
    source: "https://github.com/moby/buildkit/issues/2383",
    if_off: "the files' uid/gid are checksummed",
    status: Status::Settled {
        note: "API door measured on Engine 20.10.24: a uid/gid change hits, but the copied files keep the tar's owners, so the hit is stale (buildkit#3291, found by cachet --fresh-check)",
    },
};

pub const CHMOD_FLAG: Rule = Rule {
    id: "bk.chmod-flag",
    statement: "`COPY --chmod` does not mask a change of the source's mode: still a miss.",
    source: "https://github.com/moby/buildkit/issues/4374",
    if_off: "under `--chmod` the source's mode is not checksummed",
    status: Status::Modelled,
};

pub const METADATA_FREE: Rule = Rule {
    id: "bk.metadata-free",
    statement: "Only FROM, RUN, COPY, ADD and WORKDIR are cacheable vertices; LABEL, EXPOSE, CMD and \
                ENTRYPOINT enter no later step's key, while ENV, USER, WORKDIR and build args reach later \
                RUNs through their environment.",
    source: "https://github.com/moby/buildkit/blob/master/frontend/dockerfile/dockerfile2llb/convert.go",
    if_off: "every instruction, metadata included, is part of the parent chain of later steps",
    status: Status::Modelled,
};

pub const ADD_URL: Rule = Rule {
    id: "bk.add-url",
    statement: "The ADD URL key includes Last-Modified although the docs say mtime is ignored.",
    source: "https://github.com/moby/buildkit/blob/master/source/http/httpsource.go",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "builds run with network mode none and nothing can be fetched",
    },
};

pub const LINK: Rule = Rule {
    id: "bk.link",
    statement: "With `COPY --link`, a change in earlier steps does not invalidate the copy.",
    source: "https://docs.docker.com/reference/dockerfile/#copy---link",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "Engine 20.10's built-in frontend rejects `--link`; the model predicts the rejection",
    },
};

pub const INLINE_MIN: Rule = Rule {
    id: "bk.inline-min",
    statement:
        "Inline cache (`BUILDKIT_INLINE_CACHE=1`) exports only the layers of the final image: \
                steps of other stages cannot hit from it.",
    source: "https://docs.docker.com/build/cache/backends/inline/",
    if_off: "inline cache exports the steps of every stage",
    status: Status::Modelled,
};

pub const IMPORT_PREFIX: Rule = Rule {
    id: "bk.import-prefix",
    statement: "With `--cache-from`, a change at step N keeps the steps before N cached.",
    source: "https://github.com/moby/buildkit/issues/3660",
    if_off: "imported cache is used only when every step of the build matches it",
    status: Status::Verify,
};

pub const NOCACHE_FILTER: Rule = Rule {
    id: "bk.nocache-filter",
    statement: "`--no-cache-filter S` rebuilds only stage S.",
    source: "https://docs.docker.com/reference/cli/docker/buildx/build/#no-cache-filter",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "needs BuildKit 0.10 or later; Engine 20.10 embeds 0.8",
    },
};

pub const CONTENT_ADDRESSED: Rule = Rule {
    id: "bk.content-addressed",
    statement:
        "Identical sources on the same parent hit, even from another context directory or an \
                earlier, unrelated build.",
    source: "https://github.com/moby/buildkit/blob/master/solver/cachekey.go",
    if_off: "the context's identity is part of every COPY key",
    status: Status::Modelled,
};

pub const OWN: &[Rule] = &[
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
