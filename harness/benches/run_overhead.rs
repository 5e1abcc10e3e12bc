//! `cachet run` against a bare loop: the same generated scenarios on the same engine, once through
//! `cachet run` (model, observation, checking, reports) and once as plain shell scripts that
//! recreate each context and run the same builds with the docker CLI (cachet's own reproducers,
//! which do what a person would). Prints both wall times and the ratio (target <= 1.05).
//! Needs the engines of `ci/engines up`. Run: `cargo bench -p cachet --bench run_overhead`.

use std::time::Instant;

use harness::inventory::Inventory;
use harness::run::{run, RunOptions};

const SCENARIOS: usize = 12;

fn main() {
    let inventory = Inventory::load().expect("inventory");
    for name in ["classic-cli@a", "buildkit-cli@a"] {
        let engine = inventory.engine(name).expect("engine");
        let out = tempfile::tempdir().expect("temp dir");
        let options = RunOptions {
            engines: vec![name.to_string()],
            mutant: None,
            shrink_budget: 0,
            known: Some(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../cases/known/catalogue.toml"),
            ),
            fresh_check: false,
            scenarios: SCENARIOS,
            seed: 77,
            out: out.path().to_path_buf(),
            jobs: 1,
            label: None,
        };
        let started = Instant::now();
        let report = run(&options).expect("the run completes");
        let through_cachet = started.elapsed().as_secs_f64();
        let scenarios = harness::run::generate_scenarios(77, SCENARIOS);
        let mut builds = 0;
        let started = Instant::now();
        for (result, scenario) in report.results.iter().zip(&scenarios) {
            let scenario = if result.history.builds.iter().any(|b| b.host != "a") {
                scenario.clone()
            } else {
                harness::generate::fold_onto_one_host(scenario)
            };
            builds += scenario.transitions.len();
            let script =
                harness::reproduce::shell_reproducer("bare", &scenario, &engine, &result.history);
            let path = out.path().join(format!("bare-{}.sh", result.index));
            std::fs::write(&path, script).expect("script written");
            let status = std::process::Command::new("bash")
                .arg(&path)
                .env("HOST_A", &engine.endpoint)
                .env(
                    "HOST_B",
                    engine
                        .on_host(&inventory, "b")
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
        let bare = started.elapsed().as_secs_f64();
        println!(
            "{name:<15} {SCENARIOS} scenarios ({} builds via cachet, {builds} bare): cachet run {through_cachet:6.1} s, bare loop {bare:6.1} s, ratio {:.2} (target <= 1.05){}",
            report.summary.builds,
            through_cachet / bare,
            if report.summary.discrepancies + report.summary.unconfirmed > 0 {
                " (includes confirmation re-runs of discrepancies)"
            } else {
                ""
            }
        );
    }
}
