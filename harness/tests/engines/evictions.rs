//! Build-cache evictions are data: on an engine whose BuildKit garbage-collects (Engine 28.2+ by
//! default, moby#49899), a step that missed because its record was evicted comes out
//! indeterminate, never as a discrepancy. The eviction is real: a nemesis prunes the records the
//! scenario's first build made, behind the run's back, before its second build. Needs real
//! engines; in CI an unreachable one fails the test.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use cachet::check::Verdict;
use cachet::engine::inventory::{Engine, Inventory};
use cachet::run::execute::{fresh_salt, run_scenario_with, History, Hooks};

const CASE: &str = "name = \"evicted\"\nshows = \"an identical rebuild after an eviction\"\n\
    dockerfile = \"FROM base\\nCOPY a /a\\nRUN echo evicted\\n\"\n[files.\"a\"]\ncontent = \"x\"\n\
    [[build]]\n[[build]]\n[[build]]\nmutations = [{ op = \"write\", path = \"a\", content = \"y\" }]\n";

/// Runs the case on `engine` with its GC watch as `watch` says, the nemesis (pruning every
/// record not in `keep`) before the second build when `evict`.
fn run(inventory: &Inventory, engine: &Engine, watch: bool, evict: bool) -> History {
    let case = cachet::corpus::case_file::parse_case(Path::new("inline/evicted.toml"), CASE)
        .expect("inline case parses");
    let mut engine = engine.clone();
    engine.build_cache_gc = Some(watch);
    let keep: BTreeSet<String> = cachet::engine::open(&engine)
        .build_cache_ids()
        .expect("build cache lists");
    let nemesis = |n: usize, e: &Engine| {
        if n == 1 && evict {
            let pruned = cachet::engine::open(e)
                .prune_build_cache(&keep)
                .expect("the nemesis prunes");
            assert!(pruned > 0, "the first build left records to evict");
        }
    };
    let hooks = Hooks {
        before_build: Some(&nemesis),
        ..Hooks::default()
    };
    let salt = fresh_salt(("evictions", &engine.name, watch, evict));
    run_scenario_with(inventory, &engine, &case.scenario, &salt, &hooks)
        .unwrap_or_else(|e| panic!("{} runs: {e}", engine.name))
}

fn reasons(history: &History) -> Vec<String> {
    history
        .builds
        .iter()
        .flat_map(|b| &b.verdicts)
        .filter_map(|v| match &v.verdict {
            Verdict::Indeterminate { why } => Some(why.clone()),
            _ => None,
        })
        .collect()
}

pub fn a_miss_after_an_eviction_is_indeterminate_not_a_discrepancy() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    // A BuildKit engine of the oldest and of the newest generation, through both doors.
    let wanted = ["buildkit@a", "buildx@sid"];
    let engines: Vec<Engine> = inventory
        .engines()
        .into_iter()
        .filter(|e| wanted.contains(&e.name.as_str()))
        .collect();
    assert!(
        !engines.is_empty() || !common::in_ci(),
        "none of {wanted:?} in the inventory"
    );
    let snapshot =
        cachet::engine::guard::snapshot_build_cache(&engines).expect("build cache lists");
    for engine in &engines {
        let version = cachet::engine::version(engine).expect("engine answers");
        let engine = engine.with_reported_version(&version);
        // Without the watch the eviction shows as misses the model did not expect: the nemesis
        // bites, so the test below can fail.
        let blind = run(&inventory, &engine, false, true);
        assert!(
            blind.discrepancy_count() > 0,
            "{}: pruning the records did not make the engine rebuild",
            engine.name
        );
        let watched = run(&inventory, &engine, true, true);
        assert_eq!(
            watched.discrepancy_count(),
            0,
            "{}: {watched:?}",
            engine.name
        );
        let why = reasons(&watched);
        assert!(
            !why.is_empty() && why.iter().all(|w| w.contains("evicted")),
            "{}: {why:?}",
            engine.name
        );
        assert_eq!(
            watched.builds.len(),
            2,
            "the scenario stops after the eviction"
        );
        // And watching finds no eviction where there was none: the ordinary churn of records
        // (context transfers, a changed file) is not taken for one.
        let calm = run(&inventory, &engine, true, false);
        assert_eq!(
            (
                calm.discrepancy_count(),
                calm.indeterminate_count(),
                calm.builds.len()
            ),
            (0, 0, 3),
            "{}: {calm:?}",
            engine.name
        );
    }
    cachet::engine::guard::restore_build_cache(&snapshot).expect("build cache prunes");
}
