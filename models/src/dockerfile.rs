//! Dockerfile AST, parser and renderer.
//!
//! The AST keeps the text as written (keyword spelling, argument text with line continuations,
//! comments and blank lines inside them, heredoc bodies, parser directives) so that edits which
//! real builders normalise away (keyword case, continuations, comments) can be generated,
//! rendered and still understood: `render(&parse(text).dockerfile) == text` for every text with
//! one space after each keyword and `\n` line ends. `Instruction::body` holds the parsed meaning;
//! `Instruction::normalized` is the text a builder keys on.
//!
//! Lines are split into instructions as BuildKit's parser does: parser directives (`# syntax=`,
//! `# escape=`, `# check=`) only before anything else; a comment line or a blank line inside a
//! continuation is skipped, not the end of the instruction; RUN, COPY and ADD read the heredoc
//! bodies their line names (`<<EOF` ... `EOF`). An instruction's parsed meaning (`Body` and its
//! parts) is in `ast.rs`; instruction arguments are parsed and rendered in `body.rs`.
//!
//! Unsupported text becomes a `Body::Unsupported` with a diagnostic; parsing never panics.

mod ast;
mod body;
mod canonical;
pub mod expand;
mod pattern;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use ast::{ArgDecl, Body, Command, CopyArgs, Feature, Heredoc, Mount, MountKind, RunFlags};
pub use body::{is_unknown_syntax, parse_json_string_array};
pub use canonical::canonical_args;
pub use expand::{expand, Dialect, ExpandError, Syntax};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instruction {
    /// The keyword as written (`run`, `Run`, `RUN`).
    pub keyword: String,
    /// The argument text as written: `\`-newline continuations, the comment and blank lines
    /// inside them, and heredoc bodies with their terminator lines (no final newline).
    pub raw_args: String,
    pub body: Body,
    /// The escape character in force (`# escape=`): `\` or `` ` ``.
    #[serde(default = "default_escape")]
    pub escape: char,
}

fn default_escape() -> char {
    '\\'
}

impl Instruction {
    /// An instruction spelled canonically: upper-case keyword, canonical argument text.
    pub fn new(body: Body) -> Instruction {
        let raw_args = canonical_args(&body);
        Instruction {
            keyword: body.keyword().to_string(),
            raw_args,
            body,
            escape: '\\',
        }
    }

    /// The argument line with continuations joined and the comment and blank lines inside them
    /// dropped, trimmed: what a builder parses (heredoc bodies excluded).
    pub fn joined_args(&self) -> String {
        logical_line(&self.raw_args, self.escape)
            .0
            .trim()
            .to_string()
    }

    /// The text a builder keys on: canonical keyword and joined arguments, then each heredoc's
    /// body and terminator. Comments, keyword case and line continuations are gone; whitespace
    /// inside arguments stays, and so do RUN's flags (`--mount=...`).
    pub fn normalized(&self) -> String {
        let mut out = format!("{} {}", self.body.keyword(), self.joined_args());
        for heredoc in self.body.heredocs() {
            out.push('\n');
            out.push_str(&heredoc.content);
            out.push_str(&heredoc.name);
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Line {
    Blank,
    /// A whole comment line, `#` included.
    Comment(String),
    /// A parser directive at the top of the file (`# syntax=docker/dockerfile:1`), as written.
    Directive {
        name: String,
        value: String,
        text: String,
    },
    Instruction(Instruction),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dockerfile {
    pub lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// 1-based line number in the text.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub dockerfile: Dockerfile,
    pub diagnostics: Vec<Diagnostic>,
}

impl Dockerfile {
    pub fn from_instructions(bodies: impl IntoIterator<Item = Body>) -> Dockerfile {
        Dockerfile {
            lines: bodies
                .into_iter()
                .map(|b| Line::Instruction(Instruction::new(b)))
                .collect(),
        }
    }

    pub fn instructions(&self) -> impl Iterator<Item = &Instruction> {
        self.lines.iter().filter_map(|l| match l {
            Line::Instruction(i) => Some(i),
            _ => None,
        })
    }

    pub fn instructions_mut(&mut self) -> impl Iterator<Item = &mut Instruction> {
        self.lines.iter_mut().filter_map(|l| match l {
            Line::Instruction(i) => Some(i),
            _ => None,
        })
    }

    /// A parser directive's value (`syntax`, `escape`, `check`), as written.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Directive { name: n, value, .. } if n.eq_ignore_ascii_case(name) => {
                Some(value.as_str())
            }
            _ => None,
        })
    }
}

