//! Generator reach, engine-free: for every exercised rule of a profile, the first generated
//! scenario whose predictions under the rule's mutant differ from the reference's. That is the
//! most a real `cachet run --mutant` of the same seed could catch.
//!
//! Real kills (`cachet mutants --engine E --sample K`, `kills_on`): a sample of the engine's
//! profile's mutants, and after how many of the seed's scenarios a real run catches each.
//!
//! Design: not K runs of `cachet run --mutant R`, but one run of the seed's scenarios on the
//! engine that watches the K mutants beside the reference (`RunOptions::shadows`). It is the
//! same run `cachet run` makes (`run::run_on`: the same doors, observations, checker, fault
//! handling and cleanup), and every build's observation is real. Each mutant's model is
//! stepped on the very builds the engine was given (`execute`'s `Hooks::shadows`), and its
//! predictions checked against that observation as the reference's are; a mutant is killed at
//! a step where the reference agrees with the engine and the mutant does not
//! (`execute::kill_steps`: a step where the reference itself disagrees is a finding, reported as
//! `cachet run` reports it, never a kill). A `--mutant R` run's discrepancies are exactly those
//! steps plus the reference's own findings (which no mutant run could tell from a kill), so
//! the answer is the one K runs would give, for the engine time of one run plus a re-run of
//! each scenario that first kills a mutant: like a discrepancy, a kill counts only once the
//! scenario re-run from a fresh salt shows it again (`run::Shadows`). One difference, on
//! purpose: every host of a cross-host scenario runs the mutant (as in the model-only reach),
//! where `cachet run --mutant` switches the engine under test alone.

use std::path::PathBuf;

use models::scenario::{predict_scenario, Scenario};
use models::{Profile, Switch};

use crate::engine::inventory::Inventory;
use crate::error::{Error, Result};
use crate::report::schema::Report;

mod inputs;
mod observable;

pub use observable::{build_differs, distinguishes, observable, Observable};

pub use inputs::{
    changes, coverage, failures, render_coverage, render_failures, Cell, Change, Coverage,
    Failures, KINDS, TYPES,
};

/// One mutant's reach: the profile and rule, and the first scenario (0-based index into the
/// seed's scenarios) that tells it from the reference, if any does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    pub profile: String,
    pub rule: String,
    pub first: Option<usize>,
}

/// The observable predictions of every scenario under `profile` (none where one does not apply).
fn predict_all(profile: &Profile, scenarios: &[Scenario]) -> Vec<Option<Vec<Observable>>> {
    scenarios
        .iter()
        .map(|s| predict_scenario(profile, s).ok().map(|p| observable(&p)))
        .collect()
}

/// The reach of every exercised rule's mutant of `profile` over `scenarios`, in table order.
pub fn reach(profile: &Profile, scenarios: &[Scenario]) -> Vec<Reach> {
    let reference = predict_all(profile, scenarios);
    profile
        .rules()
        .into_iter()
        .filter(|r| r.is_exercised())
        .map(|rule| {
            let mutant = profile
                .with_switch(rule.id, Switch::Off)
                .expect("a rule of the profile's own table");
            let first = scenarios.iter().zip(&reference).position(|(s, expected)| {
                let predicted = predict_scenario(&mutant, s).ok().map(|p| observable(&p));
                distinguishes(expected.as_deref(), predicted.as_deref())
            });
            Reach {
                profile: profile.name(),
                rule: rule.id.to_string(),
                first,
            }
        })
        .collect()
}

/// The reach of every profile's mutants over `scenarios`.
pub fn reach_all(profiles: &[Profile], scenarios: &[Scenario]) -> Vec<Reach> {
    profiles.iter().flat_map(|p| reach(p, scenarios)).collect()
}

/// The mutants no scenario distinguished, as `rule on profile`.
pub fn survivors(reaches: &[Reach]) -> Vec<String> {
    reaches
        .iter()
        .filter(|r| r.first.is_none())
        .map(|r| format!("{} on {}", r.rule, r.profile))
        .collect()
}

/// The table (profile, rule, first distinguishing scenario or `—`) and the final line.
pub fn render(reaches: &[Reach], scenarios: usize) -> String {
    let width = |f: fn(&Reach) -> usize| reaches.iter().map(f).max().unwrap_or(0);
    let (pw, rw) = (
        width(|r| r.profile.len()).max(7),
        width(|r| r.rule.len()).max(4),
    );
    let mut out = format!("{:<pw$}  {:<rw$}  first\n", "profile", "rule");
    for r in reaches {
        let first = r.first.map_or("—".to_string(), |n| n.to_string());
        out.push_str(&format!("{:<pw$}  {:<rw$}  {first}\n", r.profile, r.rule));
    }
    let distinguished = reaches.iter().filter(|r| r.first.is_some()).count();
    out.push_str(&format!(
        "distinguished {distinguished}/{} mutants within {scenarios} scenarios\n",
        reaches.len()
    ));
    out
}

