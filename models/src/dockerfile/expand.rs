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

use super::pattern::{
    buildkit_pattern, path_pattern, replace_buildkit, replace_imagebuilder, trim, trim_imagebuilder,
};

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

    /// `${...}` on BuildKit, after the `{`: the name, then its modifier's family.
    fn braced_buildkit(&mut self) -> Result<String, ExpandError> {
        let bad = |why: &str| Err(ExpandError::Syntax(why.to_string()));
        match self.peek() {
            None => return bad("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return bad("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.name();
        let value = (self.lookup)(&name);
        let Some((modifier, colon)) = self.buildkit_modifier()? else {
            return Ok(value.unwrap_or_default());
        };
        match modifier {
            '/' => self.buildkit_replace(&value.unwrap_or_default()),
            '#' | '%' => self.buildkit_trim(modifier, &value.unwrap_or_default()),
            _ => {
                let word = self.until(Some(&['}']), false)?;
                let unset = value.is_none() || (colon && value.as_deref() == Some(""));
                match modifier {
                    '?' => buildkit_required(name, value, word, unset),
                    _ => Ok(buildkit_alternative(modifier, value, word, unset)),
                }
            }
        }
    }

    /// The modifier after BuildKit's `${NAME` and whether a colon came before it (`None`: the
    /// `}`, no modifier); an error for one `syntax` does not accept, in the lexer's words.
    fn buildkit_modifier(&mut self) -> Result<Option<(char, bool)>, ExpandError> {
        let syntax = self.syntax;
        let unsupported = |m: &str| {
            ExpandError::Unsupported(match syntax.colonless || syntax.trim {
                true => format!("unsupported modifier ({m}) in substitution"),
                false => "missing ':' in substitution".to_string(),
            })
        };
        let mut modifier = match self.next() {
            None => return Err(ExpandError::Syntax("syntax error: missing '}'".to_string())),
            Some('}') => return Ok(None),
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
                other => return Err(unsupported(&format!(":{}", other.unwrap_or(' ')))),
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
            return Err(unsupported(&modifier.to_string()));
        }
        Ok(Some((modifier, colon)))
    }

    /// BuildKit's `${V/p/r}` and `${V//p/r}`, after the first `/`: `value` with `p` replaced.
    fn buildkit_replace(&mut self, value: &str) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.at += 1;
        }
        let pattern = self.until(Some(&['/']), true)?;
        let replacement = self.until(Some(&['}']), true)?;
        Ok(replace_buildkit(
            value,
            &pattern,
            &replacement,
            all,
            self.escape,
        ))
    }

    /// BuildKit's `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, after the first `#` or `%`
    /// (`modifier`): `value` with the matching prefix or suffix removed.
    fn buildkit_trim(&mut self, modifier: char, value: &str) -> Result<String, ExpandError> {
        let word = self.until(Some(&['}']), true)?;
        let (greedy, pattern) = match word.strip_prefix(modifier) {
            Some(rest) => (true, rest.to_string()),
            None => (false, word),
        };
        let pattern = buildkit_pattern(&pattern, self.escape);
        Ok(trim(value, &pattern, greedy, modifier == '#'))
    }

    /// `${...}` on imagebuilder, after the `{`: the name, then its modifier's family.
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
                self.imagebuilder_colon(name, value)
            }
            Some(m @ ('#' | '%')) if syntax.trim => {
                self.at += 1;
                self.imagebuilder_trim(&name, m, &value)
            }
            Some('/') if syntax.replace => {
                self.at += 1;
                self.imagebuilder_replace(&name, &value)
            }
            _ => Err(ExpandError::Unsupported(
                "Missing ':' in substitution".to_string(),
            )),
        }
    }

    /// imagebuilder's `${V:-w}`, `${V:+w}` and `${V:?m}`, after the colon.
    fn imagebuilder_colon(&mut self, name: String, value: String) -> Result<String, ExpandError> {
        let modifier = self.next();
        let word = self.until(Some(&['}']), false)?;
        match modifier {
            Some('+') if value.is_empty() => Ok(value),
            Some('+') => Ok(word),
            Some('-') if value.is_empty() => Ok(word),
            Some('-') => Ok(value),
            Some('?') if self.syntax.required => match (value.is_empty(), word.is_empty()) {
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

    /// imagebuilder's `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, after the first `#` or `%` (`m`).
    fn imagebuilder_trim(
        &mut self,
        name: &str,
        m: char,
        value: &str,
    ) -> Result<String, ExpandError> {
        let greedy = self.peek() == Some(m);
        if greedy {
            self.at += 1;
        }
        let word = self.until(Some(&['}']), false)?;
        if word.is_empty() {
            return Err(ExpandError::Syntax(format!("{name}{m}: nothing to remove")));
        }
        let pattern = path_pattern(&word);
        Ok(trim_imagebuilder(value, &pattern, greedy, m == '#'))
    }

    /// imagebuilder's `${V/p/r}`, `${V//p/r}`, `${V/#p/r}`, `${V/%p/r}` (`/r` optional), after
    /// the first `/`.
    fn imagebuilder_replace(&mut self, name: &str, value: &str) -> Result<String, ExpandError> {
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
            value,
            &pattern,
            &replacement,
            (all, begin, end),
        ))
    }
}

/// BuildKit's `${V-w}`, `${V:-w}` (the word where V is `unset`, else V) and `${V+w}`, `${V:+w}`
/// (the word where V is set, else nothing); `unset` counts an empty V after a colon.
fn buildkit_alternative(
    modifier: char,
    value: Option<String>,
    word: String,
    unset: bool,
) -> String {
    match modifier {
        '-' if unset => word,
        '-' => value.unwrap_or_default(),
        _ if unset => String::new(),
        _ => word,
    }
}

/// BuildKit's `${V?m}`, `${V:?m}`: V where it is set, else an error with `m` or, without one,
/// the lexer's own message.
fn buildkit_required(
    name: String,
    value: Option<String>,
    word: String,
    unset: bool,
) -> Result<String, ExpandError> {
    if !unset {
        return Ok(value.unwrap_or_default());
    }
    Err(ExpandError::Required {
        message: match (word.is_empty(), value.is_none()) {
            (false, _) => word,
            (true, true) => "is not allowed to be unset".to_string(),
            (true, false) => "is not allowed to be empty".to_string(),
        },
        name,
    })
}
