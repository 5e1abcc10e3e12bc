//! `cachet report merge` and `cachet report diff`: many runs' `report.json` read back (as the
//! `schema::Report` the run wrote) as rule × engine matrices, merged into one page, or compared
//! to say what changed (an engine upgrade, a new distribution).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::check::Verdict;
use crate::error::Result;
use crate::report::buckets::Bucket;
use crate::report::schema::{Outcome, Report, ScenarioResult};
use crate::report::step_changes::{Pairing, StepChange};

pub use crate::report::cells::Cell;

/// One run as the matrix it shows. Columns are `ENGINE VERSION`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunMatrix {
    pub source: PathBuf,
    pub seed: u64,
    pub columns: BTreeSet<String>,
    pub cells: BTreeMap<String, BTreeMap<String, Cell>>,
    /// `(column, rule, instruction)` of each step that disagreed.
    pub discrepancies: BTreeSet<(String, String, String)>,
    /// `(column, observed, link)` of each known divergence (catalogued engine behaviour) seen.
    pub known: BTreeSet<(String, String, String)>,
    /// The runs' findings by root cause (`report::buckets`), case files and reproducers as absolute
    /// paths until a page is written (`RunMatrix::paths_relative_to`).
    pub buckets: Vec<Bucket>,
}

/// Reads a run's `report.json` (or the directory holding it) as its matrix.
pub fn load_run(path: &Path) -> Result<RunMatrix> {
    let (report, file) = crate::report::schema::load(path)?;
    Ok(RunMatrix::of(&report, file))
}

impl RunMatrix {
    /// A run's matrix; `source` says where its report came from.
    pub fn of(report: &Report, source: PathBuf) -> RunMatrix {
        let mut run = RunMatrix {
            source,
            seed: report.seed,
            ..RunMatrix::default()
        };
        // Runs from different machines use the same engine names: the run's label tells them
        // apart.
        let label = report
            .label
            .as_ref()
            .map(|l| format!("/{}", l.replace(char::is_whitespace, "-")))
            .unwrap_or_default();
        for result in &report.results {
            let column = format!(
                "{}{label} {}",
                result.engine,
                report.engine_version(&result.engine).unwrap_or("?")
            );
            run.add_result(result, &column);
        }
        let dir = run.source.parent().unwrap_or(Path::new("")).to_path_buf();
        run.buckets = crate::report::buckets::of_loaded(report, &dir);
        crate::report::buckets::rebase(&mut run.buckets, &dir, None);
        run
    }

    /// The buckets' paths relative to `dir`, where the page showing them is written.
    pub fn paths_relative_to(&mut self, dir: &Path) {
        crate::report::buckets::rebase(&mut self.buckets, Path::new(""), Some(dir));
    }

    /// One scenario's steps and known divergences, in `column`.
    fn add_result(&mut self, result: &ScenarioResult, column: &str) {
        self.columns.insert(column.to_string());
        for (_, _, observed, link) in &result.known {
            self.known
                .insert((column.to_string(), observed.clone(), link.clone()));
        }
        // Only discrepancies the run confirmed (or found known) count as disagreement: one that a
        // re-run from a fresh salt did not show again is noise, shown as unconfirmed. A cascade
        // step counts against no rule (`cells::count`).
        let cascade = crate::report::attribution::cascade_steps(result);
        let confirmed: BTreeSet<(usize, usize)> = result
            .confirmed
            .iter()
            .map(|(b, s, _)| (*b, *s))
            .chain(result.known.iter().map(|(b, s, _, _)| (*b, *s)))
            .collect();
        for build in &result.history.builds {
            for verdict in build.verdicts.iter().filter(|v| {
                v.verdict == Verdict::Discrepancy
                    && confirmed.contains(&(build.transition, v.step))
                    && !cascade.contains(&(build.transition, v.step))
            }) {
                if let Some(rule) = verdict.predicted.cited_rule() {
                    self.discrepancies.insert((
                        column.to_string(),
                        rule.to_string(),
                        verdict.instruction.clone(),
                    ));
                }
            }
        }
        crate::report::cells::count(result, column, &mut self.cells, Outcome::cited_rule);
    }
}

