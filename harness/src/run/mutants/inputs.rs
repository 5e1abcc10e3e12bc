//! What the generated inputs reach on the model alone: each change kind × entry type, and the
//! rules whose mutants a build with that change tells apart (`cachet mutants`' input-coverage
//! table); and how many builds the model predicts to fail (a failed build leaves the steps
//! BuildKit cancels, and those after the failure, indeterminate). A step that fails because the
//! builder refuses its form (the model's dispatch refusal: the classic builder's `RUN --mount`
//! or `COPY --chmod`, Buildah's forms its generation does not know) is a refusal, not an input
//! failure: it counts as refused, not failing.
//!
//! A rule is reached by a change when the build that makes it is the first of its scenario
//! whose predictions under the rule's mutant a real run could tell from the reference's
//! (`build_differs`); every entry change of that build is credited (most builds make one).

use std::collections::{BTreeMap, BTreeSet};

use models::predict::dispatch_refusal;
use models::scenario::{apply_mutation, contexts_per_build, predict_scenario, Mutation, Scenario};
use models::{BuildContext, EntryKind, Outcome, Profile, Switch};

use super::observable::{build_differs, observable};
use crate::generate::fit;

/// The entry types a change meets (`link`: a symlink whose target is in the context;
/// `dangling`: one whose target is not).
pub const TYPES: [&str; 5] = ["file", "dir", "link", "dangling", "hard link"];

/// The change kinds: the mutation ops that touch an entry, a symlink made again in place
/// (`retarget`), a path made where none was (`create`, under the type made), and a type change
/// (a removal and a making of the same path in one build, or a link made over a file or
/// directory: `retype→T`, under the type before).
pub const KINDS: [&str; 14] = [
    "write",
    "write-same-size",
    "chmod",
    "chown",
    "touch",
    "set-xattr",
    "remove-xattr",
    "remove",
    "rename",
    "retarget",
    "create",
    "retype→file",
    "retype→dir",
    "retype→link",
];

/// One change of an entry: its kind (`KINDS`) and the entry's type (`TYPES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub kind: &'static str,
    pub entry: &'static str,
}

/// Why no generated input can fill a cell, if none can: what the model, Linux or the
/// definition of the change rule out.
pub fn refused(kind: &str, entry: &str) -> Option<&'static str> {
    let link = matches!(entry, "link" | "dangling");
    Some(match kind {
        _ if entry == "hard link" => "the model's contexts have no hard links",
        "write" | "write-same-size" if entry != "file" => "only a file has content",
        "chmod" if link => "Linux has no link modes",
        "set-xattr" | "remove-xattr" if link => "Linux refuses user.* xattrs on links",
        "retarget" if !link => "only a link has a target",
        "retype→file" if entry == "file" => "not a type change",
        "retype→dir" if entry == "dir" => "not a type change",
        "retype→link" if link => "a retarget",
        _ => return None,
    })
}

/// The type of the entry at `path` (`None` where there is none).
fn type_of(context: &BuildContext, path: &str) -> Option<&'static str> {
    Some(match &context.get(path)?.kind {
        EntryKind::File { .. } => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink { .. } if fit::resolve(context, path).is_some() => "link",
        EntryKind::Symlink { .. } => "dangling",
    })
}

fn op(m: &Mutation) -> &'static str {
    match m {
        Mutation::Write { .. } => "write",
        Mutation::WriteSameSize { .. } => "write-same-size",
        Mutation::Chmod { .. } => "chmod",
        Mutation::Chown { .. } => "chown",
        Mutation::Touch { .. } => "touch",
        Mutation::SetXattr { .. } => "set-xattr",
        Mutation::RemoveXattr { .. } => "remove-xattr",
        Mutation::Symlink { .. } => "symlink",
        Mutation::Mkdir { .. } => "mkdir",
        Mutation::Remove { .. } => "remove",
        Mutation::Rename { .. } => "rename",
        Mutation::Dockerignore { .. } => "dockerignore",
        Mutation::Dockerfile { .. } => "dockerfile",
    }
}

/// Whether `m` makes an entry at `path` (a file, a directory, a link).
fn makes(m: &Mutation, path: &str) -> bool {
    matches!(
        m,
        Mutation::Write { .. } | Mutation::Mkdir { .. } | Mutation::Symlink { .. }
    ) && m.path() == path
}

