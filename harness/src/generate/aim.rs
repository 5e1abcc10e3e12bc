//! Aimed mutations: one change of a path the Dockerfile reads at that point of a scenario (a
//! COPY/ADD source, a bind mount's source, a file an `--exclude` or `.dockerignore` leaves out).

use models::dockerfile::{self, Body, Line};
use models::scenario::Mutation;
use models::{BuildContext, EntryKind};

/// What an aimed mutation changes of its path.
#[derive(Clone, Copy, Debug)]
pub enum AimKind {
    Write,
    WriteSameSize,
    Chmod,
    Chown,
    Touch,
    /// `user.note`, `security.capability` or `security.selinux` (by index, the last twice).
    Xattr(usize),
    /// What the reading instruction's flags make telling: a mode change under `--chmod`, an
    /// owner change under `--chown`, a touch of a bound file, else a write.
    Fitting,
}

/// One aimed mutation before it meets a context: which reading instruction (`reader`, modulo
/// how many there are), which of its paths (`path`, modulo), and what to change.
#[derive(Clone, Copy, Debug)]
pub struct Aim {
    pub reader: usize,
    pub path: usize,
    pub kind: AimKind,
}

const XATTRS: &[&str] = &[
    "user.note",
    "security.capability",
    "security.selinux",
    "security.selinux",
];

/// The context paths under `source` (a COPY source or bind source as written), the source itself
/// first: `.` is every entry but the Dockerfile and `.dockerignore`, `d/*` the entries of `d`.
fn expand(context: &BuildContext, source: &str) -> Vec<String> {
    // A source starting with `/` is from the context's root too (`lang.source-rooted`).
    let source = source
        .trim_start_matches('/')
        .trim_start_matches("./")
        .trim_end_matches('/');
    let (dir, own) = match source {
        "" | "." => ("", false),
        s if s.ends_with("/*") => (&s[..s.len() - 2], false),
        s => (s, true),
    };
    let mut out: Vec<String> = Vec::new();
    if own && context.get(dir).is_some() {
        out.push(dir.to_string());
    }
    let inner = context
        .entries_under(dir)
        .map(|(p, _)| p.clone())
        .filter(|p| {
            p != models::context::DOCKERFILE_NAME && p != models::context::DOCKERIGNORE_NAME
        });
    out.extend(inner);
    out
}

/// Whether `path` (below `source`) is one a pattern of `excludes` or of `.dockerignore` names:
/// the paths a rule about leaving things out keys on.
fn left_out(path: &str, excludes: &[String], ignored: &[String]) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    excludes.iter().any(|e| e == path || e == name) || ignored.iter().any(|i| i == path)
}

/// A reading instruction: the paths it reads, the telling ones first (what an `--exclude` or
/// `.dockerignore` leaves out, a multi-source copy's later sources), the change its flags make
/// telling, and whether anything about it is (a flag, a bind mount, several sources, a path
/// left out).
struct Reader {
    text: String,
    paths: Vec<String>,
    fitting: AimKind,
    telling: bool,
}

fn reader(
    context: &BuildContext,
    i: &dockerfile::Instruction,
    ignored: &[String],
) -> Option<Reader> {
    let (sources, excludes, fitting, flagged) = match &i.body {
        Body::Copy(c) | Body::Add(c) if c.from.is_none() && c.heredocs.is_empty() => {
            let fitting = match (&c.chmod, &c.chown) {
                (Some(_), _) => AimKind::Chmod,
                (None, Some(_)) => AimKind::Chown,
                _ => AimKind::Write,
            };
            let flagged = c.chmod.is_some() || c.chown.is_some() || c.link || c.sources.len() > 1;
            let sources: Vec<String> = c.sources.iter().rev().cloned().collect();
            (sources, c.exclude.clone(), fitting, flagged)
        }
        Body::Run { flags, .. } => {
            let bound = flags
                .mounts
                .iter()
                .filter(|m| m.kind == dockerfile::MountKind::Bind && m.from.is_none());
            let sources: Vec<String> = bound
                .map(|m| m.source.clone().unwrap_or_else(|| ".".into()))
                .collect();
            (sources, Vec::new(), AimKind::Write, true)
        }
        _ => return None,
    };
    let all: Vec<String> = sources.iter().flat_map(|s| expand(context, s)).collect();
    let (mut paths, rest): (Vec<String>, Vec<String>) = all
        .into_iter()
        .partition(|p| left_out(p, &excludes, ignored));
    let telling = flagged || !paths.is_empty();
    paths.extend(rest);
    paths.dedup();
    (!paths.is_empty()).then_some(Reader {
        text: i.raw_args.clone(),
        paths,
        fitting,
        telling,
    })
}