pub fn render(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    for line in &dockerfile.lines {
        match line {
            Line::Blank => {}
            Line::Comment(text) | Line::Directive { text, .. } => out.push_str(text),
            Line::Instruction(i) => {
                out.push_str(&i.keyword);
                if !i.raw_args.is_empty() {
                    out.push(' ');
                    out.push_str(&i.raw_args);
                }
            }
        }
        out.push('\n');
    }
    out
}

/// The physical lines of a text, `\r` line ends stripped, without the empty piece after a final
/// newline.
struct Lines<'a> {
    physical: Vec<&'a str>,
    next: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let mut physical: Vec<&str> = text.split('\n').collect();
        if text.ends_with('\n') {
            physical.pop();
        }
        Lines { physical, next: 0 }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let line = self.physical.get(self.next)?;
        self.next += 1;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// 1-based number of the line last read.
    fn number(&self) -> usize {
        self.next
    }
}

pub fn parse(text: &str) -> Parsed {
    parse_with(text, true)
}

/// How a `Body::Unsupported` from `parse_with` without heredocs begins when its keyword is no
/// instruction; the keyword (upper case) follows.
pub const UNKNOWN_INSTRUCTION: &str = "unknown instruction: ";

/// `parse`, with or without heredocs. A frontend that does not know them (Buildah 1.28's
/// imagebuilder) reads `RUN <<EOF` as written and each body line as an instruction of its own;
/// it looks an instruction's keyword up only when it dispatches the step, so there an unknown
/// one is no parse error but a `Body::Unsupported` whose `why` starts with
/// `UNKNOWN_INSTRUCTION`, refused at its step (the frontend's rule, not the parser's).
pub fn parse_with(text: &str, heredocs: bool) -> Parsed {
    let mut lines = Vec::new();
    let mut diagnostics = Vec::new();
    let mut input = Lines::new(text);
    let mut directives_open = true;
    let mut escape = '\\';
    while let Some(line) = input.next_line() {
        let number = input.number();
        if directives_open {
            if let Some((name, value)) = directive(line, &lines) {
                if name.eq_ignore_ascii_case("escape") {
                    match value.as_str() {
                        "\\" => escape = '\\',
                        "`" => escape = '`',
                        other => diagnostics.push(Diagnostic {
                            line: number,
                            message: format!("invalid escape token `{other}`"),
                        }),
                    }
                }
                lines.push(Line::Directive {
                    name,
                    value,
                    text: line.to_string(),
                });
                continue;
            }
            directives_open = false;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            lines.push(Line::Blank);
            continue;
        }
        if trimmed.starts_with('#') {
            lines.push(Line::Comment(line.to_string()));
            continue;
        }
        let instruction = parse_instruction(
            line,
            (escape, heredocs),
            &mut input,
            number,
            &mut diagnostics,
        );
        lines.push(Line::Instruction(instruction));
    }
    Parsed {
        dockerfile: Dockerfile { lines },
        diagnostics,
    }
}

/// `# name=value` with a directive name BuildKit knows, not seen before.
fn directive(line: &str, seen: &[Line]) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    let value = value.trim();
    let known = ["syntax", "escape", "check"];
    if value.is_empty() || !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
        return None;
    }
    let repeated = seen
        .iter()
        .any(|l| matches!(l, Line::Directive { name: n, .. } if n.eq_ignore_ascii_case(name)));
    (!repeated).then(|| (name.to_string(), value.to_string()))
}

/// One instruction starting at `line`: its continuation lines and heredoc bodies are read from
/// `input`.
fn parse_instruction(
    line: &str,
    (escape, reads_heredocs): (char, bool),
    input: &mut Lines<'_>,
    number: usize,
    diagnostics: &mut Vec<Diagnostic>,
) -> Instruction {
    let rest = line.trim_start();
    let keyword_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let keyword = rest[..keyword_end].to_string();
    let mut raw_args = rest[keyword_end..]
        .trim_start_matches([' ', '\t'])
        .to_string();
    let mut open = ends_with_continuation(&raw_args, escape);
    while open {
        let Some(next) = input.next_line() else {
            break;
        };
        raw_args.push('\n');
        raw_args.push_str(next);
        let skipped = next.trim_start().starts_with('#') || next.trim().is_empty();
        open = skipped || ends_with_continuation(next, escape);
    }
    let joined = logical_line(&raw_args, escape).0;
    let upper = keyword.to_ascii_uppercase();
    let heredocs = if reads_heredocs && matches!(upper.as_str(), "RUN" | "COPY" | "ADD") {
        read_heredocs(&joined, input, &mut raw_args)
    } else {
        Ok(Vec::new())
    };
    if !reads_heredocs && !body::is_instruction(&keyword) {
        let why = format!("{UNKNOWN_INSTRUCTION}{upper}");
        return Instruction {
            keyword,
            raw_args,
            body: Body::Unsupported { why },
            escape,
        };
    }
    let body = heredocs
        .and_then(|heredocs| body::parse_body(&keyword, joined.trim(), escape, heredocs))
        .unwrap_or_else(|why| {
            diagnostics.push(Diagnostic {
                line: number,
                message: why.clone(),
            });
            Body::Unsupported { why }
        });
    Instruction {
        keyword,
        raw_args,
        body,
        escape,
    }
}

