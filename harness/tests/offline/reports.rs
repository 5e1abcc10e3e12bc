//! Tests of the report schema and its renderings. Engine-free: the hand-written fixture
//! (`tests/fixtures/report-v1.json`) reads back and writes the same JSON, its summary is what its
//! results say, `report.md`, `index.html` and `junit.xml` render it (snapshots), bad reports are
//! refused as bad input, and `reports/README.md` names every field. On the model engine standing
//! in for the daemon (`engines::reports` runs the same on real engines): `report.md` and
//! `index.html` of the reference model against classic@a (agreement) and a mutant model
//! (`copy.mtime-ignored` off) against buildkit@a (a confirmed, shrunk discrepancy)
//! (`common::runs::agreement_and_mutant_report`). Snapshots are normalised by
//! `common::Redactions`, built from the values the report carries.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::runs::agreement_and_mutant_report;
use crate::common::{fixture, Redactions, FIXTURE, FIXTURE_OUT};
use cachet::error::EXIT_BAD_INPUT;
use cachet::report::schema::Report;

/// The same runs with the model engine (`engine::model`) playing classic@a and buildkit@a.
#[test]
fn markdown_and_html_reports_on_the_model_engine() {
    let inventory = cachet::engine::model::inventory(None);
    let out = tempfile::tempdir().unwrap();
    let report = agreement_and_mutant_report(&inventory, out.path());
    let redact = Redactions::of(&[&report], &[out.path()]);
    let md = redact.apply(&cachet::report::markdown(&report, out.path()));
    assert!(
        md.contains("[VERSION:buildkit@a]") && md.contains("[VERSION:classic@a]"),
        "{md}"
    );
    // The mutant serves the touched COPY from cache and so the RUN after it: one finding, its
    // cascade shown under it and not counted against `cascade`, which held.
    assert!(
        md.contains("| FINDING |") && md.contains("| cascade of step 2 |"),
        "{md}"
    );
    let matrix = cachet::report::conformance(&report);
    assert_eq!(matrix["cascade"]["buildkit@a"].disagreed, 0, "{md}");
    insta::assert_snapshot!("model_report_md", md);
    insta::assert_snapshot!(
        "model_index_html",
        redact.apply(&cachet::report::html(&report, out.path()))
    );
}

#[test]
fn the_fixture_reads_back_and_writes_the_same_json() {
    let report = fixture();
    assert_eq!(report.to_json().unwrap(), FIXTURE);
    assert!(
        report.engines.iter().all(|(_, v)| v.ends_with("-fixture")),
        "made up, not observed"
    );
}

#[test]
fn the_fixture_summary_is_what_its_results_say() {
    let report = fixture();
    let again = Report::from_results(report.seed, report.engines.clone(), report.results.clone());
    assert_eq!(again.summary, report.summary);
    assert_eq!(again.results, report.results, "already sorted");
}

#[test]
fn reports_written_read_back_unchanged() {
    let out = tempfile::tempdir().unwrap();
    let report = fixture();
    cachet::report::write_reports(&report, out.path()).unwrap();
    let (back, file) = cachet::report::schema::load(out.path()).unwrap();
    assert_eq!(file, out.path().join("report.json"));
    assert_eq!(back, report);
    for name in ["report.md", "index.html", "junit.xml"] {
        assert!(out.path().join(name).is_file(), "{name} written");
    }
}

