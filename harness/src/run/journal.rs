//! The run's journal: results recorded as scenarios end, `report.json` and the pages rewritten
//! after each one (atomically, `"partial": true` until the end), and the build-cache records of
//! finished scenarios reaped on a thread of their own.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine;
use crate::report::schema::{Report, ScenarioResult};

/// After the run's last build: the build-cache records the run added and the reaper left go,
/// and the run says how many went while it ran (`reaped`) and after.
pub(super) fn clean_up_build_cache(
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
pub(super) struct Journal<'a> {
    pub(super) out: &'a Path,
    pub(super) seed: u64,
    pub(super) versions: &'a [(String, String)],
    pub(super) profiles: &'a [crate::report::schema::EngineProfile],
    pub(super) label: Option<String>,
    pub(super) catalogue: String,
    pub(super) results: std::sync::Mutex<Vec<ScenarioResult>>,
    /// Tells the reaper a scenario ended (`None` once the last has).
    pub(super) reap: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

/// The reaper's loop: after each scenario's end (several at once count as one), the records no
/// scenario in flight can need go (`cache::reap`); how many went, and the time it took.
pub(super) fn reap_as_scenarios_end(
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

pub(super) fn locked_results(
    results: &std::sync::Mutex<Vec<ScenarioResult>>,
) -> std::sync::MutexGuard<'_, Vec<ScenarioResult>> {
    results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Journal<'_> {
    /// The run's report of `results` (`partial` while scenarios are still to come).
    pub(super) fn report(&self, results: Vec<ScenarioResult>, partial: bool) -> Report {
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
    pub(super) fn add(&self, result: ScenarioResult) {
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
    pub(super) fn stop_reaping(&self) {
        self.reap
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}
