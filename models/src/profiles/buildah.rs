//! Podman / Buildah through the Docker-compatible API (`imagebuildah/stage_executor.go`, `copier`,
//! `digester`): Podman 4.3 (Buildah 1.28), 5.4 (1.39) and 5.8 (1.43). Each rule's `// Versions:`
//! line says which of them it holds for; `versions` is where that is decided.
//!
//! The file is long because it is one table: each rule's const beside the function that carries it
//! out, so a builder's rules read in one place (`ARCHITECTURE.md`, "How to add a rule").
//!
//! Version differences noted but not modelled, because no prediction cachet can make changes:
//! `--cache-from` with a registry serves ARG/RUN steps from 1.29, but only from layers pushed
//! with `--cache-to`, which cachet never does (the model ignores `--cache-from` on Podman, as the
//! 4.3 compat API does); timestamp flags are keyed from 1.42, and cachet passes none.

use crate::dockerfile::{parse_mode, parse_owner, CopyArgs, Heredoc, Instruction};
use crate::profiles::builder::Builder;
use crate::profiles::general;
use crate::profiles::generation::{Generation, Project, Version, Versions};
use crate::profiles::profile::Profile;
use crate::rules::{Rule, RuleId, Status};
use crate::step::key::{Component, Part, SourceFact};
use crate::step::outcome::{Outcome, Reason, ReasonKind};
use crate::step::BuildOptions;
use std::collections::BTreeMap;

fn buildah(p: &Profile) -> bool {
    p.builder == Builder::Buildah
}

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const LAYERS: Rule = Rule {
    id: RuleId::new("buildah.layers"),
    statement: "Layer caching needs `--layers`; the Docker-compatible API turns it on.",
    source:
        "https://github.com/containers/podman/blob/v4.3.1/pkg/api/handlers/compat/images_build.go",
    if_off: "nothing is cached: every step rebuilds",
    status: Status::Modelled,
    applies: buildah,
    versions: Versions::All,
};

/// Why every step rebuilds when the layer cache is off (only when the rule is switched off: the
/// compat API turns `--layers` on).
pub(crate) fn layers_off(p: &Profile) -> Option<Reason> {
    p.off(&LAYERS).then_some(Reason {
        rule: LAYERS.id,
        kind: ReasonKind::LayersOff,
    })
}

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const FORMAT: Rule = Rule {
    id: RuleId::new("buildah.format"),
    statement:
        "A cached layer matches only with the same image format (OCI vs docker) and platform; the \
                compat API forces docker format.",
    source: "https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "the compat API always builds docker format, so the format never varies",
    },
    applies: buildah,
    versions: Versions::All,
};

// Versions: every generation (Podman 4.3, 5.4, 5.8): getCreatedBy is the same on 1.28.2
// (stage_executor.go L1541-L1546), 1.39.3 (L1951-L1956) and 1.43.0 (L2004-L2013, plus ` --link`).
pub const COPY_DIGEST: Rule = Rule {
    id: RuleId::new("buildah.copy-digest"),
    statement: "COPY/ADD are keyed on `KEYWORD <digest> in DEST` (getCreatedBy): the digest of the \
                tar stream the copy makes, and the destination as written, never the flags' text. \
                The stream has `--chown`'s owner (a context source's default 0:0; a `COPY --from` \
                keeps the source stage's owners, PreserveOwnership) and `--chmod`'s mode, times \
                zeroed (copier.go): a context owner change hits; mode, content, name and `user.*` / \
                `security.capability` xattrs miss; under `--chmod` a source mode change hits \
                (unlike BuildKit); a flag that leaves the stream as it was (`--chown=0:0` on a \
                context file, `--chmod` of the mode it has, dropping `--chown=2:2` from a \
                `COPY --from` of a file owned 2:2) hits, and `--chown` over a `COPY --from` masks \
                the source's owner. A source directory's own metadata is not in the stream, only \
                its contents (measured on Podman 4.3.1).",
    source: "https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go#L1541-L1546",
    if_off: "the COPY is keyed on its text with its flags, the source's own owner and a source \
             directory's own metadata are hashed, `--chmod` does not mask the source mode, and \
             a `COPY --from` source keeps the owner and mode it had in its stage",
    status: Status::Modelled,
    applies: buildah,
    versions: Versions::All,
};

/// A source's facts as Buildah's digest of the copied stream sees them: owned by `--chown`'s user
/// (default 0:0), `--chmod`'s mode if given (off: the source's own owner and mode). The stream
/// keeps `user.*` and `security.capability` xattrs only.
pub(crate) fn stream_fact(p: &Profile, copy: &CopyArgs, fact: &mut SourceFact) {
    if p.on(&COPY_DIGEST) {
        fact.owner = Some(
            copy.chown
                .as_deref()
                .and_then(parse_owner)
                .unwrap_or((0, 0)),
        );
        if let Some(mode) = copy.chmod.as_deref().and_then(parse_mode) {
            fact.mode = Some(mode);
        }
    }
    if p.follows(&COPY_DIGEST) {
        fact.xattrs
            .retain(|(name, _)| name.starts_with("user.") || name == "security.capability");
    }
}

/// The COPY/ADD text Buildah keys on: the keyword and the destination (`COPY_DIGEST`; off: none,
/// and the caller keys the whole instruction with its flags).
pub(crate) fn copy_text(p: &Profile, keyword: &str, dest: &str) -> Option<Component> {
    p.on(&COPY_DIGEST)
        .then(|| Component::text(COPY_DIGEST.id, format!("{keyword} in {dest}")))
}

