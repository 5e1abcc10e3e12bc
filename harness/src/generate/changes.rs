//! What one build changes: mutations of the pools, aimed mutations (`aim`), the `Change` a
//! build draws, and how a change is applied to the context (kept only where it fits: `fit`).

use models::scenario::{apply_mutation, Mutation};
use models::{BuildContext, BuildOptions};
use proptest::prelude::*;

use super::edits::{apply_edit, arb_dockerfile_edit, DockerfileEdit};
use super::pools::{pick, ENTRIES, LINKS, NEW_FILES, RETYPED, TARGETS};
use super::{aim, fit, repair};

fn arb_xattr() -> impl Strategy<Value = Mutation> {
    let name = pick(&["user.note", "security.selinux", "security.capability"]);
    // The directory twice: an xattr of a directory (every namespace) is otherwise rare. Never a
    // link (`fit`), and a capability only where the path is a regular file then.
    let path = pick(&["a", "b", "d/c", "d", "d"]);
    (path, name, 0..2usize).prop_map(|(path, name, which)| {
        let value = match name {
            "security.capability" => fit::CAPABILITIES[which],
            "security.selinux" => fit::LABELS[which],
            _ => ["x", "y"][which],
        };
        Mutation::SetXattr {
            path: path.into(),
            name: name.into(),
            value: value.into(),
        }
    })
}

/// A write: new content for a pool file, or a new file.
fn arb_write() -> impl Strategy<Value = Mutation> {
    let path = prop_oneof![3 => pick(&["a", "b", "d/c", "d/b"]), 1 => pick(NEW_FILES)];
    (path, "[pq]{1,3}").prop_map(|(path, content)| Mutation::Write {
        path: path.into(),
        content,
    })
}

/// One mutation of the pools (it may not apply to a given context: `Mutation::applies_to`).
pub fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let entry = pick(ENTRIES).prop_map(str::to_string);
    prop_oneof![
        3 => arb_write(),
        1 => (pick(&["a", "b", "d/c"]), "[pq]").prop_map(|(path, content)| {
            Mutation::WriteSameSize { path: path.into(), content }
        }),
        // Not a link: Linux has no link modes (`fit`).
        2 => (pick(&["a", "b", "d/c", "d"]), pick(&["644", "600", "755"])).prop_map(|(path, mode)| {
            Mutation::Chmod { path: path.into(), mode: u32::from_str_radix(mode, 8).expect("octal") }
        }),
        1 => (entry.clone(), 1000u32..1002).prop_map(|(path, uid)| Mutation::Chown {
            path,
            uid,
            gid: uid
        }),
        2 => (entry.clone(), 1_650_000_000i64..1_650_000_100)
            .prop_map(|(path, mtime)| Mutation::Touch { path, mtime }),
        2 => arb_xattr(),
        1 => entry.clone().prop_map(|path| Mutation::RemoveXattr {
            path,
            name: "user.note".into()
        }),
        2 => pick(&["b\n", "d\n", "nothing\n"])
            .prop_map(|t| Mutation::Dockerignore { text: t.into() }),
        1 => entry.clone().prop_map(|path| Mutation::Remove { path }),
        // A link made, or retargeted in place, maybe dangling.
        2 => (pick(LINKS), pick(TARGETS)).prop_map(|(path, target)| {
            Mutation::Symlink {
                path: path.into(),
                target: target.into(),
            }
        }),
        1 => pick(&["e", "d/f"]).prop_map(|path| Mutation::Mkdir { path: path.into() }),
        1 => entry.prop_map(|from| Mutation::Rename {
            to: format!("{from}-renamed"),
            from
        }),
    ]
}

/// One transition's mutations of the pools (type changes are `Change::Retype`).
fn arb_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop_oneof![
        3 => Just(Vec::new()),
        5 => proptest::collection::vec(arb_mutation(), 1..2),
        2 => proptest::collection::vec(arb_mutation(), 0..3),
    ]
}

/// What one build changes before it runs.
#[derive(Clone, Debug)]
pub(super) enum Change {
    /// Mutations of the pools (those that apply), and maybe an edit of the Dockerfile.
    Mixed(Vec<Mutation>, Option<DockerfileEdit>),
    /// One change of a path the Dockerfile reads, alone (`aim::resolve`).
    Aimed(aim::Aim),
    /// One Dockerfile edit alone.
    Edit(DockerfileEdit),
    /// Nothing: only the build's options may differ.
    Nothing,
    /// Nothing but another value of the build arg `V` (`next_arg`).
    Args,
    /// The `n`-th path of `RETYPED` that exists made another type (`aim::retype`, the `to`-th
    /// choice).
    Retype(usize, usize),
}

