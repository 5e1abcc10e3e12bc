//! Rules every builder follows: the seed document's rules (docs.docker.com, "Build cache
//! invalidation"), shared by the classic builder, BuildKit and Buildah tables.

use std::borrow::Cow;

use crate::context::{BuildContext, Entry, DOCKERFILE_NAME, DOCKERIGNORE_NAME};
use crate::profiles::builder::{Builder, Transport};
use crate::profiles::generation::Versions;
use crate::profiles::profile::Profile;
use crate::rules::{everywhere, Rule, RuleId, Status};
use crate::step::key::{Component, Part, StepKey};
use crate::step::outcome::{Outcome, Reason, ReasonKind};
use crate::step::{BuildOptions, BASE_IMAGE};

const DOCS: &str = "https://docs.docker.com/build/cache/invalidation/";

// Versions: every generation of every builder.
pub const TEXT_LITERAL: Rule = Rule {
    id: RuleId::new("text.literal"),
    statement: "A non-ADD/COPY instruction hits only if its text, after the builder's own normalisation \
                (keyword case, comments, line continuations), and its parent match a cached step.",
    source: DOCS,
    if_off: "instructions other than ADD/COPY are keyed on their keyword only, so any edit of their text hits",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// An instruction's text as it enters the key: as the builder normalises it, or nothing (off).
pub(crate) fn literal(p: &Profile, text: String) -> String {
    if p.on(&TEXT_LITERAL) {
        text
    } else {
        String::new()
    }
}

// Versions: every generation of every builder.
pub const COPY_CHECKSUM: Rule = Rule {
    id: RuleId::new("copy.checksum"),
    statement: "ADD and COPY hit only if the checksum of the copied sources (content and metadata) matches.",
    source: DOCS,
    if_off: "ADD and COPY are keyed on their text only; source files never cause a miss",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// Whether COPY/ADD put their sources' facts into the key (off: the text alone).
pub(crate) fn checksums_sources(p: &Profile) -> bool {
    p.on(&COPY_CHECKSUM)
}

// Versions: every generation of every builder.
pub const COPY_MTIME_IGNORED: Rule = Rule {
    id: RuleId::new("copy.mtime-ignored"),
    statement: "mtime and atime of sources are not in the checksum: a `touch` alone hits.",
    source: DOCS,
    if_off: "mtime and atime enter the checksum",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// A source's times as they enter its facts: not at all, or (off) mtime and atime.
pub(crate) fn source_times(p: &Profile, entry: &Entry) -> Option<(i64, i64)> {
    if p.on(&COPY_MTIME_IGNORED) {
        None
    } else {
        Some((entry.mtime, entry.atime))
    }
}

// Versions: every generation of every builder.
pub const CASCADE: Rule = Rule {
    id: RuleId::new("cascade"),
    statement: "After the first miss in a stage, every later step of that stage misses.",
    source: DOCS,
    if_off:
        "a step is looked up by its position and own key only, so it can hit after an earlier miss",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// Whether a step is looked up under its parent chain, so that a miss makes every later step of
/// the stage miss (off: by its own key alone, anywhere in the cache).
pub(crate) fn cascades(p: &Profile) -> bool {
    p.on(&CASCADE)
}

/// The reason a step misses after the stage's first miss at `first`.
pub(crate) fn after_miss(first: usize) -> Reason {
    Reason {
        rule: CASCADE.id,
        kind: ReasonKind::ParentRebuilt { step: first },
    }
}

// Versions: every generation of every builder.
pub const NOCACHE_ALL: Rule = Rule {
    id: RuleId::new("nocache.all"),
    statement: "`--no-cache` rebuilds every step.",
    source: "https://docs.docker.com/reference/cli/docker/buildx/build/#no-cache",
    if_off: "`--no-cache` is ignored",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// Why every step rebuilds, if `--no-cache` makes it (off: the flag is ignored).
pub(crate) fn no_cache(p: &Profile, options: &BuildOptions) -> Option<Reason> {
    (options.no_cache && p.on(&NOCACHE_ALL)).then_some(Reason {
        rule: NOCACHE_ALL.id,
        kind: ReasonKind::NoCache,
    })
}

// Versions: every generation of every builder.
pub const FROM_UNAFFECTED: Rule = Rule {
    id: RuleId::new("from.unaffected"),
    statement: "FROM is not re-pulled by `--no-cache`; only `--pull` re-resolves the base.",
    source: DOCS,
    if_off: "FROM is predicted rebuilt under `--no-cache`",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// FROM's outcome: cached, even under `--no-cache` (off: rebuilt under `--no-cache`).
pub(crate) fn from_outcome(p: &Profile, options: &BuildOptions) -> Outcome {
    if options.no_cache && p.off(&FROM_UNAFFECTED) {
        Outcome::Rebuilt {
            reason: Reason {
                rule: FROM_UNAFFECTED.id,
                kind: ReasonKind::NoCache,
            },
        }
    } else {
        Outcome::Cached {
            rule: FROM_UNAFFECTED.id,
            from: None,
        }
    }
}

// Versions: every generation of every builder.
pub const RUN_OPAQUE: Rule = Rule {
    id: RuleId::new("run.opaque"),
    statement:
        "RUN is keyed on its command text, parent and environment only; files and network state \
                are never consulted (`RUN apt-get update` stays cached).",
    source: DOCS,
    if_off: "RUN's key also includes the whole context's checksum, as if RUN looked at the files",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// What RUN's key holds of the context: nothing, or (off) the whole context's digest (asked for
/// only then: the planner computes it once, on demand).
pub(crate) fn run_context(p: &Profile, context_digest: impl FnOnce() -> u64) -> Option<Component> {
    p.off(&RUN_OPAQUE).then(|| Component {
        rule: RUN_OPAQUE.id,
        part: Part::Digest(context_digest()),
    })
}

// Versions: every generation of every builder.
pub const ARG_FIRST_USE: Rule = Rule {
    id: RuleId::new("arg.first-use"),
    statement: "A changed `--build-arg` value misses at the first step that uses it (every RUN after an \
                ARG uses it implicitly; other instructions use it by `$NAME`), not at the ARG itself.",
    source: "https://docs.docker.com/build/building/variables/#impact-on-build-caching",
    if_off: "build-arg values enter no key (except through Buildah's own ARG rule)",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// Whether build-arg values reach keys: through variable expansion and the args RUN sees (off:
/// only ENV values expand, and RUN keys carry no args).
pub(crate) fn build_args_reach_keys(p: &Profile) -> bool {
    p.on(&ARG_FIRST_USE)
}

/// BuildKit's RUN: the declared args with their values, as the step's environment holds them.
pub(crate) fn run_args(args: Vec<(String, String)>) -> Component {
    Component {
        rule: ARG_FIRST_USE.id,
        part: Part::Args(args),
    }
}

// Versions: every generation of every builder (measured on 20.10, 26.1, 28.5, Podman 4.3, 5.4
// and 5.8 with case arg-overridden-by-env).
pub const ENV_OVERRIDES_ARG: Rule = Rule {
    id: RuleId::new("arg.env-overrides"),
    statement: "An ENV of an arg's name overrides the arg: the RUN sees the ENV's value, and the \
                arg's value enters no RUN key (a new `--build-arg` value hits). The classic \
                builder leaves out of the RUN key the args its config's env holds \
                (`BuildArgs.FilterAllowed`), Buildah writes the env's value in the history line \
                (`getBuildArgsResolvedForRun`), and BuildKit's RUN environment carries the ENV \
                value.",
    source: "https://github.com/containers/buildah/blob/v1.43.0/tests/bud.bats#L2487-L2496",
    if_off: "the arg's value enters the RUN key as if no ENV overrode it: a new value misses",
    status: Status::Settled {
        note: "Buildah's bud test asserts the hit; every engine here hits (case \
               arg-overridden-by-env)",
    },
    applies: everywhere,
    versions: Versions::All,
};

/// The args with values a RUN's key carries: those no ENV of the stage overrides
/// (`arg.env-overrides`; off: all of them).
pub(crate) fn run_key_args(
    p: &Profile,
    scope: &crate::step::scope::Scope,
) -> Vec<(String, String)> {
    let overridden =
        |name: &str| p.on(&ENV_OVERRIDES_ARG) && scope.env.iter().any(|(k, _)| k == name);
    scope
        .args_with_values()
        .into_iter()
        .filter(|(name, _)| !overridden(name))
        .collect()
}

// Versions: every generation of every builder.
pub const DOCKERIGNORE: Rule = Rule {
    id: RuleId::new("dockerignore"),
    statement: "Files excluded by `.dockerignore` never affect a checksum; editing `.dockerignore` matters \
                only through what it includes or excludes. The docker client applies it: an API tar upload \
                reaches Docker's builders as it is (Engine 20.10.24), while Buildah applies it to the \
                uploaded context itself (Podman 4.3.1).",
    source: "https://docs.docker.com/build/concepts/context/#dockerignore-files",
    if_off: "`.dockerignore` is not applied",
    status: Status::Modelled,
    applies: applies_dockerignore,
    versions: Versions::All,
};

/// `.dockerignore` is applied by the docker client: an API tar upload reaches Docker's builders as
/// it is (measured on Engine 20.10.24), while Buildah reads it from the uploaded context (measured
/// on Podman 4.3.1).
fn applies_dockerignore(p: &Profile) -> bool {
    p.transport == Transport::Cli || p.builder == Builder::Buildah
}

/// The context without what `.dockerignore` excludes (off: the whole context).
pub(crate) fn without_ignored<'a>(p: &Profile, context: &'a BuildContext) -> Cow<'a, BuildContext> {
    if p.on(&DOCKERIGNORE) && context.get(DOCKERIGNORE_NAME).is_some() {
        Cow::Owned(context.without_ignored())
    } else {
        Cow::Borrowed(context)
    }
}

// Versions: every generation of every builder.
pub const DOCKERFILE_SELF: Rule = Rule {
    id: RuleId::new("dockerfile.self"),
    statement:
        "The Dockerfile is in the context: `COPY .` misses when it changes unless it is ignored.",
    source: "https://docs.docker.com/build/concepts/context/#dockerignore-files",
    if_off: "the Dockerfile is never part of what COPY sees",
    status: Status::Modelled,
    applies: everywhere,
    versions: Versions::All,
};

/// What COPY sees keeps the Dockerfile (off: the Dockerfile is taken out).
pub(crate) fn keep_dockerfile(p: &Profile, visible: &mut Cow<'_, BuildContext>) {
    if p.off(&DOCKERFILE_SELF) {
        visible.to_mut().entries.remove(DOCKERFILE_NAME);
    }
}

// Versions: every generation of every builder.
pub const FROM_CHAIN: Rule = Rule {
    id: RuleId::new("copy.from-chain"),
    statement: "Assuming RUN is deterministic and base images do not change: what an opaque RUN \
                or the base image put at a path of a stage is determined by that stage's chain up \
                to the last opaque RUN (or its FROM), so a COPY --from (or a bind mount) of such a \
                path, or of an image, hits while that chain is unchanged. When the chain changed, \
                the model cannot tell: the builders key the content itself, and the RUN may have \
                written the same (seen with `printf 1 > /o` after a changed `COPY a /a`), so the \
                step, and what follows it, is unknown. (The model reads the effect of a few RUN \
                forms: `true`, `cat PATH`, `echo WORDS` write nothing, `echo WORDS > /PATH` writes \
                that file; what they wrote is keyed on its content, as a COPY's is. Every other \
                RUN is opaque.)",
    source: "https://docs.docker.com/build/cache/invalidation/#general-rules",
    if_off: "such content never serves from cache: a COPY --from of it rebuilds although its \
             stage's chain is unchanged",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

/// The digest that stands for content a RUN or a base image made at `paths`: the writer chain
/// (the stage's chain at its last RUN, or its FROM) with the paths.
pub(crate) fn made_content(writer_chain: u64, paths: &[String]) -> Component {
    Component {
        rule: FROM_CHAIN.id,
        part: Part::Digest(crate::fingerprint::fingerprint(&(writer_chain, paths))),
    }
}

/// Whether a key component is made content (`made_content`).
pub(crate) fn is_made_content(c: &Component) -> bool {
    c.rule == FROM_CHAIN.id
}

/// Why a step whose key holds made content (`made_content`) rebuilds although a record holds
/// its key: only with `copy.from-chain` off.
pub(crate) fn made_content_rebuilds(p: &Profile, key: &StepKey) -> Option<Reason> {
    let holds = key.components().iter().any(is_made_content);
    (holds && p.off(&FROM_CHAIN)).then_some(Reason {
        rule: FROM_CHAIN.id,
        kind: ReasonKind::NotInCache,
    })
}

/// The outcome of a step no usable record holds the key of, when a record under the same parent
/// differs from it in made content (`made_content`) alone: its writer chain changed, and whether
/// what the RUN wrote changed is more than the model knows. `None` for any other miss (an
/// imported record of the very key that could not be used included).
pub(crate) fn made_content_unknown(key: &StepKey, candidates: &[&StepKey]) -> Option<Outcome> {
    let only_made_differs = |cached: &StepKey| {
        let (now, then) = (key.components(), cached.components());
        now.len() == then.len()
            && now != then
            && now
                .iter()
                .zip(then)
                .all(|(a, b)| a == b || (is_made_content(a) && is_made_content(b)))
    };
    candidates
        .iter()
        .any(|c| only_made_differs(c))
        .then(|| Outcome::Unsupported {
            why: format!(
                "`{}`: what an opaque RUN (or the base image) put there is keyed by its stage's \
                 chain, which changed; the builder keys the content, which may be the same",
                FROM_CHAIN.id
            ),
        })
}

// Versions: every generation of every builder (BuildKit v0.8 `dockerfile2llb/convert.go`
// expands each stage's base name with the global ARGs before the stage lookup; moby's
// `dispatchFrom` and imagebuilder's `NewStages` likewise).
pub const FROM_EXPANDED: Rule = Rule {
    id: RuleId::new("lang.from-expanded"),
    statement: "FROM's name is expanded with the global ARGs (and the automatic platform ARGs) \
                before it is looked up among the earlier stages: `ARG SRC=remote` … \
                `FROM ${SRC}-install` is built on the stage `remote-install`.",
    source: "https://github.com/moby/buildkit/blob/v0.13.2/frontend/dockerfile/dockerfile2llb/convert.go#L224-L231",
    if_off: "FROM's name is looked up as written, so `${SRC}-install` names an image, never a stage",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

// Versions: every generation of every builder; it is how cachet's scenarios name their base,
// measured with case lang-from-unavailable-base on 23 engines (Engine 20.10.24, 26.1.5, 28.5.2,
// Podman 4.3.1, 5.4.2, 5.8.6). BuildKit resolves the image of every stage it builds before it
// runs a step (`dockerfile2llb`'s metadata resolution); moby's `dispatchFrom` and Buildah's
// stage executor pull the base when the stage starts.
pub const FROM_BASE_WRITTEN: Rule = Rule {
    id: RuleId::new("from.base-written"),
    statement: "cachet's base image is the word `base` written as FROM's name: the harness puts \
                its salted copy in place of that word before the build. A name that only expands \
                to `base` (`FROM ${T:-base}`) stays as it is and names the registry image \
                `base`, which a build without network cannot pull: BuildKit fails the build before \
                any step, the classic builder and Buildah fail at that FROM.",
    source: "https://github.com/moby/buildkit/blob/v0.13.2/frontend/dockerfile/dockerfile2llb/convert.go#L263-L330",
    if_off: "a FROM name that expands to `base` is cachet's base image",
    status: Status::Settled {
        note: "measured with lang-from-unavailable-base on every engine of the three generations",
    },
    applies: everywhere,
    versions: Versions::All,
};

/// Whether a stage's FROM, written as `written` and naming `name` once expanded, names an image
/// no scenario build can have: `base` reached only through expansion (`FROM_BASE_WRITTEN`).
pub(crate) fn base_unavailable(p: &Profile, written: &str, name: &str) -> bool {
    p.on(&FROM_BASE_WRITTEN) && name == BASE_IMAGE && written != name
}

/// The name a stage's FROM gives: expanded by `expand` (off: as written).
pub(crate) fn from_name<E>(
    p: &Profile,
    image: &str,
    expand: impl FnOnce(&str) -> Result<String, E>,
) -> Result<String, E> {
    match p.on(&FROM_EXPANDED) {
        true => expand(image),
        false => Ok(image.to_string()),
    }
}

// Versions: every generation of every builder (BuildKit v0.8 expands each global ARG's default
// with the ones before it, `--build-arg` values included; moby's `processMetaArg` and
// imagebuilder's `extractHeadingArgsFromNode` run them in order too).
pub const GLOBAL_ARG_ORDER: Rule = Rule {
    id: RuleId::new("lang.global-arg-order"),
    statement: "The global ARGs (before the first FROM) are evaluated in order: a default may use \
                the ones above it (`ARG GO_IMAGE=golang:${GO_VERSION}`), with `--build-arg` values \
                taking the place of defaults name by name.",
    source: "https://github.com/moby/buildkit/blob/v0.13.2/frontend/dockerfile/dockerfile2llb/convert.go#L196-L212",
    if_off: "a global ARG's default is taken as written, its `${...}` unexpanded",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

/// A global ARG's default: expanded by `expand` with the ones before it (off: as written).
pub(crate) fn global_default(
    p: &Profile,
    default: &str,
    expand: impl FnOnce(&str) -> String,
) -> String {
    match p.on(&GLOBAL_ARG_ORDER) {
        true => expand(default),
        false => default.to_string(),
    }
}

/// Whether the profile's frontend defines the automatic platform ARGs (`Features::platform_args`).
fn has_platform_args(p: &Profile) -> bool {
    p.features.platform_args
}

// Versions: every generation of BuildKit and Buildah (BuildKit v0.8's `getPlatformArgs`;
// imagebuilder's `builtinBuildArgs` in Buildah 1.28, its `BuiltinArgDefaults` from Buildah 1.39);
// the classic builder has none (moby `builder/dockerfile` at v20.10.24, v26.1.5, v28.5.2).
pub const PLATFORM_ARGS: Rule = Rule {
    id: RuleId::new("lang.platform-args"),
    statement: "The automatic platform ARGs (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, \
                `TARGETVARIANT`, `BUILDPLATFORM`, `BUILDOS`, `BUILDARCH`, `BUILDVARIANT`) hold the \
                build's platform in the global scope (FROM lines, global defaults); a stage sees \
                one only after `ARG NAME`, which without a value takes the automatic one. \
                `--build-arg` overrides them.",
    source: "https://github.com/moby/buildkit/blob/v0.13.2/frontend/dockerfile/dockerfile2llb/platform.go",
    if_off: "no automatic platform ARGs: `ARG TARGETARCH` without a value is unset, as on the classic builder",
    status: Status::Verify,
    applies: has_platform_args,
    versions: Versions::All,
};

/// The automatic platform ARGs for a build on `platform` (`os/arch[/variant]`), the build's
/// machine taken to be the same platform; `--build-arg` values replace them. None where the
/// frontend has none (or off).
pub(crate) fn platform_args(
    p: &Profile,
    platform: &str,
    build_args: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    if !p.on(&PLATFORM_ARGS) {
        return Default::default();
    }
    let mut parts = platform.splitn(3, '/');
    let os = parts.next().unwrap_or("linux").to_string();
    let arch = parts.next().unwrap_or("amd64").to_string();
    let variant = parts.next().unwrap_or("").to_string();
    let mut args = std::collections::BTreeMap::new();
    for side in ["TARGET", "BUILD"] {
        args.insert(format!("{side}PLATFORM"), platform.to_string());
        args.insert(format!("{side}OS"), os.clone());
        args.insert(format!("{side}ARCH"), arch.clone());
        args.insert(format!("{side}VARIANT"), variant.clone());
    }
    for (k, v) in args.iter_mut() {
        if let Some(given) = build_args.get(k) {
            *v = given.clone();
        }
    }
    args
}

// Versions: every generation of every builder (BuildKit v0.8 `dispatchState` copies the parent
// stage's image config and state; moby's `dispatchFrom` starts from the parent's config;
// imagebuilder's `FROM` of a stage starts from that stage's image).
pub const STAGE_SCOPE: Rule = Rule {
    id: RuleId::new("lang.stage-scope"),
    statement: "A stage built `FROM` an earlier stage starts with that stage's WORKDIR, ENV, USER \
                and SHELL (not its ARGs): `COPY . .` copies into the parent's WORKDIR.",
    source:
        "https://docs.docker.com/build/building/multi-stage/#use-a-previous-stage-as-a-new-stage",
    if_off:
        "a stage built FROM another starts with an empty scope (WORKDIR `/`, no ENV, USER or SHELL)",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

/// Whether a stage built FROM an earlier one starts with its scope (off: an empty one).
pub(crate) fn inherits_scope(p: &Profile) -> bool {
    p.on(&STAGE_SCOPE)
}

// Versions: every generation of every builder (BuildKit's `dispatchCopy` and moby's
// `copier.calcCopyInfo` both resolve a source against the context root).
pub const SOURCE_ROOTED: Rule = Rule {
    id: RuleId::new("lang.source-rooted"),
    statement:
        "A COPY/ADD source starting with `/` is a path from the context's root (`COPY /a /d` \
                copies the context's `a`), not an error.",
    source: "https://github.com/moby/moby/blob/v20.10.24/builder/dockerfile/copy.go#L226-L228",
    if_off: "a source starting with `/` fails the step as outside the context",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

/// A context source as a path from the context's root (off: as written).
pub(crate) fn rooted_source(p: &Profile, source: &str) -> String {
    match (p.on(&SOURCE_ROOTED), source.trim_start_matches('/')) {
        (true, "") => ".".to_string(),
        (true, rest) => rest.to_string(),
        (false, _) => source.to_string(),
    }
}

// Versions: every generation of every builder (BuildKit v0.8 `CopyCommand.Expand` expands
// `--chown`; moby's classic builder uses the same instruction package and keys on the expanded
// owner; imagebuilder expands the flag too).
pub const FLAG_EXPANDED: Rule = Rule {
    id: RuleId::new("lang.flag-expanded"),
    statement: "`COPY --chown=$UID:$GID` is keyed on the owner after expansion: a new build-arg \
                value there misses.",
    source: "https://github.com/moby/buildkit/blob/v0.8.0/frontend/dockerfile/instructions/commands.go#L218-L225",
    if_off: "`--chown` is keyed as written, so only an edit of its text misses",
    status: Status::Verify,
    applies: everywhere,
    versions: Versions::All,
};

/// `--chown`'s value: expanded by `expand` (off: as written).
pub(crate) fn chown_value(p: &Profile, chown: &str, expand: impl FnOnce(&str) -> String) -> String {
    match p.on(&FLAG_EXPANDED) {
        true => expand(chown),
        false => chown.to_string(),
    }
}

pub const RULES: &[Rule] = &[
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
    ENV_OVERRIDES_ARG,
    FROM_CHAIN,
    FROM_EXPANDED,
    FROM_BASE_WRITTEN,
    GLOBAL_ARG_ORDER,
    PLATFORM_ARGS,
    STAGE_SCOPE,
    SOURCE_ROOTED,
    FLAG_EXPANDED,
];
