//! A matrix cell (one rule on one engine) and the state it shows: ok, known, new discrepancy,
//! unconfirmed or not exercised, each in words and in colour, so the page reads without colour.
//! Run reports (`report`) and merged ones (`report::compare`) count steps into cells here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::check::Verdict;
use crate::report::schema::{Outcome, ScenarioResult};
use models::RuleId;

/// Checked steps of one rule on one engine and what became of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Steps whose verdict counts: agreed, or disagreed and confirmed (new or known).
    pub checked: usize,
    /// Of those, confirmed discrepancies, the known ones included.
    pub disagreed: usize,
    /// Of those, the ones the known-divergence catalogue explains.
    #[serde(default)]
    pub known: usize,
    /// Discrepancies a re-run from a fresh salt did not show again (not in `checked`).
    #[serde(default)]
    pub unconfirmed: usize,
    /// The catalogue's upstream links of the known ones.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub links: BTreeSet<String>,
}

/// What a cell shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// A confirmed discrepancy the catalogue does not explain.
    New,
    /// Confirmed discrepancies, all of them explained by the catalogue.
    Known,
    /// Only discrepancies a re-run did not confirm (and agreement, if any).
    Unconfirmed,
    /// Every checked step agreed.
    Ok,
    /// No step of the rule was checked on this engine.
    NotExercised,
}

impl State {
    /// The CSS class of the state.
    pub fn class(self) -> &'static str {
        match self {
            State::New => "new",
            State::Known => "known",
            State::Unconfirmed => "unconfirmed",
            State::Ok => "ok",
            State::NotExercised => "none",
        }
    }
}

impl Cell {
    pub fn state(&self) -> State {
        if self.disagreed > self.known {
            State::New
        } else if self.known > 0 {
            State::Known
        } else if self.unconfirmed > 0 {
            State::Unconfirmed
        } else if self.checked > 0 {
            State::Ok
        } else {
            State::NotExercised
        }
    }

    /// `ok`, `DIFF` or `-`: what `report diff` compares (known or not, a confirmed discrepancy
    /// is a `DIFF`).
    pub fn status(&self) -> &'static str {
        match (self.checked, self.disagreed) {
            (0, _) => "-",
            (_, 0) => "ok",
            _ => "DIFF",
        }
    }

    /// The cell in words: `ok 4`, `NEW 1/4`, `KNOWN 2/4`, `unconfirmed 1`, `not exercised`.
    pub fn text(&self) -> String {
        match self.state() {
            State::New => format!("NEW {}/{}", self.disagreed - self.known, self.checked),
            State::Known => format!("KNOWN {}/{}", self.known, self.checked),
            State::Unconfirmed if self.checked > 0 => {
                format!("unconfirmed {}, ok {}", self.unconfirmed, self.checked)
            }
            State::Unconfirmed => format!("unconfirmed {}", self.unconfirmed),
            State::Ok => format!("ok {}", self.checked),
            State::NotExercised => "not exercised".to_string(),
        }
    }

    /// The cell in Markdown: its text, and a known divergence's links.
    pub fn markdown(&self) -> String {
        let links: Vec<&str> = self.links.iter().map(String::as_str).collect();
        match self.state() {
            State::Known => format!("{} ({})", self.text(), links.join(", ")),
            _ => self.text(),
        }
    }

    /// The cell as a `<td>`: its state's class and text, a known divergence's links.
    pub fn html(&self) -> String {
        let state = self.state();
        let mut text = crate::report::markup::escape(&self.text());
        if state == State::Known {
            for link in &self.links {
                text.push_str(&format!(
                    " <a href=\"{l}\">{l}</a>",
                    l = crate::report::markup::escape(link)
                ));
            }
        }
        format!("<td class=\"{}\">{text}</td>", state.class())
    }

    pub fn add(&mut self, other: &Cell) {
        self.checked += other.checked;
        self.disagreed += other.disagreed;
        self.known += other.known;
        self.unconfirmed += other.unconfirmed;
        self.links.extend(other.links.iter().cloned());
    }
}

