//! Tests of `cachet report merge` and `cachet report diff`. Engine-free, over the hand-written
//! fixture report (`tests/fixtures/report-v1.json`) and variants of it: runs of two machines stay
//! apart by label, a version upgrade with a new discrepancy and a fixed known divergence is a
//! change, the same run is none (`engines::compare` merges and diffs real runs). Snapshots are
//! normalised by `common::Redactions`, built from the versions and ids the reports carry.

use std::path::Path;

use crate::common;
use crate::common::{fixture, Redactions};
use cachet::check::Verdict;
use cachet::engine::observe::Observed;
use cachet::report::compare::{
    diff, diff_markdown, load_run, matrix_html, matrix_markdown, merge, RunMatrix,
};
use cachet::report::schema::Report;

/// A report's matrix, as if read from the directory the fixture says its run wrote to.
fn matrix(report: &Report) -> RunMatrix {
    RunMatrix::of(report, Path::new(common::FIXTURE_OUT).join("report.json"))
}

#[test]
fn the_fixture_as_a_matrix() {
    let m = matrix(&fixture());
    assert_eq!(
        m.columns.iter().cloned().collect::<Vec<_>>(),
        vec![
            "buildkit@a/fixture-vm 1.2.3-fixture",
            "podman@podman/fixture-vm 9.8.7-fixture"
        ]
    );
    let cell = |rule: &str, column: &str| m.cells[rule][column].clone();
    let bk = "buildkit@a/fixture-vm 1.2.3-fixture";
    let podman = "podman@podman/fixture-vm 9.8.7-fixture";
    assert_eq!(
        (
            cell("copy.checksum", bk).checked,
            cell("copy.checksum", bk).disagreed
        ),
        (2, 1)
    );
    assert_eq!(
        (
            cell("copy.checksum", podman).checked,
            cell("copy.checksum", podman).disagreed
        ),
        (1, 1)
    );
    // A discrepancy a re-run did not show again is neither agreement nor disagreement.
    assert_eq!(cell("text.literal", podman).checked, 1);
    // A step the model does not check is a row, never checked.
    assert_eq!(cell("bk.metadata-free", bk).checked, 0);
    // The RUN after the stale COPY differs only because of it: a cascade, blamed on no rule.
    assert_eq!(m.discrepancies.len(), 2, "{:?}", m.discrepancies);
    assert_eq!(m.cells["cascade"][bk].disagreed, 0, "cascade held");
    assert_eq!(m.known.len(), 1, "two steps, one divergence: {:?}", m.known);
}

#[test]
fn runs_from_two_machines_stay_apart_by_label() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, label: &str| {
        let mut report = fixture();
        report.label = Some(label.to_string());
        let path = dir.path().join(name);
        std::fs::write(&path, report.to_json().unwrap()).unwrap();
        load_run(&path).unwrap()
    };
    let merged = merge(&[write("1.json", "debian 12"), write("2.json", "centos-9")]);
    assert_eq!(merged.columns.len(), 4, "{:?}", merged.columns);
    assert!(merged
        .columns
        .contains("buildkit@a/debian-12 1.2.3-fixture"));
    assert!(merged.columns.contains("buildkit@a/centos-9 1.2.3-fixture"));
    assert_eq!(merged.cells["copy.checksum"].len(), 4);
}

/// The fixture after an upgrade of buildkit@a: a new version, the stale sync fixed (the known
/// divergence gone, those steps rebuilt as predicted), and a new confirmed discrepancy: scenario
/// 0's first COPY served from cache where nothing was cached.
fn upgraded() -> Report {
    let mut report = fixture();
    // Its buckets are those its changed results give.
    report.buckets.clear();
    report.engines[0].1 = "1.3.0-fixture".to_string();
    let fixed = &mut report.results[1];
    fixed.known.clear();
    for v in &mut fixed.history.builds[1].verdicts {
        if v.verdict == Verdict::Discrepancy {
            v.verdict = Verdict::Agree;
            v.observed = Some(Observed::Rebuilt);
        }
    }
    let broken = &mut report.results[0];
    let step = &mut broken.history.builds[0].verdicts[1];
    step.verdict = Verdict::Discrepancy;
    step.observed = Some(Observed::Cached);
    broken.confirmed.push((1, 2, "cached".to_string()));
    report
}

