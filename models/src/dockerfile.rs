//! Dockerfile AST, parser and renderer for the subset cachet generates and reads.
//!
//! The AST keeps the text as written (keyword spelling, argument text with line continuations,
//! comments, blank lines) so that edits which real builders normalise away (keyword case,
//! continuations, comments) can be generated, rendered and still understood. `Instruction::body`
//! holds the parsed meaning; `Instruction::normalized` is the text a builder keys on.
//!
//! Unsupported text becomes a `Body::Unsupported` with a diagnostic; parsing never panics.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CopyArgs {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub sources: Vec<String>,
    pub dest: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    From {
        image: String,
        stage: Option<String>,
    },
    Run {
        command: Command,
    },
    Copy(CopyArgs),
    Add(CopyArgs),
    Env {
        pairs: Vec<(String, String)>,
    },
    Arg {
        name: String,
        default: Option<String>,
    },
    Workdir {
        path: String,
    },
    User {
        user: String,
    },
    Label {
        pairs: Vec<(String, String)>,
    },
    Expose {
        ports: Vec<String>,
    },
    Cmd {
        command: Command,
    },
    Entrypoint {
        command: Command,
    },
    Unsupported {
        why: String,
    },
    /// A form the parser recognises but the model does not predict (a heredoc, `COPY --exclude`):
    /// whether the engine accepts it depends on its frontend (`Feature`), what it caches is not
    /// guessed.
    Unmodelled {
        /// `RUN`, `COPY` or `ADD` as written.
        keyword: String,
        feature: Feature,
        why: String,
    },
}

/// Dockerfile forms that only some frontends accept (`profiles::Features` says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    CopyLink,
    Heredoc,
    AddChecksum,
    CopyExclude,
    CopyParents,
}

impl Feature {
    /// How the form is written, for messages.
    pub fn spelling(self) -> &'static str {
        match self {
            Feature::CopyLink => "--link",
            Feature::Heredoc => "heredoc",
            Feature::AddChecksum => "--checksum",
            Feature::CopyExclude => "--exclude",
            Feature::CopyParents => "--parents",
        }
    }
}

