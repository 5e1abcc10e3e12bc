//! Planning a build: for every instruction of every stage that would be built, its key under the
//! profile's rules and its chain id, or the outcome known without looking at the cache.
//!
//! `plan` checks what the engine refuses, splits the stages and walks them; each instruction kind
//! has its own function (`from.rs`, `run.rs`, `copy.rs`, `metadata.rs`) over a small per-stage
//! state (`StageState`).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use crate::context::BuildContext;
use crate::dockerfile::{self, Body, Dockerfile, ExpandError, Instruction};
use crate::fingerprint::fingerprint;
use crate::predict::key::StepKey;
use crate::predict::{copy, from, metadata, run, Build, BuildOptions, Outcome};
use crate::profiles::{
    buildah, buildkit, classic, general, Builder, Features, Generation, Profile,
};

/// One planned instruction.
#[derive(Clone, Debug)]
pub(crate) struct PlannedStep {
    /// The stage a COPY --from step reads.
    pub reads_stage: Option<usize>,
    pub step: usize,
    pub stage: usize,
    pub stage_name: Option<String>,
    pub instruction: String,
    pub kind: PlannedKind,
    /// The step's failure refuses the whole build (BuildKit's lexer errors: it converts the
    /// Dockerfile before building).
    pub refused_up_front: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum PlannedKind {
    From,
    Step {
        /// The chain the step is looked up under: the stage's, or for a `--link` copy the empty
        /// filesystem's (`bk.link`).
        parent: u64,
        chain: u64,
        key: StepKey,
        /// Keyed apart from the stage's chain: an earlier miss in the stage does not explain it.
        detached: bool,
    },
    /// The outcome is known without looking at the cache (not a step, skipped, fails, unsupported).
    Settled(Outcome),
}

pub(crate) struct Plan {
    pub rejected: Option<String>,
    pub steps: Vec<PlannedStep>,
    /// Chain ids of the final image's steps (what inline cache exports with layers).
    pub final_chains: Vec<u64>,
    /// For each stage, the earlier stage it is built FROM.
    pub stage_parents: Vec<Option<usize>>,
}

impl Plan {
    fn rejected(why: String) -> Plan {
        Plan {
            rejected: Some(why),
            steps: Vec::new(),
            final_chains: Vec::new(),
            stage_parents: Vec::new(),
        }
    }
}

/// What one instruction function decided.
pub(crate) enum Planned {
    From,
    /// A step with this key.
    Step {
        key: StepKey,
        changes_files: bool,
        reads_stage: Option<usize>,
        /// Looked up under this parent instead of the stage's chain (`bk.link`); the stage's
        /// chain then continues from the merge of both.
        detached_parent: Option<u64>,
    },
    /// The instruction settles the rest of the stage too (fails, skipped, unsupported).
    Broken(Outcome),
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
    /// filesystem: absolute path -> fingerprint of the entry's facts as the profile keys them
    /// (the base image's own files are constant).
    pub files: BTreeMap<String, (u64, bool)>,
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

/// Variables in scope in a stage: declared ARGs (with their value) and ENVs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    pub args: BTreeMap<String, Option<String>>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: String,
    /// The shell a SHELL instruction set, if any.
    pub shell: Option<Vec<String>>,
}

impl Scope {
    fn lookup(&self, name: &str, with_args: bool) -> Option<String> {
        if let Some((_, v)) = self.env.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if !with_args {
            return None;
        }
        self.args.get(name).cloned().flatten()
    }

    /// Declared args that have a value, as they enter RUN keys.
    pub fn args_with_values(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    }

    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value));
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
    pub files: BTreeMap<String, (u64, bool)>,
    /// Once a step fails or cannot be modelled, the rest of the stage is settled too.
    pub broken: Option<Outcome>,
}

