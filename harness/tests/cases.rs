//! The regression corpus: one trial per case and engine, named `<case>::<engine>`.
//!
//! A trial passes when every step the engine reports equals the model's prediction, or matches a
//! divergence the case records for that engine. A recorded divergence that no longer happens fails
//! too. In CI (`common::in_ci`) an unreachable engine, or no inventory at all, fails its trials;
//! elsewhere they are ignored (with no inventory, one ignored trial per case, named `<case>`).
//!
//! The engines under test are each the first of its pairing class (`Engine::pairs_with`: same
//! kind, generation and image store): `classic@a` (with host b as its second host), `podman@podman`,
//! and every engine of a generation host (`buildkit@sid`, `podman@trixie-podman`, ...), so a trial's
//! name shows its generation through the host. A case that needs a second host runs where the
//! engine has one; on a generation host without one it runs folded onto that host
//! (`generate::fold_onto_one_host`), named `<case>[one-host]::<engine>`; a system engine without one
//! (`podman@podman`) skips it, as before generations. A divergence applies only to the engine
//! versions it names (`versions`).

mod common;

use std::path::Path;

use cachet::check::Verdict;
use cachet::corpus::case_file::{load_corpus, LoadedCase};

use cachet::engine::inventory::{Engine, Inventory};
use libtest_mimic::{Arguments, Failed, Trial};

fn run_trial(
    case: &LoadedCase,
    scenario: &models::scenario::Scenario,
    inventory: &Inventory,
    engine: &Engine,
    version: &str,
) -> Result<(), Failed> {
    // Podman's trials take turns, per service: concurrent builds on one Podman service race in
    // its store (seen as "layer not known" and, rarely, as a step rebuilt that should hit).
    type Turns = std::collections::BTreeMap<String, std::sync::Arc<std::sync::Mutex<()>>>;
    static PODMAN: std::sync::Mutex<Turns> = std::sync::Mutex::new(Turns::new());
    let service = (engine.profile.builder == models::Builder::Buildah).then(|| {
        let mut turns = PODMAN.lock().unwrap_or_else(|e| e.into_inner());
        turns.entry(engine.endpoint.clone()).or_default().clone()
    });
    let _turn = service
        .as_ref()
        .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()));
    let salt = cachet::run::execute::fresh_salt((&case.file.name, &engine.name));
    let history = cachet::run::execute::run_scenario(inventory, engine, scenario, &salt)
        .map_err(|e| Failed::from(e.to_string()))?;
    let kind = engine.kind();
    let recorded: Vec<_> = case
        .file
        .divergences
        .iter()
        .filter(|d| d.engine == kind && d.versions.contains_engine(version))
        .collect();
    let mut problems = Vec::new();
    let mut seen_divergences = Vec::new();
    let mut confirmed = 0;
    for build in &history.builds {
        for v in &build.verdicts {
            match &v.verdict {
                Verdict::Agree => confirmed += 1,
                Verdict::Discrepancy => {
                    let known = recorded.iter().find(|d| {
                        d.build == build.transition
                            && d.step == v.step
                            && d.observed == v.observed_short()
                    });
                    match known {
                        Some(d) => {
                            confirmed += 1;
                            seen_divergences.push((*d).clone());
                        }
                        None => problems.push(format!(
                            "build {} step {} `{}`: model predicts {} ({}), {} observed {}",
                            build.transition,
                            v.step,
                            v.instruction,
                            v.predicted.short(),
                            match &v.predicted {
                                models::Outcome::Rebuilt { reason } => reason.to_string(),
                                other => format!("{other:?}"),
                            },
                            engine.name,
                            v.observed_short()
                        )),
                    }
                }
                Verdict::Indeterminate { why } => eprintln!(
                    "  {}: build {} step {} indeterminate: {why}",
                    engine.name, build.transition, v.step
                ),
                Verdict::Unchecked => {}
            }
        }
    }
    for d in &recorded {
        if !seen_divergences.contains(d) {
            problems.push(format!(
                "recorded divergence no longer happens on {} {version}: build {} step {} was {} on versions {} ({})",
                engine.name, d.build, d.step, d.observed, d.versions, d.link
            ));
        }
    }
    if confirmed == 0 && problems.is_empty() {
        problems
            .push("no step could be confirmed: every observation was indeterminate".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let log: String = history
            .builds
            .iter()
            .map(|b| {
                format!(
                    "--- build {} on {}\n{}",
                    b.transition, b.engine, b.observation.log
                )
            })
            .collect();
        Err(format!(
            "{}\n{}",
            problems.join("\n"),
            if std::env::var_os("CACHET_SHOW_LOGS").is_some() {
                log
            } else {
                String::from("(set CACHET_SHOW_LOGS=1 for the engine logs)")
            }
        )
        .into())
    }
}

