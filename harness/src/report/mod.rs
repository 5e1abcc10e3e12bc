//! Reports of a run, rendered from its `Report` (the schema in `report::schema`): `report.json`,
//! `report.md`, `index.html` and `junit.xml`. Markdown and HTML render the same pieces: the
//! conformance matrix and step tables.

pub mod attribution;
pub mod buckets;
pub mod cells;
pub mod closing;
pub mod compare;
pub mod junit;
pub mod markup;
pub mod rules_page;
pub mod schema;
pub mod step_changes;
pub mod trend;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::check::{StepVerdict, Verdict};
use crate::error::{Error, Result};
use crate::report::cells::Cell;
use crate::report::schema::{Outcome, Report, ScenarioResult};

/// Writes `path` atomically: the text goes to a temporary file beside it, which then replaces
/// it, so a reader (or a run killed mid-write) sees the old file or the new, never half of one.
fn write(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            Error::Write {
                path: path.to_path_buf(),
                source,
            }
        })
}

/// Per rule id and engine, the matrix cell (`report::cells`): the rule of a step is the one its
/// prediction decides by; a cascade step counts against no rule.
pub fn conformance(report: &Report) -> BTreeMap<String, BTreeMap<String, Cell>> {
    let mut matrix = BTreeMap::new();
    for r in &report.results {
        crate::report::cells::count(r, &r.engine, &mut matrix, Outcome::deciding_rule);
    }
    matrix
}

fn engine_names(report: &Report) -> Vec<String> {
    report.engines.iter().map(|(e, _)| e.clone()).collect()
}

/// One row of a discrepancy table: build, step, instruction, predicted, reason, observed, differs
/// (`FINDING` at a build's first differing step, `cascade of step N` after it, `yes` for a
/// discrepancy a re-run did not confirm).
fn step_rows(result: &ScenarioResult) -> Vec<[String; 8]> {
    let roots = crate::report::attribution::attribute(result);
    let mut rows = Vec::new();
    for b in &result.history.builds {
        for v in &b.verdicts {
            let reason = match &v.predicted {
                Outcome::Rebuilt { reason } => reason.to_string(),
                _ => String::new(),
            };
            rows.push([
                b.transition.to_string(),
                v.step.to_string(),
                v.instruction.clone(),
                v.predicted.short().to_string(),
                reason,
                v.observed_short().to_string(),
                differs_text(&roots, b.transition, v),
                v.predicted
                    .cited_rule()
                    .map_or(String::new(), |r| r.to_string()),
            ]);
        }
    }
    rows
}

fn differs_text(
    roots: &[crate::report::attribution::Root],
    build: usize,
    v: &StepVerdict,
) -> String {
    if v.verdict != Verdict::Discrepancy {
        return String::new();
    }
    for root in roots.iter().filter(|r| r.build == build) {
        if root.step == v.step {
            return "FINDING".to_string();
        }
        if root.cascade.contains(&v.step) {
            return format!("cascade of step {}", root.step);
        }
    }
    "yes (unconfirmed)".to_string()
}

fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let mut line = format!(
        "{} scenarios, {} builds: {} confirmed discrepancies, {} known divergences, {} unconfirmed, {} indeterminate steps.",
        s.scenarios, s.builds, s.discrepancies, s.known, s.unconfirmed, s.indeterminate
    );
    if s.lost > 0 {
        let lost: Vec<String> = report
            .results
            .iter()
            .filter_map(|r| {
                Some(format!(
                    "{} #{}: {}",
                    r.engine,
                    r.index + 1,
                    r.lost.as_ref()?
                ))
            })
            .collect();
        line.push_str(&format!(
            " {} scenarios lost to engine faults ({}).",
            s.lost,
            lost.join("; ")
        ));
    }
    line
}

/// The report's buckets, or those its results give (a report made without them), their paths
/// relative to `dir`, where the report is written.
fn buckets_of(report: &Report, dir: &Path) -> Vec<crate::report::buckets::Bucket> {
    crate::report::buckets::of_loaded(report, dir)
}

fn findings(report: &Report) -> impl Iterator<Item = &ScenarioResult> {
    report.results.iter().filter(|r| !r.confirmed.is_empty())
}

/// The finding's suspects, if it has any: `suspects (...): `a`, `b``.
fn suspects_text(result: &ScenarioResult) -> Option<String> {
    (!result.suspects.is_empty()).then(|| {
        let rules: Vec<String> = result.suspects.iter().map(|r| format!("`{r}`")).collect();
        format!(
            "suspects (rules whose mutant does what the engine did): {}",
            rules.join(", ")
        )
    })
}

fn shrink_text(result: &ScenarioResult) -> Option<String> {
    result.shrunk.as_ref().map(|s| {
        format!(
            "shrunk to {} builds, {} instructions, {} files ({} builds spent on {} candidates)",
            s.builds, s.instructions, s.files, s.builds_spent, s.candidates_tried
        )
    })
}

/// The model profile an engine was checked against, with the note where the choice is
/// approximate; `-` in reports that do not say.
fn profile_text(report: &Report, engine: &str) -> String {
    match report.profiles.iter().find(|p| p.engine == engine) {
        Some(p) => match &p.note {
            Some(note) => format!("{} ({note})", p.profile),
            None => p.profile.clone(),
        },
        None => "-".to_string(),
    }
}

