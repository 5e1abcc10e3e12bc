//! What every instruction handler (`from.rs`, `run.rs`, `copy.rs`, `metadata.rs`) reads and
//! writes: the build's context (`Cx`: profile, stages, the context as the door delivers it, the
//! global scope), the state of the stage being planned (`StageState`), what earlier stages left
//! (`StageOutcome`), and what a handler decided (`Planned`). `plan.rs` walks the stages and
//! dispatches to the handlers; they and it both stand on this file.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::context::{BuildContext, Entry};
use crate::dockerfile::{self, Body, ExpandError, Instruction};
use crate::fingerprint::fingerprint;
use crate::profiles::buildkit::FromLine;
use crate::profiles::{buildkit, classic, general, Builder, Profile, Transport};
use crate::step::key::StepKey;
use crate::step::outcome::Outcome;
use crate::step::scope::Scope;
use crate::step::Build;

/// What one instruction function decided.
pub(crate) enum Planned {
    From,
    /// A step with this key.
    Step {
        key: StepKey,
        changes_files: bool,
        reads_stage: Option<usize>,
        /// The earlier stages a RUN mounts (`from=`) whose having run decides whether its cache
        /// is looked up at all (`buildah::skips_lookup_after_stage_ran`); empty elsewhere.
        mounted_stages: Vec<usize>,
        /// The earlier stages a RUN's mounts take files from (`from=`), on every builder: the
        /// RUN cannot run without their results (`buildkit::exports_layer`'s layers).
        bound_stages: Vec<usize>,
        /// Looked up under this parent instead of the stage's chain (`bk.link`); the stage's
        /// chain then continues from the merge of both.
        detached_parent: Option<u64>,
    },
    /// The instruction settles the rest of the stage too (fails, skipped, unsupported).
    Broken(Outcome),
    /// The instruction fails on a path the earlier stage (the index) lacks: the builder finds
    /// that out from the stage's result, so only once the stage is built (`bk.failed-solve`).
    LacksInStage(Outcome, usize),
}

impl Planned {
    /// `outcome` settles the step; a failure found in the earlier stage `read` (a `COPY --from`
    /// or a bind mount of a path it lacks) says so.
    pub(crate) fn broken_reading(outcome: Outcome, read: Option<usize>) -> Planned {
        match (outcome, read) {
            (outcome @ Outcome::Fails { .. }, Some(stage)) => Planned::LacksInStage(outcome, stage),
            (outcome, _) => Planned::Broken(outcome),
        }
    }
}

/// Per-stage facts other stages may need.
#[derive(Clone, Debug)]
pub(crate) struct StageOutcome {
    pub final_chain: u64,
    pub fs_digest: u64,
    /// An opaque RUN ran in the stage (or in the stage it is built FROM).
    pub has_run: bool,
    /// The stage is built on `base`, cachet's base image (`BASE_DIRS`).
    pub on_base: bool,
    /// The directories WORKDIR made (or found) in the stage.
    pub workdirs: std::collections::BTreeSet<String>,
    /// The chain at the stage's last opaque RUN, or at its FROM: what determines the files no
    /// COPY or known RUN wrote (`copy.from-chain`).
    pub writer_chain: u64,
    /// What COPY steps and RUNs of known effect (`run::run_effect`) put into the stage's
    /// filesystem: absolute path -> the entry's facts as the profile keys them (the base image's
    /// own files are constant).
    pub files: BTreeMap<String, PlacedFile>,
    /// A step of the stage fails: stages that read it do not run either.
    pub fails: bool,
    /// A step of the stage is `Unsupported`: what other stages take from it is unknown too.
    pub unknown: bool,
    /// WORKDIR, ENV, USER, SHELL and ARGs at the stage's end: a stage built FROM it starts with
    /// them (`general::inherits_scope`), its ARGs only on BuildKit v0.15 on (`bk.stage-args`).
    pub scope: Scope,
}

pub(crate) struct StageSpan<'a> {
    pub name: Option<String>,
    /// The name its FROM gives, expanded with the global ARGs (`general::from_name`): an image,
    /// or an earlier stage's name.
    pub base: String,
    /// Why the lexer refuses FROM's name (`base` is then the name as written).
    pub base_refused: Option<String>,
    /// FROM's name as written.
    pub written: &'a str,
    pub instructions: Vec<(usize, &'a Instruction)>,
}

/// An entry a COPY or a RUN of known effect put into a stage: a digest of its facts but its
/// owner and mode, which are kept apart because Buildah's `--chown` / `--chmod` replace them in
/// the stream a later `COPY --from` digests (`buildah.copy-digest`). An entry whose facts the
/// model knows only as one digest (what a RUN or an image made) has neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PlacedFile {
    pub rest: u64,
    pub owner: Option<(u32, u32)>,
    pub mode: Option<u32>,
    pub is_dir: bool,
}

