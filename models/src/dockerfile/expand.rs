//! Variable expansion in instruction arguments, as the frontend's shell lexer does it.
//!
//! One routine, `expand`, for every instruction and every builder. What it accepts is a
//! `Syntax`, which each generation's frontend fixes (`profiles::Features::of`):
//!
//! - BuildKit's lexer (`frontend/dockerfile/shell/lex.go`, which the classic builder of the same
//!   Engine vendors): `$V`, `${V}`, `${V:-w}`, `${V:+w}`, `${V:?m}` and `${V?m}` (an error when
//!   unset, or empty with the colon) on every generation; `${V-w}`, `${V+w}` from v0.12
//!   (moby/buildkit@580eb9348); `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}` (moby/buildkit@4f459a4cd)
//!   and `${V/p/r}`, `${V//p/r}` (moby/buildkit@9a3f9f36e) from v0.13. Before v0.12 a modifier
//!   without a colon is an error ("missing ':' in substitution"). In a pattern `*` matches any
//!   run of characters, `?` one, and the escape character quotes the next one.
//! - openshift/imagebuilder's `shell_parser.go`, which Buildah uses: `${V:-w}`, `${V:+w}` always;
//!   `${V:?m}` from imagebuilder v1.2.4 (an empty or unset V gives `m`, and an error only when `m`
//!   is empty too); `#`, `##`, `%`, `%%`, `/`, `//`, `/#`, `/%` from v1.2.12 (openshift/
//!   imagebuilder@88c69f9), its patterns matched as `path.Match` does; no colon-less form.
//!
//! An unset variable expands to the empty string. Single quotes keep everything literal, double
//! quotes keep all but `$` and escapes, and the escape character (`\`, or the `# escape=`
//! directive's) makes the next character literal; `quotes: false` is for words whose quotes the
//! parser already removed (`body.rs`), where a quote is an ordinary character.

use serde::{Deserialize, Serialize};

/// Whose lexer: BuildKit's (and the classic builder's, which vendors it) or imagebuilder's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    BuildKit,
    ImageBuilder,
}

/// The `${...}` forms a frontend's lexer accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Syntax {
    pub dialect: Dialect,
    /// `${V-w}`, `${V+w}` (BuildKit v0.12).
    pub colonless: bool,
    /// `${V:?m}` (and on BuildKit `${V?m}`).
    pub required: bool,
    /// `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`.
    pub trim: bool,
    /// `${V/p/r}`, `${V//p/r}` (imagebuilder also `/#`, `/%`).
    pub replace: bool,
}

impl Syntax {
    /// BuildKit v0.8's lexer (Engine 20.10): the colon forms and `?`.
    pub const BUILDKIT_0_8: Syntax = Syntax {
        dialect: Dialect::BuildKit,
        colonless: false,
        required: true,
        trim: false,
        replace: false,
    };
}

/// Why a word cannot be expanded: the build stops there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpandError {
    /// `${V?m}` / `${V:?m}` with V unset (or empty, with the colon).
    Required { name: String, message: String },
    /// A modifier the lexer does not know, in its words.
    Unsupported(String),
    /// `${}`, `${:x}`, a missing `}` or an unterminated quote.
    Syntax(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Required { name, message } => write!(f, "{name}: {message}"),
            ExpandError::Unsupported(why) | ExpandError::Syntax(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ExpandError {}

/// Expands the variables of `text` as `syntax`'s lexer does, looking names up with `lookup`
/// (`None`: unset).
pub fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    syntax: Syntax,
    escape: char,
    quotes: bool,
) -> Result<String, ExpandError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        at: 0,
        lookup,
        syntax,
        escape,
        quotes,
    };
    lexer.until(None, false)
}

