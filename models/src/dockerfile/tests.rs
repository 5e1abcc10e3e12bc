//! Parser tests: every form through one `check(input, expect)` helper. `expect` has one line per
//! line of the parsed file: `directive NAME=VALUE`, `comment`, `blank`, or an instruction's
//! `normalized` text (heredoc bodies as `⏎`-joined) followed by ` | ` and what its body holds
//! beyond that text; `! message` for an unsupported instruction. Every input also round-trips:
//! `render(parse(input)) == input`.
//! One file over 600 lines on purpose: data tables read through the shared `check` helpers.

use super::*;

fn summary(body: &Body) -> String {
    match body {
        Body::From {
            image,
            stage,
            platform,
        } => format!("from image={image} stage={stage:?} platform={platform:?}"),
        Body::Run {
            command,
            flags,
            heredocs,
        } => {
            let mut out = format!("run {command:?}");
            for m in &flags.mounts {
                out.push_str(&format!(
                    " mount={}:{}",
                    m.kind.as_str(),
                    m.target.as_deref().unwrap_or("-")
                ));
                if let Some(from) = &m.from {
                    out.push_str(&format!(" from={from}"));
                }
                if let Some(source) = &m.source {
                    out.push_str(&format!(" source={source}"));
                }
                if let Some(id) = &m.id {
                    out.push_str(&format!(" id={id}"));
                }
            }
            if let Some(n) = &flags.network {
                out.push_str(&format!(" network={n}"));
            }
            out.push_str(&heredoc_summary(heredocs));
            out
        }
        Body::Copy(c) | Body::Add(c) => {
            let mut out = format!("copy {:?} -> {}", c.sources, c.dest);
            if let Some(from) = &c.from {
                out.push_str(&format!(" from={from}"));
            }
            if c.link {
                out.push_str(" link");
            }
            if let Some(sum) = &c.checksum {
                out.push_str(&format!(" checksum={sum}"));
            }
            if c.keep_git_dir {
                out.push_str(" keep-git-dir");
            }
            for e in &c.exclude {
                out.push_str(&format!(" exclude={e}"));
            }
            out.push_str(&heredoc_summary(&c.heredocs));
            out
        }
        Body::Arg { args } => {
            let decls: Vec<String> = args
                .iter()
                .map(|a| format!("{}={:?}", a.name, a.default))
                .collect();
            format!("arg {}", decls.join(" "))
        }
        Body::Onbuild { keyword, trigger } => format!("onbuild {keyword}: {}", summary(trigger)),
        other => format!("{other:?}"),
    }
}

fn heredoc_summary(heredocs: &[Heredoc]) -> String {
    heredocs
        .iter()
        .map(|h| {
            format!(
                " heredoc={}{}{} lines={}",
                if h.strip_tabs { "-" } else { "" },
                h.name,
                if h.expand { "" } else { "(quoted)" },
                h.content.lines().count()
            )
        })
        .collect()
}

fn check(input: &str, expect: &str) {
    let parsed = parse(input);
    let mut diagnostics = parsed.diagnostics.iter();
    let got: Vec<String> = parsed
        .dockerfile
        .lines
        .iter()
        .map(|line| match line {
            Line::Blank => "blank".to_string(),
            Line::Comment(_) => "comment".to_string(),
            Line::Directive { name, value, .. } => format!("directive {name}={value}"),
            Line::Instruction(i) => match &i.body {
                Body::Unsupported { why } => {
                    let d = diagnostics
                        .next()
                        .expect("a diagnostic per unsupported body");
                    assert_eq!(&d.message, why);
                    format!("! {why}")
                }
                body => format!("{} | {}", i.normalized().replace('\n', "⏎"), summary(body)),
            },
        })
        .collect();
    let expect: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, expect, "\ninput:\n{input}");
    let rendered = render(&parsed.dockerfile);
    let wanted = if input.ends_with('\n') {
        input.to_string()
    } else {
        format!("{input}\n")
    };
    assert_eq!(rendered, wanted, "round trip");
}

#[test]
fn keyword_case_comments_and_continuations_normalise_away() {
    check(
        "# a comment\nfrom base AS First\n\nrun echo a \\\n  b\ncopy --chmod=600 a b /d/\n",
        r#"
        comment
        FROM base AS First | from image=base stage=Some("first") platform=None
        blank
        RUN echo a   b | run Shell("echo a   b")
        COPY --chmod=600 a b /d/ | copy ["a", "b"] -> /d/
        "#,
    );
}