/// `K` of `reaches`' rules, in table order: those the model-only reach distinguishes first,
/// each group in an order the seed fixes (a fingerprint of seed and rule).
pub fn sample(reaches: &[Reach], k: usize, seed: u64) -> Vec<String> {
    let mut order: Vec<&Reach> = reaches.iter().collect();
    order.sort_by_key(|r| {
        (
            r.first.is_none(),
            models::fingerprint::fingerprint(&(seed, &r.rule)),
        )
    });
    let chosen: Vec<&str> = order.iter().take(k).map(|r| r.rule.as_str()).collect();
    reaches
        .iter()
        .filter(|r| chosen.contains(&r.rule.as_str()))
        .map(|r| r.rule.clone())
        .collect()
}

/// What `cachet mutants --engine` runs.
pub struct KillOptions {
    /// An inventory engine (`buildkit@a`).
    pub engine: String,
    /// Mutants to sample.
    pub sample: usize,
    pub scenarios: usize,
    pub seed: u64,
    /// Where the run's reports go (its findings, as `cachet run` writes them).
    pub out: PathBuf,
    /// The known-divergence catalogue the run classifies findings with.
    pub known: crate::corpus::known::Catalogue,
}

/// One sampled mutant: its rule, the scenario (0-based) whose real run first caught it, and
/// the first the model alone tells it apart in (its `Reach`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kill {
    pub rule: String,
    pub caught: Option<usize>,
    pub reach: Option<usize>,
}

/// A kills run: the engine, its version and profile, the sampled mutants, and the run's report.
#[derive(Debug)]
pub struct Kills {
    pub engine: String,
    pub version: String,
    pub profile: String,
    pub scenarios: usize,
    /// Exercised rules of the profile: what the sample was drawn from.
    pub exercised: usize,
    pub kills: Vec<Kill>,
    pub report: Report,
}

/// Findings are written as found, not shrunk (`cachet run --seed S` shrinks them): shrinking
/// spends engine time on what the reference, not a mutant, disagrees with.
const SHRINK_BUDGET: usize = 0;

/// Samples `options.sample` of the engine's exercised mutants and runs the seed's scenarios
/// once on it, watching them (the module's doc says why one run); each sampled mutant's first
/// confirmed kill.
pub fn kills_on(inventory: &Inventory, options: &KillOptions) -> Result<Kills> {
    if options.sample == 0 || options.scenarios == 0 {
        return Err(Error::BadInput(
            "--sample and --scenarios must be at least 1".into(),
        ));
    }
    crate::run::prepare_out(&options.out)?;
    let engine = inventory.engine(&options.engine)?;
    let version = crate::engine::version(&engine)?;
    let profile = engine.with_reported_version(&version).profile;
    let scenarios = crate::generate::generate_scenarios(options.seed, options.scenarios);
    let reaches = reach(&profile, &scenarios);
    let sampled = sample(&reaches, options.sample, options.seed);
    let mut run = crate::run::RunOptions::new(
        vec![engine.name.clone()],
        options.scenarios,
        options.seed,
        options.out.clone(),
    );
    run.shrink_budget = SHRINK_BUDGET;
    run.known = options.known.clone();
    run.shadows = sampled.clone();
    let report = crate::run::run_on(inventory, &run)?;
    let caught = |rule: &str| {
        report
            .results
            .iter()
            .filter(|r| r.engine == engine.name)
            .find(|r| r.kills.iter().any(|(k, _, _)| k == rule))
            .map(|r| r.index)
    };
    let kills = reaches
        .iter()
        .filter(|r| sampled.contains(&r.rule))
        .map(|r| Kill {
            rule: r.rule.clone(),
            caught: caught(&r.rule),
            reach: r.first,
        })
        .collect();
    Ok(Kills {
        engine: engine.name,
        version,
        profile: profile.name(),
        scenarios: options.scenarios,
        exercised: reaches.len(),
        kills,
        report,
    })
}

