//! `cachet snapshot`: a real directory's build input as the model sees it, recorded without
//! building: every path with its sha256 (not the content), mode, owner, times and xattrs; the
//! `.dockerignore` and Dockerfile texts; the build args; the canonical directory. A JSON format
//! of cachet's own (`format_version`, checked on load). `Snapshot::context` makes the model's
//! `BuildContext` of one; `explain` compares two.
//!
//! The walk never follows a symlink (it is recorded as one), skips what `.dockerignore`
//! excludes (the model's own matcher: `models::dockerignore`), and records names that are not
//! UTF-8 losslessly, each byte that is not part of valid UTF-8 as `\xNN` (`escaped: true`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use models::context::{normalize_context_path, DOCKERFILE_NAME, DOCKERIGNORE_NAME};
use models::dockerignore::{is_ignored, parse_dockerignore, IgnorePattern};
use models::{BuildContext, Entry, EntryKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The snapshot format this cachet writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub format_version: u32,
    /// The canonical absolute directory the snapshot was taken of (the build context).
    pub dir: String,
    pub dockerfile: DockerfileRecord,
    /// The `.dockerignore` text, if the context has one.
    #[serde(default)]
    pub dockerignore: Option<String>,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// The stage built (`--target`); the last stage when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Every entry of the context by context path, less what `.dockerignore` excludes (the
    /// Dockerfile and `.dockerignore` themselves are always kept: the model applies the
    /// patterns to them).
    pub entries: BTreeMap<String, EntryRecord>,
    /// What the walk could not represent (sockets, FIFOs, devices), one sentence each.
    #[serde(default)]
    pub not_represented: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerfileRecord {
    /// The context path of the Dockerfile when it is inside the directory, else its absolute path.
    pub path: String,
    pub in_context: bool,
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    File,
    Dir,
    Symlink,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRecord {
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// A file's content digest, lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// A symlink's target, as read (escaped like paths).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// The mtime's nanoseconds: the docker CLI's context sync compares them (the model does not).
    pub mtime_nsec: i64,
    pub atime: i64,
    /// Extended attributes, values in hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
    /// The path (or target) had bytes that are not UTF-8, written as `\xNN`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escaped: bool,
}

/// What `snapshot` is asked to record.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub dir: PathBuf,
    /// `-f`: relative to the current directory, as the docker CLI takes it; default `DIR/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage built.
    pub target: Option<String>,
}

/// A name as text: itself when it is UTF-8, else with every byte outside valid UTF-8 as `\xNN`
/// and each `\` as `\\` (lossless: the entry's `escaped` says which names are written so).
pub fn escape_name(name: &OsStr) -> (String, bool) {
    let bytes = name.as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_string(), false);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        // Literal backslashes double, so that `\\xNN` read back is never a byte.
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    (out, true)
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// Takes a snapshot of `request.dir`.
pub fn take(request: &Request) -> Result<Snapshot> {
    let dir = std::fs::canonicalize(&request.dir).map_err(read_err(&request.dir))?;
    if !dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{} is not a directory",
            request.dir.display()
        )));
    }
    let dockerfile = locate_dockerfile(&dir, request.dockerfile.as_deref())?;
    let dockerignore = match std::fs::read(dir.join(DOCKERIGNORE_NAME)) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(read_err(&dir.join(DOCKERIGNORE_NAME))(e)),
    };
    let patterns = parse_dockerignore(dockerignore.as_deref().unwrap_or(""));
    let in_context = dockerfile.in_context.then_some(dockerfile.path.as_str());
    let keep: Vec<String> = [Some(DOCKERIGNORE_NAME), in_context]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect();
    let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
    let mut walk = Walk {
        patterns: &patterns,
        prune: !patterns.iter().any(|p| p.exception),
        keep: &keep,
        entries: BTreeMap::new(),
        not_represented: Vec::new(),
    };
    walk.dir(&dir, "")?;
    let (entries, not_represented) = (walk.entries, walk.not_represented);
    Ok(Snapshot {
        format_version: FORMAT_VERSION,
        dir: escape_name(dir.as_os_str()).0,
        dockerfile,
        dockerignore,
        build_args: request.build_args.clone(),
        target: request.target.clone(),
        entries,
        not_represented,
    })
}

/// The Dockerfile `-f` names (default `DIR/Dockerfile`): its text, and where it is.
fn locate_dockerfile(dir: &Path, given: Option<&Path>) -> Result<DockerfileRecord> {
    let path = given.map_or_else(|| dir.join(DOCKERFILE_NAME), Path::to_path_buf);
    let text = std::fs::read(&path).map_err(read_err(&path))?;
    let text = String::from_utf8(text)
        .map_err(|_| Error::BadInput(format!("the Dockerfile {} is not UTF-8", path.display())))?;
    let canonical = std::fs::canonicalize(&path).map_err(read_err(&path))?;
    let record = match canonical.strip_prefix(dir) {
        Ok(rel) if !rel.as_os_str().is_empty() => DockerfileRecord {
            path: escape_name(rel.as_os_str()).0,
            in_context: true,
            text,
        },
        _ => DockerfileRecord {
            path: escape_name(canonical.as_os_str()).0,
            in_context: false,
            text,
        },
    };
    Ok(record)
}

