//! The gate of the real-engine suite: each test says what it needs (`Need`), asked once per
//! process. A test whose needs are met runs; one whose needs are missing fails in CI
//! (`common::in_ci`) with what is missing, and elsewhere is reported as ignored, never as passed,
//! with the reason said once on stderr. The tests run one at a time, as they did when each file
//! was its own test binary and cargo ran the binaries one after another: a leak check counts every
//! host's images, a nemesis stops host b. A test that sets process-wide engine settings (timeouts
//! the doors read once per process) runs in a process of its own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use cachet::engine::inventory::Inventory;
use libtest_mimic::{Arguments, Failed, Trial};

use crate::common;

/// What a test needs besides the workspace.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// The inventory loads (`CACHET_INVENTORY`, `/etc/cachet/inventory.toml` or `DOCKER_HOST`).
    Inventory,
    /// The inventory loads and one of its engines answers.
    Engines,
    /// This engine of the inventory answers.
    Engine(&'static str),
    /// This file exists (what `ci/engines up` provisions: a pid file, certificates, a config).
    File(&'static str),
    /// One of these programs is on `PATH`.
    Program(&'static [&'static str]),
}

/// A test of the suite: its name (`<module>::<function>`), what it needs, its body, and whether
/// it runs in a process of its own.
pub struct Test {
    pub name: &'static str,
    pub needs: Vec<Need>,
    pub body: fn(),
    pub own_process: bool,
}

/// Set in the process a test runs alone in (`Test::own_process`): the name of that test.
const ALONE: &str = "CACHET_TEST_ALONE";

/// Runs `tests` as libtest runs tests (the same arguments), behind the gate, and exits.
pub fn run(mut tests: Vec<Test>) -> ! {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    if let Ok(name) = std::env::var(ALONE) {
        tests.retain(|t| t.name == name && t.own_process);
        if tests.len() != 1 {
            eprintln!("error: no test {name} runs alone");
            std::process::exit(101);
        }
        args.filter = Some(name);
        args.exact = true;
    }
    let alone = std::env::var_os(ALONE).is_some();
    let trials: Vec<Trial> = tests.into_iter().map(|t| trial(t, alone)).collect();
    let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    for (why, names) in skipped.iter() {
        eprintln!(
            "ignored outside CI ({} tests; CI unset, empty, `false` or `0`): {why}",
            names.len()
        );
    }
    drop(skipped);
    libtest_mimic::run(&args, trials).exit()
}

/// The tests skipped outside CI, by the reason.
static SKIPPED: Mutex<BTreeMap<String, Vec<&'static str>>> = Mutex::new(BTreeMap::new());

/// `test` as a trial: run (in this process, or in one of its own), failed in CI (or in a process
/// of its own) for what it misses, or ignored outside CI. Run with `--ignored`, a skipped test
/// fails with its reason.
fn trial(test: Test, alone: bool) -> Trial {
    let mut whys: Vec<String> = Vec::new();
    for why in test.needs.iter().filter_map(|n| missing(*n)) {
        if !whys.contains(&why) {
            whys.push(why);
        }
    }
    let name = test.name;
    if !whys.is_empty() {
        let why = whys.join("; ");
        // In its own process a test runs because its parent found its needs met.
        if common::in_ci() || alone {
            return Trial::test(name, move || Err(format!("missing in CI: {why}").into()));
        }
        SKIPPED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(why.clone())
            .or_default()
            .push(name);
        return Trial::test(name, move || {
            Err(format!("skipped outside CI: {why}").into())
        })
        .with_ignored_flag(true);
    }
    if test.own_process && !alone {
        return Trial::test(name, move || timed(name, || in_own_process(name)));
    }
    let body = test.body;
    Trial::test(name, move || {
        timed(name, || {
            body();
            Ok(())
        })
    })
}

/// Runs `test`, then says on stderr how long it took: the suite's cost, test by test, is what CI
/// time is made of.
fn timed(name: &str, test: impl FnOnce() -> Result<(), Failed>) -> Result<(), Failed> {
    let started = std::time::Instant::now();
    let result = test();
    eprintln!("{name}: {:.0} s", started.elapsed().as_secs_f64());
    result
}

/// Runs the test `name` in a child process of this binary; it fails if the child does.
fn in_own_process(name: &str) -> Result<(), Failed> {
    let exe = std::env::current_exe().map_err(|e| format!("this test binary: {e}"))?;
    let status = Command::new(exe)
        .args(["--quiet", "--nocapture"])
        .env(ALONE, name)
        .status()
        .map_err(|e| format!("{name} in a process of its own: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name}, in a process of its own, failed: {status}").into())
    }
}

/// Why `need` is not met, or `None` when it is; asked once per process.
fn missing(need: Need) -> Option<String> {
    static ANSWERS: Mutex<BTreeMap<String, Option<String>>> = Mutex::new(BTreeMap::new());
    let key = format!("{need:?}");
    if let Some(answer) = ANSWERS.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return answer.clone();
    }
    let answer = ask(need);
    ANSWERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, answer.clone());
    answer
}

/// The inventory, loaded once, or why it does not load.
fn inventory() -> Result<&'static Inventory, String> {
    static INVENTORY: OnceLock<Result<Inventory, String>> = OnceLock::new();
    INVENTORY
        .get_or_init(|| cachet::engine::load_inventory().map_err(|e| format!("no inventory: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

fn ask(need: Need) -> Option<String> {
    match need {
        Need::Inventory => inventory().err(),
        Need::Engines => match inventory() {
            Err(why) => Some(why),
            Ok(inventory) => {
                let engines = inventory.engines();
                let answers = engines
                    .iter()
                    .any(|e| missing(Need::Engine(leak(&e.name))).is_none());
                (!answers).then(|| "no engine of the inventory answers".to_string())
            }
        },
        Need::Engine(name) => match inventory() {
            Err(why) => Some(why),
            Ok(inventory) => match inventory.engine(name) {
                Err(e) => Some(format!("no {name}: {e}")),
                Ok(engine) => cachet::engine::version(&engine)
                    .err()
                    .map(|e| format!("{name} does not answer: {e}")),
            },
        },
        Need::File(path) => {
            (!Path::new(path).exists()).then(|| format!("no {path} (`ci/engines up` makes it)"))
        }
        Need::Program(names) => {
            let paths = std::env::var_os("PATH").unwrap_or_default();
            let found = names
                .iter()
                .any(|name| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()));
            (!found).then(|| format!("none of {names:?} on PATH"))
        }
    }
}

/// An engine's name for `Need::Engine`, which names engines for the life of the process.
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}