impl PlacedFile {
    /// An entry known only as one digest.
    pub(crate) fn opaque(digest: u64, is_dir: bool) -> PlacedFile {
        PlacedFile {
            rest: digest,
            owner: None,
            mode: None,
            is_dir,
        }
    }

    /// The entry's facts as one digest.
    pub(crate) fn digest(&self) -> u64 {
        fingerprint(&(self.rest, self.owner, self.mode))
    }
}

/// The state of the stage being planned.
#[derive(Clone, Debug, Default)]
pub(crate) struct StageState {
    pub index: usize,
    pub scope: Scope,
    pub chain: u64,
    pub fs_digest: u64,
    /// An opaque RUN ran (one whose effect `run::run_effect` does not know).
    pub has_run: bool,
    /// The last RUN planned was opaque: the writer chain moves to it.
    pub last_run_opaque: bool,
    /// The stage is built on `base`, cachet's base image, whose files the model knows.
    pub on_base: bool,
    /// The directories WORKDIR made (or found) in the stage.
    pub workdirs: std::collections::BTreeSet<String>,
    /// The chain at the last opaque RUN, or at FROM (`copy.from-chain`).
    pub writer_chain: u64,
    pub files: BTreeMap<String, PlacedFile>,
    /// Once a step fails or cannot be modelled, the rest of the stage is settled too.
    pub broken: Option<Outcome>,
}

impl StageState {
    pub(crate) fn outcome(self) -> StageOutcome {
        StageOutcome {
            final_chain: self.chain,
            fs_digest: self.fs_digest,
            has_run: self.has_run,
            on_base: self.on_base,
            workdirs: self.workdirs,
            writer_chain: self.writer_chain,
            files: self.files,
            fails: matches!(
                self.broken,
                Some(Outcome::Fails { .. } | Outcome::Skipped { .. })
            ),
            unknown: matches!(self.broken, Some(Outcome::Unsupported { .. })),
            scope: self.scope,
        }
    }
}

/// What every instruction function may read: the profile, the build, the stages, and what the
/// builder sees of the context.
pub(crate) struct Cx<'a> {
    pub profile: &'a Profile,
    pub build: &'a Build,
    pub stages: &'a [StageSpan<'a>],
    /// The context as COPY sees it (`dockerignore`, `dockerfile.self`).
    pub visible: Cow<'a, BuildContext>,
    /// Whether build-arg values reach keys (`arg.first-use`).
    pub args_on: bool,
    pub effect: TransportEffect,
    /// The global scope: usable in FROM lines, and by a stage that declares a name again.
    pub global: GlobalScope,
    context_digest: OnceCell<u64>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(
        profile: &'a Profile,
        build: &'a Build,
        stages: &'a [StageSpan<'a>],
        global: GlobalScope,
    ) -> Cx<'a> {
        let mut visible = general::without_ignored(profile, &build.context);
        general::keep_dockerfile(profile, &mut visible);
        crate::profiles::classic::drop_ignored_dockerfile(profile, &build.context, &mut visible);
        Cx {
            profile,
            build,
            stages,
            visible,
            args_on: general::build_args_reach_keys(profile),
            effect: transport_effect(profile),
            global,
            context_digest: OnceCell::new(),
        }
    }

    /// The digest of the whole visible context, computed once and only if a key needs it.
    pub fn context_digest(&self) -> u64 {
        *self
            .context_digest
            .get_or_init(|| fingerprint(&*self.visible))
    }

    /// Expands the variables of a word the parser already unquoted (COPY's words, ENV and LABEL
    /// pairs, ARG defaults, flag values): ENV values, and build args when they reach keys. A word
    /// the lexer refuses stays as written; `expansion_failure` has settled the step before.
    pub fn expand(&self, text: &str, scope: &Scope) -> String {
        self.try_expand(text, scope, false)
            .unwrap_or_else(|_| text.to_string())
    }

    /// `expand` for an argument kept as written (WORKDIR, USER): its quotes are the lexer's.
    pub fn expand_raw(&self, text: &str, scope: &Scope) -> String {
        self.try_expand(text, scope, true)
            .unwrap_or_else(|_| text.to_string())
    }

    /// Expands a word of a FROM line (`--platform`) in the global scope: the global ARGs, then
    /// the automatic platform ARGs.
    pub fn expand_global(&self, text: &str) -> String {
        let lookup = |n: &str| self.global.lookup(n);
        let syntax = self.profile.features.expansion;
        dockerfile::expand(text, &lookup, syntax, self.global.escape, true)
            .unwrap_or_else(|_| text.to_string())
    }

    /// The one expansion of the model (`dockerfile::expand`) with the profile's lexer.
    pub fn try_expand(
        &self,
        text: &str,
        scope: &Scope,
        quotes: bool,
    ) -> Result<String, ExpandError> {
        let lookup = |n: &str| scope.lookup(n, self.args_on);
        dockerfile::expand(
            text,
            &lookup,
            self.profile.features.expansion,
            self.global.escape,
            quotes,
        )
    }

    /// The earlier stage `reference` names, as seen from stage `stage`.
    pub fn earlier_stage(&self, stage: usize, reference: &str) -> Option<usize> {
        stage_index(&self.stages[..stage], reference)
    }

    /// Stage `i`'s FROM as `buildkit::from_is_vertex` reads it: its image, whether that names an
    /// earlier stage, its `--platform` as written, and whether the stage is built.
    pub(crate) fn from_line(&self, i: usize, outcomes: &[Option<StageOutcome>]) -> FromLine<'_> {
        let span = &self.stages[i];
        let platform = span
            .instructions
            .first()
            .and_then(|(_, first)| match &first.body {
                Body::From { platform, .. } => platform.as_deref(),
                _ => None,
            });
        FromLine {
            image: &span.base,
            names_stage: self.earlier_stage(i, &span.base).is_some(),
            platform,
            built: outcomes.get(i).is_some_and(Option::is_some),
        }
    }
}

