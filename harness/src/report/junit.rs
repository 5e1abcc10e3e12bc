//! `junit.xml`, for the CI system that runs cachet: a testsuite per engine, a testcase per
//! finding (a build's first differing step) and one per scenario that had none. A NEW finding is
//! a `<failure>` whose message reads "rule: expected X, got Y after CHANGE", with the engine,
//! the step, the case file and the reproducer in its body; a KNOWN one is `<skipped>`, with its
//! upstream link. A scenario's build time is the `time` of its first testcase (0 on the others),
//! so the suites' sums count it once.

use std::collections::BTreeMap;
use std::path::Path;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use crate::error::{Error, Result};
use crate::report::buckets::findings;
use crate::report::schema::{Bucket, Report, ScenarioResult};

/// One testcase.
struct Case {
    name: String,
    seconds: f64,
    verdict: CaseVerdict,
}

enum CaseVerdict {
    Passed,
    /// A NEW finding: the message and the body.
    Failed(String, String),
    /// A KNOWN finding: why it is not a failure.
    Known(String),
}

/// The run's `junit.xml`, its paths relative to `dir` (where the report is written).
pub fn junit(report: &Report, dir: &Path) -> Result<String> {
    let mut suites: BTreeMap<&str, Vec<Case>> = BTreeMap::new();
    let found = findings(report, dir);
    for result in &report.results {
        let cases = suites.entry(result.engine.as_str()).or_default();
        let seconds = scenario_seconds(result);
        let mut any = false;
        for (_, bucket) in found.iter().filter(|(r, _)| std::ptr::eq(*r, result)) {
            // The scenario's time goes to its first testcase only, so sums count it once.
            let time = if any { 0.0 } else { seconds };
            any = true;
            cases.push(finding_case(report, result, bucket, time));
        }
        if !any {
            cases.push(Case {
                name: format!("scenario {}", result.index),
                seconds,
                verdict: CaseVerdict::Passed,
            });
        }
    }
    write(report, &suites).map_err(|e| Error::Harness(format!("writing junit.xml: {e}")))
}

/// The engine's build time over the scenario, its confirmation builds left out.
fn scenario_seconds(result: &ScenarioResult) -> f64 {
    result
        .history
        .builds
        .iter()
        .map(|b| b.millis)
        .sum::<usize>() as f64
        / 1000.0
}

fn finding_case(report: &Report, result: &ScenarioResult, b: &Bucket, seconds: f64) -> Case {
    let place = b.findings.first().map_or("", String::as_str);
    // `ENGINE #N build B step S`: the name is `scenario N build B step S: RULE`.
    let at = place.split_once(" #").map_or(place, |(_, rest)| rest);
    let name = format!("scenario {at}: {}", b.rule);
    let change = match b.mutation.as_str() {
        "none" => "no change".to_string(),
        "?" => "a change not recorded".to_string(),
        m => m.to_string(),
    };
    let message = format!(
        "{}: expected {}, got {} after {change}",
        b.rule, b.predicted, b.observed
    );
    let version = report.engine_version(&result.engine).unwrap_or("?");
    let mut body = vec![
        format!("engine: {} ({version})", result.engine),
        format!("where: {place}"),
    ];
    if let Some(step) = instruction_at(result, place) {
        body.push(format!("instruction: {step}"));
    }
    if let Some(case) = &b.case_file {
        body.push(format!("case file: {}", case.display()));
    }
    if let Some(script) = &b.reproducer {
        body.push(format!("reproducer: bash {}", script.display()));
    }
    let verdict = match &b.link {
        Some(link) => CaseVerdict::Known(format!("known divergence ({message}): {link}")),
        None => CaseVerdict::Failed(message, body.join("\n")),
    };
    Case {
        name,
        seconds,
        verdict,
    }
}

/// The instruction at `... build B step S` in the scenario's history.
fn instruction_at(result: &ScenarioResult, place: &str) -> Option<String> {
    let words: Vec<&str> = place.split_whitespace().collect();
    let at = |key: &str| {
        let i = words.iter().position(|w| *w == key)?;
        words.get(i + 1)?.parse::<usize>().ok()
    };
    let (build, step) = (at("build")?, at("step")?);
    let verdict = crate::report::attribution::verdict(result, build, step)?;
    Some(verdict.instruction.clone())
}

fn write(report: &Report, suites: &BTreeMap<&str, Vec<Case>>) -> std::io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let all: Vec<&Case> = suites.values().flatten().collect();
    let (tests, failures, skipped, seconds) = counts(&all);
    w.create_element("testsuites")
        .with_attribute(("name", format!("cachet run, seed {}", report.seed).as_str()))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("skipped", skipped.to_string().as_str()))
        .with_attribute(("time", format!("{seconds:.3}").as_str()))
        .write_inner_content(|w| {
            for (engine, cases) in suites {
                write_suite(w, engine, cases)?;
            }
            Ok(())
        })?;
    let mut text = String::from_utf8(w.into_inner()).expect("the writer writes UTF-8");
    text.push('\n');
    Ok(text)
}

fn counts(cases: &[&Case]) -> (usize, usize, usize, f64) {
    let failures = cases
        .iter()
        .filter(|c| matches!(c.verdict, CaseVerdict::Failed(..)))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.verdict, CaseVerdict::Known(_)))
        .count();
    let seconds = cases.iter().map(|c| c.seconds).sum();
    (cases.len(), failures, skipped, seconds)
}

fn write_suite(w: &mut Writer<Vec<u8>>, engine: &str, cases: &[Case]) -> std::io::Result<()> {
    let refs: Vec<&Case> = cases.iter().collect();
    let (tests, failures, skipped, seconds) = counts(&refs);
    w.create_element("testsuite")
        .with_attribute(("name", engine))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("skipped", skipped.to_string().as_str()))
        .with_attribute(("time", format!("{seconds:.3}").as_str()))
        .write_inner_content(|w| {
            for case in cases {
                let element = w
                    .create_element("testcase")
                    .with_attribute(("classname", engine))
                    .with_attribute(("name", case.name.as_str()))
                    .with_attribute(("time", format!("{:.3}", case.seconds).as_str()));
                match &case.verdict {
                    CaseVerdict::Passed => {
                        element.write_empty()?;
                    }
                    CaseVerdict::Failed(message, body) => {
                        element.write_inner_content(|w| {
                            w.create_element("failure")
                                .with_attribute(("message", message.as_str()))
                                .with_attribute(("type", "NEW"))
                                .write_text_content(BytesText::new(body))?;
                            Ok(())
                        })?;
                    }
                    CaseVerdict::Known(why) => {
                        element.write_inner_content(|w| {
                            w.create_element("skipped")
                                .with_attribute(("message", why.as_str()))
                                .write_empty()?;
                            Ok(())
                        })?;
                    }
                }
            }
            Ok(())
        })?;
    Ok(())
}
