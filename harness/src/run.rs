//! `cachet run`: generate scenarios, run them on real engines, confirm discrepancies from a fresh
//! salt, and write the reports. Also `replay` of one case file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::case_file::case_from_scenario;
use crate::engine;
use crate::error::{Error, Result};
use crate::execute::{run_scenario, History};
use crate::inventory::{Engine, Inventory};
use crate::schema::{Report, ScenarioResult, ShrinkInfo};

fn salt(seed: u64, index: usize, engine: &str, attempt: u32) -> String {
    crate::execute::fresh_salt((seed, index, engine, attempt))
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

pub struct RunOptions {
    pub engines: Vec<String>,
    /// A rule to switch off in the model (a mutant): measures how fast runs catch a wrong rule.
    pub mutant: Option<String>,
    /// Candidate runs a shrink may spend.
    pub shrink_budget: usize,
    /// The known-divergence catalogue (`cases/known/catalogue.toml`).
    pub known: Option<PathBuf>,
    /// Compare every image with reported cache hits against a fresh build (the second oracle).
    pub fresh_check: bool,
    pub scenarios: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub jobs: usize,
    /// Names this machine in merged reports (`debian-12-vm3`); default: host a's `distro`.
    pub label: Option<String>,
}

impl RunOptions {
    /// A run of `scenarios` generated scenarios from `seed` on `engines` (empty: every engine on
    /// host a), reports under `out`; the rest as the command line's defaults (no mutant, a
    /// shrink budget of 60, no catalogue, no second oracle, one job, no label).
    pub fn new(engines: Vec<String>, scenarios: usize, seed: u64, out: PathBuf) -> RunOptions {
        RunOptions {
            engines,
            mutant: None,
            shrink_budget: 60,
            known: None,
            fresh_check: false,
            scenarios,
            seed,
            out,
            jobs: 1,
            label: None,
        }
    }
}

pub fn run(options: &RunOptions) -> Result<Report> {
    let inventory = engine::load_inventory()?;
    let engines: Vec<Engine> = if options.engines.is_empty() {
        inventory
            .engines()
            .into_iter()
            .filter(|e| e.host == "a")
            .collect()
    } else {
        options
            .engines
            .iter()
            .map(|n| inventory.engine(n))
            .collect::<Result<_>>()?
    };
    let mut versions = Vec::new();
    for e in &engines {
        versions.push((e.name.clone(), engine::version(e)?));
    }
    // Each engine is checked against the profile its reported version selects.
    let engines: Vec<Engine> = engines
        .iter()
        .zip(&versions)
        .map(|(e, (_, v))| e.with_reported_version(v))
        .collect();
    let engines: Vec<Engine> = match &options.mutant {
        None => engines,
        Some(rule) => engines
            .into_iter()
            .map(|mut e| {
                e.profile = e
                    .profile
                    .with_switch(rule, models::Switch::Off)
                    .map_err(|err| Error::BadInput(err.to_string()))?;
                Ok(e)
            })
            .collect::<Result<_>>()?,
    };
    eprintln!(
        "cachet run: seed {} ({} scenarios on {})",
        options.seed,
        options.scenarios,
        engines
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::create_dir_all(options.out.join("cases")).map_err(|source| Error::Write {
        path: options.out.clone(),
        source,
    })?;
    let scenarios = crate::generate::generate_scenarios(options.seed, options.scenarios);
    let known = match &options.known {
        Some(path) => crate::known::load_catalogue(path)?,
        None => Vec::new(),
    };
    let setup = Setup {
        inventory: &inventory,
        seed: options.seed,
        out: &options.out,
        shrink_budget: options.shrink_budget,
        known: &known,
        fresh_check: options.fresh_check,
    };
    let build_cache = engine::cache::snapshot_build_cache(&engines)?;
    install_interrupt_handler();
    let progress = Progress::new(scenarios.len() * engines.len());
    let started = Instant::now();
    let jobs = options.jobs.max(1);
    // A queue of engines: each worker takes the next engine not yet started, so a slow or dead
    // host holds up one worker, never the engines queued behind it on another worker.
    let next_engine = std::sync::atomic::AtomicUsize::new(0);
    // Each worker keeps what it finished; an engine that fails stops only its own part.
    type WorkerOutcome = (Vec<ScenarioResult>, Vec<(String, Error)>);
    let outcomes: Vec<WorkerOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.min(engines.len().max(1)))
            .map(|_| {
                let scenarios = &scenarios;
                let setup = &setup;
                let versions = &versions;
                let progress = &progress;
                let engines = &engines;
                let next_engine = &next_engine;
                scope.spawn(move || {
                    let mut results = Vec::new();
                    let mut failures = Vec::new();
                    while let Some(engine) =
                        engines.get(next_engine.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let version = versions
                            .iter()
                            .find(|(n, _)| *n == engine.name)
                            .map(|(_, v)| v.as_str())
                            .unwrap_or("");
                        for (index, scenario) in scenarios.iter().enumerate() {
                            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                                failures.push((
                                    engine.name.clone(),
                                    Error::Harness(format!(
                                        "interrupted before scenario {} of {}",
                                        index + 1,
                                        scenarios.len()
                                    )),
                                ));
                                break;
                            }
                            match run_one(setup, engine, version, scenario, index) {
                                Ok(result) => {
                                    progress.scenario_done(&engine.name, index, &result, started);
                                    results.push(result);
                                }
                                Err(e) => {
                                    progress.println(&format!(
                                        "  {}: stopped at scenario {}: {e}",
                                        engine.name,
                                        index + 1
                                    ));
                                    failures.push((engine.name.clone(), e));
                                    break;
                                }
                            }
                        }
                    }
                    (results, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        vec![(
                            "(worker)".to_string(),
                            Error::Harness("a worker thread panicked".into()),
                        )],
                    )
                })
            })
            .collect()
    });
    progress.finish();
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for (results, failed) in outcomes {
        all.extend(results);
        failures.extend(failed);
    }
    // No build is in flight now: the records the run added can go.
    match engine::cache::restore_build_cache(&build_cache) {
        Ok(n) if n > 0 => eprintln!("cachet run: removed {n} build-cache records the run created"),
        Ok(_) => {}
        Err(e) => eprintln!("warning: build-cache cleanup: {e}"),
    }
    let mut report = Report::from_results(options.seed, versions, all);
    report.label = options
        .label
        .clone()
        .or_else(|| inventory.hosts.get("a").and_then(|h| h.distro.clone()));
    report.aborted = failures
        .iter()
        .map(|(engine, e)| (engine.clone(), e.to_string()))
        .collect();
    crate::report::write_reports(&report, &options.out)?;
    match failures.into_iter().next() {
        // Reports of what finished are written; the first failure decides the exit code.
        Some((_, e)) if report.results.is_empty() => Err(e),
        _ => Ok(report),
    }
}