struct Lexer<'a> {
    chars: Vec<char>,
    at: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    syntax: Syntax,
    escape: char,
    quotes: bool,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    /// Reads up to `stop` (consumed) or the end; `raw_escapes` keeps the escape character with
    /// the character it quotes (patterns).
    fn until(&mut self, stop: Option<&[char]>, raw_escapes: bool) -> Result<String, ExpandError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if stop.is_some_and(|s| s.contains(&c)) {
                self.at += 1;
                return Ok(out);
            }
            match c {
                '\'' if self.quotes => out.push_str(&self.single_quoted()?),
                '"' if self.quotes => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => {
                    self.at += 1;
                    let Some(next) = self.next() else { break };
                    if raw_escapes {
                        out.push(c);
                    }
                    out.push(next);
                }
                c => {
                    self.at += 1;
                    out.push(c);
                }
            }
        }
        match stop {
            Some(s) => Err(ExpandError::Syntax(format!(
                "syntax error: missing '{}'",
                s.last().copied().unwrap_or('}')
            ))),
            None => Ok(out),
        }
    }

    fn single_quoted(&mut self) -> Result<String, ExpandError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ExpandError::Syntax(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    ))
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, ExpandError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError::Syntax(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    ))
                }
                Some('"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.at += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.at += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    /// A name: letters, digits and `_`; a leading digit is a positional parameter (on BuildKit
    /// the run of digits, on imagebuilder that digit alone); on BuildKit also one special
    /// parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if self.syntax.dialect == Dialect::ImageBuilder && name.is_empty() && c.is_ascii_digit()
            {
                self.at += 1;
                return c.to_string();
            }
            if self.syntax.dialect == Dialect::BuildKit && name.is_empty() {
                if c.is_ascii_digit() {
                    while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                        self.at += 1;
                        name.push(d);
                    }
                    return name;
                }
                if "@*#?-$!0".contains(c) {
                    self.at += 1;
                    return c.to_string();
                }
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.at += 1;
            name.push(c);
        }
        name
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.at += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.at += 1;
        match self.syntax.dialect {
            Dialect::BuildKit => self.braced_buildkit(),
            Dialect::ImageBuilder => self.braced_imagebuilder(),
        }
    }

    fn braced_buildkit(&mut self) -> Result<String, ExpandError> {
        let bad = |why: &str| Err(ExpandError::Syntax(why.to_string()));
        match self.peek() {
            None => return bad("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return bad("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.name();
        let value = (self.lookup)(&name);
        let syntax = self.syntax;
        let unsupported = |m: &str| {
            Err(ExpandError::Unsupported(
                match syntax.colonless || syntax.trim {
                    true => format!("unsupported modifier ({m}) in substitution"),
                    false => "missing ':' in substitution".to_string(),
                },
            ))
        };
        let mut modifier = match self.next() {
            None => return bad("syntax error: missing '}'"),
            Some('}') => return Ok(value.unwrap_or_default()),
            Some(c) => c,
        };
        let colon = modifier == ':';
        if colon {
            modifier = match self.next() {
                Some(c @ ('-' | '+' | '?')) => c,
                // v0.8 names the character after the colon, later releases both.
                other if !syntax.colonless => {
                    return Err(ExpandError::Unsupported(format!(
                        "unsupported modifier ({}) in substitution",
                        other.unwrap_or(' ')
                    )))
                }
                other => return unsupported(&format!(":{}", other.unwrap_or(' '))),
            };
        }
        let allowed = match modifier {
            '-' | '+' => colon || syntax.colonless,
            '?' => syntax.required,
            '#' | '%' => syntax.trim,
            '/' => syntax.replace,
            _ => false,
        };
        if !allowed {
            return unsupported(&modifier.to_string());
        }
        if modifier == '/' {
            let all = self.peek() == Some('/');
            if all {
                self.at += 1;
            }
            let pattern = self.until(Some(&['/']), true)?;
            let replacement = self.until(Some(&['}']), true)?;
            let value = value.unwrap_or_default();
            return Ok(replace_buildkit(
                &value,
                &pattern,
                &replacement,
                all,
                self.escape,
            ));
        }
        let word = self.until(Some(&['}']), matches!(modifier, '#' | '%'))?;
        let unset = value.is_none() || (colon && value.as_deref() == Some(""));
        match modifier {
            '-' if unset => Ok(word),
            '-' => Ok(value.unwrap_or_default()),
            '+' if unset => Ok(String::new()),
            '+' => Ok(word),
            '?' if unset => Err(ExpandError::Required {
                message: match (word.is_empty(), value.is_none()) {
                    (false, _) => word,
                    (true, true) => "is not allowed to be unset".to_string(),
                    (true, false) => "is not allowed to be empty".to_string(),
                },
                name,
            }),
            '?' => Ok(value.unwrap_or_default()),
            _ => {
                let value = value.unwrap_or_default();
                let (greedy, pattern) = match word.strip_prefix(modifier) {
                    Some(rest) => (true, rest.to_string()),
                    None => (false, word),
                };
                let pattern = buildkit_pattern(&pattern, self.escape);
                Ok(trim(&value, &pattern, greedy, modifier == '#'))
            }
        }
    }

    fn braced_imagebuilder(&mut self) -> Result<String, ExpandError> {
        let name = self.name();
        let value = (self.lookup)(&name).unwrap_or_default();
        let syntax = self.syntax;
        match self.peek() {
            Some('}') => {
                self.at += 1;
                Ok(value)
            }
            Some(':') => {
                self.at += 1;
                let modifier = self.next();
                let word = self.until(Some(&['}']), false)?;
                match modifier {
                    Some('+') if value.is_empty() => Ok(value),
                    Some('+') => Ok(word),
                    Some('-') if value.is_empty() => Ok(word),
                    Some('-') => Ok(value),
                    Some('?') if syntax.required => match (value.is_empty(), word.is_empty()) {
                        (false, _) => Ok(value),
                        (true, false) => Ok(word),
                        (true, true) => Err(ExpandError::Required {
                            name,
                            message: "is not allowed to be unset".to_string(),
                        }),
                    },
                    m => Err(ExpandError::Unsupported(format!(
                        "Unsupported modifier ({}) in substitution",
                        m.unwrap_or(' ')
                    ))),
                }
            }
            Some(m @ ('#' | '%')) if syntax.trim => {
                self.at += 1;
                let greedy = self.peek() == Some(m);
                if greedy {
                    self.at += 1;
                }
                let word = self.until(Some(&['}']), false)?;
                if word.is_empty() {
                    return Err(ExpandError::Syntax(format!("{name}{m}: nothing to remove")));
                }
                let pattern = path_pattern(&word);
                Ok(trim_imagebuilder(&value, &pattern, greedy, m == '#'))
            }
            Some('/') if syntax.replace => {
                self.at += 1;
                let (mut all, mut begin, mut end) = (false, false, false);
                match self.peek() {
                    Some('/') => all = true,
                    Some('#') => begin = true,
                    Some('%') => end = true,
                    _ => {}
                }
                if all || begin || end {
                    self.at += 1;
                }
                let pattern = self.until(Some(&['/', '}']), false)?;
                // `until` consumed the stop: a `/` means a replacement follows.
                let slash = self.chars.get(self.at - 1) == Some(&'/');
                if pattern.is_empty() {
                    return Err(ExpandError::Syntax(format!(
                        "{name}/: no pattern to replace"
                    )));
                }
                let replacement = match slash {
                    true => self.until(Some(&['}']), false)?,
                    false => String::new(),
                };
                let pattern = path_pattern(&pattern);
                Ok(replace_imagebuilder(
                    &value,
                    &pattern,
                    &replacement,
                    (all, begin, end),
                ))
            }
            _ => Err(ExpandError::Unsupported(
                "Missing ':' in substitution".to_string(),
            )),
        }
    }
}

/// One element of a pattern: any run, one character, a set (imagebuilder's `[...]`), a literal.
#[derive(Clone, Debug, PartialEq)]
enum Pat {
    Star,
    One,
    Set(Vec<char>, bool),
    Lit(char),
}

/// BuildKit's pattern: `*`, `?`, the escape character quoting the next one; `[` is literal.
fn buildkit_pattern(pattern: &str, escape: char) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Pat::Star,
            '?' => Pat::One,
            c if c == escape => match chars.next() {
                Some(n) => Pat::Lit(n),
                None => Pat::Lit(c),
            },
            c => Pat::Lit(c),
        });
    }
    out
}