impl Body {
    pub fn keyword(&self) -> &'static str {
        match self {
            Body::From { .. } => "FROM",
            Body::Run { .. } => "RUN",
            Body::Copy(_) => "COPY",
            Body::Add(_) => "ADD",
            Body::Env { .. } => "ENV",
            Body::Arg { .. } => "ARG",
            Body::Workdir { .. } => "WORKDIR",
            Body::User { .. } => "USER",
            Body::Label { .. } => "LABEL",
            Body::Expose { .. } => "EXPOSE",
            Body::Cmd { .. } => "CMD",
            Body::Entrypoint { .. } => "ENTRYPOINT",
            Body::Unsupported { .. } => "UNSUPPORTED",
            Body::Unmodelled { keyword, .. } => match keyword.to_ascii_uppercase().as_str() {
                "RUN" => "RUN",
                "COPY" => "COPY",
                "ADD" => "ADD",
                _ => "UNSUPPORTED",
            },
        }
    }

    /// The forms in this instruction that not every frontend accepts.
    pub fn feature(&self) -> Option<Feature> {
        match self {
            Body::Copy(c) | Body::Add(c) if c.link => Some(Feature::CopyLink),
            Body::Unmodelled { feature, .. } => Some(*feature),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instruction {
    /// The keyword as written (`run`, `Run`, `RUN`).
    pub keyword: String,
    /// The argument text as written, including any `\`-newline continuations.
    pub raw_args: String,
    pub body: Body,
}

impl Instruction {
    /// An instruction spelled canonically: upper-case keyword, canonical argument text.
    pub fn new(body: Body) -> Instruction {
        let raw_args = canonical_args(&body);
        Instruction {
            keyword: body.keyword().to_string(),
            raw_args,
            body,
        }
    }

    /// The argument text with continuations joined, trimmed: what a builder parses.
    pub fn joined_args(&self) -> String {
        join_continuations(&self.raw_args).trim().to_string()
    }

    /// The text a builder keys on: canonical keyword and joined arguments. Comments, keyword
    /// case and line continuations are gone; whitespace inside arguments stays.
    pub fn normalized(&self) -> String {
        format!("{} {}", self.body.keyword(), self.joined_args())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Line {
    Blank,
    /// A whole comment line, `#` included.
    Comment(String),
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
}

pub fn render(dockerfile: &Dockerfile) -> String {
    let mut out = String::new();
    for line in &dockerfile.lines {
        match line {
            Line::Blank => {}
            Line::Comment(text) => out.push_str(text),
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

pub fn parse(text: &str) -> Parsed {
    let mut lines = Vec::new();
    let mut diagnostics = Vec::new();
    let physical: Vec<&str> = text.split('\n').collect();
    let last = if text.ends_with('\n') {
        physical.len() - 1
    } else {
        physical.len()
    };
    let mut i = 0;
    while i < last {
        let line = physical[i].strip_suffix('\r').unwrap_or(physical[i]);
        let number = i + 1;
        i += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            lines.push(Line::Blank);
            continue;
        }
        if trimmed.starts_with('#') {
            lines.push(Line::Comment(line.to_string()));
            continue;
        }
        let start = line.len() - line.trim_start().len();
        let rest = &line[start..];
        let keyword_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let keyword = rest[..keyword_end].to_string();
        let mut raw_args = rest[keyword_end..]
            .trim_start_matches([' ', '\t'])
            .to_string();
        while ends_with_continuation(&raw_args) && i < last {
            raw_args.push('\n');
            raw_args.push_str(physical[i].strip_suffix('\r').unwrap_or(physical[i]));
            i += 1;
        }
        let joined = join_continuations(&raw_args);
        let terminators = heredoc_terminators(&keyword, &joined);
        let body = if terminators.is_empty() {
            parse_body(&keyword, joined.trim())
        } else {
            let (consumed, done) = take_heredocs(&physical[i..last], &terminators);
            for body_line in &physical[i..i + consumed] {
                raw_args.push('\n');
                raw_args.push_str(body_line.strip_suffix('\r').unwrap_or(body_line));
            }
            i += consumed;
            if done {
                Ok(Body::Unmodelled {
                    keyword: keyword.clone(),
                    feature: Feature::Heredoc,
                    why: "heredocs are not modelled".to_string(),
                })
            } else {
                Err("unterminated heredoc".to_string())
            }
        };
        let body = body.unwrap_or_else(|why| {
            diagnostics.push(Diagnostic {
                line: number,
                message: why.clone(),
            });
            Body::Unsupported { why }
        });
        lines.push(Line::Instruction(Instruction {
            keyword,
            raw_args,
            body,
        }));
    }
    Parsed {
        dockerfile: Dockerfile { lines },
        diagnostics,
    }
}

/// The heredoc terminators a RUN, COPY or ADD line opens (`<<EOF`, `<<-EOF`, `<<"EOF"`), in
/// order: words that start with `<<`, as BuildKit's parser reads them.
fn heredoc_terminators(keyword: &str, args: &str) -> Vec<(String, bool)> {
    if !["RUN", "COPY", "ADD"].contains(&keyword.to_ascii_uppercase().as_str()) {
        return Vec::new();
    }
    args.split_whitespace()
        .filter_map(|word| word.strip_prefix("<<"))
        .filter_map(|rest| {
            let (strip_tabs, rest) = match rest.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let name = rest.trim_matches(|c| c == '"' || c == '\'');
            let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            valid.then(|| (name.to_string(), strip_tabs))
        })
        .collect()
}

/// How many of `lines` the heredoc bodies take (terminators included), and whether every
/// terminator was found.
fn take_heredocs(lines: &[&str], terminators: &[(String, bool)]) -> (usize, bool) {
    let mut taken = 0;
    for (name, strip_tabs) in terminators {
        loop {
            let Some(line) = lines.get(taken) else {
                return (taken, false);
            };
            taken += 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let line = if *strip_tabs {
                line.trim_start_matches('\t')
            } else {
                line
            };
            if line == name {
                break;
            }
        }
    }
    (taken, true)
}

fn ends_with_continuation(text: &str) -> bool {
    text.trim_end_matches([' ', '\t']).ends_with('\\')
        && !text.trim_end_matches([' ', '\t']).ends_with("\\\\")
}

/// Removes `\`-newline continuations and comment lines inside them, as Docker's parser does.
pub fn join_continuations(raw: &str) -> String {
    let mut out = String::new();
    for (n, piece) in raw.split('\n').enumerate() {
        if n > 0 && piece.trim_start().starts_with('#') {
            continue;
        }
        let trimmed = piece.trim_end_matches([' ', '\t']);
        match trimmed.strip_suffix('\\') {
            Some(body) if !trimmed.ends_with("\\\\") => out.push_str(body),
            _ => out.push_str(piece),
        }
    }
    out
}

fn parse_body(keyword: &str, args: &str) -> Result<Body, String> {
    let upper = keyword.to_ascii_uppercase();
    let need_args = |what: &str| -> Result<(), String> {
        if args.is_empty() {
            Err(format!("{upper} requires {what}"))
        } else {
            Ok(())
        }
    };
    match upper.as_str() {
        "FROM" => {
            need_args("an image")?;
            parse_from(args)
        }
        "RUN" => {
            need_args("a command")?;
            Ok(Body::Run {
                command: parse_command(args),
            })
        }
        "CMD" => {
            need_args("a command")?;
            Ok(Body::Cmd {
                command: parse_command(args),
            })
        }
        "ENTRYPOINT" => {
            need_args("a command")?;
            Ok(Body::Entrypoint {
                command: parse_command(args),
            })
        }
        "COPY" | "ADD" => {
            let (copy, newer) = parse_copy(args, &upper)?;
            if let Some(feature) = newer {
                return Ok(Body::Unmodelled {
                    keyword: keyword.to_string(),
                    feature,
                    why: format!("{upper} {} is not modelled", feature.spelling()),
                });
            }
            Ok(if upper == "COPY" {
                Body::Copy(copy)
            } else {
                Body::Add(copy)
            })
        }
        "ENV" => Ok(Body::Env {
            pairs: parse_key_values(args, true, "ENV")?,
        }),
        "LABEL" => Ok(Body::Label {
            pairs: parse_key_values(args, false, "LABEL")?,
        }),
        "ARG" => {
            need_args("a name")?;
            parse_arg(args)
        }
        "WORKDIR" => {
            need_args("a path")?;
            Ok(Body::Workdir {
                path: args.to_string(),
            })
        }
        "USER" => {
            need_args("a user")?;
            Ok(Body::User {
                user: args.to_string(),
            })
        }
        "EXPOSE" => {
            need_args("a port")?;
            Ok(Body::Expose {
                ports: args.split_whitespace().map(str::to_string).collect(),
            })
        }
        _ => Err(format!("unsupported instruction `{keyword}`")),
    }
}

/// `FROM IMAGE [AS NAME]`.
fn parse_from(args: &str) -> Result<Body, String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [image] => Ok(Body::From {
            image: image.to_string(),
            stage: None,
        }),
        [image, kw, stage] if kw.eq_ignore_ascii_case("as") => Ok(Body::From {
            image: image.to_string(),
            stage: Some(stage.to_ascii_lowercase()),
        }),
        _ => Err(format!("FROM takes `IMAGE [AS NAME]`, got `{args}`")),
    }
}

/// `ARG NAME[=DEFAULT]` (one name).
fn parse_arg(args: &str) -> Result<Body, String> {
    let words = split_words(args)?;
    if words.len() != 1 {
        return Err("ARG with several names is not supported".to_string());
    }
    let word = &words[0];
    Ok(match word.split_once('=') {
        Some((name, value)) => Body::Arg {
            name: name.to_string(),
            default: Some(value.to_string()),
        },
        None => Body::Arg {
            name: word.clone(),
            default: None,
        },
    })
}

fn parse_command(args: &str) -> Command {
    if args.starts_with('[') {
        if let Some(words) = parse_json_string_array(args) {
            return Command::Exec(words);
        }
    }
    Command::Shell(args.to_string())
}

/// A JSON array of strings, or `None` (Docker then falls back to shell form).
pub fn parse_json_string_array(text: &str) -> Option<Vec<String>> {
    let mut chars = text.trim().chars().peekable();
    let mut out = Vec::new();
    if chars.next()? != '[' {
        return None;
    }
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    skip_ws(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
        return if chars.next().is_none() {
            Some(out)
        } else {
            None
        };
    }
    loop {
        skip_ws(&mut chars);
        if chars.next()? != '"' {
            return None;
        }
        let mut word = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => word.push('\n'),
                    't' => word.push('\t'),
                    c @ ('"' | '\\' | '/') => word.push(c),
                    _ => return None,
                },
                c => word.push(c),
            }
        }
        out.push(word);
        skip_ws(&mut chars);
        match chars.next()? {
            ',' => continue,
            ']' => break,
            _ => return None,
        }
    }
    skip_ws(&mut chars);
    if chars.next().is_some() {
        return None;
    }
    Some(out)
}

/// COPY / ADD arguments, and the first flag of a newer frontend the model does not predict.
fn parse_copy(args: &str, keyword: &str) -> Result<(CopyArgs, Option<Feature>), String> {
    let words = split_words(args)?;
    let mut copy = CopyArgs::default();
    let mut newer = None;
    let mut rest = Vec::new();
    for word in words {
        if rest.is_empty() && word.starts_with("--") {
            let (flag, value) = match word.split_once('=') {
                Some((f, v)) => (f.to_string(), Some(v.to_string())),
                None => (word.clone(), None),
            };
            match (flag.as_str(), value) {
                ("--from", Some(v)) => copy.from = Some(v.to_ascii_lowercase()),
                ("--chown", Some(v)) => copy.chown = Some(v),
                ("--chmod", Some(v)) => copy.chmod = Some(v),
                ("--link", None) => copy.link = true,
                ("--exclude", Some(_)) if keyword == "COPY" => {
                    newer = newer.or(Some(Feature::CopyExclude))
                }
                ("--checksum", Some(_)) if keyword == "ADD" => {
                    newer = newer.or(Some(Feature::AddChecksum))
                }
                ("--parents", _) if keyword == "COPY" => {
                    newer = newer.or(Some(Feature::CopyParents))
                }
                _ => return Err(format!("{keyword}: unsupported flag `{word}`")),
            }
        } else {
            rest.push(word);
        }
    }
    if args.trim_start_matches(|c: char| c != '[').starts_with('[')
        && rest.first().is_some_and(|w| w.starts_with('['))
    {
        return Err(format!("{keyword} in JSON form is not supported"));
    }
    if rest.len() < 2 {
        return Err(format!(
            "{keyword} requires at least one source and a destination"
        ));
    }
    copy.dest = rest.pop().unwrap_or_default();
    copy.sources = rest;
    Ok((copy, newer))
}

/// Splits on whitespace, honouring double and single quotes and backslash escapes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                in_word = true;
                match chars.next() {
                    Some(next) => word.push(next),
                    None => word.push('\\'),
                }
            }
            (_, c) => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".to_string());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn parse_key_values(
    args: &str,
    legacy_allowed: bool,
    keyword: &str,
) -> Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err(format!("{keyword} requires at least one key=value"));
    }
    let words = split_words(args)?;
    if !words[0].contains('=') {
        if !legacy_allowed {
            return Err(format!("{keyword} requires key=value"));
        }
        // Legacy `ENV KEY value with spaces`.
        let (key, value) = args
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{keyword} {args}: missing value"))?;
        return Ok(vec![(key.to_string(), value.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{keyword}: `{w}` is not key=value")),
        })
        .collect()
}

fn quote_if_needed(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        value.to_string()
    } else {
        let mut out = String::from("\"");
        for c in value.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }
}

