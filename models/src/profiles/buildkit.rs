//! BuildKit (moby/buildkit `cache/contenthash`, `frontend/dockerfile/dockerfile2llb`), as embedded
//! in Engine 20.10 (v0.8 line), 26.1 (v0.13.2) and 28.5 (v0.25.2). Each rule's `// Versions:`
//! line says which of them it holds for; `versions` is where that is decided.
//!
//! The file is long because it is one table: each rule's const beside the function that carries it
//! out, so a builder's rules read in one place (`ARCHITECTURE.md`, "How to add a rule").

use crate::dockerfile::{Body, CopyArgs, Heredoc, Mount, MountKind};
use crate::fingerprint::fingerprint;
use crate::profiles::builder::{Builder, ImageStore, Transport};
use crate::profiles::generation::{Project, Version, Versions};
use crate::profiles::profile::Profile;
use crate::rules::{Rule, RuleId, Status};
use crate::step::key::{Component, Part, SourceFact, StepKey};
use crate::step::outcome::{Outcome, Reason, ReasonKind};
use crate::step::scope::Scope;

fn buildkit(p: &Profile) -> bool {
    p.builder == Builder::BuildKit
}

/// BuildKit in a daemon on the graph drivers' store: it exports inline cache only.
fn graph_store(p: &Profile) -> bool {
    buildkit(p) && p.store == ImageStore::Graph
}

/// BuildKit in a daemon on the containerd store, the only one that exports to a registry or a
/// directory (`bk.cache-export-store`).
fn containerd_store(p: &Profile) -> bool {
    buildkit(p) && p.store == ImageStore::Containerd
}

/// The Dockerfile frontend 1.4, built into BuildKit v0.10: `COPY --link`, heredocs,
/// `--no-cache-filter`.
const FRONTEND_1_4: Versions = Versions::Since {
    project: Project::BuildKit,
    version: Version(0, 10, 0),
    source: "https://github.com/moby/buildkit/releases/tag/dockerfile%2F1.4.0",
};

// Versions: every generation (Engine 20.10, 26, 28).
pub const CHECKSUM_FIELDS: Rule = Rule {
    id: RuleId::new("bk.checksum-fields"),
    statement: "Name, mode, uid, gid, size, type, link target and xattrs are in the COPY checksum; mtime is not.",
    source: "https://github.com/moby/buildkit/blob/master/cache/contenthash/tarsum.go",
    if_off: "only content and name are in the checksum",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
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

// Versions: every generation (Engine 20.10, 26, 28).
pub const XATTR_FILTER: Rule = Rule {
    id: RuleId::new("bk.xattr-filter"),
    statement:
        "`security.*` and `system.*` xattrs are ignored, except `security.capability`; SELinux \
                labels once made CentOS hosts miss (buildkit#1330).",
    source: "https://github.com/moby/buildkit/pull/1393",
    if_off: "every xattr is in the checksum",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
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

// Versions: every generation (Engine 20.10, 26, 28).
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
    applies: owner_reset_applies,
    versions: Versions::All,
};

/// Whether local context files reach the checksum as uid/gid 0 (off: as owned). Not through the
/// API tar on BuildKit v0.11 and later (`bk.api-owner`).
pub(crate) fn owner_reset(p: &Profile) -> bool {
    p.on(&OWNER_RESET) || p.off(&API_OWNER)
}

/// `bk.owner-reset` holds where `bk.api-owner` does not: the CLI door, and the API door before
/// v0.11.
fn owner_reset_applies(p: &Profile) -> bool {
    buildkit(p) && !p.follows(&API_OWNER)
}

fn buildkit_api(p: &Profile) -> bool {
    p.builder == Builder::BuildKit && p.transport == Transport::Api
}

// Versions: BuildKit v0.11 and later (Engine 26, 28); on 20.10 (v0.8) `bk.owner-reset` covers the
// API door too.
pub const API_OWNER: Rule = Rule {
    id: RuleId::new("bk.api-owner"),
    statement: "Through an API tar upload, the uid/gid of the tar's entries reach the COPY checksum \
                and stay on the copied files: an owner-only change misses, and a COPY --from of \
                the file misses too. (On Engine 20.10 the same change hit, serving the old owner.)",
    source: "https://github.com/moby/buildkit/issues/3291",
    if_off: "the tar's uid/gid are reset as on Engine 20.10 (`bk.owner-reset`)",
    status: Status::Settled {
        note: "measured on Engine 26.1.5 and 28.5.2 (buildkit@trixie, buildkit@sid, buildkit@sid-ctrd: \
               owner-change and copy-from-owner-reset rebuild at the chowned COPY and at the COPY --from)",
    },
    applies: buildkit_api,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 11, 0),
        source: "https://github.com/moby/buildkit/pull/3295",
    },
};

