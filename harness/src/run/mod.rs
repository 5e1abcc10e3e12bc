//! `cachet run`: generate scenarios, run them on real engines, confirm discrepancies from a fresh
//! salt, and write the reports. Also `replay` of one case file.

pub mod execute;
pub mod mutants;
pub mod reproduce;
pub mod second_oracle;
pub mod shrink;
pub mod suspects;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::corpus::case_file::case_from_scenario;
use crate::engine;
use crate::engine::inventory::{Engine, Inventory};
use crate::error::{Error, Result};
use crate::report::schema::{Report, ScenarioResult, ShrinkInfo};
use crate::run::execute::{run_scenario, History};

fn salt(seed: u64, index: usize, engine: &str, attempt: u32) -> String {
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

pub struct RunOptions {
    pub engines: Vec<String>,
    /// A rule to switch off in the model (a mutant): measures how fast runs catch a wrong rule.
    pub mutant: Option<String>,
    /// Candidate runs a shrink may spend.
    pub shrink_budget: usize,
    /// The known-divergence catalogue: the built-in one, a file, or none.
    pub known: crate::corpus::known::Catalogue,
    /// Compare every image with reported cache hits against a fresh build (the second oracle).
    pub fresh_check: bool,
    pub scenarios: usize,
    pub seed: u64,
    pub out: PathBuf,
    pub jobs: usize,
    /// Names this machine in merged reports (`debian-12-vm3`); default: host a's `distro`.
    pub label: Option<String>,
    /// Rules whose mutants the run watches beside the reference (`cachet mutants --engine`):
    /// each scenario's result names the first confirmed kill of each not caught before it.
    /// For one engine's run: what is caught is counted across its scenarios in order.
    pub shadows: Vec<String>,
}

impl RunOptions {
    /// A run of `scenarios` generated scenarios from `seed` on `engines` (empty: every engine on
    /// host a), reports under `out`; the rest as the command line's defaults (no mutant, a
    /// shrink budget of 60, no catalogue (every confirmed discrepancy counts), no second oracle,
    /// one job, no label).
    pub fn new(engines: Vec<String>, scenarios: usize, seed: u64, out: PathBuf) -> RunOptions {
        RunOptions {
            engines,
            mutant: None,
            shrink_budget: 60,
            known: crate::corpus::known::Catalogue::Empty,
            fresh_check: false,
            scenarios,
            seed,
            out,
            jobs: 1,
            label: None,
            shadows: Vec::new(),
        }
    }
}

/// `cachet run` on the inventory `engine::load_inventory` finds.
pub fn run(options: &RunOptions) -> Result<Report> {
    run_on(&engine::load_inventory()?, options)
}

/// Makes an output directory and proves it writable before any engine is
/// asked anything: an `--out` that cannot be written is bad input (exit 2), found before the
/// first build rather than after the run.
pub fn prepare_out(out: &std::path::Path) -> Result<()> {
    let probe = out.join(".cachet-write-probe");
    std::fs::create_dir_all(out)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| Error::BadInput(format!("--out {}: cannot write there: {e}", out.display())))
}

