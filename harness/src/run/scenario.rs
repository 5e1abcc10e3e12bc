//! One scenario on one engine: run, confirm a discrepancy from a fresh salt, shrink it, name the
//! rules it implicates, and write its case file, reproducer and logs.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::corpus::case_file::case_from_scenario;
use crate::corpus::known::StepFacts;
use crate::engine;
use crate::engine::inventory::{Engine, Inventory};
use crate::error::{Error, Result};
use crate::report::schema::{ScenarioResult, ShrinkInfo};
use crate::run::execute::{run_scenario, History};

/// The model's prediction and the instruction as written at each `(build, step)` of a run: what
/// `known::classify` reads causes from.
fn step_facts(history: &History) -> StepFacts {
    history
        .builds
        .iter()
        .flat_map(|b| {
            b.verdicts.iter().map(move |v| {
                (
                    (b.transition, v.step),
                    (v.predicted.clone(), v.instruction.clone()),
                )
            })
        })
        .collect()
}

pub(super) fn salt(seed: u64, index: usize, engine: &str, attempt: u32) -> String {
    crate::run::execute::fresh_salt((seed, index, engine, attempt))
}

/// `(build, step, observed)` of every disagreement; a stale image (second oracle) is step 0,
/// observed `stale`.
fn discrepancy_keys(history: &History) -> BTreeSet<(usize, usize, String)> {
    history
        .builds
        .iter()
        .flat_map(|b| {
            let stale = (!b.stale.is_empty()).then(|| (b.transition, 0, "stale".to_string()));
            b.discrepancies()
                .map(move |v| (b.transition, v.step, v.observed_short().to_string()))
                .chain(stale)
        })
        .collect()
}

/// What every scenario of a run shares.
pub struct Setup<'a> {
    pub inventory: &'a Inventory,
    pub seed: u64,
    pub out: &'a Path,
    /// Candidate runs a shrink may spend.
    pub shrink_budget: usize,
    pub known: &'a [crate::corpus::known::Known],
    /// Compare every image with reported cache hits against a fresh build (the second oracle).
    pub fresh_check: bool,
    /// Endpoints of other hosts that did not answer when the run started: scenarios that need
    /// one are lost without touching it (its build cache was never snapshotted, so the run
    /// could not clean up after itself there).
    pub down: BTreeSet<String>,
    /// The watched mutants (`RunOptions::shadows`) and which are caught so far.
    pub shadows: Shadows,
    /// Engine kinds the run has on more than one host: their findings' names carry the host
    /// (`found-podman@sid-podman-9-73`), so two hosts' findings never overwrite each other.
    pub kinds_on_several_hosts: BTreeSet<String>,
}

/// Mutants a run watches beside the reference, and those it has caught: a kill (the engine did
/// what the reference predicted at a step, not what the mutant did: `execute::kill_steps`)
/// counts once seen again from a fresh salt, as a discrepancy does.
#[derive(Debug, Default)]
pub struct Shadows {
    pub rules: Vec<String>,
    caught: std::sync::Mutex<BTreeSet<String>>,
}

/// `(rule, build, step)` of a kill.
type KillKey = (String, usize, usize);

impl Shadows {
    pub fn new(rules: Vec<String>) -> Shadows {
        Shadows {
            rules,
            caught: Default::default(),
        }
    }