/// A `COPY --from` entry as the stream has it: `--chown`'s owner and `--chmod`'s mode where
/// given, else its own (PreserveOwnership: add.go v1.28.2 L286-L294). Off: as placed.
pub(crate) fn stream_entry(
    p: &Profile,
    copy: &CopyArgs,
    owner: &mut Option<(u32, u32)>,
    mode: &mut Option<u32>,
) {
    if !p.on(&COPY_DIGEST) {
        return;
    }
    if let Some(chown) = copy.chown.as_deref().and_then(parse_owner) {
        *owner = Some(chown);
    }
    if let Some(chmod) = copy.chmod.as_deref().and_then(parse_mode) {
        *mode = Some(chmod);
    }
}

/// What `--chown` / `--chmod` do to the stream of what a RUN or an image made, which the model
/// knows only as one digest (`copy.from-chain`): keyed as the flags (off: nothing; the text has
/// them).
pub(crate) fn made_stream_flags(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    let given = copy.chown.is_some() || copy.chmod.is_some();
    (given && p.on(&COPY_DIGEST)).then(|| {
        let flags = format!("chown={:?} chmod={:?}", copy.chown, copy.chmod);
        Component::text(COPY_DIGEST.id, flags)
    })
}

/// A `--chown` that is no numeric owner (a user name, or a variable left as written): Buildah
/// resolves a name in the stage's `/etc/passwd`, which the model does not read, so the owner it
/// gives the stream is keyed as the name (off: nothing; the text has it).
pub(crate) fn named_owner(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    let chown = copy.chown.as_deref()?;
    (parse_owner(chown).is_none() && p.on(&COPY_DIGEST))
        .then(|| Component::text(COPY_DIGEST.id, format!("--chown={chown}")))
}

/// Whether a source directory's own entry is hashed: not in Buildah's stream, which holds only its
/// contents (measured on Podman 4.3.1: a mode change of `d` in `COPY d /d` hits). Off: it is.
pub(crate) fn hashes_dir_itself(p: &Profile) -> bool {
    !p.on(&COPY_DIGEST)
}

/// Whether a COPY from the context that placed no entry (its sources are empty directories, or
/// everything was excluded) still leaves its destination directory in the stage, for a later
/// `COPY --from` or bind mount to find: Buildah hashes only a directory's contents
/// (`hashes_dir_itself`), but makes the destination directory before it copies anything, empty or
/// not (add.go `Add`, "Create the target directory if it doesn't exist yet": `copier.Mkdir(mountPoint,
/// extractDirectory, ...)`, v1.28.2 L379-L387, v1.43.0 L579):
/// https://github.com/containers/buildah/blob/v1.28.2/add.go#L379-L387. Off (the directory
/// itself is hashed, and placed like any source entry): nothing to add.
pub(crate) fn makes_destination_dir(p: &Profile) -> bool {
    p.on(&COPY_DIGEST)
}

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const RUN_KEY: Rule = Rule {
    id: RuleId::new("buildah.run-key"),
    statement: "RUN is keyed on the command and the resolved build args: a changed value of a declared ARG \
                misses at every later RUN, used or not.",
    source: "https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go",
    if_off: "RUN is keyed on the command only",
    status: Status::Settled { note: "measured on Podman 4.3.1: every later RUN misses, used or not" },
    applies: buildah,
    versions: Versions::All,
};

/// The build args Buildah's RUN key carries (off: none).
pub(crate) fn run_args(p: &Profile, args: Vec<(String, String)>) -> Option<Component> {
    p.on(&RUN_KEY).then_some(Component {
        rule: RUN_KEY.id,
        part: Part::Args(args),
    })
}

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const ARG_NAMES: Rule = Rule {
    id: RuleId::new("buildah.arg-names"),
    statement: "ARG is a step of its own, keyed only on the names of the declared args that hold a \
                value, not on its text (`ARG V W=1` then `ARG V W=2` hits, as does `arg V`: \
                measured on Podman 5.4.2 and 5.8.6): one \
                given by `--build-arg`, the ARG's own default, or the value of a global ARG it redeclares (imagebuilder's \
                `arg` sets them). Giving or dropping a \
                `--build-arg` for an ARG without a default misses at the ARG step itself; for one with a \
                default, or redeclaring a global that has one, it hits there, and a new value never \
                misses there (buildah#5501 shows `ARG counter` using cache with a new value). \
                The predefined proxy args (`http_proxy`, `NO_PROXY`, ... in either case) are \
                declared from the start: giving or dropping one misses at every ARG step, a new \
                value hits (the step's history line is `ARG` and the sorted names of the args \
                that hold a value and are allowed: `getBuildArgsKey`, stage_executor.go v1.28.2 \
                L1610-L1619, v1.43.0 L2077-L2086; imagebuilder's builtinAllowedBuildArgs).",
    source: "https://github.com/containers/buildah/pull/2938",
    if_off: "the ARG step is keyed on its text only, whatever holds a value",
    status: Status::Modelled,
    applies: buildah,
    versions: Versions::All,
};

/// The ARG step's key beyond its text (off: nothing): the names the stage has declared so far
/// (`scope`, this step's included) that hold a value. A global ARG counts only once redeclared
/// in the stage: `--build-arg G` for a global `ARG G` leaves a stage's `ARG W=1` cached on
/// Podman 4.3, 5.4 and 5.8 (case `global-arg-given-keys-stage-arg`).
/// Whether an ARG step is keyed on its names alone, not its text (`ARG_NAMES`).
pub(crate) fn keys_arg_names_only(p: &Profile) -> bool {
    p.on(&ARG_NAMES)
}