/// The entry changes of each build of `scenario` (the Dockerfile's and `.dockerignore`'s
/// changes are not entry changes).
pub fn changes(scenario: &Scenario) -> Vec<Vec<Change>> {
    let mut context = scenario.context.clone();
    let mut out = Vec::new();
    for t in &scenario.transitions {
        let mut build = Vec::new();
        let mut made_again = BTreeSet::new();
        for (i, m) in t.mutations.iter().enumerate() {
            let before = type_of(&context, m.path());
            let mut after = context.clone();
            if apply_mutation(&mut after, m, 0).is_err() {
                continue;
            }
            let made = type_of(&after, m.path());
            let retype = |to: Option<&'static str>| match to {
                Some("file") => "retype→file",
                Some("dir") => "retype→dir",
                _ => "retype→link",
            };
            let change = match (m, before) {
                (Mutation::Dockerfile { .. } | Mutation::Dockerignore { .. }, _) => None,
                _ if made_again.remove(&i) => None,
                (Mutation::Remove { path }, Some(entry)) => {
                    // Made again later in the build: a type change.
                    match t.mutations[i + 1..].iter().position(|n| makes(n, path)) {
                        Some(k) => {
                            made_again.insert(i + 1 + k);
                            let mut later = after.clone();
                            for n in &t.mutations[i + 1..=i + 1 + k] {
                                let _ = apply_mutation(&mut later, n, 0);
                            }
                            Some((retype(type_of(&later, path)), entry))
                        }
                        None => Some(("remove", entry)),
                    }
                }
                (Mutation::Symlink { .. }, Some(entry @ ("link" | "dangling"))) => {
                    Some(("retarget", entry))
                }
                (Mutation::Symlink { .. }, Some(entry)) => Some(("retype→link", entry)),
                (
                    Mutation::Write { .. } | Mutation::Mkdir { .. } | Mutation::Symlink { .. },
                    None,
                ) => made.map(|entry| ("create", entry)),
                (m, Some(entry)) => Some((op(m), entry)),
                (_, None) => None,
            };
            build.extend(change.map(|(kind, entry)| Change { kind, entry }));
            context = after;
        }
        out.push(build);
    }
    out
}

/// One cell of the table: how many changes of its kind met its type, and the rules they
/// reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    pub changes: usize,
    pub rules: BTreeSet<String>,
}

/// The input-coverage table: every cell any change met.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub cells: BTreeMap<Change, Cell>,
}

impl Coverage {
    /// The cells no input is refused (`refused`), and how many of them a change reached a rule
    /// in: `(filled, possible)`.
    pub fn filled(&self) -> (usize, usize) {
        let possible = possible().len();
        (possible - self.empty().len(), possible)
    }

    /// The cells no input is refused where no change reached a rule.
    pub fn empty(&self) -> Vec<Change> {
        let reached = |c: &Change| self.cells.get(c).is_some_and(|cell| !cell.rules.is_empty());
        possible().into_iter().filter(|c| !reached(c)).collect()
    }
}

/// Every cell no input is refused.
fn possible() -> Vec<Change> {
    KINDS
        .iter()
        .flat_map(|kind| TYPES.iter().map(move |entry| Change { kind, entry }))
        .filter(|c| refused(c.kind, c.entry).is_none())
        .collect()
}

/// The input coverage of `scenarios` over every exercised rule of `profiles` (a scenario the
/// model cannot apply is left out).
pub fn coverage(profiles: &[Profile], scenarios: &[Scenario]) -> Coverage {
    let mut coverage = Coverage::default();
    let changes: Vec<Vec<Vec<Change>>> = scenarios.iter().map(changes).collect();
    for change in changes.iter().flatten().flatten() {
        coverage.cells.entry(*change).or_default().changes += 1;
    }
    for profile in profiles {
        let reference: Vec<_> = scenarios
            .iter()
            .map(|s| predict_scenario(profile, s).ok().map(|p| observable(&p)))
            .collect();
        for rule in profile.rules().into_iter().filter(|r| r.is_exercised()) {
            let mutant = profile
                .with_switch(rule.id, Switch::Off)
                .expect("a rule of the profile's own table");
            for ((s, expected), builds) in scenarios.iter().zip(&reference).zip(&changes) {
                let Some(expected) = expected else { continue };
                let Ok(predicted) = predict_scenario(&mutant, s) else {
                    continue;
                };
                let predicted = observable(&predicted);
                let first = expected
                    .iter()
                    .zip(&predicted)
                    .position(|(r, m)| build_differs(r, m));
                for change in first.map_or(&[][..], |n| &builds[n]) {
                    let cell = coverage.cells.entry(*change).or_default();
                    cell.rules.insert(rule.id.to_string());
                }
            }
        }
    }
    coverage
}

