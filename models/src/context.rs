//! The build context as a virtual tree: files, directories and symlinks with full metadata.
//!
//! Paths are relative, `/`-separated, normalised (`a/b`, never `./a`, `a/`, `/a` or `a/../b`).
//! The Dockerfile and `.dockerignore` are ordinary entries: the Dockerfile is part of the context
//! exactly as it is for a real engine (rule `dockerfile.self`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const DOCKERFILE_NAME: &str = "Dockerfile";
pub const DOCKERIGNORE_NAME: &str = ".dockerignore";

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryKind {
    File { content: Vec<u8> },
    Dir,
    Symlink { target: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// Permission bits only (`0o7777` mask); the type lives in `kind`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    pub atime: i64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl Entry {
    pub fn file(content: impl Into<Vec<u8>>) -> Entry {
        Entry::with_kind(
            EntryKind::File {
                content: content.into(),
            },
            0o644,
        )
    }
    pub fn dir() -> Entry {
        Entry::with_kind(EntryKind::Dir, 0o755)
    }
    pub fn symlink(target: impl Into<String>) -> Entry {
        Entry::with_kind(
            EntryKind::Symlink {
                target: target.into(),
            },
            0o777,
        )
    }
    fn with_kind(kind: EntryKind, mode: u32) -> Entry {
        Entry {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            atime: 1_600_000_000,
            xattrs: BTreeMap::new(),
        }
    }
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Dir)
    }
    pub fn content(&self) -> Option<&[u8]> {
        match &self.kind {
            EntryKind::File { content } => Some(content),
            _ => None,
        }
    }
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            EntryKind::File { .. } => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink { .. } => "symlink",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildContext {
    /// Every entry by normalised path. Parent directories are implicit unless listed.
    pub entries: BTreeMap<String, Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    Empty,
    Absolute(String),
    EscapesContext(String),
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Empty => write!(f, "empty path"),
            PathError::Absolute(p) => {
                write!(f, "path `{p}` is absolute; context paths are relative")
            }
            PathError::EscapesContext(p) => write!(f, "path `{p}` escapes the build context"),
        }
    }
}

impl std::error::Error for PathError {}

/// Normalises a context path: strips `./`, duplicate and trailing slashes, resolves `..` that stays
/// inside the context, and refuses absolute paths and paths that leave the context.
pub fn normalize_context_path(path: &str) -> Result<String, PathError> {
    if path.starts_with('/') {
        return Err(PathError::Absolute(path.to_string()));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathError::EscapesContext(path.to_string()));
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(parts.join("/"))
}

impl BuildContext {
    pub fn new() -> BuildContext {
        BuildContext::default()
    }

    /// Inserts an entry, creating missing parent directories with default metadata.
    pub fn insert(&mut self, path: &str, entry: Entry) -> Result<(), PathError> {
        let path = normalize_context_path(path)?;
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            self.entries
                .entry(prefix.clone())
                .or_insert_with(Entry::dir);
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    /// Removes an entry and everything under it. Returns whether anything was removed.
    pub fn remove(&mut self, path: &str) -> bool {
        let Ok(path) = normalize_context_path(path) else {
            return false;
        };
        let under = format!("{path}/");
        let before = self.entries.len();
        self.entries
            .retain(|p, _| p != &path && !p.starts_with(&under));
        before != self.entries.len()
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// `path` with every symlink on it followed, the context taken as the root: a `..` stops at
    /// the root and an absolute target starts from it, so the result never leaves the context
    /// (`""` is the root itself). It may name no entry (a dangling link). `None` after 255
    /// links, a loop. As moby's `symlink.FollowSymlinkInScope` resolves a context path.
    pub fn follow_in_scope(&self, path: &str) -> Option<String> {
        let mut todo: std::collections::VecDeque<String> =
            path.split('/').map(str::to_string).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => resolved.push(part),
            }
            let Some(EntryKind::Symlink { target }) =
                self.get(&resolved.join("/")).map(|e| &e.kind)
            else {
                continue;
            };
            links += 1;
            if links > 255 {
                return None;
            }
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            for part in target.split('/').rev() {
                todo.push_front(part.to_string());
            }
        }
        Some(resolved.join("/"))
    }

    pub fn get_mut(&mut self, path: &str) -> Option<&mut Entry> {
        self.entries.get_mut(path)
    }

    pub fn dockerfile_text(&self) -> Option<String> {
        self.get(DOCKERFILE_NAME)
            .and_then(Entry::content)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn set_dockerfile_text(&mut self, text: &str) {
        match self.entries.get_mut(DOCKERFILE_NAME) {
            Some(Entry {
                kind: EntryKind::File { content },
                ..
            }) => *content = text.as_bytes().to_vec(),
            _ => {
                self.entries
                    .insert(DOCKERFILE_NAME.to_string(), Entry::file(text));
            }
        }
    }

    pub fn dockerignore_text(&self) -> Option<String> {
        self.get(DOCKERIGNORE_NAME)
            .and_then(Entry::content)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Every entry under `dir` (exclusive), or every entry when `dir` is the context root (`""`).
    pub fn entries_under<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
            .filter(move |(p, _)| !p.is_empty())
    }

    /// Paths the context would contain after applying `.dockerignore` (rule `dockerignore`).
    pub fn without_ignored(&self) -> BuildContext {
        let Some(text) = self.dockerignore_text() else {
            return self.clone();
        };
        let patterns = crate::dockerignore::parse_dockerignore(&text);
        let entries = self
            .entries
            .iter()
            .filter(|(path, _)| !crate::dockerignore::is_ignored(&patterns, path))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect();
        BuildContext { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context of `links` (`PATH -> TARGET`) and the file `d/a`; `path` followed in scope.
    fn check(links: &[(&str, &str)], path: &str, expect: Option<&str>) {
        let mut context = BuildContext::new();
        context.insert("d/a", Entry::file("x")).unwrap();
        for (link, target) in links {
            context.insert(link, Entry::symlink(*target)).unwrap();
        }
        let got = context.follow_in_scope(path);
        assert_eq!(got.as_deref(), expect, "{links:?} {path}");
    }

    #[test]
    fn follow_in_scope_resolves_as_moby_does() {
        check(&[("d/l", "a")], "d/l", Some("d/a"));
        check(&[("d/l", "gone")], "d/l", Some("d/gone"));
        check(&[("l", "/d/a")], "l", Some("d/a"));
        check(&[("d/l", "../../../d/a")], "d/l", Some("d/a"));
        check(&[("e", "d"), ("l", "e/a")], "l", Some("d/a"));
        check(&[("d/l", "m"), ("d/m", "a")], "d/l", Some("d/a"));
        check(&[("l", "m"), ("m", "l")], "l", None);
        check(&[], "d/a", Some("d/a"));
    }
}
