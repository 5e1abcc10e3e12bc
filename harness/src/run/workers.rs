//! The engines of a run side by side (`--jobs`): one worker per engine, each running its
//! scenarios in turn, waiting for an engine that went away, sweeping what a lost scenario left,
//! and showing progress; Ctrl-C stops them between scenarios.

use std::time::{Duration, Instant};

use super::journal::Journal;
use super::scenario::{run_one, Setup};
use crate::engine;
use crate::engine::inventory::Engine;
use crate::error::{Error, Result};
use crate::report::schema::ScenarioResult;

/// The engines that stopped early, with why.
type Stopped = Vec<(String, Error)>;

/// Runs every scenario on every engine, `jobs` engines at a time, into `journal`; which engines
/// stopped.
pub(super) fn run_workers(
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
    sweep_all(crate::run::leftovers::take_unclean(Some(&engine.endpoint)))
}

/// Sweeps each leftover on its engine; one whose engine does not answer goes back on the list
/// (the first such error is returned), the rest are recorded as swept.
fn sweep_all(leftovers: Vec<crate::run::leftovers::Leftover>) -> Result<()> {
    let mut first_error = None;
    for leftover in leftovers {
        let door = engine::open(&leftover.engine);
        match crate::run::leftovers::sweep_salt(door.as_ref(), &leftover.salt, &leftover.refs) {
            Ok(0) => crate::run::leftovers::swept(leftover),
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
                crate::run::leftovers::keep_unclean(
                    &leftover.engine,
                    &leftover.salt,
                    leftover.refs,
                );
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
pub(super) fn last_sweep() {
    let mut again = crate::run::leftovers::take_swept();
    again.extend(crate::run::leftovers::take_unclean(None));
    if again.is_empty() {
        return;
    }
    if let Err(e) = sweep_all(again) {
        eprintln!("warning: removing what faulted scenarios left: {e} (`cachet clean` will)");
    }
    // Leftovers of an engine that never came back stay listed for a later run in this process.
    let _ = crate::run::leftovers::take_swept();
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

pub(super) fn install_interrupt_handler() {
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