/// Whether `engine` is under test (the first engine of its pairing class), and if so the trial's
/// name and the scenario it runs: the case's own, or folded onto one host on a generation host
/// with no second host of its generation; `None` where the case does not run on it (also a case
/// that exports cache, on a door that cannot ask for it).
fn trial_for(
    case: &LoadedCase,
    inventory: &Inventory,
    engines: &[Engine],
    engine: &Engine,
) -> Option<(String, models::scenario::Scenario)> {
    let first = engines
        .iter()
        .find(|e| e.pairs_with(engine))
        .is_some_and(|e| e.name == engine.name);
    if !first {
        return None;
    }
    // A cache export (`--cache-to`) is an option of buildx's door alone: no other door can ask.
    if cachet::run::execute::exports_cache(&case.scenario) && !engine.passes_cache_to() {
        return None;
    }
    let needs_second = case.hosts().iter().any(|h| h != "a");
    // A push reaches the lab's registry over plain http, which the Podman services here are not
    // set up to trust ("http: server gave HTTP response to HTTPS client"): a case that pushes
    // from one host runs on Docker's doors only. (A cross-host case's pushes go where it runs
    // folded onto one host, and Podman has no second host.)
    let pushes = (case.scenario.transitions.iter()).any(|t| t.build.options.push.is_some());
    if pushes && !needs_second && engine.builder() == models::Builder::Buildah {
        return None;
    }
    let pairs = cachet::run::execute::engines_for(inventory, engine, &case.scenario).is_ok();
    let name = format!("{}::{}", case.file.name, engine.name);
    match (needs_second && !pairs, engine.generation.is_some()) {
        (false, _) => Some((name, case.scenario.clone())),
        (true, true) => Some((
            format!("{}[one-host]::{}", case.file.name, engine.name),
            cachet::generate::fold_onto_one_host(&case.scenario),
        )),
        (true, false) => None,
    }
}

/// The engines in the order each case's trials run: a Podman service's two doors take turns
/// (`run_trial`), so a trial queued right behind its service's other door would hold a worker
/// idle; the API doors go to the middle of the order and the CLI doors to its end, half a case
/// apart from each other and from the next case's.
fn spread_podman_doors(engines: Vec<Engine>) -> Vec<Engine> {
    let podman = |e: &Engine| e.profile.builder == models::Builder::Buildah;
    let cli = |e: &Engine| e.profile.transport == models::Transport::Cli;
    let (mut others, podmans): (Vec<Engine>, Vec<Engine>) =
        engines.into_iter().partition(|e| !podman(e));
    let (clis, apis): (Vec<Engine>, Vec<Engine>) = podmans.into_iter().partition(|e| cli(e));
    let middle = others.len() / 2;
    others.splice(middle..middle, apis);
    others.extend(clis);
    others
}

/// Trial time per engine generation, and per engine: `(trials, summed seconds)`.
static TIMES: std::sync::Mutex<[std::collections::BTreeMap<String, (usize, f64)>; 2]> =
    std::sync::Mutex::new([
        std::collections::BTreeMap::new(),
        std::collections::BTreeMap::new(),
    ]);

fn record_time(engine: &Engine, took: std::time::Duration) {
    let mut times = TIMES.lock().unwrap_or_else(|e| e.into_inner());
    for (table, key) in times
        .iter_mut()
        .zip([engine.generation_label().to_string(), engine.name.clone()])
    {
        let entry = table.entry(key).or_default();
        entry.0 += 1;
        entry.1 += took.as_secs_f64();
    }
}

/// The corpus's cost per generation and per engine: the trials' own times summed,
/// which is engine work, not wall time (trials run in parallel).
fn print_times() {
    let times = TIMES.lock().unwrap_or_else(|e| e.into_inner());
    for (generation, (trials, secs)) in times[0].iter() {
        eprintln!("corpus time, generation {generation}: {trials} trials, {secs:.0} s summed");
    }
    for (engine, (trials, secs)) in times[1].iter() {
        eprintln!(
            "corpus time, engine {engine}: {trials} trials, {secs:.0} s summed, {:.1} s a trial",
            secs / (*trials).max(1) as f64
        );
    }
}

