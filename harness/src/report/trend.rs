//! `cachet report trend ROOT`: the nights `ci/nightly` lays out (`ROOT/LABEL/YYYY-MM-DD/
//! report.json`) as a trend: buckets (root causes) and scenarios per night, per engine kind and
//! generation, drawn as inline SVG (no scripts, readable offline), and `changes.md`: what is new
//! in the last night since the night before.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::buckets::Bucket;
use crate::report::markup::escape;

/// One night of every machine: its buckets (merged across machines) and scenarios per series.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Night {
    pub date: String,
    /// `(engine kind generation)` → buckets, findings, scenarios.
    pub series: BTreeMap<String, (usize, usize, usize)>,
    pub buckets: Vec<Bucket>,
}

/// The trend: nights in date order, each bucket's `first_seen` the night it first appeared.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trend {
    pub nights: Vec<Night>,
}

fn is_date(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// Every `ROOT/LABEL/YYYY-MM-DD/report.json`, as `(date, run directory)`. A root with none is
/// bad input; so is a malformed report (`schema::load`).
pub fn find_nights(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut nights = Vec::new();
    for machine in entries(root)? {
        for night in entries(&machine)? {
            let date = night
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if is_date(&date) && night.join("report.json").is_file() {
                nights.push((date, night));
            }
        }
    }
    if nights.is_empty() {
        return Err(Error::BadInput(format!(
            "{}: no nights (ROOT/LABEL/YYYY-MM-DD/report.json, as ci/nightly writes them)",
            root.display()
        )));
    }
    nights.sort();
    Ok(nights)
}

/// The trend of the nights under `root`; bucket paths relative to `out`, where pages go.
pub fn trend(root: &Path, out: &Path) -> Result<Trend> {
    let mut by_date: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (date, dir) in find_nights(root)? {
        by_date.entry(date).or_default().push(dir);
    }
    let mut first: BTreeMap<crate::report::buckets::Signature, String> = BTreeMap::new();
    let mut trend = Trend::default();
    for (date, dirs) in by_date {
        let mut night = Night {
            date: date.clone(),
            ..Night::default()
        };
        let mut lists = Vec::new();
        for dir in &dirs {
            let (report, _) = crate::report::schema::load(dir)?;
            let mut buckets = crate::report::buckets::of_loaded(&report, dir);
            crate::report::buckets::rebase(&mut buckets, dir, Some(out));
            lists.push(buckets);
            for r in &report.results {
                let key = series_of(
                    &r.engine,
                    &crate::report::buckets::generation_of(&report, &r.engine),
                );
                night.series.entry(key).or_default().2 += 1;
            }
        }
        night.buckets = crate::report::buckets::merge(lists.iter().map(Vec::as_slice));
        for b in &mut night.buckets {
            b.first_seen = first.entry(b.signature()).or_insert(date.clone()).clone();
            let s = night
                .series
                .entry(series_of(&b.engine_kind, &b.generation))
                .or_default();
            s.0 += 1;
            s.1 += b.count;
        }
        trend.nights.push(night);
    }
    Ok(trend)
}

/// A series' name: `ENGINE-KIND GENERATION` (an engine name is cut at `@`).
fn series_of(engine: &str, generation: &str) -> String {
    format!(
        "{} {generation}",
        engine.split('@').next().unwrap_or(engine)
    )
}

/// What the last night has that the night before had not (by cause: kind, rule, mutation,
/// predicted, observed, generation included), and what went away.
pub fn changes_markdown(t: &Trend) -> String {
    let mut md = String::from("# Changes since the previous night\n\n");
    let Some(last) = t.nights.last() else {
        md.push_str("No nights.\n");
        return md;
    };
    let before = t.nights.len().checked_sub(2).map(|i| &t.nights[i]);
    let Some(before) = before else {
        let _ = writeln!(
            md,
            "{}: the first night, nothing to compare with ({} buckets).",
            last.date,
            last.buckets.len()
        );
        return md;
    };
    let sigs = |n: &Night| -> BTreeSet<_> { n.buckets.iter().map(Bucket::signature).collect() };
    let (old, new) = (sigs(before), sigs(last));
    let appeared: Vec<&Bucket> = last
        .buckets
        .iter()
        .filter(|b| !old.contains(&b.signature()))
        .collect();
    let gone: Vec<&Bucket> = before
        .buckets
        .iter()
        .filter(|b| !new.contains(&b.signature()))
        .collect();
    let _ = writeln!(md, "{} against {}.\n", last.date, before.date);
    if appeared.is_empty() {
        md.push_str("No new bucket.\n");
    } else {
        let _ = writeln!(md, "**{} new bucket(s) appeared:**\n", appeared.len());
        for b in appeared {
            let status = b
                .link
                .as_deref()
                .map_or("new".to_string(), |l| format!("known: {l}"));
            let _ = writeln!(
                md,
                "- {} ({} findings, {status}, first seen {})",
                b.title(),
                b.count,
                b.first_seen
            );
        }
    }
    if !gone.is_empty() {
        let _ = writeln!(md, "\nBuckets seen the night before and not this night:\n");
        for b in gone {
            let _ = writeln!(md, "- {} ({} findings then)", b.title(), b.count);
        }
    }
    md
}

const BAR_W: usize = 28;
const CHART_H: usize = 80;

/// One series' values per night as a bar chart with the numbers written on it.
fn svg_bars(title: &str, values: &[(String, usize)]) -> String {
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let width = values.len() * (BAR_W + 6) + 10;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        CHART_H + 40,
        t = escape(title)
    );
    for (i, (date, v)) in values.iter().enumerate() {
        let h = v * CHART_H / max;
        let x = 5 + i * (BAR_W + 6);
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{}\" width=\"{BAR_W}\" height=\"{h}\" fill=\"#7a9cc6\"><title>{}: {v}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{v}</text><text x=\"{}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
            10 + CHART_H - h,
            escape(date),
            x + BAR_W / 2,
            8 + CHART_H - h,
            x + BAR_W / 2,
            CHART_H + 24,
            escape(date.get(5..).unwrap_or(date))
        );
    }
    s.push_str("</svg>");
    s
}

