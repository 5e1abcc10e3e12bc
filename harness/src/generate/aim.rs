//! Aimed mutations: one change of a path the Dockerfile reads at that point of a scenario (a
//! COPY/ADD source, a bind mount's source, a file an `--exclude` or `.dockerignore` leaves out),
//! or, with `On::Dir` / `On::Link`, of a directory or link it reads (a link's content is its
//! target: retargeted in place), a removal or rename of what it reads without naming it, a new
//! entry in what it copies whole, or a type change (`retype`).

use models::dockerfile::{self, Body, Line};
use models::scenario::Mutation;
use models::{BuildContext, Entry, EntryKind};

use super::fit;

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
    /// Another type (`retype`, the `n`-th choice).
    Retype(usize),
    /// The path removed (one no instruction names: what `.` or a directory copies).
    Remove,
    /// The path renamed (`PATH-renamed`; one no instruction names).
    Rename,
    /// A new entry in a directory a reader copies whole (`.` or `d`), the `n`-th choice: a file
    /// (`e`), a directory (`f`), a link (`a-link` at the top, `d/l` in `d`, maybe dangling).
    Create(usize),
}

/// The entries an aimed mutation looks for among what the Dockerfile reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    Any,
    Dir,
    Link,
}

/// One aimed mutation before it meets a context: which reading instruction (`reader`, modulo
/// how many there are), which of its paths (`path`, modulo), and what to change.
#[derive(Clone, Copy, Debug)]
pub struct Aim {
    pub reader: usize,
    pub path: usize,
    pub kind: AimKind,
    pub on: On,
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
    /// The sources as named (`""` for `.`, `d` for `d/*`).
    roots: Vec<String>,
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
    let roots = sources
        .iter()
        .map(|s| {
            let s = s.trim_start_matches("./").trim_end_matches('/');
            let s = s.strip_suffix("/*").unwrap_or(s);
            if s == "." { "" } else { s }.to_string()
        })
        .collect();
    (!paths.is_empty()).then_some(Reader {
        text: i.raw_args.clone(),
        roots,
        paths,
        fitting,
        telling,
    })
}

/// The mutations `aim` makes in `context` (none if the Dockerfile reads nothing there). The reader is
/// one whose text holds `focus` (the scenario's focus) three times in four, if there is one,
/// else a telling one half the time, else any.
pub fn resolve(context: &BuildContext, aim: Aim, focus: &str) -> Vec<Mutation> {
    let Some(text) = context.dockerfile_text() else {
        return Vec::new();
    };
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
    let entry_kind = matches!(
        aim.kind,
        AimKind::Remove | AimKind::Rename | AimKind::Create(_)
    );
    if aim.on != On::Any || entry_kind {
        return on_entries(context, &readers, aim);
    }
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
    let Some(chosen) = pool.get(aim.reader / 2 % pool.len().max(1)) else {
        return Vec::new();
    };
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
    match kind {
        AimKind::Retype(n) => retype(context, &path, n),
        kind => mutation_of(context, path, kind).into_iter().collect(),
    }
}

/// An aimed mutation of the entries of `aim.on`'s type the readers read, of any reader: a new
/// one (`Create`), or the `aim.path`-th of them changed (`Remove` and `Rename` only of what no
/// reader names, so that no source goes missing).
fn on_entries(context: &BuildContext, readers: &[Reader], aim: Aim) -> Vec<Mutation> {
    let named: Vec<&String> = readers.iter().flat_map(|r| &r.roots).collect();
    if let AimKind::Create(n) = aim.kind {
        let mut dirs: Vec<&str> = named
            .iter()
            .map(|r| r.as_str())
            .filter(|r| r.is_empty() || context.get(r).is_some_and(|e| e.is_dir()))
            .collect();
        dirs.dedup();
        let Some(dir) = dirs.get(aim.reader % dirs.len().max(1)) else {
            return Vec::new();
        };
        let under = |name: &str| {
            if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            }
        };
        return vec![match n % 3 {
            0 => Mutation::Write {
                path: under("e"),
                content: "new".into(),
            },
            1 => Mutation::Mkdir { path: under("f") },
            _ if dir.is_empty() => Mutation::Symlink {
                path: "a-link".into(),
                target: super::pools::TARGETS[n / 3 % super::pools::TARGETS.len()].into(),
            },
            _ => Mutation::Symlink {
                path: under("l"),
                target: ["c", "gone", "b"][n / 3 % 3].into(),
            },
        }];
    }
    let mut paths: Vec<&String> = readers
        .iter()
        .flat_map(|r| &r.paths)
        .filter(|p| {
            let kind = context.get(p).map(|e| &e.kind);
            match aim.on {
                On::Any => true,
                On::Dir => matches!(kind, Some(EntryKind::Dir)),
                On::Link => matches!(kind, Some(EntryKind::Symlink { .. })),
            }
        })
        .filter(|p| !matches!(aim.kind, AimKind::Remove | AimKind::Rename) || !named.contains(p))
        .collect();
    paths.sort();
    paths.dedup();
    let Some(path) = paths.get(aim.path % paths.len().max(1)) else {
        return Vec::new();
    };
    let path = path.to_string();
    match aim.kind {
        AimKind::Remove => vec![Mutation::Remove { path }],
        AimKind::Rename => vec![Mutation::Rename {
            to: format!("{path}-renamed"),
            from: path,
        }],
        AimKind::Retype(n) => retype(context, &path, n),
        kind => mutation_of(context, path, kind).into_iter().collect(),
    }
}

