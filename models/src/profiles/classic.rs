//! The Docker classic builder (moby `builder/dockerfile`, `image/cache`): Engine 20.10, 26 and 28
//! (`DOCKER_BUILDKIT=0`, API version 1). Each rule's `// Versions:` line says which of them it
//! holds for. It refuses `--chmod` on every generation, and heredocs, `--link` and `ADD
//! --checksum` before Engine 26 (`--exclude` before 28), whose builder parses them and ignores
//! the flags (`Features::of`).
//!
//! Version differences noted but not modelled, because no prediction cachet can make changes
//! (moby's release notes): since 26.0 only locally built images are candidates without
//! `--cache-from`, and the platform is compared, but every image cachet's builds can hit was
//! built on that host for its one platform; the `--chown` key text gained a space in 25.0
//! (moby#45473), which changes the key but not which builds share it.

use crate::dockerfile::{canonical_args, Body, CopyArgs};
use crate::profiles::builder::{Builder, Transport};
use crate::profiles::general;
use crate::profiles::generation::{Project, Version, Versions};
use crate::profiles::profile::Profile;
use crate::rules::{Rule, RuleId, Status};
use crate::step::key::{Component, Part, SourceFact};
use crate::step::outcome::{Outcome, Reason, ReasonKind};
use crate::step::BuildOptions;

fn classic(p: &Profile) -> bool {
    p.builder == Builder::Classic
}

fn classic_cli(p: &Profile) -> bool {
    p.builder == Builder::Classic && p.transport == Transport::Cli
}