/// Many runs in one matrix (cells of the same rule and column add up).
pub fn merge(runs: &[RunMatrix]) -> RunMatrix {
    let mut merged = RunMatrix::default();
    for run in runs {
        merged.columns.extend(run.columns.iter().cloned());
        merged
            .discrepancies
            .extend(run.discrepancies.iter().cloned());
        merged.known.extend(run.known.iter().cloned());
        for (rule, cells) in &run.cells {
            for (column, cell) in cells {
                let m = merged
                    .cells
                    .entry(rule.clone())
                    .or_default()
                    .entry(column.clone())
                    .or_default();
                m.add(cell);
            }
        }
    }
    merged.buckets = crate::report::buckets::merge(runs.iter().map(|r| r.buckets.as_slice()));
    merged
}

pub fn matrix_markdown(m: &RunMatrix, title: &str) -> String {
    let mut md = format!(
        "# {title}\n\n{}\n## Conformance by rule\n\n{}\n\n| rule | {} |\n|---|{}\n",
        crate::report::buckets::markdown(&m.buckets),
        crate::report::cells::LEGEND,
        m.columns.iter().cloned().collect::<Vec<_>>().join(" | "),
        "---|".repeat(m.columns.len())
    );
    for (rule, cells) in &m.cells {
        let row: Vec<String> = m
            .columns
            .iter()
            .map(|c| cells.get(c).cloned().unwrap_or_default().markdown())
            .collect();
        let _ = writeln!(md, "| `{rule}` | {} |", row.join(" | "));
    }
    if !m.discrepancies.is_empty() {
        md.push_str("\n## Discrepancies\n\n| engine | rule | instruction |\n|---|---|---|\n");
        for (column, rule, instruction) in &m.discrepancies {
            let _ = writeln!(md, "| {column} | `{rule}` | `{instruction}` |");
        }
    }
    if !m.known.is_empty() {
        md.push_str("\n## Known divergences\n\n| engine | observed | link |\n|---|---|---|\n");
        for (column, observed, link) in &m.known {
            let _ = writeln!(md, "| {column} | {observed} | {link} |");
        }
    }
    md
}

/// What changed from `old` to `new`, compared by engine name (versions may differ: that is the
/// point of an upgrade).
#[derive(Debug, Default, Serialize)]
pub struct Diff {
    /// Buckets (root causes: `report::buckets`) only the new run has, compared without the
    /// generation (an upgrade changes it): the headline.
    pub buckets_appeared: Vec<Bucket>,
    /// Buckets only the old run has.
    pub buckets_vanished: Vec<Bucket>,
    /// `(rule, engine, old status, new status)` where a checked rule went from `ok` to `DIFF` or
    /// back.
    pub rules: Vec<(String, String, String, String)>,
    /// `(rule, engine, old, new)` where a rule was checked in one run only (`-` on the other
    /// side): different scenarios, not different behaviour. Shown, not counted as a change.
    pub coverage: Vec<(String, String, String, String)>,
    pub appeared: Vec<(String, String, String)>,
    pub vanished: Vec<(String, String, String)>,
    /// `(engine, observed, link)` of known divergences seen only in the new run.
    pub known_appeared: Vec<(String, String, String)>,
    /// `(engine, observed, link)` of known divergences that stopped happening (a fixed engine?).
    pub known_vanished: Vec<(String, String, String)>,
    /// Steps both runs built that the engines answered differently, when the runs' histories
    /// were compared (`report diff`), with how engines were paired.
    pub steps: Option<(Pairing, Vec<StepChange>)>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
            && self.buckets_appeared.is_empty()
            && self.buckets_vanished.is_empty()
            && self.appeared.is_empty()
            && self.vanished.is_empty()
            && self.known_appeared.is_empty()
            && self.known_vanished.is_empty()
            && self.steps.as_ref().is_none_or(|(_, s)| s.is_empty())
    }
}

fn engine_of(column: &str) -> String {
    column
        .split_once(' ')
        .map(|(e, _)| e)
        .unwrap_or(column)
        .to_string()
}

fn by_engine(m: &RunMatrix) -> BTreeMap<(String, String), (&'static str, String)> {
    let mut out = BTreeMap::new();
    for (rule, cells) in &m.cells {
        for (column, cell) in cells {
            out.insert(
                (rule.clone(), engine_of(column)),
                (cell.status(), column.clone()),
            );
        }
    }
    out
}