/// The mutations that make `path` another type, the `n`-th choice: of the two other types, a
/// file (new content), a directory, or a symlink to the `n`-th of `pools::TARGETS` (which may
/// dangle). Nothing if `path` is not there.
pub fn retype(context: &BuildContext, path: &str, n: usize) -> Vec<Mutation> {
    let Some(entry) = context.get(path) else {
        return Vec::new();
    };
    let others: Vec<&str> = ["file", "dir", "symlink"]
        .into_iter()
        .filter(|t| *t != entry.type_name())
        .collect();
    let remove = Mutation::Remove { path: path.into() };
    match others[n % 2] {
        "file" => vec![
            remove,
            Mutation::Write {
                path: path.into(),
                content: "retyped".into(),
            },
        ],
        "dir" => vec![remove, Mutation::Mkdir { path: path.into() }],
        _ => {
            let targets = super::pools::TARGETS;
            vec![Mutation::Symlink {
                path: path.into(),
                target: targets[n / 2 % targets.len()].into(),
            }]
        }
    }
}

/// `kind` on `path`, chosen to change what it is now (a new mode, owner, time or content); a
/// content change of a directory changes its mode instead, of a symlink its target (in place),
/// and a link's mode or xattr (which Linux has not: `fit`) its owner.
fn mutation_of(context: &BuildContext, path: String, kind: AimKind) -> Option<Mutation> {
    let entry = context.get(&path)?;
    let content = match &entry.kind {
        EntryKind::File { content } => Some(content.clone()),
        _ => None,
    };
    let chown = Mutation::Chown {
        uid: entry.uid + 1,
        gid: entry.gid + 1,
        path: path.clone(),
    };
    if let EntryKind::Symlink { target } = &entry.kind {
        return Some(symlink_mutation(entry, target, path, kind, chown));
    }
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
        (
            AimKind::Chown
            | AimKind::Retype(_)
            | AimKind::Remove
            | AimKind::Rename
            | AimKind::Create(_),
            _,
        ) => chown,
        (AimKind::Touch, _) => Mutation::Touch {
            mtime: entry.mtime + 1,
            path,
        },
        (AimKind::Xattr(n), content) => xattr_mutation(entry, n, content.is_some(), path),
    })
}

/// `mutation_of` for a symlink `entry` pointing at `target`: a content change points it at the
/// next target of the pool (in place), a touch moves its time, anything else is `chown`.
fn symlink_mutation(
    entry: &Entry,
    target: &str,
    path: String,
    kind: AimKind,
    chown: Mutation,
) -> Mutation {
    match kind {
        AimKind::Write | AimKind::WriteSameSize | AimKind::Fitting => {
            let targets = super::pools::TARGETS;
            let at = targets
                .iter()
                .position(|t| *t == target)
                .map_or(0, |i| i + 1);
            Mutation::Symlink {
                target: targets[at % targets.len()].into(),
                path,
            }
        }
        AimKind::Touch => Mutation::Touch {
            mtime: entry.mtime + 1,
            path,
        },
        _ => chown,
    }
}

/// `mutation_of` for xattr `n` of the pool on a file (`is_file`) or directory `entry`: each
/// change moves the xattr one along none, the first value, the second, none again.
fn xattr_mutation(entry: &Entry, n: usize, is_file: bool, path: String) -> Mutation {
    // A capability only on a regular file (`fit`): on a directory, a label instead.
    let name = match XATTRS[n % XATTRS.len()] {
        "security.capability" if !is_file => "security.selinux",
        name => name,
    };
    let values: [&str; 2] = match name {
        "security.capability" => fit::CAPABILITIES,
        "security.selinux" => fit::LABELS,
        _ => ["x", "y"],
    };
    // None, the first value, the second, none again.
    let had = entry.xattrs.get(name);
    let was = |n: usize| had.is_some_and(|v| v == values[n].as_bytes());
    if was(1) {
        return Mutation::RemoveXattr {
            name: name.into(),
            path,
        };
    }
    Mutation::SetXattr {
        name: name.into(),
        value: values[usize::from(was(0))].into(),
        path,
    }
}