/// The owner a file copied from the context without `--chown` lands with: the tar's on BuildKit's
/// API door from v0.11 (`bk.api-owner`), root everywhere else.
pub(crate) fn landed_owner(p: &Profile, source: Option<(u32, u32)>) -> (u32, u32) {
    if p.on(&API_OWNER) {
        source.unwrap_or((0, 0))
    } else {
        (0, 0)
    }
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const CHMOD_FLAG: Rule = Rule {
    id: RuleId::new("bk.chmod-flag"),
    statement: "`COPY --chmod` does not mask a change of the source's mode: still a miss.",
    source: "https://github.com/moby/buildkit/issues/4374",
    if_off: "under `--chmod` the source's mode is not checksummed",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
};

/// Under `--chmod` the source's mode stays in its facts (off: it is masked).
pub(crate) fn chmod_flag(p: &Profile, copy: &CopyArgs, fact: &mut SourceFact) {
    if copy.chmod.is_some() && p.off(&CHMOD_FLAG) {
        fact.mode = None;
    }
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const METADATA_FREE: Rule = Rule {
    id: RuleId::new("bk.metadata-free"),
    statement: "Only FROM, RUN, COPY, ADD and WORKDIR are cacheable vertices; LABEL, EXPOSE, CMD and \
                ENTRYPOINT enter no later step's key, while ENV, USER, WORKDIR and build args reach later \
                RUNs through their environment. A FROM naming an earlier stage is no vertex, and a FROM of \
                the image (and platform) an earlier built stage starts from is that stage's vertex, \
                reported once.",
    source: "https://github.com/moby/buildkit/blob/master/frontend/dockerfile/dockerfile2llb/convert.go",
    if_off: "every instruction, metadata included, is part of the parent chain of later steps",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
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

/// A stage's FROM as `from_is_vertex` sees it.
pub(crate) struct FromLine<'a> {
    /// The name FROM gives, expanded with the global ARGs.
    pub image: &'a str,
    /// It names an earlier stage (the stage goes on from that stage's last step).
    pub names_stage: bool,
    /// `--platform` as written.
    pub platform: Option<&'a str>,
    /// The stage is built (an earlier stage only counts then).
    pub built: bool,
}

/// Whether BuildKit reports a stage's FROM (`this`) as a vertex of its own (`bk.metadata-free`):
/// not when it names an earlier stage (the stage goes on from that stage's last vertex), nor when
/// an earlier stage that is built (`earlier`, in order) starts from the same image and platform
/// (the two are one vertex of the solve, reported once, under the first stage's name). Off, or
/// on other builders, every FROM is a step.
pub(crate) fn from_is_vertex(p: &Profile, this: &FromLine<'_>, earlier: &[FromLine<'_>]) -> bool {
    if !p.follows(&METADATA_FREE) {
        return true;
    }
    if this.names_stage {
        return false;
    }
    !earlier
        .iter()
        .any(|e| e.built && e.image == this.image && !e.names_stage && e.platform == this.platform)
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

// Versions: every generation (Engine 20.10, 26, 28).
pub const ADD_URL: Rule = Rule {
    id: RuleId::new("bk.add-url"),
    statement: "The ADD URL key includes Last-Modified although the docs say mtime is ignored.",
    source: "https://github.com/moby/buildkit/blob/master/source/http/httpsource.go",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "builds run with network mode none and nothing can be fetched",
    },
    applies: buildkit,
    versions: Versions::All,
};

// Versions: BuildKit v0.10 and later (Engine 26, 28); Engine 20.10 refuses `--link`. Image store:
// containerd only; Engine 23+ turns merge off for the graph drivers (moby#45153), and the
// frontend then makes `--link` a plain COPY (measured: trixie, sid hit and miss as without it).
pub const LINK: Rule = Rule {
    id: RuleId::new("bk.link"),
    statement: "With `COPY --link` (and no `--chmod`), on a daemon that can merge layers (the \
                containerd image store), the copy is made on an empty filesystem and merged onto \
                the stage: its key holds its own text and sources, not the parent chain, so a \
                change in earlier steps does not invalidate it (the merge after it runs again, \
                and so do the steps that follow). Two stages with the same `--link` copy share \
                it. With `--chmod`, or on the graph-driver store (merge off since moby#45153), it \
                is a plain COPY.",
    source: "https://github.com/moby/moby/pull/45153",
    if_off: "a `--link` copy is keyed on its parent chain like a plain COPY",
    status: Status::Verify,
    applies: buildkit_merging,
    versions: FRONTEND_1_4,
};

/// BuildKit on a daemon that merges layers: the containerd image store.
fn buildkit_merging(p: &Profile) -> bool {
    buildkit(p) && p.store == ImageStore::Containerd
}

/// The parent a `--link` COPY is keyed under (the empty filesystem), or `None` where the copy is
/// keyed on the stage's chain: no `--link`, a `--chmod`, or (off) always.
pub(crate) fn link_parent(p: &Profile, copy: &CopyArgs) -> Option<u64> {
    (copy.link && copy.chmod.is_none() && p.on(&LINK)).then(|| fingerprint(&"scratch"))
}

// Versions: BuildKit v0.11 and later (Engine 26, 28); not on 20.10 (v0.8).
pub const FROM_OWNER: Rule = Rule {
    id: RuleId::new("bk.from-owner"),
    statement: "The uid/gid of files copied `--from` a stage are in the checksum: an owner-only \
                difference there (another `--chown` in the source stage) misses. Before v0.11 they \
                were not, and it hit.",
    source: "https://github.com/moby/buildkit/issues/3291",
    if_off: "the owners of files copied from a stage are not checksummed (BuildKit before v0.11)",
    status: Status::Settled {
        note: "measured with copy-from-chown-owner: hits on Engine 20.10.24 (buildkit, buildkit-cli, \
               buildx @a), misses on 26.1.5 and 28.5.2 (buildkit and buildx @trixie, @sid, @sid-ctrd)",
    },
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 11, 0),
        source: "https://github.com/moby/buildkit/pull/3295",
    },
};