/// What the states mean, in words (each page shows it above its matrix).
pub const LEGEND: &str = "ok N: N checked steps agreed. KNOWN k/N: k disagreed as the known-divergence catalogue says (link upstream). NEW k/N: k confirmed discrepancies nobody catalogued. unconfirmed k: k discrepancies a re-run did not show again (with the steps that agreed). not exercised: no step checked it. A step that differs only because an earlier step of its build did (cascade) counts against no rule.";

/// The states' colours (text says the same: pages read without colour).
pub const CSS: &str = "td.ok{background:#e6f4e6}td.known{background:#fff3cd}td.new{background:#f8b4b4;font-weight:bold}td.unconfirmed{background:#e4e8f0;font-style:italic}td.none{color:#888}tr.bucket.new td{background:#f8d7d7}tr.bucket.known td{background:#fff3cd}";

/// The URL in a known divergence's link text (`follows from build 1: https://...` → the URL).
pub fn url_of(link: &str) -> &str {
    link.find("http").map_or(link, |at| &link[at..])
}

/// One scenario's checked steps counted into `cells` (rule → cells of `column`), a step's rule
/// being what `rule_of` takes from its prediction. Cascade steps (`attribution::cascade_steps`) count
/// against no rule: the finding before them does.
pub fn count(
    result: &ScenarioResult,
    column: &str,
    cells: &mut BTreeMap<String, BTreeMap<String, Cell>>,
    rule_of: fn(&Outcome) -> Option<RuleId>,
) {
    let cascade = crate::report::attribution::cascade_steps(result);
    let confirmed: BTreeSet<(usize, usize)> =
        result.confirmed.iter().map(|(b, s, _)| (*b, *s)).collect();
    let known: BTreeMap<(usize, usize), &str> = result
        .known
        .iter()
        .map(|(b, s, _, l)| ((*b, *s), url_of(l)))
        .collect();
    for build in &result.history.builds {
        for v in &build.verdicts {
            let at = (build.transition, v.step);
            let Some(rule) = rule_of(&v.predicted) else {
                continue;
            };
            if cascade.contains(&at) {
                continue;
            }
            let cell = cells
                .entry(rule.to_string())
                .or_default()
                .entry(column.to_string())
                .or_default();
            match v.verdict {
                Verdict::Agree => cell.checked += 1,
                Verdict::Discrepancy if confirmed.contains(&at) => {
                    cell.checked += 1;
                    cell.disagreed += 1;
                }
                Verdict::Discrepancy => match known.get(&at) {
                    Some(link) => {
                        cell.checked += 1;
                        cell.disagreed += 1;
                        cell.known += 1;
                        cell.links.insert(link.to_string());
                    }
                    None => cell.unconfirmed += 1,
                },
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(checked: usize, disagreed: usize, known: usize, unconfirmed: usize) -> Cell {
        Cell {
            checked,
            disagreed,
            known,
            unconfirmed,
            links: if known > 0 {
                BTreeSet::from(["https://example.org/issue/1".to_string()])
            } else {
                BTreeSet::new()
            },
        }
    }

    #[test]
    fn every_state_reads_apart_in_words_and_in_class() {
        let cells = [
            (cell(4, 0, 0, 0), State::Ok),
            (cell(4, 2, 2, 0), State::Known),
            (cell(4, 2, 1, 0), State::New),
            (cell(0, 0, 0, 1), State::Unconfirmed),
            (cell(0, 0, 0, 0), State::NotExercised),
        ];
        let mut words = BTreeSet::new();
        let mut classes = BTreeSet::new();
        for (c, state) in &cells {
            assert_eq!(c.state(), *state, "{c:?}");
            // The first word of the text names the state, whatever the colour.
            words.insert(c.text().split_whitespace().next().unwrap().to_string());
            classes.insert(state.class());
            assert!(c.html().contains(&format!("class=\"{}\"", state.class())));
        }
        assert_eq!(words.len(), cells.len(), "{words:?}");
        assert_eq!(classes.len(), cells.len());
        assert!(cells[1]
            .0
            .html()
            .contains("href=\"https://example.org/issue/1\""));
        assert!(cells[1]
            .0
            .markdown()
            .contains("https://example.org/issue/1"));
        assert_eq!(
            cells[2].0.text(),
            "NEW 1/4",
            "new ones only, of the checked"
        );
        assert_eq!(url_of("follows from build 1: https://x/y"), "https://x/y");
    }
}