/// `cachet run` on `inventory` (one built in code works too: `engine::model::inventory`).
pub fn run_on(inventory: &Inventory, options: &RunOptions) -> Result<Report> {
    prepare_out(&options.out)?;
    std::fs::create_dir_all(options.out.join("cases")).map_err(|source| Error::Write {
        path: options.out.clone(),
        source,
    })?;
    let (engines, versions, profiles) = engines_as_reported(inventory, options)?;
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
    let scenarios = crate::generate::generate_scenarios(options.seed, options.scenarios);
    let known = options.known.load()?;
    let (build_cache, down) = snapshot_reachable(&engines, &with_other_hosts(inventory, &engines))?;
    let setup = Setup {
        inventory,
        seed: options.seed,
        out: &options.out,
        shrink_budget: options.shrink_budget,
        known: &known,
        fresh_check: options.fresh_check,
        down,
        shadows: Shadows::new(options.shadows.clone()),
    };
    // The records of finished scenarios go while the run goes on (`cache::reap`, after each
    // scenario, on a thread of its own), so the run's end has only the last ones left.
    let (reap_tx, reap_rx) = std::sync::mpsc::channel::<()>();
    let journal = Journal {
        out: &options.out,
        seed: options.seed,
        versions: &versions,
        profiles: &profiles,
        label: options
            .label
            .clone()
            .or_else(|| inventory.hosts.get("a").and_then(|h| h.distro.clone())),
        catalogue: options.known.describe(),
        results: Default::default(),
        reap: std::sync::Mutex::new(Some(reap_tx)),
    };
    install_interrupt_handler();
    let failures = std::thread::scope(|scope| {
        let build_cache = &build_cache;
        let reaper = scope.spawn(move || reap_as_scenarios_end(build_cache, &reap_rx));
        let failures = run_workers(&setup, &engines, &scenarios, options.jobs, &journal);
        journal.stop_reaping();
        let reaped = reaper.join().unwrap_or_default();
        last_sweep();
        clean_up_build_cache(build_cache, reaped);
        failures
    });
    let all = std::mem::take(&mut *locked_results(&journal.results));
    let mut report = journal.report(all, false);
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

/// Engines, their `(name, version)` pairs and their profiles as a report names them.
type Reported = (
    Vec<Engine>,
    Vec<(String, String)>,
    Vec<crate::report::schema::EngineProfile>,
);

/// The run's engines, each with the profile its reported version selects (a mutant's switches
/// kept), their versions and the profiles as the report names them; a version the model knows
/// only approximately says so.
fn engines_as_reported(inventory: &Inventory, options: &RunOptions) -> Result<Reported> {
    let selected = selected_engines(inventory, options)?;
    let (mut engines, mut versions, mut profiles) = (Vec::new(), Vec::new(), Vec::new());
    for e in &selected {
        let v = engine::version(e)?;
        let note =
            crate::engine::inventory::generation_choice(&e.kind(), Some(&v)).and_then(|c| c.1);
        if let Some(note) = &note {
            eprintln!("cachet run: {}: {note}", e.name);
        }
        let e = e.with_reported_version(&v);
        profiles.push(crate::report::schema::EngineProfile {
            engine: e.name.clone(),
            profile: e.profile.name(),
            note,
        });
        versions.push((e.name.clone(), v));
        engines.push(e);
    }
    Ok((engines, versions, profiles))
}

/// After the run's last build: the build-cache records the run added and the reaper left go,
/// and the run says how many went while it ran (`reaped`) and after.
fn clean_up_build_cache(
    build_cache: &engine::guard::BuildCacheSnapshot,
    reaped: (usize, Duration),
) {
    let cleanup = Instant::now();
    match engine::guard::restore_build_cache(build_cache) {
        Ok(n) => eprintln!(
            "cachet run: build-cache cleanup: {} records in {:.1} s while the run went on, {n} in {:.1} s after its last scenario",
            reaped.0,
            reaped.1.as_secs_f64(),
            cleanup.elapsed().as_secs_f64()
        ),
        Err(e) => eprintln!("warning: build-cache cleanup: {e}"),
    }
}

/// A run's reports as it goes: each finished scenario's result is added and the reports are
/// written again (each file replaced atomically), so a run killed at any point leaves every
/// finding it had confirmed, with its case file and reproducer, in a readable `report.json`.
struct Journal<'a> {
    out: &'a Path,
    seed: u64,
    versions: &'a [(String, String)],
    profiles: &'a [crate::report::schema::EngineProfile],
    label: Option<String>,
    catalogue: String,
    results: std::sync::Mutex<Vec<ScenarioResult>>,
    /// Tells the reaper a scenario ended (`None` once the last has).
    reap: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

/// The reaper's loop: after each scenario's end (several at once count as one), the records no
/// scenario in flight can need go (`cache::reap`); how many went, and the time it took.
fn reap_as_scenarios_end(
    snapshot: &engine::guard::BuildCacheSnapshot,
    ended: &std::sync::mpsc::Receiver<()>,
) -> (usize, Duration) {
    let (mut removed, mut spent) = (0, Duration::ZERO);
    while ended.recv().is_ok() {
        while ended.try_recv().is_ok() {}
        let started = Instant::now();
        match engine::guard::reap(snapshot) {
            Ok(n) => removed += n,
            Err(e) => {
                tracing::debug!(error = %e, "reaping build-cache records (the run's end retries)")
            }
        }
        spent += started.elapsed();
    }
    (removed, spent)
}

fn locked_results(
    results: &std::sync::Mutex<Vec<ScenarioResult>>,
) -> std::sync::MutexGuard<'_, Vec<ScenarioResult>> {
    results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Journal<'_> {
    /// The run's report of `results` (`partial` while scenarios are still to come).
    fn report(&self, results: Vec<ScenarioResult>, partial: bool) -> Report {
        let mut report = Report::from_results(self.seed, self.versions.to_vec(), results);
        report.profiles = self.profiles.to_vec();
        report.catalogue = Some(self.catalogue.clone());
        report.label = self.label.clone();
        report.partial = partial;
        report.buckets = crate::report::buckets::of_report(&report, self.out);
        report
    }

    /// Adds a finished scenario's result and rewrites the reports; a write that fails is a
    /// warning (the run goes on, and the final write tries again).
    fn add(&self, result: ScenarioResult) {
        let mut results = locked_results(&self.results);
        results.push(result);
        let report = self.report(results.clone(), true);
        if let Err(e) = crate::report::write_reports(&report, self.out) {
            eprintln!("warning: writing the reports so far: {e}");
        }
        drop(results);
        if let Some(tx) = &*self
            .reap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            let _ = tx.send(());
        }
    }

    /// The last scenario has ended: the reaper finishes its pass and stops (a closed channel
    /// ends its loop).
    fn stop_reaping(&self) {
        self.reap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// One line per engine of a finished run: its observed steps (those it reported, or reported
/// not reaching), how many of them were indeterminate and the share, and the scenarios lost with
/// the first reason.
pub fn per_engine_lines(report: &Report) -> Vec<String> {
    let mut engines: Vec<&str> = report.results.iter().map(|r| r.engine.as_str()).collect();
    engines.sort_unstable();
    engines.dedup();
    engines
        .into_iter()
        .map(|engine| {
            let results: Vec<&ScenarioResult> =
                report.results.iter().filter(|r| r.engine == engine).collect();
            let verdicts = results
                .iter()
                .flat_map(|r| &r.history.builds)
                .flat_map(|b| &b.verdicts);
            let (mut observed, mut indeterminate) = (0usize, 0usize);
            for v in verdicts {
                match v.verdict {
                    crate::check::Verdict::Unchecked => {}
                    crate::check::Verdict::Indeterminate { .. } => {
                        observed += 1;
                        indeterminate += 1;
                    }
                    _ => observed += 1,
                }
            }
            let lost: Vec<&str> = results.iter().filter_map(|r| r.lost.as_deref()).collect();
            let mut line = format!(
                "  {engine}: {} scenarios, {observed} observed steps, {indeterminate} indeterminate ({:.1}%)",
                results.len(),
                100.0 * indeterminate as f64 / observed.max(1) as f64
            );
            if let Some(first) = lost.first() {
                line.push_str(&format!(", {} lost (first: {first})", lost.len()));
            }
            line
        })
        .collect()
}

/// The exit code of a finished run (README, "Exit codes"): 1 if a confirmed discrepancy the
/// catalogue does not explain was found, else 3 if an engine stopped early, else 0.
pub fn exit_code(report: &Report) -> i32 {
    if report.summary.discrepancies > 0 {
        crate::error::EXIT_NONCONFORMANCE
    } else if !report.aborted.is_empty() {
        crate::error::EXIT_UNAVAILABLE
    } else {
        crate::error::EXIT_OK
    }
}

/// The run's engines (every engine on host a if it names none), with the model's mutant if
/// asked for. `--fresh-check` on a model engine is refused: it has no image files to compare.
fn selected_engines(inventory: &Inventory, options: &RunOptions) -> Result<Vec<Engine>> {
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
    if let Some(e) = engines.iter().find(|e| options.fresh_check && e.is_model()) {
        return Err(Error::BadInput(format!(
            "--fresh-check compares the files of saved images, and {} is a model engine (kind = \"model\"), which has none",
            e.name
        )));
    }
    match &options.mutant {
        None => Ok(engines),
        Some(rule) => engines
            .into_iter()
            .map(|mut e| {
                e.profile = e
                    .profile
                    .with_switch(rule, models::Switch::Off)
                    .map_err(|err| Error::BadInput(err.to_string()))?;
                Ok(e)
            })
            .collect(),
    }
}

/// The build-cache snapshot of every endpoint `all` use, and the endpoints of other hosts
/// (not the run's own `engines`, which have answered already) that do not answer now: a dead
/// second host costs only the scenarios that need it.
fn snapshot_reachable(
    engines: &[Engine],
    all: &[Engine],
) -> Result<(engine::guard::BuildCacheSnapshot, BTreeSet<String>)> {
    let mut down = BTreeSet::new();
    let mut up = Vec::new();
    for e in all {
        let own = engines.iter().any(|o| o.endpoint == e.endpoint);
        if own || down.contains(&e.endpoint) {
            up.extend(own.then(|| e.clone()));
            continue;
        }
        match engine::version(e) {
            Ok(_) => up.push(e.clone()),
            Err(err) => {
                eprintln!(
                    "cachet run: {}: {err}\n  the scenarios that need it are lost; the rest go on",
                    e.name
                );
                down.insert(e.endpoint.clone());
            }
        }
    }
    Ok((engine::guard::snapshot_build_cache(&up)?, down))
}

/// `engines` and the same engines on the inventory's other hosts, where scenarios that move
/// cache between hosts build too (their build-cache records are the run's as well).
fn with_other_hosts(inventory: &Inventory, engines: &[Engine]) -> Vec<Engine> {
    let mut all = engines.to_vec();
    for e in engines {
        for host in inventory.hosts.keys().filter(|h| **h != e.host) {
            if let Some(other) = e.on_host(inventory, host) {
                if !all.iter().any(|a| a.name == other.name) {
                    all.push(other);
                }
            }
        }
    }
    all
}

/// The engines that stopped early, with why.
type Stopped = Vec<(String, Error)>;

/// Runs every scenario on every engine, `jobs` engines at a time, into `journal`; which engines
/// stopped.
fn run_workers(
    setup: &Setup<'_>,
    engines: &[Engine],
    scenarios: &[models::scenario::Scenario],
    jobs: usize,
    journal: &Journal<'_>,
) -> Stopped {
    let versions = journal.versions;
    let progress = Progress::new(scenarios.len() * engines.len());
    let started = Instant::now();
    // A queue of engines: each worker takes the next engine not yet started, so a slow or dead
    // host holds up one worker, never the engines queued behind it on another worker.
    let next_engine = std::sync::atomic::AtomicUsize::new(0);
    // Each worker adds what it finished to the journal; an engine that fails stops only its own
    // part.
    let outcomes: Vec<Stopped> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.max(1).min(engines.len().max(1)))
            .map(|_| {
                let (progress, next_engine) = (&progress, &next_engine);
                scope.spawn(move || {
                    let mut outcome: Stopped = Vec::new();
                    while let Some(engine) =
                        engines.get(next_engine.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        let version = versions
                            .iter()
                            .find(|(n, _)| *n == engine.name)
                            .map(|(_, v)| v.as_str())
                            .unwrap_or("");
                        let run = EngineRun {
                            setup,
                            engine,
                            version,
                            progress,
                            started,
                            fault_streak: std::cell::Cell::new(0),
                            journal,
                        };
                        run.scenarios(scenarios, &mut outcome);
                    }
                    outcome
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(
                        "(worker)".to_string(),
                        Error::Harness("a worker thread panicked".into()),
                    )]
                })
            })
            .collect()
    });
    progress.finish();
    outcomes.into_iter().flatten().collect()
}