struct Walk<'a> {
    patterns: &'a [IgnorePattern],
    /// No exception patterns: an excluded directory's subtree can be skipped whole.
    prune: bool,
    keep: &'a [&'a str],
    entries: BTreeMap<String, EntryRecord>,
    not_represented: Vec<String>,
}

impl Walk<'_> {
    /// Records every entry below `path` (context path `rel`), never following a symlink.
    fn dir(&mut self, path: &Path, rel: &str) -> Result<()> {
        let mut children: Vec<(PathBuf, std::ffi::OsString)> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err(path))? {
            let entry = entry.map_err(read_err(path))?;
            children.push((entry.path(), entry.file_name()));
        }
        for (child, name) in children {
            let (name, escaped) = escape_name(&name);
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(&child).map_err(read_err(&child))?;
            let ignored =
                !self.keep.contains(&child_rel.as_str()) && is_ignored(self.patterns, &child_rel);
            if ignored && (self.prune || !meta.is_dir()) {
                continue;
            }
            if !ignored {
                match record(&child, &meta, escaped)? {
                    Some(r) => {
                        self.entries.insert(child_rel.clone(), r);
                    }
                    None => self.not_represented.push(format!(
                        "`{child_rel}` is not a file, directory or symlink (the model has no such entry)"
                    )),
                }
            }
            if meta.is_dir() {
                self.dir(&child, &child_rel)?;
            }
        }
        Ok(())
    }
}

/// One entry's record from its `lstat`, or `None` for a socket, FIFO or device.
fn record(path: &Path, meta: &std::fs::Metadata, escaped: bool) -> Result<Option<EntryRecord>> {
    let file_type = meta.file_type();
    let (kind, sha256, size, target, target_escaped) = if file_type.is_symlink() {
        let target = std::fs::read_link(path).map_err(read_err(path))?;
        let (target, esc) = escape_name(target.as_os_str());
        (RecordKind::Symlink, None, None, Some(target), esc)
    } else if file_type.is_dir() {
        (RecordKind::Dir, None, None, None, false)
    } else if file_type.is_file() {
        let mut hasher = Sha256::new();
        let mut file = std::fs::File::open(path).map_err(read_err(path))?;
        std::io::copy(&mut file, &mut hasher).map_err(read_err(path))?;
        let digest = hex::encode(hasher.finalize());
        (
            RecordKind::File,
            Some(digest),
            Some(meta.len()),
            None,
            false,
        )
    } else {
        return Ok(None);
    };
    Ok(Some(EntryRecord {
        kind,
        sha256,
        size,
        target,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        atime: meta.atime(),
        xattrs: xattrs_of(path)?,
        escaped: escaped || target_escaped,
    }))
}

/// Every xattr of `path` itself (not of a symlink's target), values in hex.
fn xattrs_of(path: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let names = match xattr::list(path) {
        Ok(names) => names,
        // A filesystem without xattrs has none to record.
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(out),
        Err(e) => return Err(read_err(path)(e)),
    };
    for name in names {
        if let Some(value) = xattr::get(path, &name).map_err(read_err(path))? {
            out.insert(escape_name(&name).0, hex::encode(value));
        }
    }
    Ok(out)
}

