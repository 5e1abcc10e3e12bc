//! What a generated context may hold: only what the kernel lets the materialiser make and what
//! the engines then read as the model does. A generated mutation that would leave the context
//! outside this is dropped (`generate::mutations_of`), so no generated input ends a run.
//!
//! The traps, each measured as root on Linux 6.18 (ext4):
//! - `security.capability` only as VFS capability data (`CAPABILITIES`): any other value is
//!   EINVAL; and only on a regular file (what the kernel means it for; a run died setting one on
//!   a directory, `cachet run --seed 20261207`, issue #25);
//! - no xattr on a symlink: `user.*` there is EPERM, and the materialiser sets none on links;
//! - a symlink's mode is always 0777 (Linux has no `lchmod`): a link of another mode cannot be
//!   made, so the model would key a mode no engine sees;
//! - nothing below a file or a link (the model's tree would take it, no filesystem does);
//! - no link to a link (the model follows a source link once, engines to the end);
//! - `security.selinux` only as a label (`LABELS`): an SELinux host refuses anything else;
//! - what a generated `RUN --mount=type=bind,...,target=/m cat /m` binds is a regular file (or
//!   missing, a failure the model predicts): `cat` of a directory or through a dangling link
//!   fails at run time, which the model, taking `cat PATH` as writing nothing, cannot foresee.
//!   A bind of `s0`'s `/a` reads the context's `a` (`s0` copies it there).
//!
//! `lchown` of a dangling link, and times of links, work (`AT_SYMLINK_NOFOLLOW`).

use models::context::normalize_context_path;
use models::dockerfile::{self, Body, MountKind};
use models::{BuildContext, Entry, EntryKind};

/// Two `security.capability` values the kernel accepts (VFS capability data, revision 2: the
/// little-endian magic 0x02000000, then permitted and inheritable sets, low words first):
/// `cap_net_bind_service` and `cap_net_raw` permitted. Anything else there fails with EINVAL
/// wherever the engine sets it (classic 20.10 refused such a context: "Error processing tar file
/// (exit status 1): invalid argument").
pub const CAPABILITIES: [&str; 2] = [
    "\0\0\0\u{2}\0\u{4}\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    "\0\0\0\u{2}\0\u{20}\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
];

/// Two SELinux labels (a CentOS checkout's, and a system file's).
pub const LABELS: [&str; 2] = [
    "system_u:object_r:container_file_t:s0",
    "system_u:object_r:usr_t:s0",
];

/// Why a context cannot be made as the model holds it (or would be read otherwise than it
/// says).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    #[error("`{0}` is a symlink with an xattr (the kernel refuses `user.*` on links)")]
    XattrOnLink(String),
    #[error("`{0}` is a symlink of mode {1:o} (Linux has no link modes)")]
    LinkMode(String, u32),
    #[error("`{0}` has `security.capability` but is not a regular file")]
    CapabilityOnNonFile(String),
    #[error("`{0}` has a `security.capability` the kernel refuses (EINVAL)")]
    BadCapability(String),
    #[error("`{0}` has a `security.selinux` that is no label")]
    BadLabel(String),
    #[error("`{0}` is below something that is no directory")]
    BelowNonDir(String),
    #[error("`{0}` is a symlink to a symlink (the model follows a source link once)")]
    LinkChain(String),
    #[error("`{0}` is bound by a `cat` RUN but is no regular file")]
    BoundNotAFile(String),
}

/// The first reason `context` cannot be made as the model holds it, if any.
pub fn check(context: &BuildContext) -> Result<(), Unfit> {
    for (path, entry) in &context.entries {
        let parent = path.rsplit_once('/').map(|(d, _)| d);
        if parent.is_some_and(|d| context.get(d).is_some_and(|e| !e.is_dir())) {
            return Err(Unfit::BelowNonDir(path.clone()));
        }
        let link = matches!(entry.kind, EntryKind::Symlink { .. });
        let file = matches!(entry.kind, EntryKind::File { .. });
        if link && !entry.xattrs.is_empty() {
            return Err(Unfit::XattrOnLink(path.clone()));
        }
        if link && entry.mode & 0o7777 != 0o777 {
            return Err(Unfit::LinkMode(path.clone(), entry.mode));
        }
        if resolve(context, path).is_some_and(|e| matches!(e.kind, EntryKind::Symlink { .. })) {
            return Err(Unfit::LinkChain(path.clone()));
        }
        if let Some(value) = entry.xattrs.get("security.capability") {
            if !file {
                return Err(Unfit::CapabilityOnNonFile(path.clone()));
            }
            if !CAPABILITIES
                .iter()
                .any(|c| c.as_bytes() == value.as_slice())
            {
                return Err(Unfit::BadCapability(path.clone()));
            }
        }
        if let Some(value) = entry.xattrs.get("security.selinux") {
            if !LABELS.iter().any(|l| l.as_bytes() == value.as_slice()) {
                return Err(Unfit::BadLabel(path.clone()));
            }
        }
    }
    for path in bound(context) {
        let entry = context.get(&path).map(|e| &e.kind);
        if matches!(entry, Some(EntryKind::Dir | EntryKind::Symlink { .. })) {
            return Err(Unfit::BoundNotAFile(path));
        }
    }
    Ok(())
}