#[test]
fn fixture_renderings() {
    let report = fixture();
    let md = cachet::report::markdown(&report, Path::new(FIXTURE_OUT));
    // The conformance matrix: a known discrepancy (with its link) and a new one read apart, one
    // a re-run did not show again is unconfirmed, and a step the model does not check is not a
    // row. The RUN after the stale COPY differs only because of it: counted against no rule.
    assert!(
        md.contains(
            "| `copy.checksum` | KNOWN 1/2 (https://github.com/moby/buildkit/issues/4817) | NEW 1/1 |"
        ),
        "{md}"
    );
    assert!(
        md.contains("| `cascade` | not exercised | not exercised |"),
        "{md}"
    );
    assert!(
        md.contains("| `text.literal` | ok 2 | unconfirmed 1, ok 1 |"),
        "{md}"
    );
    assert!(!md.contains("bk.metadata-free"), "{md}");
    assert!(md.contains("**podman@podman stopped early**"), "{md}");
    assert!(
        md.contains("source `a`: mode 0644 -> 0755 (copy.checksum)"),
        "{md}"
    );
    let junit = cachet::report::junit::junit(&report, Path::new(FIXTURE_OUT)).unwrap();
    // A testcase per finding (the NEW one fails, the KNOWN one is skipped with its link) and per
    // scenario without one.
    assert!(
        junit.contains("tests=\"4\" failures=\"1\" skipped=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("message=\"copy.checksum: expected rebuilt, got cached after chmod\""),
        "{junit}"
    );
    let redact = Redactions::of(&[&report], &[Path::new(FIXTURE_OUT)]);
    let html = cachet::report::html(&report, Path::new(FIXTURE_OUT));
    for text in [&md, &html, &junit] {
        let clean = redact.apply(text);
        for (_, version) in &report.engines {
            assert!(
                !clean.contains(version.as_str()),
                "{version} left in {clean}"
            );
        }
        for r in &report.results {
            assert!(!clean.contains(&r.history.salt), "salt left in {clean}");
        }
        assert!(!clean.contains(FIXTURE_OUT), "{clean}");
    }
    insta::assert_snapshot!("fixture_report_md", redact.apply(&md));
    insta::assert_snapshot!("fixture_index_html", redact.apply(&html));
    insta::assert_snapshot!("fixture_junit_xml", redact.apply(&junit));
    insta::assert_snapshot!("fixture_report_json", redact.apply(FIXTURE));
}

fn refused(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, text).unwrap();
    let e = cachet::report::schema::load(dir.path()).expect_err("refused");
    assert_eq!(e.exit_code(), EXIT_BAD_INPUT, "{e}");
    let message = e.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    message.replace(&dir.path().display().to_string(), "[TMP]")
}

#[test]
fn malformed_reports_are_bad_input_with_line_and_column() {
    let cut = &FIXTURE[..FIXTURE.len() / 2];
    let message = refused(cut);
    assert!(message.contains("EOF while parsing"), "{message}");
    assert!(
        message.contains(" line ") && message.contains(" column "),
        "{message}"
    );
    let wrong_type = FIXTURE.replacen("\"seed\": 7", "\"seed\": \"seven\"", 1);
    let message = refused(&wrong_type);
    assert!(
        message.starts_with("bad input: [TMP]/report.json: invalid type: string \"seven\""),
        "{message}"
    );
    assert!(message.ends_with("at line 3 column 17"), "{message}");
    let missing = FIXTURE.replacen("\"seed\": 7,", "", 1);
    assert!(refused(&missing).contains("missing field `seed`"));
}

#[test]
fn reports_of_another_schema_version_are_refused() {
    let newer = FIXTURE.replacen("\"format_version\": 1", "\"format_version\": 2", 1);
    assert_eq!(
        refused(&newer),
        "bad input: [TMP]/report.json: report format_version 2: this cachet reads version 1 only"
    );
    assert!(refused("{\"seed\": 1}").contains("no `format_version`: not a cachet report.json"));
    refused("[1, 2]");
}

/// The field names of `value`'s objects down to the builds of a scenario's history: `seed`,
/// `summary.builds`, `results[].history.builds[].stale`, ...
fn field_paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    let deeper = [
        "",
        "summary",
        "results[]",
        "results[].shrunk",
        "results[].history",
        "profiles[]",
        "buckets[]",
    ];
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                if deeper.contains(&prefix) || path == "results[].history.builds[]" {
                    field_paths(v, &path, out);
                }
            }
        }
        serde_json::Value::Array(items)
            if prefix.ends_with("results")
                || prefix.ends_with("builds")
                || prefix == "profiles"
                || prefix == "buckets" =>
        {
            for item in items {
                field_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_readme_documents_every_report_field() {
    let json = serde_json::to_value(fixture()).unwrap();
    let mut fields = BTreeSet::new();
    field_paths(&json, "", &mut fields);
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/README.md"))
            .unwrap();
    // The README's field table: rows `| \`path\` | meaning |`.
    let documented: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split_once('`'))
        .map(|(path, _)| path.to_string())
        .collect();
    let undocumented: Vec<_> = fields.difference(&documented).collect();
    let gone: Vec<_> = documented.difference(&fields).collect();
    assert!(
        undocumented.is_empty(),
        "fields reports/README.md does not name: {undocumented:?}"
    );
    assert!(
        gone.is_empty(),
        "reports/README.md names fields the schema lacks: {gone:?}"
    );
}