#[test]
fn an_upgrade_is_a_change_and_the_same_run_is_none() {
    let (old, new) = (fixture(), upgraded());
    assert!(diff(&matrix(&old), &matrix(&old)).is_empty());
    let d = diff(&matrix(&old), &matrix(&new));
    let changed: Vec<_> = d
        .rules
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()))
        .collect();
    let (bk_old, bk_new) = (
        "(buildkit@a/fixture-vm 1.2.3-fixture)",
        "(buildkit@a/fixture-vm 1.3.0-fixture)",
    );
    let row = |rule, o: &str, n: &str| {
        (
            rule,
            "buildkit@a/fixture-vm",
            format!("{o} {bk_old}"),
            format!("{n} {bk_new}"),
        )
    };
    // `cascade` held: the RUN after the stale COPY differed only because of it, so it was not
    // counted against `cascade` before; after the fix it is checked (`-` → `ok`, coverage).
    let expected = [
        row("copy.checksum", "DIFF", "ok"),
        row("text.literal", "ok", "DIFF"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(r, e, o, n)| (*r, *e, o.as_str(), n.as_str()))
        .collect();
    assert_eq!(changed, expected, "podman@podman did not change: {d:?}");
    let triple = |rule: &str, at: &str| {
        (
            "buildkit@a/fixture-vm".to_string(),
            rule.to_string(),
            at.to_string(),
        )
    };
    assert_eq!(d.appeared, vec![triple("text.literal", "COPY a /a")]);
    // The headline: one new root cause, and the known one fixed.
    let titles =
        |b: &[cachet::report::buckets::Bucket]| b.iter().map(|b| b.title()).collect::<Vec<_>>();
    assert_eq!(
        titles(&d.buckets_appeared),
        ["buildkit 20.10: text.literal after none, predicted rebuilt, observed cached"]
    );
    assert_eq!(
        titles(&d.buckets_vanished),
        ["buildkit 20.10: copy.checksum after write-same-size, predicted rebuilt, observed cached"]
    );
    assert_eq!(d.vanished, vec![triple("copy.checksum", "COPY a /a")]);
    assert!(d.known_appeared.is_empty(), "{d:?}");
    assert_eq!(
        d.coverage,
        vec![row("cascade", "-", "ok")]
            .into_iter()
            .map(|(r, e, o, n)| (r.to_string(), e.to_string(), o, n))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        d.known_vanished,
        vec![(
            "buildkit@a/fixture-vm".to_string(),
            "cached".to_string(),
            "https://github.com/moby/buildkit/issues/4817".to_string()
        )]
    );
    let both = [&old, &new];
    let redact = Redactions::of(&both, &[Path::new(common::FIXTURE_OUT)]);
    let md = redact.apply(&diff_markdown(&d));
    assert!(
        md.contains("DIFF (buildkit@a/fixture-vm [VERSION:buildkit@a#1]) | ok (buildkit@a/fixture-vm [VERSION:buildkit@a#2])"),
        "the old version and the new, told apart: {md}"
    );
    insta::assert_snapshot!("fixture_diff_md", md);
    let merged = merge(&[matrix(&old), matrix(&new)]);
    insta::assert_snapshot!(
        "fixture_merged_md",
        redact.apply(&matrix_markdown(&merged, "fixture merged"))
    );
    insta::assert_snapshot!(
        "fixture_merged_html",
        redact.apply(&matrix_html(&merged, "fixture merged"))
    );
}

#[test]
fn the_fixture_buckets_two_root_causes() {
    let report = fixture();
    let buckets = cachet::report::buckets::of_report(&report, Path::new(common::FIXTURE_OUT));
    assert_eq!(
        buckets, report.buckets,
        "the fixture holds what its results give"
    );
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    let (bk, podman) = (&buckets[0], &buckets[1]);
    // Two known steps of one build: the COPY and the RUN after it, one root cause.
    assert_eq!((bk.engine_kind.as_str(), bk.count), ("buildkit", 1));
    assert_eq!(
        bk.link.as_deref(),
        Some("https://github.com/moby/buildkit/issues/4817")
    );
    assert_eq!(bk.findings, ["buildkit@a #1 build 2 step 2"]);
    assert_eq!(
        (podman.generation.as_str(), podman.rule.as_str()),
        ("5.8", "copy.checksum")
    );
    assert!(podman.link.is_none());
    assert_eq!(
        podman.case_file.as_deref(),
        Some(Path::new("cases/found-podman-7-0.toml"))
    );
    assert_eq!(podman.first_seen, "fixture vm seed 7");
}

#[test]
fn merged_buckets_add_up_and_keep_the_first_night() {
    let root = tempfile::tempdir().unwrap();
    let night = |label: &str| {
        let dir = root.path().join(label).join("2026-12-01");
        std::fs::create_dir_all(&dir).unwrap();
        let mut report = fixture();
        report.label = Some(label.to_string());
        report.buckets =
            cachet::report::buckets::of_report(&report, Path::new(common::FIXTURE_OUT));
        std::fs::write(dir.join("report.json"), report.to_json().unwrap()).unwrap();
        load_run(&dir).unwrap()
    };
    let out = root.path().join("merged/2026-12-02");
    let mut merged = merge(&[night("vm1"), night("vm2")]);
    merged.paths_relative_to(&out);
    assert_eq!(merged.buckets.len(), 2, "{:?}", merged.buckets);
    for b in &merged.buckets {
        assert_eq!(b.count, 2);
        assert_eq!(b.first_seen, "vm1 seed 7");
    }
    let case = merged.buckets[1].case_file.as_ref().expect("a case file");
    assert_eq!(
        case,
        &Path::new("../../vm1/2026-12-01/cases/found-podman-7-0.toml")
    );
    let md = matrix_markdown(&merged, "two machines");
    assert!(
        md.contains("## Root causes (2 buckets, 4 findings)"),
        "{md}"
    );
}

