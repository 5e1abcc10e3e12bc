//! Leak check: scenarios that pass, fail and cross hosts leave every host with exactly the images,
//! containers and build-cache records it had before (the last once the run's cleanup,
//! `restore_build_cache`, has run). Needs real engines; in CI an unreachable one fails the test.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use cachet::corpus::case_file::load_case;
use cachet::run::execute::{fresh_salt, run_scenario};

pub fn scenarios_leave_no_images_containers_or_build_cache_behind() {
    let inventory = cachet::engine::load_inventory().expect("inventory");
    let engines = inventory.engines();
    let mut before = BTreeMap::new();
    for engine in &engines {
        match cachet::engine::open(engine).resource_counts() {
            Ok(counts) => {
                before.entry(engine.endpoint.clone()).or_insert(counts);
            }
            Err(e) if common::in_ci() => panic!("engine unavailable in CI: {e}"),
            Err(e) => {
                eprintln!("skipping the leak check outside CI: {e}");
                return;
            }
        }
    }
    let cache_before =
        cachet::engine::guard::snapshot_build_cache(&engines).expect("build cache lists");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    // A passing case, a failing build (missing source), a failing RUN, a cross-host push, and
    // multi-stage builds whose earlier stages are not the final image's ancestors (the classic
    // builder and Podman leave those intermediates behind unless cachet removes them).
    let failing_run = cachet::corpus::case_file::parse_case(
        Path::new("inline/failing-run.toml"),
        "name = \"failing-run\"\nshows = \"a RUN that fails\"\ndockerfile = \"FROM base\\nRUN false\\n\"\n[[build]]\n",
    )
    .expect("inline case parses");
    let mut scenarios = vec![failing_run];
    for name in [
        "copy-mode-change",
        "removed-source-fails",
        "seed-gist-selinux-cache-from",
        "copy-from-selected-path",
        "target-skips-later-stages",
        "failing-stage-stops-dependents",
    ] {
        scenarios.push(load_case(&cases.join(format!("{name}.toml"))).expect("corpus case loads"));
    }
    let under_test: Vec<_> = engines.iter().filter(|e| e.host != "b").cloned().collect();
    // Four engines at a time; every scenario has ended before anything is counted.
    let builds: usize = common::on_each_endpoint(&under_test, 4, |engine| {
        let mut builds = 0;
        for case in &scenarios {
            if cachet::run::execute::engines_for(&inventory, engine, &case.scenario).is_err() {
                continue;
            }
            let history = run_scenario(
                &inventory,
                engine,
                &case.scenario,
                &fresh_salt(("leaks", &engine.name)),
            )
            .unwrap_or_else(|e| panic!("{} on {}: {e}", case.file.name, engine.name));
            builds += history.builds.len();
        }
        builds
    })
    .into_iter()
    .sum();
    let cache_grew =
        cachet::engine::guard::build_cache_counts(&cache_before).expect("build cache lists");
    let removed =
        cachet::engine::guard::restore_build_cache(&cache_before).expect("build cache prunes");
    let cache_after =
        cachet::engine::guard::build_cache_counts(&cache_before).expect("build cache lists");
    eprintln!(
        "build-cache records per endpoint: before {:?}, after the builds {cache_grew:?}, after cleanup {cache_after:?} ({removed} removed)",
        cache_before.counts()
    );
    assert!(
        removed > 0,
        "the BuildKit builds left no build-cache records to clean up: the check would prove nothing"
    );
    assert_eq!(
        cache_before.counts(),
        cache_after,
        "build-cache records per endpoint before the builds and after cleanup"
    );
    let mut after = BTreeMap::new();
    for engine in &engines {
        after.entry(engine.endpoint.clone()).or_insert(
            cachet::engine::open(engine)
                .resource_counts()
                .expect("engine still answers"),
        );
    }
    assert!(builds > 20, "the leak check ran only {builds} builds");
    assert_eq!(
        before, after,
        "(images, containers) per host before and after {builds} builds"
    );
}