impl StageState {
    fn outcome(self) -> StageOutcome {
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
    pub effect: copy::TransportEffect,
    /// The global scope: usable in FROM lines, and by a stage that declares a name again.
    pub global: GlobalScope,
    context_digest: OnceCell<u64>,
}

impl<'a> Cx<'a> {
    fn new(
        profile: &'a Profile,
        build: &'a Build,
        stages: &'a [StageSpan<'a>],
        global: GlobalScope,
    ) -> Cx<'a> {
        let mut visible = general::without_ignored(profile, &build.context);
        general::keep_dockerfile(profile, &mut visible);
        Cx {
            profile,
            build,
            stages,
            visible,
            args_on: general::build_args_reach_keys(profile),
            effect: copy::transport_effect(profile),
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
}

pub(crate) fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

pub(crate) fn parse_owner(text: &str) -> Option<(u32, u32)> {
    let (user, group) = text.split_once(':').unwrap_or((text, text));
    let id = |s: &str| if s == "root" { Some(0) } else { s.parse().ok() };
    Some((id(user)?, id(group)?))
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

/// The stages, each FROM's name given by `base` (its expansion).
fn split_stages<'d>(
    dockerfile: &'d Dockerfile,
    base: &mut dyn FnMut(&str) -> Result<String, ExpandError>,
) -> Vec<StageSpan<'d>> {
    let mut stages: Vec<StageSpan<'_>> = Vec::new();
    for (n, instruction) in dockerfile.instructions().enumerate() {
        if let Body::From { stage, image, .. } = &instruction.body {
            let (base, base_refused) = match base(image) {
                Ok(name) => (name, None),
                Err(e) => (image.clone(), Some(e.to_string())),
            };
            stages.push(StageSpan {
                name: stage.clone(),
                base,
                base_refused,
                written: image,
                instructions: Vec::new(),
            });
        }
        if let Some(current) = stages.last_mut() {
            current.instructions.push((n + 1, instruction));
        }
    }
    stages
}

