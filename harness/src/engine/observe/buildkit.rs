//! BuildKit's vertices: `--progress=plain` text and the API trace's updates merged by digest,
//! mapped to steps (`[label i/n]` names, a `COPY --link`'s copy vertex, one vertex for FROMs of
//! one image), and what a failed BuildKit build's other steps still say.

use std::collections::BTreeMap;

use super::step_map::StepInfo;
use super::types::Observed;

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
            // The FROM vertex's cached flag is meaningless: BuildKit may report the vertex more than
            // once, not cached and then cached, for the same image.
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
pub(super) fn unrun_cached_steps_indeterminate(steps: &mut BTreeMap<usize, Observed>) {
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

pub(super) fn cancelled_steps_indeterminate(steps: &mut BTreeMap<usize, Observed>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observe::fixtures::{check, steps_of, DOCKERFILE};

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
}