// Versions: every generation (measured on Engine 20.10, 26.1 and 28.5); from the Dockerfile
// frontend 1.9 (BuildKit v0.15) the child also expands them (c7c2f0e97).
pub const STAGE_ARGS: Rule = Rule {
    id: RuleId::new("bk.stage-args"),
    statement: "A stage built FROM an earlier stage keeps that stage's declared ARGs in its RUN \
                environment, so a new --build-arg value of an ARG only the parent stage declared \
                misses at the child's RUN.",
    source: "https://github.com/moby/buildkit/commit/c7c2f0e97ee7a89046c1169d1528f03ebea21981",
    if_off: "a stage built FROM another starts without its ARGs",
    status: Status::Settled {
        note: "found by cachet run --seed 20261207 on buildx@sid (Engine 28.5); corpus case \
               stage-args-inherited misses at the child's RUN on 20.10.24, 26.1 and 28.5, every \
               BuildKit door",
    },
    applies: buildkit,
    versions: Versions::All,
};

/// Whether a stage built FROM another keeps that stage's declared ARGs (`bk.stage-args`).
pub(crate) fn inherits_stage_args(p: &Profile) -> bool {
    p.builder == Builder::BuildKit && p.on(&STAGE_ARGS)
}

/// The owner a file copied into a stage carries into a later COPY --from key: on BuildKit only
/// where the checksum holds owners (v0.11 on, `bk.from-owner`); every other builder keeps it.
pub(crate) fn placed_owner(p: &Profile, owner: (u32, u32)) -> Option<(u32, u32)> {
    (p.builder != Builder::BuildKit || p.on(&FROM_OWNER)).then_some(owner)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const INLINE_MIN: Rule = Rule {
    id: RuleId::new("bk.inline-min"),
    statement:
        "Inline cache (`BUILDKIT_INLINE_CACHE=1`) exports only the layers of the final image: \
                steps of other stages cannot hit from it.",
    source: "https://docs.docker.com/build/cache/backends/inline/",
    if_off: "inline cache exports the steps of every stage",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
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

// Versions: every generation (Engine 20.10, 26, 28) on the graph drivers' store: the daemon
// registers only the inline exporter there (moby v28.5.2 builder/builder-next/controller.go
// L449-454, v26.1.5 L378-385, v20.10.24 L219-224), and buildx checks first (v0.13.1
// build/build.go L186-187). Measured on all three.
pub const CACHE_EXPORT_STORE: Rule = Rule {
    id: RuleId::new("bk.cache-export-store"),
    statement: "BuildKit inside the Docker daemon (buildx's `docker` driver) exports cache to a \
                registry or a local directory only with the containerd image store; on the graph \
                drivers' store buildx refuses such a `--cache-to` before the build starts. Inline \
                cache and every import work on both.",
    source: "https://github.com/docker/buildx/blob/v0.29.1/build/opt.go#L83-L87",
    if_off: "every store exports registry and local cache",
    status: Status::Settled {
        note:
            "measured: buildx 0.13.1 against Engine 20.10.24 and 26.1.5, and buildx 0.29.1 against \
               28.5.2, refuse (\"Cache export is not supported for the docker driver.\"): \
               cache-registry-max-between-hosts",
    },
    applies: graph_store,
    versions: Versions::All,
};

/// Whether a registry or local `--cache-to` exports anything: on the containerd store, or where
/// the refusal is switched off (a mutant, which then exports as the containerd store does).
pub(crate) fn exports_to_backends(p: &Profile) -> bool {
    buildkit(p) && (p.store == ImageStore::Containerd || p.off(&CACHE_EXPORT_STORE))
}

// Versions: every generation (the forwarding is in the built-in frontend of v0.8, v0.13 and
// v0.25: frontend/dockerfile/builder/build.go, `DetectSyntax` then `forwardGateway`).
pub const SYNTAX_FRONTEND: Rule = Rule {
    id: RuleId::new("bk.syntax-frontend"),
    statement: "A `# syntax=IMAGE` line hands the build to that frontend image, which BuildKit \
                pulls before the first step. Where it cannot (cachet's engines have no network), \
                the build fails before any step; where it can, the image's version decides what \
                the Dockerfile may say: `docker/dockerfile:1` is the newest 1.x (heredocs, `COPY \
                --link`, `ADD --checksum`, `COPY --exclude`), a `-labs` tag adds `COPY \
                --parents`, and `1.N` is BuildKit v0.(N+6)'s frontend. Any other image is taken to \
                speak the newest syntax. The classic builder and Buildah read the line as a \
                comment.",
    source:
        "https://github.com/moby/buildkit/blob/v0.25.2/frontend/dockerfile/builder/build.go#L61-L66",
    if_off: "the line is a comment: the engine's built-in frontend parses the Dockerfile",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::All,
};

/// The newest Dockerfile frontend the model knows: BuildKit v0.25's (1.19).
const NEWEST_FRONTEND: Version = Version(0, 25, 2);

/// The profile the build is planned under when its Dockerfile names a frontend image
/// (`bk.syntax-frontend`): `Ok(None)` for the engine's own frontend, `Ok(Some(..))` for the
/// pulled image's, `Err` when the engine cannot pull it.
pub(crate) fn syntax_frontend(
    p: &Profile,
    syntax: Option<&str>,
    options: &crate::step::BuildOptions,
) -> Result<Option<Profile>, String> {
    let Some(image) = syntax.filter(|_| buildkit(p) && p.on(&SYNTAX_FRONTEND)) else {
        return Ok(None);
    };
    let image = image.split_whitespace().next().unwrap_or_default();
    if !options.frontend_pull {
        return Err(format!(
            "`# syntax={image}`: the frontend image cannot be pulled (the engine has no network)"
        ));
    }
    let name = image.split('@').next().unwrap_or(image);
    let (repository, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let official = matches!(
        repository,
        "docker/dockerfile" | "docker.io/docker/dockerfile"
    );
    let labs = tag.contains("labs");
    let release = match tag
        .split('-')
        .next()
        .map(|v| v.split('.').collect::<Vec<_>>())
    {
        Some(parts) if official && parts.len() >= 2 && parts[0] == "1" => parts[1]
            .parse::<u32>()
            .map(|minor| Version(0, minor + 6, 0))
            .unwrap_or(NEWEST_FRONTEND),
        _ => NEWEST_FRONTEND,
    };
    let mut frontend = p.clone();
    frontend.features =
        crate::profiles::generation::Features::of_dockerfile_frontend(release, labs);
    Ok(Some(frontend))
}

/// Why buildx refuses the build before it starts: a registry or local `--cache-to` on the graph
/// drivers' store (`bk.cache-export-store`).
pub(crate) fn cache_export_refusal(p: &Profile, cache_to: &[String]) -> Option<String> {
    use crate::step::backends::{parse, Backend};
    let exported = cache_to
        .iter()
        .filter_map(|v| parse(v, true).ok())
        .find(|s| s.backend != Backend::Inline)?;
    (buildkit(p) && p.store == ImageStore::Graph && p.on(&CACHE_EXPORT_STORE)).then(|| {
        format!(
            "--cache-to type={}: cache export is not supported for the docker driver without the containerd image store",
            match exported.backend {
                Backend::Registry => "registry",
                _ => "local",
            }
        )
    })
}

// Versions: the containerd store (Engine 26 and 28; measured on 28.5.2), the one that exports.
pub const CACHE_MODE: Rule = Rule {
    id: RuleId::new("bk.cache-mode"),
    statement: "Both modes export a record for every step the result depends on, other stages' \
                included; they differ in which carry a layer. `mode=max`: every one. `mode=min`: \
                the final image's steps, and any step whose layer the host already sent to a \
                registry or directory (so a min export after a max one carries everything). A \
                step imported without its layer still hits while no later step needs its result.",
    source: "https://github.com/moby/buildkit/blob/v0.25.2/solver/exporter.go#L190-L246",
    if_off: "`mode=max` exports as little as `mode=min`",
    status: Status::Modelled,
    applies: containerd_store,
    versions: Versions::All,
};

/// Whether a min export also carries the layers the host already holds as blobs (off with the
/// rule, as min is then only the final image's).
pub(crate) fn min_reuses_blobs(p: &Profile) -> bool {
    p.on(&CACHE_MODE)
}

/// Whether a step's layer travels in an export of `mode`: every one in `max`, else as inline
/// cache's (`exports_layer`).
pub(crate) fn exports_layer_in(
    p: &Profile,
    mode: crate::step::backends::Mode,
    chain: u64,
    final_chains: &[u64],
) -> bool {
    (mode == crate::step::backends::Mode::Max && p.on(&CACHE_MODE))
        || exports_layer(p, chain, final_chains)
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const IMPORT_PREFIX: Rule = Rule {
    id: RuleId::new("bk.import-prefix"),
    statement: "With `--cache-from`, a change at step N keeps the steps before N cached.",
    source: "https://github.com/moby/buildkit/issues/3660",
    if_off: "imported cache is used only when every step of the build matches it",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::All,
};

/// Whether imported cache serves steps: always, or (off) only when every step of the build is in
/// it (`all_imported`).
pub(crate) fn import_usable(p: &Profile, all_imported: impl FnOnce() -> bool) -> bool {
    !p.off(&IMPORT_PREFIX) || all_imported()
}

// Versions: BuildKit v0.10 and later (Engine 26, 28).
pub const NOCACHE_FILTER: Rule = Rule {
    id: RuleId::new("bk.nocache-filter"),
    statement: "`--no-cache-filter S` rebuilds only stage S.",
    source: "https://docs.docker.com/reference/cli/docker/buildx/build/#no-cache-filter",
    if_off: "(not exercised)",
    status: Status::NotExercised {
        why: "`BuildOptions` has no `--no-cache-filter` and no door passes it yet",
    },
    applies: buildkit,
    versions: FRONTEND_1_4,
};

// Versions: every generation (Engine 20.10, 26, 28).
pub const CONTENT_ADDRESSED: Rule = Rule {
    id: RuleId::new("bk.content-addressed"),
    statement:
        "Identical sources on the same parent hit, even from another context directory or an \
                earlier, unrelated build.",
    source: "https://github.com/moby/buildkit/blob/master/solver/cachekey.go",
    if_off: "the context's identity is part of every COPY key",
    status: Status::Modelled,
    applies: buildkit,
    versions: Versions::All,
};

/// What a COPY key holds of the context beyond its sources: nothing, or (off) the whole context
/// (its digest asked for only then).
pub(crate) fn copy_context(p: &Profile, context_digest: impl FnOnce() -> u64) -> Option<Component> {
    p.off(&CONTENT_ADDRESSED).then(|| Component {
        rule: CONTENT_ADDRESSED.id,
        part: Part::Digest(context_digest()),
    })
}

/// A COPY --from key: what the selected paths hold in the source stage, not the rest of it.
pub(crate) fn stage_selection(digest: u64) -> Component {
    Component {
        rule: CONTENT_ADDRESSED.id,
        part: Part::Digest(digest),
    }
}

// Versions: BuildKit v0.10 and later (Engine 26, 28); Engine 20.10's frontend refuses heredocs.
pub const HEREDOC_KEYED: Rule = Rule {
    id: RuleId::new("bk.heredoc-keyed"),
    statement:
        "A RUN heredoc's body is part of the step's key (the frontend hands it to the shell, \
                or writes it into a file the step mounts): any edit of the body misses; a COPY \
                heredoc is a file whose content is the body, checksummed like a context file.",
    source: "https://github.com/moby/buildkit/pull/2132",
    if_off: "a heredoc's body is left out of the key: an edit of it alone hits",
    status: Status::Verify,
    applies: buildkit,
    versions: FRONTEND_1_4,
};

/// What a RUN's heredoc bodies put into its key, as written (off: nothing).
pub(crate) fn run_heredoc(p: &Profile, heredocs: &[Heredoc]) -> Option<Component> {
    (p.on(&HEREDOC_KEYED) && !heredocs.is_empty()).then(|| Component {
        rule: HEREDOC_KEYED.id,
        part: Part::Text(heredocs.iter().map(|h| h.content.as_str()).collect()),
    })
}

/// Whether a COPY heredoc's body is checksummed as a file's content (off: as an empty file).
pub(crate) fn copy_heredoc_keyed(p: &Profile) -> bool {
    !p.off(&HEREDOC_KEYED)
}

// Versions: BuildKit v0.13 and later (Engine 26, 28); on 20.10 (v0.8) the id is in the key.
pub const CACHE_MOUNT_ID: Rule = Rule {
    id: RuleId::new("bk.cache-mount-id"),
    statement: "The `id` of a `RUN --mount=type=cache` is not part of the RUN's key (nor ever is \
                the cache's content): changing only the id hits. Before v0.13 the id was in the \
                key and such a change missed.",
    source: "https://github.com/moby/buildkit/pull/4585",
    if_off: "the cache mount's id is in the RUN's key (BuildKit before v0.13)",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 13, 0),
        source: "https://github.com/moby/buildkit/pull/4585",
    },
};

/// The RUN text as BuildKit keys it: without the `id=` of its cache mounts where the id is out of
/// the key (`bk.cache-mount-id`).
pub(crate) fn run_text_without_cache_ids(p: &Profile, text: String, mounts: &[Mount]) -> String {
    if !p.on(&CACHE_MOUNT_ID) {
        return text;
    }
    let mut text = text;
    for mount in mounts.iter().filter(|m| m.kind == MountKind::Cache) {
        let Some(id) = &mount.id else { continue };
        for form in [format!(",id={id}"), format!("id={id},"), format!("id={id}")] {
            if let Some(at) = text.find(&form) {
                text.replace_range(at..at + form.len(), "");
                break;
            }
        }
    }
    text
}

// Versions: every generation (Engine 20.10, 26, 28).
pub const RUN_BIND_CONTENT: Rule = Rule {
    id: RuleId::new("bk.run-bind-content"),
    statement: "A `RUN --mount=type=bind` is keyed on the content checksum of what it mounts (the \
                exec op's read-only mounts get content-based cache keys): from the context, the \
                bound files' checksum (mtime out, as for COPY); from a stage, what the bound path \
                holds there. A change there misses the RUN; one elsewhere hits.",
    source: "https://github.com/moby/buildkit/blob/v0.13.0/solver/llbsolver/ops/exec.go",
    if_off: "bind mounts are keyed on their text only: a change of the bound files hits",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::All,
};

/// Whether a RUN's bind mounts are keyed on what they bind (off: their text only).
pub(crate) fn keys_bind_mounts(p: &Profile) -> bool {
    p.on(&RUN_BIND_CONTENT)
}

// Versions: BuildKit v0.25 and later (Engine 28); the frontend refuses `--exclude` before.
pub const COPY_EXCLUDE: Rule = Rule {
    id: RuleId::new("bk.copy-exclude"),
    statement: "`COPY --exclude=PATTERN` leaves the matching paths out of the copy and out of its \
                checksum: a change of an excluded file hits. Patterns match the path below each \
                source, not the context path (measured on Engine 28.5: `--exclude=d/b` leaves \
                `d/b` in `COPY d /d`, case copy-exclude-context-path).",
    source: "https://github.com/moby/buildkit/pull/4561",
    if_off: "excluded paths stay in the checksum: a change of one misses",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 25, 0),
        source: "https://github.com/moby/buildkit/releases/tag/dockerfile%2F1.19.0",
    },
};