fn stage_index(stages: &[StageSpan<'_>], reference: &str) -> Option<usize> {
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

/// The stages a builder builds for the build's target, in order: every stage up to the target for the
/// classic builder, what the target depends on for BuildKit and Buildah. A numeric target is a
/// stage index; an unknown one counts as the last stage (the build is refused anyway). The one
/// stage selection: prediction uses it, and so does observation (Podman's `[k/m]` prefixes).
pub fn built_stages(
    dockerfile: &Dockerfile,
    options: &BuildOptions,
    builder: Builder,
) -> Vec<usize> {
    let stages = stages_as_named(dockerfile, options, builder);
    if stages.is_empty() {
        return Vec::new();
    }
    let target = options
        .target
        .as_deref()
        .and_then(|t| stage_index(&stages, t))
        .unwrap_or(stages.len() - 1);
    let wanted = stages_to_build(builder, &stages, target);
    (0..stages.len()).filter(|i| wanted[*i]).collect()
}

/// Each stage's base, as the builder names it: `Ok(k)` for the earlier stage `k`, `Err(image)`
/// for an image (its name expanded). What observation needs to number a stage's steps as the
/// engine does (a stage built FROM another has no FROM vertex in BuildKit).
pub fn stage_bases(
    dockerfile: &Dockerfile,
    options: &BuildOptions,
    builder: Builder,
) -> Vec<Result<usize, String>> {
    let stages = stages_as_named(dockerfile, options, builder);
    (0..stages.len())
        .map(|i| stage_index(&stages[..i], &stages[i].base).ok_or_else(|| stages[i].base.clone()))
        .collect()
}

/// The stages with FROM names expanded with the global ARGs (their defaults, and the build's own
/// build args, which may make a FROM name a stage), as the oldest generation's lexer does.
fn stages_as_named<'d>(
    dockerfile: &'d Dockerfile,
    options: &BuildOptions,
    builder: Builder,
) -> Vec<StageSpan<'d>> {
    let profile = Profile {
        features: Features::of(builder, Generation::oldest(builder)),
        ..Profile::all()
            .into_iter()
            .find(|p| p.builder == builder)
            .expect("every builder has a profile")
    };
    let build = Build {
        options: options.clone(),
        ..Build::default()
    };
    let global = global_scope(&profile, dockerfile, &build);
    split_stages(dockerfile, &mut |image| from_base(&profile, &global, image))
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

/// Stages that must be built for the target, by builder.
fn stages_to_build(builder: Builder, stages: &[StageSpan<'_>], target: usize) -> Vec<bool> {
    let mut wanted = vec![false; stages.len()];
    match builder {
        // Engine 20.10's classic builder builds every stage up to the target, in order.
        Builder::Classic => wanted.iter_mut().take(target + 1).for_each(|w| *w = true),
        // BuildKit and Buildah (skip-unused-stages) build what the target depends on.
        Builder::BuildKit | Builder::Buildah => {
            let mut todo = vec![target];
            while let Some(i) = todo.pop() {
                if wanted[i] {
                    continue;
                }
                wanted[i] = true;
                for (_, instruction) in &stages[i].instructions {
                    let dependency = match &instruction.body {
                        Body::From { .. } => stage_index(&stages[..i], &stages[i].base),
                        Body::Copy(c) | Body::Add(c) => {
                            c.from.as_deref().and_then(|f| stage_index(&stages[..i], f))
                        }
                        _ => None,
                    };
                    if let Some(d) = dependency {
                        todo.push(d);
                    }
                    // `RUN --mount=...,from=STAGE` reads that stage too.
                    if let Body::Run { flags, .. } = &instruction.body {
                        let mounted = flags.mounts.iter().filter_map(|m| m.from.as_deref());
                        todo.extend(mounted.filter_map(|f| stage_index(&stages[..i], f)));
                    }
                }
            }
        }
    }
    wanted
}

/// The Dockerfile, or why the engine refuses it before building.
fn parse_for(profile: &Profile, build: &Build) -> Result<Dockerfile, String> {
    let text = build
        .context
        .dockerfile_text()
        .ok_or_else(|| "the context has no Dockerfile".to_string())?;
    let parsed = dockerfile::parse(&text);
    if let Some(d) = parsed.diagnostics.first() {
        return Err(format!("dockerfile parse error {d}"));
    }
    let dockerfile = parsed.dockerfile;
    if let Some(why) = crate::profiles::buildah::cache_from_refusal(profile, &build.options) {
        return Err(why);
    }
    for instruction in dockerfile.instructions() {
        // What a builder refuses only when it runs the step: `refused_in_built_stage`.
        if let Some(why) = refused_syntax(profile, &instruction.body) {
            return Err(why);
        }
    }
    let is_from = |i: &Instruction| matches!(i.body, Body::From { .. });
    if !dockerfile.instructions().any(is_from) {
        return Err("no FROM instruction".to_string());
    }
    let before_first_from = dockerfile.instructions().take_while(|i| !is_from(i));
    if let Some(i) = before_first_from
        .into_iter()
        .find(|i| !matches!(i.body, Body::Arg { .. }))
    {
        return Err(format!(
            "only ARG may come before the first FROM, not {}",
            i.body.keyword()
        ));
    }
    Ok(dockerfile)
}

/// What the builder refuses only when it runs the step, in its words: Buildah reads a step's
/// flags and heredocs then (a form its generation does not know: `COPY --link` before 1.41,
/// heredocs on 1.28), the classic builder a RUN's flags (`--mount`, `--network`, `--security`)
/// and COPY/ADD `--chmod` (`classic::copy_flag_refusal`), BuildKit an `ADD --checksum` of anything but one URL (`bk.add-checksum-remote`).
/// Public (and pure) so that a measure can tell a step's failure that is the builder's refusal
/// of a form from a failure of its inputs (`harness::run::mutants::failures`).
pub fn dispatch_refusal(profile: &Profile, body: &Body) -> Option<String> {
    match (profile.builder, body) {
        (Builder::Buildah, _) => feature_refusal(profile, body),
        (Builder::Classic, Body::Run { flags, .. }) => run_flag_refusal(flags),
        (Builder::Classic, _) => classic::copy_flag_refusal(profile, body),
        (Builder::BuildKit, _) => buildkit::add_checksum_refusal(profile, body),
    }
}

/// The first form of `body` the profile's frontend does not accept (`Features::refusal`).
fn feature_refusal(profile: &Profile, body: &Body) -> Option<String> {
    body.features()
        .into_iter()
        .find_map(|f| profile.features.refusal(f))
}

/// The classic builder's refusal of a RUN flag only BuildKit knows.
fn run_flag_refusal(flags: &crate::dockerfile::RunFlags) -> Option<String> {
    let used = [
        (!flags.mounts.is_empty(), "mount"),
        (flags.network.is_some(), "network"),
        (flags.security.is_some(), "security"),
    ];
    let (_, flag) = used.iter().find(|(on, _)| *on)?;
    Some(format!("the --{flag} option requires BuildKit"))
}

/// A refusal that comes only from a stage the builder builds (`dispatch_refusal`), where the
/// builder refuses the whole build for it (the classic builder and Buildah's unknown flags fail
/// at that step instead: `step_refusal`, `plan_stage`): a stage
/// `--target` leaves out refuses nothing. Measured: Podman 4.3 and 5.4 with `COPY --link` (case
/// unknown-flag-in-unbuilt-stage), Podman 4.3 with a heredoc and Engine 20.10's classic builder
/// with `RUN --mount` (generated scenarios of seed 1, `cachet mutants --engine`), BuildKit v0.13
/// and v0.25 with `ADD --checksum` of a context source (case add-checksum-unbuilt-stage, found by
/// `cachet run --seed 2` on buildkit@sid). Engine 20.10's
/// frontends parse the whole Dockerfile first, so an unknown flag refuses the build anyway.
fn refused_in_built_stage(
    profile: &Profile,
    stages: &[StageSpan<'_>],
    wanted: &[bool],
) -> Option<String> {
    stages
        .iter()
        .zip(wanted)
        .filter(|(_, built)| **built)
        .flat_map(|(stage, _)| &stage.instructions)
        .find_map(|(_, instruction)| {
            let body = &instruction.body;
            dispatch_refusal(profile, body).filter(|_| step_refusal(profile, body).is_none())
        })
}

/// A refusal the builder gives only when it reaches the step, after the steps before it ran:
/// the classic builder's BuildKit flags (`classic.dispatch-refusal`), Buildah's unknown flags
/// (`buildah.flag-at-step`; its heredoc refusal stays up front).
fn step_refusal(profile: &Profile, body: &Body) -> Option<String> {
    match profile.builder {
        Builder::Classic if classic::refuses_at_dispatch(profile) => {
            dispatch_refusal(profile, body)
        }
        Builder::Buildah if buildah::refuses_flags_at_step(profile) => body
            .features()
            .into_iter()
            .filter(|f| *f != crate::dockerfile::Feature::Heredoc)
            .find_map(|f| profile.features.refusal(f)),
        _ => None,
    }
}

/// Syntax the profile's engine refuses before building (its error, in the model's words): a form
/// its frontend does not accept (`Features::refusal`: heredocs, `COPY --link`, the newer ADD/COPY
/// flags; Buildah's come later, `dispatch_refusal`), and RUN flags in an ONBUILD trigger on the
/// classic builder.
fn refused_syntax(profile: &Profile, body: &Body) -> Option<String> {
    if profile.builder != Builder::Buildah {
        if let Some(why) = feature_refusal(profile, body) {
            return Some(why);
        }
    }
    match body {
        Body::Onbuild { trigger, .. } if profile.builder == Builder::Classic => match &**trigger {
            Body::Run { flags, .. } => run_flag_refusal(flags),
            _ => None,
        },
        _ => None,
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
    fn lookup_seeing(&self, name: &str, sees_undeclared: bool) -> Option<String> {
        match self.args.contains_key(name) || sees_undeclared {
            true => self.lookup(name),
            false => None,
        }
    }
}

/// The platform a build is for when it names none: the machine cachet's engines run on.
pub const DEFAULT_PLATFORM: &str = "linux/amd64";

/// The ARGs before the first FROM in order, each with its `--build-arg` value or its default
/// expanded with the ones before it (`general::global_default`), and the platform ARGs.
fn global_scope(profile: &Profile, dockerfile: &Dockerfile, build: &Build) -> GlobalScope {
    let options = &build.options;
    let platform = options.platform.as_deref().unwrap_or(DEFAULT_PLATFORM);
    let mut global = GlobalScope {
        args: BTreeMap::new(),
        platform: general::platform_args(profile, platform, &options.build_args),
        escape: dockerfile.instructions().next().map_or('\\', |i| i.escape),
        keeps_declared: buildkit::declared_platform_arg_keeps(profile)
            || buildah::declared_platform_arg_keeps(profile),
    };
    let before = dockerfile
        .instructions()
        .take_while(|i| !matches!(i.body, Body::From { .. }));
    for instruction in before {
        if let Body::Arg { args } = &instruction.body {
            for decl in args {
                let default = decl.default.as_deref().map(|d| {
                    general::global_default(profile, d, |text| {
                        let sees = buildah::platform_args_in_defaults(profile);
                        let lookup = |n: &str| global.lookup_seeing(n, sees);
                        let syntax = profile.features.expansion;
                        // A default the lexer refuses is empty (BuildKit v0.8 ignores the error).
                        dockerfile::expand(text, &lookup, syntax, global.escape, false)
                            .unwrap_or_default()
                    })
                });
                let value = options.build_args.get(&decl.name).cloned();
                global.args.insert(decl.name.clone(), value.or(default));
            }
        }
    }
    global
}

/// A FROM's name as the builder looks it up (`general::from_name`), or the lexer's refusal.
fn from_base(profile: &Profile, global: &GlobalScope, image: &str) -> Result<String, ExpandError> {
    general::from_name(profile, image, |text| {
        let sees = buildah::platform_args_in_from(profile);
        let lookup = |n: &str| global.lookup_seeing(n, sees);
        dockerfile::expand(
            text,
            &lookup,
            profile.features.expansion,
            global.escape,
            true,
        )
    })
}

pub(crate) fn plan(profile: &Profile, build: &Build) -> Plan {
    let dockerfile = match parse_for(profile, build) {
        Ok(d) => d,
        Err(why) => return Plan::rejected(why),
    };
    let global = global_scope(profile, &dockerfile, build);
    let stages = split_stages(&dockerfile, &mut |image| from_base(profile, &global, image));
    // BuildKit and Buildah name the stages before building: a FROM the lexer refuses refuses
    // the build (the classic builder fails at that FROM: `expansion_failure`).
    let from_failure = stages.iter().find_map(|s| s.base_refused.as_ref());
    if let Some(why) = from_failure.filter(|_| profile.builder != Builder::Classic) {
        return Plan::rejected(format!("FROM: {why}"));
    }
    let target = match &build.options.target {
        None => stages.len() - 1,
        Some(t) => match stage_index(&stages, t) {
            Some(i) => i,
            None => return Plan::rejected(format!("target stage `{t}` could not be found")),
        },
    };
    let wanted = stages_to_build(profile.builder, &stages, target);
    if let Some(why) = refused_in_built_stage(profile, &stages, &wanted) {
        return Plan::rejected(why);
    }
    // BuildKit resolves the image of every stage it builds before the first step runs.
    if profile.builder == Builder::BuildKit {
        if let Some(why) = (0..stages.len())
            .filter(|&i| wanted[i])
            .find_map(|i| unavailable_base(profile, &stages, i))
        {
            return Plan::rejected(why);
        }
    }
    let cx = Cx::new(profile, build, &stages, global);
    let mut outcomes: Vec<Option<StageOutcome>> = vec![None; stages.len()];
    let mut steps = Vec::new();
    let mut final_chains = Vec::new();
    for stage_no in 0..stages.len() {
        if !wanted[stage_no] {
            skip_stage(&cx, stage_no, &mut steps);
            continue;
        }
        let state = plan_stage(&cx, &outcomes, stage_no, &mut steps);
        outcomes[stage_no] = Some(state.outcome());
        if stage_no == target {
            // The final image: this stage's steps and those of stages it is built FROM.
            final_chains = collect_final_chains(&steps, &stages, stage_no);
        }
    }
    if let Some(why) = steps.iter().find_map(|s| match &s.kind {
        PlannedKind::Settled(Outcome::Fails { why }) if s.refused_up_front => Some(why.clone()),
        _ => None,
    }) {
        return Plan::rejected(why);
    }
    let stage_parents = (0..stages.len())
        .map(|i| stage_index(&stages[..i], &stages[i].base))
        .collect();
    Plan {
        rejected: None,
        steps,
        final_chains,
        stage_parents,
    }
}

fn planned_step(
    cx: &Cx<'_>,
    stage: usize,
    (step, instruction): (usize, &Instruction),
    kind: PlannedKind,
) -> PlannedStep {
    PlannedStep {
        reads_stage: None,
        step,
        stage,
        stage_name: cx.stages[stage].name.clone(),
        instruction: instruction.normalized(),
        kind,
        refused_up_front: false,
    }
}

fn skip_stage(cx: &Cx<'_>, stage: usize, steps: &mut Vec<PlannedStep>) {
    for (step, instruction) in &cx.stages[stage].instructions {
        steps.push(planned_step(
            cx,
            stage,
            (*step, instruction),
            PlannedKind::Settled(Outcome::Skipped {
                why: "stage not needed for the target".to_string(),
            }),
        ));
    }
}

fn plan_stage(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    stage: usize,
    steps: &mut Vec<PlannedStep>,
) -> StageState {
    let mut st = StageState {
        index: stage,
        ..StageState::default()
    };
    for (step, instruction) in &cx.stages[stage].instructions {
        let mut planned = planned_step(cx, stage, (*step, instruction), PlannedKind::From);
        if let Some(outcome) = &st.broken {
            planned.kind = PlannedKind::Settled(match outcome {
                Outcome::Fails { .. } => Outcome::Skipped {
                    why: "an earlier step fails".to_string(),
                },
                other => other.clone(),
            });
            steps.push(planned);
            continue;
        }
        let expansion = expansion_failure(cx, &st, instruction)
            .or_else(|| buildah_stage_name_failure(cx, stage, instruction));
        let up_front = expansion.is_some() && buildah::fails_words_up_front(cx.profile);
        let settled = expansion.or_else(|| step_refusal(cx.profile, &instruction.body));
        if let Some(why) = settled {
            let outcome = Outcome::Fails { why };
            planned.refused_up_front = cx.profile.builder == Builder::BuildKit || up_front;
            st.broken = Some(outcome.clone());
            planned.kind = PlannedKind::Settled(outcome);
            steps.push(planned);
            continue;
        }
        match plan_instruction(cx, outcomes, &mut st, instruction, &planned.instruction) {
            Planned::From => {
                if let Body::From { platform, .. } = &instruction.body {
                    if !buildkit::from_is_vertex(cx, outcomes, stage, platform.as_deref()) {
                        planned.kind = PlannedKind::Settled(buildkit::not_a_step());
                    }
                }
            }
            Planned::Broken(outcome) => {
                // BuildKit resolves every FROM before building: one it cannot name refuses the
                // build.
                let from = matches!(instruction.body, Body::From { .. });
                planned.refused_up_front = from && cx.profile.builder == Builder::BuildKit;
                st.broken = Some(outcome.clone());
                planned.kind = PlannedKind::Settled(outcome);
            }
            Planned::Step { key, .. } if !buildkit::is_vertex(cx.profile, &instruction.body) => {
                // BuildKit metadata: no vertex. ENV, USER and ARG act through later RUN keys.
                st.chain = buildkit::after_metadata(cx.profile, st.chain, &key);
                planned.kind = PlannedKind::Settled(buildkit::not_a_step());
            }
            Planned::Step {
                key,
                changes_files,
                reads_stage,
                detached_parent,
            } => {
                let key_digest = fingerprint(&key);
                if changes_files {
                    st.fs_digest = fingerprint(&(st.fs_digest, key_digest));
                }
                let parent = detached_parent.unwrap_or(st.chain);
                let chain = fingerprint(&(parent, key_digest));
                st.chain = match detached_parent {
                    Some(_) => fingerprint(&(st.chain, chain)),
                    None => chain,
                };
                if matches!(instruction.body, Body::Run { .. }) && st.last_run_opaque {
                    st.writer_chain = st.chain;
                }
                planned.reads_stage = reads_stage;
                planned.kind = PlannedKind::Step {
                    parent,
                    chain,
                    key,
                    detached: detached_parent.is_some(),
                };
            }
        }
        steps.push(planned);
    }
    st
}

/// One instruction's key (or outcome), by kind.
fn plan_instruction(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    st: &mut StageState,
    instruction: &Instruction,
    normalized: &str,
) -> Planned {
    match &instruction.body {
        Body::From { platform, .. } => from::plan_from(cx, outcomes, st, platform.as_deref()),
        Body::Run { .. } => run::plan_run(cx, outcomes, st, instruction, normalized),
        Body::Copy(c) | Body::Add(c) => {
            copy::plan_copy(cx, outcomes, st, instruction.body.keyword(), c)
        }
        Body::Unsupported { why } => Planned::Broken(Outcome::Unsupported { why: why.clone() }),
        _ => metadata::plan_metadata(cx, st, instruction, normalized),
    }
}

/// Buildah 1.28's failure of a FROM whose name holds a variable: it expands it with the given
/// build args only, not the global ARGs' defaults, so where only the defaults make it name a
/// stage it is an image it cannot pull (`buildah.words-at-step`).
fn buildah_stage_name_failure(
    cx: &Cx<'_>,
    stage: usize,
    instruction: &Instruction,
) -> Option<String> {
    let Body::From { image, .. } = &instruction.body else {
        return None;
    };
    if !buildah::fails_words_up_front(cx.profile) || !image.contains('$') {
        return None;
    }
    cx.earlier_stage(stage, &cx.stages[stage].base)?;
    let given = |n: &str| cx.build.options.build_args.get(n).cloned();
    let name = dockerfile::expand(
        image,
        &given,
        cx.profile.features.expansion,
        cx.global.escape,
        true,
    )
    .ok()?;
    cx.earlier_stage(stage, &name).is_none().then(|| {
        format!("FROM {image}: without the global ARGs' defaults it is `{name}`, an image that cannot be pulled")
    })
}

/// The lexer's refusal of a word the instruction expands (`Cx::try_expand`), in the builder's
/// words: BuildKit refuses the build for it (`PlannedStep::refused_up_front`), the classic
/// builder and Buildah fail at the step. RUN's command is the shell's, not the lexer's.
fn expansion_failure(cx: &Cx<'_>, st: &StageState, instruction: &Instruction) -> Option<String> {
    let scope = &st.scope;
    let (raw, unquoted): (Vec<&str>, Vec<&str>) = match &instruction.body {
        Body::Workdir { path } => (vec![path.as_str()], vec![]),
        Body::User { user } => (vec![user.as_str()], vec![]),
        Body::Env { pairs } | Body::Label { pairs } => (
            vec![],
            pairs
                .iter()
                .flat_map(|(k, v)| [k.as_str(), v.as_str()])
                .collect(),
        ),
        Body::Arg { args } => (
            vec![],
            args.iter().filter_map(|a| a.default.as_deref()).collect(),
        ),
        Body::Copy(c) | Body::Add(c) => (
            vec![],
            c.sources
                .iter()
                .chain([&c.dest])
                .chain(&c.chown)
                .map(String::as_str)
                .collect(),
        ),
        Body::Volume { paths } => (vec![], paths.iter().map(String::as_str).collect()),
        _ => (vec![], vec![]),
    };
    let keyword = instruction.body.keyword();
    // FROM's name was expanded in the global scope (`from_base`).
    if let Body::From { .. } = &instruction.body {
        let refused = cx.stages[st.index].base_refused.as_ref();
        return refused.map(|e| format!("{keyword}: {e}"));
    }
    let tried = raw
        .iter()
        .map(|w| cx.try_expand(w, scope, true))
        .chain(unquoted.iter().map(|w| cx.try_expand(w, scope, false)));
    tried
        .filter_map(Result::err)
        .next()
        .map(|e| format!("{keyword}: failed to process: {e}"))
}

fn collect_final_chains(
    steps: &[PlannedStep],
    stages: &[StageSpan<'_>],
    target: usize,
) -> Vec<u64> {
    let mut lineage = vec![target];
    let mut current = target;
    while let Some(parent) = stage_index(&stages[..current], &stages[current].base) {
        lineage.push(parent);
        current = parent;
    }
    steps
        .iter()
        .filter(|s| lineage.contains(&s.stage))
        .filter_map(|s| match s.kind {
            PlannedKind::Step { chain, .. } => Some(chain),
            _ => None,
        })
        .collect()
}