#[test]
fn a_comment_or_blank_line_inside_a_continuation_does_not_end_it() {
    check(
        "FROM base\nRUN apk add \\\n# the shell\n    bash \\\n\n    curl\nRUN true\n",
        r#"
        FROM base | from image=base stage=None platform=None
        RUN apk add     bash     curl | run Shell("apk add     bash     curl")
        RUN true | run Shell("true")
        "#,
    );
    check(
        "FROM base\nENV A=1 \\\n  # indented comment\n  B=2\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ENV A=1   B=2 | Env { pairs: [("A", "1"), ("B", "2")] }
        "#,
    );
}

#[test]
fn a_doubled_escape_at_the_end_is_no_continuation() {
    check(
        "FROM base\nRUN echo \\\\\nRUN true\n",
        r#"
        FROM base | from image=base stage=None platform=None
        RUN echo \\ | run Shell("echo \\\\")
        RUN true | run Shell("true")
        "#,
    );
}

#[test]
fn parser_directives_only_at_the_top() {
    check(
        "# syntax=docker/dockerfile:1\n# escape=`\nFROM base\nRUN echo a `\n  b\n# syntax=other\n",
        r#"
        directive syntax=docker/dockerfile:1
        directive escape=`
        FROM base | from image=base stage=None platform=None
        RUN echo a   b | run Shell("echo a   b")
        comment
        "#,
    );
    check(
        "# a comment first\n# syntax=docker/dockerfile:1\nFROM base\n",
        r#"
        comment
        comment
        FROM base | from image=base stage=None platform=None
        "#,
    );
    let parsed = parse("# syntax = docker/dockerfile:1.4\nFROM base\n");
    assert_eq!(
        parsed.dockerfile.directive("syntax"),
        Some("docker/dockerfile:1.4")
    );
}

#[test]
fn from_platform_and_global_args() {
    check(
        "ARG GO=1.22\nARG A B=2\nFROM --platform=$BUILDPLATFORM golang:${GO} AS build\nARG GO\n",
        r#"
        ARG GO=1.22 | arg GO=Some("1.22")
        ARG A B=2 | arg A=None B=Some("2")
        FROM --platform=$BUILDPLATFORM golang:${GO} AS build | from image=golang:${GO} stage=Some("build") platform=Some("$BUILDPLATFORM")
        ARG GO | arg GO=None
        "#,
    );
}

#[test]
fn run_mounts_are_parsed_and_stay_in_the_text() {
    check(
        "FROM base\nRUN --mount=type=cache,target=/root/.cache,sharing=locked \\\n    --mount=type=bind,from=build,source=/out,target=/in \\\n    make\nRUN --mount=target=. --network=none go build\nRUN --mount=type=secret,id=token cat /run/secrets/token\n",
        r#"
        FROM base | from image=base stage=None platform=None
        RUN --mount=type=cache,target=/root/.cache,sharing=locked     --mount=type=bind,from=build,source=/out,target=/in     make | run Shell("make") mount=cache:/root/.cache mount=bind:/in from=build source=/out
        RUN --mount=target=. --network=none go build | run Shell("go build") mount=bind:. network=none
        RUN --mount=type=secret,id=token cat /run/secrets/token | run Shell("cat /run/secrets/token") mount=secret:- id=token
        "#,
    );
    check(
        "FROM base\nRUN --mount=type=nfs,target=/x true\nRUN --frobnicate true\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ! RUN --mount: unknown mount type `nfs`
        ! RUN: unsupported flag `--frobnicate`
        "#,
    );
}

#[test]
fn heredocs_in_run_and_copy() {
    check(
        "FROM base\nRUN <<EOF\nset -e\necho hi\nEOF\nRUN cat <<-'END' > /x\n\tliteral $A\n\tEND\nCOPY <<a <<b /dest/\none\na\ntwo\nb\nRUN true\n",
        r#"
        FROM base | from image=base stage=None platform=None
        RUN <<EOF⏎set -e⏎echo hi⏎EOF | run Shell("<<EOF") heredoc=EOF lines=2
        RUN cat <<-'END' > /x⏎	literal $A⏎END | run Shell("cat <<-'END' > /x") heredoc=-END(quoted) lines=1
        COPY <<a <<b /dest/⏎one⏎a⏎two⏎b | copy ["<<a", "<<b"] -> /dest/ heredoc=a lines=1 heredoc=b lines=1
        RUN true | run Shell("true")
        "#,
    );
    check(
        "FROM base\nRUN <<EOF\nnever ends\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ! unterminated heredoc `<<EOF`
        "#,
    );
}

#[test]
fn copy_and_add_flags() {
    check(
        "FROM base\nCOPY --link --from=Build /a /b\nADD --checksum=sha256:00 https://x/y /y\nADD --keep-git-dir=true https://g/r.git /r\nCOPY --exclude=*.md --exclude=t . /app\nCOPY [\"a b\", \"/c/\"]\n",
        r#"
        FROM base | from image=base stage=None platform=None
        COPY --link --from=Build /a /b | copy ["/a"] -> /b from=build link
        ADD --checksum=sha256:00 https://x/y /y | copy ["https://x/y"] -> /y checksum=sha256:00
        ADD --keep-git-dir=true https://g/r.git /r | copy ["https://g/r.git"] -> /r keep-git-dir
        COPY --exclude=*.md --exclude=t . /app | copy ["."] -> /app exclude=*.md exclude=t
        COPY ["a b", "/c/"] | copy ["a b"] -> /c/
        "#,
    );
    // ADD takes `--link` and `--exclude` as COPY does (the classic builder of 26 / 28 parses and
    // ignores both on ADD too).
    check(
        "FROM base\nADD --link a /a\nADD --exclude=b d /d\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ADD --link a /a | copy ["a"] -> /a link
        ADD --exclude=b d /d | copy ["d"] -> /d exclude=b
        "#,
    );
    check(
        "FROM base\nCOPY --checksum=sha256:00 a /a\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ! COPY: unsupported flag `--checksum=sha256:00`
        "#,
    );
}

#[test]
fn metadata_instructions() {
    check(
        "FROM base\nVOLUME /data /logs\nVOLUME [\"/a b\"]\nSHELL [\"/bin/bash\", \"-c\"]\nHEALTHCHECK --interval=5s CMD curl -f http://x/ || exit 1\nHEALTHCHECK NONE\nSTOPSIGNAL SIGTERM\nMAINTAINER someone <a@b>\nONBUILD run make\n",
        r#"
        FROM base | from image=base stage=None platform=None
        VOLUME /data /logs | Volume { paths: ["/data", "/logs"] }
        VOLUME ["/a b"] | Volume { paths: ["/a b"] }
        SHELL ["/bin/bash", "-c"] | Shell { shell: ["/bin/bash", "-c"] }
        HEALTHCHECK --interval=5s CMD curl -f http://x/ || exit 1 | Healthcheck { flags: [("--interval", "5s")], command: Some(Shell("curl -f http://x/ || exit 1")) }
        HEALTHCHECK NONE | Healthcheck { flags: [], command: None }
        STOPSIGNAL SIGTERM | Stopsignal { signal: "SIGTERM" }
        MAINTAINER someone <a@b> | Maintainer { name: "someone <a@b>" }
        ONBUILD run make | onbuild run: run Shell("make")
        "#,
    );
    check(
        "FROM base\nSHELL /bin/bash -c\nONBUILD FROM x\nFROBNICATE x\n",
        r#"
        FROM base | from image=base stage=None platform=None
        ! SHELL requires the arguments to be in JSON form
        ! ONBUILD: `FROM` is not allowed as a trigger
        ! unsupported instruction `FROBNICATE`
        "#,
    );
}

#[test]
fn legacy_label_and_mount_without_target() {
    check(
        "FROM base\nLABEL maintainer Some One <a@b>\nRUN --mount=from=bin cp /x /y\n",
        r#"
        FROM base | from image=base stage=None platform=None
        LABEL maintainer Some One <a@b> | Label { pairs: [("maintainer", "Some One <a@b>")] }
        RUN --mount=from=bin cp /x /y | run Shell("cp /x /y") mount=bind:- from=bin
        "#,
    );
}

/// Canonical bodies render to text that parses back to the same body.
#[test]
fn canonical_text_parses_back() {
    let text = "FROM --platform=linux/amd64 base AS b\nARG A B=\"x y\"\nRUN --mount=type=cache,target=/c --network=none make\nRUN <<EOF\nmake\nEOF\nCOPY --link --exclude=x --parents a /d/\nADD --checksum=sha256:00 --keep-git-dir u /u\nVOLUME [\"/a b\"]\nSHELL [\"sh\", \"-c\"]\nHEALTHCHECK --retries=3 CMD [\"true\"]\nHEALTHCHECK NONE\nSTOPSIGNAL 9\nONBUILD COPY a /a\n";
    let parsed = parse(text);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    for instruction in parsed.dockerfile.instructions() {
        let canonical = Instruction::new(instruction.body.clone());
        let again = parse(&render(&Dockerfile {
            lines: vec![Line::Instruction(canonical.clone())],
        }));
        let body = again
            .dockerfile
            .instructions()
            .next()
            .map(|i| i.body.clone());
        assert_eq!(
            body.as_ref(),
            Some(&instruction.body),
            "{}",
            canonical.raw_args
        );
    }
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
    let parsed = parse("FROM base\nFROBNICATE x\nRUN --bogus x\n");
    assert_eq!(parsed.diagnostics.len(), 2);
    assert_eq!(parsed.diagnostics[0].line, 2);
}

/// The lexers' syntaxes the expansion table names: BuildKit v0.8 / v0.12 / v0.13 (and the
/// classic builder vendoring them), imagebuilder as Buildah 1.28 and 1.39 vendor it.
fn syntax(name: &str) -> Syntax {
    let bk = |colonless, newer| Syntax {
        colonless,
        trim: newer,
        replace: newer,
        ..Syntax::BUILDKIT_0_8
    };
    let ib = |newer| Syntax {
        dialect: Dialect::ImageBuilder,
        colonless: false,
        required: newer,
        trim: newer,
        replace: newer,
    };
    match name {
        "bk0.8" => bk(false, false),
        "bk0.12" => bk(true, false),
        "bk0.13" => bk(true, true),
        "ib1.28" => ib(false),
        "ib1.39" => ib(true),
        other => panic!("unknown syntax {other}"),
    }
}

/// `text` expanded under `syntax` with A=1, P=/usr/local/bin, E="" (set, empty), U unset:
/// the result, or `error: WHY`.
fn check_expansion(syntaxes: &str, text: &str, quotes: bool, expect: &str) {
    let lookup = |n: &str| match n {
        "A" => Some("1".to_string()),
        "P" => Some("/usr/local/bin".to_string()),
        "E" => Some(String::new()),
        _ => None,
    };
    for name in syntaxes.split(',') {
        let got = match expand(text, &lookup, syntax(name), '\\', quotes) {
            Ok(v) => v,
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "`{text}` under {name}");
    }
}

/// The lexers the expansion tables name: BuildKit v0.8 / v0.12 / v0.13, imagebuilder as Buildah
/// 1.28 / 1.39 vendors it.
const ALL_LEXERS: &str = "bk0.8,bk0.12,bk0.13,ib1.28,ib1.39";
const BK_LEXERS: &str = "bk0.8,bk0.12,bk0.13";

/// Each `(lexers, text, quotes, expected)` of a table through `check_expansion`.
fn check_expansions(cases: &[(&str, &str, bool, &str)]) {
    for (syntaxes, text, quotes, expect) in cases {
        check_expansion(syntaxes, text, *quotes, expect);
    }
}

#[test]
fn expansion_of_the_forms_every_lexer_has() {
    let all = ALL_LEXERS;
    check_expansions(&[
        (all, "x=$A ${A} ${U:-d} ${A:+s} \\$A", true, "x=1 1 d s $A"),
        (all, "${E:-d}|${E:+s}|${U:+s}|$U.", true, "d|||."),
        (all, "'$A' \"$A\" \"\\$A\"", true, "$A 1 $A"),
        (all, "'$A'", false, "'1'"),
        (all, "$ $1x", true, "$ x"),
        (all, "${U:-${A}x}", true, "1x"),
    ]);
}

#[test]
fn expansion_without_the_colon_per_lexer() {
    check_expansions(&[
        // Without the colon: an unset variable only (BuildKit v0.12).
        (
            "bk0.12,bk0.13",
            "${E-d}|${U-d}|${E+s}|${U+s}",
            true,
            "|d|s|",
        ),
        (
            "bk0.8",
            "${U-d}",
            true,
            "error: missing ':' in substitution",
        ),
        (
            "ib1.28,ib1.39",
            "${U-d}",
            true,
            "error: Missing ':' in substitution",
        ),
    ]);
}

#[test]
fn expansion_of_required_variables_per_lexer() {
    let bk = BK_LEXERS;
    check_expansions(&[
        (bk, "${U:?say}", true, "error: U: say"),
        (bk, "${E:?}", true, "error: E: is not allowed to be empty"),
        (bk, "${E?}x${A?}", true, "x1"),
        (bk, "${U?}", true, "error: U: is not allowed to be unset"),
        (
            "ib1.28",
            "${U:?say}",
            true,
            "error: Unsupported modifier (?) in substitution",
        ),
        // imagebuilder gives the message as the value.
        ("ib1.39", "${U:?say}", true, "say"),
        (
            "ib1.39",
            "${U:?}",
            true,
            "error: U: is not allowed to be unset",
        ),
    ]);
}

#[test]
fn expansion_trims_and_replaces_per_lexer() {
    check_expansions(&[
        (
            "bk0.13",
            "${P#*/}|${P##*/}|${P%/*}|${P%%/*}",
            true,
            "usr/local/bin|bin|/usr/local|",
        ),
        // imagebuilder matches as `path.Match` does: `*` stops at `/`.
        (
            "ib1.39",
            "${P#*/}|${P##*/}|${P%/*}|${P%%/*}",
            true,
            "usr/local/bin|usr/local/bin|/usr/local|/usr/local",
        ),
        (
            "bk0.13,ib1.39",
            "${P/local/opt}|${P//l/L}",
            true,
            "/usr/opt/bin|/usr/LocaL/bin",
        ),
        ("bk0.13", "${P/*l/-}", true, "-/bin"),
        (
            "ib1.39",
            "${P/#\\/usr/}|${P/%bin/sbin}",
            true,
            "/local/bin|/usr/local/sbin",
        ),
        (
            "bk0.8",
            "${P#*/}",
            true,
            "error: missing ':' in substitution",
        ),
        (
            "bk0.12",
            "${P#*/}",
            true,
            "error: unsupported modifier (#) in substitution",
        ),
        (
            "bk0.12",
            "${P/a/b}",
            true,
            "error: unsupported modifier (/) in substitution",
        ),
        (
            "ib1.28",
            "${P%%/*}",
            true,
            "error: Missing ':' in substitution",
        ),
    ]);
}

#[test]
fn expansion_refuses_malformed_words() {
    let bk = BK_LEXERS;
    check_expansions(&[
        (
            "bk0.8",
            "${P:x}",
            true,
            "error: unsupported modifier (x) in substitution",
        ),
        (
            "bk0.13",
            "${P:x}",
            true,
            "error: unsupported modifier (:x) in substitution",
        ),
        (bk, "${}", true, "error: syntax error: bad substitution"),
        (bk, "${A", true, "error: syntax error: missing '}'"),
        (
            bk,
            "'x",
            true,
            "error: unexpected end of statement while looking for matching single-quote",
        ),
    ]);
}

#[test]
fn referenced_variables_and_escaped_dollars() {
    assert_eq!(referenced_variables("echo $A ${B:-x}"), vec!["A", "B"]);
    // The parser leaves `\$` to the lexer: ENV's value expands to a literal `$A`.
    let parsed = parse("FROM base\nENV X=\\$A Y=\"\\$A\"\n");
    let Body::Env { pairs } = &parsed.dockerfile.instructions().nth(1).unwrap().body else {
        panic!("not ENV")
    };
    let lookup = |_: &str| Some("1".to_string());
    let values: Vec<String> = pairs
        .iter()
        .map(|(_, v)| expand(v, &lookup, syntax("bk0.13"), '\\', false).unwrap())
        .collect();
    assert_eq!(values, ["$A", "$A"]);
}

#[test]
fn features_name_every_newer_form_once() {
    let parsed = parse(
        "FROM base\nCOPY --link --exclude=*.md . /d\nADD --checksum=sha256:0 --keep-git-dir=true a /a\nCOPY --parents a /\nRUN <<EOF\ntrue\nEOF\nONBUILD COPY --link a /b\nCOPY a /c\n",
    );
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let features: Vec<Vec<Feature>> = parsed
        .dockerfile
        .instructions()
        .map(|i| i.body.features())
        .collect();
    use Feature::*;
    assert_eq!(
        features,
        [
            vec![],
            vec![CopyLink, CopyExclude],
            vec![AddChecksum, AddKeepGitDir],
            vec![CopyParents],
            vec![Heredoc],
            vec![CopyLink],
            vec![],
        ]
    );
}

#[test]
fn a_flag_or_mount_type_the_model_does_not_know_is_unknown_syntax_and_the_rest_is_refused() {
    let kinds: Vec<(String, bool)> =
        parse("FROM b\nRUN --frobnicate x\nRUN --mount=type=quantum x\nCOPY\nFROBNICATE x\n")
            .diagnostics
            .into_iter()
            .map(|d| (d.message.clone(), is_unknown_syntax(&d.message)))
            .collect();
    let unknown: Vec<bool> = kinds.iter().map(|k| k.1).collect();
    assert_eq!(unknown, [true, true, false, false], "{kinds:?}");
}