/// Drops the entries an `--exclude` pattern matches by their path below the source (`paths`
/// gives the context path and that one; the context path is Buildah's, not BuildKit's) from a
/// COPY's sources (off: keeps them).
pub(crate) fn copy_exclude<T>(
    p: &Profile,
    patterns: &[String],
    entries: &mut Vec<T>,
    paths: impl Fn(&T) -> [String; 2],
) {
    if patterns.is_empty() || !p.on(&COPY_EXCLUDE) {
        return;
    }
    let parsed = crate::dockerignore::parse_dockerignore(&patterns.join("\n"));
    entries.retain(|e| {
        let [_, below] = paths(e);
        below.is_empty() || !crate::dockerignore::is_ignored(&parsed, &below)
    });
}

// Versions: BuildKit v0.25 (Engine 28.5.2) keeps it; v0.8 (Engine 20.10.24) and v0.13 (Engine
// 26.1.5) do not. Measured with case lang-platform-arg-declared; the change lies between v0.13
// and v0.25 and was not pinned down: the source is the release measured, not the change.
pub const DECLARED_PLATFORM_ARG: Rule = Rule {
    id: RuleId::new("bk.declared-platform-arg"),
    statement: "A global `ARG TARGETARCH` (any automatic platform ARG) with no value keeps the \
                automatic value; before, such a line unset it for the global defaults and FROM \
                lines below it.",
    source: "https://github.com/moby/buildkit/releases/tag/v0.25.0",
    if_off: "a global `ARG TARGETARCH` with no value unsets it",
    status: Status::Settled {
        note: "measured with lang-platform-arg-declared on Engine 20.10.24, 26.1.5 (unset) and \
               28.5.2 (kept)",
    },
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 25, 0),
        source: "https://github.com/moby/buildkit/releases/tag/v0.25.0",
    },
};