/// Compares by engine name; when each run has exactly one engine, those two are compared
/// whatever their names (classic vs BuildKit, host a vs host b).
pub fn diff(old: &RunMatrix, new: &RunMatrix) -> Diff {
    let mut d = Diff::default();
    let single = old.columns.len() == 1 && new.columns.len() == 1;
    let (old, new) = if single {
        // Two single-engine runs: one row label for both, `OLD→NEW`, without spaces (it is what
        // `engine_of` reads back).
        let name = |m: &RunMatrix| m.columns.iter().next().map(|c| engine_of(c));
        let (o, n) = (name(old).unwrap_or_default(), name(new).unwrap_or_default());
        let label = if o == n { o } else { format!("{o}→{n}") };
        let relabel = |c: &str| format!("{label} {c}");
        let shown = |c: &str| {
            c.strip_prefix(&format!("{label} "))
                .unwrap_or(c)
                .to_string()
        };
        let (old, new) = (old.relabelled(relabel), new.relabelled(relabel));
        (d.rules, d.coverage) = status_changes(&old, &new, shown);
        (old, new)
    } else {
        (d.rules, d.coverage) = status_changes(old, new, str::to_string);
        (old.clone(), new.clone())
    };
    let strip = |set: &BTreeSet<(String, String, String)>| -> BTreeSet<(String, String, String)> {
        set.iter()
            .map(|(c, r, i)| (engine_of(c), r.clone(), i.clone()))
            .collect()
    };
    let (o, n) = (strip(&old.discrepancies), strip(&new.discrepancies));
    d.appeared = n.difference(&o).cloned().collect();
    d.vanished = o.difference(&n).cloned().collect();
    let (o, n) = (strip(&old.known), strip(&new.known));
    d.known_appeared = n.difference(&o).cloned().collect();
    d.known_vanished = o.difference(&n).cloned().collect();
    (d.buckets_appeared, d.buckets_vanished) = bucket_changes(&old.buckets, &new.buckets);
    d
}

/// Buckets of `new` whose cause `old` lacks, and the other way round.
fn bucket_changes(old: &[Bucket], new: &[Bucket]) -> (Vec<Bucket>, Vec<Bucket>) {
    let only = |a: &[Bucket], b: &[Bucket]| -> Vec<Bucket> {
        let causes: BTreeSet<_> = b.iter().map(Bucket::cause).collect();
        a.iter()
            .filter(|x| !causes.contains(&x.cause()))
            .cloned()
            .collect()
    };
    (only(new, old), only(old, new))
}

type StatusRow = (String, String, String, String);

/// `(rule, engine, old, new)` of every rule whose status differs by engine: those checked on both
/// sides (`ok` ↔ `DIFF`), then those checked on one side only. `shown` is how a column is named
/// in the old and new texts.
fn status_changes(
    old: &RunMatrix,
    new: &RunMatrix,
    shown: impl Fn(&str) -> String,
) -> (Vec<StatusRow>, Vec<StatusRow>) {
    let (before, after) = (by_engine(old), by_engine(new));
    let (mut rules, mut coverage) = (Vec::new(), Vec::new());
    let keys: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let text = |side: &BTreeMap<_, (&str, String)>| {
            side.get(key)
                .map(|(s, c)| format!("{s} ({})", shown(c)))
                .unwrap_or_else(|| "-".to_string())
        };
        let (os, ns) = (
            before.get(key).map(|x| x.0).unwrap_or("-"),
            after.get(key).map(|x| x.0).unwrap_or("-"),
        );
        if os != ns {
            let row = (key.0.clone(), key.1.clone(), text(&before), text(&after));
            if os == "-" || ns == "-" {
                coverage.push(row);
            } else {
                rules.push(row);
            }
        }
    }
    (rules, coverage)
}

impl RunMatrix {
    /// The same matrix with each column named by its engine kind (`classic@sid 28.5.2` →
    /// `classic 28.5.2`): how runs of different hosts, one per generation, are compared.
    pub fn by_kind(&self) -> RunMatrix {
        self.relabelled(|c| {
            let engine = engine_of(c);
            let rest = c.strip_prefix(&engine).unwrap_or("");
            format!("{}{rest}", Pairing::Kind.key(&engine))
        })
    }

