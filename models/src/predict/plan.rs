//! Planning a build: for every instruction of every stage that would be built, its key under the
//! profile's rules and its chain id, or the outcome known without looking at the cache.
//!
//! `plan` checks what the engine refuses, splits the stages and walks them; each instruction kind
//! has its own function (`from.rs`, `run.rs`, `copy.rs`, `metadata.rs`) over a small per-stage
//! state (`StageState`, in `cx.rs` with the rest of what the handlers share).

use std::collections::BTreeMap;

use crate::dockerfile::{self, Body, Dockerfile, ExpandError, Instruction};
use crate::fingerprint::fingerprint;
use crate::predict::cx::{
    stage_index, unavailable_base, Cx, GlobalScope, Planned, StageOutcome, StageSpan, StageState,
};
use crate::predict::{copy, from, metadata, run};
use crate::profiles::buildkit::FromLine;
use crate::profiles::{
    buildah, buildkit, classic, general, Builder, Features, Generation, Profile,
};
use crate::step::key::StepKey;
use crate::step::outcome::Outcome;
use crate::step::{Build, BuildOptions};

/// One planned instruction.
#[derive(Clone, Debug)]
pub(crate) struct PlannedStep {
    /// The stage a COPY --from step reads.
    pub reads_stage: Option<usize>,
    /// The stages a RUN mounts whose having run makes it skip the lookup (`Planned::Step`).
    pub mounted_stages: Vec<usize>,
    /// The stages a RUN mounts files from (`from=`), whatever the builder (`Planned::Step`).
    pub bound_stages: Vec<usize>,
    pub step: usize,
    pub stage: usize,
    pub stage_name: Option<String>,
    pub instruction: String,
    pub kind: PlannedKind,
    /// The step's failure refuses the whole build (BuildKit's lexer errors: it converts the
    /// Dockerfile before building).
    pub refused_up_front: bool,
    /// A failing step's failure found in this earlier stage's result (a path it lacks): that
    /// stage was built before the step failed (`bk.failed-solve`).
    pub waited_for: Option<usize>,
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

/// Stages that must be built for the target, by builder.
fn stages_to_build(builder: Builder, stages: &[StageSpan<'_>], target: usize) -> Vec<bool> {
    match builder {
        // Engine 20.10's classic builder builds every stage up to the target, in order.
        Builder::Classic => (0..stages.len()).map(|i| i <= target).collect(),
        // BuildKit and Buildah (skip-unused-stages) build what the target depends on.
        Builder::BuildKit | Builder::Buildah => needed_by(stages, target, &|i| {
            stage_index(&stages[..i], &stages[i].base)
        }),
    }
}

/// The stages `target` needs, itself included, transitively: the earlier stage its FROM names
/// (`from_stage`, by the stage's index), and those its `COPY/ADD --from=` and
/// `RUN --mount=...,from=` name as written.
fn needed_by(
    stages: &[StageSpan<'_>],
    target: usize,
    from_stage: &dyn Fn(usize) -> Option<usize>,
) -> Vec<bool> {
    let mut wanted = vec![false; stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if wanted[i] {
            continue;
        }
        wanted[i] = true;
        todo.extend(from_stage(i));
        for (_, instruction) in &stages[i].instructions {
            let earlier = |f: &str| stage_index(&stages[..i], f);
            match &instruction.body {
                Body::Copy(c) | Body::Add(c) => todo.extend(c.from.as_deref().and_then(earlier)),
                Body::Run { flags, .. } => {
                    let mounted = flags.mounts.iter().filter_map(|m| m.from.as_deref());
                    todo.extend(mounted.filter_map(earlier));
                }
                _ => {}
            }
        }
    }
    wanted
}

/// `text` parsed as the profile's frontend reads it: with heredocs, or without
/// (`buildah.heredoc-as-lines`).
pub fn parse_as(profile: &Profile, text: &str) -> dockerfile::Parsed {
    dockerfile::parse_with(text, crate::profiles::buildah::reads_heredocs(profile))
}

/// The Dockerfile `parsed` holds, or why the engine refuses it before building.
fn checked_for(
    profile: &Profile,
    build: &Build,
    parsed: dockerfile::Parsed,
) -> Result<Dockerfile, String> {
    if let Some(d) = parsed.diagnostics.first() {
        return Err(format!("dockerfile parse error {d}"));
    }
    let dockerfile = parsed.dockerfile;
    if let Some(why) = crate::profiles::buildah::cache_from_refusal(profile, &build.options) {
        return Err(why);
    }
    if let Some(why) = buildkit::cache_export_refusal(profile, &build.options.cache_to) {
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
    if let Some(why) = unknown_instruction(body) {
        return Some(why);
    }
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

/// An instruction whose keyword the frontend looks up only when it dispatches it, and finds
/// none (`parse_as` without heredocs: `buildah.heredoc-as-lines`).
fn unknown_instruction(body: &Body) -> Option<String> {
    match body {
        Body::Unsupported { why } if why.starts_with(dockerfile::UNKNOWN_INSTRUCTION) => {
            Some(why.clone())
        }
        _ => None,
    }
}

/// A refusal the builder gives only when it reaches the step, after the steps before it ran:
/// the classic builder's BuildKit flags (`classic.dispatch-refusal`), Buildah's unknown flags
/// (`buildah.flag-at-step`) and unknown instructions (a heredoc's body lines on a Buildah without
/// heredocs, `buildah.heredoc-as-lines`).
fn step_refusal(profile: &Profile, body: &Body) -> Option<String> {
    if let Some(why) = unknown_instruction(body) {
        return Some(why);
    }
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
    let Some(text) = build.context.dockerfile_text() else {
        return Plan::rejected("the context has no Dockerfile".to_string());
    };
    // Parsed once: a `# syntax=` frontend (BuildKit's) never changes how the text is read
    // (`parse_as` differs for Buildah alone).
    let parsed = parse_as(profile, &text);
    // A `# syntax=` image's frontend replaces the engine's own (`bk.syntax-frontend`).
    let syntax = parsed.dockerfile.directive("syntax");
    let frontend = match buildkit::syntax_frontend(profile, syntax, &build.options) {
        Ok(frontend) => frontend,
        Err(why) => return Plan::rejected(why),
    };
    let profile = frontend.as_ref().unwrap_or(profile);
    let dockerfile = match checked_for(profile, build, parsed) {
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
        mounted_stages: Vec::new(),
        bound_stages: Vec::new(),
        step,
        stage,
        stage_name: cx.stages[stage].name.clone(),
        instruction: instruction.normalized(),
        kind,
        refused_up_front: false,
        waited_for: None,
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
            planned.kind = after_broken(outcome);
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
                if !from_is_vertex(cx, outcomes, stage, instruction) {
                    planned.kind = PlannedKind::Settled(buildkit::not_a_step());
                }
            }
            Planned::LacksInStage(outcome, stage) => {
                planned.waited_for = Some(stage);
                st.broken = Some(outcome.clone());
                planned.kind = PlannedKind::Settled(outcome);
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
                mounted_stages,
                bound_stages,
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
                planned.mounted_stages = mounted_stages;
                planned.bound_stages = bound_stages;
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

/// What a step after a broken one is: skipped after a failure, else the same outcome.
fn after_broken(outcome: &Outcome) -> PlannedKind {
    PlannedKind::Settled(match outcome {
        Outcome::Fails { .. } => Outcome::Skipped {
            why: "an earlier step fails".to_string(),
        },
        other => other.clone(),
    })
}

/// Whether stage `stage`'s FROM is a vertex BuildKit reports (`buildkit::from_is_vertex`),
/// given the stages' FROM lines before it; every other builder's FROM is one.
fn from_is_vertex(
    cx: &Cx<'_>,
    outcomes: &[Option<StageOutcome>],
    stage: usize,
    instruction: &Instruction,
) -> bool {
    let Body::From { platform, .. } = &instruction.body else {
        return true;
    };
    let this = FromLine {
        platform: platform.as_deref(),
        ..cx.from_line(stage, outcomes)
    };
    let earlier: Vec<FromLine<'_>> = (0..stage).map(|i| cx.from_line(i, outcomes)).collect();
    buildkit::from_is_vertex(cx.profile, &this, &earlier)
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

/// Buildah 1.28's failure of a FROM whose name holds a variable (`buildah.words-at-step`): its
/// executor decides which stages to skip with FROM names expanded with the given build args
/// only, not the global ARGs' defaults, while the stage's own FROM is expanded with the defaults.
/// Where only the defaults make the name a stage, that stage is built only if something else
/// needs it (`COPY --from`, a mount's `from=`); skipped, it is an image that cannot be pulled.
/// Measured with lang-from-expanded-stage (skipped: fails up front) and
/// buildah-from-default-arg-stage-needed (needed by a COPY --from: builds on it).
/// https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/executor.go#L651-L667,
/// https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/executor.go#L796-L806,
/// https://github.com/containers/buildah/blob/v1.28.2/imagebuildah/stage_executor.go#L908-L916
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
    let named = cx.earlier_stage(stage, &cx.stages[stage].base)?;
    let name = expand_given_args(cx, image)?;
    if cx.earlier_stage(stage, &name).is_some() {
        return None;
    }
    let target = cx.build.options.target.as_deref();
    let target = target.and_then(|t| stage_index(cx.stages, t));
    let scanned = needed_by(cx.stages, target.unwrap_or(cx.stages.len() - 1), &|i| {
        let name = expand_given_args(cx, cx.stages[i].written)?;
        stage_index(&cx.stages[..i], &name)
    });
    let base = &cx.stages[named].name;
    (!scanned[named]).then(|| {
        format!(
            "FROM {image}: without the global ARGs' defaults it is `{name}`, so nothing needs \
             stage `{}`, which is skipped, and its name is an image that cannot be pulled",
            base.as_deref().unwrap_or(&cx.stages[stage].base)
        )
    })
}

/// A FROM name expanded with the build's `--build-arg`s only (Buildah 1.28's stage scan).
fn expand_given_args(cx: &Cx<'_>, image: &str) -> Option<String> {
    let given = |n: &str| cx.build.options.build_args.get(n).cloned();
    let syntax = cx.profile.features.expansion;
    dockerfile::expand(image, &given, syntax, cx.global.escape, true).ok()
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
