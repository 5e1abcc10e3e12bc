//! Repairs: the mutations that give back what the Dockerfile names and the context lost (a
//! removed or renamed source, one `.dockerignore` leaves out, a dangling link named as a
//! source, a wildcard left without a match). A build that fails tests the rule that it fails
//! (the model predicts it), but a real run learns nothing from its other steps (BuildKit
//! cancels them, and nothing after the failure runs): the build after a failing one repairs
//! first, so a failure lasts one build (issue #25).

use models::dockerfile::{self, Body, MountKind};
use models::scenario::Mutation;
use models::{BuildContext, EntryKind};

use super::fit;

/// The context paths the Dockerfile names as sources (COPY / ADD of the context, context bind
/// mounts), as written: `.` and heredocs left out.
fn named(context: &BuildContext) -> Vec<String> {
    let text = context.dockerfile_text().unwrap_or_default();
    let parsed = dockerfile::parse(&text).dockerfile;
    let mut out = Vec::new();
    for i in parsed.instructions() {
        match &i.body {
            Body::Copy(c) | Body::Add(c) if c.from.is_none() => {
                let heredoc = |s: &String| s.starts_with("<<");
                out.extend(c.sources.iter().filter(|s| !heredoc(s)).cloned());
            }
            Body::Run { flags, .. } => out.extend(
                flags
                    .mounts
                    .iter()
                    .filter(|m| m.kind == MountKind::Bind && m.from.is_none())
                    .filter_map(|m| m.source.clone()),
            ),
            _ => {}
        }
    }
    out.into_iter()
        .map(|s| s.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty() && s != ".")
        .collect()
}

/// Whether `source` (as written) finds something in the context the builder sees: a path
/// there (a link to something there), or a wildcard's match.
fn found(seen: &BuildContext, source: &str) -> bool {
    match source.strip_suffix("/*") {
        Some(dir) => seen.entries_under(dir).next().is_some(),
        None => match seen.get(source).map(|e| &e.kind) {
            Some(EntryKind::Symlink { .. }) => fit::resolve(seen, source).is_some(),
            Some(_) => true,
            None => false,
        },
    }
}

/// The mutations that make every source the Dockerfile names found again: a `.dockerignore`
/// without the lines that leave it out, a file (a directory for `d`) where it is missing, a
/// dangling link pointed at `a`'s or `d`'s (whichever is there), a file in `d` for `d/*`.
pub fn repair(context: &BuildContext) -> Vec<Mutation> {
    let mut current = context.clone();
    let mut out = Vec::new();
    for source in named(context) {
        let seen = current.without_ignored();
        if found(&seen, &source) {
            continue;
        }
        let mut fixes = Vec::new();
        let ignore = current.dockerignore_text().unwrap_or_default();
        if current.get(&source).is_some() && !ignore.is_empty() {
            let kept: Vec<&str> = ignore.lines().filter(|l| l.trim() != source).collect();
            let text = if kept.is_empty() {
                String::new()
            } else {
                format!("{}\n", kept.join("\n"))
            };
            fixes.push(Mutation::Dockerignore { text });
        }
        let dir = source.strip_suffix("/*");
        match (dir, current.get(&source).map(|e| &e.kind)) {
            (Some(dir), _) => fixes.push(Mutation::Write {
                path: format!("{dir}/c"),
                content: "repaired".into(),
            }),
            (None, Some(EntryKind::Symlink { .. })) => {
                let live = ["a", "d"].into_iter().find(|t| {
                    current
                        .get(t)
                        .is_some_and(|e| !matches!(e.kind, EntryKind::Symlink { .. }))
                });
                fixes.extend(live.map(|target| Mutation::Symlink {
                    path: source.clone(),
                    target: target.into(),
                }));
            }
            (None, None) if source == "d" => fixes.push(Mutation::Mkdir {
                path: source.clone(),
            }),
            (None, None) => fixes.push(Mutation::Write {
                path: source.clone(),
                content: "repaired".into(),
            }),
            (None, Some(_)) => {}
        }
        for m in fixes {
            let mut next = current.clone();
            if models::scenario::apply_mutation(&mut next, &m, 0).is_ok()
                && fit::check(&next).is_ok()
            {
                current = next;
                out.push(m);
            }
        }
    }
    out
}

/// Whether a Dockerfile reads `s0`'s `/o` where no step writes it: every build of it would
/// fail there, which no repair of the context mends (an edit that makes it is dropped).
pub fn reads_unwritten(text: &str) -> bool {
    (text.contains("s0 /o ") || text.contains("source=/o,")) && !text.contains("> /o")
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::Entry;

    fn check(dockerfile: &str, change: impl FnOnce(&mut BuildContext), expect: &[&str]) {
        let mut context = BuildContext::new();
        for f in ["a", "b", "d/c"] {
            context.insert(f, Entry::file(f)).unwrap();
        }
        context.insert("l", Entry::symlink("a")).unwrap();
        context.set_dockerfile_text(dockerfile);
        change(&mut context);
        let got: Vec<String> = repair(&context)
            .iter()
            .map(|m| serde_json::to_string(m).unwrap())
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn what_the_dockerfile_names_is_found_again() {
        let copy_b = "FROM base\nCOPY a b /m/\nCOPY . /app\n";
        check(copy_b, |_| {}, &[]);
        check(
            copy_b,
            |c| {
                c.remove("b");
            },
            &[r#"{"op":"write","path":"b","content":"repaired"}"#],
        );
        check(
            copy_b,
            |c| c.insert(".dockerignore", Entry::file("b\nd/b\n")).unwrap(),
            &[r#"{"op":"dockerignore","text":"d/b\n"}"#],
        );
        check(
            "FROM base\nCOPY l /l\n",
            |c| {
                c.remove("a");
            },
            &[r#"{"op":"symlink","path":"l","target":"d"}"#],
        );
        check(
            "FROM base\nCOPY d/* /w/\nRUN --mount=type=bind,source=b,target=/m cat /m\n",
            |c| {
                c.remove("d");
                c.remove("b");
            },
            &[
                r#"{"op":"write","path":"d/c","content":"repaired"}"#,
                r#"{"op":"write","path":"b","content":"repaired"}"#,
            ],
        );
        check(
            "FROM base\nCOPY <<EOF /f\nhi\nEOF\nCOPY --from=s0 /b /b\n",
            |c| {
                c.remove("b");
            },
            &[],
        );
    }

    #[test]
    fn a_read_of_what_s0_never_wrote_is_told() {
        let s0 = "FROM base AS s0\nCOPY a /a\n";
        for (last, reads) in [
            ("COPY --from=s0 /o /o\n", true),
            (
                "RUN --mount=type=bind,from=s0,source=/o,target=/m cat /m\n",
                true,
            ),
            ("COPY --from=s0 /a /x\n", false),
        ] {
            let text = format!("{s0}FROM base\n{last}");
            assert_eq!(reads_unwritten(&text), reads, "{text}");
            let written = text.replace("COPY a /a\n", "COPY a /a\nRUN echo 1 > /o\n");
            assert!(!reads_unwritten(&written), "{written}");
        }
    }
}
