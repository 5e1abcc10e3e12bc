//! Instruction arguments: `parse_body` (the logical line after the keyword, and the heredocs it
//! names, into a `Body`, or why not); the way back, a body's canonical text, is `canonical.rs`.

use super::ast::{ArgDecl, Body, Command, CopyArgs, Heredoc, Mount, MountKind, RunFlags};

/// One `--name[=value]` flag before an instruction's arguments, value unquoted.
type Flag = (String, Option<String>);

/// Whether `keyword` names an instruction (any case).
pub fn is_instruction(keyword: &str) -> bool {
    const KEYWORDS: [&str; 18] = [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "LABEL",
        "ARG",
        "WORKDIR",
        "USER",
        "EXPOSE",
        "VOLUME",
        "SHELL",
        "STOPSIGNAL",
        "MAINTAINER",
        "HEALTHCHECK",
        "ONBUILD",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(keyword))
}

pub(super) fn parse_body(
    keyword: &str,
    args: &str,
    escape: char,
    heredocs: Vec<Heredoc>,
) -> Result<Body, String> {
    let upper = keyword.to_ascii_uppercase();
    if args.is_empty() {
        return Err(format!("{upper} requires arguments"));
    }
    match upper.as_str() {
        "FROM" => parse_from(args),
        "RUN" => parse_run(args, heredocs),
        "COPY" | "ADD" => {
            let copy = parse_copy(args, &upper, escape, heredocs)?;
            Ok(if upper == "COPY" {
                Body::Copy(copy)
            } else {
                Body::Add(copy)
            })
        }
        "CMD" => Ok(Body::Cmd {
            command: parse_command(args),
        }),
        "ENTRYPOINT" => Ok(Body::Entrypoint {
            command: parse_command(args),
        }),
        "ENV" => Ok(Body::Env {
            pairs: parse_key_values(args, "ENV", escape)?,
        }),
        "LABEL" => Ok(Body::Label {
            pairs: parse_key_values(args, "LABEL", escape)?,
        }),
        "ARG" => parse_arg(args, escape),
        "WORKDIR" => Ok(Body::Workdir {
            path: args.to_string(),
        }),
        "USER" => Ok(Body::User {
            user: args.to_string(),
        }),
        "EXPOSE" => Ok(Body::Expose {
            ports: args.split_whitespace().map(str::to_string).collect(),
        }),
        "VOLUME" => Ok(Body::Volume {
            paths: json_or_words(args),
        }),
        "SHELL" => match parse_json_string_array(args) {
            Some(shell) if !shell.is_empty() => Ok(Body::Shell { shell }),
            _ => Err("SHELL requires the arguments to be in JSON form".to_string()),
        },
        "STOPSIGNAL" => Ok(Body::Stopsignal {
            signal: args.to_string(),
        }),
        "MAINTAINER" => Ok(Body::Maintainer {
            name: args.to_string(),
        }),
        "HEALTHCHECK" => parse_healthcheck(args),
        "ONBUILD" => parse_onbuild(args, escape),
        _ => Err(format!("unsupported instruction `{keyword}`")),
    }
}

/// The `--flag[=value]` words at the start of `args`, and the text after them.
fn take_flags(args: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = args.trim_start();
    while rest.starts_with("--") {
        let mut end = rest.len();
        let mut quote: Option<char> = None;
        for (i, c) in rest.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, c) if c.is_whitespace() => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let word = &rest[..end];
        rest = rest[end..].trim_start();
        if word == "--" {
            break;
        }
        let unquote = |v: &str| v.chars().filter(|c| *c != '"' && *c != '\'').collect();
        flags.push(match word.split_once('=') {
            Some((name, value)) => (name.to_ascii_lowercase(), Some(unquote(value))),
            None => (word.to_ascii_lowercase(), None),
        });
    }
    (flags, rest)
}

/// Whether a parse error (a `Body::Unsupported`'s `why`) is syntax a newer frontend may accept:
/// a flag or a mount type the model does not know. Any other error (an instruction with no
/// arguments, an unknown instruction, an unterminated quote) every frontend refuses.
pub fn is_unknown_syntax(why: &str) -> bool {
    why.contains(": unsupported flag `") || why.starts_with("RUN --mount: unknown mount type `")
}