pub(crate) fn arg_names(
    p: &Profile,
    scope: &BTreeMap<String, Option<String>>,
    given: &BTreeMap<String, String>,
) -> Option<Component> {
    let proxies = given
        .keys()
        .filter(|name| PROXY_ARGS.contains(&name.as_str()));
    p.on(&ARG_NAMES).then(|| Component {
        rule: ARG_NAMES.id,
        part: Part::Args(
            scope
                .iter()
                .filter(|(_, v)| v.is_some())
                .map(|(n, _)| n)
                .chain(proxies)
                .map(|n| (n.clone(), "set".to_string()))
                .collect(),
        ),
    })
}

/// The build args imagebuilder allows without an ARG line (`builtinAllowedBuildArgs`,
/// vendor/github.com/openshift/imagebuilder/builder.go, the same in Buildah 1.28 and 1.43).
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const ENV_RAW: Rule = Rule {
    id: RuleId::new("buildah.env-raw"),
    statement:
        "ENV and LABEL are keyed on the unexpanded text as written, keyword case included (`env` and \
                `ENV` differ, measured on Podman 4.3.1), so `ENV X=$A` with a new `A` hits with a stale \
                value (buildah#5501, podman#20441).",
    source: "https://github.com/containers/buildah/issues/5501",
    if_off: "ENV and LABEL are keyed on the expanded text",
    status: Status::Modelled,
    applies: buildah,
    versions: Versions::All,
};

// Versions: every generation (measured on Podman 4.3.1, 5.4.2 and 5.8.6, case
// metadata-keyword-case). Buildah's history entry for these instructions is the line as the
// Dockerfile has it (`node.Original`), and the layer cache compares history entries.
pub const KEYWORD_AS_WRITTEN: Rule = Rule {
    id: RuleId::new("buildah.keyword-as-written"),
    statement: "Every instruction but FROM, RUN, COPY, ADD and ARG is keyed with its keyword as \
                written: `healthcheck NONE` misses where `HEALTHCHECK NONE` was \
                cached, and so do `expose`, `cmd`, `workdir`, `user`, `volume` and the rest \
                (the other builders read the keyword case-blind).",
    source: "https://github.com/containers/buildah/blob/v1.39.0/imagebuildah/stage_executor.go",
    if_off: "the keyword's case is not keyed",
    status: Status::Settled {
        note: "measured with metadata-keyword-case on Podman 4.3.1, 5.4.2 and 5.8.6",
    },
    applies: buildah,
    versions: Versions::All,
};

/// The keyword a metadata instruction is keyed with: as written (`KEYWORD_AS_WRITTEN`), else in
/// capitals.
pub(crate) fn keyed_keyword<'i>(p: &Profile, instruction: &'i Instruction) -> &'i str {
    match p.on(&KEYWORD_AS_WRITTEN) {
        true => &instruction.keyword,
        false => instruction.body.keyword(),
    }
}

/// ENV and LABEL key text: the line as written, keyword case included (off: the expanded pairs).
pub(crate) fn env_text(
    p: &Profile,
    instruction: &Instruction,
    expanded: &[(String, String)],
) -> Component {
    let text = if p.on(&ENV_RAW) {
        format!("{} {}", instruction.keyword, instruction.joined_args())
    } else {
        format!("{} {expanded:?}", instruction.body.keyword())
    };
    Component::text(ENV_RAW.id, general::literal(p, text))
}

// Versions: Buildah 1.41 and later (Podman 5.8); before, podman#21310 (a --no-cache build's
// layers are not what the next build finds) is a recorded divergence of 4.3.
pub const NEWEST_MATCH: Rule = Rule {
    id: RuleId::new("buildah.newest-match"),
    statement: "Among cached layers with the same parent and key, the newest wins: a `--no-cache` \
                build makes new layers for steps already cached, later builds follow its chain, and \
                what hung off the older layers is no longer reached.",
    source: "https://github.com/containers/buildah/pull/6171",
    if_off: "a --no-cache build leaves the older layers' descendants reachable (Buildah before 1.41)",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 41, 0),
        source: "https://github.com/containers/buildah/pull/6171",
    },
};

/// Whether a `--no-cache` build's new layers supersede the equal older ones
/// (`EngineState::supersede`), as on the classic builder.
pub(crate) fn no_cache_supersedes(p: &Profile, options: &BuildOptions) -> bool {
    options.no_cache && p.on(&NEWEST_MATCH)
}

// Versions: Podman 5.4 (Buildah 1.39) and 5.8 (1.43); Podman 4.3 (1.28) accepts the reference and
// ignores it. Measured on these engines; the release that changed it is not pinned down.
pub const CACHE_FROM_REPO: Rule = Rule {
    id: RuleId::new("buildah.cache-from-repo"),
    statement: "`--cache-from` names a repository for Buildah's distributed cache, not an image: a \
                reference with a tag or digest refuses the whole build (\"repository must contain \
                neither a tag nor digest\").",
    source: "https://docs.podman.io/en/latest/markdown/podman-build.1.html#cache-from",
    if_off: "a tagged --cache-from is accepted and ignored (Podman 4.3)",
    status: Status::Settled {
        note: "measured: Podman 5.4.2 and 5.8.6 refuse cachet's tagged --cache-from through the compat \
               API and the docker CLI (classic-cache-from-replaces-local); 4.3.1 builds",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 39, 0),
        source: "https://docs.podman.io/en/latest/markdown/podman-build.1.html#cache-from",
    },
};

