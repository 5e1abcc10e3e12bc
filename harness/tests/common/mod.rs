//! What the test binaries share: `in_ci`, the one answer to whether what a test needs must be
//! there (CI) or may be missing (the test is skipped); the snapshot normaliser, whose filters come
//! from the reports themselves (the versions, salts and image ids they carry, and the test's temp
//! dirs), the hand-written report fixture, and what the real-engine tests share (the inventory,
//! running engines side by side); `edits` and `runs` hold what the engine-free suite and the
//! real-engine suite both run.
#![allow(dead_code)]

pub mod edits;
pub mod runs;

use std::path::Path;

use cachet::report::schema::Report;

/// Text replacements for snapshots: each value a report carries that differs from run to run,
/// and the placeholder that stands for it.
pub struct Redactions(Vec<(String, String)>);

impl Redactions {
    /// Filters from `reports` and the test's `tmp` dirs: engine versions become
    /// `[VERSION:ENGINE,...]` (the engines that reported that version; `#1`, `#2`, ... in the
    /// order the reports give them where the same engines reported several), salts (of the
    /// original and the shrunk histories) `[SALT]`,
    /// image ids `[IMAGE-ID]` (whole, without `sha256:`, and in their 12-character short form),
    /// temp dirs `[TMP]`, build times (`"millis": N`) `[MILLIS]`. Seeds are the test's own choice
    /// and stay.
    pub fn of(reports: &[&Report], tmp: &[&Path]) -> Redactions {
        let mut filters = Vec::new();
        for report in reports {
            for result in &report.results {
                for history in std::iter::once(&result.history).chain(&result.shrunk_history) {
                    filters.push((history.salt.clone(), "[SALT]".to_string()));
                }
                let shrunk = result.shrunk_history.iter().flat_map(|h| &h.builds);
                for build in result.history.builds.iter().chain(shrunk) {
                    let o = &build.observation;
                    for id in o.image_id.iter().chain(&o.intermediate_images) {
                        let hex = id.strip_prefix("sha256:").unwrap_or(id);
                        for value in [id.as_str(), hex, &hex[..hex.len().min(12)]] {
                            filters.push((value.to_string(), "[IMAGE-ID]".to_string()));
                        }
                    }
                }
            }
        }
        filters.extend(version_filters(reports));
        for dir in tmp {
            filters.push((dir.display().to_string(), "[TMP]".to_string()));
        }
        // Longest first, so that no value is replaced inside a longer one; never an empty value.
        filters.retain(|(value, _)| !value.is_empty());
        filters.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
        filters.dedup();
        Redactions(filters)
    }

    pub fn apply(&self, text: &str) -> String {
        let text = self
            .0
            .iter()
            .fold(text.to_string(), |s, (value, placeholder)| {
                s.replace(value, placeholder)
            });
        redact_millis(&text)
    }
}

/// Every `"millis": N` (a build's time in `report.json`) as `"millis": [MILLIS]`.
fn redact_millis(text: &str) -> String {
    const KEY: &str = "\"millis\": ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        out.push_str(&rest[..at + KEY.len()]);
        rest = rest[at + KEY.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("[MILLIS]");
    }
    out.push_str(rest);
    out
}

/// `(version, [VERSION:ENGINES])` for every version the reports' engines reported.
fn version_filters(reports: &[&Report]) -> Vec<(String, String)> {
    // In the order of first appearance: a version and the engines that reported it.
    let mut versions: Vec<(&str, Vec<&str>)> = Vec::new();
    for (engine, version) in reports.iter().flat_map(|r| &r.engines) {
        match versions.iter_mut().find(|(v, _)| v == version) {
            Some((_, names)) if names.contains(&engine.as_str()) => {}
            Some((_, names)) => names.push(engine),
            None => versions.push((version, vec![engine])),
        }
    }
    let names: Vec<String> = versions
        .iter_mut()
        .map(|(_, names)| {
            names.sort();
            names.join(",")
        })
        .collect();
    (0..versions.len())
        .map(|i| {
            let name = &names[i];
            let earlier = names[..i].iter().filter(|n| *n == name).count();
            let later = names[i + 1..].iter().filter(|n| *n == name).count();
            let placeholder = if earlier + later == 0 {
                format!("[VERSION:{name}]")
            } else {
                format!("[VERSION:{name}#{}]", earlier + 1)
            };
            (versions[i].0.to_string(), placeholder)
        })
        .collect()
}

