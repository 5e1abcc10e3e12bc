//! `cachet run`: generate scenarios, run them on real engines, confirm discrepancies from a fresh
//! salt, and write the reports. Also `replay` of one case file.

pub mod execute;
pub mod leftovers;
pub mod mutants;
pub mod reproduce;
pub mod second_oracle;
pub mod shadows;
pub mod shrink;
pub mod suspects;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::engine;
use crate::engine::inventory::{Engine, Inventory};
use crate::error::{Error, Result};
use crate::report::schema::{Report, ScenarioResult};

mod journal;
mod scenario;
mod workers;

use journal::{clean_up_build_cache, locked_results, reap_as_scenarios_end, Journal};
pub use scenario::{replay, run_one, write_finding, Setup, Shadows};
use workers::{install_interrupt_handler, last_sweep, run_workers};

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

/// The engine kinds `engines` has on more than one host.
fn kinds_on_several_hosts(engines: &[Engine]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    engines
        .iter()
        .map(Engine::kind)
        .filter(|kind| !seen.insert(kind.clone()))
        .collect()
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
        kinds_on_several_hosts: kinds_on_several_hosts(&engines),
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

#[cfg(test)]
mod tests {
    use super::kinds_on_several_hosts;

    #[test]
    fn a_kind_on_two_hosts_is_named_and_one_on_one_host_is_not() {
        let inventory = crate::engine::model::inventory(None);
        let pick = |names: &[&str]| {
            let engines: Vec<_> = names
                .iter()
                .map(|n| inventory.engine(n).expect("a model engine"))
                .collect();
            kinds_on_several_hosts(&engines)
        };
        assert_eq!(
            pick(&["podman@a", "podman@b", "classic@a"]),
            ["podman".to_string()].into()
        );
        assert!(pick(&["podman@a", "classic@b"]).is_empty());
    }
}