/// One engine's part of a run, as a worker runs it.
struct EngineRun<'a> {
    setup: &'a Setup<'a>,
    engine: &'a Engine,
    version: &'a str,
    progress: &'a Progress,
    started: Instant,
    /// Engine faults (`Error::EngineFault`) in a row: each waits twice as long as the one before
    /// (1 s up to 16 s) before the next scenario, so a fault that lasts a while (a full disk
    /// until someone frees it) costs the scenarios of that while, not the rest of the run.
    fault_streak: std::cell::Cell<u32>,
    journal: &'a Journal<'a>,
}

impl EngineRun<'_> {
    /// Every scenario in turn, into the journal, then the engine's throughput; stops at an
    /// interrupt or the engine's first error, into `stopped`.
    fn scenarios(&self, scenarios: &[models::scenario::Scenario], stopped: &mut Stopped) {
        let engine = self.engine;
        let started = Instant::now();
        let (done, builds) = self.each_scenario(scenarios, stopped);
        let secs = started.elapsed().as_secs_f64();
        // The engine's throughput, as this run met it (other engines running beside it on the
        // other workers): what `ci/generations` collects per generation.
        self.progress.println(&format!(
            "cachet run: throughput {}: {done} scenarios, {builds} builds in {secs:.0} s ({:.0} scenarios/h)",
            engine.name,
            done as f64 * 3600.0 / secs.max(0.001)
        ));
    }

    /// How many scenarios finished (lost ones included) and their builds.
    fn each_scenario(
        &self,
        scenarios: &[models::scenario::Scenario],
        stopped: &mut Stopped,
    ) -> (usize, usize) {
        let engine = self.engine;
        let (mut done, mut builds) = (0, 0);
        for (index, scenario) in scenarios.iter().enumerate() {
            if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                stopped.push((
                    engine.name.clone(),
                    Error::Harness(format!(
                        "interrupted before scenario {} of {}",
                        index + 1,
                        scenarios.len()
                    )),
                ));
                break;
            }
            let flight = engine::guard::scenario_started();
            let outcome = run_one(self.setup, engine, self.version, scenario, index);
            drop(flight);
            let result = match outcome {
                Ok(result) => {
                    self.fault_streak.set(0);
                    // A cleanup the engine did not answer (it stalled past the call timeout and
                    // came back) left its images on the list: they go now it answers.
                    self.remove_leftovers_of(index);
                    self.progress
                        .scenario_done(&engine.name, index, &result, self.started);
                    result
                }
                Err(e) => match self.after_fault(&e, index) {
                    Some(why) => ScenarioResult::lost(index, &engine.name, why),
                    None => {
                        self.progress.println(&format!(
                            "  {}: stopped at scenario {}: {e}",
                            engine.name,
                            index + 1
                        ));
                        stopped.push((engine.name.clone(), e));
                        break;
                    }
                },
            };
            done += 1;
            builds += result.history.builds.len();
            self.journal.add(result);
        }
        (done, builds)
    }
}

