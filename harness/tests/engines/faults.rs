//! Faults are data: a second host or a registry that does not answer costs only the scenarios
//! that move cache through it; the engine's single-host scenarios go on, the run ends normally and the report says
//! which scenarios were lost and why. Needs a real engine (host a); in CI a missing one fails.

use crate::common;

use std::collections::BTreeSet;

use cachet::engine::inventory::Inventory;
use cachet::run::{exit_code, run_on, RunOptions};

/// Runs `count` scenarios of `seed` on classic@a with `inventory` and asserts that exactly the
/// scenarios with a build that `needs` the dead part are lost, each saying `why`.
fn only_cross_host_scenarios_lost(
    inventory: &Inventory,
    (seed, count): (u64, usize),
    needs: fn(&models::scenario::Transition) -> bool,
    why: &str,
) {
    let cross_host: BTreeSet<usize> = cachet::generate::generate_scenarios(seed, count)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.transitions.iter().any(needs))
        .map(|(i, _)| i)
        .collect();
    assert!(
        !cross_host.is_empty() && cross_host.len() < count,
        "seed {seed} must give both kinds of scenario: {cross_host:?}"
    );
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions::new(vec!["classic@a".into()], count, seed, out.path().into());
    let report = run_on(inventory, &options).expect("the run goes on");
    assert!(report.aborted.is_empty(), "{:?}", report.aborted);
    assert_eq!(report.results.len(), count, "every scenario has a result");
    for r in &report.results {
        match (&r.lost, cross_host.contains(&r.index)) {
            (Some(lost), true) => assert!(lost.contains(why), "{lost}"),
            (None, false) => assert!(!r.history.builds.is_empty(), "scenario {} built", r.index),
            (lost, _) => panic!("scenario {}: lost {lost:?}", r.index),
        }
    }
    assert_eq!(report.summary.lost, cross_host.len());
    assert_ne!(exit_code(&report), 3, "no engine of the run stayed down");
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(md.contains("scenarios lost to engine faults"), "{md}");
}

/// The loaded inventory with only hosts a and b, so b is the only second host.
fn hosts_a_and_b() -> Option<Inventory> {
    let mut inventory = common::inventory_or_skip()?;
    inventory.hosts.retain(|name, _| name == "a" || name == "b");
    assert!(
        inventory.hosts.contains_key("b"),
        "the inventory has host b"
    );
    Some(inventory)
}

pub fn a_dead_second_host_costs_only_the_cross_host_scenarios() {
    let Some(mut inventory) = hosts_a_and_b() else {
        return;
    };
    let b = inventory.hosts.get_mut("b").expect("host b");
    b.endpoint = "unix:///run/cachet/cachet-test-dead-b.sock".into();
    b.tls_dir = None;
    only_cross_host_scenarios_lost(
        &inventory,
        (11, 8),
        |t| t.build.host == "b",
        "did not answer when the run started",
    );
}

pub fn a_dead_registry_costs_only_the_cross_host_scenarios() {
    let Some(mut inventory) = hosts_a_and_b() else {
        return;
    };
    // Nothing listens there: the cross-host scenarios push to it and import from it.
    inventory.registry = Some("127.0.0.1:5999".into());
    // The first build of a cross-host scenario pushes, later ones import: either needs it.
    only_cross_host_scenarios_lost(
        &inventory,
        (11, 8),
        |t| t.build.options.push.is_some() || !t.build.options.cache_from.is_empty(),
        "127.0.0.1:5999",
    );
}