/// The table (rule, the real run's first catch, the model-only reach; both as scenarios run,
/// counted from 1), what the reference itself disagreed with, and the final line.
pub fn render_kills(k: &Kills) -> String {
    let n = k.scenarios;
    let when = |first: Option<usize>, word: &str| match first {
        Some(i) => format!("{word} after {}", i + 1),
        None => format!("not {word} in {n}"),
    };
    let rw = k
        .kills
        .iter()
        .map(|c| c.rule.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "sampled {} of {} exercised mutants of {} (seed {})\n",
        k.kills.len(),
        k.exercised,
        k.profile,
        k.report.seed
    );
    out.push_str(&format!("{:<rw$}  {:<20}  model alone\n", "rule", "engine"));
    for c in &k.kills {
        let engine = when(c.caught, "caught");
        let model = when(c.reach, "distinguished");
        out.push_str(&format!("{:<rw$}  {engine:<20}  {model}\n", c.rule));
    }
    let s = &k.report.summary;
    if s.discrepancies + s.known + s.unconfirmed + s.lost > 0 {
        out.push_str(&format!(
            "the reference itself: {} confirmed discrepancies, {} known divergences, {} unconfirmed \
             (findings, not kills); {} scenarios lost to engine faults\n",
            s.discrepancies, s.known, s.unconfirmed, s.lost
        ));
    }
    let caught = k.kills.iter().filter(|c| c.caught.is_some()).count();
    out.push_str(&format!(
        "caught {caught}/{} mutants within {n} scenarios on {} ({})\n",
        k.kills.len(),
        k.engine,
        k.version
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reaches: &[Reach], expect: &str) {
        assert_eq!(render(reaches, 50), expect);
    }

    #[test]
    fn renders_a_table_and_the_count() {
        let r = |rule: &str, first| Reach {
            profile: "classic".into(),
            rule: rule.into(),
            first,
        };
        check(
            &[
                r("copy.mtime-ignored", Some(3)),
                r("classic.copy-key", None),
            ],
            "profile  rule                first\n\
             classic  copy.mtime-ignored  3\n\
             classic  classic.copy-key    —\n\
             distinguished 1/2 mutants within 50 scenarios\n",
        );
    }

    #[test]
    fn the_sample_prefers_distinguished_mutants_and_keeps_table_order() {
        let r = |rule: &str, first| Reach {
            profile: "buildkit".into(),
            rule: rule.into(),
            first,
        };
        let reaches = [r("a", None), r("b", Some(4)), r("c", None), r("d", Some(0))];
        for seed in 0..20 {
            assert_eq!(sample(&reaches, 2, seed), ["b", "d"], "seed {seed}");
            let three = sample(&reaches, 3, seed);
            assert_eq!(three.len(), 3);
            assert!(three.contains(&"b".to_string()) && three.contains(&"d".to_string()));
            assert_eq!(three, sample(&reaches, 3, seed), "the seed fixes it");
            assert_eq!(sample(&reaches, 9, seed), ["a", "b", "c", "d"]);
        }
        let picks: std::collections::BTreeSet<_> =
            (0..20).map(|seed| sample(&reaches, 3, seed)).collect();
        assert_eq!(picks.len(), 2, "the seed picks among the undistinguished");
    }

    #[test]
    fn renders_kills_with_the_model_alone_beside_and_the_count() {
        let k = |rule: &str, caught, reach| Kill {
            rule: rule.into(),
            caught,
            reach,
        };
        let kills = Kills {
            engine: "buildkit@a".into(),
            version: "28.5.2".into(),
            profile: "buildkit:28".into(),
            scenarios: 50,
            exercised: 19,
            kills: vec![
                k("copy.mtime-ignored", Some(2), Some(2)),
                k("bk.chmod-flag", None, None),
            ],
            report: Report::from_results(7, Vec::new(), Vec::new()),
        };
        assert_eq!(
            render_kills(&kills),
            "sampled 2 of 19 exercised mutants of buildkit:28 (seed 7)\n\
             rule                engine                model alone\n\
             copy.mtime-ignored  caught after 3        distinguished after 3\n\
             bk.chmod-flag       not caught in 50      not distinguished in 50\n\
             caught 1/2 mutants within 50 scenarios on buildkit@a (28.5.2)\n"
        );
    }

    #[test]
    fn a_scenario_the_mutant_answers_differently_distinguishes_it() {
        let profile = Profile::from_name("buildkit").unwrap();
        let scenarios = crate::generate::generate_scenarios(1, 30);
        let reaches = reach(&profile, &scenarios);
        assert!(!reaches.is_empty());
        for r in reaches.iter().filter(|r| r.first.is_some()) {
            let n = r.first.unwrap();
            let mutant = profile.with_switch(&r.rule, Switch::Off).unwrap();
            let a = observable(&predict_scenario(&profile, &scenarios[n]).unwrap());
            let b = observable(&predict_scenario(&mutant, &scenarios[n]).unwrap());
            assert!(distinguishes(Some(&a), Some(&b)), "{}", r.rule);
        }
    }

    #[test]
    fn only_a_step_both_claim_tells_a_mutant_apart() {
        let build = |refused, steps: &[&'static str]| (refused, steps.to_vec());
        let reference = [build(false, &["not-a-step", "cached", "unsupported"])];
        let check = |mutant: &[Observable], expect: bool| {
            assert_eq!(
                distinguishes(Some(&reference), Some(mutant)),
                expect,
                "{mutant:?}"
            );
        };
        check(&[build(false, &["not-a-step", "cached", "rebuilt"])], false);
        check(
            &[build(false, &["not-a-step", "rebuilt", "unsupported"])],
            true,
        );
        check(
            &[build(false, &["not-a-step", "unsupported", "rebuilt"])],
            false,
        );
        check(
            &[build(true, &["not-a-step", "cached", "unsupported"])],
            true,
        );
        check(&[build(false, &["not-a-step", "cached"])], true);
        assert!(!distinguishes(None, None));
        assert!(distinguishes(Some(&reference), None));
    }
}
