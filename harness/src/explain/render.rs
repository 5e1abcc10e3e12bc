//! An explanation rendered for a terminal (`render_text`) and as Markdown for a pull-request
//! comment (`render_markdown`); JSON is the `Explanation`'s own serde form.

use super::answer::Explanation;
use super::changes::arg_value;

/// Renders an explanation for a terminal.
pub fn render_text(e: &Explanation) -> String {
    let mut out = format!("{} (Dockerfile `{}`)\n", e.dir, e.dockerfile);
    out.push_str(&changes_lines(e, ""));
    for limit in &e.limits {
        out.push_str(&format!("limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n{}\n", p.profile));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "  the engine refused the snapshot's build, so nothing of it is cached: {why}\n"
            ));
        }
        if let Some(why) = &p.rejected {
            out.push_str(&format!("  the engine refuses this build: {why}\n"));
        }
        for s in &p.steps {
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
    }
    out
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
pub fn render_markdown(e: &Explanation) -> String {
    let mut out = format!("### cachet explain: `{}`\n\n", e.dir);
    out.push_str(&changes_lines(e, "- "));
    for limit in &e.limits {
        out.push_str(&format!("- limit: {limit}\n"));
    }
    for p in &e.profiles {
        out.push_str(&format!("\n#### {}\n\n", p.profile));
        if let Some(why) = &p.snapshot_rejected {
            out.push_str(&format!(
                "The engine refused the snapshot's build, so nothing of it is cached: {why}\n\n"
            ));
        }
        if let Some(why) = &p.rejected {
            out.push_str(&format!("The engine refuses this build: {why}\n\n"));
        }
        out.push_str("| step | instruction | outcome | why | rule |\n|---|---|---|---|---|\n");
        for s in &p.steps {
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
    }
    out
}