fn main() {
    let mut args = Arguments::from_args();
    // Four trials at once by default (`--test-threads` overrides): a trial mostly waits on a
    // daemon, and consecutive trials are of one case on different engines. Measured on the
    // 2-core CI machine, 46 trials of two cases on 23 engines: 43.5 s two at a time, 35.6 s six
    // at a time (74% and 86% CPU busy); four stays below the CPU's limit, where six nearly
    // reached it, and is what the whole corpus's CI time is measured with.
    if args.test_threads.is_none() {
        args.test_threads = Some(4);
    }
    let in_ci = common::in_ci();
    let corpus_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let corpus = match load_corpus(&corpus_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let inventory = match cachet::engine::load_inventory() {
        Ok(inventory) => inventory,
        Err(e) if in_ci => {
            eprintln!("error: {e}");
            std::process::exit(3);
        }
        Err(e) => {
            eprintln!(
                "ignored outside CI ({} cases): no inventory: {e}",
                corpus.len()
            );
            let trials = corpus
                .iter()
                .map(|case| {
                    let why = format!("skipped outside CI: no inventory: {e}");
                    Trial::test(case.file.name.clone(), move || Err(why.into()))
                        .with_ignored_flag(true)
                })
                .collect();
            libtest_mimic::run(&args, trials).exit();
        }
    };
    let engines = spread_podman_doors(inventory.engines());
    // Each engine answers once, up front: its version, or why it cannot be reached.
    let statuses: Vec<(String, Result<String, String>)> = engines
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                cachet::engine::version(e).map_err(|e| e.to_string()),
            )
        })
        .collect();
    let inventory: &'static Inventory = Box::leak(Box::new(inventory));
    let corpus: &'static [LoadedCase] = Box::leak(corpus.into_boxed_slice());
    let mut trials = Vec::new();
    for case in corpus {
        for (engine, status) in engines.iter().zip(&statuses) {
            let Some((name, scenario)) = trial_for(case, inventory, &engines, engine) else {
                continue;
            };
            let scenario: &'static models::scenario::Scenario = Box::leak(Box::new(scenario));
            let engine = match &status.1 {
                Ok(version) => engine.with_reported_version(version),
                Err(_) => engine.clone(),
            };
            match status.1.clone() {
                Err(why) if !in_ci => {
                    eprintln!("ignored {name}: {why}");
                    trials.push(Trial::test(name, || Ok(())).with_ignored_flag(true));
                }
                Err(why) => trials.push(Trial::test(name, move || {
                    Err(format!("engine unavailable in CI: {why}").into())
                })),
                Ok(version) => trials.push(Trial::test(name, move || {
                    let started = std::time::Instant::now();
                    let result = run_trial(case, scenario, inventory, &engine, &version);
                    record_time(&engine, started.elapsed());
                    result
                })),
            }
        }
    }
    // Build-cache records the trials add are removed after each part of the corpus.
    let build_cache = cachet::engine::guard::snapshot_build_cache(
        &engines
            .iter()
            .zip(&statuses)
            .filter(|(_, (_, status))| status.is_ok())
            .map(|(e, _)| e.clone())
            .collect::<Vec<_>>(),
    );
    // The corpus runs in parts (`CACHET_CORPUS_PARTS`, default 4 for the whole corpus and 1 for a
    // filtered run), and what each part added is pruned before the next: a prune costs the
    // daemon more per record the more records it holds (the whole corpus's took 4 minutes on
    // each of sid, sid-ctrd and trixie, where 500 records took 3 s).
    let parts = match std::env::var("CACHET_CORPUS_PARTS") {
        Ok(v) => v.parse::<usize>().unwrap_or_else(|_| {
            eprintln!("error: CACHET_CORPUS_PARTS={v:?} is not a whole number");
            std::process::exit(2);
        }),
        Err(_) if args.filter.is_none() && !args.list => 4,
        Err(_) => 1,
    };
    let per_part = trials.len().div_ceil(parts.max(1)).max(1);
    let mut trials = trials.into_iter().peekable();
    let mut failed = 0;
    while trials.peek().is_some() {
        let part: Vec<Trial> = trials.by_ref().take(per_part).collect();
        failed += libtest_mimic::run(&args, part).num_failed;
        let pruning = std::time::Instant::now();
        match build_cache
            .as_ref()
            .map(cachet::engine::guard::restore_build_cache)
        {
            Ok(Ok(n)) => eprintln!(
                "removed {n} build-cache records the trials created, in {:.0} s",
                pruning.elapsed().as_secs_f64()
            ),
            Ok(Err(e)) => eprintln!("warning: build-cache cleanup: {e}"),
            Err(e) => eprintln!("warning: build-cache cleanup: {e}"),
        }
    }
    print_times();
    std::process::exit(if failed > 0 { 101 } else { 0 });
}