pub(crate) fn join_workdir(current: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else if current.is_empty() || current == "/" {
        format!("/{path}")
    } else {
        format!("{current}/{path}")
    }
}

pub(crate) fn stage_index(stages: &[StageSpan<'_>], reference: &str) -> Option<usize> {
    stages
        .iter()
        .position(|s| s.name.as_deref() == Some(reference))
        .or_else(|| {
            reference
                .parse::<usize>()
                .ok()
                .filter(|&i| i < stages.len())
        })
}

/// Why stage `i`'s FROM names an image no scenario build can have (`from.base-written`).
pub(crate) fn unavailable_base(
    profile: &Profile,
    stages: &[StageSpan<'_>],
    i: usize,
) -> Option<String> {
    let stage = &stages[i];
    (stage_index(&stages[..i], &stage.base).is_none()
        && general::base_unavailable(profile, stage.written, &stage.base))
    .then(|| {
        format!(
            "FROM {}: it names the image `{}`, which cannot be pulled without network (only the \
             word `base` written as FROM's name is cachet's base image)",
            stage.written, stage.base
        )
    })
}

/// What the transport does to each entry before the builder sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TransportEffect {
    reset_owner: bool,
    only_capability_xattr: bool,
}

impl TransportEffect {
    /// Whether an entry's xattr `name` arrives: all do, or only `security.capability` where the
    /// door keeps no other.
    pub(crate) fn keeps_xattr(self, name: &str) -> bool {
        !self.only_capability_xattr || name == "security.capability"
    }
}

pub(crate) fn transport_effect(p: &Profile) -> TransportEffect {
    // The docker CLI resets owners for Buildah too, though Buildah replaces the owner anyway
    // (`buildah.copy-digest`).
    let buildah_cli = p.builder == Builder::Buildah && p.transport == Transport::Cli;
    TransportEffect {
        reset_owner: classic::cli_resets_owner(p) || buildkit::owner_reset(p) || buildah_cli,
        only_capability_xattr: classic::cli_keeps_only_capability(p),
    }
}

/// A context entry's owner as the door delivers it: 0:0 where the transport resets owners.
pub(crate) fn arrived_owner(effect: TransportEffect, entry: &Entry) -> (u32, u32) {
    match effect.reset_owner {
        true => (0, 0),
        false => (entry.uid, entry.gid),
    }
}

/// What the global scope holds: the ARGs before the first FROM, the automatic platform ARGs,
/// and the escape character.
pub(crate) struct GlobalScope {
    /// The ARGs declared before the first FROM, with their values (`--build-arg`, or the
    /// default expanded in order).
    pub args: BTreeMap<String, Option<String>>,
    /// The automatic platform ARGs (`general::platform_args`): a stage's `ARG NAME` without a
    /// value takes one from here.
    pub platform: BTreeMap<String, String>,
    /// The escape character (`# escape=`).
    pub escape: char,
    /// Whether a global platform ARG declared with no value keeps the automatic value
    /// (`bk.declared-platform-arg`, `buildah.declared-platform-arg`).
    pub keeps_declared: bool,
}

impl GlobalScope {
    /// A name in the global scope: a declared global ARG's value, else an automatic platform
    /// ARG (which a global `ARG TARGETARCH` with no value keeps where `keeps_declared`).
    pub fn lookup(&self, name: &str) -> Option<String> {
        match self.args.get(name) {
            Some(Some(value)) => Some(value.clone()),
            Some(None) if !self.keeps_declared => None,
            _ => self.platform.get(name).cloned(),
        }
    }

    /// `lookup` where the builder may hide the platform ARGs no global `ARG` line declared:
    /// `sees_undeclared` says whether it shows them there (`buildah::platform_args_in_defaults`
    /// for a global default, `buildah::platform_args_in_from` for a FROM line).
    pub(crate) fn lookup_seeing(&self, name: &str, sees_undeclared: bool) -> Option<String> {
        match self.args.contains_key(name) || sees_undeclared {
            true => self.lookup(name),
            false => None,
        }
    }
}