/// Reads the bodies of the heredocs `line` names, appending what it reads to `raw_args`.
fn read_heredocs(
    line: &str,
    input: &mut Lines<'_>,
    raw_args: &mut String,
) -> Result<Vec<Heredoc>, String> {
    let mut heredocs = Vec::new();
    for word in raw_words(line) {
        let Some(mut heredoc) = heredoc_word(&word) else {
            continue;
        };
        let mut terminated = false;
        while let Some(next) = input.next_line() {
            raw_args.push('\n');
            raw_args.push_str(next);
            let candidate = if heredoc.strip_tabs {
                next.trim_start_matches('\t')
            } else {
                next
            };
            if candidate == heredoc.name {
                terminated = true;
                break;
            }
            heredoc.content.push_str(next);
            heredoc.content.push('\n');
        }
        if !terminated {
            return Err(format!("unterminated heredoc `<<{}`", heredoc.name));
        }
        heredocs.push(heredoc);
    }
    Ok(heredocs)
}

/// A heredoc word: optional digits, `<<`, optional `-`, a name (quotes mean no expansion).
fn heredoc_word(word: &str) -> Option<Heredoc> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let rest = word[digits..].strip_prefix("<<")?;
    let (strip_tabs, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start();
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let quoted = rest.contains(['"', '\'']);
    let name: String = rest.chars().filter(|c| *c != '"' && *c != '\'').collect();
    if name.is_empty() {
        return None;
    }
    Some(Heredoc {
        name,
        strip_tabs,
        expand: !quoted,
        fd: word[..digits].parse().ok(),
        content: String::new(),
    })
}

/// Words split on whitespace outside quotes, quotes kept.
pub(crate) fn raw_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            (_, '\\') => {
                word.push(c);
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn ends_with_continuation(text: &str, escape: char) -> bool {
    let trimmed = text.trim_end_matches([' ', '\t']);
    let doubled = format!("{escape}{escape}");
    trimmed.ends_with(escape) && !trimmed.ends_with(doubled.as_str())
}

/// The logical line at the start of `raw` (an instruction's argument text): continuations
/// joined, comment and blank lines inside them dropped, as BuildKit's parser does; and the byte
/// offset where what follows it (heredoc bodies) starts.
pub fn logical_line(raw: &str, escape: char) -> (String, usize) {
    let mut out = String::new();
    let mut offset = 0;
    for (n, piece) in raw.split('\n').enumerate() {
        offset += piece.len() + 1;
        if n > 0 && (piece.trim_start().starts_with('#') || piece.trim().is_empty()) {
            continue;
        }
        if ends_with_continuation(piece, escape) {
            let trimmed = piece.trim_end_matches([' ', '\t']);
            out.push_str(&trimmed[..trimmed.len() - escape.len_utf8()]);
        } else {
            out.push_str(piece);
            return (out, offset.min(raw.len()));
        }
    }
    (out, raw.len())
}

/// Removes `\`-newline continuations and the comment and blank lines inside them, as Docker's
/// parser does.
pub fn join_continuations(raw: &str) -> String {
    logical_line(raw, '\\').0
}

/// Names of variables referenced in `text` (`$NAME`, `${NAME...}`).
/// A `--chmod` value as the engines take it: octal, at most `0o7777`.
pub fn parse_mode(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// A `--chown` value as the model takes it: numeric ids or `root`, `USER[:GROUP]`.
pub fn parse_owner(text: &str) -> Option<(u32, u32)> {
    let (user, group) = text.split_once(':').unwrap_or((text, text));
    let id = |s: &str| if s == "root" { Some(0) } else { s.parse().ok() };
    Some((id(user)?, id(group)?))
}

pub fn referenced_variables(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let braced = chars.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
                end += 1;
            }
            if end > start {
                names.push(chars[start..end].iter().collect());
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    names
}
