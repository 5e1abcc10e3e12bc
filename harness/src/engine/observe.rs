//! Observation: an engine's build output turned into per-step outcomes mapped to Dockerfile steps.
//!
//! Each engine says "cached" its own way (shared/ENGINES.md): the classic builder's
//! `Step i/N` / ` ---> Using cache`, Podman's `STEP i/N:` / `--> Using cache`, BuildKit's
//! `[stage i/n] NAME` vertices with `CACHED` (plain progress) or a `cached` flag (API trace).
//! These parsers are pure functions of the text (or vertices) and the Dockerfile.

use std::collections::BTreeMap;

use crate::error::Fault;
use models::dockerfile::{self, Body};
use models::{BuildOptions, Builder};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "observed", rename_all = "snake_case")]
pub enum Observed {
    Cached,
    Rebuilt,
    Failed {
        message: String,
    },
    /// The harness cannot tell (the engine died, the step never completed, ...): not a verdict.
    Indeterminate {
        why: String,
    },
}

impl Observed {
    pub fn short(&self) -> &'static str {
        match self {
            Observed::Cached => "cached",
            Observed::Rebuilt => "rebuilt",
            Observed::Failed { .. } => "failed",
            Observed::Indeterminate { .. } => "indeterminate",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, Deserialize)]
pub struct Observation {
    /// Outcome by 1-based Dockerfile step; steps the engine did not report are absent.
    pub steps: BTreeMap<usize, Observed>,
    /// The build's error, if it failed.
    pub error: Option<String>,
    /// Set when the whole build's outcome is unknown (engine died, timed out, transport error).
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    /// Images the build left behind besides its tag (Podman's intermediate images), to remove.
    pub intermediate_images: Vec<String>,
    /// The engine's raw output, for reports.
    #[serde(skip)]
    pub log: String,
}

/// Where each Dockerfile step sits: its stage and its numbers in each engine's scheme.
#[derive(Clone, Debug)]
pub struct StepInfo {
    pub step: usize,
    pub stage: usize,
    /// BuildKit's label: the stage name, or `stage-K`.
    pub stage_label: String,
    /// 1-based within the stage, FROM first (Podman's `STEP i/N`); 0 for a global ARG.
    pub index_in_stage: usize,
    /// 1-based among FROM, RUN, COPY, ADD and WORKDIR of the stage (BuildKit's numbering).
    pub vertex_index: Option<usize>,
    pub is_from: bool,
    /// A FROM's image as written (lowercased): BuildKit solves two FROMs of one image as one
    /// vertex, named after whichever stage the solver met first.
    pub from_image: Option<String>,
}

/// The steps of `dockerfile_text` as a build with `options` on `builder` numbers them: FROM
/// names expanded as the builder does (a build arg may make one an earlier stage).
pub fn step_map(dockerfile_text: &str, options: &BuildOptions, builder: Builder) -> Vec<StepInfo> {
    let parsed = dockerfile::parse(dockerfile_text);
    let bases = models::predict::stage_bases(&parsed.dockerfile, options, builder);
    let mut out: Vec<StepInfo> = Vec::new();
    let mut stage = 0usize;
    let mut label = String::new();
    let mut index = 0;
    let mut vertex = 0;
    let mut seen_from = false;
    for (n, instruction) in parsed.dockerfile.instructions().enumerate() {
        let is_from = matches!(instruction.body, Body::From { .. });
        // A stage built FROM an earlier stage has no FROM vertex of its own: BuildKit numbers
        // its instructions from the first one after FROM (`[stage-1 1/1] COPY ...`, measured on
        // Engine 20.10.24).
        let from_stage = is_from
            && bases
                .get(if seen_from { stage + 1 } else { 0 })
                .is_some_and(Result::is_ok);
        if let Body::From { stage: name, .. } = &instruction.body {
            // Global ARGs before the first FROM belong to no stage.
            if seen_from {
                stage += 1;
            }
            seen_from = true;
            label = name.clone().unwrap_or_else(|| format!("stage-{stage}"));
            index = 0;
            vertex = 0;
        }
        // Buildah numbers a stage's steps from its FROM: a global ARG is none of them.
        if seen_from {
            index += 1;
        }
        let has_vertex = !from_stage
            && matches!(
                instruction.body,
                Body::From { .. }
                    | Body::Run { .. }
                    | Body::Copy(_)
                    | Body::Add(_)
                    | Body::Workdir { .. }
            );
        if has_vertex {
            vertex += 1;
        }
        let from_image = match bases.get(stage) {
            Some(Err(image)) if is_from => Some(image.to_ascii_lowercase()),
            _ => None,
        };
        out.push(StepInfo {
            step: n + 1,
            stage,
            stage_label: label.clone(),
            index_in_stage: index,
            vertex_index: has_vertex.then_some(vertex),
            is_from,
            from_image,
        });
    }
    out
}

