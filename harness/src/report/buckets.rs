//! Findings grouped by root cause: each build's first differing step is a finding (the steps after
//! it that differ the same way are its cascade, `attribute`), and findings of one signature
//! (engine kind × generation × first differing rule × cause × predicted / observed) are
//! one [`Bucket`]: its count, where it was first seen, its smallest shrunk reproducer and, if the
//! catalogue knows it, the upstream link. Run reports, `report merge`, `report diff` and
//! `report trend` all read and write buckets.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::report::attribution::{attribute, direction, verdict};
use crate::report::markup::escape;
pub use crate::report::schema::{Bucket, Signature};
use crate::report::schema::{Report, ScenarioResult, ShrinkInfo};

/// An engine's generation in a report: its profile's (`buildkit-cli:28` → `28`), else the
/// version it reported.
pub fn generation_of(report: &Report, engine: &str) -> String {
    let profile = report
        .profiles
        .iter()
        .find(|p| p.engine == engine)
        .and_then(|p| models::Profile::from_name(&p.profile));
    match profile {
        Some(p) => p.generation.label().to_string(),
        None => report.engine_version(engine).unwrap_or("?").to_string(),
    }
}

/// How a report names its run in `first_seen`: `LABEL seed N`.
pub fn run_name(report: &Report) -> String {
    match &report.label {
        Some(label) => format!("{label} seed {}", report.seed),
        None => format!("seed {}", report.seed),
    }
}

/// The mutation part of a finding's signature: its cause (`known::cause`: the mutations that
/// made the difference the model names, in whichever build), else, in reports written before
/// causes, the kinds of the mutations before its build.
fn mutation_of(result: &ScenarioResult, build: usize, step: usize) -> String {
    if let Some((_, _, cause)) = result
        .causes
        .iter()
        .find(|(b, s, _)| *b == build && *s == step)
    {
        return cause.clone();
    }
    if result.mutations.is_empty() {
        return "?".to_string();
    }
    let mut kinds: Vec<&str> = result
        .mutations
        .get(build.saturating_sub(1))
        .map(|k| k.iter().map(String::as_str).collect())
        .unwrap_or_default();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.is_empty() {
        "none".to_string()
    } else {
        kinds.join("+")
    }
}

fn size(s: &ShrinkInfo) -> (usize, usize, usize) {
    (s.builds, s.instructions, s.files)
}

/// A path under `dir` as relative to it (a path elsewhere is kept as it is).
fn under(dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Every finding of a report whose run wrote its files under `dir`, each as a bucket of one
/// (paths relative to `dir`), with the scenario it is of, in the report's order.
pub fn findings<'r>(report: &'r Report, dir: &Path) -> Vec<(&'r ScenarioResult, Bucket)> {
    let mut out = Vec::new();
    for result in &report.results {
        for root in attribute(result) {
            let (predicted, observed) = direction(result, root.build, root.step, &root.observed);
            let rule = verdict(result, root.build, root.step)
                .and_then(|v| v.predicted.cited_rule())
                .map_or("-".to_string(), |r| r.to_string());
            let bucket = Bucket {
                engine_kind: result.engine.split('@').next().unwrap_or("").to_string(),
                generation: generation_of(report, &result.engine),
                rule,
                mutation: mutation_of(result, root.build, root.step),
                predicted,
                observed,
                count: 1,
                first_seen: run_name(report),
                findings: vec![format!(
                    "{} #{} build {} step {}",
                    result.engine, result.index, root.build, root.step
                )],
                case_file: result.case_file.as_deref().map(|p| under(dir, p)),
                reproducer: result.reproducer.as_deref().map(|p| under(dir, p)),
                shrunk: result.shrunk.clone(),
                link: root.link,
            };
            out.push((result, bucket));
        }
    }
    out
}

/// The buckets of a report whose run wrote its findings under `dir` (paths in the buckets are
/// relative to `dir`), sorted by signature.
pub fn of_report(report: &Report, dir: &Path) -> Vec<Bucket> {
    let mut buckets: BTreeMap<Signature, Bucket> = BTreeMap::new();
    for (_, bucket) in findings(report, dir) {
        add(&mut buckets, bucket);
    }
    buckets.into_values().collect()
}

/// Adds a bucket to those of its signature: counts and findings add up, the first seen and the
/// first link stay, the smaller shrunk reproducer wins.
fn add(buckets: &mut BTreeMap<Signature, Bucket>, bucket: Bucket) {
    match buckets.get_mut(&bucket.signature()) {
        None => {
            buckets.insert(bucket.signature(), bucket);
        }
        Some(b) => {
            b.count += bucket.count;
            b.findings.extend(bucket.findings);
            if b.link.is_none() {
                b.link = bucket.link;
            }
            let smaller = match (&b.shrunk, &bucket.shrunk) {
                (None, Some(_)) => true,
                (Some(old), Some(new)) => size(new) < size(old),
                _ => b.case_file.is_none() && bucket.case_file.is_some(),
            };
            if smaller {
                b.shrunk = bucket.shrunk;
                b.case_file = bucket.case_file;
                b.reproducer = bucket.reproducer;
            }
        }
    }
}

/// A report's buckets: those it holds, or (a report written before buckets) those its results
/// give, its findings taken as under `dir`.
pub fn of_loaded(report: &Report, dir: &Path) -> Vec<Bucket> {
    if report.buckets.is_empty() {
        of_report(report, dir)
    } else {
        report.buckets.clone()
    }
}