    fn caught(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.caught.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every kill `history` shows of a mutant not caught yet.
    fn new_kills(&self, history: &History) -> BTreeSet<KillKey> {
        let caught = self.caught();
        kill_keys(history)
            .into_iter()
            .filter(|(rule, _, _)| !caught.contains(rule))
            .collect()
    }

    /// The kills of `first` that `again` (the scenario from a fresh salt) shows too, the first
    /// of each rule not caught yet; their rules are caught from now on.
    fn confirm(&self, first: &BTreeSet<KillKey>, again: &History) -> Vec<KillKey> {
        let mut caught = self.caught();
        first
            .intersection(&kill_keys(again))
            .filter(|(rule, _, _)| caught.insert(rule.clone()))
            .cloned()
            .collect()
    }
}

fn kill_keys(history: &History) -> BTreeSet<KillKey> {
    history
        .builds
        .iter()
        .flat_map(|b| {
            b.kills
                .iter()
                .map(|(rule, step)| (rule.clone(), b.transition, *step))
        })
        .collect()
}

/// Runs one scenario on one engine: confirms any discrepancy from a fresh salt, then shrinks it
/// and writes its case file and reproducer under `out`.
pub fn run_one(
    setup: &Setup<'_>,
    engine: &Engine,
    version: &str,
    scenario: &models::scenario::Scenario,
    index: usize,
) -> Result<ScenarioResult> {
    let inventory = setup.inventory;
    let folded = fold_if_alone(inventory, engine, scenario);
    let scenario: &models::scenario::Scenario = &folded;
    let needs = crate::run::execute::engines_for(inventory, engine, scenario)?;
    if let Some(e) = needs.values().find(|e| setup.down.contains(&e.endpoint)) {
        return Ok(ScenarioResult::lost(
            index,
            &engine.name,
            format!(
                "it needs {} ({}), which did not answer when the run started",
                e.name, e.endpoint
            ),
        ));
    }
    let history = crate::run::execute::run_scenario_with(
        inventory,
        engine,
        scenario,
        &salt(setup.seed, index, &engine.name, 0),
        &setup.hooks(),
    )?;
    // The report's history carries no raw engine logs, so memory stays flat over long runs.
    let mut result = first_result(index, engine, &history, scenario);
    let scenario_run = ScenarioRun {
        setup,
        engine,
        version,
        scenario,
        index,
    };
    let first = discrepancy_keys(&history);
    let kills = setup.shadows.new_kills(&history);
    if !first.is_empty() || !kills.is_empty() {
        let again = scenario_run.again()?;
        if !first.is_empty() {
            scenario_run.confirm(&first, &again, &mut result);
        }
        result.kills = setup.shadows.confirm(&kills, &again);
    }
    if !result.confirmed.is_empty() {
        scenario_run.shrink_finding(&history, &mut result)?;
    }
    Ok(result)
}

/// `scenario`, folded onto one host (without pushes or imports) where it moves cache between
/// hosts and `engine` has no second host for it (a push from it would serve no one).
fn fold_if_alone<'s>(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &'s models::scenario::Scenario,
) -> Cow<'s, models::scenario::Scenario> {
    let has_second_host = inventory
        .hosts
        .keys()
        .any(|h| *h != engine.host && engine.on_host(inventory, h).is_some());
    if !has_second_host || crate::run::execute::engines_for(inventory, engine, scenario).is_err() {
        Cow::Owned(crate::generate::fold_onto_one_host(scenario))
    } else {
        Cow::Borrowed(scenario)
    }
}

/// The result of scenario `index` after its first run (`history`), before any confirmation.
/// The report's history carries no raw engine logs, so memory stays flat over long runs.
fn first_result(
    index: usize,
    engine: &Engine,
    history: &History,
    scenario: &models::scenario::Scenario,
) -> ScenarioResult {
    ScenarioResult {
        mutations: crate::corpus::known::mutation_kinds_per_build(scenario, &engine.settings),
        ..ScenarioResult::of_history(
            index,
            &engine.name,
            crate::report::schema::History::from(history),
        )
    }
}

/// One scenario on one engine, past its first run.
struct ScenarioRun<'a> {
    setup: &'a Setup<'a>,
    engine: &'a Engine,
    version: &'a str,
    scenario: &'a models::scenario::Scenario,
    index: usize,
}

impl Setup<'_> {
    /// What a scenario's run does besides its builds: the second oracle if asked for, and the
    /// watched mutants.
    fn hooks(&self) -> crate::run::execute::Hooks<'_> {
        crate::run::execute::Hooks {
            fresh_check: self.fresh_check,
            shadows: &self.shadows.rules,
            ..Default::default()
        }
    }
}