/// The table (rules reached, and changes made, per kind × type; `–` where `refused`), the
/// cells filled, why the refused ones are, and each filled cell's rules.
pub fn render_coverage(coverage: &Coverage, seed: u64, scenarios: usize) -> String {
    let mut out = format!(
        "input coverage, seed {seed}, {scenarios} scenarios: rules reached (changes made) per \
         change kind × entry type\n{:<16}",
        "change"
    );
    for t in TYPES {
        out.push_str(&format!("{t:>12}"));
    }
    out.push('\n');
    for kind in KINDS {
        out.push_str(&format!("{kind:<16}"));
        for entry in TYPES {
            let text = match (
                refused(kind, entry),
                coverage.cells.get(&Change { kind, entry }),
            ) {
                (Some(_), _) => "–".to_string(),
                (None, None) => "0 (0)".to_string(),
                (None, Some(cell)) => format!("{} ({})", cell.rules.len(), cell.changes),
            };
            out.push_str(&format!("{text:>12}"));
        }
        out.push('\n');
    }
    let (filled, possible) = coverage.filled();
    out.push_str(&format!(
        "filled {filled}/{possible} cells (a change there reached a rule)\n"
    ));
    let mut why: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for kind in KINDS {
        for entry in TYPES {
            if let Some(reason) = refused(kind, entry) {
                why.entry(reason)
                    .or_default()
                    .push(format!("{kind} × {entry}"));
            }
        }
    }
    for (reason, cells) in why {
        out.push_str(&format!("– {reason}: {}\n", cells.join(", ")));
    }
    for (change, cell) in &coverage.cells {
        if !cell.rules.is_empty() {
            let rules: Vec<&str> = cell.rules.iter().map(String::as_str).collect();
            out.push_str(&format!(
                "{} × {}: {}\n",
                change.kind,
                change.entry,
                rules.join(" ")
            ));
        }
    }
    out
}

/// How many of the generated builds the model predicts to fail, over some profiles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub builds: usize,
    /// Builds with a step predicted to fail for its inputs (not for its form: `refused`).
    pub failing: usize,
    /// Builds the frontend refuses whole (a newer form on an older generation), and builds
    /// whose first failing step is the builder's refusal of a form it does not support (the
    /// model's dispatch refusal, `models::predict::dispatch_refusal`: the classic builder's
    /// `RUN --mount`, `COPY --chmod`). A refusal is not an input failure, and costs the classic
    /// builder no indeterminate steps (those before it ran and are observed, those after are
    /// skipped), so its steps are not counted at stake.
    pub refused: usize,
    /// Steps the checker holds to a claim (cached, rebuilt, fails).
    pub steps: usize,
    /// Of those, the ones in failing builds: what a real run may see cancelled or never reach.
    pub at_stake: usize,
    /// Why they fail (the model's words for the first failing step), and how often.
    pub why: BTreeMap<String, usize>,
}

impl Failures {
    /// Failing builds per mille.
    pub fn failing_per_mille(&self) -> usize {
        self.failing * 1000 / self.builds.max(1)
    }
    /// Claimed steps in failing builds per mille.
    pub fn at_stake_per_mille(&self) -> usize {
        self.at_stake * 1000 / self.steps.max(1)
    }
}

/// Whether `why`, the failure of step `step` (1-based among the instructions) of the Dockerfile
/// in `context`, is the builder's refusal of that step's form (`dispatch_refusal`).
fn refused_form(profile: &Profile, context: &BuildContext, step: usize, why: &str) -> bool {
    let Some(text) = context.dockerfile_text() else {
        return false;
    };
    let parsed = models::predict::parse_as(profile, &text);
    let Some(instruction) = parsed.dockerfile.instructions().nth(step.saturating_sub(1)) else {
        return false;
    };
    dispatch_refusal(profile, &instruction.body).as_deref() == Some(why)
}

