//! Snapshot tests of `report.md` and `index.html` from real runs: the reference model against
//! classic@a (agreement) and a mutant model (`copy.mtime-ignored` off) against buildkit@a (a
//! confirmed, shrunk discrepancy). Salts, digests, versions, seeds and temp paths are replaced by
//! named placeholders before snapshotting, as cargo's testsuite does.

use std::path::Path;

use harness::case_file::load_case;
use harness::engine::version as engine_version;
use harness::run::{run_one, Report};

fn normalize(text: &str, out: &Path) -> String {
    let mut s = text.replace(&out.display().to_string(), "[OUT]");
    // Hex runs: 64 = digests, 16 = salts, 12 = short image ids.
    let mut result = String::new();
    let mut hex = String::new();
    let flush = |hex: &mut String, result: &mut String| {
        match hex.len() {
            64 => result.push_str("[DIGEST]"),
            16 => result.push_str("[SALT]"),
            12 => result.push_str("[ID]"),
            _ => result.push_str(hex),
        }
        hex.clear();
    };
    for c in s.chars() {
        if c.is_ascii_hexdigit() && (c.is_ascii_digit() || c.is_ascii_lowercase()) {
            hex.push(c);
        } else {
            flush(&mut hex, &mut result);
            result.push(c);
        }
    }
    flush(&mut hex, &mut result);
    s = result;
    for v in ["20.10.24+dfsg1", "4.3.1"] {
        s = s.replace(v, "[VERSION]");
    }
    s.replace("seed `4242`", "seed `[SEED]`")
        .replace("seed <code>4242</code>", "seed <code>[SEED]</code>")
        .replace("--seed 4242", "--seed [SEED]")
}

#[test]
fn markdown_and_html_reports() {
    let inventory = harness::engine::load_inventory().expect("inventory");
    let classic = inventory.engine("classic@a").expect("classic@a");
    let mut buildkit = inventory.engine("buildkit@a").expect("buildkit@a");
    if let Err(e) = engine_version(&classic) {
        assert!(
            std::env::var_os("CI").is_none(),
            "engine unavailable in CI: {e}"
        );
        eprintln!("skipping outside CI: {e}");
        return;
    }
    buildkit.profile = buildkit
        .profile
        .with_switch("copy.mtime-ignored", models::Switch::Off)
        .unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let mtime = load_case(&cases.join("mtime-only-hits.toml"))
        .unwrap()
        .scenario;
    let mode = load_case(&cases.join("copy-mode-change.toml"))
        .unwrap()
        .scenario;
    let out = tempfile::tempdir().unwrap();
    let setup = harness::run::Setup {
        inventory: &inventory,
        seed: 4242,
        out: out.path(),
        shrink_budget: 30,
        known: &[],
        fresh_check: false,
    };
    let mut results = Vec::new();
    for (engine, scenarios) in [(&classic, [&mtime, &mode]), (&buildkit, [&mtime, &mode])] {
        for (index, scenario) in scenarios.into_iter().enumerate() {
            results.push(run_one(&setup, engine, "", scenario, index).unwrap());
        }
    }
    let engines = vec![
        ("buildkit@a".to_string(), engine_version(&buildkit).unwrap()),
        ("classic@a".to_string(), engine_version(&classic).unwrap()),
    ];
    let report = Report::from_results(4242, engines, results);
    assert_eq!(
        report.summary.discrepancies, 2,
        "the mutant disagrees at the touched COPY and the RUN after it"
    );
    insta::assert_snapshot!(
        "report_md",
        normalize(&harness::report::markdown(&report), out.path())
    );
    insta::assert_snapshot!(
        "index_html",
        normalize(&harness::report::html(&report), out.path())
    );
}