fn unsupported_flag(keyword: &str, (name, value): &Flag) -> String {
    match value {
        Some(v) => format!("{keyword}: unsupported flag `{name}={v}`"),
        None => format!("{keyword}: unsupported flag `{name}`"),
    }
}

/// A boolean flag: bare, `=true` or `=false`.
fn flag_bool(keyword: &str, flag: &Flag) -> Result<bool, String> {
    match flag.1.as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(unsupported_flag(keyword, flag)),
    }
}

fn parse_from(args: &str) -> Result<Body, String> {
    let (flags, rest) = take_flags(args);
    let mut platform = None;
    for flag in &flags {
        match flag {
            (name, Some(v)) if name == "--platform" => platform = Some(v.clone()),
            _ => return Err(unsupported_flag("FROM", flag)),
        }
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (image, stage) = match words.as_slice() {
        [image] => (image.to_string(), None),
        [image, kw, stage] if kw.eq_ignore_ascii_case("as") => {
            (image.to_string(), Some(stage.to_ascii_lowercase()))
        }
        _ => {
            return Err(format!(
                "FROM takes `[--platform=P] IMAGE [AS NAME]`, got `{args}`"
            ))
        }
    };
    Ok(Body::From {
        image,
        stage,
        platform,
    })
}

fn parse_run(args: &str, heredocs: Vec<Heredoc>) -> Result<Body, String> {
    let (flags, rest) = take_flags(args);
    let mut run = RunFlags::default();
    for flag in &flags {
        match flag {
            (name, Some(v)) if name == "--mount" => run.mounts.push(parse_mount(v)?),
            (name, Some(v)) if name == "--network" => run.network = Some(v.clone()),
            (name, Some(v)) if name == "--security" => run.security = Some(v.clone()),
            _ => return Err(unsupported_flag("RUN", flag)),
        }
    }
    if rest.is_empty() {
        return Err("RUN requires a command".to_string());
    }
    Ok(Body::Run {
        command: parse_command(rest),
        flags: run,
        heredocs,
    })
}

/// A `--mount` value: comma-separated `key=value` or bare `key` fields; `type` defaults to bind.
fn parse_mount(value: &str) -> Result<Mount, String> {
    let mut mount = Mount {
        kind: MountKind::Bind,
        target: None,
        source: None,
        from: None,
        id: None,
        options: Vec::new(),
    };
    for field in value.split(',').filter(|f| !f.is_empty()) {
        let (key, v) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), &v) {
            ("type", Some(t)) => {
                mount.kind = match t.as_str() {
                    "bind" => MountKind::Bind,
                    "cache" => MountKind::Cache,
                    "tmpfs" => MountKind::Tmpfs,
                    "secret" => MountKind::Secret,
                    "ssh" => MountKind::Ssh,
                    other => return Err(format!("RUN --mount: unknown mount type `{other}`")),
                }
            }
            ("target" | "dst" | "destination", Some(t)) => mount.target = Some(t.clone()),
            ("source" | "src", Some(s)) => mount.source = Some(s.clone()),
            ("from", Some(f)) => mount.from = Some(f.to_ascii_lowercase()),
            ("id", Some(i)) => mount.id = Some(i.clone()),
            _ => {}
        }
        mount.options.push((key, v));
    }
    Ok(mount)
}