/// The builds of `scenarios` under each of `profiles` the model predicts to fail for their
/// inputs; a build whose failure is the builder's refusal of a form (`refused_form`) counts as
/// refused, not failing.
pub fn failures(profiles: &[Profile], scenarios: &[Scenario]) -> Failures {
    let mut f = Failures::default();
    for profile in profiles {
        for s in scenarios {
            let Ok(predictions) = predict_scenario(profile, s) else {
                continue;
            };
            let Ok(contexts) = contexts_per_build(s) else {
                continue;
            };
            for (p, context) in predictions.into_iter().zip(&contexts) {
                f.builds += 1;
                f.refused += usize::from(p.rejected.is_some());
                let claimed = p
                    .steps
                    .iter()
                    .filter(|s| {
                        matches!(
                            s.outcome,
                            Outcome::Cached { .. }
                                | Outcome::Rebuilt { .. }
                                | Outcome::Fails { .. }
                        )
                    })
                    .count();
                let fails = p.steps.iter().find_map(|s| match &s.outcome {
                    Outcome::Fails { why } => Some((s.step, why.clone())),
                    _ => None,
                });
                if let Some((step, why)) = &fails {
                    if refused_form(profile, context, *step, why) {
                        f.refused += 1;
                        continue;
                    }
                }
                f.steps += claimed;
                if let Some((_, why)) = fails {
                    *f.why.entry(why).or_default() += 1;
                    f.failing += 1;
                    f.at_stake += claimed;
                }
            }
        }
    }
    f
}

/// One line: failing builds and the claimed steps in them, per mille; then the commonest
/// reasons.
pub fn render_failures(f: &Failures) -> String {
    let mut out = format!(
        "failing builds: {}/{} ({}‰; {} refused, whole or a form at its step); claimed steps in them: {}/{} ({}‰)\n",
        f.failing,
        f.builds,
        f.failing_per_mille(),
        f.refused,
        f.at_stake,
        f.steps,
        f.at_stake_per_mille()
    );
    let mut why: Vec<(&String, &usize)> = f.why.iter().collect();
    why.sort_by_key(|(w, n)| (std::cmp::Reverse(**n), *w));
    for (w, n) in why.into_iter().take(6) {
        out.push_str(&format!("  {n:5}  {w}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    //! `changes_are_classified_by_kind_and_entry_type` stays one long table of changes and
    //! the (kind, entry type) each is counted under.
    use super::*;
    use models::scenario::{BuildStep, Transition};
    use models::Entry;

    fn check(mutations: Vec<Mutation>, expect: &[(&str, &str)]) {
        let mut context = BuildContext::new();
        context.insert("a", Entry::file("a")).unwrap();
        context.insert("d/c", Entry::file("c")).unwrap();
        context.insert("l", Entry::symlink("a")).unwrap();
        context.insert("g", Entry::symlink("gone")).unwrap();
        let scenario = Scenario {
            context,
            transitions: vec![Transition {
                mutations,
                build: BuildStep::default(),
            }],
        };
        let got: Vec<(&str, &str)> = changes(&scenario)[0]
            .iter()
            .map(|c| (c.kind, c.entry))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn changes_are_classified_by_kind_and_entry_type() {
        let p = |s: &str| s.to_string();
        check(
            vec![Mutation::Chown {
                path: p("l"),
                uid: 1,
                gid: 1,
            }],
            &[("chown", "link")],
        );
        check(
            vec![Mutation::Touch {
                path: p("g"),
                mtime: 1,
            }],
            &[("touch", "dangling")],
        );
        check(
            vec![Mutation::Symlink {
                path: p("l"),
                target: p("gone"),
            }],
            &[("retarget", "link")],
        );
        check(
            vec![Mutation::Symlink {
                path: p("n"),
                target: p("gone"),
            }],
            &[("create", "dangling")],
        );
        check(
            vec![Mutation::Symlink {
                path: p("a"),
                target: p("d"),
            }],
            &[("retype→link", "file")],
        );
        check(
            vec![
                Mutation::Remove { path: p("d") },
                Mutation::Write {
                    path: p("d"),
                    content: p("x"),
                },
            ],
            &[("retype→file", "dir")],
        );
        check(
            vec![
                Mutation::Remove { path: p("g") },
                Mutation::Mkdir { path: p("g") },
            ],
            &[("retype→dir", "dangling")],
        );
        check(
            vec![
                Mutation::Remove { path: p("a") },
                Mutation::Dockerfile {
                    text: p("FROM base\n"),
                },
            ],
            &[("remove", "file")],
        );
        check(
            vec![Mutation::Rename {
                from: p("g"),
                to: p("h"),
            }],
            &[("rename", "dangling")],
        );
        check(
            vec![
                Mutation::Remove { path: p("a") },
                Mutation::Touch {
                    path: p("l"),
                    mtime: 1,
                },
            ],
            &[("remove", "file"), ("touch", "dangling")],
        );
    }

    #[test]
    fn refused_cells_are_those_no_input_can_make() {
        assert_eq!(possible().len(), 38);
        assert_eq!(refused("chmod", "link"), Some("Linux has no link modes"));
        assert_eq!(refused("chown", "dangling"), None);
        assert_eq!(refused("retype→link", "dir"), None);
    }
}
