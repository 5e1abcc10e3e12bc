//! Shrinking: a scenario that shows a discrepancy becomes the smallest one that still does.
//!
//! Greedy passes, repeated until none makes progress: drop builds, drop mutations, drop
//! Dockerfile instructions, drop context files, drop build options. A candidate counts only if
//! it is valid (every mutation applies) and running it on the engine still shows a discrepancy.

use models::dockerfile::{self, Line};
use models::scenario::{contexts_per_build, Scenario};

use crate::engine::inventory::{Engine, Inventory};
use crate::error::Result;
use crate::run::execute::{fresh_salt, run_scenario_checked, History};

#[derive(Debug)]
pub struct Shrunk {
    pub scenario: Scenario,
    /// The run of the final scenario (its predictions and observations).
    pub history: History,
    /// Engine builds spent while shrinking.
    pub builds_spent: usize,
    pub candidates_tried: usize,
}

/// A candidate: the key of its edit, and the smaller scenario.
type Candidate = (u64, Scenario);

/// Candidates one step smaller than `s`, biggest cuts first, each with a key naming the edit by
/// what it removes (not by position), so an edit that failed once is not retried after another
/// edit succeeds.
fn candidates(s: &Scenario) -> Vec<Candidate> {
    let (halves, single_lines) = line_candidates(s);
    let mut out = halves;
    out.extend(build_candidates(s));
    out.extend(mutation_candidates(s));
    out.extend(single_lines);
    out.extend(entry_candidates(s));
    out.extend(option_candidates(s));
    out.retain(|(_, c)| contexts_per_build(c).is_ok());
    out
}

/// The key of an edit, from what it removes.
fn edit_key(what: &dyn std::fmt::Debug) -> u64 {
    models::fingerprint::fingerprint(&format!("{what:?}"))
}

/// Candidates without Dockerfile lines other than FROM (instructions, comments, blank lines):
/// the halves (delta debugging: the second half of the droppable lines, then the first, so a
/// long Dockerfile loses several lines for one engine run), and each line alone.
fn line_candidates(s: &Scenario) -> (Vec<Candidate>, Vec<Candidate>) {
    let parsed = s
        .context
        .dockerfile_text()
        .map(|text| dockerfile::parse(&text).dockerfile);
    let droppable: Vec<usize> = parsed
        .iter()
        .flat_map(|d| d.lines.iter().enumerate())
        .filter(|(_, l)| !matches!(l, Line::Instruction(i) if matches!(i.body, models::Body::From { .. })))
        .map(|(n, _)| n)
        .collect();
    let without_lines = |lines: &[usize]| {
        let mut d = parsed
            .clone()
            .expect("droppable lines come from a Dockerfile");
        let removed: Vec<Line> = lines.iter().rev().map(|n| d.lines.remove(*n)).collect();
        let mut c = s.clone();
        c.context.set_dockerfile_text(&dockerfile::render(&d));
        (removed, c)
    };
    let mut halves = Vec::new();
    if droppable.len() >= 4 {
        let (first, second) = droppable.split_at(droppable.len() / 2);
        for half in [second, first] {
            let (removed, c) = without_lines(half);
            let removed: Vec<String> = removed.iter().map(|l| format!("{l:?}")).collect();
            halves.push((edit_key(&("lines", removed)), c));
        }
    }
    let single_lines = droppable
        .iter()
        .map(|n| {
            let (mut removed, c) = without_lines(&[*n]);
            (edit_key(&("line", removed.remove(0))), c)
        })
        .collect();
    (halves, single_lines)
}

/// Candidates without one build each (its mutations move to the next build, so later contexts
/// stay the same); none for a single build.
fn build_candidates(s: &Scenario) -> Vec<Candidate> {
    let mut out = Vec::new();
    for i in 0..s.transitions.len() {
        if s.transitions.len() > 1 {
            let mut c = s.clone();
            let removed = c.transitions.remove(i);
            let edit = edit_key(&("build", &removed));
            if let Some(next) = c.transitions.get_mut(i) {
                let mut mutations = removed.mutations;
                mutations.append(&mut next.mutations);
                next.mutations = mutations;
            }
            out.push((edit, c));
        }
    }
    out
}

/// Candidates without a build's mutations: all of them (where it has two or more), then each.
fn mutation_candidates(s: &Scenario) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (t, transition) in s.transitions.iter().enumerate() {
        if transition.mutations.len() >= 2 {
            let mut c = s.clone();
            let removed = std::mem::take(&mut c.transitions[t].mutations);
            out.push((edit_key(&("mutations", removed)), c));
        }
        for m in 0..transition.mutations.len() {
            let mut c = s.clone();
            let removed = c.transitions[t].mutations.remove(m);
            out.push((edit_key(&("mutation", removed)), c));
        }
    }
    out
}