fn arb_aim() -> impl Strategy<Value = aim::Aim> {
    use aim::AimKind;
    let kind = prop_oneof![
        3 => Just(AimKind::Write),
        1 => Just(AimKind::WriteSameSize),
        2 => Just(AimKind::Chmod),
        2 => Just(AimKind::Chown),
        2 => Just(AimKind::Touch),
        3 => (0usize..4).prop_map(AimKind::Xattr),
        8 => Just(AimKind::Fitting),
        1 => (0usize..10).prop_map(AimKind::Retype),
        1 => Just(AimKind::Remove),
        1 => Just(AimKind::Rename),
        2 => (0usize..15).prop_map(AimKind::Create),
    ];
    // Mostly any path; a directory or a link the Dockerfile reads some of the time, so their
    // modes, owners, times, targets and types change too.
    let on = prop_oneof![
        6 => Just(aim::On::Any),
        4 => Just(aim::On::Dir),
        5 => Just(aim::On::Link),
    ];
    (0usize..8, 0usize..8, kind, on).prop_map(|(reader, path, kind, on)| aim::Aim {
        reader,
        path,
        kind,
        on,
    })
}

/// A change of one build: rules that key one thing meet a change of it alone, so most builds
/// change one thing (an aimed mutation, an edit), some many, a few nothing.
pub(super) fn arb_change(modern: bool) -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (arb_mutations(), prop::option::weighted(0.5, arb_dockerfile_edit(modern)))
            .prop_map(|(m, e)| Change::Mixed(m, e)),
        6 => arb_aim().prop_map(Change::Aimed),
        4 => arb_dockerfile_edit(modern).prop_map(Change::Edit),
        1 => Just(Change::Nothing),
        3 => Just(Change::Args),
        1 => (0usize..8, 0usize..12).prop_map(|(n, to)| Change::Retype(n, to)),
    ]
}

/// The mutations of one build's change that apply to `current` and leave it one the kernel and
/// the engines take (`fit::check`), applying them. A type change is kept or dropped whole.
pub(super) fn mutations_of(
    current: &mut BuildContext,
    change: Change,
    focus: &str,
) -> Vec<Mutation> {
    let (groups, edit): (Vec<Vec<Mutation>>, _) = match change {
        Change::Mixed(m, e) => (m.into_iter().map(|m| vec![m]).collect(), e),
        Change::Aimed(a) => (vec![aim::resolve(current, a, focus)], None),
        Change::Edit(e) => (Vec::new(), Some(e)),
        Change::Nothing | Change::Args => (Vec::new(), None),
        Change::Retype(n, to) => {
            let existing: Vec<&str> = RETYPED
                .iter()
                .copied()
                .filter(|p| current.get(p).is_some())
                .collect();
            let path = existing.get(n % existing.len().max(1));
            let group = path
                .map(|p| aim::retype(current, p, to))
                .unwrap_or_default();
            (vec![group], None)
        }
    };
    let mut kept = Vec::new();
    for group in groups {
        kept.extend(apply_fitting(current, group));
    }
    if let Some(edit) = edit {
        let text = apply_edit(&current.dockerfile_text().unwrap_or_default(), &edit);
        if !repair::reads_unwritten(&text) {
            kept.extend(apply_fitting(current, vec![Mutation::Dockerfile { text }]));
        }
    }
    kept
}

/// `group` applied to `current` if every mutation applies and the context then fits
/// (`fit::check`); else nothing (and `current` as it was).
pub(super) fn apply_fitting(current: &mut BuildContext, group: Vec<Mutation>) -> Vec<Mutation> {
    let mut next = current.clone();
    let applies = group
        .iter()
        .all(|m| apply_mutation(&mut next, m, 0).is_ok());
    if !applies || group.is_empty() || fit::check(&next).is_err() {
        return Vec::new();
    }
    *current = next;
    group
}

/// The build arg `V` moved on: unset → `1` → `2` → unset.
pub(super) fn next_arg(options: &mut BuildOptions) {
    match options.build_args.get("V").map(String::as_str) {
        None => options.build_args.insert("V".into(), "1".into()),
        Some("1") => options.build_args.insert("V".into(), "2".into()),
        Some(_) => options.build_args.remove("V"),
    };
}