/// Why the build is refused before it starts: a `--cache-from` with a tag or digest
/// (`buildah.cache-from-repo`).
pub(crate) fn cache_from_refusal(p: &Profile, options: &BuildOptions) -> Option<String> {
    let tagged = |r: &&String| {
        r.contains('@') || r.rsplit('/').next().is_some_and(|last| last.contains(':'))
    };
    let reference = options.cache_from.iter().find(tagged)?;
    p.on(&CACHE_FROM_REPO).then(|| {
        format!("--cache-from `{reference}`: repository must contain neither a tag nor digest")
    })
}

// Versions: Buildah 1.35 and later (Podman 5.4, 5.8); Podman 4.3 refuses heredocs.
pub const HEREDOC_KEYED: Rule = Rule {
    id: RuleId::new("buildah.heredoc-keyed"),
    statement: "A RUN heredoc's body enters the step's history text, trimmed of leading and \
                trailing white space (`strings.TrimSpace`): an edit of the body misses, a blank \
                line added at its end hits. A COPY heredoc is a temporary file holding the body, \
                digested like a context file.",
    source: "https://github.com/containers/buildah/pull/5261",
    if_off:
        "a heredoc's body is left out of the key (Buildah before 1.35): an edit of it alone hits",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 35, 0),
        source: "https://github.com/containers/buildah/pull/5261",
    },
};

/// What a RUN's heredoc bodies put into Buildah's key: each body trimmed (off: nothing).
pub(crate) fn run_heredoc(p: &Profile, heredocs: &[Heredoc]) -> Option<Component> {
    (p.on(&HEREDOC_KEYED) && !heredocs.is_empty()).then(|| Component {
        rule: HEREDOC_KEYED.id,
        part: Part::Text(
            heredocs
                .iter()
                .map(|h| format!("\n{}", h.content.trim()))
                .collect(),
        ),
    })
}

/// Whether a COPY heredoc's body is digested as a file's content (off: as an empty file).
pub(crate) fn copy_heredoc_keyed(p: &Profile) -> bool {
    !p.off(&HEREDOC_KEYED)
}

// Versions: Buildah 1.39 and later (Podman 5.4, 5.8); Podman 4.3 (1.28) keys no mount.
pub const BIND_SOURCES: Rule = Rule {
    id: RuleId::new("buildah.bind-sources"),
    statement: "A `RUN --mount=type=bind` from the context appends a checksum of the bound path \
                (`source`, default the whole context) to the RUN's history text: a change of the \
                bound files misses. Before 1.39 nothing of a mount was keyed and it hit.",
    source: "https://github.com/containers/buildah/pull/5691",
    if_off: "the bound files are not keyed (Buildah before 1.39): a change of them hits",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 39, 0),
        source: "https://github.com/containers/buildah/pull/5691",
    },
};

// Versions: as `buildah.bind-sources` (Buildah 1.39 on); measured on Podman 5.4.2 and 5.8.6 with
// case run-bind-digest-fields (found by the seed-8 triage on podman@trixie-podman).
pub const BIND_DIGEST_FIELDS: Rule = Rule {
    id: RuleId::new("buildah.bind-digest-fields"),
    statement: "The checksum of a context bind mount's files holds their content, mode and owner \
                (as the context arrives: the docker CLI sends 0:0) but no xattrs: a changed \
                `user.*` or `security.capability` xattr of a bound file hits, a chown misses \
                through the API tar (unlike COPY, whose owner `--chown` or 0:0 replaces).",
    source: "https://github.com/containers/buildah/pull/5691",
    if_off:
        "the bound files are keyed as COPY keys its sources: owner replaced by 0:0, xattrs kept",
    status: Status::Settled {
        note: "measured with run-bind-digest-fields on Podman 5.4.2 and 5.8.6, API and CLI doors",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 39, 0),
        source: "https://github.com/containers/buildah/pull/5691",
    },
};

/// A bound context file's fact as the bind checksum sees it (`BIND_DIGEST_FIELDS`): the owner it
/// arrived with (`arrived`), no xattrs.
pub(crate) fn bind_fact(p: &Profile, fact: &mut SourceFact, arrived: (u32, u32)) {
    if p.on(&BIND_DIGEST_FIELDS) {
        fact.owner = Some(arrived);
        fact.xattrs.clear();
    }
}

/// Whether a RUN's context bind mounts are keyed on the bound files (off: not).
pub(crate) fn keys_bind_sources(p: &Profile) -> bool {
    p.on(&BIND_SOURCES)
}

// Versions: Buildah 1.42 and later (Podman 5.8); on 1.39-1.41 (Podman 5.4) mtimes are in it.
pub const BIND_MTIME_IGNORED: Rule = Rule {
    id: RuleId::new("buildah.bind-mtime-ignored"),
    statement: "The checksum of a RUN's bind-mounted context files zeroes their times: a `touch` \
                alone hits. On 1.39-1.41 the tar headers kept mtimes and a `touch` missed.",
    source: "https://github.com/containers/buildah/pull/6311",
    if_off: "the bound files' mtimes are in the checksum (Buildah 1.39-1.41)",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 42, 0),
        source: "https://github.com/containers/buildah/pull/6311",
    },
};

/// Whether a bound file's mtime is in Buildah's bind checksum: where sources are keyed and times
/// are not yet zeroed (`buildah.bind-mtime-ignored` off or not yet in force).
pub(crate) fn bind_keeps_mtime(p: &Profile) -> bool {
    p.follows(&BIND_SOURCES) && !p.on(&BIND_MTIME_IGNORED)
}