/// `report.md`; paths are links relative to `dir`, where it is written.
pub fn markdown(report: &Report, dir: &Path) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# cachet run\n\nseed `{}`\n", report.seed);
    let _ = writeln!(md, "| engine | version | model profile |\n|---|---|---|");
    for (e, v) in &report.engines {
        let _ = writeln!(md, "| {e} | {v} | {} |", profile_text(report, e));
    }
    let _ = writeln!(md, "\n**{}**\n", summary_line(report));
    for (engine, why) in &report.aborted {
        let _ = writeln!(md, "**{engine} stopped early**: {why}\n");
    }
    md.push_str(&crate::report::buckets::markdown(&buckets_of(report, dir)));
    md.push('\n');
    let engines = engine_names(report);
    let _ = writeln!(
        md,
        "## Conformance by rule\n\n{}\n\n| rule | {} |\n|---|{}",
        crate::report::cells::LEGEND,
        engines.join(" | "),
        "---|".repeat(engines.len())
    );
    for (rule, cells) in conformance(report) {
        let row: Vec<String> = engines
            .iter()
            .map(|e| cells.get(e).cloned().unwrap_or_default().markdown())
            .collect();
        let _ = writeln!(md, "| `{rule}` | {} |", row.join(" | "));
    }
    md.push('\n');
    for r in findings(report) {
        finding_markdown(r, dir, &mut md);
    }
    md
}

/// One finding in Markdown: its files as relative links, the shrunk scenario's steps first, the
/// original's folded below.
fn finding_markdown(r: &ScenarioResult, dir: &Path, md: &mut String) {
    let _ = writeln!(md, "## scenario {} on {}\n", r.index, r.engine);
    let link = |p: &Path| {
        crate::report::buckets::relative_to(dir, p)
            .display()
            .to_string()
    };
    for (label, path) in [("case file", &r.case_file), ("reproducer", &r.reproducer)] {
        if let Some(p) = path {
            let _ = writeln!(md, "{label}: [{l}]({l})  ", l = link(p));
        }
    }
    for (n, log) in r.logs.iter().enumerate() {
        let _ = writeln!(
            md,
            "raw log of build {}: [{l}]({l})  ",
            n + 1,
            l = link(log)
        );
    }
    if let Some(text) = shrink_text(r) {
        let _ = writeln!(md, "{text}");
    }
    if let Some(text) = suspects_text(r) {
        let _ = writeln!(md, "\n{text}");
    }
    match shrunk_result(r) {
        Some(shrunk) => {
            md.push_str("\n### shrunk scenario\n");
            steps_markdown(&shrunk, md);
            let _ = writeln!(
                md,
                "\n<details><summary>original scenario ({} builds)</summary>\n",
                r.history.builds.len()
            );
            steps_markdown(r, md);
            md.push_str("\n</details>\n");
        }
        None => steps_markdown(r, md),
    }
    md.push('\n');
}

fn steps_markdown(r: &ScenarioResult, md: &mut String) {
    let _ = writeln!(md, "\n| build | step | instruction | predicted | reason | observed | differs |\n|---|---|---|---|---|---|---|");
    for row in step_rows(r) {
        let _ = writeln!(
            md,
            "| {} | {} | `{}` | {} | {} | {} | {} |",
            row[0], row[1], row[2], row[3], row[4], row[5], row[6]
        );
    }
}

const HEAD: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cachet run</title>\n<style>\nbody{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}tr.diff td{background:#fdd}tr.cascade td{background:#fef0f0;color:#555}code{font-size:.95em}details{margin:1em 0}\n";

/// A static page, readable offline: the same content as `report.md`, every path a link relative
/// to `dir` (where the page is written) and every rule id a link into `rules.html` beside it.
pub fn html(report: &Report, dir: &Path) -> String {
    let e = crate::report::markup::escape;
    let mut h = String::from(HEAD);
    h.push_str(crate::report::cells::CSS);
    h.push_str("\n</style></head><body>\n");
    let _ = writeln!(
        h,
        "<h1>cachet run</h1>\n<p>seed <code>{}</code> · <a href=\"rules.html\">the model's rules</a></p>",
        report.seed
    );
    h.push_str("<table><tr><th>engine</th><th>version</th><th>model profile</th></tr>\n");
    for (name, version) in &report.engines {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            e(name),
            e(version),
            e(&profile_text(report, name))
        );
    }
    let _ = writeln!(
        h,
        "</table>\n<p><strong>{}</strong></p>",
        e(&summary_line(report))
    );
    for (engine, why) in &report.aborted {
        let _ = writeln!(
            h,
            "<p><strong>{} stopped early</strong>: {}</p>",
            e(engine),
            e(why)
        );
    }
    h.push_str(&crate::report::buckets::html(&buckets_of(report, dir)));
    matrix_html(report, &mut h);
    for r in findings(report) {
        finding_html(r, dir, &mut h);
    }
    h.push_str("</body></html>\n");
    h
}