// Versions: every BuildKit that takes `--exclude` (v0.25 on, Engine 28); open upstream
// (moby/buildkit#4946) at v0.25.2. Measured on Engine 28.5.2 through both doors and on the
// containerd image store: case copy-exclude-dangling-link.
pub const EXCLUDE_DANGLING_LINK: Rule = Rule {
    id: RuleId::new("bk.exclude-dangling-link"),
    statement: "An engine bug: with `--exclude`, the COPY's checksum follows every symlink it \
                copies, so a dangling one that no pattern excludes fails the step (`failed to \
                calculate checksum of ref …: \"/l\": not found`), where the same COPY without \
                `--exclude`, or with the link excluded, copies the link as it is.",
    source: "https://github.com/moby/buildkit/issues/4946",
    if_off: "a dangling symlink is copied as a link under `--exclude` too",
    status: Status::Settled {
        note: "measured on Engine 28.5.2 (BuildKit v0.25.2), API tar and CLI doors, classic and \
               containerd image stores: case copy-exclude-dangling-link",
    },
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 25, 0),
        source: "https://github.com/moby/buildkit/releases/tag/dockerfile%2F1.19.0",
    },
};

/// Whether a global platform ARG declared with no value keeps the automatic value.
pub(crate) fn declared_platform_arg_keeps(p: &Profile) -> bool {
    p.on(&DECLARED_PLATFORM_ARG)
}