/// Set by SIGINT/SIGTERM: workers finish the scenario in hand (its cleanup included), start no
/// other, and the run writes its reports. A second signal exits at once.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

fn install_interrupt_handler() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic and calls `_exit`, both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Progress of a run: a bar on a terminal (scenarios done, discrepancies, builds/s), one plain
/// line per scenario otherwise (CI logs, files).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    builds: std::sync::atomic::AtomicUsize,
    discrepancies: std::sync::atomic::AtomicUsize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {pos}/{len} scenarios  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            bar,
            builds: Default::default(),
            discrepancies: Default::default(),
        }
    }

    fn scenario_done(&self, engine: &str, index: usize, result: &ScenarioResult, started: Instant) {
        use std::sync::atomic::Ordering::Relaxed;
        let builds = self.builds.fetch_add(result.history.builds.len(), Relaxed)
            + result.history.builds.len();
        let found = self
            .discrepancies
            .fetch_add(result.confirmed.len(), Relaxed)
            + result.confirmed.len();
        let elapsed = started.elapsed().as_secs_f64();
        let rate = builds as f64 / elapsed.max(0.001);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{found} discrepancies  {rate:.1} builds/s"));
                bar.inc(1);
            }
            None => eprintln!(
                "  {engine} scenario {} done: {found} discrepancies so far, {rate:.1} builds/s ({elapsed:.1} s elapsed)",
                index + 1
            ),
        }
    }

    fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What every scenario of a run shares.
