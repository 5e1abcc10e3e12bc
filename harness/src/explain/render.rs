//! An explanation rendered for a terminal (`render_text`) and as Markdown for a pull-request
//! comment (`render_markdown`); JSON is the `Explanation`'s own serde form.

use super::answer::{Explanation, ProfileExplanation, StepExplanation};
use super::changes::arg_value;
use super::steps::CACHED;

/// Whether a step is listed without `--all`: what is not cached, a cached step that reads a
/// change (why it still hits), and a step with a warning.
fn listed(s: &StepExplanation, all: bool) -> bool {
    let plain = match s.outcome.as_str() {
        "cached" => s.why == CACHED,
        "not-a-step" | "skipped" => true,
        _ => false,
    };
    all || !plain || !s.warnings.is_empty()
}

/// A profile's first line: the build fails, its first miss and why, or no miss.
fn headline(p: &ProfileExplanation) -> String {
    if let Some(why) = &p.rejected {
        return format!("the build fails: {why}");
    }
    if let Some(s) = p
        .first_miss
        .and_then(|n| p.steps.iter().find(|s| s.step == n))
    {
        let rule = s
            .rule
            .as_deref()
            .map(|r| format!(" [{r}]"))
            .unwrap_or_default();
        // A step the model cannot judge before it may miss first.
        let unjudged_before = p
            .steps
            .iter()
            .any(|u| u.outcome == "unknown" && u.step < s.step);
        let verb = match (s.outcome == "fails", unjudged_before) {
            (true, _) => "fails",
            (false, false) => "first miss",
            (false, true) => "first miss the model can see",
        };
        return format!(
            "{verb}: step {} `{}`: {}{rule}",
            s.step, s.instruction, s.why
        );
    }
    match p.steps.iter().find(|s| s.outcome == "unknown") {
        Some(s) => format!(
            "no miss the model can see before step {}, which it cannot judge",
            s.step
        ),
        None => "no miss: every step is cached".to_string(),
    }
}

/// Renders an explanation for a terminal: per profile its headline, then the steps that are not
/// cached (`all`: every step).
pub fn render_text(e: &Explanation, all: bool) -> String {
    let mut out = format!("{} (Dockerfile `{}`)\n", e.dir, e.dockerfile);
    out.push_str(&changes_lines(e, ""));
    for limit in &e.limits {
        out.push_str(&format!("limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n{}: {}\n", p.profile, headline(p)));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "  the engine refused the snapshot's build, so nothing of it is cached: {why}\n"
            ));
        }
        for s in p.steps.iter().filter(|s| listed(s, all)) {
            out.push_str(&format!(
                "  step {:<3} {:<10} {}\n",
                s.step, s.outcome, s.instruction
            ));
            let rule = s
                .rule
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            out.push_str(&format!("             {}{rule}\n", s.why));
            if let Some(source) = s.source.as_deref().filter(|_| s.outcome == "rebuilt") {
                out.push_str(&format!("             {source}\n"));
            }
            for w in &s.warnings {
                out.push_str(&format!(
                    "             WARNING ({}): {} {}\n",
                    w.engine, w.text, w.link
                ));
            }
        }
        out.push_str(&hidden_line(p, all, "  "));
    }
    out
}

/// `(5 cached, 2 skipped steps not listed; --all lists every step)`, when some are not.
fn hidden_line(p: &ProfileExplanation, all: bool, prefix: &str) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for s in p.steps.iter().filter(|s| !listed(s, all)) {
        match counts.iter_mut().find(|(o, _)| *o == s.outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.outcome.as_str(), 1)),
        }
    }
    if counts.is_empty() {
        return String::new();
    }
    let total: usize = counts.iter().map(|c| c.1).sum();
    let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
    let noun = if total == 1 { "step" } else { "steps" };
    format!(
        "{prefix}({} {noun} not listed; --all lists every step)\n",
        parts.join(", ")
    )
}

/// The changes and build-arg changes, one line each, behind `prefix`.
fn changes_lines(e: &Explanation, prefix: &str) -> String {
    let mut out = String::new();
    if e.changes.is_empty() && e.build_args.is_empty() {
        out.push_str(&format!("{prefix}no change since the snapshot\n"));
    }
    for c in &e.changes {
        out.push_str(&format!("{prefix}changed: `{}`: {}\n", c.path, c.what));
    }
    for a in &e.build_args {
        out.push_str(&format!(
            "{prefix}changed: --build-arg {}: {} → {}\n",
            a.name,
            arg_value(a.then.as_ref()),
            arg_value(a.now.as_ref())
        ));
    }
    out
}

/// Renders an explanation as Markdown (a pull-request comment).
pub fn render_markdown(e: &Explanation, all: bool) -> String {
    let mut out = format!("### cachet explain: `{}`\n\n", e.dir);
    out.push_str(&changes_lines(e, "- "));
    for limit in &e.limits {
        out.push_str(&format!("- limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n#### {}\n\n{}\n\n", p.profile, headline(p)));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "The engine refused the snapshot's build, so nothing of it is cached: {why}\n\n"
            ));
        }
        out.push_str("| step | instruction | outcome | why | rule |\n|---|---|---|---|---|\n");
        for s in p.steps.iter().filter(|s| listed(s, all)) {
            let rule = match (&s.rule, &s.source) {
                (Some(r), Some(src)) => format!("[`{r}`]({src})"),
                (Some(r), None) => format!("`{r}`"),
                _ => String::new(),
            };
            let mut why = s.why.replace('|', "\\|");
            for w in &s.warnings {
                why.push_str(&format!(
                    "<br>⚠️ **{}**: {} ([upstream]({}))",
                    w.engine,
                    w.text.replace('|', "\\|"),
                    w.link
                ));
            }
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                s.step,
                s.instruction.replace('|', "\\|").replace('`', "'"),
                s.outcome,
                why,
                rule
            ));
        }
        out.push_str(&hidden_line(p, all, "\n"));
    }
    out
}
