//! `report.md` and `index.html` of real runs: the reference model against classic@a (agreement)
//! and a mutant model (`copy.mtime-ignored` off) against buildkit@a (a confirmed, shrunk
//! discrepancy), as `offline::reports` renders them on the model engine. Snapshots are
//! normalised by `common::Redactions`, built from the values the report carries.

use crate::common;
use crate::common::runs::agreement_and_mutant_report;
use crate::common::Redactions;
use cachet::engine::version as engine_version;

pub fn markdown_and_html_reports() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let classic = inventory.engine("classic@a").expect("classic@a");
    if let Err(e) = engine_version(&classic) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
        eprintln!("skipping outside CI: {e} (the model engine's version runs in every test run)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let report = agreement_and_mutant_report(&inventory, out.path());
    let redact = Redactions::of(&[&report], &[out.path()]);
    insta::assert_snapshot!(
        "report_md",
        redact.apply(&cachet::report::markdown(&report, out.path()))
    );
    insta::assert_snapshot!(
        "index_html",
        redact.apply(&cachet::report::html(&report, out.path()))
    );
}