pub struct Setup<'a> {
    pub inventory: &'a Inventory,
    pub seed: u64,
    pub out: &'a Path,
    /// Candidate runs a shrink may spend.
    pub shrink_budget: usize,
    pub known: &'a [crate::known::Known],
    /// Compare every image with reported cache hits against a fresh build (the second oracle).
    pub fresh_check: bool,
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
    let (inventory, seed, out, shrink_budget) =
        (setup.inventory, setup.seed, setup.out, setup.shrink_budget);
    // A scenario that moves cache between hosts runs on one host, without pushes or imports,
    // where the engine has no second host (a push from it would serve no one).
    let folded;
    let has_second_host = inventory
        .hosts
        .keys()
        .any(|h| *h != engine.host && engine.on_host(inventory, h).is_some());
    let scenario =
        if !has_second_host || crate::execute::engines_for(inventory, engine, scenario).is_err() {
            folded = crate::generate::fold_onto_one_host(scenario);
            &folded
        } else {
            scenario
        };
    let history = crate::execute::run_scenario_checked(
        inventory,
        engine,
        scenario,
        &salt(seed, index, &engine.name, 0),
        setup.fresh_check,
    )?;
    let first = discrepancy_keys(&history);
    let mut confirmed = Vec::new();
    let mut unconfirmed = 0;
    let mut known = Vec::new();
    let mut case_file = None;
    let mut reproducer = None;
    let mut shrunk = None;
    if !first.is_empty() {
        let again = crate::execute::run_scenario_checked(
            inventory,
            engine,
            scenario,
            &salt(seed, index, &engine.name, 1),
            setup.fresh_check,
        )?;
        let second = discrepancy_keys(&again);
        let both: Vec<(usize, usize, String)> = first.intersection(&second).cloned().collect();
        unconfirmed = first.len() - both.len();
        let kind = engine.kind();
        let classified = crate::known::classify(
            setup.known,
            &kind,
            &engine.settings,
            version,
            scenario,
            both,
        );
        confirmed = classified.unknown;
        known = classified.known;
        if !confirmed.is_empty() {
            let name = format!("found-{}-{seed}-{index}", engine.kind());
            // Shrink towards the same kind of discrepancy (instruction keyword, predicted,
            // observed) that the catalogue does not explain, so the shrinker cannot drift to a
            // different disagreement the smaller scenario happens to show.
            let chased: BTreeSet<_> = confirmed
                .iter()
                .filter_map(|(b, st, _)| signature(&history, *b, *st))
                .collect();
            let unexplained = |candidate: &models::scenario::Scenario, run: &History| {
                crate::known::classify(
                    setup.known,
                    &kind,
                    &engine.settings,
                    version,
                    candidate,
                    discrepancy_keys(run),
                )
                .unknown
                .iter()
                .filter_map(|(b, st, _)| signature(run, *b, *st))
                .any(|sig| chased.contains(&sig))
            };
            let result = crate::shrink::shrink(
                inventory,
                engine,
                scenario,
                shrink_budget,
                setup.fresh_check,
                &unexplained,
            )?;
            let host_settings = crate::execute::engines_for(inventory, engine, &result.scenario)
                .map(|hosts| hosts.into_iter().map(|(h, e)| (h, e.settings)).collect())
                .unwrap_or_default();
            let (path, script) = write_finding(out, &name, seed, engine, &result, &host_settings)?;
            shrunk = Some(shrink_info(&result));
            case_file = Some(path);
            reproducer = Some(script);
        }
    }
    // The report's history carries no raw engine logs, so memory stays flat over long runs.
    Ok(ScenarioResult {
        index,
        engine: engine.name.clone(),
        history: crate::schema::History::from(&history),
        confirmed,
        known,
        unconfirmed,
        case_file,
        reproducer,
        shrunk,
    })
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
fn shrink_info(result: &crate::shrink::Shrunk) -> ShrinkInfo {
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
    result: &crate::shrink::Shrunk,
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
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let text = crate::case_file::case_to_toml(&case)?;
    let case_path = write(out.join("cases").join(format!("{name}.toml")), text)?;
    let script = crate::reproduce::shell_reproducer(
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

/// Runs one case file on one engine and prints expected and observed per step.
pub fn replay(path: &Path, engine_name: &str) -> Result<usize> {
    let case = crate::case_file::load_case(path)?;
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
