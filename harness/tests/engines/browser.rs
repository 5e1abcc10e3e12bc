//! The morning pages in a real browser: `index.html` of runs on mutant model engines (no daemon:
//! `engine::model`), the `merged.html` and `trend.html` of two nights of them, and the
//! `rules.html` beside each, opened in headless Chromium (`--dump-dom`). Every link resolves (a
//! relative href names a file that exists, an anchor an element of the page it points into) and
//! the bucket counts in the DOM are those of `report.json` / `merged.json`. In CI
//! (`common::in_ci`) a missing Chromium fails the test; elsewhere the test is reported as ignored
//! (`gate`). Snapshots of the pages are normalised by `common::Redactions` (values the reports
//! carry) and the test's temp dir.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Redactions;
use cachet::engine::model;
use cachet::report::schema::Report;
use cachet::run::{run_on, RunOptions};

/// Chromium's binary, or `None` (with why on stderr) outside CI; in CI its absence fails.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(
            !common::in_ci(),
            "no chromium on PATH in CI: `ci/engines up` installs it (Debian package `chromium`)"
        );
        eprintln!("skipping outside CI: no chromium on PATH (apt-get install chromium)");
    }
    found
}

/// The DOM Chromium builds from a page (scripts would run; the pages have none).
fn dump_dom(chromium: &Path, page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("</html>"),
        "chromium on {}: {}\n{}",
        page.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The values of every `NAME="..."` attribute in a DOM, unescaped.
fn attributes(dom: &str, name: &str) -> Vec<String> {
    let key = format!(" {name}=\"");
    dom.match_indices(&key)
        .filter_map(|(at, _)| {
            let rest = &dom[at + key.len()..];
            rest.find('"').map(|end| rest[..end].replace("&amp;", "&"))
        })
        .collect()
}

/// Every link of a page resolves: external ones are left alone, a relative path names a file
/// that exists (beside the page), an anchor an `id` of the page it points into. Returns how
/// many relative links were followed.
fn links_resolve(dom: &str, page: &Path) -> usize {
    let dir = page.parent().unwrap();
    let mut followed = 0;
    for href in attributes(dom, "href") {
        if href.starts_with("http://") || href.starts_with("https://") {
            continue;
        }
        let (path, anchor) = href.split_once('#').unwrap_or((&href, ""));
        let target = if path.is_empty() {
            page.to_path_buf()
        } else {
            dir.join(path)
        };
        assert!(
            target.is_file(),
            "{}: link {href} names no file",
            page.display()
        );
        if !anchor.is_empty() {
            let text = std::fs::read_to_string(&target).unwrap();
            assert!(
                text.contains(&format!("id=\"{anchor}\"")),
                "{}: link {href}: no such anchor",
                page.display()
            );
        }
        followed += 1;
    }
    followed
}

/// The bucket counts a page shows (`data-count` of its bucket rows), sorted.
fn dom_counts(dom: &str) -> Vec<usize> {
    let mut counts: Vec<usize> = attributes(dom, "data-count")
        .iter()
        .map(|c| c.parse().expect("a count"))
        .collect();
    counts.sort_unstable();
    counts
}

fn counts(buckets: &[cachet::report::buckets::Bucket]) -> Vec<usize> {
    let mut counts: Vec<usize> = buckets.iter().map(|b| b.count).collect();
    counts.sort_unstable();
    counts
}

/// The seed `tests/pipeline.rs` uses: its first 16 scenarios catch both mutants below (seed 7
/// did until the generator of issue #15).
const SEED: u64 = 3;

/// A run of generated scenarios of `seed` on a model engine with `mutant` off, as `ci/nightly`
/// lays a night out: `root/LABEL/DATE/`.
fn night(
    root: &Path,
    label: &str,
    date: &str,
    seed: u64,
    mutant: &str,
    engine: &str,
) -> (Report, PathBuf) {
    let out = root.join(label).join(date);
    let inventory = model::inventory(Some(mutant));
    // Enough scenarios for the seed to catch these mutants (as `tests/pipeline.rs` measured).
    let mut options = RunOptions::new(vec![engine.to_string()], 16, seed, out.clone());
    options.shrink_budget = 20;
    options.label = Some(label.to_string());
    let report = run_on(&inventory, &options).expect("the run runs");
    (report, out)
}

fn cachet(args: &[&str]) -> i32 {
    let cli = <cachet::cli::Cli as clap::Parser>::try_parse_from([&["cachet"], args].concat())
        .expect("the command line parses");
    cachet::cli::main_with(cli).unwrap_or_else(|e| e.exit_code())
}

/// A night's report and where it is, checked in Chromium: every link of `index.html` and of
/// `rules.html` resolves, and `index.html` shows the buckets `report.json` holds.
fn check_run_pages(chromium: &Path, report: &Report, out: &Path) -> String {
    let page = out.join("index.html");
    let dom = dump_dom(chromium, &page);
    assert!(
        links_resolve(&dom, &page) > 0,
        "index.html links its findings"
    );
    let (written, _) = cachet::report::schema::load(out).unwrap();
    assert_eq!(&written, report);
    assert_eq!(
        dom_counts(&dom),
        counts(&written.buckets),
        "{}",
        page.display()
    );
    assert!(!written.buckets.is_empty(), "a mutant run has findings");
    let rules = out.join("rules.html");
    let rules_dom = dump_dom(chromium, &rules);
    links_resolve(&rules_dom, &rules);
    dom
}

pub fn the_morning_pages_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let first = night(
        root.path(),
        "vm1",
        "2026-12-01",
        SEED,
        "copy.mtime-ignored",
        "buildkit@a",
    );
    let second = night(
        root.path(),
        "vm1",
        "2026-12-02",
        SEED,
        "copy.mtime-ignored",
        "buildkit@a",
    );
    let other = night(
        root.path(),
        "vm2",
        "2026-12-02",
        SEED,
        "run.opaque",
        "classic-cli@a",
    );
    let mut index = String::new();
    for (report, out) in [&first, &second, &other] {
        index = check_run_pages(&chromium, report, out);
    }
    let merged = root.path().join("merged/2026-12-02");
    let (m, o) = (
        merged.to_str().unwrap(),
        [&second.1, &other.1].map(|p| p.to_str().unwrap()),
    );
    assert_eq!(cachet(&["report", "merge", o[0], o[1], "--out", m]), 0);
    assert_eq!(
        cachet(&["report", "trend", root.path().to_str().unwrap(), "--out", m]),
        0
    );
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(merged.join(name)).unwrap()).unwrap()
    };
    let json_counts = |buckets: &serde_json::Value| -> Vec<usize> {
        let mut c: Vec<usize> = buckets
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap() as usize)
            .collect();
        c.sort_unstable();
        c
    };
    let mut pages = Vec::new();
    for (page, buckets) in [
        ("merged.html", json("merged.json")["buckets"].clone()),
        (
            "trend.html",
            json("trend.json")["nights"][1]["buckets"].clone(),
        ),
    ] {
        let path = merged.join(page);
        let dom = dump_dom(&chromium, &path);
        assert!(links_resolve(&dom, &path) > 0, "{page} links reproducers");
        assert_eq!(dom_counts(&dom), json_counts(&buckets), "{page}");
        pages.push(dom);
    }
    assert!(pages[1].contains("<svg"), "the trend is drawn");
    let rules = merged.join("rules.html");
    links_resolve(&dump_dom(&chromium, &rules), &rules);

    let reports = [&first.0, &second.0, &other.0];
    let redact = Redactions::of(&reports, &[root.path()]);
    insta::assert_snapshot!(
        "other_index_html",
        redact.apply(&std::fs::read_to_string(other.1.join("index.html")).unwrap())
    );
    insta::assert_snapshot!(
        "merged_html",
        redact.apply(&std::fs::read_to_string(merged.join("merged.html")).unwrap())
    );
    assert!(index.contains("</html>"));
}
