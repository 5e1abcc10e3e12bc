//! The tiny name pools every generated scenario draws from (files, links, link targets, the
//! stage and the pushed reference), `pick` of one of their words, and the contexts made of them.

use models::{BuildContext, Entry};
use proptest::prelude::*;

/// The files of every initial context (`d/b` so `--exclude=b` has something to leave out).
const FILES: &[&str] = &["a", "b", "d/c", "d/b"];

/// The symlink of every initial context, and its target.
const LINK: (&str, &str) = ("l", "a");

/// The dangling link of every initial context (read only through `.`, so no build fails on it),
/// and its target, which nothing makes: so that changes meet a dangling link as often as a live
/// one.
const DANGLING: (&str, &str) = ("a-link", "gone");

/// Paths the metadata mutations touch: files, the directory `d`, the symlink `l` and the link
/// `a-link` a mutation may make (each mutation applies only where its path is).
pub(super) const ENTRIES: &[&str] = &["a", "b", "d/c", "d", "l", "a-link"];

/// The symlinks a mutation makes or retargets: the initial `l`, and `a-link` beside it (read
/// only through `.`, so a dangling one fails no build).
pub(super) const LINKS: &[&str] = &["l", "a-link", "a-link"];

/// Where a link may point: pool entries, and `gone`, which nothing makes (a dangling link).
/// In this order, so that a retarget in place (`aim`) of the initial link (to `a`) dangles.
pub(crate) const TARGETS: &[&str] = &["a", "gone", "d", "b", "d/c"];

/// Paths a type change (`Change::Retype`) may meet: the pool's files and links, the directory
/// `d`, and the new paths a mutation may have made.
pub(super) const RETYPED: &[&str] = &["a", "b", "d/c", "l", "a-link", "d", "e", "d/f"];

/// Paths a write may create: new files beside the initial ones.
pub(super) const NEW_FILES: &[&str] = &["e", "d/e"];

/// One of a tiny pool of words.
pub(super) fn pick(words: &'static [&'static str]) -> impl Strategy<Value = &'static str> + Clone {
    (0..words.len()).prop_map(move |i| words[i])
}

/// The stage name pool: one name, so `--target` and `COPY --from` always meet the same stage.
pub(super) const STAGE: &str = "s0";

/// The registry reference cross-host scenarios push to and import from.
/// Tagged, as every real run sends it (`execute`'s registry mapping tags a bare name `latest`),
/// so Buildah's refusal of a tagged `--cache-from` is predicted here as it happens there.
pub(super) const PUSHED: &str = "app:latest";

/// A context of some of the pool's files (each with its content and mode), maybe the symlink.
pub fn arb_context() -> impl Strategy<Value = BuildContext> {
    let file = (pick(FILES), "[a-c]{0,3}", pick(&["644", "600", "755"]));
    (proptest::collection::vec(file, 1..4), prop::bool::ANY).prop_map(|(files, link)| {
        let mut context = BuildContext::new();
        for (path, content, mode) in files {
            let mut entry = Entry::file(content);
            entry.mode = u32::from_str_radix(mode, 8).expect("octal");
            context.insert(path, entry).expect("pool paths are valid");
        }
        if link {
            let symlink = Entry::symlink(LINK.1.to_string());
            context
                .insert(LINK.0, symlink)
                .expect("pool paths are valid");
        }
        context
    })
}

/// The pool's files, the symlink `l`, the dangling `a-link`, and the Dockerfile of
/// `instructions`.
pub(super) fn initial_context(instructions: &[String]) -> BuildContext {
    let mut context = BuildContext::new();
    for f in FILES {
        context
            .insert(f, Entry::file(format!("{f}-content")))
            .expect("pool paths are valid");
    }
    for (path, target) in [LINK, DANGLING] {
        context
            .insert(path, Entry::symlink(target.to_string()))
            .expect("pool paths are valid");
    }
    let mut text = instructions.join("\n");
    text.push('\n');
    context.set_dockerfile_text(&text);
    context
}