/// The shape both classic and Podman streams share: a header line opens a step, a cache line
/// marks the open step cached, and a build error lands on the step that was open.
/// `header` returns `Some(step)` for a header line (`Some(None)` when it maps to no step).
/// `closing`, where the stream has one (Podman's `--> <id>`), ends a step: Buildah builds
/// independent stages side by side and interleaves their headers, so a cache line belongs to the
/// latest step not yet closed, not to the latest header (measured on Podman 4.3, 5.4 and 5.8:
/// `[3/3] STEP 2/3: COPY --from=s1 …` waits for stage 2, whose steps print in between).
fn parse_step_stream(
    log: &str,
    map: &[StepInfo],
    error: Option<&str>,
    header: impl Fn(&str) -> Option<Option<usize>>,
    (cache_marker, closing): (&str, Option<&str>),
) -> BTreeMap<usize, Observed> {
    let mut steps = BTreeMap::new();
    let mut current: Option<usize> = None;
    let mut open: Vec<usize> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        if let Some(step) = header(line) {
            current = step;
            if let Some(step) = step {
                // FROM has no cache line; reaching it without an error is all it can show.
                let from = map.iter().any(|s| s.step == step && s.is_from);
                steps.insert(
                    step,
                    if from {
                        Observed::Cached
                    } else {
                        Observed::Rebuilt
                    },
                );
                if !from {
                    open.push(step);
                }
            }
        } else if line.starts_with(cache_marker) {
            let step = match closing {
                Some(_) => open.last().copied(),
                None => current,
            };
            if let Some(step) = step {
                steps.insert(step, Observed::Cached);
            }
        } else if closing.is_some_and(|c| line.starts_with(c)) {
            open.pop();
        }
    }
    if let (Some(message), Some(step)) = (error, current) {
        steps.insert(
            step,
            Observed::Failed {
                message: message.to_string(),
            },
        );
    }
    steps
}

/// Classic builder stream text (`Step i/N : ...`, ` ---> Using cache`): `i` counts every
/// instruction of the file.
pub fn parse_classic(
    log: &str,
    map: &[StepInfo],
    error: Option<&str>,
) -> BTreeMap<usize, Observed> {
    let header = |line: &str| {
        let (numbers, _) = line.strip_prefix("Step ")?.split_once(" : ")?;
        Some(numbers.split('/').next()?.parse::<usize>().ok())
    };
    parse_step_stream(log, map, error, header, ("---> Using cache", None))
}

/// Podman / Buildah compat stream text (`[k/m] STEP i/N: ...`, `--> Using cache <id>`): `k` is
/// the stage's place among the Dockerfile's stages up to the target (1-based, skipped stages
/// counted: `[2/3]` and `[3/3]` when the unused first stage is skipped, measured on Podman 4.3.1,
/// 5.4.2 and 5.8.6), `m` the target's; `i` restarts in each. With one stage up to the target
/// there is no prefix.
pub fn parse_podman(log: &str, map: &[StepInfo], error: Option<&str>) -> BTreeMap<usize, Observed> {
    let header = |line: &str| {
        let (stage, rest) = match line.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((prefix, rest)) if rest.starts_with("STEP ") => {
                let k = prefix
                    .split('/')
                    .next()
                    .and_then(|k| k.parse::<usize>().ok())
                    .unwrap_or(1);
                (k.saturating_sub(1), rest)
            }
            _ => (0, line),
        };
        let (numbers, _) = rest.strip_prefix("STEP ")?.split_once(": ")?;
        let i = numbers
            .split('/')
            .next()
            .and_then(|i| i.parse::<usize>().ok());
        Some(
            map.iter()
                .find(|s| s.stage == stage && Some(s.index_in_stage) == i)
                .map(|s| s.step),
        )
    };
    parse_step_stream(log, map, error, header, ("--> Using cache", Some("--> ")))
}

/// Image ids a build printed, in order: a Podman build's `--> 095155a1eaf` (11 hex digits for a
/// step's image) or `--> Using cache <64 hex>`, a classic build's ` ---> 2b651cb20427`. These are
/// its intermediate images: removing the tagged image leaves behind the ones that are not its
/// ancestors (earlier stages of a multi-stage build, the steps of a failed build).
pub fn printed_image_ids(log: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("---> ")
            .or_else(|| line.strip_prefix("--> "))
        else {
            continue;
        };
        let id = rest.strip_prefix("Using cache ").unwrap_or(rest).trim();
        if id.len() >= 10
            && id.chars().all(|c| c.is_ascii_hexdigit())
            && !ids
                .iter()
                .any(|i| id.starts_with(i.as_str()) || i.starts_with(id))
        {
            ids.push(id.to_string());
        }
    }
    ids
}

/// One BuildKit vertex, merged over all its updates.
#[derive(Clone, Debug, Default)]
pub struct VertexReport {
    pub name: String,
    pub cached: bool,
    pub started: bool,
    pub completed: bool,
    pub error: Option<String>,
    /// The vertex reported `merging`: buildx's plain progress shows a `COPY --link` copy and its
    /// merge as one group, so whether the copy was served from cache is not shown.
    pub merged: bool,
}

/// Maps `[label i/n] ...` / `[i/n] ...` vertex names to Dockerfile steps.
fn vertex_step(name: &str, map: &[StepInfo]) -> Option<usize> {
    let inner = name.strip_prefix('[')?.split_once(']')?.0;
    let (label, numbers) = match inner.rsplit_once(' ') {
        Some((label, numbers)) => (Some(label), numbers),
        None => (None, inner),
    };
    let i: usize = numbers.split('/').next()?.parse().ok()?;
    map.iter()
        .find(|s| s.vertex_index == Some(i) && label.is_none_or(|l| s.stage_label == l))
        .map(|s| s.step)
}

