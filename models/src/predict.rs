//! Engine state and prediction: which steps a build serves from cache, and why.
//!
//! A build is first turned into a `Plan`: for every instruction of every stage that would be
//! built, the key the profile's rules give it (`StepKey`) and its chain id (the key folded with its
//! parent's chain). `predict` looks the plan up in an `EngineState`; `apply` records it there.
//! A miss is explained by comparing the key with the cached keys that share its parent.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::context::{
    normalize_context_path, BuildContext, Entry, EntryKind, DOCKERFILE_NAME, DOCKERIGNORE_NAME,
};
use crate::dockerfile::{self, expand_variables, Body, CopyArgs, Dockerfile, Instruction};
use crate::fingerprint::{content_digest, fingerprint};
use crate::profiles::{Builder, Profile, Transport};
use crate::rules::RuleId;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildOptions {
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub target: Option<String>,
    /// Registry references whose inline cache this build may use.
    pub cache_from: Vec<String>,
    /// Export inline cache metadata with the image (`BUILDKIT_INLINE_CACHE=1`).
    pub inline_cache: bool,
    /// Push the result under this reference (the registry then holds its inline cache, if any).
    pub push: Option<String>,
}

/// One build: the whole context (Dockerfile and `.dockerignore` included) and its options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub context: BuildContext,
    pub options: BuildOptions,
}