fn render_command(command: &Command) -> String {
    match command {
        Command::Shell(s) => s.clone(),
        Command::Exec(words) => {
            let quoted: Vec<String> = words
                .iter()
                .map(|w| {
                    let mut s = String::from("\"");
                    for c in w.chars() {
                        match c {
                            '"' => s.push_str("\\\""),
                            '\\' => s.push_str("\\\\"),
                            '\n' => s.push_str("\\n"),
                            '\t' => s.push_str("\\t"),
                            c => s.push(c),
                        }
                    }
                    s.push('"');
                    s
                })
                .collect();
            format!("[{}]", quoted.join(", "))
        }
    }
}

fn render_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", quote_if_needed(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The canonical argument text for a body.
pub fn canonical_args(body: &Body) -> String {
    match body {
        Body::From { image, stage: None } => image.clone(),
        Body::From {
            image,
            stage: Some(stage),
        } => format!("{image} AS {stage}"),
        Body::Run { command } | Body::Cmd { command } | Body::Entrypoint { command } => {
            render_command(command)
        }
        Body::Copy(c) | Body::Add(c) => {
            let mut words = Vec::new();
            if let Some(f) = &c.from {
                words.push(format!("--from={f}"));
            }
            if let Some(o) = &c.chown {
                words.push(format!("--chown={o}"));
            }
            if let Some(m) = &c.chmod {
                words.push(format!("--chmod={m}"));
            }
            if c.link {
                words.push("--link".to_string());
            }
            words.extend(c.sources.iter().map(|s| quote_if_needed(s)));
            words.push(quote_if_needed(&c.dest));
            words.join(" ")
        }
        Body::Env { pairs } | Body::Label { pairs } => render_pairs(pairs),
        Body::Arg {
            name,
            default: None,
        } => name.clone(),
        Body::Arg {
            name,
            default: Some(d),
        } => format!("{name}={}", quote_if_needed(d)),
        Body::Workdir { path } => path.clone(),
        Body::User { user } => user.clone(),
        Body::Expose { ports } => ports.join(" "),
        Body::Unsupported { why } => format!("# unsupported: {why}"),
        Body::Unmodelled { why, .. } => format!("# unmodelled: {why}"),
    }
}

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` as Dockerfile instructions
/// other than RUN do. An unknown variable expands to the empty string; `\$` is a literal `$`.
pub fn expand_variables(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == '\\' && bytes.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&'{') {
            let Some(close) = bytes[i + 2..].iter().position(|&c| c == '}') else {
                out.push(c);
                i += 1;
                continue;
            };
            let inner: String = bytes[i + 2..i + 2 + close].iter().collect();
            let value = if let Some((name, word)) = inner.split_once(":-") {
                lookup(name)
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| word.to_string())
            } else if let Some((name, word)) = inner.split_once(":+") {
                if lookup(name).is_some_and(|v| !v.is_empty()) {
                    word.to_string()
                } else {
                    String::new()
                }
            } else {
                lookup(&inner).unwrap_or_default()
            };
            out.push_str(&value);
            i += close + 3;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == '_') {
            end += 1;
        }
        if end == start {
            out.push('$');
            i += 1;
            continue;
        }
        let name: String = bytes[start..end].iter().collect();
        out.push_str(&lookup(&name).unwrap_or_default());
        i = end;
    }
    out
}

/// Names of variables referenced in `text` (`$NAME`, `${NAME...}`).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected_normalized: &[&str]) {
        let parsed = parse(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let got: Vec<String> = parsed
            .dockerfile
            .instructions()
            .map(Instruction::normalized)
            .collect();
        assert_eq!(got, expected_normalized);
        assert_eq!(
            render(&parsed.dockerfile),
            if text.ends_with('\n') {
                text.to_string()
            } else {
                format!("{text}\n")
            }
        );
    }

    #[test]
    fn keyword_case_comments_and_continuations_normalise_away() {
        check(
            "# syntax comment\nfrom base AS First\n\nrun echo a \\\n  b\ncopy --chmod=600 a b /d/\n",
            &["FROM base AS First", "RUN echo a   b", "COPY --chmod=600 a b /d/"],
        );
    }

    #[test]
    fn exec_form_and_env_forms() {
        let parsed = parse("CMD [\"a\", \"b c\"]\nENV A 1 2\nENV B=\"x y\" C=z\n");
        let bodies: Vec<&Body> = parsed.dockerfile.instructions().map(|i| &i.body).collect();
        assert_eq!(
            bodies[0],
            &Body::Cmd {
                command: Command::Exec(vec!["a".into(), "b c".into()])
            }
        );
        assert_eq!(
            bodies[1],
            &Body::Env {
                pairs: vec![("A".into(), "1 2".into())]
            }
        );
        assert_eq!(
            bodies[2],
            &Body::Env {
                pairs: vec![("B".into(), "x y".into()), ("C".into(), "z".into())]
            }
        );
    }

    #[test]
    fn unsupported_text_is_a_diagnostic() {
        let parsed = parse("FROM base\nHEALTHCHECK NONE\nRUN <<EOF\n");
        assert_eq!(parsed.diagnostics.len(), 2);
        assert_eq!(parsed.diagnostics[0].line, 2);
    }

    #[test]
    fn heredocs_take_their_body_and_render_back() {
        let text =
            "FROM base\nRUN <<EOF\necho hi\nEOF\nCOPY <<-A <<B /d/\n\tx\n\tA\ny\nB\nRUN true\n";
        let parsed = parse(text);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let bodies: Vec<&Body> = parsed.dockerfile.instructions().map(|i| &i.body).collect();
        assert_eq!(bodies.len(), 4);
        assert_eq!(bodies[1].feature(), Some(Feature::Heredoc));
        assert_eq!(bodies[1].keyword(), "RUN");
        assert_eq!(bodies[2].keyword(), "COPY");
        assert_eq!(render(&parsed.dockerfile), text);
        let open = parse("FROM base\nRUN <<EOF\necho hi\n");
        assert_eq!(open.diagnostics[0].message, "unterminated heredoc");
    }

    #[test]
    fn newer_copy_flags_are_recognised_not_modelled() {
        let parsed = parse("FROM base\nCOPY --exclude=*.md . /d\nADD --checksum=sha256:0 a /a\nCOPY --parents a /\n");
        assert!(parsed.diagnostics.is_empty());
        let features: Vec<_> = parsed
            .dockerfile
            .instructions()
            .map(|i| i.body.feature())
            .collect();
        assert_eq!(
            features,
            [
                None,
                Some(Feature::CopyExclude),
                Some(Feature::AddChecksum),
                Some(Feature::CopyParents)
            ]
        );
        assert!(!parse("FROM base\nADD --exclude=x a /a\n")
            .diagnostics
            .is_empty());
    }

    #[test]
    fn expansion() {
        let lookup = |n: &str| {
            if n == "A" {
                Some("1".to_string())
            } else {
                None
            }
        };
        assert_eq!(
            expand_variables("x=$A ${A} ${B:-d} ${A:+s} \\$A", &lookup),
            "x=1 1 d s $A"
        );
        assert_eq!(referenced_variables("echo $A ${B:-x}"), vec!["A", "B"]);
    }
}
