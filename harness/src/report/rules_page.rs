//! `rules.html`: every rule of the model's tables (`models::profiles::catalogue`) on one static
//! page, each under its id as anchor (what every rule id on the other pages links to): statement,
//! source, status, the generations and profiles it holds for, and the case files of the report
//! that exercise it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use models::rules::{Rule, Status};

use crate::report::markup::escape;

fn status_text(status: &Status) -> String {
    match status {
        Status::Modelled => "modelled".to_string(),
        Status::Verify => "modelled as documented, to verify on engines".to_string(),
        Status::Settled { note } => format!("settled: {note}"),
        Status::NotExercised { why } => format!("not exercised: {why}"),
    }
}

fn source_html(source: &str) -> String {
    if source.starts_with("http://") || source.starts_with("https://") {
        format!("<a href=\"{s}\">{s}</a>", s = escape(source))
    } else {
        escape(source)
    }
}

/// The profiles (of every generation) whose table holds the rule.
fn profiles_holding(rule: &Rule) -> Vec<String> {
    models::Profile::all_generations()
        .iter()
        .filter(|p| p.rule(rule.id).is_some())
        .map(models::Profile::name)
        .collect()
}

fn entry(rule: &Rule, cases: &[PathBuf]) -> String {
    let mut h = String::new();
    let id = escape(rule.id.as_str());
    let _ = writeln!(
        h,
        "<section id=\"{id}\"><h2><code>{id}</code></h2>\n<p>{}</p>\n<dl>",
        escape(rule.statement)
    );
    let _ = writeln!(h, "<dt>source</dt><dd>{}</dd>", source_html(rule.source));
    let _ = writeln!(
        h,
        "<dt>status</dt><dd>{}</dd>",
        escape(&status_text(&rule.status))
    );
    let _ = writeln!(
        h,
        "<dt>versions</dt><dd>{}</dd>",
        escape(&rule.versions.to_string())
    );
    let profiles = profiles_holding(rule);
    let _ = writeln!(
        h,
        "<dt>profiles</dt><dd>{}</dd>",
        if profiles.is_empty() {
            "none".to_string()
        } else {
            escape(&profiles.join(", "))
        }
    );
    let _ = writeln!(
        h,
        "<dt>if switched off (mutant)</dt><dd>{}</dd>",
        escape(rule.if_off)
    );
    let listed: Vec<String> = cases
        .iter()
        .map(|p| {
            let p = escape(&p.display().to_string());
            format!("<a href=\"{p}\">{p}</a>")
        })
        .collect();
    let _ = writeln!(
        h,
        "<dt>case files here</dt><dd>{}</dd>\n</dl></section>",
        if listed.is_empty() {
            "none in this report".to_string()
        } else {
            listed.join(", ")
        }
    );
    h
}

/// The page; `cases` names, per rule id, the case files (relative to the page) that cite it.
pub fn html(cases: &BTreeMap<String, Vec<PathBuf>>) -> String {
    let mut h = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cachet: the model's rules</title>\n<style>body{font-family:sans-serif;margin:2em;max-width:60em}section{border-top:1px solid #ccc}dt{font-weight:bold}</style></head><body>\n<h1>The model's rules</h1>\n",
    );
    h.push_str("<ul>\n");
    for rule in models::profiles::catalogue() {
        let _ = writeln!(
            h,
            "<li><a href=\"#{id}\"><code>{id}</code></a></li>",
            id = escape(rule.id.as_str())
        );
    }
    h.push_str("</ul>\n");
    for rule in models::profiles::catalogue() {
        let none = Vec::new();
        h.push_str(&entry(rule, cases.get(rule.id.as_str()).unwrap_or(&none)));
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_has_an_entry_its_links_reach() {
        let cases = BTreeMap::from([(
            "copy.checksum".to_string(),
            vec![PathBuf::from("cases/found-x.toml")],
        )]);
        let page = html(&cases);
        for rule in models::profiles::catalogue() {
            let id = rule.id.as_str();
            assert!(page.contains(&format!("<section id=\"{id}\">")), "{id}");
            assert!(crate::report::buckets::rule_link(id).contains(&format!("rules.html#{id}")));
        }
        assert!(page.contains("<a href=\"cases/found-x.toml\">"));
        assert!(!crate::report::buckets::rule_link("-").contains("href"));
    }
}