// Versions: Buildah 1.29 and later (Podman 5.4, 5.8): commit ac7458e70, first in v1.29.0, for
// buildah#4522; Buildah 1.28 (Podman 4.3) looks the RUN up as any other. A later commit
// (3c13b9a1f, after 1.43) starts keying previous stages by digest.
pub const BIND_STAGE_KEYED: Rule = Rule {
    id: RuleId::new("buildah.bind-stage-keyed"),
    statement:
        "A RUN whose `--mount=...,from=STAGE` names an earlier stage that executed its last step \
                in this build (`didExecute`: the step was not served from the layer cache) skips \
                the cache lookup and runs again (`avoidLookingCache`, stage_executor.go v1.43.0 \
                L1530-L1538), whatever the mounted files hold; the steps after it then hang off a \
                new layer and miss too. The mounted stage's content never enters the RUN's key \
                (the history text gains checksums of images and build contexts only, L1949-L1951), \
                so while that stage is served from cache the RUN hits, changed content or not. \
                Buildah 1.28 does not skip the lookup. A cached last step that makes no layer \
                (ENV, USER) also counts as executed upstream: that is an engine bug, recorded as \
                a divergence (case run-bind-stage-metadata-last), not modelled.",
    source: "https://github.com/containers/buildah/blob/v1.43.0/imagebuildah/stage_executor.go#L1530-L1538",
    if_off: "the RUN is looked up as any other, the mounted stage adding nothing to its key \
             (Buildah 1.28): it hits after that stage ran",
    status: Status::Settled {
        note: "measured with run-bind-stage and buildah-bind-stage-executed: Podman 5.4.2 and \
               5.8.6 rerun the RUN after the mounted stage ran, even when it wrote the same file; \
               4.3.1 hits",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 29, 0),
        source: "https://github.com/containers/buildah/commit/ac7458e70d02c10f78e09d4e6aaaacdd14e7ae92",
    },
};

/// Whether a RUN's mounts of earlier stages decide whether its cache is looked up at all
/// (`BIND_STAGE_KEYED`; off: they do not, and add nothing to its key).
pub(crate) fn skips_lookup_after_stage_ran(p: &Profile) -> bool {
    p.on(&BIND_STAGE_KEYED)
}

/// Why a RUN runs whatever is cached: a stage it mounts executed its last step in this build.
pub(crate) fn mounted_stage_ran() -> Reason {
    Reason {
        rule: BIND_STAGE_KEYED.id,
        kind: ReasonKind::NotInCache,
    }
}

/// Whether every step a build ran makes a layer newer than an equal cached one, which later
/// builds then follow (`NEWEST_MATCH`): a RUN that skipped the lookup after a mounted stage ran
/// (`BIND_STAGE_KEYED`) re-lays a layer whose key is cached.
pub(crate) fn ran_steps_supersede(p: &Profile) -> bool {
    p.on(&NEWEST_MATCH) && p.on(&BIND_STAGE_KEYED)
}

// Versions: Buildah 1.41 and later (Podman 5.8); before, Buildah refuses `--link`.
pub const LINK_KEYED: Rule = Rule {
    id: RuleId::new("buildah.link-keyed"),
    statement:
        "`COPY --link` is accepted from Buildah 1.41 but keyed as a plain COPY: the cache search \
                still matches the parent layer, so a change in earlier steps misses it (unlike \
                BuildKit's `bk.link`), and the history line it compares gains ` --link`, so adding \
                or removing the flag misses.",
    source:
        "https://github.com/containers/buildah/blob/v1.41.0/imagebuildah/stage_executor.go#L2006",
    if_off: "`--link` is left out of the history line: adding or removing it alone hits",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 41, 0),
        source: "https://github.com/containers/buildah/pull/6240",
    },
};

/// What `--link` adds to a COPY's key: the word in the history line (off: nothing).
pub(crate) fn link_text(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    (copy.link && p.on(&LINK_KEYED)).then(|| Component::text(LINK_KEYED.id, "--link".to_string()))
}

// Versions: Buildah 1.33 and later (Podman 5.4, 5.8); Buildah 1.28 refuses `--checksum`.
pub const ADD_CHECKSUM_LOCAL_FAILS: Rule = Rule {
    id: RuleId::new("buildah.add-checksum-local-fails"),
    statement: "`ADD --checksum` is accepted from Buildah 1.33 for URLs only: with a context \
                source the ADD fails at its step (`checksum flag is not supported for local \
                sources`), after the steps before it ran.",
    source: "https://github.com/containers/buildah/blob/v1.33.0/add.go#L467",
    if_off: "`--checksum` on a context source is ignored: the ADD is keyed as without it",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 33, 0),
        source: "https://github.com/containers/buildah/pull/5135",
    },
};

/// The failure of an `ADD --checksum` of a context source (off: none).
pub(crate) fn add_checksum_failure(p: &Profile, copy: &CopyArgs) -> Option<Outcome> {
    let local = copy.sources.iter().any(|s| !s.contains("://"));
    (copy.checksum.is_some() && local && p.on(&ADD_CHECKSUM_LOCAL_FAILS)).then(|| Outcome::Fails {
        why: "ADD failed: checksum flag is not supported for local sources".to_string(),
    })
}