/// The trend page: per series, buckets and scenarios per night (SVG and a table of the same
/// numbers), then the last night's buckets.
pub fn html(t: &Trend) -> String {
    let mut h = String::from("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cachet: trend</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.2em .5em}tr.new td{background:#f8d7d7}tr.known td{background:#fff3cd}</style></head><body>\n<h1>cachet: trend</h1>\n");
    let series: BTreeSet<&String> = t.nights.iter().flat_map(|n| n.series.keys()).collect();
    for name in series {
        let values = |pick: fn(&(usize, usize, usize)) -> usize| -> Vec<(String, usize)> {
            t.nights
                .iter()
                .map(|n| (n.date.clone(), n.series.get(name).map_or(0, pick)))
                .collect()
        };
        let (buckets, scenarios) = (values(|s| s.0), values(|s| s.2));
        let _ = writeln!(h, "<h2>{}</h2>", escape(name));
        let _ = writeln!(
            h,
            "<p>buckets per night</p>{}\n<p>scenarios per night</p>{}",
            svg_bars(&format!("{name}: buckets per night"), &buckets),
            svg_bars(&format!("{name}: scenarios per night"), &scenarios)
        );
        h.push_str("<table class=\"trend\"><tr><th>night</th><th>buckets</th><th>findings</th><th>scenarios</th></tr>\n");
        for n in &t.nights {
            let (b, f, s) = n.series.get(name).copied().unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{b}</td><td>{f}</td><td>{s}</td></tr>",
                escape(&n.date)
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(last) = t.nights.last() {
        let _ = writeln!(h, "<h2>The last night ({})</h2>", escape(&last.date));
        h.push_str(&crate::report::buckets::html(&last.buckets));
    }
    h.push_str("</body></html>\n");
    h
}