/// The hand-written report (`tests/fixtures/report-v1.json`): a run as cachet writes it, made
/// up for these tests (its versions end in `-fixture`), with every field the schema has.
pub const FIXTURE: &str = include_str!("../fixtures/report-v1.json");

/// Where the fixture says its run wrote case files and reproducers.
pub const FIXTURE_OUT: &str = "/tmp/cachet-fixture";

pub fn fixture() -> Report {
    Report::from_json(FIXTURE, Path::new("tests/fixtures/report-v1.json")).expect("fixture reads")
}

/// Whether this is CI, where what a test needs (engines, Chromium, a file `ci/engines up`
/// provisions) must be there and its absence fails the test: `CI` set, non-empty and neither
/// `false` nor `0`. Elsewhere a test whose needs are missing is skipped (reported as ignored).
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The inventory for the tests that drive real engines, or `None` (with the reason on stderr)
/// outside CI when there is none; in CI a missing inventory fails the test.
pub fn inventory_or_skip() -> Option<cachet::engine::inventory::Inventory> {
    match cachet::engine::load_inventory() {
        Ok(inventory) => Some(inventory),
        Err(e) => {
            assert!(!in_ci(), "no inventory in CI: {e}");
            eprintln!("skipping outside CI: {e}");
            None
        }
    }
}

/// The pid file of host b's dockerd, as `ci/engines up` starts it.
pub const DOCKERD_B_PID: &str = "/run/cachet/dockerd-b.dockerd.pid";

/// Whether `ci/engines up` started host b, so a nemesis may signal it; outside CI its absence
/// skips the test (said on stderr), in CI it fails the test.
pub fn host_b_started() -> bool {
    if Path::new(DOCKERD_B_PID).exists() {
        return true;
    }
    assert!(
        !in_ci(),
        "no {DOCKERD_B_PID}: ci/engines up did not start host b"
    );
    eprintln!("skipping outside CI: host b was not started by ci/engines");
    false
}

/// Per scenario a run finished (not lost to a fault): what it confirmed.
pub fn confirmed(
    report: &Report,
) -> std::collections::BTreeMap<usize, Vec<(usize, usize, String)>> {
    report
        .results
        .iter()
        .filter(|r| r.lost.is_none())
        .map(|r| (r.index, r.confirmed.clone()))
        .collect()
}

/// `each` on every engine, up to `threads` at once; the engines of one Podman service one after
/// another (concurrent builds on one Podman service race in its store), a dockerd's engines
/// side by side as the corpus runs them. The longest queues start first. The results come in
/// `engines`' order; a panic in `each` fails the caller once every thread has ended.
pub fn on_each_endpoint<T: Send>(
    engines: &[cachet::engine::inventory::Engine],
    threads: usize,
    each: impl Fn(&cachet::engine::inventory::Engine) -> T + Sync,
) -> Vec<T> {
    let takes_turns =
        |e: &cachet::engine::inventory::Engine| e.builder() == models::Builder::Buildah;
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, engine) in engines.iter().enumerate() {
        match groups.iter_mut().find(|g| {
            takes_turns(engine)
                && takes_turns(&engines[g[0]])
                && engines[g[0]].endpoint == engine.endpoint
        }) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    // `pop` takes from the end: the longest queue first, so it does not start last.
    groups.sort_by_key(|g| g.len());
    let queue = std::sync::Mutex::new(groups);
    let results: std::sync::Mutex<Vec<Option<T>>> =
        std::sync::Mutex::new(engines.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let Some(group) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    return;
                };
                for i in group {
                    let result = each(&engines[i]);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every engine ran"))
        .collect()
}