fn matrix_html(report: &Report, h: &mut String) {
    let engines = engine_names(report);
    let _ = writeln!(
        h,
        "<h2>Conformance by rule</h2>\n<p>{}</p>",
        crate::report::markup::escape(crate::report::cells::LEGEND)
    );
    h.push_str("<table><tr><th>rule</th>");
    for name in &engines {
        let _ = write!(h, "<th>{}</th>", crate::report::markup::escape(name));
    }
    h.push_str("</tr>\n");
    for (rule, cells) in conformance(report) {
        let _ = write!(
            h,
            "<tr><td>{}</td>",
            crate::report::buckets::rule_link(&rule)
        );
        for name in &engines {
            h.push_str(&cells.get(name).cloned().unwrap_or_default().html());
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// A link to a file the run wrote, relative to the page's directory.
fn file_link(dir: &Path, path: &Path, label: &str) -> String {
    let href = crate::report::buckets::relative_to(dir, path);
    format!(
        "<a href=\"{}\">{}</a>",
        crate::report::markup::escape(&href.display().to_string()),
        crate::report::markup::escape(label)
    )
}

/// One finding: its files as links, what shrinking left and its suspects, the shrunk scenario's
/// steps first and the original's folded below.
fn finding_html(r: &ScenarioResult, dir: &Path, h: &mut String) {
    let _ = writeln!(
        h,
        "<h2 id=\"{}-{}\">scenario {} on {}</h2>",
        crate::report::markup::escape(&r.engine),
        r.index,
        r.index,
        crate::report::markup::escape(&r.engine)
    );
    let mut files: Vec<String> = [("case file", &r.case_file), ("reproducer", &r.reproducer)]
        .into_iter()
        .filter_map(|(label, p)| Some(file_link(dir, p.as_ref()?, label)))
        .collect();
    for (n, log) in r.logs.iter().enumerate() {
        files.push(file_link(dir, log, &format!("raw log of build {}", n + 1)));
    }
    if !files.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", files.join(" · "));
    }
    if let Some(text) = shrink_text(r) {
        let _ = writeln!(h, "<p>{}</p>", crate::report::markup::escape(&text));
    }
    if !r.suspects.is_empty() {
        let links: Vec<String> = r
            .suspects
            .iter()
            .map(|s| crate::report::buckets::rule_link(s))
            .collect();
        let _ = writeln!(
            h,
            "<p>suspects (rules whose mutant does what the engine did): {}</p>",
            links.join(", ")
        );
    }
    match shrunk_result(r) {
        Some(shrunk) => {
            h.push_str("<h3>shrunk scenario</h3>\n");
            steps_html(&shrunk, h);
            let _ = writeln!(
                h,
                "<details><summary>original scenario ({} builds)</summary>",
                r.history.builds.len()
            );
            steps_html(r, h);
            h.push_str("</details>\n");
        }
        None => steps_html(r, h),
    }
}

/// The shrunk scenario as a result of its own (every discrepancy it showed counted), if the
/// finding was shrunk.
fn shrunk_result(r: &ScenarioResult) -> Option<ScenarioResult> {
    let history = r.shrunk_history.clone()?;
    let confirmed = history
        .builds
        .iter()
        .flat_map(|b| {
            b.verdicts
                .iter()
                .filter(|v| v.verdict == Verdict::Discrepancy)
                .map(|v| (b.transition, v.step, v.observed_short().to_string()))
        })
        .collect();
    Some(ScenarioResult {
        history,
        confirmed,
        known: Vec::new(),
        ..r.clone()
    })
}

fn steps_html(r: &ScenarioResult, h: &mut String) {
    let e = crate::report::markup::escape;
    h.push_str("<table><tr><th>build</th><th>step</th><th>instruction</th><th>predicted</th><th>reason</th><th>rule</th><th>observed</th><th>differs</th></tr>\n");
    for row in step_rows(r) {
        let class = match row[6].as_str() {
            "" => "",
            "FINDING" => " class=\"diff\"",
            t if t.starts_with("cascade") => " class=\"cascade\"",
            _ => " class=\"unconfirmed\"",
        };
        let _ = writeln!(
            h,
            "<tr{class}><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row[0],
            row[1],
            e(&row[2]),
            row[3],
            e(&row[4]),
            crate::report::buckets::rule_link(&row[7]),
            row[5],
            e(&row[6])
        );
    }
    h.push_str("</table>\n");
}

/// Writes `report.json`, `report.md`, `index.html`, `rules.html` (the rules every rule id links
/// to, with the run's case files citing each) and `junit.xml` under `out`.
pub fn write_reports(report: &Report, out: &Path) -> Result<()> {
    write(&out.join("report.json"), &report.to_json()?)?;
    write(&out.join("report.md"), &markdown(report, out))?;
    write(&out.join("index.html"), &html(report, out))?;
    let cases =
        crate::report::buckets::cases_by_rule(&crate::report::buckets::of_loaded(report, out));
    write(
        &out.join("rules.html"),
        &crate::report::rules_page::html(&cases),
    )?;
    write(&out.join("junit.xml"), &junit::junit(report, out)?)
}