/// Why a COPY with `--exclude` fails on a dangling symlink it copies (`EXCLUDE_DANGLING_LINK`):
/// `dangling` names the first copied link whose target the context does not hold.
pub(crate) fn exclude_dangling_failure(
    p: &Profile,
    patterns: &[String],
    dangling: impl FnOnce() -> Option<String>,
) -> Option<String> {
    if patterns.is_empty() || !p.on(&EXCLUDE_DANGLING_LINK) {
        return None;
    }
    dangling().map(|path| {
        format!(
            "failed to calculate checksum: \"/{path}\": not found (a dangling symlink under \
             --exclude, {})",
            EXCLUDE_DANGLING_LINK.id
        )
    })
}

// Versions: BuildKit v0.12 and later (Engine 26, 28); the frontend refuses `--checksum` before.
pub const ADD_CHECKSUM_REMOTE: Rule = Rule {
    id: RuleId::new("bk.add-checksum-remote"),
    statement: "`ADD --checksum` takes a single HTTP(S) source (a Git one too from v0.17): with a \
                context source, or several sources, the frontend fails the build before any step \
                runs, if it builds that stage (one `--target` leaves out refuses nothing: \
                measured on v0.13.2 and v0.25.2, case add-checksum-unbuilt-stage). With an HTTP \
                source the key is the checksum and the file name, so no fetch \
                is needed to hit (the model still leaves ADD of a URL Unsupported: a miss fetches).",
    source: "https://github.com/moby/buildkit/blob/v0.13.2/frontend/dockerfile/dockerfile2llb/convert.go#L1154",
    if_off: "`--checksum` on a context source is ignored: the ADD is keyed as without it",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 12, 0),
        source: "https://github.com/moby/buildkit/releases/tag/dockerfile%2F1.6.0",
    },
};

