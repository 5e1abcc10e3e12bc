//! What differs between two snapshots: each path's change in the known catalogue's words
//! (`write`, `chmod`, `touch`, ...), and the build args whose values differ.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::explain::snapshot::{EntryRecord, RecordKind, Snapshot};

/// A build arg whose value differs (`None`: not given).
#[derive(Clone, Debug, Serialize)]
pub struct ArgChange {
    pub name: String,
    pub then: Option<String>,
    pub now: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub path: String,
    /// In the catalogue's words (`write`, `write-same-size`, `chmod`, `chmod-dir`, `chown`,
    /// `touch`, `set-xattr`, `remove-xattr`, `symlink`, `remove`, `mkdir`, `dockerignore`,
    /// `dockerfile`).
    pub kinds: Vec<String>,
    pub what: String,
}

pub(super) fn arg_changes(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<ArgChange> {
    let mut names: Vec<&String> = before.keys().chain(now.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| before.get(*n) != now.get(*n))
        .map(|n| ArgChange {
            name: n.clone(),
            then: before.get(n).cloned(),
            now: now.get(n).cloned(),
        })
        .collect()
}

pub(super) fn arg_value(v: Option<&String>) -> String {
    v.map_or_else(|| "(not given)".to_string(), |v| format!("`{v}`"))
}

/// What changed between two snapshots, path by path, in the catalogue's words.
pub fn changes(before: &Snapshot, now: &Snapshot) -> Vec<Change> {
    let mut paths: Vec<&String> = before.entries.keys().chain(now.entries.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    for path in paths {
        let kinds = match (before.entries.get(path), now.entries.get(path)) {
            (None, Some(n)) => vec![added_kind(n).to_string()],
            (Some(_), None) => vec!["remove".to_string()],
            (Some(b), Some(n)) => entry_change_kinds(b, n),
            (None, None) => Vec::new(),
        };
        let kinds = match path.as_str() {
            models::context::DOCKERIGNORE_NAME if !kinds.is_empty() => {
                vec!["dockerignore".to_string()]
            }
            p if p == now.dockerfile.path && now.dockerfile.in_context && !kinds.is_empty() => {
                vec!["dockerfile".to_string()]
            }
            _ => kinds,
        };
        if !kinds.is_empty() {
            let what = kinds.join(", ");
            out.push(Change {
                path: path.clone(),
                kinds,
                what,
            });
        }
    }
    if !now.dockerfile.in_context && before.dockerfile.text != now.dockerfile.text {
        out.push(Change {
            path: now.dockerfile.path.clone(),
            kinds: vec!["dockerfile".to_string()],
            what: "dockerfile".to_string(),
        });
    }
    out
}

fn added_kind(entry: &EntryRecord) -> &'static str {
    match entry.kind {
        RecordKind::File => "write",
        RecordKind::Dir => "mkdir",
        RecordKind::Symlink => "symlink",
    }
}

/// The kinds of an in-place change (atime is left out: reading a file moves it).
fn entry_change_kinds(b: &EntryRecord, n: &EntryRecord) -> Vec<String> {
    if b.kind != n.kind {
        return vec!["remove".to_string(), added_kind(n).to_string()];
    }
    let same_times = (b.mtime, b.mtime_nsec) == (n.mtime, n.mtime_nsec);
    let mut kinds = Vec::new();
    if b.sha256 != n.sha256 {
        let same_size = b.size == n.size;
        kinds.push(if same_size && same_times {
            "write-same-size"
        } else {
            "write"
        });
    }
    if b.target != n.target {
        kinds.push("symlink");
    }
    if b.mode != n.mode {
        kinds.push(if n.kind == RecordKind::Dir {
            "chmod-dir"
        } else {
            "chmod"
        });
    }
    if (b.uid, b.gid) != (n.uid, n.gid) {
        kinds.push("chown");
    }
    if n.xattrs.iter().any(|(k, v)| b.xattrs.get(k) != Some(v)) {
        kinds.push("set-xattr");
    }
    if b.xattrs.keys().any(|k| !n.xattrs.contains_key(k)) {
        kinds.push("remove-xattr");
    }
    if kinds.is_empty() && !same_times {
        kinds.push("touch");
    }
    kinds.into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sha: char, size: u64, mtime: (i64, i64)) -> EntryRecord {
        EntryRecord {
            kind: RecordKind::File,
            sha256: Some(sha.to_string().repeat(64)),
            size: Some(size),
            target: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: mtime.0,
            mtime_nsec: mtime.1,
            atime: mtime.0,
            xattrs: BTreeMap::new(),
            escaped: false,
        }
    }

    fn check(before: &EntryRecord, now: &EntryRecord, kinds: &[&str]) {
        assert_eq!(
            entry_change_kinds(before, now),
            kinds,
            "{before:?} -> {now:?}"
        );
    }

    #[test]
    fn changes_are_named_as_the_catalogue_names_them() {
        let a = file('a', 3, (10, 5));
        check(&a, &a, &[]);
        check(&a, &file('b', 3, (10, 5)), &["write-same-size"]);
        check(&a, &file('b', 3, (10, 6)), &["write"]);
        check(&a, &file('b', 4, (10, 5)), &["write"]);
        check(&a, &file('a', 3, (11, 5)), &["touch"]);
        let atime_only = EntryRecord {
            atime: 99,
            ..a.clone()
        };
        check(&a, &atime_only, &[]);
        check(
            &a,
            &EntryRecord {
                mode: 0o755,
                ..a.clone()
            },
            &["chmod"],
        );
        check(
            &a,
            &EntryRecord {
                uid: 7,
                ..a.clone()
            },
            &["chown"],
        );
        let dir = EntryRecord {
            kind: RecordKind::Dir,
            sha256: None,
            size: None,
            ..a.clone()
        };
        check(
            &dir,
            &EntryRecord {
                mode: 0o700,
                ..dir.clone()
            },
            &["chmod-dir"],
        );
        check(&a, &dir, &["remove", "mkdir"]);
        let labelled = EntryRecord {
            xattrs: BTreeMap::from([("user.k".to_string(), "76".to_string())]),
            ..a.clone()
        };
        check(&a, &labelled, &["set-xattr"]);
        check(&labelled, &a, &["remove-xattr"]);
    }
}