impl ScenarioRun<'_> {
    /// The scenario run again from a fresh salt, to confirm what its first run showed.
    fn again(&self) -> Result<History> {
        let (setup, engine) = (self.setup, self.engine);
        crate::run::execute::run_scenario_with(
            setup.inventory,
            engine,
            self.scenario,
            &salt(setup.seed, self.index, &engine.name, 1),
            &setup.hooks(),
        )
    }

    /// What shows in the first run and `again` is confirmed (or known, where the catalogue
    /// explains it), the rest unconfirmed.
    fn confirm(
        &self,
        first: &BTreeSet<(usize, usize, String)>,
        again: &History,
        result: &mut ScenarioResult,
    ) {
        let (setup, engine) = (self.setup, self.engine);
        let second = discrepancy_keys(again);
        let both: Vec<(usize, usize, String)> = first.intersection(&second).cloned().collect();
        tracing::debug!(
            engine = %engine.name,
            scenario = self.index,
            first = first.len(),
            again = second.len(),
            confirmed = both.len(),
            "confirmation: the scenario re-run from a fresh salt"
        );
        result.unconfirmed = first.len() - both.len();
        let classified = crate::corpus::known::classify(
            setup.known,
            &engine.kind(),
            &engine.settings,
            self.version,
            self.scenario,
            &step_facts(again),
            both,
        );
        result.confirmed = classified.unknown;
        result.known = classified.known;
        result.causes = classified.causes;
    }

    /// Shrinks a confirmed finding, writes its case file and reproducer, and names its suspects.
    fn shrink_finding(&self, history: &History, result: &mut ScenarioResult) -> Result<()> {
        let (setup, engine) = (self.setup, self.engine);
        let kind = engine.kind();
        let name = match setup.kinds_on_several_hosts.contains(&kind) {
            true => format!("found-{}-{}-{}", engine.name, setup.seed, self.index),
            false => format!("found-{kind}-{}-{}", setup.seed, self.index),
        };
        // Shrink towards the same kind of discrepancy (instruction keyword, predicted,
        // observed) that the catalogue does not explain, so the shrinker cannot drift to a
        // different disagreement the smaller scenario happens to show.
        let chased: BTreeSet<_> = result
            .confirmed
            .iter()
            .filter_map(|(b, st, _)| signature(history, *b, *st))
            .collect();
        let unexplained = |candidate: &models::scenario::Scenario, run: &History| {
            crate::corpus::known::classify(
                setup.known,
                &kind,
                &engine.settings,
                self.version,
                candidate,
                &step_facts(run),
                discrepancy_keys(run),
            )
            .unknown
            .iter()
            .filter_map(|(b, st, _)| signature(run, *b, *st))
            .any(|sig| chased.contains(&sig))
        };
        let shrunk = crate::run::shrink::shrink(
            setup.inventory,
            engine,
            self.scenario,
            setup.shrink_budget,
            setup.fresh_check,
            &unexplained,
        )?;
        let host_settings = finding_host_settings(setup.inventory, engine, &shrunk.scenario);
        let (path, script) = write_finding(
            setup.out,
            &name,
            setup.seed,
            engine,
            &shrunk,
            &host_settings,
        )?;
        result.suspects = crate::run::suspects::suspects(
            &engine.profile,
            &shrunk.scenario,
            &host_settings,
            &shrunk.history,
        );
        result.shrunk = Some(shrink_info(&shrunk));
        result.shrunk_history = Some(crate::report::schema::History::from(&shrunk.history));
        result.logs = write_logs(setup.out, &name, &shrunk.history)?;
        result.case_file = Some(path);
        result.reproducer = Some(script);
        Ok(())
    }
}

/// How each host of a finding's scenario presents its context.
fn finding_host_settings(
    inventory: &Inventory,
    engine: &Engine,
    scenario: &models::scenario::Scenario,
) -> std::collections::BTreeMap<String, models::scenario::HostSettings> {
    crate::run::execute::engines_for(inventory, engine, scenario)
        .map(|hosts| hosts.into_iter().map(|(h, e)| (h, e.settings)).collect())
        .unwrap_or_default()
}

/// What kind of disagreement a step shows: its instruction's keyword, the model's outcome and the
/// engine's. Step 0 is the whole build: a Dockerfile the model rejects (`(whole build)`), or else
/// the second oracle's stale image (`(image)`, `fresh`, `stale`).
fn signature(history: &History, build: usize, step: usize) -> Option<(String, String, String)> {
    let record = history.builds.iter().find(|b| b.transition == build)?;
    let verdict = record.verdicts.iter().find(|v| v.step == step);
    if step == 0 && verdict.is_none() {
        return (!record.stale.is_empty())
            .then(|| ("(image)".into(), "fresh".into(), "stale".into()));
    }
    let v = verdict?;
    let keyword = if step == 0 {
        v.instruction.clone()
    } else {
        v.instruction
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase()
    };
    Some((
        keyword,
        v.predicted.short().to_string(),
        v.observed_short().to_string(),
    ))
}

