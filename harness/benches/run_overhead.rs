//! `cachet run` against a bare loop: the same generated scenarios on the same engine, once through
//! `cachet run` (model, observation, checking, reports, cleanup) and once as plain shell scripts
//! that recreate each context and run the same builds with the docker CLI (cachet's own
//! reproducers, which do what a person would), followed by the same build-cache cleanup. Prints
//! the median wall times of a few alternating rounds and their ratio (target <= 1.05).
//! Needs the engines of `ci/engines up`. Run: `cargo bench -p cachet --bench run_overhead`.

use std::time::Instant;

use cachet::engine::inventory::Inventory;
use cachet::run::{run, RunOptions};

const SCENARIOS: usize = 12;

const ROUNDS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One `cachet run` of the scenarios, then the same builds as a bare loop; both wall times.
fn round(inventory: &Inventory, name: &str, seed: u64) -> (f64, f64, usize, usize) {
    let engine = inventory.engine(name).expect("engine");
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions {
        shrink_budget: 0,
        known: cachet::corpus::known::Catalogue::BuiltIn,
        ..RunOptions::new(
            vec![name.to_string()],
            SCENARIOS,
            seed,
            out.path().to_path_buf(),
        )
    };
    let started = Instant::now();
    let report = run(&options).expect("the run completes");
    let through_cachet = started.elapsed().as_secs_f64();
    let scenarios = cachet::generate::generate_scenarios(seed, SCENARIOS);
    let mut builds = 0;
    let started = Instant::now();
    // The bare loop cleans up the build cache it made, as cachet does (else BuildKit's records
    // pile up); that cleanup is timed with it.
    let snapshot = cachet::engine::guard::snapshot_build_cache(std::slice::from_ref(&engine))
        .expect("build cache lists");
    for (result, scenario) in report.results.iter().zip(&scenarios) {
        // What cachet ran: the scenario, folded onto one host where the engine has no second.
        let scenario = if result.history.builds.iter().any(|b| b.host != "a") {
            scenario.clone()
        } else {
            cachet::generate::fold_onto_one_host(scenario)
        };
        builds += scenario.transitions.len();
        let script = cachet::run::reproduce::shell_reproducer(
            "bare",
            &scenario,
            &engine,
            // The script's echo lines (model vs cachet per step) are not builds: none here.
            &cachet::run::execute::History {
                engine: engine.name.clone(),
                salt: String::new(),
                builds: Vec::new(),
            },
            &Default::default(),
        );
        let path = out.path().join(format!("bare-{}.sh", result.index));
        std::fs::write(&path, script).expect("script written");
        let status = std::process::Command::new("bash")
            .arg(&path)
            .env("HOST_A", &engine.endpoint)
            .env(
                "HOST_B",
                engine
                    .on_host(inventory, "b")
                    .map(|e| e.endpoint)
                    .unwrap_or_default(),
            )
            .stdout(std::process::Stdio::null())
            .status()
            .expect("bash runs");
        assert!(
            status.success(),
            "bare loop script {} failed",
            path.display()
        );
    }
    cachet::engine::guard::restore_build_cache(&snapshot).expect("build cache prunes");
    let bare = started.elapsed().as_secs_f64();
    (through_cachet, bare, report.summary.builds, builds)
}

fn main() {
    let inventory = cachet::engine::load_inventory().expect("inventory");
    for name in ["classic-cli@a", "buildkit-cli@a"] {
        let (mut cachet, mut bare) = (Vec::new(), Vec::new());
        let (mut via, mut plain) = (0, 0);
        for r in 0..ROUNDS {
            let (c, b, v, p) = round(&inventory, name, 77 + r as u64);
            cachet.push(c);
            bare.push(b);
            via += v;
            plain += p;
        }
        let (c, b) = (median(cachet.clone()), median(bare.clone()));
        println!(
            "{name:<15} {ROUNDS} rounds of {SCENARIOS} scenarios ({via} builds via cachet, {plain} bare): median cachet run {c:5.1} s, bare loop {b:5.1} s, ratio {:.2} (target <= 1.05); rounds cachet {cachet:.1?} bare {bare:.1?}",
            c / b
        );
    }
}