/// The frontend's refusal of an `ADD --checksum` whose sources are not one URL (off: none).
pub(crate) fn add_checksum_refusal(p: &Profile, body: &Body) -> Option<String> {
    let Body::Add(add) = body else { return None };
    let remote = add.sources.len() == 1 && add.sources[0].contains("://");
    let refused = add.checksum.is_some() && !remote && p.on(&ADD_CHECKSUM_REMOTE);
    refused.then(|| match add.sources.len() {
        1 => "checksum can't be specified for non-HTTP sources".to_string(),
        _ => "checksum can't be specified for multiple sources".to_string(),
    })
}

// Versions: every generation (BuildKit v0.8 and later copy with `AllowEmptyWildcard`).
pub const EMPTY_WILDCARD: Rule = Rule {
    id: RuleId::new("bk.empty-wildcard"),
    statement: "A COPY/ADD source wildcard that matches nothing copies nothing: the step runs, \
                keyed on the empty match (the classic builder fails with `no source files were \
                specified`, Buildah with `no glob matches`).",
    source: "https://github.com/moby/buildkit/blob/v0.8.0/frontend/dockerfile/dockerfile2llb/convert.go#L810",
    if_off: "a wildcard that matches nothing fails the step, as on the other builders",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::All,
};

/// Whether a wildcard source may match nothing (off, and on the other builders: it fails).
pub(crate) fn allows_empty_wildcard(p: &Profile) -> bool {
    p.on(&EMPTY_WILDCARD)
}