/// The mutation `aim` makes in `context`, if the Dockerfile reads anything there. The reader is
/// one whose text holds `focus` (the scenario's focus) three times in four, if there is one,
/// else a telling one half the time, else any.
pub fn resolve(context: &BuildContext, aim: Aim, focus: &str) -> Option<Mutation> {
    let text = context.dockerfile_text()?;
    let ignored: Vec<String> = context
        .dockerignore_text()
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let readers: Vec<Reader> = dockerfile::parse(&text)
        .dockerfile
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Instruction(i) => reader(context, i, &ignored),
            _ => None,
        })
        .collect();
    let focused: Vec<&Reader> = readers
        .iter()
        .filter(|r| !focus.is_empty() && format!(" {}", r.text).contains(focus))
        .collect();
    let telling: Vec<&Reader> = readers.iter().filter(|r| r.telling).collect();
    let pool: Vec<&Reader> = if aim.reader < 6 && !focused.is_empty() {
        focused
    } else if aim.reader.is_multiple_of(2) && !telling.is_empty() {
        telling
    } else {
        readers.iter().collect()
    };
    let chosen = pool.get(aim.reader / 2 % pool.len().max(1))?;
    // The first path half the time (the telling one), else any.
    let paths = &chosen.paths;
    let path = paths[if aim.path.is_multiple_of(2) {
        0
    } else {
        aim.path / 2 % paths.len()
    }]
    .clone();
    let kind = match aim.kind {
        AimKind::Fitting => chosen.fitting,
        other => other,
    };
    mutation_of(context, path, kind)
}

/// `kind` on `path`, chosen to change what it is now (a new mode, owner, time or content); a
/// content change of what is not a file changes its mode instead.
fn mutation_of(context: &BuildContext, path: String, kind: AimKind) -> Option<Mutation> {
    let entry = context.get(&path)?;
    let content = match &entry.kind {
        EntryKind::File { content } => Some(content.clone()),
        _ => None,
    };
    let chmod = Mutation::Chmod {
        mode: if entry.mode & 0o777 == 0o755 {
            0o600
        } else {
            0o755
        },
        path: path.clone(),
    };
    Some(match (kind, content) {
        (AimKind::Write, Some(old)) => Mutation::Write {
            content: format!("{}+", String::from_utf8_lossy(&old)),
            path,
        },
        (AimKind::WriteSameSize, Some(old)) if !old.is_empty() => {
            let flipped = old
                .iter()
                .map(|b| if *b == b'p' { 'q' } else { 'p' })
                .collect();
            Mutation::WriteSameSize {
                content: flipped,
                path,
            }
        }
        (AimKind::Write | AimKind::WriteSameSize | AimKind::Chmod | AimKind::Fitting, _) => chmod,
        (AimKind::Chown, _) => Mutation::Chown {
            uid: entry.uid + 1,
            gid: entry.gid + 1,
            path,
        },
        (AimKind::Touch, _) => Mutation::Touch {
            mtime: entry.mtime + 1,
            path,
        },
        (AimKind::Xattr(n), _) => {
            let name = XATTRS[n % XATTRS.len()];
            let was_x = entry.xattrs.get(name).is_some_and(|v| v == b"x");
            Mutation::SetXattr {
                name: name.into(),
                value: if was_x { "y" } else { "x" }.into(),
                path,
            }
        }
    })
}
