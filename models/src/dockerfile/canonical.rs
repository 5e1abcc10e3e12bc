//! A body's canonical argument text (`canonical_args`): what `Instruction::new` writes, the
//! other way from `body.rs`'s parse.

use super::ast::{Body, Command, CopyArgs, Heredoc, Mount};

/// `value` as is, or double-quoted (with `"` and `\` escaped) where it is empty or holds
/// whitespace, a quote or a backslash.
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

/// A command as written: shell form as is, exec form as a JSON array.
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

/// ENV and LABEL pairs as `key=value` words.
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
        Body::From {
            image,
            stage,
            platform,
        } => {
            let mut out = platform
                .as_ref()
                .map(|p| format!("--platform={p} "))
                .unwrap_or_default();
            out.push_str(image);
            if let Some(stage) = stage {
                out.push_str(&format!(" AS {stage}"));
            }
            out
        }
        Body::Run {
            command,
            flags,
            heredocs,
        } => {
            let mut words: Vec<String> = flags.mounts.iter().map(render_mount).collect();
            words.extend(flags.network.iter().map(|n| format!("--network={n}")));
            words.extend(flags.security.iter().map(|s| format!("--security={s}")));
            words.push(render_command(command));
            with_heredocs(words.join(" "), heredocs)
        }
        Body::Cmd { command } | Body::Entrypoint { command } => render_command(command),
        Body::Copy(c) | Body::Add(c) => with_heredocs(render_copy(c), &c.heredocs),
        Body::Env { pairs } | Body::Label { pairs } => render_pairs(pairs),
        Body::Arg { args } => args
            .iter()
            .map(|a| match &a.default {
                None => a.name.clone(),
                Some(d) => format!("{}={}", a.name, quote_if_needed(d)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Body::Workdir { path } => path.clone(),
        Body::User { user } => user.clone(),
        Body::Expose { ports } => ports.join(" "),
        Body::Volume { paths } if paths.iter().any(|p| p.contains(char::is_whitespace)) => {
            render_command(&Command::Exec(paths.clone()))
        }
        Body::Volume { paths } => paths.join(" "),
        Body::Shell { shell } => render_command(&Command::Exec(shell.clone())),
        Body::Healthcheck { command: None, .. } => "NONE".to_string(),
        Body::Healthcheck {
            flags,
            command: Some(command),
        } => {
            let mut words: Vec<String> = flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            words.push(format!("CMD {}", render_command(command)));
            words.join(" ")
        }
        Body::Stopsignal { signal } => signal.clone(),
        Body::Maintainer { name } => name.clone(),
        Body::Onbuild { keyword, trigger } => format!("{keyword} {}", canonical_args(trigger)),
        Body::Unsupported { why } => format!("# unsupported: {why}"),
    }
}

/// A `--mount` flag with its fields as written (a mount without any names its type).
fn render_mount(mount: &Mount) -> String {
    let fields: Vec<String> = mount
        .options
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect();
    if fields.is_empty() {
        format!("--mount=type={},target=", mount.kind.as_str())
    } else {
        format!("--mount={}", fields.join(","))
    }
}

/// COPY and ADD: the flags set, then the sources (heredoc names unquoted) and the destination.
fn render_copy(c: &CopyArgs) -> String {
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
    if let Some(sum) = &c.checksum {
        words.push(format!("--checksum={sum}"));
    }
    if c.keep_git_dir {
        words.push("--keep-git-dir".to_string());
    }
    words.extend(c.exclude.iter().map(|e| format!("--exclude={e}")));
    if c.parents {
        words.push("--parents".to_string());
    }
    let heredoc = |s: &str| {
        c.heredocs
            .iter()
            .any(|h| s.ends_with(&format!("<<{}", h.name)))
    };
    words.extend(c.sources.iter().map(|s| {
        if heredoc(s) {
            s.clone()
        } else {
            quote_if_needed(s)
        }
    }));
    words.push(quote_if_needed(&c.dest));
    words.join(" ")
}

/// The argument line, then each heredoc's body and terminator line.
fn with_heredocs(line: String, heredocs: &[Heredoc]) -> String {
    let mut out = line;
    for h in heredocs {
        out.push('\n');
        out.push_str(&h.content);
        out.push_str(&h.name);
    }
    out
}