impl EngineRun<'_> {
    /// Whether the run goes on after scenario `index` failed with `e`, and if so why the scenario
    /// is lost. Another host or the registry not answering costs only this scenario (the next
    /// one may not need it). This engine not answering is waited for, with backoff, up to
    /// `CACHET_ENGINE_WAIT` seconds (default 120): back in time, the run goes on at the next
    /// scenario (which loads its base image afresh); still down, the engine's part ends (`None`).
    /// A context cachet could not lay out (`Error::Setup`) costs only this scenario. Anything
    /// else (cachet's own fault, bad input) ends it too.
    fn after_fault(&self, e: &Error, index: usize) -> Option<String> {
        let engine = self.engine;
        if let Error::Setup(why) = e {
            // The input could not be laid out here (a kernel refusing an xattr): nothing the
            // engine did, and the next scenario is another input.
            self.remove_leftovers_of(index);
            self.progress.println(&format!(
                "  {}: scenario {} lost (cachet could not set up its context: {why}); going on",
                engine.name,
                index + 1
            ));
            return Some(format!("cachet could not set up its context: {why}"));
        }
        if let Error::EngineFault { fault, .. } = e {
            // The engine answers: what the scenario left goes now, and the next scenario may find
            // the fault gone (a full disk freed).
            self.remove_leftovers_of(index);
            let streak = self.fault_streak.get();
            self.fault_streak.set(streak + 1);
            let pause = Duration::from_secs(1 << streak.min(4));
            self.progress.println(&format!(
                "  {}: scenario {} lost ({fault}); going on in {} s",
                engine.name,
                index + 1,
                pause.as_secs()
            ));
            std::thread::sleep(pause);
            return Some(format!("the engine failed it ({fault}): {e}"));
        }
        let Error::EngineUnavailable { endpoint, .. } = e else {
            return None;
        };
        if *endpoint != engine.endpoint {
            self.progress.println(&format!(
                "  {}: scenario {} lost (it needs {endpoint}, which does not answer); going on",
                engine.name,
                index + 1
            ));
            return Some(format!("another host or the registry did not answer: {e}"));
        }
        let limit = engine_wait();
        self.progress.println(&format!(
            "  {}: not answering at scenario {}: waiting up to {} s for it",
            engine.name,
            index + 1,
            limit.as_secs()
        ));
        let waited = wait_for_engine(engine, limit)?;
        // What the scenario tagged before the engine went away, its cleanup could not remove.
        self.remove_leftovers_of(index);
        self.progress.println(&format!(
            "  {}: answers again after {} s; scenario {} lost, going on",
            engine.name,
            waited.as_secs(),
            index + 1
        ));
        Some(format!(
            "the engine stopped answering mid-scenario and was back {} s later: {e}",
            waited.as_secs()
        ))
    }
}