// Versions: Buildah 1.38 and later (Podman 5.4, 5.8); 1.28 refuses `--exclude`. Buildah 1.44
// (after every generation here) also joins each pattern to each source (buildah#6726).
pub const COPY_EXCLUDE_CONTEXT: Rule = Rule {
    id: RuleId::new("buildah.copy-exclude-context"),
    statement:
        "`COPY --exclude=PATTERN` leaves the matching paths out of the copy and its digest, but \
                the patterns are added to the `.containerignore` ones and matched against context \
                paths: `COPY --exclude=b d /d` keeps `d/b` (a change of it misses; BuildKit's \
                `bk.copy-exclude` drops it), `COPY --exclude=d/b d /d` drops it.",
    source:
        "https://github.com/containers/buildah/blob/v1.39.0/imagebuildah/stage_executor.go#L374",
    if_off: "`--exclude` patterns are ignored: every path stays in the digest",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 38, 0),
        source:
            "https://github.com/containers/buildah/commit/aeb6ffeece48e08014ac1dbeb90dc13648ade407",
    },
};

/// Drops the entries whose context path an `--exclude` pattern matches (off: keeps them).
pub(crate) fn copy_exclude<T>(
    p: &Profile,
    patterns: &[String],
    entries: &mut Vec<T>,
    context_path: impl Fn(&T) -> String,
) {
    if patterns.is_empty() || !p.on(&COPY_EXCLUDE_CONTEXT) {
        return;
    }
    let parsed = crate::dockerignore::parse_dockerignore(&patterns.join("\n"));
    entries.retain(|e| !crate::dockerignore::is_ignored(&parsed, &context_path(e)));
}

// Versions: Buildah 1.40 and later (Podman 5.8); 1.37 to 1.39 (Podman 5.4) parse `--parents` and
// fail the COPY at its step, 1.28 refuses the flag.
pub const COPY_PARENTS: Rule = Rule {
    id: RuleId::new("buildah.copy-parents"),
    statement:
        "`COPY --parents` keeps each source's context path under the destination (`COPY --parents \
                d/a /x/` makes `/x/d/a`); the copied stream names the entries so, with their parent \
                directories, and its digest differs from the same COPY without the flag. Before \
                1.40 the COPY fails at its step (`COPY --parents is not supported`).",
    source: "https://github.com/containers/buildah/commit/7ca9f3464b87b299a3b63e3cb531c96cb11acbf1",
    if_off: "the COPY fails at its step, as before 1.40",
    status: Status::Verify,
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 40, 0),
        source: "https://github.com/containers/buildah/releases/tag/v1.40.0",
    },
};

/// Whether a `--parents` COPY is copied with its context paths (`buildah.copy-parents`).
pub(crate) fn keeps_parents(p: &Profile, copy: &CopyArgs) -> bool {
    copy.parents && p.on(&COPY_PARENTS)
}

/// A `--parents` COPY's failure on Buildah before 1.40 (and with the rule off).
pub(crate) fn copy_parents_failure(p: &Profile, copy: &CopyArgs) -> Option<Outcome> {
    (buildah(p) && copy.parents && !p.on(&COPY_PARENTS)).then(|| Outcome::Fails {
        why: "COPY --parents is not supported".to_string(),
    })
}

/// What `--parents` adds to the key: the stream's entry names differ (`buildah.copy-parents`).
pub(crate) fn parents_text(p: &Profile, copy: &CopyArgs) -> Option<Component> {
    keeps_parents(p, copy).then(|| Component::text(COPY_PARENTS.id, "--parents".to_string()))
}

// Versions: every generation (Podman 4.3, 5.4, 5.8).
pub const EMPTY_WILDCARD_JOINED: Rule = Rule {
    id: RuleId::new("buildah.empty-wildcard-joined"),
    statement: "A COPY/ADD wildcard that matches nothing fails the step only when all its \
                sources together match nothing: `COPY a *.nope /d/` copies `a`.",
    source: "https://github.com/containers/buildah/blob/v1.39.0/copier/copier.go",
    if_off: "any wildcard that matches nothing fails the step",
    status: Status::Settled {
        note: "measured with lang-empty-wildcard-joined on Podman 4.3.1, 5.4 and 5.8: `a` is \
               copied (the model had Buildah fail at any empty wildcard)",
    },
    applies: buildah,
    versions: Versions::All,
};

/// Whether a wildcard may match nothing when another source matches (off: it fails).
pub(crate) fn empty_wildcard_joined(p: &Profile) -> bool {
    p.on(&EMPTY_WILDCARD_JOINED)
}

// Versions: Podman 5.8 (Buildah 1.43) here; Podman 5.4 (Buildah 1.39) and 4.3 (1.28) do not.
pub const STAGE_ARGS: Rule = Rule {
    id: RuleId::new("buildah.stage-args"),
    statement: "A stage built FROM an earlier stage keeps that stage's declared ARGs, so a new \
                --build-arg value of an ARG only the parent declared misses at the child's RUN.",
    source: "https://github.com/containers/buildah/releases/tag/v1.43.0",
    if_off: "a stage built FROM another starts without its ARGs (Buildah 1.39 and before)",
    status: Status::Settled {
        note: "measured with stage-args-inherited: Podman 5.8 misses, 5.4.2 and 4.3.1 hit; the \
               change lies between Buildah 1.39 and 1.43 (not pinned to a commit)",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 43, 0),
        source: "https://github.com/containers/buildah/releases/tag/v1.43.0",
    },
};

/// Whether a stage built FROM another keeps that stage's declared ARGs (`buildah.stage-args`).
pub(crate) fn inherits_stage_args(p: &Profile) -> bool {
    p.on(&STAGE_ARGS)
}

