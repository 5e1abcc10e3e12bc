//! Rules every builder follows: the seed document's rules (docs.docker.com, "Build cache
//! invalidation"), shared by the classic builder, BuildKit and Buildah tables.

use crate::rules::{Rule, Status};

const DOCS: &str = "https://docs.docker.com/build/cache/invalidation/";

pub const TEXT_LITERAL: Rule = Rule {
    id: "text.literal",
    statement: "A non-ADD/COPY instruction hits only if its text, after the builder's own normalisation \
                (keyword case, comments, line continuations), and its parent match a cached step.",
    source: DOCS,
    if_off: "instructions other than ADD/COPY are keyed on their keyword only, so any edit of their text hits",
    status: Status::Modelled,
};

pub const COPY_CHECKSUM: Rule = Rule {
    id: "copy.checksum",
    statement: "ADD and COPY hit only if the checksum of the copied sources (content and metadata) matches.",
    source: DOCS,
    if_off: "ADD and COPY are keyed on their text only; source files never cause a miss",
    status: Status::Modelled,
};

pub const COPY_MTIME_IGNORED: Rule = Rule {
    id: "copy.mtime-ignored",
    statement: "mtime and atime of sources are not in the checksum: a `touch` alone hits.",
    source: DOCS,
    if_off: "mtime and atime enter the checksum",
    status: Status::Modelled,
};

pub const CASCADE: Rule = Rule {
    id: "cascade",
    statement: "After the first miss in a stage, every later step of that stage misses.",
    source: DOCS,
    if_off:
        "a step is looked up by its position and own key only, so it can hit after an earlier miss",
    status: Status::Modelled,
};

pub const NOCACHE_ALL: Rule = Rule {
    id: "nocache.all",
    statement: "`--no-cache` rebuilds every step.",
    source: "https://docs.docker.com/reference/cli/docker/buildx/build/#no-cache",
    if_off: "`--no-cache` is ignored",
    status: Status::Modelled,
};

pub const FROM_UNAFFECTED: Rule = Rule {
    id: "from.unaffected",
    statement: "FROM is not re-pulled by `--no-cache`; only `--pull` re-resolves the base.",
    source: DOCS,
    if_off: "FROM is predicted rebuilt under `--no-cache`",
    status: Status::Modelled,
};

pub const RUN_OPAQUE: Rule = Rule {
    id: "run.opaque",
    statement:
        "RUN is keyed on its command text, parent and environment only; files and network state \
                are never consulted (`RUN apt-get update` stays cached).",
    source: DOCS,
    if_off: "RUN's key also includes the whole context's checksum, as if RUN looked at the files",
    status: Status::Modelled,
};

pub const ARG_FIRST_USE: Rule = Rule {
    id: "arg.first-use",
    statement: "A changed `--build-arg` value misses at the first step that uses it (every RUN after an \
                ARG uses it implicitly; other instructions use it by `$NAME`), not at the ARG itself.",
    source: "https://docs.docker.com/build/building/variables/#impact-on-build-caching",
    if_off: "build-arg values enter no key (except through Buildah's own ARG rule)",
    status: Status::Modelled,
};

pub const DOCKERIGNORE: Rule = Rule {
    id: "dockerignore",
    statement: "Files excluded by `.dockerignore` never affect a checksum; editing `.dockerignore` matters \
                only through what it includes or excludes. The docker client applies it: an API tar upload \
                reaches Docker's builders as it is (Engine 20.10.24), while Buildah applies it to the \
                uploaded context itself (Podman 4.3.1).",
    source: "https://docs.docker.com/build/concepts/context/#dockerignore-files",
    if_off: "`.dockerignore` is not applied",
    status: Status::Modelled,
};

pub const DOCKERFILE_SELF: Rule = Rule {
    id: "dockerfile.self",
    statement:
        "The Dockerfile is in the context: `COPY .` misses when it changes unless it is ignored.",
    source: "https://docs.docker.com/build/concepts/context/#dockerignore-files",
    if_off: "the Dockerfile is never part of what COPY sees",
    status: Status::Modelled,
};

pub const GENERAL: &[Rule] = &[
    TEXT_LITERAL,
    COPY_CHECKSUM,
    COPY_MTIME_IGNORED,
    CASCADE,
    NOCACHE_ALL,
    FROM_UNAFFECTED,
    RUN_OPAQUE,
    ARG_FIRST_USE,
    DOCKERIGNORE,
    DOCKERFILE_SELF,
];
