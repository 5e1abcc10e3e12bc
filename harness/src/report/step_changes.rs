//! What an engine upgrade changed, step by step: two runs of one seed compared on the steps both
//! built, grouped by the rule the model cites, and whether the model (by generation) foresaw it.
//!
//! Same seed, same scenarios: a step is the same when its engine kind, scenario, build and step
//! number match and its instruction text is equal. Engines match by name, or by kind
//! (`classic@a` and `classic@sid` are both `classic`) when the runs are of different hosts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::report::schema::Report;

/// How engines of the two runs are paired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pairing {
    /// By full engine name (`classic@a`): the same hosts before and after an upgrade.
    Name,
    /// By engine kind (`classic`): different hosts, one per generation.
    Kind,
}

impl Pairing {
    /// The name an engine is paired under.
    pub fn key(self, engine: &str) -> String {
        match self {
            Pairing::Name => engine.to_string(),
            Pairing::Kind => engine.split('@').next().unwrap_or(engine).to_string(),
        }
    }

    /// `Kind` when the runs share no engine name, else `Name`.
    pub fn for_runs(old: &Report, new: &Report) -> Pairing {
        let shared = old
            .engines
            .iter()
            .any(|(o, _)| new.engines.iter().any(|(n, _)| n == o));
        if shared {
            Pairing::Name
        } else {
            Pairing::Kind
        }
    }
}

/// One step as a run saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    /// The build's options as JSON: a build that ran with other options (a `--cache-from` the
    /// other generation had no second host for) is another build, not a change.
    options: String,
    instruction: String,
    predicted: &'static str,
    observed: &'static str,
    rule: Option<String>,
}

/// Steps that the engine answered differently in the two runs, for one rule on one engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepChange {
    /// The rule the new run's model cites for the step (`OLD → NEW` when the two cite different
    /// ones; the old run's when the new cites none).
    pub rule: String,
    pub engine: String,
    /// `cached → rebuilt`, `rebuilt → failed`, ...
    pub change: String,
    pub steps: usize,
    /// Of those, how many the model predicted on both sides (the rule differs by generation).
    pub foreseen: usize,
}

type At = (String, usize, usize, usize);

fn steps(report: &Report, pairing: Pairing) -> BTreeMap<At, Seen> {
    let mut out = BTreeMap::new();
    for result in &report.results {
        for build in &result.history.builds {
            let options = serde_json::to_string(&build.options).unwrap_or_default();
            for v in &build.verdicts {
                let observed = v.observed_short();
                if matches!(observed, "-" | "indeterminate") {
                    continue;
                }
                let at = (
                    pairing.key(&result.engine),
                    result.index,
                    build.transition,
                    v.step,
                );
                out.insert(
                    at,
                    Seen {
                        options: options.clone(),
                        instruction: v.instruction.clone(),
                        predicted: v.predicted.short(),
                        observed,
                        rule: v.predicted.cited_rule().map(|r| r.to_string()),
                    },
                );
            }
        }
    }
    out
}

/// Every step both runs built whose observed outcome differs, grouped by rule, engine and change.
pub fn step_changes(old: &Report, new: &Report, pairing: Pairing) -> Vec<StepChange> {
    let (before, after) = (steps(old, pairing), steps(new, pairing));
    let mut groups: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    for (at, o) in &before {
        let Some(n) = after.get(at) else { continue };
        if o.options != n.options || o.instruction != n.instruction || o.observed == n.observed {
            continue;
        }
        let rule = match (&o.rule, &n.rule) {
            (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
            (_, Some(r)) | (Some(r), None) => r.clone(),
            (None, None) => format!("({})", n.predicted),
        };
        let change = format!("{} → {}", o.observed, n.observed);
        let entry = groups.entry((rule, at.0.clone(), change)).or_default();
        entry.0 += 1;
        if o.predicted == o.observed && n.predicted == n.observed {
            entry.1 += 1;
        }
    }
    groups
        .into_iter()
        .map(|((rule, engine, change), (steps, foreseen))| StepChange {
            rule,
            engine,
            change,
            steps,
            foreseen,
        })
        .collect()
}

/// The markdown section for `report diff`: a table, or a line saying nothing changed.
pub fn markdown(changes: &[StepChange], pairing: Pairing) -> String {
    let by = match pairing {
        Pairing::Name => "engine",
        Pairing::Kind => "engine kind",
    };
    let mut md = format!("\n## Steps the engines answered differently (paired by {by})\n\n");
    if changes.is_empty() {
        md.push_str("None: every step both runs built was answered the same way.\n");
        return md;
    }
    md.push_str(
        "| rule | engine | change | steps | foreseen by the model |\n|---|---|---|---|---|\n",
    );
    for c in changes {
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            c.rule, c.engine, c.change, c.steps, c.foreseen
        ));
    }
    md.push_str(
        "\n\"Foreseen\": the model predicted the step right in both runs, so the rule it cites \
         differs between the two engines' generations; the rest is behaviour the model does not \
         know to differ.\n",
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observe::Observed;
    use models::{Outcome, Reason, ReasonKind, RuleId};

    fn fixture() -> Report {
        serde_json::from_str(include_str!("../../tests/fixtures/report-v1.json")).unwrap()
    }

    /// The fixture moved to hosts `sid` and `sid-podman`, with build 1 step 2 (`COPY a /a`, cached) now rebuilt.
    fn upgraded(foreseen: bool) -> Report {
        let mut r = fixture();
        for (name, _) in &mut r.engines {
            *name = name.replace("@a", "@sid").replace("@podman", "@sid-podman");
        }
        let result = &mut r.results[0];
        result.engine = result.engine.replace("@a", "@sid");
        let v = &mut result.history.builds[1].verdicts[1];
        v.observed = Some(Observed::Rebuilt);
        if foreseen {
            v.predicted = Outcome::Rebuilt {
                reason: Reason {
                    rule: "bk.api-owner".parse::<RuleId>().unwrap(),
                    kind: ReasonKind::NotInCache,
                },
            };
        }
        r
    }

    #[test]
    fn a_step_answered_differently_is_grouped_by_rule_and_says_whether_the_model_foresaw_it() {
        let old = fixture();
        assert_eq!(Pairing::for_runs(&old, &old), Pairing::Name);
        assert!(step_changes(&old, &old, Pairing::Name).is_empty());
        let new = upgraded(false);
        assert_eq!(Pairing::for_runs(&old, &new), Pairing::Kind);
        // By name, host a and host sid share no engine: nothing to compare.
        assert!(step_changes(&old, &new, Pairing::Name).is_empty());
        let changes = step_changes(&old, &new, Pairing::Kind);
        assert_eq!(
            changes,
            vec![StepChange {
                rule: "copy.checksum".into(),
                engine: "buildkit".into(),
                change: "cached → rebuilt".into(),
                steps: 1,
                foreseen: 0,
            }]
        );
        let changes = step_changes(&old, &upgraded(true), Pairing::Kind);
        assert_eq!(changes[0].rule, "copy.checksum → bk.api-owner");
        assert_eq!(changes[0].foreseen, 1);
        assert!(
            markdown(&changes, Pairing::Kind).contains("| buildkit | cached → rebuilt | 1 | 1 |")
        );
    }

    #[test]
    fn a_build_with_other_options_is_another_build() {
        let old = fixture();
        let mut new = upgraded(false);
        new.results[0].history.builds[1].options.no_cache = true;
        assert!(step_changes(&old, &new, Pairing::Kind).is_empty());
    }
}