/// `path.Match`'s pattern: `*` (not across `/`), `?`, `[set]`, `\` quoting.
fn path_pattern(pattern: &str) -> Vec<Pat> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' => Pat::Star,
            '?' => Pat::One,
            '\\' => Pat::Lit(chars.next().unwrap_or('\\')),
            '[' => {
                let negated = chars.next_if(|c| *c == '^').is_some();
                let mut set = Vec::new();
                for s in chars.by_ref() {
                    if s == ']' {
                        break;
                    }
                    set.push(s);
                }
                Pat::Set(set, negated)
            }
            c => Pat::Lit(c),
        });
    }
    out
}

/// Whether `pattern` matches all of `text`; `star_slash`: `*` matches `/` too.
fn matches(pattern: &[Pat], text: &[char], star_slash: bool) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((Pat::Star, rest)) => (0..=text.len())
            .take_while(|&i| i == 0 || star_slash || text[i - 1] != '/')
            .any(|i| matches(rest, &text[i..], star_slash)),
        Some((p, rest)) => {
            let Some((c, tail)) = text.split_first() else {
                return false;
            };
            let ok = match p {
                Pat::One => star_slash || *c != '/',
                Pat::Lit(l) => l == c,
                Pat::Set(set, negated) => set_contains(set, *c) != *negated,
                Pat::Star => unreachable!(),
            };
            ok && matches(rest, tail, star_slash)
        }
    }
}