/// A `COPY --link` step has two vertices of one number: the copy, and the merge of its result
/// onto the stage, named `[i/n] LINK COPY ...`. The copy says whether the step was served from
/// cache (`bk.link`); the merge reruns whenever the parent changed, so only its error counts.
fn is_link_merge(v: &VertexReport) -> bool {
    let after = v.name.split_once("] ").map(|(_, rest)| rest).unwrap_or("");
    after.starts_with("LINK ") && v.error.is_none()
}

pub fn map_vertices(vertices: &[VertexReport], map: &[StepInfo]) -> BTreeMap<usize, Observed> {
    let mut steps = BTreeMap::new();
    for v in vertices.iter().filter(|v| !is_link_merge(v)) {
        let Some(step) = vertex_step(&v.name, map) else {
            continue;
        };
        let is_from = map.iter().any(|s| s.step == step && s.is_from);
        // One vertex serves every FROM of its image; it is the first such FROM's step (the
        // model's `bk.metadata-free`), whichever stage's name it was reported under (measured
        // on Engine 20.10: the later stage's, about one build in ten).
        let step = match map
            .iter()
            .find(|s| s.step == step)
            .and_then(|s| s.from_image.as_ref())
        {
            Some(image) => map
                .iter()
                .find(|s| s.from_image.as_ref() == Some(image))
                .map_or(step, |first| first.step),
            None => step,
        };
        let outcome = if let Some(e) = &v.error {
            Observed::Failed { message: e.clone() }
        } else if is_from {
            // The FROM vertex's cached flag is meaningless (shared/ENGINES.md).
            Observed::Cached
        } else if v.cached {
            Observed::Cached
        } else if v.merged {
            Observed::Indeterminate {
                why:
                    "buildx shows the --link copy and its merge as one progress group (`merging`): \
                      whether the copy was served from cache is not shown"
                        .to_string(),
            }
        } else if v.completed {
            Observed::Rebuilt
        } else {
            Observed::Indeterminate {
                why: "vertex reported but never completed".to_string(),
            }
        };
        steps.insert(step, outcome);
    }
    steps
}

/// BuildKit `--progress=plain` text: `#5 [2/4] RUN ...`, then `#5 CACHED` / `#5 DONE` / `#5 ERROR`.
pub fn parse_buildkit_plain(log: &str) -> Vec<VertexReport> {
    let mut by_id: BTreeMap<String, VertexReport> = BTreeMap::new();
    let mut order = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((id, text)) = rest.split_once(' ') else {
            continue;
        };
        if id.parse::<u32>().is_err() {
            continue;
        }
        let entry = by_id.entry(id.to_string()).or_insert_with(|| {
            order.push(id.to_string());
            VertexReport::default()
        });
        if text.starts_with('[') && entry.name.is_empty() {
            entry.name = text.to_string();
            entry.started = true;
        } else if text == "CACHED" {
            entry.cached = true;
        } else if text.starts_with("DONE") {
            entry.completed = true;
        } else if text.starts_with("merging") {
            entry.merged = true;
        } else if let Some(e) = text.strip_prefix("ERROR") {
            entry.error = Some(e.trim_start_matches(':').trim().to_string());
        }
    }
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect()
}

/// What a door collected from one build, before any interpretation: the engine's text as it came
/// (classic JSON stream lines, Podman STEP lines, CLI `--progress=plain` text), the error and
/// image id it reported, and for BuildKit through the API its trace's vertices.
#[derive(Clone, Debug, Default)]
pub struct RawBuild {
    pub log: String,
    pub error: Option<String>,
    /// The door could not tell how the build went (timed out, the stream broke).
    pub indeterminate: Option<String>,
    pub image_id: Option<String>,
    /// BuildKit's trace through the API, merged by digest (`VertexMerge`). `None`: the door
    /// reported text only.
    pub vertices: Option<Vec<VertexReport>>,
}

/// BuildKit's vertices as its trace reports them: the same digest arrives in several updates
/// (FROM once with cached=false, again with cached=true), merged here, in first-seen order.
#[derive(Clone, Debug, Default)]
pub struct VertexMerge {
    by_digest: BTreeMap<String, VertexReport>,
    order: Vec<String>,
}

/// One update of one vertex, as the trace carries it.
#[derive(Clone, Debug, Default)]
pub struct VertexUpdate<'a> {
    pub digest: &'a str,
    pub name: &'a str,
    pub cached: bool,
    pub started: bool,
    pub completed: bool,
    pub error: &'a str,
}

impl VertexMerge {
    /// Merges one update (OR-ing `cached`, `started` and `completed`; the last error wins).
    /// Returns the vertex's name when the vertex had none yet, for the log.
    pub fn update(&mut self, v: &VertexUpdate<'_>) -> Option<String> {
        let entry = self
            .by_digest
            .entry(v.digest.to_string())
            .or_insert_with(|| {
                self.order.push(v.digest.to_string());
                VertexReport::default()
            });
        let named = entry.name.is_empty().then(|| {
            entry.name = v.name.to_string();
            v.name.to_string()
        });
        entry.cached |= v.cached;
        entry.started |= v.started;
        entry.completed |= v.completed;
        if !v.error.is_empty() {
            entry.error = Some(v.error.to_string());
        }
        named
    }