/// Candidates without one context entry each (never the Dockerfile).
fn entry_candidates(s: &Scenario) -> Vec<Candidate> {
    let mut out = Vec::new();
    for path in s.context.entries.keys() {
        if path == models::context::DOCKERFILE_NAME {
            continue;
        }
        let mut c = s.clone();
        c.context.remove(path);
        out.push((edit_key(&("entry", path)), c));
    }
    out
}

/// Candidates with simpler build options: no `--no-cache`, one build argument fewer.
fn option_candidates(s: &Scenario) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (t, transition) in s.transitions.iter().enumerate() {
        let o = &transition.build.options;
        if o.no_cache {
            let mut c = s.clone();
            c.transitions[t].build.options.no_cache = false;
            out.push((edit_key(&("no-cache", t)), c));
        }
        for name in o.build_args.keys() {
            let mut c = s.clone();
            c.transitions[t].build.options.build_args.remove(name);
            out.push((edit_key(&("arg", t, name)), c));
        }
    }
    out
}

/// Shrinks `scenario` on `engine`, spending at most `budget` candidate runs; a candidate is kept
/// when its run is still `interesting` (shows the kind of discrepancy being chased).
pub fn shrink(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &Scenario,
    budget: usize,
    fresh_check: bool,
    interesting: &dyn Fn(&Scenario, &History) -> bool,
) -> Result<Shrunk> {
    let mut current = scenario.clone();
    let mut history = run_scenario_checked(
        inventory,
        engine,
        &current,
        &fresh_salt(("shrink", 0)),
        fresh_check,
    )?;
    let mut builds_spent = history.builds.len();
    tracing::debug!(
        engine = %engine.name,
        builds = history.builds.len(),
        discrepancies = history.discrepancy_count(),
        budget,
        "shrink: the scenario as found"
    );
    // Builds after the last one with a discrepancy cannot have caused it: cut them for free.
    if let Some(last) = history
        .builds
        .iter()
        .filter(|b| b.discrepancies().next().is_some() || !b.stale.is_empty())
        .map(|b| b.transition)
        .max()
    {
        current.transitions.truncate(last);
        history.builds.retain(|b| b.transition <= last);
    }
    let mut candidates_tried = 0;
    let mut failed_edits = std::collections::HashSet::new();
    'outer: loop {
        for (edit, candidate) in candidates(&current) {
            if failed_edits.contains(&edit) {
                continue;
            }
            if candidates_tried >= budget {
                break 'outer;
            }
            candidates_tried += 1;
            let run = run_scenario_checked(
                inventory,
                engine,
                &candidate,
                &fresh_salt(("shrink", candidates_tried)),
                fresh_check,
            )?;
            builds_spent += run.builds.len();
            let kept = interesting(&candidate, &run);
            tracing::debug!(
                engine = %engine.name,
                candidate = candidates_tried,
                edit = format_args!("{edit:016x}"),
                builds = run.builds.len(),
                discrepancies = run.discrepancy_count(),
                kept,
                "shrink candidate"
            );
            if kept {
                current = candidate;
                history = run;
                continue 'outer;
            }
            failed_edits.insert(edit);
        }
        break;
    }
    Ok(Shrunk {
        scenario: current,
        history,
        builds_spent,
        candidates_tried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::scenario::{BuildStep, Mutation, Transition};
    use models::{BuildContext, Entry};

    #[test]
    fn candidates_are_valid_and_smaller() {
        let mut context = BuildContext::new();
        context.insert("a", Entry::file("x")).unwrap();
        context.insert("b", Entry::file("y")).unwrap();
        context.set_dockerfile_text("FROM base\nCOPY a /a\nRUN true\n");
        let scenario = Scenario {
            context,
            transitions: vec![
                Transition {
                    mutations: vec![],
                    build: BuildStep {
                        host: "a".into(),
                        ..BuildStep::default()
                    },
                },
                Transition {
                    mutations: vec![Mutation::Chmod {
                        path: "a".into(),
                        mode: 0o600,
                    }],
                    build: BuildStep {
                        host: "a".into(),
                        ..BuildStep::default()
                    },
                },
            ],
        };
        let all = candidates(&scenario);
        // 2 build drops, 1 mutation drop, 2 instruction drops, 1 file drop (dropping `a` would
        // leave the chmod with nothing to change).
        assert_eq!(all.len(), 6);
        assert!(all.iter().all(|(_, c)| c != &scenario));
        let keys: std::collections::HashSet<u64> = all.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys.len(), all.len(), "each edit has its own key");
    }
}