/// What shrinking cost and left, for the report.
fn shrink_info(result: &crate::run::shrink::Shrunk) -> ShrinkInfo {
    let text = result
        .scenario
        .context
        .dockerfile_text()
        .unwrap_or_default();
    ShrinkInfo {
        builds_spent: result.builds_spent,
        candidates_tried: result.candidates_tried,
        builds: result.scenario.transitions.len(),
        instructions: models::dockerfile::parse(&text)
            .dockerfile
            .instructions()
            .count(),
        files: result
            .scenario
            .context
            .entries
            .iter()
            .filter(|(p, e)| p.as_str() != models::context::DOCKERFILE_NAME && !e.is_dir())
            .count(),
    }
}

/// Writes the shrunk scenario as a case file and a shell reproducer under `out`.
pub fn write_finding(
    out: &Path,
    name: &str,
    seed: u64,
    engine: &Engine,
    result: &crate::run::shrink::Shrunk,
    host_settings: &std::collections::BTreeMap<String, models::scenario::HostSettings>,
) -> Result<(PathBuf, PathBuf)> {
    let write = |path: PathBuf, text: String| -> Result<PathBuf> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    let mut case = case_from_scenario(
        name,
        &format!(
            "Found by `cachet run --seed {seed}` on {}: engine and model disagree.",
            engine.name
        ),
        &result.scenario,
    );
    // The rules the disagreeing predictions cite, and the rules whose mutant does what the
    // engine did (`suspects`).
    let suspects = crate::run::suspects::suspects(
        &engine.profile,
        &result.scenario,
        host_settings,
        &result.history,
    );
    case.rules = result
        .history
        .builds
        .iter()
        .flat_map(|b| b.discrepancies())
        .filter_map(|v| match &v.predicted {
            models::Outcome::Rebuilt { reason } => Some(reason.rule.to_string()),
            models::Outcome::Cached { rule, .. } => Some(rule.to_string()),
            _ => None,
        })
        .chain(suspects)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let text = crate::corpus::case_file::case_to_toml(&case)?;
    let case_path = write(out.join("cases").join(format!("{name}.toml")), text)?;
    let script = crate::run::reproduce::shell_reproducer(
        name,
        &result.scenario,
        engine,
        &result.history,
        host_settings,
    );
    let script_path = write(out.join("repro").join(format!("{name}.sh")), script)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&script_path, std::fs::Permissions::from_mode(0o755));
    }
    Ok((case_path, script_path))
}

/// Writes the engine's raw output of each build of a shrunk finding under `out/logs/`.
fn write_logs(out: &Path, name: &str, history: &History) -> Result<Vec<PathBuf>> {
    let dir = out.join("logs");
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let mut paths = Vec::new();
    for b in &history.builds {
        let path = dir.join(format!("{name}-build-{}.log", b.transition));
        std::fs::write(&path, &b.observation.log).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// Runs one case file on one engine and prints expected and observed per step.
pub fn replay(path: &Path, engine_name: &str) -> Result<usize> {
    let case = crate::corpus::case_file::load_case(path)?;
    let inventory = engine::load_inventory()?;
    let engine = inventory.engine(engine_name)?;
    let engine = engine.with_reported_version(&engine::version(&engine)?);
    let history = run_scenario(
        &inventory,
        &engine,
        &case.scenario,
        &salt(0, 0, engine_name, 0),
    )?;
    for build in &history.builds {
        println!("build {} on {}", build.transition, build.engine);
        for v in &build.verdicts {
            println!(
                "  {:>2} {:<40} predicted {:<8} observed {:<8} {:?}",
                v.step,
                v.instruction,
                v.predicted.short(),
                v.observed_short(),
                v.verdict
            );
        }
    }
    Ok(history.discrepancy_count())
}
