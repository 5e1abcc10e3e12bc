//! Nemesis: host b's dockerd is SIGKILLed in the middle of a real `cachet run` and brought back
//! by `ci/engines up`. The run waits for it (`CACHET_ENGINE_WAIT`), loses only the scenarios in
//! flight, confirms nothing the same seed without the fault does not, ends normally, and leaves
//! nothing behind. Prints the figures: scenarios completed and lost, seconds from the kill to the
//! daemon answering. Needs the engines `ci/engines up` starts (as root); in CI a missing one
//! fails the test.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cachet::run::{exit_code, run_on, RunOptions};

pub fn a_daemon_killed_mid_run_costs_only_the_scenarios_in_flight() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    if !common::host_b_started() {
        return;
    }
    let engine = inventory.engine("classic@b").expect("classic@b");
    let (seed, count) = (5, 10);
    let calm_out = tempfile::tempdir().expect("temp dir");
    let calm = run_on(
        &inventory,
        &RunOptions::new(
            vec![engine.name.clone()],
            count,
            seed,
            calm_out.path().into(),
        ),
    )
    .expect("the calm run");
    let before = cachet::engine::open(&engine)
        .resource_counts()
        .expect("host b answers");
    std::env::set_var("CACHET_ENGINE_WAIT", "300");
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions::new(vec![engine.name.clone()], count, seed, out.path().into());
    let (report, back) = std::thread::scope(|scope| {
        let run = scope.spawn(|| run_on(&inventory, &options));
        // Into the run (a scenario takes a few seconds here), then the kill.
        std::thread::sleep(Duration::from_secs(6));
        assert!(
            !run.is_finished(),
            "the run ended before the nemesis struck"
        );
        let pid = std::fs::read_to_string(common::DOCKERD_B_PID).expect("dockerd-b's pid");
        let killed = Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .expect("kill runs");
        assert!(killed.success(), "SIGKILL to dockerd-b ({})", pid.trim());
        let struck = Instant::now();
        let up = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/engines"))
            .arg("up")
            .status()
            .expect("ci/engines runs");
        assert!(up.success(), "ci/engines up brings host b back");
        let back = struck.elapsed();
        (run.join().expect("the run thread"), back)
    });
    let report = report.expect("the run ends normally");
    let lost: Vec<_> = report.results.iter().filter(|r| r.lost.is_some()).collect();
    eprintln!(
        "nemesis (dockerd-b SIGKILL): {} scenarios completed, {} lost, daemon back after {:.0} s",
        report.results.len() - lost.len(),
        lost.len(),
        back.as_secs_f64()
    );
    assert!(report.aborted.is_empty(), "{:?}", report.aborted);
    assert_eq!(report.results.len(), count, "every scenario has a result");
    assert!(
        (1..=2).contains(&lost.len()),
        "only the scenarios in flight are lost: {:?}",
        lost.iter().map(|r| (r.index, &r.lost)).collect::<Vec<_>>()
    );
    for r in &lost {
        let why = r.lost.as_deref().unwrap_or_default();
        assert!(why.contains("stopped answering"), "{why}");
    }
    // No false verdicts: what the faulted run confirmed, the calm run confirmed too.
    let calm = common::confirmed(&calm);
    for (index, found) in common::confirmed(&report) {
        assert_eq!(Some(&found), calm.get(&index), "scenario {index}");
    }
    assert_ne!(exit_code(&report), 3, "the engine came back");
    let after = cachet::engine::open(&engine)
        .resource_counts()
        .expect("host b answers");
    assert_eq!(
        after, before,
        "(images, containers) on host b: nothing leaked"
    );
}