impl Snapshot {
    /// The snapshot as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| Error::Harness(format!("serialising a snapshot: {e}")))
    }

    /// A snapshot from JSON `text` (read from `path`): garbled text, another `format_version`,
    /// and paths that leave the context are bad input.
    pub fn from_json(text: &str, path: &Path) -> Result<Snapshot> {
        let bad = |why: String| Error::BadInput(format!("snapshot {}: {why}", path.display()));
        let version: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        match version.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "format_version {v}; this cachet reads format_version {FORMAT_VERSION}"
                )))
            }
            None => return Err(bad("no format_version: not a cachet snapshot".to_string())),
        }
        let snapshot: Snapshot = serde_json::from_value(version).map_err(|e| bad(e.to_string()))?;
        snapshot.validate().map_err(bad)?;
        Ok(snapshot)
    }

    /// Every path a context path, the Dockerfile's too when it is in the context, digests hex.
    fn validate(&self) -> std::result::Result<(), String> {
        if !self.dir.starts_with('/') {
            return Err(format!("dir `{}` is not an absolute path", self.dir));
        }
        let context_path = |p: &str, what: &str| match normalize_context_path(p) {
            Ok(n) if n == p => Ok(()),
            Ok(n) => Err(format!("{what} `{p}` is not normalised (`{n}`)")),
            Err(e) => Err(format!("{what}: {e}")),
        };
        if self.dockerfile.in_context {
            context_path(&self.dockerfile.path, "the Dockerfile path")?;
        } else if !self.dockerfile.path.starts_with('/') {
            return Err(format!(
                "the Dockerfile path `{}` is outside the context but not absolute",
                self.dockerfile.path
            ));
        }
        for (path, entry) in &self.entries {
            context_path(path, "entry")?;
            let digest_ok = entry
                .sha256
                .as_deref()
                .is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()));
            match entry.kind {
                RecordKind::File if !digest_ok || entry.size.is_none() => {
                    return Err(format!("file `{path}` has no sha256 and size"))
                }
                RecordKind::Symlink if entry.target.is_none() => {
                    return Err(format!("symlink `{path}` has no target"))
                }
                _ => {}
            }
            if entry.xattrs.values().any(|v| hex::decode(v).is_err()) {
                return Err(format!("`{path}` has an xattr value that is not hex"));
            }
        }
        Ok(())
    }

    /// The model's context: each file's content stands in as its digest (equal content, equal
    /// digest: all a key needs), the Dockerfile and `.dockerignore` as their text. A Dockerfile
    /// that is not `DIR/Dockerfile` is put where the model reads it (`Dockerfile`); the
    /// profiles then leave it out of what COPY sees (`explain::profile_for_snapshot`).
    pub fn context(&self) -> BuildContext {
        let mut context = BuildContext::new();
        for (path, record) in &self.entries {
            context.entries.insert(path.clone(), entry_of(record));
        }
        if let Some(text) = &self.dockerignore {
            if let Some(Entry {
                kind: EntryKind::File { content },
                ..
            }) = context.entries.get_mut(DOCKERIGNORE_NAME)
            {
                *content = text.as_bytes().to_vec();
            }
        }
        let meta = self
            .dockerfile
            .in_context
            .then(|| self.entries.get(&self.dockerfile.path))
            .flatten();
        let mut entry = meta.map_or_else(|| Entry::file(""), entry_of);
        entry.kind = EntryKind::File {
            content: self.dockerfile.text.as_bytes().to_vec(),
        };
        context.entries.insert(DOCKERFILE_NAME.to_string(), entry);
        context
    }

    /// Whether the Dockerfile the build uses is the context's own `Dockerfile`.
    pub fn dockerfile_is_context_dockerfile(&self) -> bool {
        self.dockerfile.in_context && self.dockerfile.path == DOCKERFILE_NAME
    }

    /// The entries whose names (or targets) were escaped.
    pub fn escaped_paths(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(_, e)| e.escaped)
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

/// A recorded entry as the model's entry. Its atime is its mtime: reading a file moves its atime
/// (the walk's own digests do), no engine keys on it, and only a mutant's key would see it.
fn entry_of(record: &EntryRecord) -> Entry {
    let kind = match record.kind {
        RecordKind::File => EntryKind::File {
            content: record.sha256.clone().unwrap_or_default().into_bytes(),
        },
        RecordKind::Dir => EntryKind::Dir,
        RecordKind::Symlink => EntryKind::Symlink {
            target: record.target.clone().unwrap_or_default(),
        },
    };
    Entry {
        kind,
        mode: record.mode,
        uid: record.uid,
        gid: record.gid,
        mtime: record.mtime,
        atime: record.mtime,
        xattrs: record
            .xattrs
            .iter()
            .map(|(k, v)| (k.clone(), hex::decode(v).unwrap_or_default()))
            .collect(),
    }
}

/// The directory `before` was taken of, as it is now, with the same Dockerfile and `build_args`:
/// a `dir` that is not the snapshot's is bad input (`since` names the snapshot in the message).
pub fn take_again(
    dir: &Path,
    before: &Snapshot,
    build_args: BTreeMap<String, String>,
    since: &Path,
) -> Result<Snapshot> {
    let canonical = std::fs::canonicalize(dir).map_err(read_err(dir))?;
    let here = escape_name(canonical.as_os_str()).0;
    if here != before.dir {
        return Err(Error::BadInput(format!(
            "the snapshot {} was taken of {}, not of {here}: explain compares a directory \
             with its own snapshot",
            since.display(),
            before.dir
        )));
    }
    let dockerfile = if before.dockerfile.in_context {
        canonical.join(&before.dockerfile.path)
    } else {
        PathBuf::from(&before.dockerfile.path)
    };
    take(&Request {
        dir: canonical,
        dockerfile: Some(dockerfile),
        build_args,
        target: before.target.clone(),
    })
}

/// Reads a snapshot file.
pub fn load(path: &Path) -> Result<Snapshot> {
    let text = std::fs::read_to_string(path).map_err(read_err(path))?;
    Snapshot::from_json(&text, path)
}

/// Writes a snapshot file.
pub fn save(snapshot: &Snapshot, path: &Path) -> Result<()> {
    let text = snapshot.to_json()?;
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_are_escaped_losslessly() {
        let name = OsStr::from_bytes(b"caf\xe9.txt");
        assert_eq!(escape_name(name), ("caf\\xe9.txt".to_string(), true));
        assert_eq!(
            escape_name(OsStr::new("caf\u{e9}.txt")),
            ("caf\u{e9}.txt".to_string(), false)
        );
    }
}