fn parse_copy(
    args: &str,
    keyword: &str,
    escape: char,
    heredocs: Vec<Heredoc>,
) -> Result<CopyArgs, String> {
    let (flags, rest) = take_flags(args);
    let mut copy = CopyArgs {
        heredocs,
        ..CopyArgs::default()
    };
    for flag in &flags {
        let value = flag.1.clone();
        match (flag.0.as_str(), value) {
            ("--from", Some(v)) => copy.from = Some(v.to_ascii_lowercase()),
            ("--chown", Some(v)) => copy.chown = Some(v),
            ("--chmod", Some(v)) => copy.chmod = Some(v),
            ("--link", _) => copy.link = flag_bool(keyword, flag)?,
            ("--checksum", Some(v)) if keyword == "ADD" => copy.checksum = Some(v),
            ("--keep-git-dir", _) if keyword == "ADD" => {
                copy.keep_git_dir = flag_bool(keyword, flag)?
            }
            ("--exclude", Some(v)) => copy.exclude.push(v),
            ("--parents", _) => copy.parents = flag_bool(keyword, flag)?,
            _ => return Err(unsupported_flag(keyword, flag)),
        }
    }
    let mut words = match parse_json_string_array(rest) {
        Some(words) if rest.starts_with('[') => words,
        _ => split_words(rest, escape)?,
    };
    if words.len() < 2 {
        return Err(format!(
            "{keyword} requires at least one source and a destination"
        ));
    }
    copy.dest = words.pop().unwrap_or_default();
    copy.sources = words;
    Ok(copy)
}

fn parse_arg(args: &str, escape: char) -> Result<Body, String> {
    let mut decls = Vec::new();
    for word in split_words(args, escape)? {
        let (name, default) = match word.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (word.clone(), None),
        };
        if name.is_empty() {
            return Err(format!("ARG: `{word}` has no name"));
        }
        decls.push(ArgDecl { name, default });
    }
    Ok(Body::Arg { args: decls })
}

fn parse_healthcheck(args: &str) -> Result<Body, String> {
    if args.eq_ignore_ascii_case("none") {
        return Ok(Body::Healthcheck {
            flags: Vec::new(),
            command: None,
        });
    }
    let (flags, rest) = take_flags(args);
    let known = [
        "--interval",
        "--timeout",
        "--start-period",
        "--start-interval",
        "--retries",
    ];
    let mut pairs = Vec::new();
    for flag in &flags {
        match flag {
            (name, Some(v)) if known.contains(&name.as_str()) => {
                pairs.push((name.clone(), v.clone()))
            }
            _ => return Err(unsupported_flag("HEALTHCHECK", flag)),
        }
    }
    let (word, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !word.eq_ignore_ascii_case("cmd") || command.trim().is_empty() {
        return Err("HEALTHCHECK takes `NONE` or `[OPTIONS] CMD command`".to_string());
    }
    Ok(Body::Healthcheck {
        flags: pairs,
        command: Some(parse_command(command.trim())),
    })
}

fn parse_onbuild(args: &str, escape: char) -> Result<Body, String> {
    let (keyword, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let upper = keyword.to_ascii_uppercase();
    if matches!(upper.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
        return Err(format!("ONBUILD: `{upper}` is not allowed as a trigger"));
    }
    let trigger = parse_body(keyword, rest.trim(), escape, Vec::new())?;
    Ok(Body::Onbuild {
        keyword: keyword.to_string(),
        trigger: Box::new(trigger),
    })
}

/// VOLUME's paths: a JSON array, or words split on whitespace (no quote processing).
fn json_or_words(args: &str) -> Vec<String> {
    if args.starts_with('[') {
        if let Some(words) = parse_json_string_array(args) {
            return words;
        }
    }
    args.split_whitespace().map(str::to_string).collect()
}

pub(super) fn parse_command(args: &str) -> Command {
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

/// Splits on whitespace, honouring double and single quotes and `escape` escapes (but `\$`,
/// which the variable expansion reads).
fn split_words(text: &str, escape: char) -> Result<Vec<String>, String> {
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
            (_, c) if c == escape => {
                in_word = true;
                match chars.next() {
                    // `\$` is the lexer's to read (`expand`): a literal `$`, not a variable.
                    Some('$') => word.push_str(&format!("{escape}$")),
                    Some(next) => word.push(next),
                    None => word.push(escape),
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

/// `key=value ...`, or the legacy `KEY value with spaces` (ENV and LABEL alike).
fn parse_key_values(
    args: &str,
    keyword: &str,
    escape: char,
) -> Result<Vec<(String, String)>, String> {
    let words = split_words(args, escape)?;
    if !words.first().is_some_and(|w| w.contains('=')) {
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
