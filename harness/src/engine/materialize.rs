//! Turning a model context into what an engine receives: a tar with exact headers (API door) or
//! a real directory with exact metadata (CLI door).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use models::{BuildContext, EntryKind};

use crate::error::{Error, Result};

/// A tar stream of the context with exactly the model's metadata: mode, uid/gid, mtime, type,
/// link targets, and xattrs as PAX `SCHILY.xattr.*` records.
pub fn context_tar(context: &BuildContext) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let fault = |e: std::io::Error| Error::Harness(format!("building the context tar: {e}"));
    for (path, entry) in &context.entries {
        if !entry.xattrs.is_empty() {
            let records: Vec<(String, &[u8])> = entry
                .xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.as_slice()))
                .collect();
            builder
                .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
                .map_err(fault)?;
        }
        let mut header = tar::Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(u64::from(entry.uid));
        header.set_gid(u64::from(entry.gid));
        header.set_mtime(entry.mtime.max(0) as u64);
        match &entry.kind {
            EntryKind::File { content } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                header.set_path(path).map_err(fault)?;
                header.set_cksum();
                builder.append(&header, content.as_slice()).map_err(fault)?;
            }
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_path(format!("{path}/")).map_err(fault)?;
                header.set_cksum();
                builder.append(&header, std::io::empty()).map_err(fault)?;
            }
            EntryKind::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_path(path).map_err(fault)?;
                header.set_link_name(target).map_err(fault)?;
                header.set_cksum();
                builder.append(&header, std::io::empty()).map_err(fault)?;
            }
        }
    }
    builder.into_inner().map_err(fault)
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::BadInput(format!("path {} has a NUL byte", path.display())))
}

fn os_error(what: &str, path: &Path) -> Error {
    Error::Setup(format!(
        "{what} {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    ))
}

/// Empties `dir`, keeping the directory itself (its path, and so the CLI's sync key, stay).
pub fn clear_dir(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| Error::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        let removed = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Writes the context into `dir` (which must exist and be empty) with exact metadata: content,
/// mode, owner (lchown), mtime/atime (utimensat, not following links) and xattrs, `security.*`
/// included. Directory times are set last, deepest first, since writing children moves them.
pub fn write_context_dir(context: &BuildContext, dir: &Path) -> Result<()> {
    let write_err = |path: &Path, source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    for (rel, entry) in &context.entries {
        let path = dir.join(rel);
        match &entry.kind {
            EntryKind::Dir => std::fs::create_dir_all(&path).map_err(|e| write_err(&path, e))?,
            EntryKind::File { content } => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
                }
                std::fs::write(&path, content).map_err(|e| write_err(&path, e))?;
            }
            EntryKind::Symlink { target } => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
                }
                std::os::unix::fs::symlink(target, &path).map_err(|e| write_err(&path, e))?;
            }
        }
    }
    for (rel, entry) in &context.entries {
        let path = dir.join(rel);
        let is_link = matches!(entry.kind, EntryKind::Symlink { .. });
        let cpath = c_path(&path)?;
        // The owner before the xattrs: a chown clears `security.capability` (the kernel drops
        // a file's privileges with its owner, root's chown too).
        // SAFETY: cpath is a valid NUL-terminated path for the duration of the call.
        if unsafe { libc::lchown(cpath.as_ptr(), entry.uid, entry.gid) } != 0 {
            return Err(os_error("lchown", &path));
        }
        for (name, value) in &entry.xattrs {
            if is_link {
                continue; // user.* xattrs are not allowed on symlinks
            }
            xattr::set(&path, name, value).map_err(|e| {
                Error::Setup(format!("setting xattr {name} on {}: {e}", path.display()))
            })?;
        }
        if !is_link {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode))
                .map_err(|e| write_err(&path, e))?;
        }
    }
    let mut by_depth: Vec<(&String, &models::Entry)> = context.entries.iter().collect();
    by_depth.sort_by_key(|(p, _)| std::cmp::Reverse(p.matches('/').count()));
    for (rel, entry) in by_depth {
        let path = dir.join(rel);
        let cpath = c_path(&path)?;
        let times = [
            libc::timespec {
                tv_sec: entry.atime as libc::time_t,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: entry.mtime as libc::time_t,
                tv_nsec: 0,
            },
        ];
        // SAFETY: valid path and a two-element timespec array, as utimensat requires.
        let rc = unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                cpath.as_ptr(),
                times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(os_error("utimensat", &path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::Entry;

    #[test]
    fn tar_headers_carry_exact_metadata() {
        let mut context = BuildContext::new();
        let mut file = Entry::file("hi");
        file.mode = 0o600;
        file.uid = 1234;
        file.gid = 55;
        file.mtime = 42;
        file.xattrs.insert("user.k".into(), b"v".to_vec());
        context.insert("d/f", file).unwrap();
        context.insert("d/l", Entry::symlink("f")).unwrap();
        let bytes = context_tar(&context).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let path = entry.path().unwrap().display().to_string();
            let xattrs: Vec<String> = entry
                .pax_extensions()
                .unwrap()
                .map(|exts| {
                    exts.map(|ext| ext.unwrap().key().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            seen.push(format!(
                "{path} {:o} {}:{} {} {:?}",
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.gid().unwrap(),
                header.mtime().unwrap(),
                xattrs
            ));
        }
        assert_eq!(
            seen,
            vec![
                "d/ 755 0:0 1600000000 []".to_string(),
                "d/f 600 1234:55 42 [\"SCHILY.xattr.user.k\"]".to_string(),
                "d/l 777 0:0 1600000000 []".to_string(),
            ]
        );
    }
}