    /// The same matrix with every column renamed by `relabel`.
    fn relabelled(&self, relabel: impl Fn(&str) -> String) -> RunMatrix {
        let mut m = self.clone();
        m.columns = m.columns.iter().map(|c| relabel(c)).collect();
        m.cells = m
            .cells
            .into_iter()
            .map(|(r, cells)| {
                (
                    r,
                    cells.into_iter().map(|(c, v)| (relabel(&c), v)).collect(),
                )
            })
            .collect();
        m.discrepancies = m
            .discrepancies
            .into_iter()
            .map(|(c, r, i)| (relabel(&c), r, i))
            .collect();
        m.known = m
            .known
            .into_iter()
            .map(|(c, o, l)| (relabel(&c), o, l))
            .collect();
        m
    }
}

pub fn diff_markdown(d: &Diff) -> String {
    let mut md = String::from("# What changed\n\n");
    if d.is_empty() {
        md.push_str("Nothing: every rule behaves as before on every engine.\n");
    }
    md.push_str(&bucket_headline(d));
    if !d.rules.is_empty() {
        md.push_str("| rule | engine | before | after |\n|---|---|---|---|\n");
        for (rule, engine, o, n) in &d.rules {
            let _ = writeln!(md, "| `{rule}` | {engine} | {o} | {n} |");
        }
    }
    for (label, list) in [
        ("Discrepancies that appeared", &d.appeared),
        ("Discrepancies that vanished", &d.vanished),
    ] {
        if !list.is_empty() {
            let _ = writeln!(md, "\n## {label}\n");
            for (engine, rule, instruction) in list {
                let _ = writeln!(md, "- {engine}: `{rule}` at `{instruction}`");
            }
        }
    }
    if !d.coverage.is_empty() {
        let _ = writeln!(
            md,
            "\n## Checked in one run only (other scenarios, not a change)\n"
        );
        for (rule, engine, o, n) in &d.coverage {
            let _ = writeln!(md, "- `{rule}` on {engine}: {o} → {n}");
        }
    }
    if let Some((pairing, steps)) = &d.steps {
        md.push_str(&crate::report::step_changes::markdown(steps, *pairing));
    }
    for (label, list) in [
        ("Known divergences that appeared", &d.known_appeared),
        (
            "Known divergences that stopped happening",
            &d.known_vanished,
        ),
    ] {
        if !list.is_empty() {
            let _ = writeln!(md, "\n## {label}\n");
            for (engine, observed, link) in list {
                let _ = writeln!(md, "- {engine}: {observed} ({link})");
            }
        }
    }
    md
}

/// The headline of a diff: new buckets (root causes) first, then those that went away.
fn bucket_headline(d: &Diff) -> String {
    let mut md = String::new();
    if !d.buckets_appeared.is_empty() {
        let _ = writeln!(
            md,
            "**{} new bucket(s) appeared** (root causes not seen before):\n",
            d.buckets_appeared.len()
        );
        for b in &d.buckets_appeared {
            let status = b
                .link
                .as_deref()
                .map_or("new".to_string(), |l| format!("known: {l}"));
            let _ = writeln!(md, "- {} ({} findings, {status})", b.title(), b.count);
        }
        md.push('\n');
    }
    if !d.buckets_vanished.is_empty() {
        let _ = writeln!(md, "Buckets that went away:\n");
        for b in &d.buckets_vanished {
            let _ = writeln!(md, "- {} ({} findings before)", b.title(), b.count);
        }
        md.push('\n');
    }
    md
}