/// What the symlink at `path` points at in the context (its target taken from the link's
/// directory), if it is a link and that is there.
pub fn resolve<'c>(context: &'c BuildContext, path: &str) -> Option<&'c Entry> {
    let EntryKind::Symlink { target } = &context.get(path)?.kind else {
        return None;
    };
    let base = path.rsplit_once('/').map_or("", |(d, _)| d);
    let joined = format!("{base}/{target}");
    context.get(&normalize_context_path(joined.trim_start_matches('/')).ok()?)
}

/// The context paths the Dockerfile's bind mounts read: a context source as named, `s0`'s `/a`
/// as the context's `a`.
fn bound(context: &BuildContext) -> Vec<String> {
    let text = context.dockerfile_text().unwrap_or_default();
    let parsed = dockerfile::parse(&text).dockerfile;
    let mut out = Vec::new();
    for i in parsed.instructions() {
        let Body::Run { flags, .. } = &i.body else {
            continue;
        };
        for m in flags.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            let source = m.source.as_deref().unwrap_or(".").trim_matches('/');
            match (&m.from, source) {
                (None, "" | ".") => {}
                (None, s) => out.push(s.to_string()),
                (Some(_), "a") => out.push("a".to_string()),
                (Some(_), _) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::Entry;

    fn check_context(change: impl FnOnce(&mut BuildContext), expect: Result<(), Unfit>) {
        let mut context = BuildContext::new();
        context.insert("a", Entry::file("a")).unwrap();
        context.insert("d/c", Entry::file("c")).unwrap();
        context.insert("l", Entry::symlink("gone")).unwrap();
        context.set_dockerfile_text(
            "FROM base\nRUN --mount=type=bind,source=d/c,target=/m cat /m\n\
             RUN --mount=type=bind,from=s0,source=/a,target=/m cat /m\n",
        );
        change(&mut context);
        assert_eq!(check(&context), expect);
    }

    #[test]
    fn only_what_the_kernel_and_the_engines_take_fits() {
        let xattr = |path: &'static str, name: &'static str, value: &'static str| {
            move |c: &mut BuildContext| {
                let e = c.get_mut(path).unwrap();
                e.xattrs.insert(name.into(), value.as_bytes().to_vec());
            }
        };
        check_context(|_| {}, Ok(()));
        check_context(xattr("a", "security.capability", CAPABILITIES[1]), Ok(()));
        check_context(xattr("a", "security.selinux", LABELS[0]), Ok(()));
        check_context(xattr("d", "user.note", "x"), Ok(()));
        check_context(
            xattr("d", "security.capability", CAPABILITIES[0]),
            Err(Unfit::CapabilityOnNonFile("d".into())),
        );
        check_context(
            xattr("a", "security.capability", "x"),
            Err(Unfit::BadCapability("a".into())),
        );
        check_context(
            xattr("a", "security.selinux", "x"),
            Err(Unfit::BadLabel("a".into())),
        );
        check_context(
            xattr("l", "user.note", "x"),
            Err(Unfit::XattrOnLink("l".into())),
        );
        check_context(
            |c| c.get_mut("l").unwrap().mode = 0o644,
            Err(Unfit::LinkMode("l".into(), 0o644)),
        );
        check_context(
            |c| {
                c.remove("d/c");
                c.insert("d/c", Entry::dir()).unwrap();
            },
            Err(Unfit::BoundNotAFile("d/c".into())),
        );
        check_context(
            |c| {
                c.insert("a", Entry::symlink("d/c")).unwrap();
            },
            Err(Unfit::BoundNotAFile("a".into())),
        );
        check_context(
            |c| {
                c.remove("d/c");
            },
            Ok(()),
        );
        check_context(|c| c.insert("l", Entry::symlink("a-link")).unwrap(), Ok(()));
        check_context(
            |c| {
                c.insert("a-link", Entry::symlink("a")).unwrap();
                c.insert("l", Entry::symlink("a-link")).unwrap();
            },
            Err(Unfit::LinkChain("l".into())),
        );
        check_context(
            |c| c.insert("l", Entry::symlink("l")).unwrap(),
            Err(Unfit::LinkChain("l".into())),
        );
        check_context(
            |c| c.insert("l/f", Entry::dir()).unwrap(),
            Err(Unfit::BelowNonDir("l/f".into())),
        );
    }
}