fn set_contains(set: &[char], c: char) -> bool {
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == '-' {
            if set[i] <= c && c <= set[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if set[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// BuildKit's `#`/`##` (`prefix`) and `%`/`%%`: the shortest (or, greedy, longest) matching
/// prefix or suffix is removed.
fn trim(value: &str, pattern: &[Pat], greedy: bool, prefix: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let mut lengths: Vec<usize> = (0..=n).collect();
    if greedy {
        lengths.reverse();
    }
    for k in lengths {
        let part = if prefix { &chars[..k] } else { &chars[n - k..] };
        if matches(pattern, part, true) {
            let kept = if prefix { &chars[k..] } else { &chars[..n - k] };
            return kept.iter().collect();
        }
    }
    value.to_string()
}

/// imagebuilder's trim, its loops as written: `#` never removes the whole value, and the
/// non-greedy `#` and greedy `%` never look at the last character alone.
fn trim_imagebuilder(value: &str, pattern: &[Pat], greedy: bool, prefix: bool) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len() as isize;
    let candidates: Vec<isize> = match (prefix, greedy) {
        (true, true) | (false, false) => (0..n).rev().collect(),
        (true, false) | (false, true) => (0..n - 1).collect(),
    };
    for i in candidates {
        let i = i as usize;
        let (part, kept) = match prefix {
            true => (&chars[..i], &chars[i..]),
            false => (&chars[i..], &chars[..i]),
        };
        if matches(pattern, part, false) {
            return kept.iter().collect();
        }
    }
    value.to_string()
}

/// BuildKit's `/` and `//`: the leftmost, longest match (every one, with `//`).
fn replace_buildkit(
    value: &str,
    pattern: &str,
    replacement: &str,
    all: bool,
    escape: char,
) -> String {
    let pattern = buildkit_pattern(pattern, escape);
    let replacement: String = {
        let mut out = String::new();
        let mut chars = replacement.chars();
        while let Some(c) = chars.next() {
            match c {
                c if c == escape => out.push(chars.next().unwrap_or(c)),
                c => out.push(c),
            }
        }
        out
    };
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i <= chars.len() {
        let found = match replaced && !all {
            true => None,
            false => (i..=chars.len())
                .rev()
                .find(|&j| matches(&pattern, &chars[i..j], true)),
        };
        match found {
            Some(j) => {
                out.push_str(&replacement);
                replaced = true;
                if j == i {
                    if let Some(c) = chars.get(i) {
                        out.push(*c);
                    }
                    i += 1;
                } else {
                    i = j;
                }
            }
            None => {
                if let Some(c) = chars.get(i) {
                    out.push(*c);
                }
                i += 1;
            }
        }
    }
    out
}

/// imagebuilder's `/`, `//`, `/#`, `/%`, its loop as written.
fn replace_imagebuilder(
    value: &str,
    pattern: &[Pat],
    replacement: &str,
    (all, begin, end): (bool, bool, bool),
) -> String {
    let mut value: Vec<char> = value.chars().collect();
    let replacement: Vec<char> = replacement.chars().collect();
    let mut i: isize = 0;
    while (i as usize) < value.len() {
        let at = i as usize;
        for j in (at + 1..=value.len()).rev() {
            if (begin && at != 0) || (end && j != value.len()) {
                continue;
            }
            if matches(pattern, &value[at..j], false) {
                value.splice(at..j, replacement.iter().copied());
                if !all {
                    return value.into_iter().collect();
                }
                i += replacement.len() as isize - 1;
                break;
            }
        }
        i += 1;
    }
    value.into_iter().collect()
}