/// What changed in a source file, as the profile sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Content,
    Mode { from: u32, to: u32 },
    Owner { from: (u32, u32), to: (u32, u32) },
    Times,
    Xattr { name: String },
    Type { from: String, to: String },
    LinkTarget { from: String, to: String },
    Added,
    Removed,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Content => write!(f, "content"),
            Field::Mode { from, to } => write!(f, "mode {from:04o} -> {to:04o}"),
            Field::Owner { from, to } => {
                write!(f, "owner {}:{} -> {}:{}", from.0, from.1, to.0, to.1)
            }
            Field::Times => write!(f, "mtime/atime"),
            Field::Xattr { name } => write!(f, "xattr {name}"),
            Field::Type { from, to } => write!(f, "type {from} -> {to}"),
            Field::LinkTarget { from, to } => write!(f, "link target {from} -> {to}"),
            Field::Added => write!(f, "added"),
            Field::Removed => write!(f, "removed"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReasonKind {
    /// Nothing cached on this parent for this kind of step.
    NotInCache,
    /// An earlier step of the stage was rebuilt (1-based step number in the Dockerfile).
    ParentRebuilt {
        step: usize,
    },
    InstructionText {
        cached: String,
        now: String,
    },
    SourceChanged {
        path: String,
        field: Field,
    },
    BuildArg {
        name: String,
    },
    Environment {
        name: String,
    },
    /// The whole context entered the key (only with `run.opaque` or `bk.content-addressed` off).
    ContextChanged,
    NoCache,
    LayersOff,
    /// Imported inline cache holds the step's key but not its layer, and a later step needs it.
    NoLayer,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Reason {
    pub rule: RuleId,
    #[serde(flatten)]
    pub kind: ReasonKind,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            ReasonKind::NotInCache => write!(f, "not in cache")?,
            ReasonKind::ParentRebuilt { step } => write!(f, "parent rebuilt at step {step}")?,
            ReasonKind::InstructionText { cached, now } => {
                write!(f, "instruction text `{cached}` -> `{now}`")?
            }
            ReasonKind::SourceChanged { path, field } => write!(f, "source `{path}`: {field}")?,
            ReasonKind::BuildArg { name } => write!(f, "build arg `{name}` changed")?,
            ReasonKind::Environment { name } => write!(f, "environment `{name}` changed")?,
            ReasonKind::ContextChanged => write!(f, "context changed")?,
            ReasonKind::NoCache => write!(f, "--no-cache")?,
            ReasonKind::LayersOff => write!(f, "layer cache off")?,
            ReasonKind::NoLayer => write!(
                f,
                "imported inline cache holds its key but not its layer, and a later step needs it"
            )?,
        }
        write!(f, " ({})", self.rule)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Served from cache; `from` names the registry reference for imported cache.
    Cached {
        rule: RuleId,
        from: Option<String>,
    },
    Rebuilt {
        reason: Reason,
    },
    /// Not a cacheable step for this builder (BuildKit metadata instructions): nothing to observe.
    NotAStep {
        rule: RuleId,
    },
    /// The stage is not built for this target.
    Skipped {
        why: String,
    },
    /// The build fails here (a COPY source is missing, ...); later steps do not run.
    Fails {
        why: String,
    },
    /// The model cannot say (`why` tells what is outside it).
    Unsupported {
        why: String,
    },
}

impl Outcome {
    pub fn is_cached(&self) -> bool {
        matches!(self, Outcome::Cached { .. })
    }
    pub fn is_rebuilt(&self) -> bool {
        matches!(self, Outcome::Rebuilt { .. })
    }
    pub fn short(&self) -> &'static str {
        match self {
            Outcome::Cached { .. } => "cached",
            Outcome::Rebuilt { .. } => "rebuilt",
            Outcome::NotAStep { .. } => "not-a-step",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Fails { .. } => "fails",
            Outcome::Unsupported { .. } => "unsupported",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepPrediction {
    /// 1-based position among the Dockerfile's instructions.
    pub step: usize,
    /// 0-based stage index.
    pub stage: usize,
    pub stage_name: Option<String>,
    /// The instruction as the builder normalises it.
    pub instruction: String,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Prediction {
    pub profile: String,
    /// The engine refuses the Dockerfile before building (its parse error, in the model's words).
    pub rejected: Option<String>,
    pub steps: Vec<StepPrediction>,
}

impl Prediction {
    pub fn step(&self, step: usize) -> Option<&StepPrediction> {
        self.steps.iter().find(|s| s.step == step)
    }
}

/// What a COPY/ADD source contributes to the key, with fields the profile leaves out as `None`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SourceFact {
    pub path: String,
    pub kind: &'static str,
    pub content: Option<u64>,
    pub mode: Option<u32>,
    pub owner: Option<(u32, u32)>,
    pub times: Option<(i64, i64)>,
    pub link_target: Option<String>,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The key one step gets under a profile. Two steps with the same parent chain and equal keys
/// are the same cache record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StepKey {
    pub keyword: &'static str,
    pub text: String,
    pub sources: Option<Vec<SourceFact>>,
    pub args: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub extra: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct Record {
    parent: u64,
    key: StepKey,
}

/// Inline cache as exported with an image: the records of its layers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheExport {
    /// Chain id, record, and whether the layer travels with it: in min mode only the final
    /// image's layers do; the steps of stages it copies from travel as keys alone.
    records: Vec<(u64, Record, bool)>,
}

impl CacheExport {
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The cache records one engine holds, keyed the way its profile keys them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineState {
    pub profile: Profile,
    records: HashMap<u64, Record>,
    children: HashMap<u64, Vec<u64>>,
    loose_keys: HashSet<u64>,
    imports: BTreeMap<String, CacheExport>,
}

impl EngineState {
    pub fn new(profile: Profile) -> EngineState {
        EngineState {
            profile,
            records: HashMap::new(),
            children: HashMap::new(),
            loose_keys: HashSet::new(),
            imports: BTreeMap::new(),
        }
    }

    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Makes a registry reference's inline cache available to builds that name it in `cache_from`.
    pub fn import(&mut self, reference: &str, export: CacheExport) {
        self.imports.insert(reference.to_string(), export);
    }

    /// Forgets every record (a prune).
    pub fn prune(&mut self) {
        self.records.clear();
        self.children.clear();
        self.loose_keys.clear();
    }

    /// Forgets a record and everything built on it.
    fn remove_subtree(&mut self, chain: u64) {
        let mut stack = vec![chain];
        while let Some(c) = stack.pop() {
            if self.records.remove(&c).is_some() {
                stack.extend(self.children.remove(&c).unwrap_or_default());
            }
        }
    }

    fn insert(&mut self, chain: u64, record: Record) {
        self.loose_keys.insert(fingerprint(&record.key));
        if !self.records.contains_key(&chain) {
            self.children.entry(record.parent).or_default().push(chain);
            self.records.insert(chain, record);
        }
    }
}

/// One planned instruction.
#[derive(Clone, Debug)]
struct PlannedStep {
    /// The stage a COPY --from step reads.
    reads_stage: Option<usize>,
    step: usize,
    stage: usize,
    stage_name: Option<String>,
    instruction: String,
    kind: PlannedKind,
}

#[derive(Clone, Debug)]
enum PlannedKind {
    From,
    Step {
        parent: u64,
        chain: u64,
        key: StepKey,
    },
    /// The outcome is known without looking at the cache (not a step, skipped, fails, unsupported).
    Settled(Outcome),
}

struct Plan {
    rejected: Option<String>,
    steps: Vec<PlannedStep>,
    /// Chain ids of the final image's steps (what inline cache exports with layers).
    final_chains: Vec<u64>,
    /// For each stage, the earlier stage it is built FROM.
    stage_parents: Vec<Option<usize>>,
}

/// Per-stage facts other stages may need.
#[derive(Clone, Debug)]
struct StageOutcome {
    final_chain: u64,
    fs_digest: u64,
    has_run: bool,
    /// What COPY steps put into the stage's filesystem: absolute path -> fingerprint of the
    /// entry's facts as the profile keys them (the base image's own files are constant).
    files: BTreeMap<String, (u64, bool)>,
    /// A step of the stage fails: stages that read it do not run either.
    fails: bool,
}

struct StageSpan<'a> {
    name: Option<String>,
    instructions: Vec<(usize, &'a Instruction)>,
}

fn split_stages(dockerfile: &Dockerfile) -> Vec<StageSpan<'_>> {
    let mut stages: Vec<StageSpan<'_>> = Vec::new();
    for (n, instruction) in dockerfile.instructions().enumerate() {
        if let Body::From { stage, .. } = &instruction.body {
            stages.push(StageSpan {
                name: stage.clone(),
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

/// Stages that must be built for the target, by builder.
fn stages_to_build(profile: &Profile, stages: &[StageSpan<'_>], target: usize) -> Vec<bool> {
    let mut wanted = vec![false; stages.len()];
    match profile.builder {
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
                        Body::From { image, .. } => stage_index(&stages[..i], image),
                        Body::Copy(c) | Body::Add(c) => {
                            c.from.as_deref().and_then(|f| stage_index(&stages[..i], f))
                        }
                        _ => None,
                    };
                    if let Some(d) = dependency {
                        todo.push(d);
                    }
                }
            }
        }
    }
    wanted
}

/// What the transport does to each entry before the builder sees it.
#[derive(Clone, Copy, Debug)]
struct TransportEffect {
    reset_owner: bool,
    only_capability_xattr: bool,
}

fn transport_effect(profile: &Profile) -> TransportEffect {
    let (reset_owner, only_capability_xattr) = match (profile.builder, profile.transport) {
        (Builder::Classic, Transport::Cli) => (
            profile.on("classic.owner-ignored"),
            profile.on("classic.xattrs"),
        ),
        (Builder::Buildah, Transport::Cli) => (true, profile.on("classic.xattrs")),
        (Builder::BuildKit, _) => (profile.on("bk.owner-reset"), false),
        (Builder::Classic, Transport::Api) | (Builder::Buildah, Transport::Api) => (false, false),
    };
    TransportEffect {
        reset_owner,
        only_capability_xattr,
    }
}

/// What the builder sees of the context for COPY: ignored files and, by rule, the Dockerfile
/// taken out. Borrowed when nothing is taken out.
fn visible_context<'a>(profile: &Profile, context: &'a BuildContext) -> Cow<'a, BuildContext> {
    // `.dockerignore` is applied by the docker client: an API tar upload reaches Docker's builders
    // as it is (measured on Engine 20.10.24), while Buildah reads it from the uploaded context
    // (measured on Podman 4.3.1).
    let mut visible = if (profile.transport == Transport::Cli
        || profile.builder == Builder::Buildah)
        && profile.on("dockerignore")
        && context.get(DOCKERIGNORE_NAME).is_some()
    {
        Cow::Owned(context.without_ignored())
    } else {
        Cow::Borrowed(context)
    };
    if !profile.on("dockerfile.self") {
        visible.to_mut().entries.remove(DOCKERFILE_NAME);
    }
    visible
}

fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

fn parse_owner(text: &str) -> Option<(u32, u32)> {
    let (user, group) = text.split_once(':').unwrap_or((text, text));
    let id = |s: &str| if s == "root" { Some(0) } else { s.parse().ok() };
    Some((id(user)?, id(group)?))
}

fn source_fact(
    profile: &Profile,
    effect: TransportEffect,
    path: &str,
    entry: &Entry,
    copy: &CopyArgs,
) -> SourceFact {
    let (content, link_target) = match &entry.kind {
        EntryKind::File { content } => (Some(content_digest(content)), None),
        EntryKind::Dir => (None, None),
        EntryKind::Symlink { target } => (None, Some(target.clone())),
    };
    let times = if profile.on("copy.mtime-ignored") {
        None
    } else {
        Some((entry.mtime, entry.atime))
    };
    let mut fact = SourceFact {
        path: path.to_string(),
        kind: entry.type_name(),
        content,
        mode: Some(entry.mode),
        owner: Some(if effect.reset_owner {
            (0, 0)
        } else {
            (entry.uid, entry.gid)
        }),
        times,
        link_target,
        xattrs: entry
            .xattrs
            .iter()
            .filter(|(k, _)| !effect.only_capability_xattr || *k == "security.capability")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    match profile.builder {
        Builder::Classic => {}
        Builder::BuildKit => {
            if !profile.on("bk.checksum-fields") {
                fact.mode = None;
                fact.owner = None;
                fact.link_target = None;
                fact.xattrs.clear();
                fact.kind = "any";
            }
            if profile.on("bk.xattr-filter") {
                fact.xattrs.retain(|(name, _)| {
                    name == "security.capability"
                        || !(name.starts_with("security.") || name.starts_with("system."))
                });
            }
            if copy.chmod.is_some() && !profile.on("bk.chmod-flag") {
                fact.mode = None;
            }
        }
        Builder::Buildah => {
            if profile.on("buildah.copy-digest") {
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
            fact.xattrs
                .retain(|(name, _)| name.starts_with("user.") || name == "security.capability");
        }
    }
    fact
}

/// The facts of every entry a COPY source selects (or why the build fails), each with where it
/// lands: `Place::Dest` for the destination itself (a source directory, or a lone file copied to
/// a name without a trailing slash), else a relative path below it.
fn collect_sources_placed(
    profile: &Profile,
    context: &BuildContext,
    copy: &CopyArgs,
    expanded_sources: &[String],
) -> Result<Vec<(SourceFact, Place)>, String> {
    let effect = transport_effect(profile);
    let mut facts = Vec::new();
    let sources: &[String] =
        if profile.builder == Builder::Classic && !profile.on("classic.copy-key") {
            &expanded_sources[..1.min(expanded_sources.len())]
        } else {
            expanded_sources
        };
    for source in sources {
        let roots: Vec<String> = if source == "." || source == "./" || source == "/" {
            vec![String::new()]
        } else {
            let clean = normalize_context_path(source).map_err(|e| format!("COPY source: {e}"))?;
            if clean.contains(['*', '?', '[']) {
                let matched: Vec<String> = context
                    .entries
                    .keys()
                    .filter(|p| p.split('/').count() == clean.split('/').count())
                    .filter(|p| {
                        clean.split('/').zip(p.split('/')).all(|(pat, seg)| {
                            crate::dockerignore::glob_segment(pat.as_bytes(), seg.as_bytes())
                        })
                    })
                    .cloned()
                    .collect();
                if matched.is_empty() {
                    return Err(format!("no source files were specified by `{source}`"));
                }
                matched
            } else {
                vec![clean]
            }
        };
        for root in roots {
            if root.is_empty() {
                for (path, entry) in context.entries_under("") {
                    facts.push((
                        source_fact(profile, effect, path, entry, copy),
                        Place::Below(path.clone()),
                    ));
                }
                continue;
            }
            let mut entry = context
                .get(&root)
                .ok_or_else(|| format!("source `{root}` not found in the context"))?;
            // A top-level symlink source is followed.
            if let EntryKind::Symlink { target } = &entry.kind {
                let base = root.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let joined = if target.starts_with('/') {
                    target.clone()
                } else {
                    format!("{base}/{target}")
                };
                let resolved = normalize_context_path(joined.trim_start_matches('/'))
                    .map_err(|e| format!("source `{root}` is a symlink: {e}"))?;
                entry = context
                    .get(&resolved)
                    .ok_or_else(|| format!("source `{root}` is a dangling symlink"))?;
            }
            // Buildah hashes the copied stream, which holds a source directory's contents but not
            // the directory itself (measured on Podman 4.3.1: a mode change of `d` in `COPY d /d`
            // hits).
            if !(entry.is_dir()
                && profile.builder == Builder::Buildah
                && profile.on("buildah.copy-digest"))
            {
                let place = if entry.is_dir() {
                    Place::Dest
                } else {
                    Place::File(root.rsplit('/').next().unwrap_or(&root).to_string())
                };
                facts.push((source_fact(profile, effect, &root, entry, copy), place));
            }
            if entry.is_dir() {
                for (path, child) in context.entries_under(&root) {
                    let below = path
                        .strip_prefix(&format!("{root}/"))
                        .unwrap_or(path)
                        .to_string();
                    facts.push((
                        source_fact(profile, effect, path, child, copy),
                        Place::Below(below),
                    ));
                }
            }
        }
    }
    Ok(facts)
}

/// Variables in scope in a stage: declared ARGs (with their value) and ENVs.
#[derive(Clone, Debug, Default)]
struct Scope {
    args: BTreeMap<String, Option<String>>,
    env: Vec<(String, String)>,
    user: Option<String>,
    workdir: String,
}

impl Scope {
    fn lookup(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        self.args.get(name).cloned().flatten()
    }

    /// Declared args that have a value, as they enter RUN keys.
    fn args_with_values(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    }

    fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value));
    }
}

fn join_workdir(current: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else if current.is_empty() || current == "/" {
        format!("/{path}")
    } else {
        format!("{current}/{path}")
    }
}

fn plan(profile: &Profile, build: &Build) -> Plan {
    let rejected = |why: String| Plan {
        rejected: Some(why),
        steps: Vec::new(),
        final_chains: Vec::new(),
        stage_parents: Vec::new(),
    };
    let Some(text) = build.context.dockerfile_text() else {
        return rejected("the context has no Dockerfile".to_string());
    };
    let parsed = dockerfile::parse(&text);
    if let Some(d) = parsed.diagnostics.first() {
        return rejected(format!("dockerfile parse error {d}"));
    }
    let dockerfile = parsed.dockerfile;
    for instruction in dockerfile.instructions() {
        if let Body::Copy(c) | Body::Add(c) = &instruction.body {
            if c.link && !profile.features.copy_link {
                return rejected("unknown flag: link".to_string());
            }
            if c.chmod.is_some() && profile.builder == Builder::Classic {
                return rejected("the --chmod option requires BuildKit".to_string());
            }
        }
    }
    let stages = split_stages(&dockerfile);
    if stages.is_empty() {
        return rejected("no FROM instruction".to_string());
    }
    if dockerfile
        .instructions()
        .next()
        .is_some_and(|i| !matches!(i.body, Body::From { .. }))
    {
        return rejected("instructions before the first FROM are not supported".to_string());
    }
    let target = match &build.options.target {
        None => stages.len() - 1,
        Some(t) => match stage_index(&stages, t) {
            Some(i) => i,
            None => return rejected(format!("target stage `{t}` could not be found")),
        },
    };
    let wanted = stages_to_build(profile, &stages, target);
    let visible = visible_context(profile, &build.context);
    let needs_context_digest = !profile.on("run.opaque")
        || (profile.builder == Builder::BuildKit && !profile.on("bk.content-addressed"));
    let context_digest = if needs_context_digest {
        fingerprint(&*visible)
    } else {
        0
    };
    let mut outcomes: Vec<Option<StageOutcome>> = vec![None; stages.len()];
    let mut steps = Vec::new();
    let mut final_chains = Vec::new();
    let args_on = profile.on("arg.first-use");

    for (stage_no, stage) in stages.iter().enumerate() {
        let stage_name = stage.name.clone();
        if !wanted[stage_no] {
            for (step, instruction) in &stage.instructions {
                steps.push(PlannedStep {
                    reads_stage: None,
                    step: *step,
                    stage: stage_no,
                    stage_name: stage_name.clone(),
                    instruction: instruction.normalized(),
                    kind: PlannedKind::Settled(Outcome::Skipped {
                        why: "stage not needed for the target".to_string(),
                    }),
                });
            }
            continue;
        }
        let mut scope = Scope::default();
        let mut chain = 0u64;
        let mut fs_digest = 0u64;
        let mut has_run = false;
        let mut files: BTreeMap<String, (u64, bool)> = BTreeMap::new();
        // Once a step fails or cannot be modelled, the rest of the stage is settled too.
        let mut broken: Option<Outcome> = None;
        for (step, instruction) in &stage.instructions {
            let normalized = instruction.normalized();
            let push = |steps: &mut Vec<PlannedStep>, kind: PlannedKind| {
                steps.push(PlannedStep {
                    reads_stage: None,
                    step: *step,
                    stage: stage_no,
                    stage_name: stage_name.clone(),
                    instruction: normalized.clone(),
                    kind,
                })
            };
            let settle =
                |steps: &mut Vec<PlannedStep>, broken: &mut Option<Outcome>, outcome: Outcome| {
                    *broken = Some(outcome.clone());
                    push(steps, PlannedKind::Settled(outcome));
                };
            if let Some(outcome) = &broken {
                let outcome = match outcome {
                    Outcome::Fails { .. } => Outcome::Skipped {
                        why: "an earlier step fails".to_string(),
                    },
                    other => other.clone(),
                };
                push(&mut steps, PlannedKind::Settled(outcome));
                continue;
            }
            let expand = |text: &str, scope: &Scope| -> String {
                if args_on {
                    expand_variables(text, &|n| scope.lookup(n))
                } else {
                    let env_only = Scope {
                        args: BTreeMap::new(),
                        ..scope.clone()
                    };
                    expand_variables(text, &|n| env_only.lookup(n))
                }
            };
            let literal = |text: String| {
                if profile.on("text.literal") {
                    text
                } else {
                    String::new()
                }
            };
            let keyword = instruction.body.keyword();
            let mut key = StepKey {
                keyword,
                text: String::new(),
                sources: None,
                args: Vec::new(),
                env: Vec::new(),
                extra: 0,
            };
            // Whether the instruction extends the parent chain (is a cacheable step or, for
            // BuildKit, a metadata instruction that later keys depend on through the chain).
            let mut is_step = true;
            let mut changes_files = false;
            let mut reads_stage = None;
            match &instruction.body {
                Body::From { image, .. } => {
                    chain = match stage_index(&stages[..stage_no], image)
                        .and_then(|i| outcomes[i].as_ref())
                    {
                        Some(parent_stage) => {
                            if parent_stage.fails {
                                broken = Some(Outcome::Skipped {
                                    why: "the stage it is built FROM fails".to_string(),
                                });
                            }
                            fs_digest = parent_stage.fs_digest;
                            has_run = parent_stage.has_run;
                            files = parent_stage.files.clone();
                            parent_stage.final_chain
                        }
                        None => fingerprint(&("FROM", image.as_str())),
                    };
                    push(&mut steps, PlannedKind::From);
                    continue;
                }
                Body::Run { .. } => {
                    has_run = true;
                    key.text = literal(normalized.clone());
                    let builder_passes_args = match profile.builder {
                        Builder::Classic => profile.on("classic.run-args"),
                        Builder::BuildKit => true,
                        Builder::Buildah => profile.on("buildah.run-key"),
                    };
                    if args_on && builder_passes_args {
                        key.args = scope.args_with_values();
                    }
                    if profile.builder == Builder::BuildKit {
                        key.env = scope.env.clone();
                        if let Some(u) = &scope.user {
                            key.env.push(("(user)".to_string(), u.clone()));
                        }
                        key.env
                            .push(("(workdir)".to_string(), scope.workdir.clone()));
                    }
                    if !profile.on("run.opaque") {
                        key.extra = context_digest;
                    }
                }
                Body::Copy(copy) | Body::Add(copy) => {
                    let expanded_sources: Vec<String> =
                        copy.sources.iter().map(|s| expand(s, &scope)).collect();
                    let dest = expand(&copy.dest, &scope);
                    let dest = if profile.builder != Builder::Buildah && !dest.starts_with('/') {
                        join_workdir(&scope.workdir, &dest)
                    } else {
                        dest
                    };
                    if let Some(from) = &copy.from {
                        let Some(source_stage) = stage_index(&stages[..stage_no], from) else {
                            settle(
                                &mut steps,
                                &mut broken,
                                Outcome::Unsupported {
                                    why: format!(
                                        "COPY --from=`{from}` names an image, not an earlier stage"
                                    ),
                                },
                            );
                            continue;
                        };
                        reads_stage = Some(source_stage);
                        if outcomes[source_stage].as_ref().is_some_and(|o| o.fails) {
                            settle(
                                &mut steps,
                                &mut broken,
                                Outcome::Skipped {
                                    why: format!("stage `{from}` fails"),
                                },
                            );
                            continue;
                        }
                        let Some(source) = outcomes[source_stage].clone() else {
                            settle(
                                &mut steps,
                                &mut broken,
                                Outcome::Unsupported {
                                    why: format!("stage `{from}` was not built"),
                                },
                            );
                            continue;
                        };
                        // Content-addressed: the key holds what the selected paths contain in
                        // the source stage, not the rest of that stage.
                        let selected: Vec<(Place, u64, bool)> = expanded_sources
                            .iter()
                            .flat_map(|s| {
                                let root = absolute_path(s);
                                source
                                    .files
                                    .range(root.clone()..)
                                    .take_while(|(p, _)| {
                                        **p == root
                                            || root == "/"
                                            || p.starts_with(&format!("{root}/"))
                                    })
                                    .map(|(p, (digest, is_dir))| {
                                        let place = if *p != root {
                                            Place::Below(
                                                p.strip_prefix(&format!(
                                                    "{}/",
                                                    root.trim_end_matches('/')
                                                ))
                                                .unwrap_or(p)
                                                .to_string(),
                                            )
                                        } else if *is_dir {
                                            Place::Dest
                                        } else {
                                            Place::File(
                                                root.rsplit('/').next().unwrap_or("").to_string(),
                                            )
                                        };
                                        (place, *digest, *is_dir)
                                    })
                                    .collect::<Vec<_>>()
                            })
                            .collect();
                        if selected.is_empty() {
                            // Not a path a COPY put into the stage: the base image's files (or
                            // nothing, and the build fails) are outside the model.
                            settle(&mut steps, &mut broken, Outcome::Unsupported {
                                why: format!(
                                    "COPY --from=`{from}`: no COPY of the stage put {} there; the base image's files are not modelled",
                                    expanded_sources.join(" ")
                                ),
                            });
                            continue;
                        }
                        let selection: Vec<(String, u64)> = selected
                            .iter()
                            .map(|(place, digest, _)| (place_under("", place, 2), *digest))
                            .collect();
                        key.extra = fingerprint(&(&selection, &expanded_sources));
                        for (place, digest, is_dir) in &selected {
                            files.insert(
                                place_under(&dest, place, selected.len()),
                                (*digest, *is_dir),
                            );
                        }
                        if source.has_run {
                            settle(&mut steps, &mut broken, Outcome::Unsupported {
                                why: format!(
                                    "COPY --from=`{from}`: that stage runs RUN steps, whose output the model does not know"
                                ),
                            });
                            continue;
                        }
                    } else if profile.on("copy.checksum") {
                        match collect_sources_placed(profile, &visible, copy, &expanded_sources) {
                            Ok(placed) => {
                                let count = placed.len();
                                for (fact, below) in &placed {
                                    // What lands in the stage: owned by --chown's user or root
                                    // (every builder), --chmod's mode if given; times not compared.
                                    let placed_fact = SourceFact {
                                        path: String::new(),
                                        owner: Some(
                                            copy.chown
                                                .as_deref()
                                                .and_then(parse_owner)
                                                .unwrap_or((0, 0)),
                                        ),
                                        mode: copy
                                            .chmod
                                            .as_deref()
                                            .and_then(parse_mode)
                                            .or(fact.mode),
                                        times: None,
                                        // Measured (Engine 20.10.24, Podman 4.3.1): after an xattr
                                        // change, a COPY --from of the file misses on BuildKit and
                                        // Buildah but hits on the classic builder.
                                        xattrs: if profile.builder == Builder::Classic {
                                            Vec::new()
                                        } else {
                                            fact.xattrs.clone()
                                        },
                                        ..fact.clone()
                                    };
                                    files.insert(
                                        place_under(&dest, below, count),
                                        (fingerprint(&placed_fact), fact.kind == "dir"),
                                    );
                                }
                                key.sources = Some(placed.into_iter().map(|(f, _)| f).collect());
                            }
                            Err(why) => {
                                settle(&mut steps, &mut broken, Outcome::Fails { why });
                                continue;
                            }
                        }
                    }
                    key.text = match profile.builder {
                        Builder::Classic
                            if profile.on("copy.checksum") && profile.on("classic.copy-key") =>
                        {
                            let flags = if profile.on("classic.chown-flag") {
                                format!("{:?}", copy.chown)
                            } else {
                                String::new()
                            };
                            format!("{keyword} {flags} in {dest}")
                        }
                        _ => {
                            let clean: Vec<String> = expanded_sources
                                .iter()
                                .map(|s| {
                                    normalize_context_path(s).unwrap_or_else(|_| ".".to_string())
                                })
                                .collect();
                            format!(
                                "{keyword} from={:?} chown={:?} chmod={:?} {} -> {dest}",
                                copy.from,
                                copy.chown,
                                copy.chmod,
                                clean.join(" ")
                            )
                        }
                    };
                    if profile.builder == Builder::BuildKit && !profile.on("bk.content-addressed") {
                        key.extra ^= context_digest;
                    }
                    changes_files = true;
                }
                Body::Workdir { path } => {
                    scope.workdir = join_workdir(&scope.workdir, &expand(path, &scope));
                    key.text = literal(format!("WORKDIR {}", scope.workdir));
                    fs_digest = fingerprint(&(fs_digest, &scope.workdir));
                }
                Body::Arg { name, default } => {
                    let value = build
                        .options
                        .build_args
                        .get(name)
                        .cloned()
                        .or_else(|| default.clone());
                    scope.args.insert(name.clone(), value);
                    key.text = literal(normalized.clone());
                    match profile.builder {
                        Builder::BuildKit => is_step = false,
                        Builder::Classic => {}
                        Builder::Buildah => {
                            if profile.on("buildah.arg-names") {
                                key.args = vec![(
                                    name.clone(),
                                    build.options.build_args.contains_key(name).to_string(),
                                )];
                            }
                        }
                    }
                }
                Body::Env { pairs } | Body::Label { pairs } => {
                    let is_env = matches!(instruction.body, Body::Env { .. });
                    let expanded: Vec<(String, String)> = pairs
                        .iter()
                        .map(|(k, v)| (expand(k, &scope), expand(v, &scope)))
                        .collect();
                    if is_env {
                        for (k, v) in &expanded {
                            scope.set_env(k, v.clone());
                        }
                    }
                    key.text = match profile.builder {
                        // The line as written, keyword case included (measured on Podman 4.3.1).
                        Builder::Buildah if profile.on("buildah.env-raw") => literal(format!(
                            "{} {}",
                            instruction.keyword,
                            instruction.joined_args()
                        )),
                        Builder::Classic if !profile.on("classic.config-match") => {
                            literal(normalized.clone())
                        }
                        Builder::Classic => literal(format!(
                            "{keyword} {}",
                            dockerfile::canonical_args(&if is_env {
                                Body::Env {
                                    pairs: expanded.clone(),
                                }
                            } else {
                                Body::Label {
                                    pairs: expanded.clone(),
                                }
                            })
                        )),
                        _ => literal(format!("{keyword} {expanded:?}")),
                    };
                    if profile.builder == Builder::BuildKit {
                        is_step = false;
                    }
                }
                Body::User { user } => {
                    let user = expand(user, &scope);
                    scope.user = Some(user.clone());
                    key.text = literal(format!("USER {user}"));
                    if profile.builder == Builder::BuildKit {
                        is_step = false;
                    }
                }
                Body::Expose { .. } | Body::Cmd { .. } | Body::Entrypoint { .. } => {
                    key.text = match profile.builder {
                        Builder::Classic if profile.on("classic.config-match") => literal(format!(
                            "{keyword} {}",
                            dockerfile::canonical_args(&instruction.body)
                        )),
                        _ => literal(normalized.clone()),
                    };
                    if profile.builder == Builder::BuildKit {
                        is_step = false;
                    }
                }
                Body::Unsupported { why } => {
                    settle(
                        &mut steps,
                        &mut broken,
                        Outcome::Unsupported { why: why.clone() },
                    );
                    continue;
                }
            }
            if !profile.on("text.literal")
                && key.sources.is_none()
                && !matches!(keyword, "COPY" | "ADD")
            {
                key.text = String::new();
            }
            if is_step {
                let parent = chain;
                let key_digest = fingerprint(&key);
                if changes_files {
                    fs_digest = fingerprint(&(fs_digest, key_digest));
                }
                chain = fingerprint(&(parent, key_digest));
                push(&mut steps, PlannedKind::Step { parent, chain, key });
                if let Some(last) = steps.last_mut() {
                    last.reads_stage = reads_stage;
                }
            } else {
                // BuildKit metadata: no vertex. ENV, USER and ARG act through later RUN keys; the
                // others enter nothing unless `bk.metadata-free` is switched off.
                if !profile.on("bk.metadata-free") {
                    chain = fingerprint(&(chain, &key));
                }
                push(
                    &mut steps,
                    PlannedKind::Settled(Outcome::NotAStep {
                        rule: "bk.metadata-free",
                    }),
                );
            }
        }
        outcomes[stage_no] = Some(StageOutcome {
            final_chain: chain,
            fs_digest,
            has_run,
            files,
            fails: matches!(
                broken,
                Some(Outcome::Fails { .. } | Outcome::Skipped { .. })
            ),
        });
        if stage_no == target {
            // The final image: this stage's steps and those of stages it is built FROM.
            final_chains = collect_final_chains(&steps, &stages, stage_no);
        }
    }
    let stage_parents = stages
        .iter()
        .enumerate()
        .map(
            |(i, stage)| match stage.instructions.first().map(|(_, x)| &x.body) {
                Some(Body::From { image, .. }) => stage_index(&stages[..i], image),
                _ => None,
            },
        )
        .collect();
    Plan {
        rejected: None,
        steps,
        final_chains,
        stage_parents,
    }
}

/// Where a copied entry lands relative to the COPY destination.
#[derive(Clone, Debug)]
enum Place {
    /// The destination itself (a source directory's own entry).
    Dest,
    /// A source named as a file: the destination itself when it is the only source and the
    /// destination has no trailing slash, else this name below it.
    File(String),
    /// A path below the destination.
    Below(String),
}

/// A COPY source inside a stage as an absolute path without a trailing slash.
fn absolute_path(source: &str) -> String {
    let trimmed = source.trim_matches('/');
    let clean = normalize_context_path(trimmed).unwrap_or_else(|_| trimmed.to_string());
    if clean.is_empty() || clean == "." {
        "/".to_string()
    } else {
        format!("/{clean}")
    }
}

/// Where an entry lands: `dest` itself for a lone entry placed at `""`, or a lone file copied to
/// a destination without a trailing slash; else below `dest`.
fn place_under(dest: &str, place: &Place, count: usize) -> String {
    let dest_dir = dest.trim_end_matches('/');
    let itself = if dest_dir.is_empty() {
        "/".to_string()
    } else {
        dest_dir.to_string()
    };
    match place {
        Place::Dest => itself,
        Place::File(_) if count == 1 && !dest.ends_with('/') => itself,
        Place::File(name) | Place::Below(name) => format!("{dest_dir}/{name}"),
    }
}

fn collect_final_chains(
    steps: &[PlannedStep],
    stages: &[StageSpan<'_>],
    target: usize,
) -> Vec<u64> {
    let mut lineage = vec![target];
    let mut current = target;
    while let Some((_, first)) = stages[current].instructions.first() {
        match &first.body {
            Body::From { image, .. } => match stage_index(&stages[..current], image) {
                Some(parent) => {
                    lineage.push(parent);
                    current = parent;
                }
                None => break,
            },
            _ => break,
        }
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

/// Records visible to this build: local ones, and imported ones named in `cache_from`.
fn imported_records<'a>(
    state: &'a EngineState,
    build: &'a Build,
) -> HashMap<u64, (&'a Record, &'a str, bool)> {
    let mut out = HashMap::new();
    if state.profile.builder != Builder::BuildKit {
        // The classic builder uses `--cache-from` only for images already in its store (cachet never
        // pulls them); Podman's compat API accepts the option and ignores it (shared/ENGINES.md).
        return out;
    }
    for reference in &build.options.cache_from {
        if let Some(export) = state.imports.get(reference) {
            for (chain, record, layer) in &export.records {
                out.entry(*chain)
                    .or_insert((record, reference.as_str(), *layer));
            }
        }
    }
    out
}

fn explain_source_difference(cached: &[SourceFact], now: &[SourceFact]) -> Option<(String, Field)> {
    let cached_by_path: BTreeMap<&str, &SourceFact> =
        cached.iter().map(|f| (f.path.as_str(), f)).collect();
    let now_by_path: BTreeMap<&str, &SourceFact> =
        now.iter().map(|f| (f.path.as_str(), f)).collect();
    for (path, new) in &now_by_path {
        let Some(old) = cached_by_path.get(path) else {
            return Some((path.to_string(), Field::Added));
        };
        let field = if old.kind != new.kind {
            Some(Field::Type {
                from: old.kind.to_string(),
                to: new.kind.to_string(),
            })
        } else if old.content != new.content {
            Some(Field::Content)
        } else if old.mode != new.mode {
            Some(Field::Mode {
                from: old.mode.unwrap_or(0),
                to: new.mode.unwrap_or(0),
            })
        } else if old.owner != new.owner {
            Some(Field::Owner {
                from: old.owner.unwrap_or_default(),
                to: new.owner.unwrap_or_default(),
            })
        } else if old.link_target != new.link_target {
            Some(Field::LinkTarget {
                from: old.link_target.clone().unwrap_or_default(),
                to: new.link_target.clone().unwrap_or_default(),
            })
        } else if old.xattrs != new.xattrs {
            let name = new
                .xattrs
                .iter()
                .find(|x| !old.xattrs.contains(x))
                .or_else(|| old.xattrs.iter().find(|x| !new.xattrs.contains(x)))
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            Some(Field::Xattr { name })
        } else if old.times != new.times {
            Some(Field::Times)
        } else {
            None
        };
        if let Some(field) = field {
            return Some((path.to_string(), field));
        }
    }
    cached_by_path
        .keys()
        .find(|p| !now_by_path.contains_key(*p))
        .map(|p| (p.to_string(), Field::Removed))
}

fn explain_miss(profile: &Profile, key: &StepKey, candidates: &[&StepKey]) -> Reason {
    let same_kind: Vec<&&StepKey> = candidates
        .iter()
        .filter(|c| c.keyword == key.keyword)
        .collect();
    let Some(best) = same_kind
        .iter()
        .find(|c| c.text == key.text)
        .or_else(|| same_kind.first())
    else {
        return Reason {
            rule: "text.literal",
            kind: ReasonKind::NotInCache,
        };
    };
    if best.text != key.text {
        let rule = match (profile.builder, key.keyword) {
            (Builder::Classic, "COPY" | "ADD") => "classic.copy-key",
            (Builder::Classic, "ENV" | "LABEL" | "EXPOSE" | "CMD" | "ENTRYPOINT") => {
                "classic.config-match"
            }
            (Builder::Buildah, "ENV" | "LABEL") => "buildah.env-raw",
            _ => "text.literal",
        };
        return Reason {
            rule,
            kind: ReasonKind::InstructionText {
                cached: best.text.clone(),
                now: key.text.clone(),
            },
        };
    }
    if best.sources != key.sources {
        let (path, field) = explain_source_difference(
            best.sources.as_deref().unwrap_or_default(),
            key.sources.as_deref().unwrap_or_default(),
        )
        .unwrap_or_else(|| ("?".to_string(), Field::Content));
        return Reason {
            rule: "copy.checksum",
            kind: ReasonKind::SourceChanged { path, field },
        };
    }
    if best.args != key.args {
        let name = key
            .args
            .iter()
            .find(|a| !best.args.contains(a))
            .or_else(|| best.args.iter().find(|a| !key.args.contains(a)))
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let rule = match (profile.builder, key.keyword) {
            (Builder::Buildah, "ARG") => "buildah.arg-names",
            (Builder::Buildah, _) => "buildah.run-key",
            (Builder::Classic, _) => "classic.run-args",
            _ => "arg.first-use",
        };
        return Reason {
            rule,
            kind: ReasonKind::BuildArg { name },
        };
    }
    if best.env != key.env {
        let name = key
            .env
            .iter()
            .find(|a| !best.env.contains(a))
            .or_else(|| best.env.iter().find(|a| !key.env.contains(a)))
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        return Reason {
            rule: "bk.metadata-free",
            kind: ReasonKind::Environment { name },
        };
    }
    let rule = if key.keyword == "RUN" {
        "run.opaque"
    } else {
        "bk.content-addressed"
    };
    Reason {
        rule,
        kind: ReasonKind::ContextChanged,
    }
}

/// Predicts, for every step of `build`, whether `state`'s engine serves it from cache, and why.
pub fn predict(state: &EngineState, build: &Build) -> Prediction {
    let profile = &state.profile;
    let plan = plan(profile, build);
    let imported = imported_records(state, build);
    let import_usable = profile.builder != Builder::BuildKit
        || profile.on("bk.import-prefix")
        || plan.steps.iter().all(|s| match &s.kind {
            PlannedKind::Step { chain, .. } => imported.contains_key(chain),
            _ => true,
        });
    let no_cache = build.options.no_cache && profile.on("nocache.all");
    // The classic builder with --cache-from looks only at the named images, which cachet never
    // pulls onto the building host: nothing hits.
    let cache_from_only = profile.builder == Builder::Classic
        && !build.options.cache_from.is_empty()
        && profile.on("classic.cache-from-only");
    let layers = profile.builder != Builder::Buildah || profile.on("buildah.layers");
    let mut first_miss_in_stage: HashMap<usize, usize> = HashMap::new();
    let mut steps = Vec::with_capacity(plan.steps.len());
    // Per step: (is a cacheable step, hit an imported key without its layer, stage it reads).
    let mut lazy: Vec<(bool, bool, Option<usize>)> = Vec::with_capacity(plan.steps.len());
    for planned in plan.steps {
        let mut key_only = false;
        let is_step = matches!(planned.kind, PlannedKind::Step { .. });
        let reads_stage = planned.reads_stage;
        let outcome = match planned.kind {
            PlannedKind::From => {
                if build.options.no_cache && !profile.on("from.unaffected") {
                    Outcome::Rebuilt {
                        reason: Reason {
                            rule: "from.unaffected",
                            kind: ReasonKind::NoCache,
                        },
                    }
                } else {
                    Outcome::Cached {
                        rule: "from.unaffected",
                        from: None,
                    }
                }
            }
            PlannedKind::Settled(outcome) => outcome,
            PlannedKind::Step { parent, chain, key } => {
                let local = if profile.on("cascade") {
                    state.records.contains_key(&chain)
                } else {
                    state.loose_keys.contains(&fingerprint(&key))
                };
                let outcome = if no_cache {
                    Outcome::Rebuilt {
                        reason: Reason {
                            rule: "nocache.all",
                            kind: ReasonKind::NoCache,
                        },
                    }
                } else if cache_from_only {
                    Outcome::Rebuilt {
                        reason: Reason {
                            rule: "classic.cache-from-only",
                            kind: ReasonKind::NotInCache,
                        },
                    }
                } else if !layers {
                    Outcome::Rebuilt {
                        reason: Reason {
                            rule: "buildah.layers",
                            kind: ReasonKind::LayersOff,
                        },
                    }
                } else if local {
                    let rule = if key.sources.is_some() {
                        "copy.checksum"
                    } else {
                        "text.literal"
                    };
                    Outcome::Cached { rule, from: None }
                } else if let Some((_, reference, layer)) =
                    imported.get(&chain).filter(|_| import_usable)
                {
                    key_only = !layer;
                    Outcome::Cached {
                        rule: "bk.import-prefix",
                        from: Some(reference.to_string()),
                    }
                } else if let Some(first) = first_miss_in_stage
                    .get(&planned.stage)
                    .filter(|_| profile.on("cascade"))
                {
                    Outcome::Rebuilt {
                        reason: Reason {
                            rule: "cascade",
                            kind: ReasonKind::ParentRebuilt { step: *first },
                        },
                    }
                } else {
                    let mut candidates: Vec<&StepKey> = state
                        .children
                        .get(&parent)
                        .map(|c| {
                            c.iter()
                                .filter_map(|id| state.records.get(id))
                                .map(|r| &r.key)
                                .collect()
                        })
                        .unwrap_or_default();
                    candidates.extend(
                        imported
                            .values()
                            .filter(|(r, _, _)| r.parent == parent)
                            .map(|(r, _, _)| &r.key),
                    );
                    Outcome::Rebuilt {
                        reason: explain_miss(profile, &key, &candidates),
                    }
                };
                if outcome.is_rebuilt() {
                    first_miss_in_stage
                        .entry(planned.stage)
                        .or_insert(planned.step);
                }
                outcome
            }
        };
        steps.push(StepPrediction {
            step: planned.step,
            stage: planned.stage,
            stage_name: planned.stage_name,
            instruction: planned.instruction,
            outcome,
        });
        lazy.push((is_step, key_only, reads_stage));
    }
    settle_key_only_hits(&mut steps, &lazy, &plan.stage_parents);
    Prediction {
        profile: profile.name(),
        rejected: plan.rejected,
        steps,
    }
}

/// BuildKit solves lazily: a step whose key was imported without its layer is reported cached as
/// long as nothing needs its result, that is, when the next step of its stage is cached too, or,
/// for a stage's last step, when every step reading the stage (COPY --from, or the first step of
/// a stage built FROM it) is cached. Otherwise it has to run. Consumers come later in the
/// Dockerfile, so one pass from the end settles every step.
fn settle_key_only_hits(
    steps: &mut [StepPrediction],
    lazy: &[(bool, bool, Option<usize>)],
    stage_parents: &[Option<usize>],
) {
    for i in (0..steps.len()).rev() {
        let (_, key_only, _) = lazy[i];
        if !key_only || !steps[i].outcome.is_cached() {
            continue;
        }
        let stage = steps[i].stage;
        let next_in_stage = (i + 1..steps.len()).find(|&j| steps[j].stage == stage && lazy[j].0);
        let needed = match next_in_stage {
            Some(j) => !steps[j].outcome.is_cached(),
            None => (i + 1..steps.len()).any(|k| {
                let reads = lazy[k].2 == Some(stage);
                let first_of_child = lazy[k].0
                    && stage_parents.get(steps[k].stage).copied().flatten() == Some(stage)
                    && !(i + 1..k).any(|j| steps[j].stage == steps[k].stage && lazy[j].0);
                (reads || first_of_child) && !steps[k].outcome.is_cached()
            }),
        };
        if needed {
            steps[i].outcome = Outcome::Rebuilt {
                reason: Reason {
                    rule: "bk.inline-min",
                    kind: ReasonKind::NoLayer,
                },
            };
        }
    }
}

/// Records what the engine holds after `build` ran; returns the inline cache it exported, if the
/// build asked for one and the builder makes one.
pub fn apply(state: &mut EngineState, build: &Build) -> Option<CacheExport> {
    let profile = state.profile.clone();
    let plan = plan(&profile, build);
    if plan.rejected.is_some() {
        return None;
    }
    let mut all = Vec::new();
    for planned in plan.steps {
        match planned.kind {
            PlannedKind::Step { parent, chain, key } => {
                let record = Record { parent, key };
                all.push((chain, record.clone(), true));
                state.insert(chain, record);
            }
            PlannedKind::Settled(Outcome::Fails { .. }) => return None,
            _ => {}
        }
    }
    if profile.builder == Builder::Classic
        && build.options.no_cache
        && profile.on("classic.newest-match")
    {
        // Every step made a new image, newer than any equal one: from now on a lookup under
        // each of these steps finds only the next step of this build.
        let next_of: HashMap<u64, u64> = all
            .windows(2)
            .filter(|w| w[1].1.parent == w[0].0)
            .map(|w| (w[0].0, w[1].0))
            .collect();
        for (chain, _, _) in &all {
            let keep = next_of.get(chain).copied();
            let dropped: Vec<u64> = state
                .children
                .get(chain)
                .map(|c| c.iter().copied().filter(|c| Some(*c) != keep).collect())
                .unwrap_or_default();
            if let Some(children) = state.children.get_mut(chain) {
                children.retain(|c| Some(*c) == keep);
            }
            for d in dropped {
                state.remove_subtree(d);
            }
        }
    }
    if profile.builder != Builder::BuildKit || !build.options.inline_cache {
        return None;
    }
    // Min mode: the final image's steps with their layers; the steps of the stages it copies
    // from as keys alone (measured on BuildKit in Engine 20.10.24: such a stage's steps report
    // CACHED on another host when the COPY --from hits, and run when the stage is needed).
    let records = if profile.on("bk.inline-min") {
        all.into_iter()
            .map(|(chain, record, _)| (chain, record, plan.final_chains.contains(&chain)))
            .collect()
    } else {
        all
    };
    Some(CacheExport { records })
}