/// The merged matrix as one static page, readable offline (no scripts, no external assets).
pub fn matrix_html(m: &RunMatrix, title: &str) -> String {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em}}{css}</style></head><body>\n\
         <h1>{t}</h1>\n<p><a href=\"rules.html\">the model's rules</a></p>\n{b}<h2>Conformance by rule</h2>\n<p>{legend}</p>\n<table>\n<tr><th>rule</th>",
        t = crate::report::markup::escape(title),
        b = crate::report::buckets::html(&m.buckets),
        css = crate::report::cells::CSS,
        legend = crate::report::markup::escape(crate::report::cells::LEGEND)
    );
    for column in &m.columns {
        let _ = write!(html, "<th>{}</th>", crate::report::markup::escape(column));
    }
    html.push_str("</tr>\n");
    for (rule, cells) in &m.cells {
        let _ = write!(
            html,
            "<tr><td>{}</td>",
            crate::report::buckets::rule_link(rule)
        );
        for column in &m.columns {
            html.push_str(&cells.get(column).cloned().unwrap_or_default().html());
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    if !m.discrepancies.is_empty() {
        html.push_str("<h2>Discrepancies</h2>\n<ul>\n");
        for (column, rule, instruction) in &m.discrepancies {
            let _ = writeln!(
                html,
                "<li>{}: {} at <code>{}</code></li>",
                crate::report::markup::escape(column),
                crate::report::buckets::rule_link(rule),
                crate::report::markup::escape(instruction)
            );
        }
        html.push_str("</ul>\n");
    }
    if !m.known.is_empty() {
        html.push_str("<h2>Known divergences</h2>\n<ul>\n");
        for (column, observed, link) in &m.known {
            let _ = writeln!(
                html,
                "<li>{}: {} (<a href=\"{}\">{}</a>)</li>",
                crate::report::markup::escape(column),
                crate::report::markup::escape(observed),
                crate::report::markup::escape(crate::report::cells::url_of(link)),
                crate::report::markup::escape(link)
            );
        }
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        cells: &[(&str, &str, usize, usize)],
        discrepancies: &[(&str, &str, &str)],
    ) -> RunMatrix {
        let mut m = RunMatrix::default();
        for (rule, column, checked, disagreed) in cells {
            m.columns.insert(column.to_string());
            m.cells.entry(rule.to_string()).or_default().insert(
                column.to_string(),
                Cell {
                    checked: *checked,
                    disagreed: *disagreed,
                    ..Cell::default()
                },
            );
        }
        m.discrepancies = discrepancies
            .iter()
            .map(|(c, r, i)| (c.to_string(), r.to_string(), i.to_string()))
            .collect();
        m
    }

    #[test]
    fn diff_compares_by_engine_across_versions() {
        let old = run(
            &[
                ("copy.checksum", "buildkit@a 20.10", 4, 0),
                ("cascade", "classic@a 20.10", 2, 0),
            ],
            &[],
        );
        let new = run(
            &[
                ("copy.checksum", "buildkit@a 24.0", 4, 1),
                ("cascade", "classic@a 24.0", 2, 0),
            ],
            &[("buildkit@a 24.0", "copy.checksum", "COPY a /a")],
        );
        let d = diff(&old, &new);
        assert_eq!(
            d.rules,
            vec![(
                "copy.checksum".into(),
                "buildkit@a".into(),
                "ok (buildkit@a 20.10)".into(),
                "DIFF (buildkit@a 24.0)".into()
            )]
        );
        assert_eq!(
            d.appeared,
            vec![(
                "buildkit@a".into(),
                "copy.checksum".into(),
                "COPY a /a".into()
            )]
        );
        assert!(d.vanished.is_empty());
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn single_engine_runs_are_compared_whatever_their_names() {
        let old = run(&[("bk.metadata-free", "classic@a 20.10", 2, 0)], &[]);
        let new = run(&[("bk.metadata-free", "buildkit@a 20.10", 2, 1)], &[]);
        let d = diff(&old, &new);
        assert_eq!(d.rules.len(), 1, "{d:?}");
        assert_eq!(d.rules[0].1, "classic@a→buildkit@a");
        assert_eq!(d.rules[0].2, "ok (classic@a 20.10)");
        assert_eq!(d.rules[0].3, "DIFF (buildkit@a 20.10)");
    }

    #[test]
    fn merge_adds_cells_and_keeps_columns() {
        let a = run(&[("cascade", "classic@a 20.10", 2, 0)], &[]);
        let b = run(
            &[
                ("cascade", "classic@a 20.10", 3, 1),
                ("cascade", "buildkit@b 20.10", 1, 0),
            ],
            &[],
        );
        let m = merge(&[a, b]);
        assert_eq!(
            m.cells["cascade"]["classic@a 20.10"],
            Cell {
                checked: 5,
                disagreed: 1,
                ..Cell::default()
            }
        );
        assert_eq!(m.columns.len(), 2);
    }
}
