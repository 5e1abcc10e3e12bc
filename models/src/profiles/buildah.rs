//! Podman / Buildah through the Docker-compatible API (`imagebuildah/stage_executor.go`, `copier`,
//! `digester`), Podman 4.3 / Buildah 1.28.

use crate::rules::{Rule, Status};

pub const LAYERS: Rule = Rule {
    id: "buildah.layers",
    statement: "Layer caching needs `--layers`; the Docker-compatible API turns it on.",
    source:
        "https://github.com/containers/podman/blob/v4.3.1/pkg/api/handlers/compat/images_build.go",
    if_off: "nothing is cached: every step rebuilds",
    status: Status::Modelled,
};

pub const FORMAT: Rule = Rule {
    id: "buildah.format",
    statement:
        "A cached layer matches only with the same image format (OCI vs docker) and platform; the \
                compat API forces docker format.",
    source: "https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "the compat API always builds docker format, so the format never varies",
    },
};

pub const COPY_DIGEST: Rule = Rule {
    id: "buildah.copy-digest",
    statement: "COPY/ADD hash the tar stream after `--chown` (default 0:0) and `--chmod` are applied, with \
                times zeroed: owner hits; mode, content, name and `user.*` / `security.capability` xattrs \
                miss; under `--chmod` a source mode change hits (unlike BuildKit). A source directory's own metadata is \
                not in the stream, only its contents (measured on Podman 4.3.1).",
    source: "https://github.com/containers/buildah/blob/v1.28.2/copier/copier.go",
    if_off: "the source's own owner and a source directory's own metadata are hashed, and `--chmod` does not mask the source mode",
    status: Status::Modelled,
};

pub const RUN_KEY: Rule = Rule {
    id: "buildah.run-key",
    statement: "RUN is keyed on the command and the resolved build args: a changed value of a declared ARG \
                misses at every later RUN, used or not.",
    source: "https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go",
    if_off: "RUN is keyed on the command only",
    status: Status::Settled { note: "measured on Podman 4.3.1: every later RUN misses, used or not (shared/ENGINES.md)" },
};

pub const ARG_NAMES: Rule = Rule {
    id: "buildah.arg-names",
    statement: "ARG is a step of its own, keyed on whether a `--build-arg` of that name is given: adding or \
                removing one misses at the ARG step itself, while a new value for a given one hits there \
                (buildah#5501 shows `ARG counter` using cache with a new value).",
    source: "https://github.com/containers/buildah/pull/2938",
    if_off: "the ARG step is keyed on its text only",
    status: Status::Modelled,
};

pub const ENV_RAW: Rule = Rule {
    id: "buildah.env-raw",
    statement:
        "ENV and LABEL are keyed on the unexpanded text as written, keyword case included (`env` and \
                `ENV` differ, measured on Podman 4.3.1), so `ENV X=$A` with a new `A` hits with a stale \
                value (buildah#5501, podman#20441).",
    source: "https://github.com/containers/buildah/issues/5501",
    if_off: "ENV and LABEL are keyed on the expanded text",
    status: Status::Modelled,
};

pub const OWN: &[Rule] = &[LAYERS, FORMAT, COPY_DIGEST, RUN_KEY, ARG_NAMES, ENV_RAW];