    pub fn into_reports(mut self) -> Vec<VertexReport> {
        self.order
            .iter()
            .filter_map(|d| self.by_digest.remove(d))
            .collect()
    }
}

/// The error a failed CLI build reports: its last words. BuildKit's plain progress ends with one
/// line starting `error:` or `ERROR:`, the classic stream with the failing step's message.
pub fn cli_failure_message(log: &str) -> String {
    log.lines()
        .rev()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with("error"))
        .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("build failed")
        .to_string()
}

/// Why a failed build says nothing about cache rules, if its error (or, where a CLI reports only
/// its exit status, its log) shows the engine's surroundings failed it: Podman 4.3 sometimes
/// fails its cache scan while images are removed elsewhere in the store ("layer not known"); a
/// full data-root fails any step that writes ("no space left on device").
pub fn environment_fault(builder: Builder, error: &str, log: &str) -> Option<&'static str> {
    if builder == Builder::Buildah && error.contains("layer not known") {
        return Some("podman store race");
    }
    (Fault::of_message(error).is_some() || Fault::of_message(log).is_some())
        .then_some("the engine ran out of disk")
}

/// Turns what a door collected into per-step outcomes. Engine trouble becomes an indeterminate
/// observation, never a verdict.
pub fn interpret(
    builder: Builder,
    raw: RawBuild,
    dockerfile: &str,
    options: &BuildOptions,
) -> Observation {
    let map = step_map(dockerfile, options, builder);
    let mut observation = Observation {
        log: raw.log,
        error: raw.error,
        indeterminate: raw.indeterminate,
        image_id: raw.image_id,
        ..Observation::default()
    };
    if let Some(vertices) = &raw.vertices {
        for v in vertices.iter().filter(|v| v.cached) {
            observation.log.push_str(&format!("CACHED {}\n", v.name));
        }
    }
    // A failure the engine's surroundings caused says nothing about cache rules: the build's
    // outcome is unknown, and no step of it counts as failed.
    if let Some(why) = observation
        .error
        .as_deref()
        .and_then(|e| environment_fault(builder, e, &observation.log))
    {
        observation.indeterminate = observation.error.take().map(|e| format!("{why}: {e}"));
    } else if let Some(why) = observation.indeterminate.as_mut() {
        // A door that lost the stream says what broke it: a full disk is named as such too.
        if Fault::of_message(why).is_some() {
            *why = format!("the engine ran out of disk: {why}");
        }
    }
    let error = observation.error.clone();
    if let Some(e) = &error {
        observation
            .log
            .push_str(&format!("\n[cachet] build error: {e}\n"));
    }
    if let Some(why) = &observation.indeterminate {
        observation
            .log
            .push_str(&format!("\n[cachet] indeterminate: {why}\n"));
    }
    if builder != Builder::BuildKit {
        observation.intermediate_images = printed_image_ids(&observation.log);
    }
    observation.steps = match (builder, &raw.vertices) {
        (Builder::Classic, _) => parse_classic(&observation.log, &map, error.as_deref()),
        (Builder::Buildah, _) => parse_podman(&observation.log, &map, error.as_deref()),
        (Builder::BuildKit, None) => map_vertices(&parse_buildkit_plain(&observation.log), &map),
        (Builder::BuildKit, Some(vertices)) => map_vertices(vertices, &map),
    };
    if builder == Builder::BuildKit && observation.error.is_some() {
        cancelled_steps_indeterminate(&mut observation.steps);
        if observation
            .error
            .as_deref()
            .is_some_and(|e| e.contains("failed to compute cache key"))
        {
            unrun_cached_steps_indeterminate(&mut observation.steps);
        }
    }
    if let Some(why) = &observation.indeterminate {
        // A step that failed in a build whose outcome is unknown failed for that reason.
        for outcome in observation.steps.values_mut() {
            if let Observed::Failed { message } = outcome {
                *outcome = Observed::Indeterminate {
                    why: format!("{why} (the step said: {message})"),
                };
            }
        }
    }
    observation
}

/// BuildKit solves steps concurrently and cancels the rest when one fails. A step it reported
/// done or cached before that is an observation like any other; one it cancelled reports itself
/// failed with `context canceled` (seen when a concurrent COPY's source was missing), which is
/// no failure of its own: indeterminate. (A WORKDIR reported `CACHED` under `--no-cache`, once
/// taken for a cancellation artefact, is BuildKit's own behaviour: case
/// no-cache-workdir-after-from.)
/// In a BuildKit build that failed computing a step's cache key, the other steps reported
/// CACHED may never have run: BuildKit v0.8 (Engine 20.10.24, through buildx 0.13.1) printed
/// `CACHED` for `COPY . /app` in a scenario's first build, under `--no-cache`, when the next
/// step's `ADD` of a dangling link failed its cache key (seed-8 triage, scenario 74), and at
/// another try left the same step reported but never completed. Such a step says nothing.
fn unrun_cached_steps_indeterminate(steps: &mut BTreeMap<usize, Observed>) {
    for outcome in steps.values_mut() {
        if matches!(outcome, Observed::Cached) {
            *outcome = Observed::Indeterminate {
                why: "the build failed computing a cache key; BuildKit may mark a step CACHED \
                      that it never ran"
                    .to_string(),
            };
        }
    }
}