/// The docker CLI's archive code, whatever engine it talks to (the classic builder, or Buildah
/// through the compat API).
fn docker_cli(p: &Profile) -> bool {
    p.transport == Transport::Cli && matches!(p.builder, Builder::Classic | Builder::Buildah)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const CONFIG_MATCH: Rule = Rule {
    id: RuleId::new("classic.config-match"),
    statement: "A hit needs the same parent image and a matching config (User, Cmd, Env, Labels, \
                ExposedPorts, Entrypoint, Volumes): metadata instructions are keyed on the config they \
                produce, so `ENV A 1` and `ENV A=1` are the same step, and `EXPOSE 80 2375` and \
                `EXPOSE 2375 80` too (the ports are a set; the parser sorts them).",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/compare.go",
    if_off: "metadata instructions are keyed on their literal argument text",
    status: Status::Modelled,
    applies: classic,
    versions: Versions::All,
};

/// A metadata instruction's key text: the config it produces, `config` being the instruction with
/// its values expanded (off: the normalised text as written).
pub(crate) fn config_text(
    p: &Profile,
    keyword: &str,
    normalized: &str,
    config: &Body,
) -> Component {
    let text = if p.on(&CONFIG_MATCH) {
        match config {
            // The ports are a set in the config (and the parser sorts them for the history
            // line): `EXPOSE 2375 80` is `EXPOSE 80 2375` (moby's TestBuildExposeOrder).
            Body::Expose { ports } => {
                let mut ports = ports.clone();
                ports.sort();
                format!("{keyword} {}", ports.join(" "))
            }
            _ => format!("{keyword} {}", canonical_args(config)),
        }
    } else {
        normalized.to_string()
    };
    Component::text(CONFIG_MATCH.id, general::literal(p, text))
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const COPY_KEY: Rule = Rule {
    id: RuleId::new("classic.copy-key"),
    statement: "The COPY/ADD key is `#(nop) COPY <hash> in <dest>`: the spelling of the sources is not in \
                it (`COPY ./a /d` and `COPY a /d` are the same step); several sources hash as `multi:` + \
                sha256 of the per-source hashes, so every source counts.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/copy.go",
    if_off: "only the first source of a multi-source COPY is hashed (the moby#38964 stale-hit shape)",
    status: Status::Modelled,
    applies: classic,
    versions: Versions::All,
};

/// The classic COPY key: which of the sources are hashed, and the key text when the builder keys
/// on the hash (`COPY <flags> in <dest>`). Off: only the first source is hashed, and the generic
/// text (which `None` asks for) is used. Every COPY text of the classic builder cites this rule.
pub(crate) fn copy_key<'s>(
    p: &Profile,
    copy: &CopyArgs,
    keyword: &str,
    dest: &str,
    sources: &'s [String],
    checksummed: bool,
) -> (&'s [String], Option<Component>) {
    if p.off(&COPY_KEY) {
        return (&sources[..1.min(sources.len())], None);
    }
    let text = (p.on(&COPY_KEY) && checksummed).then(|| {
        Component::text(
            COPY_KEY.id,
            format!("{keyword} {} in {dest}", chown_flag(p, copy)),
        )
    });
    (sources, text)
}

/// The rule a COPY text cites on this profile: `classic.copy-key` on the classic builder.
pub(crate) fn copy_text_rule(p: &Profile) -> Option<RuleId> {
    p.follows(&COPY_KEY).then_some(COPY_KEY.id)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const CACHE_FROM_ONLY: Rule = Rule {
    id: RuleId::new("classic.cache-from-only"),
    statement:
        "With `--cache-from`, a hit must come from the named images' history: the local cache \
                counts only for images those images descend from, so a named image the host holds \
                (built here) serves the steps of its own chain and nothing else, and a named image \
                the host does not hold (cachet never pulls) gives nothing: every step rebuilds.",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/cache.go",
    if_off: "`--cache-from` adds to the local cache instead of replacing it",
    status: Status::Modelled,
    applies: classic,
    versions: Versions::All,
};

/// Why every step rebuilds under `--cache-from`: the named images are the only candidates, and
/// the host holds none of them (cachet never pulls); `sources`, those it holds (off: the local
/// cache counts too).
pub(crate) fn cache_from_only(
    p: &Profile,
    options: &BuildOptions,
    sources: Option<&std::collections::BTreeSet<u64>>,
) -> Option<Reason> {
    (!options.cache_from.is_empty() && p.on(&CACHE_FROM_ONLY) && sources.is_none()).then_some(
        Reason {
            rule: CACHE_FROM_ONLY.id,
            kind: ReasonKind::NotInCache,
        },
    )
}

/// The chains of the held images `--cache-from` names (`images`: what this host tagged), the
/// only ones its local cache may serve; `None` when the rule is off or it holds none of them.
pub(crate) fn cache_from_sources(
    p: &Profile,
    options: &BuildOptions,
    images: &std::collections::BTreeMap<String, Vec<u64>>,
) -> Option<std::collections::BTreeSet<u64>> {
    if options.cache_from.is_empty() || !p.on(&CACHE_FROM_ONLY) {
        return None;
    }
    let held: std::collections::BTreeSet<u64> = options
        .cache_from
        .iter()
        .filter_map(|r| images.get(r))
        .flatten()
        .copied()
        .collect();
    (!held.is_empty()).then_some(held)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const NEWEST_MATCH: Rule = Rule {
    id: RuleId::new("classic.newest-match"),
    statement: "Among cached images with the same parent and a matching config, the newest wins. A \
                `--no-cache` build makes new images for steps already cached, so later builds follow \
                its chain, and what hung off the older images is no longer reached.",
    source: "https://github.com/moby/moby/blob/v20.10.24/image/cache/compare.go",
    if_off: "a --no-cache build leaves the older images' descendants reachable",
    status: Status::Modelled,
    applies: classic,
    versions: Versions::All,
};

/// Whether a `--no-cache` build's new images supersede the equal older ones, cutting off what
/// hung below those (`EngineState::supersede`).
pub(crate) fn no_cache_supersedes(p: &Profile, options: &BuildOptions) -> bool {
    options.no_cache && p.on(&NEWEST_MATCH)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const RUN_ARGS: Rule = Rule {
    id: RuleId::new("classic.run-args"),
    statement:
        "RUN's key carries the build args it can see (`|N k=v ... cmd`): a changed value of a \
                declared ARG misses at every later RUN.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/dispatchers.go",
    if_off: "RUN's key carries no build args",
    status: Status::Modelled,
    applies: classic,
    versions: Versions::All,
};

/// The build args the classic RUN key carries (off: none).
pub(crate) fn run_args(p: &Profile, args: Vec<(String, String)>) -> Option<Component> {
    p.on(&RUN_ARGS).then_some(Component {
        rule: RUN_ARGS.id,
        part: Part::Args(args),
    })
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const OWNER_IGNORED: Rule = Rule {
    id: RuleId::new("classic.owner-ignored"),
    statement: "The docker CLI sends the context with uid/gid 0, so changing a file's owner hits (CLI door). \
                Through the API the tar headers are kept, and the owner is in the checksum.",
    source: "https://github.com/docker/cli/blob/v20.10.24/cli/command/image/build.go",
    if_off: "the CLI door keeps the files' owners",
    status: Status::Modelled,
    applies: classic_cli,
    versions: Versions::All,
};

/// Whether the CLI door sends every file as uid/gid 0 to the classic builder (off: as owned).
pub(crate) fn cli_resets_owner(p: &Profile) -> bool {
    p.on(&OWNER_IGNORED)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const XATTRS: Rule = Rule {
    id: RuleId::new("classic.xattrs"),
    statement: "The CLI's archive code reads only `security.capability`, so `user.*` and \
                `security.selinux` xattrs never reach the classic builder through the CLI door. Through \
                the API, PAX xattr headers are kept and checksummed.",
    source: "https://github.com/moby/moby/blob/v20.10.24/pkg/archive/archive.go",
    if_off: "the CLI door keeps every xattr",
    status: Status::Verify,
    applies: docker_cli,
    versions: Versions::All,
};

/// Whether the docker CLI's archive code keeps only `security.capability` (off: every xattr).
pub(crate) fn cli_keeps_only_capability(p: &Profile) -> bool {
    p.on(&XATTRS)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const CHOWN_FLAG: Rule = Rule {
    id: RuleId::new("classic.chown-flag"),
    statement: "Adding or removing `--chown` misses: the flag is part of the COPY key (moby#36378 reported \
                it was not; measured fixed on Engine 20.10.24). `--chmod` is refused without BuildKit.",
    source: "https://github.com/moby/moby/issues/36378",
    if_off: "`--chown` is not part of the COPY key (the moby#36378 stale hit)",
    status: Status::Settled { note: "measured on Engine 20.10.24 through both doors: adding --chown rebuilds" },
    applies: classic,
    versions: Versions::All,
};

/// `--chown` as it enters the classic COPY key (off: not at all, the moby#36378 stale hit).
fn chown_flag(p: &Profile, copy: &CopyArgs) -> String {
    if p.on(&CHOWN_FLAG) {
        format!("{:?}", copy.chown)
    } else {
        String::new()
    }
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const ADD_URL: Rule = Rule {
    id: RuleId::new("classic.add-url"),
    statement: "ADD URL misses on a different URL or content; the same content with a new Last-Modified hits.",
    source: "https://github.com/moby/moby/blob/v20.10.24/integration-cli/docker_cli_build_test.go",
    if_off: "(not exercised)",
    status: Status::NotExercised { why: "builds run with network mode none and nothing can be fetched" },
    applies: classic,
    versions: Versions::All,
};

// Versions: Engine 26 and later, whose classic builder parses heredocs; 20.10's refuses them.
pub const COPY_HEREDOC_FAILS: Rule = Rule {
    id: RuleId::new("classic.copy-heredoc-fails"),
    statement: "The classic builder parses a COPY heredoc but copies no file from it: the COPY \
                fails at its step with `no source files were specified` (the steps before it run).",
    source: "https://github.com/moby/moby/blob/v26.1.5/builder/dockerfile/copy.go#L126",
    if_off: "a COPY heredoc is copied as a file whose content is the body, as BuildKit does",
    status: Status::Settled {
        note: "measured on Engine 26.1.5 and 28.5.2 (classic, classic-cli), case copy-heredoc-body",
    },
    applies: classic,
    versions: Versions::Since {
        project: Project::Engine,
        version: Version(26, 0, 0),
        source: "https://github.com/moby/moby/releases/tag/v26.0.0",
    },
};

/// The failure of a COPY heredoc on the classic builder (off: none, it is copied).
pub(crate) fn copy_heredoc_failure(p: &Profile, keyword: &str, copy: &CopyArgs) -> Option<Outcome> {
    (!copy.heredocs.is_empty() && p.on(&COPY_HEREDOC_FAILS)).then(|| Outcome::Fails {
        why: format!("{keyword} failed: no source files were specified"),
    })
}

// Versions: Engine 26 and later, whose classic builder parses `--link` with BuildKit's instruction
// parser; 20.10's refuses the flag (`Features::of`).
pub const LINK_IGNORED: Rule = Rule {
    id: RuleId::new("classic.link-ignored"),
    statement: "The classic builder of Engine 26 and later parses `COPY --link` and `ADD --link` \
                but its dispatcher never reads the flag: the step is copied onto its parent and \
                keyed as without it (`#(nop) COPY <hash> in <dest>`), so adding or removing \
                `--link` alone hits.",
    source: "https://github.com/moby/moby/blob/v26.1.0/builder/dockerfile/dispatchers.go#L110",
    if_off: "`--link` enters the COPY key: adding or removing it alone misses",
    status: Status::Settled {
        note: "measured on Engine 26.1.5 and 28.5.2 through both doors: adding `--link` hits (corpus case copy-link-added)",
    },
    applies: classic,
    versions: Versions::Since {
        project: Project::Engine,
        version: Version(26, 0, 0),
        source: "https://github.com/moby/moby/blob/v26.1.0/vendor/github.com/moby/buildkit/frontend/dockerfile/instructions/parse.go#L349",
    },
};

/// What `--link` adds to a classic COPY or ADD key: nothing (off: the flag's word).
pub(crate) fn link_text(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    (copy.link && p.off(&LINK_IGNORED))
        .then(|| Component::text(LINK_IGNORED.id, "--link".to_string()))
}

// Versions: Engine 26 and later, whose classic builder parses `--checksum` with BuildKit's
// instruction parser; 20.10's refuses the flag (`Features::of`).
pub const CHECKSUM_IGNORED: Rule = Rule {
    id: RuleId::new("classic.checksum-ignored"),
    statement: "The classic builder of Engine 26 and later parses `ADD --checksum` but its \
                dispatcher never reads it: nothing is verified and the ADD is keyed as without \
                it, so an ADD of a context file with any checksum (which BuildKit refuses and \
                Buildah fails) is a plain ADD, and adding the flag alone hits.",
    source: "https://github.com/moby/moby/blob/v26.1.0/builder/dockerfile/dispatchers.go#L89",
    if_off: "the checksum enters the ADD key: adding or changing it alone misses",
    status: Status::Settled {
        note: "measured on Engine 26.1.5 and 28.5.2 through both doors: adding `--checksum` to an ADD of a context file hits (corpus case add-checksum-added)",
    },
    applies: classic,
    versions: Versions::Since {
        project: Project::Engine,
        version: Version(26, 0, 0),
        source: "https://github.com/moby/moby/blob/v26.1.0/vendor/github.com/moby/buildkit/frontend/dockerfile/instructions/parse.go#L309",
    },
};

/// What `--checksum` adds to a classic ADD key: nothing (off: the checksum).
pub(crate) fn checksum_text(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    let checksum = copy.checksum.as_ref()?;
    p.off(&CHECKSUM_IGNORED)
        .then(|| Component::text(CHECKSUM_IGNORED.id, format!("--checksum={checksum}")))
}

// Versions: Engine 28 and later, whose classic builder parses `--exclude` (BuildKit's instruction
// parser, Dockerfile 1.19); 26.1's refuses the flag (`Features::of`).
pub const EXCLUDE_IGNORED: Rule = Rule {
    id: RuleId::new("classic.exclude-ignored"),
    statement: "The classic builder of Engine 28 parses `COPY --exclude` (and `ADD --exclude`) \
                but its dispatcher never reads the patterns: every path of the sources is copied \
                and hashed, so a change of an excluded file misses (BuildKit's `bk.copy-exclude` \
                leaves it out and hits).",
    source: "https://github.com/moby/moby/blob/v28.5.0/builder/dockerfile/dispatchers.go#L109",
    if_off: "the excluded paths are left out of the copy and its hash, matched below each source \
             as BuildKit does: a change of one hits",
    status: Status::Settled {
        note: "measured on Engine 28.5.2 through both doors: a change of an excluded file misses (corpus case copy-exclude-changed)",
    },
    applies: classic,
    versions: Versions::Since {
        project: Project::Engine,
        version: Version(28, 0, 0),
        source: "https://github.com/moby/moby/blob/v28.5.0/vendor/github.com/moby/buildkit/frontend/dockerfile/instructions/parse.go#L384",
    },
};

/// Drops the entries an `--exclude` pattern matches by their path below the source (`below`
/// gives it) from a classic COPY's sources: never (off: as BuildKit does).
pub(crate) fn copy_exclude<T>(
    p: &Profile,
    patterns: &[String],
    entries: &mut Vec<T>,
    below: impl Fn(&T) -> String,
) {
    if patterns.is_empty() || !p.off(&EXCLUDE_IGNORED) {
        return;
    }
    let parsed = crate::dockerignore::parse_dockerignore(&patterns.join("\n"));
    entries.retain(|e| {
        let path = below(e);
        path.is_empty() || !crate::dockerignore::is_ignored(&parsed, &path)
    });
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const DISPATCH_REFUSAL: Rule = Rule {
    id: RuleId::new("classic.dispatch-refusal"),
    statement: "The classic builder refuses `COPY`/`ADD --chmod` and RUN's BuildKit flags \
                (`--mount`, `--network`, `--security`) when it dispatches that step: the steps \
                before it run and are cached, the build fails there.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/dispatchers.go#L351",
    if_off: "the whole build is refused before any step runs",
    status: Status::Verify,
    applies: classic,
    versions: Versions::All,
};

/// Whether the classic builder refuses a flag at its step rather than up front (off: up front).
pub(crate) fn refuses_at_dispatch(p: &Profile) -> bool {
    p.on(&DISPATCH_REFUSAL)
}

/// The classic builder's refusal of a COPY/ADD flag only BuildKit knows (`--chmod`).
pub(crate) fn copy_flag_refusal(p: &Profile, body: &Body) -> Option<String> {
    match body {
        Body::Copy(c) | Body::Add(c) if classic(p) && c.chmod.is_some() => {
            Some("the --chmod option requires BuildKit".to_string())
        }
        _ => None,
    }
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const EMPTY_WILDCARD_JOINED: Rule = Rule {
    id: RuleId::new("classic.empty-wildcard-joined"),
    statement: "A COPY/ADD wildcard that matches nothing fails the step only when all its \
                sources together match nothing (`no source files were specified`): `COPY a \
                *.nope /d/` copies `a`.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/copy.go#L137-L150",
    if_off: "any wildcard that matches nothing fails the step",
    status: Status::Verify,
    applies: classic,
    versions: Versions::All,
};

/// Whether a wildcard may match nothing when another source matches (off: it fails).
pub(crate) fn empty_wildcard_joined(p: &Profile) -> bool {
    p.on(&EMPTY_WILDCARD_JOINED)
}

// Versions: every generation: `archiveContext.Hash` follows the path in the context and takes
// the tarsum of what it leads to, or the path when that is no entry (moby v20.10.24
// builder/remotecontext/archive.go L97-L116, v26.1.5 and v28.5.2 L100-L119), for a file source
// and for every entry `walkSource` hashes below a directory source (v28.5.2
// builder/dockerfile/copy.go L301-L333, v20.10.24 L338-L370).
pub const SYMLINK_FOLLOWED: Rule = Rule {
    id: RuleId::new("classic.symlink-followed"),
    statement: "A symlink a COPY/ADD hashes is hashed by what it leads to in the context: the \
                daemon follows it with the context as the root and takes the tarsum of that \
                entry (its name, mode, owner, size, xattrs and content), or, when the context has \
                no such entry (a dangling link), the link's own path as a string. The link's own \
                owner and xattrs, and its target while it dangles, never count: a chown of a \
                link, or retargeting a dangling link to another missing name, hits; a change of \
                the file a link leads to misses the COPY of a directory holding only the link.",
    source: "https://github.com/moby/moby/blob/v28.5.2/builder/remotecontext/archive.go#L100-L119",
    if_off: "a symlink is hashed by its own entry (type, link target, owner), as BuildKit does",
    status: Status::Settled {
        note: "measured on Engine 20.10.24, 26.1.5 and 28.5.2 (graph and containerd stores), \
               both doors: case classic-symlink-followed (a chown and a retarget of a dangling \
               link hit, a change of the file a link leads to misses)",
    },
    applies: classic,
    versions: Versions::All,
};

/// Whether a symlink a COPY hashes stands for the entry it leads to (off: for itself).
pub(crate) fn follows_symlinks(p: &Profile) -> bool {
    p.on(&SYMLINK_FOLLOWED)
}

/// What a symlink that leads to no entry of the context is hashed as: its own path alone.
pub(crate) fn unresolved_link(path: &str) -> SourceFact {
    SourceFact {
        path: path.to_string(),
        kind: "unresolved symlink",
        content: None,
        mode: None,
        owner: None,
        times: None,
        link_target: None,
        xattrs: Vec::new(),
    }
}

// Versions: every generation (measured on 20.10, 26.1 and 28.5 with case
// dockerignore-dockerfile-edit).
pub const IGNORED_DOCKERFILE_DROPPED: Rule = Rule {
    id: RuleId::new("classic.ignored-dockerfile-dropped"),
    statement: "The daemon reads the Dockerfile from the uploaded context, then removes it and \
                `.dockerignore` from that context when `.dockerignore` matches them, so `COPY .` \
                does not see them even through an API tar (whose other ignored files stay).",
    source: "https://github.com/moby/moby/blob/v28.5.2/builder/remotecontext/detect.go#L116-L140",
    if_off: "through an API tar, an ignored Dockerfile stays in what COPY sees: an edit of it \
             misses at `COPY .`",
    status: Status::Settled {
        note: "moby's TestBuildDockerignoreTouchDockerfile asserts the hit through the CLI; \
               classic@a, classic@trixie, classic@sid and classic@sid-ctrd hit through an API \
               tar too (case dockerignore-dockerfile-edit)",
    },
    applies: classic_api,
    versions: Versions::All,
};

/// The classic builder through an API tar (through the CLI, the client has already left out
/// what `.dockerignore` matches, but for these two files).
fn classic_api(p: &Profile) -> bool {
    p.builder == Builder::Classic && p.transport == Transport::Api
}

/// What COPY sees without the Dockerfile and `.dockerignore` where `.dockerignore` matches them
/// (`classic.ignored-dockerfile-dropped`); the CLI door's own filtering has already done it.
pub(crate) fn drop_ignored_dockerfile(
    p: &Profile,
    context: &crate::context::BuildContext,
    visible: &mut std::borrow::Cow<'_, crate::context::BuildContext>,
) {
    let Some(text) = context
        .dockerignore_text()
        .filter(|_| p.on(&IGNORED_DOCKERFILE_DROPPED))
    else {
        return;
    };
    let patterns = crate::dockerignore::parse_dockerignore(&text);
    for name in [
        crate::context::DOCKERFILE_NAME,
        crate::context::DOCKERIGNORE_NAME,
    ] {
        if crate::dockerignore::is_ignored(&patterns, name) && visible.get(name).is_some() {
            visible.to_mut().entries.remove(name);
        }
    }
}

// Versions: every generation (measured on 20.10, 26.1 and 28.5 with case
// identical-stages-share).
pub const IN_BUILD_REUSE: Rule = Rule {
    id: RuleId::new("classic.in-build-reuse"),
    statement: "Each step's image is in the cache as soon as the step is done: a later stage of \
                the same build whose steps match an earlier stage's (same parent, same key) \
                reuses them, so two identical stages build once.",
    source: "https://github.com/moby/moby/blob/v28.5.2/integration-cli/docker_cli_build_test.go#L5518-L5540",
    if_off: "a step is only served by what earlier builds left: the second of two identical \
             stages rebuilds",
    status: Status::Settled {
        note: "moby's TestBuildMultiStageCache asserts one hit in the first build; classic@a, \
               classic@trixie, classic@sid and classic@sid-ctrd, both doors, hit (case \
               identical-stages-share)",
    },
    applies: classic,
    versions: Versions::All,
};

/// The rule by which a step this build made serves a later step of it, if the profile follows
/// it: `classic.in-build-reuse` or `buildah.in-build-reuse`.
pub(crate) fn in_build_reuse(p: &Profile) -> Option<RuleId> {
    [&IN_BUILD_REUSE, &crate::profiles::buildah::IN_BUILD_REUSE]
        .into_iter()
        .find(|rule| p.on(rule))
        .map(|rule| rule.id)
}

pub const RULES: &[Rule] = &[
    IN_BUILD_REUSE,
    IGNORED_DOCKERFILE_DROPPED,
    CONFIG_MATCH,
    COPY_KEY,
    CACHE_FROM_ONLY,
    NEWEST_MATCH,
    RUN_ARGS,
    OWNER_IGNORED,
    XATTRS,
    CHOWN_FLAG,
    ADD_URL,
    COPY_HEREDOC_FAILS,
    LINK_IGNORED,
    CHECKSUM_IGNORED,
    EXCLUDE_IGNORED,
    DISPATCH_REFUSAL,
    EMPTY_WILDCARD_JOINED,
    SYMLINK_FOLLOWED,
];
