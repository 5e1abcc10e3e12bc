//! The end of `cachet run` on the terminal: the run's buckets one line each, NEW ones first, then
//! where the pages are and the reproducer to try first. What a person reads before opening
//! anything (`report.json`, `index.html`) says what the night found.

use std::path::Path;

use crate::report::schema::{Bucket, Report};

/// The lines that close a run whose reports are in `out`: a heading and one line per bucket, the
/// pages' path, and the first NEW bucket's reproducer (if it has one).
pub fn lines(report: &Report, out: &Path) -> Vec<String> {
    let mut buckets: Vec<&Bucket> = report.buckets.iter().collect();
    // NEW before KNOWN; within each, the most findings first, then the table's own order.
    buckets.sort_by_key(|b| (b.link.is_some(), std::cmp::Reverse(b.count)));
    let mut lines = Vec::new();
    if buckets.is_empty() {
        lines.push("buckets: none (no confirmed discrepancy)".to_string());
    } else {
        let new = buckets.iter().filter(|b| b.link.is_none()).count();
        lines.push(format!(
            "buckets: {} ({new} NEW, {} KNOWN)",
            buckets.len(),
            buckets.len() - new
        ));
        lines.extend(buckets.iter().map(|b| bucket_line(b)));
    }
    lines.push(format!("pages: {}", out.join("index.html").display()));
    let first_new = buckets
        .iter()
        .find(|b| b.link.is_none())
        .and_then(|b| b.reproducer.as_ref());
    if let Some(script) = first_new {
        lines.push(format!(
            "reproduce the first NEW bucket: bash {}",
            out.join(script).display()
        ));
    }
    lines
}

/// `  NEW   buildx 28  copy.checksum  after xattr: cached → rebuilt  (2 findings: buildx@sid #4 build 3 step 2, …)`
fn bucket_line(b: &Bucket) -> String {
    let status = if b.link.is_some() { "KNOWN" } else { "NEW" };
    let change = match b.mutation.as_str() {
        "none" => "no change".to_string(),
        "?" => "change not recorded".to_string(),
        m => format!("after {m}"),
    };
    let mut line = format!(
        "  {status:<5} {} {}  {}  {change}: {} → {}",
        b.engine_kind, b.generation, b.rule, b.predicted, b.observed
    );
    let first = b
        .findings
        .first()
        .map_or(String::new(), |f| format!(": {f}"));
    let more = if b.findings.len() > 1 { ", …" } else { "" };
    let noun = if b.count == 1 { "finding" } else { "findings" };
    line.push_str(&format!("  ({} {noun}{first}{more})", b.count));
    if let Some(link) = &b.link {
        line.push_str(&format!("  {link}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::schema::{Summary, SCHEMA_VERSION};

    fn bucket(kind: &str, rule: &str, mutation: &str, count: usize, link: Option<&str>) -> Bucket {
        Bucket {
            engine_kind: kind.to_string(),
            generation: "28".to_string(),
            rule: rule.to_string(),
            mutation: mutation.to_string(),
            predicted: "cached".to_string(),
            observed: "rebuilt".to_string(),
            count,
            first_seen: "seed 9".to_string(),
            findings: (0..count)
                .map(|n| format!("{kind}@sid #{} build 3 step 2", n + 4))
                .collect(),
            case_file: None,
            reproducer: Some(format!("repro/found-{kind}-9-{count}.sh").into()),
            shrunk: None,
            link: link.map(str::to_string),
        }
    }

    fn check(buckets: Vec<Bucket>, expect: &str) {
        let report = Report {
            format_version: SCHEMA_VERSION,
            seed: 9,
            engines: Vec::new(),
            summary: Summary::default(),
            results: Vec::new(),
            label: None,
            aborted: Vec::new(),
            profiles: Vec::new(),
            buckets,
            catalogue: None,
            partial: false,
        };
        let got = lines(&report, Path::new("/tmp/night")).join("\n");
        assert_eq!(got, expect.trim_start_matches('\n'));
    }

    #[test]
    fn new_buckets_come_first_with_the_reproducer_to_try() {
        check(
            vec![
                bucket("buildkit-cli", "copy.checksum", "xattr", 3, Some("https://github.com/moby/buildkit/issues/4817")),
                bucket("buildx", "copy.checksum", "chmod", 1, None),
                bucket("classic", "text.literal", "none", 2, None),
            ],
            "
buckets: 3 (2 NEW, 1 KNOWN)
  NEW   classic 28  text.literal  no change: cached → rebuilt  (2 findings: classic@sid #4 build 3 step 2, …)
  NEW   buildx 28  copy.checksum  after chmod: cached → rebuilt  (1 finding: buildx@sid #4 build 3 step 2)
  KNOWN buildkit-cli 28  copy.checksum  after xattr: cached → rebuilt  (3 findings: buildkit-cli@sid #4 build 3 step 2, …)  https://github.com/moby/buildkit/issues/4817
pages: /tmp/night/index.html
reproduce the first NEW bucket: bash /tmp/night/repro/found-classic-9-2.sh",
        );
    }

    #[test]
    fn a_clean_run_says_so_and_only_known_buckets_offer_no_reproducer() {
        check(
            Vec::new(),
            "
buckets: none (no confirmed discrepancy)
pages: /tmp/night/index.html",
        );
        check(
            vec![bucket("buildx", "copy.checksum", "?", 1, Some("https://example.org/1"))],
            "
buckets: 1 (0 NEW, 1 KNOWN)
  KNOWN buildx 28  copy.checksum  change not recorded: cached → rebuilt  (1 finding: buildx@sid #4 build 3 step 2)  https://example.org/1
pages: /tmp/night/index.html",
        );
    }
}