fn cancelled_steps_indeterminate(steps: &mut BTreeMap<usize, Observed>) {
    for outcome in steps.values_mut() {
        let cancelled = matches!(
            outcome,
            Observed::Failed { message } if message.contains("context canceled")
        );
        if cancelled {
            *outcome = Observed::Indeterminate {
                why: "the build failed at another step; BuildKit cancelled this one".to_string(),
            };
        }
    }
}

/// The plugin's version in `docker buildx version` output: its second word
/// (`github.com/docker/buildx 0.13.1+ds1 0.13.1+ds1-3` gives `0.13.1+ds1`).
pub fn buildx_version_word(text: &str) -> String {
    text.split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_string()
}

/// The CLI's version in `docker --version` output (`Docker version 28.5.2+dfsg4, build 9c2b0b8`
/// gives `28.5.2+dfsg4`).
pub fn cli_version_word(text: &str) -> Option<String> {
    let rest = text.trim().strip_prefix("Docker version ")?;
    let word = rest.split([',', ' ']).next()?;
    (!word.is_empty()).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "FROM base AS first\nCOPY a /a\nENV X=1\nRUN true\nFROM base\nCOPY --from=first /a /b\nRUN echo\n";

    fn render(steps: &BTreeMap<usize, Observed>) -> String {
        steps
            .iter()
            .map(|(s, o)| format!("{s} {}", o.short()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn check(got: BTreeMap<usize, Observed>, expect: &str) {
        assert_eq!(render(&got), expect);
    }

    #[test]
    fn classic_stream() {
        let log = "Step 1/7 : FROM base AS first\n ---> 1\nStep 2/7 : COPY a /a\n ---> Using cache\n ---> 2\nStep 3/7 : ENV X=1\n ---> Running in 9\n ---> 3\nStep 4/7 : RUN true\n";
        check(
            parse_classic(log, &steps_of(DOCKERFILE), Some("boom")),
            "1 cached, 2 cached, 3 rebuilt, 4 failed",
        );
    }

    #[test]
    fn podman_intermediate_ids() {
        // Podman 4.3 prints 11 hex digits for a step's image (seen for a non-final stage).
        let log = "STEP 2/3: COPY a /a\n--> Using cache 0123456789abcdef0123\n--> 0123456789ab\nSTEP 3/3: RUN true\n--> fedcba98765\nSuccessfully tagged x\n";
        assert_eq!(
            printed_image_ids(log),
            vec![
                "0123456789abcdef0123".to_string(),
                "fedcba98765".to_string()
            ]
        );
    }

    #[test]
    fn classic_intermediate_ids() {
        let log = "Step 1/5 : FROM b AS first\n ---> a1ef944cd928\nStep 2/5 : COPY a /a\n ---> Using cache\n ---> 2b651cb20427\nStep 3/5 : RUN true\n ---> Running in 0123456789ab\nRemoving intermediate container 0123456789ab\n ---> 38e7e306c56e\n";
        assert_eq!(
            printed_image_ids(log),
            vec![
                "a1ef944cd928".to_string(),
                "2b651cb20427".to_string(),
                "38e7e306c56e".to_string()
            ]
        );
    }

    #[test]
    fn podman_stream_with_stage_prefixes() {
        let log = "[1/2] STEP 1/4: FROM base AS first\n[1/2] STEP 2/4: COPY a /a\n--> Using cache abc\n[1/2] STEP 3/4: ENV X=1\n--> 1\n[2/2] STEP 1/3: FROM base\n[2/2] STEP 3/3: RUN echo\n--> Using cache def\n";
        check(
            parse_podman(log, &steps_of(DOCKERFILE), None),
            "1 cached, 2 cached, 3 rebuilt, 5 cached, 7 cached",
        );
    }

    #[test]
    fn buildkit_plain_progress() {
        let log = "#4 [first 1/3] FROM docker.io/localhost/base\n#4 DONE 0.0s\n#5 [first 2/3] COPY a /a\n#5 CACHED\n\n#6 [stage-1 3/3] RUN echo\n#6 DONE 0.2s\n#7 [first 3/3] RUN true\n#7 ERROR: exit code 1\n#8 [stage-1 2/3] COPY --from=first /a /b\n";
        let vertices = parse_buildkit_plain(log);
        check(
            map_vertices(&vertices, &steps_of(DOCKERFILE)),
            "1 cached, 2 cached, 4 failed, 6 indeterminate, 7 rebuilt",
        );
    }

    #[test]
    fn podman_steps_after_global_args_map_to_their_own_instructions() {
        let dockerfile = "ARG G\nARG V=1\nFROM base\nARG V\nRUN echo $V\n";
        let log = "STEP 1/3: FROM base\nSTEP 2/3: ARG V\n--> Using cache abc\n--> abc\nSTEP 3/3: RUN echo $V\n--> def\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "3 cached, 4 cached, 5 rebuilt",
        );
    }

    #[test]
    fn a_stage_built_from_a_stage_numbers_from_its_first_instruction() {
        // Measured: `FROM s0` gets no vertex, so `COPY --from` is `[stage-1 1/2]`.
        let dockerfile = "FROM base AS s0\nCOPY a /a\nFROM s0\nCOPY --from=s0 /a /x\nCOPY d /d\n";
        let vertices = parse_buildkit_plain(
            "#4 [s0 1/2] FROM base\n#6 [s0 2/2] COPY a /a\n#6 CACHED\n#7 [stage-1 1/2] COPY --from=s0 /a /x\n#7 CACHED\n#8 [stage-1 2/2] COPY d /d\n#8 DONE 0.1s\n",
        );
        check(
            map_vertices(&vertices, &steps_of(dockerfile)),
            "1 cached, 2 cached, 4 cached, 5 rebuilt",
        );
    }

    #[test]
    fn podman_s_interleaved_stages_give_each_cache_line_to_its_open_step() {
        // Measured on Podman 5.4: the last stage starts while stage 2 runs; its COPY --from
        // waits for stage 2, whose steps print in between.
        let dockerfile = "FROM base AS s0\nWORKDIR /app\nFROM s0 AS s1\nCOPY a .\nCOPY b /d/\nFROM base\nCOPY --from=s1 /app/a /a\n";
        let log = "[1/3] STEP 1/2: FROM base AS s0\n[1/3] STEP 2/2: WORKDIR /app\n--> Using cache 3cf8\n--> 3cf8\n[3/3] STEP 1/2: FROM base\n[3/3] STEP 2/2: COPY --from=s1 /app/a /a\n[2/3] STEP 1/3: FROM 3cf8 AS s1\n[2/3] STEP 2/3: COPY a .\n--> Using cache 18ad\n--> 18ad\n[2/3] STEP 3/3: COPY b /d/\n--> 9c0f\n--> Using cache 1ae3\n--> 1ae3\n[3/3] COMMIT x\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "1 cached, 2 cached, 3 cached, 4 cached, 5 rebuilt, 6 cached, 7 cached",
        );
    }

    #[test]
    fn two_froms_of_one_image_are_one_vertex_the_first_from_s() {
        // Measured on Engine 20.10.24: the shared FROM vertex is named after either stage.
        let dockerfile = "FROM base AS s0\nCOPY a /a\nFROM base\nCOPY --from=s0 /a /x\n";
        for name in ["[s0 1/2] FROM base", "[stage-1 1/2] FROM base"] {
            let vertices = parse_buildkit_plain(&format!(
                "#4 {name}\n#6 [s0 2/2] COPY a /a\n#6 CACHED\n#7 [stage-1 2/2] COPY --from=s0 /a /x\n#7 DONE 0.1s\n"
            ));
            check(
                map_vertices(&vertices, &steps_of(dockerfile)),
                "1 cached, 2 cached, 4 rebuilt",
            );
        }
    }

    #[test]
    fn a_link_copy_is_observed_by_its_copy_vertex_not_its_merge() {
        let dockerfile = "FROM base\nRUN echo 2\nCOPY --link a /a\nRUN true\n";
        let vertices = parse_buildkit_plain(
            "#1 [2/4] RUN echo 2\n#1 DONE 0.1s\n#2 [3/4] COPY --link a /a\n#2 CACHED\n#3 [3/4] LINK COPY --link a /a\n#3 DONE 0.0s\n#4 [4/4] RUN true\n#4 DONE 0.1s\n",
        );
        check(
            map_vertices(&vertices, &steps_of(dockerfile)),
            "2 rebuilt, 3 cached, 4 rebuilt",
        );
        // buildx's own progress: one group, only `merging` shown.
        let grouped = parse_buildkit_plain(
            "#7 [3/4] COPY --link a /a\n#7 merging done\n#7 DONE 0.0s\n#8 [4/4] RUN true\n#8 DONE 0.1s\n",
        );
        check(
            map_vertices(&grouped, &steps_of(dockerfile)),
            "3 indeterminate, 4 rebuilt",
        );
        let failed = parse_buildkit_plain("#3 [3/4] LINK COPY --link a /a\n#3 ERROR: merge\n");
        check(map_vertices(&failed, &steps_of(dockerfile)), "3 failed");
    }

    #[test]
    fn single_stage_buildkit_names_have_no_label() {
        let dockerfile = "FROM base\nARG V\nRUN true\nWORKDIR /w\n";
        let vertices = parse_buildkit_plain(
            "#1 [2/3] RUN true\n#1 CACHED\n#2 [3/3] WORKDIR /w\n#2 DONE 0.0s\n",
        );
        check(
            map_vertices(&vertices, &steps_of(dockerfile)),
            "3 cached, 4 rebuilt",
        );
    }

    /// The steps of a build with no build args (the builder only changes FROM's expansion).
    fn steps_of(dockerfile: &str) -> Vec<StepInfo> {
        step_map(dockerfile, &BuildOptions::default(), Builder::BuildKit)
    }

    /// The model's stage selection for a Dockerfile's text.
    fn built_stages(dockerfile_text: &str, options: &BuildOptions, builder: Builder) -> Vec<usize> {
        models::predict::built_stages(
            &dockerfile::parse(dockerfile_text).dockerfile,
            options,
            builder,
        )
    }

    #[test]
    fn podman_numbers_stages_among_all_up_to_the_target_skipped_ones_too() {
        // Podman 4.3.1, 5.4.2 and 5.8.6 alike: the unused s1 is skipped, yet the last stage is
        // `[3/3]`; with `--target s1` the only stage built is `[2/2]`.
        let dockerfile = "FROM base AS s0\nCOPY a /a\nFROM base AS s1\nCOPY b /b\nFROM base\nCOPY --from=s0 /a /c\n";
        let log = "[1/3] STEP 1/2: FROM base AS s0\n[1/3] STEP 2/2: COPY a /a\n--> Using cache 1a\n--> 1a\n[3/3] STEP 1/2: FROM base\n[3/3] STEP 2/2: COPY --from=s0 /a /c\n--> 2b\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "1 cached, 2 cached, 5 cached, 6 rebuilt",
        );
        let target = "[2/2] STEP 1/2: FROM base AS s1\n[2/2] STEP 2/2: COPY b /b\n--> Using cache 3c\n--> 3c\n";
        check(
            parse_podman(target, &steps_of(dockerfile), None),
            "3 cached, 4 cached",
        );
    }

    /// Build options with only a target.
    fn aimed(target: Option<&str>) -> BuildOptions {
        BuildOptions {
            target: target.map(str::to_string),
            ..BuildOptions::default()
        }
    }

    #[test]
    fn a_build_arg_that_makes_a_from_name_a_stage_builds_that_stage() {
        // Podman 5.4.2's own output for `--build-arg T=s0` (the stage s0 is built first, and the
        // second stage starts FROM its image id): without the build arg, `[1/2]` would be read as
        // the second stage and s0's steps would go unreported.
        let dockerfile = "ARG T\nFROM base AS s0\nCOPY a /a\nFROM ${T:-base}\nCOPY b /b\n";
        let options = BuildOptions {
            build_args: [("T".to_string(), "s0".to_string())].into(),
            ..BuildOptions::default()
        };
        assert_eq!(
            built_stages(dockerfile, &options, Builder::Buildah),
            vec![0, 1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(None), Builder::Buildah),
            vec![1]
        );
        let log = "[1/2] STEP 1/2: FROM base AS s0\n[1/2] STEP 2/2: COPY a /a\n--> Using cache 052ba055b3ec2bd6c472e4a57f01147345d90d77dfc9c3e1fe516f759b6c85a5\n--> 052ba055b3ec\n[2/2] STEP 1/2: FROM 052ba055b3ec2bd6c472e4a57f01147345d90d77dfc9c3e1fe516f759b6c85a5\n[2/2] STEP 2/2: COPY b /b\n--> 6dba3ac09f2d\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "2 cached, 3 cached, 4 cached, 5 rebuilt",
        );
        // BuildKit then numbers the second stage's steps from its COPY, as for `FROM s0`.
        let vertices = parse_buildkit_plain(
            "#1 [s0 2/2] COPY a /a\n#1 CACHED\n#2 [stage-1 1/1] COPY b /b\n#2 DONE 0.0s\n",
        );
        check(
            map_vertices(
                &vertices,
                &step_map(dockerfile, &options, Builder::BuildKit),
            ),
            "3 cached, 5 rebuilt",
        );
    }

    #[test]
    fn built_stages_take_a_numeric_target_and_never_depend_on_themselves_or_later_stages() {
        // `COPY --from=1` in stage 1 and `--from=late` naming a later stage are not dependencies
        // (the model's rule: only earlier stages); a numeric target is a stage index.
        let dockerfile = "FROM base AS s0\nRUN true\nFROM base AS s1\nCOPY --from=1 /a /a\nCOPY --from=late /b /b\nFROM base AS late\nRUN true\nFROM s0\nCOPY --from=s1 /a /a\n";
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("1")), Builder::Buildah),
            vec![1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("s1")), Builder::BuildKit),
            vec![1]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(None), Builder::Buildah),
            vec![0, 1, 3]
        );
        assert_eq!(
            built_stages(dockerfile, &aimed(Some("2")), Builder::Classic),
            vec![0, 1, 2]
        );
        // A stage named like a number resolves by name first, as in the model.
        let named =
            "FROM base AS 1\nRUN true\nFROM base\nRUN true\nFROM base\nCOPY --from=1 /a /a\n";
        assert_eq!(
            built_stages(named, &aimed(None), Builder::Buildah),
            vec![0, 2]
        );
        assert_eq!(
            built_stages("", &aimed(None), Builder::Buildah),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn vertex_updates_merge_by_digest_in_first_seen_order() {
        let mut merge = VertexMerge::default();
        let update = |digest, name, cached, completed| VertexUpdate {
            digest,
            name,
            cached,
            started: true,
            completed,
            error: "",
        };
        assert_eq!(
            merge.update(&update("d1", "[1/2] FROM base", false, false)),
            Some("[1/2] FROM base".to_string())
        );
        assert_eq!(
            merge.update(&update("d2", "[2/2] RUN true", false, true)),
            Some("[2/2] RUN true".to_string())
        );
        assert_eq!(
            merge.update(&update("d1", "[1/2] FROM base", true, true)),
            None
        );
        let reports = merge.into_reports();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].name, "[1/2] FROM base");
        assert!(reports[0].cached && reports[0].completed);
        assert!(!reports[1].cached && reports[1].completed);
    }

    #[test]
    fn a_build_that_failed_computing_a_cache_key_trusts_no_cached_step() {
        // Seen on Engine 20.10.24 through buildx: the first build of a scenario, --no-cache.
        let dockerfile = "FROM base\nCOPY . /app\nADD l /l\n";
        let log = "#4 [1/3] FROM base\n#4 DONE 0.0s\n#6 [2/3] COPY . /app\n#6 CACHED\n#7 [3/3] ADD l /l\n#7 ERROR: \"/gone\" not found: not found\n";
        let raw = RawBuild {
            log: log.into(),
            error: Some(
                "failed to solve: failed to compute cache key: \"/gone\" not found: not found"
                    .into(),
            ),
            ..RawBuild::default()
        };
        let observation = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(
            observation.steps,
            "1 indeterminate, 2 indeterminate, 3 failed",
        );
    }

    #[test]
    fn interpret_keeps_what_a_failed_buildkit_build_reported_of_other_steps() {
        let dockerfile = "FROM base\nCOPY a /a\nRUN false\n";
        let raw = RawBuild {
            error: Some("exit code 1".into()),
            vertices: Some(vec![
                VertexReport {
                    name: "[2/3] COPY a /a".into(),
                    cached: true,
                    completed: true,
                    ..VertexReport::default()
                },
                VertexReport {
                    name: "[3/3] RUN false".into(),
                    error: Some("exit code 1".into()),
                    ..VertexReport::default()
                },
            ]),
            ..RawBuild::default()
        };
        let observation = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(observation.steps.clone(), "2 cached, 3 failed");
        // A step BuildKit cancelled because another failed is no failure of its own.
        let raw = RawBuild {
            error: Some("exit code 1".into()),
            vertices: Some(vec![
                VertexReport {
                    name: "[2/3] COPY a /a".into(),
                    error: Some("context canceled".into()),
                    ..VertexReport::default()
                },
                VertexReport {
                    name: "[3/3] RUN false".into(),
                    error: Some("exit code 1".into()),
                    ..VertexReport::default()
                },
            ]),
            ..RawBuild::default()
        };
        let cancelled = interpret(Builder::BuildKit, raw, dockerfile, &BuildOptions::default());
        check(cancelled.steps, "2 indeterminate, 3 failed");
        assert!(observation.log.contains("CACHED [2/3] COPY a /a\n"));
        assert!(observation
            .log
            .contains("[cachet] build error: exit code 1"));
    }

    #[test]
    fn interpret_calls_a_podman_store_race_indeterminate() {
        let raw = RawBuild {
            log: "STEP 1/2: FROM base\nSTEP 2/2: RUN true\n".into(),
            error: Some("layer not known".into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Buildah,
            raw,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.error, None);
        assert_eq!(
            observation.indeterminate.as_deref(),
            Some("podman store race: layer not known")
        );
        check(observation.steps, "1 cached, 2 rebuilt");
    }

    #[test]
    fn interpret_calls_a_full_disk_indeterminate_on_every_builder() {
        let enospc = "write /var/lib/docker/tmp/x: no space left on device";
        let classic = RawBuild {
            log: "Step 1/2 : FROM base\nStep 2/2 : RUN true\n".into(),
            error: Some(enospc.into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Classic,
            classic,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.error, None);
        assert_eq!(
            observation.indeterminate.as_deref(),
            Some(format!("the engine ran out of disk: {enospc}").as_str())
        );
        // BuildKit's failing vertex carries the error itself: it is no failed step either.
        let buildkit = RawBuild {
            error: Some("failed to solve: exit code 1".into()),
            vertices: Some(vec![VertexReport {
                name: "[2/2] RUN true".into(),
                started: true,
                completed: true,
                error: Some(enospc.into()),
                ..VertexReport::default()
            }]),
            log: format!("#5 ERROR: {enospc}\n"),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::BuildKit,
            buildkit,
            "FROM base\nRUN true\n",
            &BuildOptions::default(),
        );
        check(observation.steps, "2 indeterminate");
        assert!(observation.indeterminate.is_some());
        // A build that failed for its own reasons stays a failure.
        let own = RawBuild {
            log: "Step 1/2 : FROM base\nStep 2/2 : RUN false\n".into(),
            error: Some("returned a non-zero code: 1".into()),
            ..RawBuild::default()
        };
        let observation = interpret(
            Builder::Classic,
            own,
            "FROM base\nRUN false\n",
            &BuildOptions::default(),
        );
        assert_eq!(observation.indeterminate, None);
    }

    #[test]
    fn cli_failure_message_is_the_last_error_line() {
        assert_eq!(
            cli_failure_message("#5 ERROR: x\nerror: failed to solve: y\n\n"),
            "error: failed to solve: y"
        );
        assert_eq!(
            cli_failure_message("Step 2/2 : RUN false\nreturned a non-zero code: 1\n"),
            "returned a non-zero code: 1"
        );
        assert_eq!(cli_failure_message(""), "build failed");
    }

    #[test]
    fn cli_and_plugin_versions_are_read_from_their_version_lines() {
        assert_eq!(
            cli_version_word("Docker version 28.5.2+dfsg4, build 9cc6dea35e9a963f\n").as_deref(),
            Some("28.5.2+dfsg4")
        );
        assert_eq!(
            cli_version_word("Docker version 20.10.24+dfsg1, build 297e128").as_deref(),
            Some("20.10.24+dfsg1")
        );
        assert_eq!(cli_version_word("podman version 5.8.6"), None);
        assert_eq!(
            buildx_version_word("github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4\n"),
            "0.29.1+ds1"
        );
        assert_eq!(buildx_version_word(""), "unknown");
    }
}