impl EngineRun<'_> {
    /// `remove_leftovers` of this engine after scenario `index`; a failure is a warning, since
    /// `cachet clean` removes the rest.
    fn remove_leftovers_of(&self, index: usize) {
        if let Err(e) = remove_leftovers(self.engine) {
            self.progress.println(&format!(
                "  warning: {}: removing what scenario {} left: {e} (`cachet clean` will)",
                self.engine.name,
                index + 1
            ));
        }
    }
}

/// Removes what the scenarios whose cleanup met `engine` down left there (a confirmation's or a
/// shrink's included): their tags, then the containers and untagged images their salt's label
/// marks (a killed build's container, a classic builder's intermediate images), children first.
fn remove_leftovers(engine: &Engine) -> Result<()> {
    sweep_all(crate::run::execute::take_unclean(Some(&engine.endpoint)))
}

/// Sweeps each leftover on its engine; one whose engine does not answer goes back on the list
/// (the first such error is returned), the rest are recorded as swept.
fn sweep_all(leftovers: Vec<crate::run::execute::Leftover>) -> Result<()> {
    let mut first_error = None;
    for leftover in leftovers {
        let door = engine::open(&leftover.engine);
        match crate::run::execute::sweep_salt(door.as_ref(), &leftover.salt, &leftover.refs) {
            Ok(0) => crate::run::execute::swept(leftover),
            left => {
                // Still not answering, or refusing (a full disk): the scenario stays on the list
                // for the next try.
                let e = left.map_or_else(
                    |e| e,
                    |n| {
                        Error::Harness(format!(
                            "{n} images and containers of salt {} stay on {}",
                            leftover.salt, leftover.engine.name
                        ))
                    },
                );
                crate::run::execute::keep_unclean(&leftover.engine, &leftover.salt, leftover.refs);
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The run's last sweep, once no build of its own is in flight: every leftover still listed
/// (whatever its engine), and every salt swept before, again (a build its engine finished after
/// the client gave up adds images under a salt already swept). What still does not answer is
/// reported for `cachet clean`.
fn last_sweep() {
    let mut again = crate::run::execute::take_swept();
    again.extend(crate::run::execute::take_unclean(None));
    if again.is_empty() {
        return;
    }
    if let Err(e) = sweep_all(again) {
        eprintln!("warning: removing what faulted scenarios left: {e} (`cachet clean` will)");
    }
    // Leftovers of an engine that never came back stay listed for a later run in this process.
    let _ = crate::run::execute::take_swept();
}

/// How long a run waits for an engine that stopped answering: `CACHET_ENGINE_WAIT` seconds,
/// default 120.
fn engine_wait() -> Duration {
    engine::settings::seconds_setting("CACHET_ENGINE_WAIT")
}

/// Polls `engine` (its version) with backoff from 1 s to 16 s until it answers or `limit`
/// passes; how long that took, or `None` if it stayed down.
fn wait_for_engine(engine: &Engine, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        if engine::version(engine).is_ok() {
            return Some(started.elapsed());
        }
        if started.elapsed() + pause > limit
            || INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
        {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(16));
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
    pub known: &'a [crate::corpus::known::Known],
    /// Compare every image with reported cache hits against a fresh build (the second oracle).
    pub fresh_check: bool,
    /// Endpoints of other hosts that did not answer when the run started: scenarios that need
    /// one are lost without touching it (its build cache was never snapshotted, so the run
    /// could not clean up after itself there).
    pub down: BTreeSet<String>,
    /// The watched mutants (`RunOptions::shadows`) and which are caught so far.
    pub shadows: Shadows,
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
    // A scenario that moves cache between hosts runs on one host, without pushes or imports,
    // where the engine has no second host (a push from it would serve no one).
    let folded;
    let has_second_host = inventory
        .hosts
        .keys()
        .any(|h| *h != engine.host && engine.on_host(inventory, h).is_some());
    let scenario = if !has_second_host
        || crate::run::execute::engines_for(inventory, engine, scenario).is_err()
    {
        folded = crate::generate::fold_onto_one_host(scenario);
        &folded
    } else {
        scenario
    };
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
    let mut result = ScenarioResult {
        index,
        engine: engine.name.clone(),
        history: crate::report::schema::History::from(&history),
        confirmed: Vec::new(),
        known: Vec::new(),
        unconfirmed: 0,
        case_file: None,
        reproducer: None,
        shrunk: None,
        suspects: Vec::new(),
        lost: None,
        mutations: crate::corpus::known::mutation_kinds_per_build(scenario, &engine.settings),
        causes: Vec::new(),
        shrunk_history: None,
        logs: Vec::new(),
        kills: Vec::new(),
    };
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
            &crate::corpus::known::predictions(again),
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
        let name = format!("found-{kind}-{}-{}", setup.seed, self.index);
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
                &crate::corpus::known::predictions(run),
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