// Versions: Podman 5.4 (Buildah 1.39) and 5.8 here; Podman 4.3 (Buildah 1.28) does not.
pub const WORDS_AT_STEP: Rule = Rule {
    id: RuleId::new("buildah.words-at-step"),
    statement: "A word the lexer refuses fails the build at its step, and a FROM name is expanded \
                with the global ARGs' defaults too. Buildah 1.28 fails such a build before its \
                first step: the refused word, or a FROM name that only a default made name a \
                stage, when nothing else needs that stage: its executor decides which stages to \
                skip with FROM names expanded with the given build args only (executor.go \
                v1.28.2 L651-L667, L796-L806), so the stage is skipped and its name is pulled \
                as an image. A `COPY --from` or a mount's `from=` naming the stage has it built, \
                and the FROM (expanded with the defaults) builds on it.",
    source: "https://github.com/containers/buildah/releases/tag/v1.39.0",
    if_off: "such builds fail before their first step (Buildah 1.28)",
    status: Status::Settled {
        note: "measured with lang-required-var, lang-trim-suffix and lang-from-expanded-stage: \
               Podman 4.3.1 fails them before the first step (and builds the stage a \
               --build-arg names), 5.4 and 5.8 fail at the step or build the named stage; with \
               buildah-from-default-arg-stage-needed: 4.3.1 builds on a stage a COPY --from needs",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 39, 0),
        source: "https://github.com/containers/buildah/releases/tag/v1.39.0",
    },
};

/// Whether a refused word or an expanded stage name fails the build before its first step
/// (Buildah 1.28: `buildah.words-at-step` does not hold).
pub(crate) fn fails_words_up_front(p: &Profile) -> bool {
    buildah(p) && !p.on(&WORDS_AT_STEP)
}

// Versions: every generation with an unknown flag, Podman 4.3 and 5.4 (measured on 4.3;
// imagebuilder parses a flag when it dispatches its instruction on every version here).
pub const FLAG_AT_STEP: Rule = Rule {
    id: RuleId::new("buildah.flag-at-step"),
    statement: "Buildah refuses a flag it does not know (`COPY --link` before 1.41) when it \
                dispatches that step: the steps before it run and are cached, the build fails \
                there.",
    source: "https://github.com/openshift/imagebuilder/blob/master/dispatchers.go",
    if_off: "the whole build is refused before any step runs",
    status: Status::Settled {
        note: "found by cachet run --seed 1 on podman@podman (Podman 4.3.1): after a build \
               refused at `COPY --link`, the steps before it hit in the next build (cases \
               buildah-flag-at-step)",
    },
    applies: buildah_refusing_flags,
    versions: Versions::All,
};

// Versions: every generation (measured on Podman 4.3, 5.4 and 5.8 with case
// identical-stages-needed).
pub const IN_BUILD_REUSE: Rule = Rule {
    id: RuleId::new("buildah.in-build-reuse"),
    statement: "A step's layer is in the store as soon as the step is committed: a later stage \
                of the same build whose steps match a built stage's (same parent, same key) \
                reuses them (Buildah skips a stage nothing needs, so both must be built).",
    source: "https://github.com/containers/buildah/blob/v1.43.0/imagebuildah/stage_executor.go",
    if_off: "a step is only served by what earlier builds left: the second of two identical \
             built stages rebuilds",
    status: Status::Settled {
        note: "podman and podman-cli on Podman 4.3.1, 5.4.2 and 5.8.6 hit the second stage's \
               `COPY a /a` in the first build (case identical-stages-needed)",
    },
    applies: buildah,
    versions: Versions::All,
};

// Versions: the Buildah generations whose frontend has no heredocs (`Features::heredoc`:
// Podman 4.3's Buildah 1.28; heredocs came with 1.35).
pub const HEREDOC_AS_LINES: Rule = Rule {
    id: RuleId::new("buildah.heredoc-as-lines"),
    statement: "Without heredoc support, `RUN <<EOF` is a RUN of that text (keyed on it, run as \
                written) and each line of the body is an instruction of its own. The frontend \
                looks an instruction up only when it dispatches it, so the build fails at the \
                body's first line (an unknown instruction) after the steps before it ran, and \
                Podman counts the body's lines among the stage's steps.",
    source: "https://github.com/containers/buildah/blob/v1.28.2/vendor/github.com/openshift/imagebuilder/builder.go#L387-L391",
    if_off: "the whole build is refused before any step runs",
    status: Status::Settled {
        note: "found by cachet run --seed 13 on podman-cli@podman (Podman 4.3.1): `RUN <<EOF` \
               made a layer and the build failed at `STEP 4/5: echo x` with `Unknown \
               instruction: \"ECHO\"`; the next build's earlier steps hit (case \
               buildah-heredoc-body-at-step)",
    },
    applies: buildah_without_heredocs,
    versions: Versions::All,
};

fn buildah_without_heredocs(p: &Profile) -> bool {
    buildah(p)
        && p.features.support(crate::dockerfile::Feature::Heredoc)
            == crate::profiles::generation::Support::No
}

/// Whether the profile's frontend reads heredocs (`buildah.heredoc-as-lines` says what one
/// without them does; elsewhere a frontend without them refuses the build up front).
pub fn reads_heredocs(p: &Profile) -> bool {
    !p.on(&HEREDOC_AS_LINES)
}

/// Buildah generations with a Dockerfile flag they do not know (Podman 5.8 knows every flag the
/// model has).
fn buildah_refusing_flags(p: &Profile) -> bool {
    buildah(p) && p.generation != Generation::Podman5_8
}

