//! Faults are data: a second host that does not answer costs only the scenarios that move cache
//! to it; the engine's single-host scenarios go on, the run ends normally and the report says
//! which scenarios were lost and why. Needs a real engine (host a); in CI a missing one fails.

mod common;

use std::collections::BTreeSet;

use harness::run::{exit_code, run_on, RunOptions};

#[test]
fn a_dead_second_host_costs_only_the_cross_host_scenarios() {
    let Some(mut inventory) = common::inventory_or_skip() else {
        return;
    };
    // Host a as it is; host b at a socket nothing listens on. No other host, so b is the only
    // second host a scenario can use.
    inventory.hosts.retain(|name, _| name == "a" || name == "b");
    let b = inventory
        .hosts
        .get_mut("b")
        .expect("the inventory has host b");
    b.endpoint = "unix:///run/cachet/cachet-test-dead-b.sock".into();
    b.tls_dir = None;
    let (seed, count) = (11, 8);
    let cross_host: BTreeSet<usize> = harness::generate::generate_scenarios(seed, count)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.transitions.iter().any(|t| t.build.host == "b"))
        .map(|(i, _)| i)
        .collect();
    assert!(
        !cross_host.is_empty() && cross_host.len() < count,
        "seed {seed} must give both kinds of scenario: {cross_host:?}"
    );
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions::new(vec!["classic@a".into()], count, seed, out.path().into());
    let report = run_on(&inventory, &options).expect("the run goes on without host b");
    assert!(report.aborted.is_empty(), "{:?}", report.aborted);
    assert_eq!(report.results.len(), count, "every scenario has a result");
    for r in &report.results {
        match (&r.lost, cross_host.contains(&r.index)) {
            (Some(why), true) => assert!(why.contains("did not answer"), "{why}"),
            (None, false) => assert!(!r.history.builds.is_empty(), "scenario {} built", r.index),
            (lost, _) => panic!("scenario {}: lost {lost:?}", r.index),
        }
    }
    assert_eq!(report.summary.lost, cross_host.len());
    assert_ne!(exit_code(&report), 3, "no engine of the run stayed down");
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(md.contains("scenarios lost to engine faults"), "{md}");
}
