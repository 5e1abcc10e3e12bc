//! `cachet report merge` and `cachet report diff` on real runs: classic@a and classic@b stand in
//! for two hosts (merged into one matrix), classic-cli@a and buildkit-cli@a for an engine upgrade
//! (diffed rule by rule, with the catalogue's known divergences). Snapshots are normalised by
//! `common::Redactions`, built from the versions and ids the runs' reports carry.

use std::path::Path;

use crate::common;
use crate::common::Redactions;
use cachet::corpus::case_file::load_case;
use cachet::engine::inventory::{Engine, Inventory};
use cachet::engine::version as engine_version;
use cachet::report::compare::{diff, diff_markdown, load_run, matrix_html, matrix_markdown, merge};
use cachet::report::schema::Report;
use cachet::run::{run_one, Setup};

const CASES: &[&str] = &[
    "copy-mode-change",
    "mtime-only-hits",
    "same-size-content-mtime-kept",
];

/// Runs the corpus cases on one engine as `cachet run` would, and writes the run's reports.
fn real_run(inventory: &Inventory, engine: &Engine, out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let known = cachet::corpus::known::load_catalogue(&root.join("cases/known/catalogue.toml"))
        .expect("the catalogue loads");
    let setup = Setup {
        inventory,
        seed: 99,
        out,
        shrink_budget: 0,
        known: &known,
        fresh_check: false,
        down: Default::default(),
        shadows: Default::default(),
        kinds_on_several_hosts: Default::default(),
    };
    let version = engine_version(engine).expect("engine answers");
    let results = CASES
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let case = load_case(&root.join(format!("cases/{name}.toml"))).expect("case loads");
            run_one(&setup, engine, &version, &case.scenario, index).expect("scenario runs")
        })
        .collect();
    let report = Report::from_results(99, vec![(engine.name.clone(), version)], results);
    cachet::report::write_reports(&report, out).expect("reports written");
}

pub fn merge_of_two_hosts_and_diff_of_an_engine_change() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engine = |name: &str| inventory.engine(name).expect("engine in the inventory");
    let engines = [
        engine("classic@a"),
        engine("classic@b"),
        engine("classic-cli@a"),
        engine("buildkit-cli@a"),
    ];
    if let Some(e) = engines.iter().find_map(|e| engine_version(e).err()) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
        eprintln!("skipping outside CI: {e}");
        return;
    }
    let dirs: Vec<tempfile::TempDir> = engines
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    for (e, dir) in engines.iter().zip(&dirs) {
        real_run(&inventory, e, dir.path());
    }
    let runs: Vec<_> = dirs.iter().map(|d| load_run(d.path()).unwrap()).collect();
    let reports: Vec<Report> = dirs
        .iter()
        .map(|d| cachet::report::schema::load(d.path()).unwrap().0)
        .collect();
    let redact = |of: &[Report]| Redactions::of(&of.iter().collect::<Vec<_>>(), &[]);

    let merged = merge(&runs[..2]);
    assert_eq!(merged.columns.len(), 2, "one column per host");
    insta::assert_snapshot!(
        "merged_md",
        redact(&reports[..2]).apply(&matrix_markdown(&merged, "two hosts merged"))
    );
    insta::assert_snapshot!(
        "merged_html",
        redact(&reports[..2]).apply(&matrix_html(&merged, "two hosts merged"))
    );

    let same = diff(&runs[0], &runs[1]);
    assert!(same.is_empty(), "the same builder on two hosts: {same:?}");

    let upgrade = diff(&runs[2], &runs[3]);
    assert!(
        !upgrade.known_appeared.is_empty(),
        "the CLI's stale sync is a known divergence of buildkit-cli: {upgrade:?}"
    );
    insta::assert_snapshot!(
        "diff_md",
        redact(&reports[2..]).apply(&diff_markdown(&upgrade))
    );
}