/// Buckets of many runs in one list, in the order given (the first seen is the earliest run's).
pub fn merge<'a>(lists: impl IntoIterator<Item = &'a [Bucket]>) -> Vec<Bucket> {
    let mut merged = BTreeMap::new();
    for list in lists {
        for b in list {
            add(&mut merged, b.clone());
        }
    }
    merged.into_values().collect()
}

/// Re-roots the buckets' paths: each (relative to `from`, or absolute) becomes relative to `to`,
/// or absolute when `to` is `None`.
pub fn rebase(buckets: &mut [Bucket], from: &Path, to: Option<&Path>) {
    let moved = |p: &PathBuf| match to {
        Some(to) => relative_to(to, &from.join(p)),
        None => absolute(&from.join(p)),
    };
    for b in buckets {
        b.case_file = b.case_file.as_ref().map(moved);
        b.reproducer = b.reproducer.as_ref().map(moved);
    }
}

fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `to` as a path relative to the directory `from` (both taken from the working directory when
/// relative): what a page in `from` links to.
pub fn relative_to(from: &Path, to: &Path) -> PathBuf {
    let (from, to) = (absolute(from), absolute(to));
    let (a, b): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c);
    }
    out
}

/// A rule id linking to its entry on `rules.html` (written beside every page); an id the model's
/// tables do not hold (`-`) is plain text.
pub fn rule_link(rule: &str) -> String {
    if models::profiles::catalogue().any(|r| r.id.as_str() == rule) {
        format!(
            "<a class=\"rule\" href=\"rules.html#{r}\"><code>{r}</code></a>",
            r = escape(rule)
        )
    } else {
        format!("<code>{}</code>", escape(rule))
    }
}

/// Per rule id, the case files of the buckets citing it: what `rules.html` lists under a rule.
pub fn cases_by_rule(buckets: &[Bucket]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for b in buckets {
        if let Some(case) = &b.case_file {
            let list = out.entry(b.rule.clone()).or_default();
            if !list.contains(case) {
                list.push(case.clone());
            }
        }
    }
    out
}

fn status_text(b: &Bucket) -> String {
    match &b.link {
        Some(link) => format!("known: {link}"),
        None => "NEW".to_string(),
    }
}

fn path_text(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or("-".to_string(), |p| format!("`{}`", p.display()))
}

/// The buckets as a Markdown table, largest first (the headline of every page).
pub fn markdown(buckets: &[Bucket]) -> String {
    let mut md = format!(
        "## Root causes ({} buckets, {} findings)\n\n",
        buckets.len(),
        buckets.iter().map(|b| b.count).sum::<usize>()
    );
    if buckets.is_empty() {
        md.push_str("None: no confirmed discrepancy.\n");
        return md;
    }
    md.push_str("| findings | engine | generation | rule | mutation | predicted | observed | status | first seen | case file | reproducer |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for b in by_count(buckets) {
        md.push_str(&format!(
            "| {} | {} | {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            b.count,
            b.engine_kind,
            b.generation,
            b.rule,
            b.mutation,
            b.predicted,
            b.observed,
            status_text(b),
            b.first_seen,
            path_text(&b.case_file),
            path_text(&b.reproducer)
        ));
    }
    md
}

fn path_link(p: &Option<PathBuf>, label: &str) -> String {
    match p {
        Some(p) => {
            let href = escape(&p.display().to_string());
            format!("<a href=\"{href}\">{label}</a>")
        }
        None => "-".to_string(),
    }
}

/// The buckets as an HTML table, largest first: each row says NEW or KNOWN in words (with the
/// upstream link), its count in a `data-count` attribute too.
pub fn html(buckets: &[Bucket]) -> String {
    let mut h = format!(
        "<h2>Root causes ({} buckets, {} findings)</h2>\n",
        buckets.len(),
        buckets.iter().map(|b| b.count).sum::<usize>()
    );
    if buckets.is_empty() {
        h.push_str("<p>None: no confirmed discrepancy.</p>\n");
        return h;
    }
    h.push_str("<table class=\"buckets\"><tr><th>findings</th><th>status</th><th>engine</th><th>generation</th><th>rule</th><th>mutation</th><th>predicted</th><th>observed</th><th>first seen</th><th>smallest reproducer</th></tr>\n");
    for b in by_count(buckets) {
        let (class, status) = match &b.link {
            Some(link) => (
                "known",
                format!(
                    "KNOWN <a href=\"{}\">{}</a>",
                    escape(crate::report::cells::url_of(link)),
                    escape(link)
                ),
            ),
            None => ("new", "NEW discrepancy".to_string()),
        };
        h.push_str(&format!(
            "<tr class=\"bucket {class}\" data-count=\"{n}\"><td class=\"count\">{n}</td><td>{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>\n",
            escape(&b.engine_kind),
            escape(&b.generation),
            rule_link(&b.rule),
            escape(&b.mutation),
            escape(&b.predicted),
            escape(&b.observed),
            escape(&b.first_seen),
            path_link(&b.case_file, "case file"),
            path_link(&b.reproducer, "reproducer"),
            n = b.count,
        ));
    }
    h.push_str("</table>\n");
    h
}

/// Largest bucket first, then by signature.
pub fn by_count(buckets: &[Bucket]) -> Vec<&Bucket> {
    let mut sorted: Vec<&Bucket> = buckets.iter().collect();
    sorted.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.signature().cmp(&b.signature()))
    });
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_descend() {
        assert_eq!(
            relative_to(Path::new("/r/merged/d"), Path::new("/r/vm/n/cases/x.toml")),
            PathBuf::from("../../vm/n/cases/x.toml")
        );
        assert_eq!(
            relative_to(Path::new("/r/a"), Path::new("/r/a/./repro/x.sh")),
            PathBuf::from("repro/x.sh")
        );
    }
}