// Versions: BuildKit v0.16 and later (moby/buildkit@22fbeaf78); Engine 28's v0.25 has it, 20.10's
// and 26's keep `--chmod` as written.
pub const CHMOD_EXPANDED: Rule = Rule {
    id: RuleId::new("bk.chmod-expanded"),
    statement: "`COPY --chmod=$MODE` is expanded before it is parsed and keyed.",
    source: "https://github.com/moby/buildkit/blob/v0.25.2/frontend/dockerfile/instructions/commands.go#L290-L305",
    if_off: "`--chmod` is taken as written, so a `$` in it is not a mode",
    status: Status::Verify,
    applies: buildkit,
    versions: Versions::Since {
        project: Project::BuildKit,
        version: Version(0, 16, 0),
        source: "https://github.com/moby/buildkit/commit/22fbeaf78",
    },
};

/// `--chmod`'s value: expanded by `expand` where the frontend does (else as written).
pub(crate) fn chmod_value(p: &Profile, chmod: &str, expand: impl FnOnce(&str) -> String) -> String {
    match p.on(&CHMOD_EXPANDED) {
        true => expand(chmod),
        false => chmod.to_string(),
    }
}

// Versions: every generation (BuildKit v0.8, v0.13 and v0.25 share the scheduler: a dep's
// content checksum starts as soon as that dep alone is complete, v0.8.2 solver/edge.go
// L820-L830, v0.13.2 L863-L873, v0.25.2 L885-L904; a step whose key no cache can match asks for
// every dep at once, v0.25.2 L825-L828; a step's record is saved as soon as it ran, L981-L999).
// The failure ends the solve and cancels what still runs: moby/buildkit#3955 (open).
pub const FAILED_SOLVE: Rule = Rule {
    id: RuleId::new("bk.failed-solve"),
    statement: "A failing step fails the whole solve at once, without waiting for the steps \
                running beside it (moby/buildkit#3955): a COPY's missing context source fails \
                when the checksum of that input alone is computed, before or while the step's \
                parent and the other stages run, so which of the failed build's new steps were \
                committed is a race (a step that finished is, one cancelled is not). Only what \
                the failure was found in was certainly built: the stage a `COPY --from` or a \
                bind mount found lacking the path, and what that stage was built from or copied \
                from. A later hit on any other step the failed build made is unknown \
                (`unsupported`) until a successful build settles it.",
    source: "https://github.com/moby/buildkit/blob/v0.25.2/solver/edge.go#L885-L904",
    if_off: "every step planned before the failing one is committed, as the classic builder \
             commits them",
    status: Status::Settled {
        note: "measured with bk-failed-solve-uncommitted: the RUN beside the failing COPY was \
               lost on Engine 28.5.2 and committed on 26.1.5 (replays of the seed-9 triage); \
               the case holds on 20.10.24, 26.1.5 and 28.5.2",
    },
    applies: buildkit,
    versions: Versions::All,
};

/// Whether a failed build's new steps are only possibly committed (`FAILED_SOLVE`; off: those
/// planned before the failure are committed).
pub(crate) fn failed_solve_races(p: &Profile) -> bool {
    p.on(&FAILED_SOLVE)
}

/// The outcome of a step whose record only a failed solve made (`FAILED_SOLVE`).
pub(crate) fn uncertain_record() -> Outcome {
    Outcome::Unsupported {
        why: format!(
            "recorded only by a failed build, whose steps BuildKit may or may not have committed \
             before the failure ended the solve (`{}`)",
            FAILED_SOLVE.id
        ),
    }
}

pub const RULES: &[Rule] = &[
    SYNTAX_FRONTEND,
    CHECKSUM_FIELDS,
    XATTR_FILTER,
    OWNER_RESET,
    API_OWNER,
    CHMOD_FLAG,
    METADATA_FREE,
    ADD_URL,
    LINK,
    FROM_OWNER,
    INLINE_MIN,
    CACHE_EXPORT_STORE,
    CACHE_MODE,
    IMPORT_PREFIX,
    NOCACHE_FILTER,
    CONTENT_ADDRESSED,
    HEREDOC_KEYED,
    CACHE_MOUNT_ID,
    RUN_BIND_CONTENT,
    COPY_EXCLUDE,
    EXCLUDE_DANGLING_LINK,
    DECLARED_PLATFORM_ARG,
    ADD_CHECKSUM_REMOTE,
    EMPTY_WILDCARD,
    CHMOD_EXPANDED,
    STAGE_ARGS,
    FAILED_SOLVE,
];
