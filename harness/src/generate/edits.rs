//! Dockerfile edits: the `DockerfileEdit`s a build may draw, the word swaps (`TWINS`) and flag
//! toggles they make, and `apply_edit`, which resolves one against the text at that point.

use models::dockerfile::{self, render, Body, Dockerfile, Line};
use proptest::prelude::*;

use super::stages::arb_body;

/// An edit of the Dockerfile, resolved against its text at that point of the scenario.
#[derive(Clone, Debug)]
pub(super) enum DockerfileEdit {
    /// A comment line before instruction `n` (a text change builders normalise away).
    Comment(usize),
    /// Instruction `n`'s keyword in lower case.
    LowerKeyword(usize),
    /// Extra spaces inside instruction `n`'s arguments (a real text change for RUN).
    Respace(usize),
    /// Instruction `n` with one word of the pools swapped for its twin (`TWINS`).
    Vary(usize),
    /// Instruction `n` replaced by another.
    Replace(usize, String),
    /// A new instruction before instruction `n`.
    Insert(usize, String),
    /// A new instruction at the end.
    Append(String),
    /// Instruction `n` (or the next one it fits) with a flag added or dropped (`toggle`): a newer
    /// generation's only in a modern scenario.
    Toggle(usize, Flag),
    /// Like `Vary`, on the `n`-th telling instruction (`is_telling`): a flag, a newer form, a
    /// read of another stage or of the build arg, so what a rule keys on changes alone.
    VaryTelling(usize, &'static str),
    /// Like `Vary`, on the first instruction that reads another stage (`--from=`, `from=`);
    /// any instruction where none does.
    VaryRead,
    /// Like `Vary`, on the `n`-th instruction in a newer generation's form (`is_new`): only in a
    /// modern scenario, so its heredocs, mounts and flags are edited as often as the rest.
    VaryNew(usize),
}

/// The flags a `Toggle` edit adds or drops.
#[derive(Clone, Copy, Debug)]
pub(super) enum Flag {
    /// `COPY --link` (the classic builder of 26+ ignores it, Buildah 1.41+ keys its word,
    /// BuildKit on containerd keys the copy apart from its parent).
    Link,
    /// `COPY --exclude=b` (left out by BuildKit 28, read by no classic builder).
    Exclude,
    /// `ADD --checksum` of a context source (refused by BuildKit, ignored by the classic
    /// builder of 26+, failing at its step on Buildah).
    Checksum,
    /// `COPY --chown=2:2` of `a`: an owner-only change, read `--from` its stage
    /// (`bk.from-owner`).
    Chown,
    /// Where a `Checksum` toggle finds no ADD: a COPY of one context source without flags
    /// becomes an ADD with the checksum (a later `Checksum` toggle drops the flag alone).
    Add,
}

pub(super) fn arb_dockerfile_edit(modern: bool) -> impl Strategy<Value = DockerfileEdit> {
    prop_oneof![
        1 => (0usize..6).prop_map(DockerfileEdit::Comment),
        1 => (0usize..6).prop_map(DockerfileEdit::LowerKeyword),
        1 => (0usize..6).prop_map(DockerfileEdit::Respace),
        13 => prop_oneof![
            6 => (0usize..8).prop_map(DockerfileEdit::Vary),
            1 => Just(DockerfileEdit::VaryRead),
            6 => (0usize..8).prop_map(|n| DockerfileEdit::VaryTelling(n, "")),
        ],
        1 => (0usize..6, arb_body(modern)).prop_map(|(n, b)| DockerfileEdit::Replace(n, b)),
        1 => (0usize..6, arb_body(modern)).prop_map(|(n, b)| DockerfileEdit::Insert(n, b)),
        1 => arb_body(modern).prop_map(DockerfileEdit::Append),
        if modern { 8 } else { 0 } => (
            0usize..8,
            prop_oneof![
                1 => Just(Flag::Link),
                1 => Just(Flag::Exclude),
                2 => Just(Flag::Checksum)
            ]
        )
            .prop_map(|(n, flag)| DockerfileEdit::Toggle(n, flag)),
        4 => (0usize..8).prop_map(|n| DockerfileEdit::Toggle(n, Flag::Chown)),
        if modern { 4 } else { 0 } => (0usize..4).prop_map(DockerfileEdit::VaryNew),
    ]
}

/// Whether an instruction's text is in a newer generation's form (a heredoc, a mount, `--chmod`,
/// `--link`, `--exclude`, `--checksum`).
fn is_new(instruction: &dockerfile::Instruction) -> bool {
    let args = &instruction.raw_args;
    [
        "<<",
        "--mount",
        "--chmod",
        "--link",
        "--exclude",
        "--checksum",
    ]
    .iter()
    .any(|form| args.contains(form))
}

/// Whether an instruction is one a rule keys on apart: a newer form, an owner or mode flag, a
/// read of another stage, several sources, or the build arg.
fn is_telling(instruction: &dockerfile::Instruction) -> bool {
    let args = &instruction.raw_args;
    is_new(instruction)
        || ["--chown", "from=", "$V", " a b "]
            .iter()
            .any(|form| format!(" {args}").contains(form))
        || matches!(&instruction.body, Body::Arg { .. })
}

/// The checksum `Toggle` gives an `ADD` of a context source.
const CHECKSUM: &str =
    "--checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 ";

/// An instruction's text with `flag` added (or dropped where it has it), if the flag fits it:
/// `--link` on any COPY but a heredoc's, `--exclude=b` on a COPY of `.` or `d`, `--checksum`
/// on an ADD (`Flag::Add`: a COPY of one context source without flags becomes one).
fn toggle(instruction: &dockerfile::Instruction, flag: Flag) -> Option<String> {
    let (keyword, args) = (instruction.keyword.as_str(), instruction.raw_args.as_str());
    let spaced = format!(" {args}");
    let (copy, add) = (
        keyword.eq_ignore_ascii_case("COPY"),
        keyword.eq_ignore_ascii_case("ADD"),
    );
    // A COPY of one context source without flags becomes an ADD with a checksum.
    let plain_copy = copy && !args.starts_with("--") && !args.contains("<<") && {
        let words: Vec<&str> = args.split_whitespace().collect();
        words.len() == 2 && !words[0].contains('*')
    };
    let (word, fits) = match flag {
        Flag::Link => ("--link ", copy && !args.contains("<<")),
        Flag::Exclude => (
            "--exclude=b ",
            copy && (spaced.ends_with(" d /d") || spaced.ends_with(" . /app")),
        ),
        Flag::Checksum => (CHECKSUM, add),
        Flag::Add => (CHECKSUM, plain_copy),
        Flag::Chown => (
            "--chown=2:2 ",
            copy && spaced.ends_with(" a /a") && !args.contains("--chown=1:1"),
        ),
    };
    if !fits {
        return None;
    }
    // Dropped by its name, whatever its value (an edit may have changed the checksum).
    let name = &word[..word.find('=').unwrap_or(word.len() - 1)];
    let args = match args.find(name) {
        Some(at) => {
            let end = args[at..].find(' ').map_or(args.len(), |e| at + e + 1);
            format!("{}{}", &args[..at], &args[end..])
        }
        None => format!("{word}{args}"),
    };
    let keyword = if matches!(flag, Flag::Add) {
        "ADD"
    } else {
        keyword
    };
    Some(format!("{keyword} {args}"))
}

/// Word swaps of the pools, tried in order: the first whose left side an instruction's text
/// holds is applied once. Each changes one thing a rule keys on (or, for some, must not).
const TWINS: &[(&str, &str)] = &[
    ("--chown=1:1 ", "--chown=2:2 "),
    ("--chown=2:2 ", ""),
    ("--chmod=600 ", "--chmod=755 "),
    ("--chmod=755 ", ""),
    ("COPY ./", "COPY "),
    ("COPY a b", "COPY ./a b"),
    ("COPY b ", "COPY ./b "),
    ("COPY a ", "COPY --chown=1:1 a "),
    ("COPY d/c ", "COPY --chmod=600 d/c "),
    ("echo x", "echo y"),
    ("echo y", "echo x"),
    ("echo 1", "echo 2"),
    ("echo 2", "echo 1"),
    ("echo $V", "echo $E"),
    ("echo $E", "echo $V"),
    ("ENV E=y", "ENV E y"),
    ("ENV E y", "ENV E=y"),
    ("E=$V", "E=x"),
    ("E=x", "E=y"),
    ("E=y", "E=x"),
    ("x=1", "x=2"),
    ("x=2", "x=1"),
    ("W=1", "W=2"),
    ("ARG V\n", "ARG V W=1\n"),
    ("/w", "/v"),
    ("/v", "/w"),
    ("USER 1000", "USER 0"),
    ("USER 0", "USER 1000"),
    ("80", "81"),
    ("81", "80"),
    ("[\"x\"]", "[\"y\"]"),
    ("[\"y\"]", "[\"x\"]"),
    ("/bin/sh\"]", "/bin/true\"]"),
    ("/data", "/logs"),
    ("/logs", "/data"),
    ("SIGINT", "SIGTERM"),
    ("\"-c\"", "\"-ec\""),
    ("HEALTHCHECK NONE", "HEALTHCHECK CMD true"),
    ("HEALTHCHECK CMD true", "HEALTHCHECK NONE"),
    ("id=a", "id=b"),
    ("id=b", "id=a"),
    ("source=a", "source=b"),
    ("source=b", "source=a"),
    ("\nhi\n", "\nho\n"),
    ("\nho\n", "\nhi\n"),
    ("=b d", "=c d"),
    ("me", "you"),
    // `--link` dropped (the classic builder of 26+ never reads it, Buildah keys its word,
    // BuildKit on containerd links), and another `ADD --checksum` (the classic builder never
    // reads it either).
    ("COPY --link ", "COPY "),
    // What a stage reads from `s0`: another owner, another path.
    ("--from=s0 /", "--from=s0 --chown=2:2 /"),
    ("source=/a,", "source=/o,"),
    ("source=/o,", "source=/a,"),
    (
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    ),
];

/// An instruction's twin, or where it has none a flag toggled (`--checksum`, `--link`, the
/// owner).
fn twin_or_toggle(instruction: &dockerfile::Instruction) -> Option<String> {
    twin(instruction).or_else(|| {
        [Flag::Checksum, Flag::Link, Flag::Chown]
            .into_iter()
            .find_map(|f| toggle(instruction, f))
    })
}

/// An instruction's text with its first twin swapped in, if any applies.
fn twin(instruction: &dockerfile::Instruction) -> Option<String> {
    let text = format!("{} {}\n", instruction.keyword, instruction.raw_args);
    TWINS
        .iter()
        .find(|(from, _)| text.contains(from))
        .map(|(from, to)| text.replacen(from, to, 1).trim_end().to_string())
}

/// The lines of one instruction's text (a heredoc's body included).
fn lines_of(text: &str) -> Vec<Line> {
    dockerfile::parse(&format!("{text}\n")).dockerfile.lines
}

/// The positions an edit may touch: instructions after the first FROM, FROMs excluded.
fn editable(dockerfile: &Dockerfile) -> Vec<usize> {
    let first_from = dockerfile
        .lines
        .iter()
        .position(|l| matches!(l, Line::Instruction(i) if matches!(i.body, Body::From { .. })))
        .unwrap_or(0);
    dockerfile
        .lines
        .iter()
        .enumerate()
        .skip(first_from)
        .filter(|(_, l)| matches!(l, Line::Instruction(i) if !matches!(i.body, Body::From { .. })))
        .map(|(n, _)| n)
        .collect()
}

pub(super) fn apply_edit(text: &str, edit: &DockerfileEdit) -> String {
    let mut dockerfile = dockerfile::parse(text).dockerfile;
    let before = render(&dockerfile);
    let positions = editable(&dockerfile);
    let pick = |n: usize| positions.get(n % positions.len().max(1)).copied();
    let lines = &mut dockerfile.lines;
    match edit {
        DockerfileEdit::Comment(n) => {
            if let Some(at) = pick(*n) {
                lines.insert(at, Line::Comment("# edited by cachet".into()));
            }
        }
        DockerfileEdit::LowerKeyword(n) => {
            if let Some(Line::Instruction(i)) = pick(*n).and_then(|at| lines.get_mut(at)) {
                i.keyword = i.keyword.to_lowercase();
            }
        }
        DockerfileEdit::Respace(n) => {
            if let Some(Line::Instruction(i)) = pick(*n).and_then(|at| lines.get_mut(at)) {
                i.raw_args = i.raw_args.replacen(' ', "  ", 1);
            }
        }
        DockerfileEdit::Vary(n) => {
            let at = pick(*n);
            let varied = at.and_then(|at| match &lines[at] {
                Line::Instruction(i) => twin(i),
                _ => None,
            });
            if let (Some(at), Some(text)) = (at, varied) {
                lines.splice(at..=at, lines_of(&text));
            }
        }
        DockerfileEdit::Replace(n, body) => {
            if let Some(at) = pick(*n) {
                lines.splice(at..=at, lines_of(body));
            }
        }
        DockerfileEdit::Insert(n, body) => {
            let at = pick(*n).unwrap_or(lines.len());
            lines.splice(at..at, lines_of(body));
        }
        DockerfileEdit::Append(body) => lines.extend(lines_of(body)),
        DockerfileEdit::VaryNew(n) => {
            let new = |i: &dockerfile::Instruction| if is_new(i) { twin(i) } else { None };
            rewrite_first(lines, &positions, *n, new);
        }
        DockerfileEdit::VaryTelling(n, focus) => vary_telling(lines, &positions, *n, focus),
        DockerfileEdit::VaryRead => {
            let reads = |i: &dockerfile::Instruction| {
                let text = &i.raw_args;
                if text.contains("from=") {
                    twin(i)
                } else {
                    None
                }
            };
            rewrite_first(lines, &positions, 0, reads);
        }
        DockerfileEdit::Toggle(n, flag) => toggle_first(lines, &positions, *n, *flag),
    }
    // An edit that found nothing to change varies the first instruction with a twin instead.
    if render(&dockerfile) == before {
        rewrite_first(&mut dockerfile.lines, &positions, 0, twin);
    }
    render(&dockerfile)
}

/// A `VaryTelling` edit: the first instruction from `n` on that holds the focus's word, or where
/// none does the first telling one (`is_telling`), given its twin or a flag toggled.
fn vary_telling(lines: &mut Vec<Line>, positions: &[usize], n: usize, focus: &str) {
    let holding = |f: &dyn Fn(&dockerfile::Instruction) -> bool| -> Vec<usize> {
        let at = positions.iter().copied();
        at.filter(|at| matches!(&lines[*at], Line::Instruction(i) if f(i)))
            .collect()
    };
    let on_focus = holding(&|i| !focus.is_empty() && format!(" {}", i.raw_args).contains(focus));
    let telling = holding(&is_telling);
    let pool = if on_focus.is_empty() {
        telling
    } else {
        on_focus
    };
    rewrite_first(lines, &pool, n, twin_or_toggle);
}

/// A `Toggle` edit: the first instruction from `n` on the flag fits, or else one another flag
/// fits (the newer generations' flags only where `flag` is one).
fn toggle_first(lines: &mut Vec<Line>, positions: &[usize], n: usize, flag: Flag) {
    let newer = !matches!(flag, Flag::Chown);
    let others = [
        Flag::Add,
        Flag::Link,
        Flag::Exclude,
        Flag::Checksum,
        Flag::Chown,
    ];
    for f in std::iter::once(flag).chain(others.into_iter().filter(|_| newer)) {
        if rewrite_first(lines, positions, n, |i| toggle(i, f)) {
            break;
        }
    }
}

/// Rewrites the first instruction from position `n` on (cyclically) that `rewrite` gives a new
/// text; whether one did.
fn rewrite_first(
    lines: &mut Vec<Line>,
    positions: &[usize],
    n: usize,
    rewrite: impl Fn(&dockerfile::Instruction) -> Option<String>,
) -> bool {
    let found = (0..positions.len()).find_map(|k| {
        let at = positions[(n + k) % positions.len()];
        match &lines[at] {
            Line::Instruction(i) => rewrite(i).map(|text| (at, text)),
            _ => None,
        }
    });
    if let Some((at, text)) = &found {
        lines.splice(*at..=*at, lines_of(text));
    }
    found.is_some()
}