#[test]
fn a_report_from_before_buckets_loads_and_gives_them() {
    let mut value: serde_json::Value = serde_json::from_str(common::FIXTURE).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("buckets");
    for r in object["results"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("mutations");
    }
    let old = Report::from_json(&value.to_string(), Path::new("old.json")).expect("loads");
    assert!(old.buckets.is_empty());
    let m = matrix(&old);
    assert_eq!(
        m.buckets.len(),
        2,
        "derived from the results: {:?}",
        m.buckets
    );
    assert!(m.buckets.iter().all(|b| b.mutation == "?"));
}

#[test]
fn a_bad_report_stops_merge_as_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("report.json"),
        "{\"format_version\": 1, \"seed\": 1}",
    )
    .unwrap();
    let e = load_run(dir.path()).expect_err("refused");
    assert_eq!(e.exit_code(), cachet::error::EXIT_BAD_INPUT);
    assert!(e.to_string().contains("missing field `engines`"), "{e}");
    let e = load_run(Path::new("/nonexistent/run")).expect_err("no such run");
    assert_eq!(e.exit_code(), cachet::error::EXIT_BAD_INPUT);
}

/// Writes `report` as the night `date` of machine `label` under `root`, as `ci/nightly` does.
fn write_night(root: &Path, label: &str, date: &str, mut report: Report) {
    let dir = root.join(label).join(date);
    std::fs::create_dir_all(&dir).unwrap();
    report.label = Some(label.to_string());
    report.buckets = cachet::report::buckets::of_report(&report, Path::new(common::FIXTURE_OUT));
    std::fs::write(dir.join("report.json"), report.to_json().unwrap()).unwrap();
}

fn cachet(args: &[&str]) -> i32 {
    let cli = <cachet::cli::Cli as clap::Parser>::try_parse_from([&["cachet"], args].concat())
        .expect("the command line parses");
    cachet::cli::main_with(cli).unwrap_or_else(|e| e.exit_code())
}

#[test]
fn the_trend_of_two_nights_says_what_is_new() {
    let root = tempfile::tempdir().unwrap();
    write_night(root.path(), "vm1", "2026-12-01", fixture());
    write_night(root.path(), "vm1", "2026-12-02", upgraded());
    write_night(root.path(), "vm2", "2026-12-02", fixture());
    let out = root.path().join("merged/2026-12-02");
    let trend = cachet::report::trend::trend(root.path(), &out).unwrap();
    let dates: Vec<&str> = trend.nights.iter().map(|n| n.date.as_str()).collect();
    assert_eq!(dates, ["2026-12-01", "2026-12-02"]);
    let (first, last) = (&trend.nights[0], &trend.nights[1]);
    // Per engine kind and generation: buckets, findings, scenarios.
    assert_eq!(first.series["buildkit 20.10"], (1, 1, 2));
    assert_eq!(
        last.series["buildkit 20.10"],
        (2, 2, 4),
        "vm1's new one, vm2's known one"
    );
    assert_eq!(
        last.series["podman 5.8"],
        (1, 2, 4),
        "one cause on two machines"
    );
    let new = last
        .buckets
        .iter()
        .find(|b| b.rule == "text.literal")
        .expect("the new bucket");
    assert_eq!(new.first_seen, "2026-12-02");
    let old = last
        .buckets
        .iter()
        .find(|b| b.engine_kind == "podman")
        .unwrap();
    assert_eq!(old.first_seen, "2026-12-01", "seen the night before");
    assert_eq!(
        old.case_file.as_deref(),
        Some(Path::new(
            "../../vm1/2026-12-02/cases/found-podman-7-0.toml"
        )),
        "relative to the trend's pages: the night's own (vm1 and vm2 shrank to the same size: \
         the first kept)"
    );
    let changes = cachet::report::trend::changes_markdown(&trend);
    assert!(
        changes.contains("**1 new bucket(s) appeared:**"),
        "{changes}"
    );
    assert!(changes.contains("text.literal after none"), "{changes}");
    let html = cachet::report::trend::html(&trend);
    assert_eq!(
        html.matches("<svg").count(),
        2 * last.series.len(),
        "{html}"
    );
    assert!(!html.contains("<script"));

    let out = out.to_str().unwrap();
    let root = root.path().to_str().unwrap();
    assert_eq!(cachet(&["report", "trend", root, "--out", out]), 0);
    for name in ["trend.html", "trend.json", "changes.md", "rules.html"] {
        assert!(Path::new(out).join(name).is_file(), "{name}");
    }
    let empty = tempfile::tempdir().unwrap();
    let e = cachet::report::trend::trend(empty.path(), Path::new(out)).expect_err("no nights");
    assert_eq!(e.exit_code(), cachet::error::EXIT_BAD_INPUT);
    std::fs::write(Path::new(root).join("vm2/2026-12-02/report.json"), "{").unwrap();
    assert_eq!(
        cachet(&["report", "trend", root, "--out", out]),
        cachet::error::EXIT_BAD_INPUT,
        "a malformed night is bad input"
    );
}