/// Whether Buildah refuses an unknown flag at its step rather than up front (off: up front).
pub(crate) fn refuses_flags_at_step(p: &Profile) -> bool {
    p.on(&FLAG_AT_STEP)
}

// Versions: Buildah 1.43 (Podman 5.8.6 ships 1.43.2); Buildah 1.39 (Podman 5.4.2) expands a
// global ARG's default without the platform ARGs it was not given by a global `ARG` line, while
// its FROM lines see them. Measured with case lang-platform-arg-global; the change that made
// the defaults see them lies between those releases and was not pinned down: the source is the
// release measured, not the change.
pub const PLATFORM_ARGS_IN_DEFAULTS: Rule = Rule {
    id: RuleId::new("buildah.platform-args-in-defaults"),
    statement: "A global ARG's default sees the automatic platform ARGs without an `ARG \
                TARGETARCH` line of its own (`ARG T=${TARGETARCH:+s0}` is `s0`), as on BuildKit. \
                Before (Buildah 1.39) such a default sees only the ARGs declared above it, though \
                FROM lines see the platform ARGs either way.",
    source: "https://github.com/containers/buildah/releases/tag/v1.43.0",
    if_off: "a global ARG's default sees only the global ARGs declared above it",
    status: Status::Settled {
        note: "measured with lang-platform-arg-global on Podman 5.4.2 (Buildah 1.39, does not) \
               and 5.8.6 (Buildah 1.43.2, does)",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 43, 0),
        source: "https://github.com/containers/buildah/releases/tag/v1.43.0",
    },
};

// Versions: every Buildah generation (measured on 1.39 and 1.43.2; 1.28 with case
// lang-platform-arg-declared).
pub const DECLARED_PLATFORM_ARG: Rule = Rule {
    id: RuleId::new("buildah.declared-platform-arg"),
    statement: "A global `ARG TARGETARCH` (any automatic platform ARG) with no value keeps the \
                automatic value for the global defaults and FROM lines below it.",
    source: "https://github.com/containers/buildah/blob/v1.39.0/imagebuildah/executor.go",
    if_off: "a global `ARG TARGETARCH` with no value unsets it",
    status: Status::Settled {
        note: "measured with lang-platform-arg-declared on Podman 4.3.1, 5.4.2 and 5.8.6",
    },
    applies: buildah,
    versions: Versions::All,
};

/// Whether a global platform ARG declared with no value keeps the automatic value.
pub(crate) fn declared_platform_arg_keeps(p: &Profile) -> bool {
    p.on(&DECLARED_PLATFORM_ARG)
}

// Versions: Buildah 1.39 (Podman 5.4.2) and later; Buildah 1.28 (Podman 4.3.1) does not.
// Measured with case lang-platform-arg-global (its FROM `bare${TARGETARCH:+x}` is `bare` on
// 1.28); the change lies between those releases: the source is the release measured.
pub const PLATFORM_ARGS_IN_FROM: Rule = Rule {
    id: RuleId::new("buildah.platform-args-in-from"),
    statement: "A FROM line sees the automatic platform ARGs without a global `ARG TARGETARCH` \
                line (`FROM bare${TARGETARCH:+x}` is `barex`); Buildah 1.28 sees only those a \
                global ARG line declares.",
    source: "https://github.com/containers/buildah/releases/tag/v1.39.0",
    if_off: "a FROM line sees only the platform ARGs a global ARG line declares",
    status: Status::Settled {
        note: "measured with lang-platform-arg-global on Podman 4.3.1 (does not), 5.4.2 and \
               5.8.6 (do)",
    },
    applies: buildah,
    versions: Versions::Since {
        project: Project::Buildah,
        version: Version(1, 39, 0),
        source: "https://github.com/containers/buildah/releases/tag/v1.39.0",
    },
};

/// Whether a FROM line sees the platform ARGs no global `ARG` line declared: every BuildKit,
/// Buildah from 1.39 (`PLATFORM_ARGS_IN_FROM`).
pub(crate) fn platform_args_in_from(p: &Profile) -> bool {
    !buildah(p) || p.on(&PLATFORM_ARGS_IN_FROM)
}

/// Whether a global ARG's default sees the platform ARGs no global `ARG` line declared: every
/// BuildKit, Buildah from 1.43 (`PLATFORM_ARGS_IN_DEFAULTS`).
pub(crate) fn platform_args_in_defaults(p: &Profile) -> bool {
    !buildah(p) || p.on(&PLATFORM_ARGS_IN_DEFAULTS)
}

pub const RULES: &[Rule] = &[
    EMPTY_WILDCARD_JOINED,
    LAYERS,
    FORMAT,
    COPY_DIGEST,
    RUN_KEY,
    ARG_NAMES,
    ENV_RAW,
    NEWEST_MATCH,
    CACHE_FROM_REPO,
    HEREDOC_KEYED,
    BIND_SOURCES,
    BIND_MTIME_IGNORED,
    BIND_STAGE_KEYED,
    LINK_KEYED,
    ADD_CHECKSUM_LOCAL_FAILS,
    COPY_EXCLUDE_CONTEXT,
    COPY_PARENTS,
    STAGE_ARGS,
    WORDS_AT_STEP,
    FLAG_AT_STEP,
    HEREDOC_AS_LINES,
    IN_BUILD_REUSE,
    PLATFORM_ARGS_IN_DEFAULTS,
    DECLARED_PLATFORM_ARG,
    PLATFORM_ARGS_IN_FROM,
    KEYWORD_AS_WRITTEN,
    BIND_DIGEST_FIELDS,
];
