//! Reports of a run: `report.json` (schema in reports/README.md), `report.md` and `junit.xml`.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Error, Result};
use crate::run::Report;

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn markdown(report: &Report) -> String {
    let mut md = String::new();
    let s = &report.summary;
    let _ = writeln!(md, "# cachet run\n\nseed `{}`\n", report.seed);
    let _ = writeln!(md, "| engine | version |\n|---|---|");
    for (e, v) in &report.engines {
        let _ = writeln!(md, "| {e} | {v} |");
    }
    let _ = writeln!(
        md,
        "\n**{} scenarios, {} builds: {} confirmed discrepancies, {} unconfirmed, {} indeterminate steps.**\n",
        s.scenarios, s.builds, s.discrepancies, s.unconfirmed, s.indeterminate
    );
    for r in report.results.iter().filter(|r| !r.confirmed.is_empty()) {
        let _ = writeln!(md, "## scenario {} on {}\n", r.index, r.engine);
        if let Some(p) = &r.case_file {
            let _ = writeln!(md, "case file: `{}`\n", p.display());
        }
        let _ = writeln!(md, "| build | step | instruction | predicted | reason | observed |\n|---|---|---|---|---|---|");
        for b in &r.history.builds {
            for v in &b.verdicts {
                let reason = match &v.predicted {
                    models::Outcome::Rebuilt { reason } => reason.to_string(),
                    _ => String::new(),
                };
                let mark = if v.verdict == crate::check::Verdict::Discrepancy {
                    " **≠**"
                } else {
                    ""
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | `{}` | {} | {} | {}{mark} |",
                    b.transition,
                    v.step,
                    v.instruction,
                    v.predicted.short(),
                    reason,
                    v.observed_short()
                );
            }
        }
        md.push('\n');
    }
    md
}

pub fn junit(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = report
        .results
        .iter()
        .filter(|r| !r.confirmed.is_empty())
        .count();
    let _ = writeln!(
        xml,
        "<testsuites name=\"cachet\" tests=\"{}\" failures=\"{failures}\">",
        report.results.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"cachet-run-{}\" tests=\"{}\" failures=\"{failures}\">",
        report.seed,
        report.results.len()
    );
    for r in &report.results {
        let _ = write!(
            xml,
            "    <testcase classname=\"{}\" name=\"scenario-{}\"",
            xml_escape(&r.engine),
            r.index
        );
        if r.confirmed.is_empty() {
            xml.push_str("/>\n");
        } else {
            let detail: Vec<String> = r
                .confirmed
                .iter()
                .map(|(b, s, o)| format!("build {b} step {s}: observed {o}"))
                .collect();
            let _ = writeln!(xml, ">\n      <failure message=\"engine and model disagree\">{}</failure>\n    </testcase>", xml_escape(&detail.join("; ")));
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

pub fn write_reports(report: &Report, out: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| Error::Harness(format!("serialising the report: {e}")))?;
    write(&out.join("report.json"), &json)?;
    write(&out.join("report.md"), &markdown(report))?;
    write(&out.join("junit.xml"), &junit(report))
}
