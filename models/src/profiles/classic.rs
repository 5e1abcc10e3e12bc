//! The Docker classic builder (moby `builder/dockerfile`, `image/cache`), Engine 20.10.

use crate::rules::{Rule, Status};

pub const CONFIG_MATCH: Rule = Rule {
    id: "classic.config-match",
    statement: "A hit needs the same parent image and a matching config (User, Cmd, Env, Labels, \
                ExposedPorts, Entrypoint, Volumes): metadata instructions are keyed on the config they \
                produce, so `ENV A 1` and `ENV A=1` are the same step.",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/compare.go",
    if_off: "metadata instructions are keyed on their literal argument text",
    status: Status::Modelled,
};

pub const COPY_KEY: Rule = Rule {
    id: "classic.copy-key",
    statement: "The COPY/ADD key is `#(nop) COPY <hash> in <dest>`: the spelling of the sources is not in \
                it (`COPY ./a /d` and `COPY a /d` are the same step); several sources hash as `multi:` + \
                sha256 of the per-source hashes, so every source counts.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/copy.go",
    if_off: "only the first source of a multi-source COPY is hashed (the moby#38964 stale-hit shape)",
    status: Status::Modelled,
};

pub const CACHE_FROM_ONLY: Rule = Rule {
    id: "classic.cache-from-only",
    statement: "With `--cache-from`, a hit must come from the named images' history: the local cache \
                counts only for images those images descend from, and a named image the host does not \
                hold (cachet never pulls) gives nothing, so every step rebuilds.",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/cache.go",
    if_off: "`--cache-from` adds to the local cache instead of replacing it",
    status: Status::Modelled,
};

pub const NEWEST_MATCH: Rule = Rule {
    id: "classic.newest-match",
    statement: "Among cached images with the same parent and a matching config, the newest wins. A \
                `--no-cache` build makes new images for steps already cached, so later builds follow \
                its chain, and what hung off the older images is no longer reached.",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/compare.go",
    if_off: "a --no-cache build leaves the older images' descendants reachable",
    status: Status::Modelled,
};

pub const RUN_ARGS: Rule = Rule {
    id: "classic.run-args",
    statement:
        "RUN's key carries the build args it can see (`|N k=v ... cmd`): a changed value of a \
                declared ARG misses at every later RUN.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/dispatchers.go",
    if_off: "RUN's key carries no build args",
    status: Status::Modelled,
};

pub const OWNER_IGNORED: Rule = Rule {
    id: "classic.owner-ignored",
    statement: "The docker CLI sends the context with uid/gid 0, so changing a file's owner hits (CLI door). \
                Through the API the tar headers are kept, and the owner is in the checksum.",
    source: "https://github.com/docker/cli/blob/v20.10.24/cli/command/image/build.go",
    if_off: "the CLI door keeps the files' owners",
    status: Status::Modelled,
};

pub const XATTRS: Rule = Rule {
    id: "classic.xattrs",
    statement: "The CLI's archive code reads only `security.capability`, so `user.*` and \
                `security.selinux` xattrs never reach the classic builder through the CLI door. Through \
                the API, PAX xattr headers are kept and checksummed.",
    source: "https://github.com/moby/moby/blob/v20.10.24/pkg/archive/archive.go",
    if_off: "the CLI door keeps every xattr",
    status: Status::Verify,
};

pub const CHOWN_FLAG: Rule = Rule {
    id: "classic.chown-flag",
    statement: "Adding or removing `--chown` misses: the flag is part of the COPY key (moby#36378 reported \
                it was not; measured fixed on Engine 20.10.24). `--chmod` is refused without BuildKit.",
    source: "https://github.com/moby/moby/issues/36378",
    if_off: "`--chown` is not part of the COPY key (the moby#36378 stale hit)",
    status: Status::Settled { note: "measured on Engine 20.10.24 through both doors: adding --chown rebuilds" },
};

pub const ADD_URL: Rule = Rule {
    id: "classic.add-url",
    statement: "ADD URL misses on a different URL or content; the same content with a new Last-Modified hits.",
    source: "https://github.com/moby/moby/blob/v20.10.24/integration-cli/docker_cli_build_test.go",
    if_off: "(not exercised)",
    status: Status::NotExercised { why: "builds run with network mode none and nothing can be fetched" },
};

pub const OWN: &[Rule] = &[
    CONFIG_MATCH,
    COPY_KEY,
    CACHE_FROM_ONLY,
    NEWEST_MATCH,
    RUN_ARGS,
    OWNER_IGNORED,
    XATTRS,
    CHOWN_FLAG,
    ADD_URL,
];
