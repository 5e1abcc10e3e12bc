//! Foci: the feature each scenario holds (`FOCI`), drawn in turn or at random, and the opening
//! changes (of the focus, of `s0` alone, of the focus's metadata) its scripted builds make.

use proptest::prelude::*;

use super::aim;
use super::changes::Change;
use super::edits::{DockerfileEdit, Flag};
use super::stages::CHECKSUM_ADD;

/// A feature a scenario may focus on. Each scenario holds one, and most of its aimed mutations
/// and telling edits meet it, so that each feature meets changes from several sides (content,
/// mode, owner, times, xattrs, flags) in a few scenarios.
#[derive(Debug)]
pub(super) struct Focus {
    /// A word its instruction holds: how later changes find it.
    pub(super) word: &'static str,
    /// The instructions that carry it (one is added to the last stage).
    bodies: &'static [&'static str],
    /// Whether only a modern scenario has it.
    modern: bool,
    /// Whether only a scenario that is not modern has it.
    plain: bool,
    /// The change that tells most about it, which the second build makes in most scenarios.
    opening: Opening,
}

/// The change a focus opens with.
#[derive(Clone, Copy, Debug)]
enum Opening {
    /// The change its flags make telling (`aim::AimKind::Fitting`) of the first path it reads.
    Aim,
    /// A telling edit of it (`DockerfileEdit::VaryTelling`).
    Edit,
    /// Another value of the build arg.
    Args,
}

const fn focus(word: &'static str, bodies: &'static [&'static str], opening: Opening) -> Focus {
    Focus {
        word,
        bodies,
        modern: false,
        plain: false,
        opening,
    }
}

const fn plain(word: &'static str, bodies: &'static [&'static str], opening: Opening) -> Focus {
    Focus {
        plain: true,
        ..focus(word, bodies, opening)
    }
}

const fn modern(word: &'static str, bodies: &'static [&'static str], opening: Opening) -> Focus {
    Focus {
        modern: true,
        ..focus(word, bodies, opening)
    }
}

// A data table, one entry a focus with why it is there: longer than a function should be, kept
// whole so that the foci read side by side (`arb_focus` takes them in this order).
const FOCI: &[Focus] = &[
    focus(
        "--chown",
        &["COPY --chown=1:1 a /a", "COPY --chown=2:2 d /d"],
        Opening::Edit,
    ),
    focus(" a b ", &["COPY a b /m/", "ADD a b /m/"], Opening::Aim),
    focus("ADD ", &["ADD a /a", "ADD d /d"], Opening::Edit),
    focus(
        "$V",
        &["ARG V\nENV E=$V", "ARG V\nLABEL x=$V", "ARG V\nRUN echo $V"],
        Opening::Args,
    ),
    focus("ARG V", &["ARG V\nRUN echo x"], Opening::Args),
    focus(" . /app", &["COPY . /app"], Opening::Aim),
    modern(
        "--chmod",
        &["COPY --chmod=600 a /a", "COPY --chmod=755 d /d"],
        Opening::Aim,
    ),
    // A mode through an ARG too, which BuildKit 28 expands before it keys the mode
    // (`bk.chmod-expanded`; opened by the aim, and another value of V in a build after: the
    // default none of them).
    modern(
        "--chmod",
        &[
            "COPY --chmod=755 a /a",
            "COPY --chmod=600 b /b",
            "ARG V=7\nCOPY --chmod=$V a /a",
        ],
        Opening::Aim,
    ),
    // `d/c` too: in a two-stage scenario `s0` copies `a`, whose change then misses before the
    // bind mount's step and masks what the mount keys.
    modern(
        "type=bind",
        &[
            "RUN --mount=type=bind,source=a,target=/m cat /m",
            "RUN --mount=type=bind,source=d/c,target=/m cat /m",
        ],
        Opening::Aim,
    ),
    modern(
        "type=cache",
        &["RUN --mount=type=cache,id=a,target=/c true"],
        Opening::Edit,
    ),
    modern(
        "<<",
        &["RUN <<EOF\necho x\nEOF", "COPY <<EOF /f\nhi\nEOF"],
        Opening::Edit,
    ),
    // Two foci: the context's `b` left out of `.` tells Buildah's context-relative patterns
    // (`buildah.copy-exclude-context`), `d/b` left out of `d` tells the classic builder's ignored
    // ones (`classic.exclude-ignored`) and BuildKit's (`bk.copy-exclude`).
    modern("--exclude=b .", &["COPY --exclude=b . /app"], Opening::Aim),
    modern("--exclude=b d", &["COPY --exclude=b d /d"], Opening::Aim),
    // Refused by BuildKit for a context source, failed by Buildah, ignored by the classic builder
    // of 26+ (`classic.checksum-ignored`): dropping it alone hits there.
    modern("--checksum", &[CHECKSUM_ADD], Opening::Edit),
    modern(
        "--link",
        &["COPY --link a /a", "COPY --link . /app"],
        Opening::Edit,
    ),
    modern("--parents", &["COPY --parents d/c /p/"], Opening::Aim),
    // The language as the frontends evaluate it: a source from the context's root
    // (`lang.source-rooted`), an owner keyed after expansion (`lang.flag-expanded`, opened by
    // another value of V), wildcards matching nothing (`bk.empty-wildcard`,
    // `classic.empty-wildcard-joined`).
    // Only in the scenarios that are not modern, which every generation accepts: so the modern
    // scenarios' foci come as often as before them (`generate_scenarios` takes foci in turn).
    // The wildcard beside a source that exists: the classic builder copies `a`
    // (`classic.empty-wildcard-joined`), BuildKit runs (`bk.empty-wildcard`); a wildcard alone
    // failed the build on the classic builder and Buildah and told no more.
    plain("COPY /", &["COPY /a /r/a", "COPY /d /r/d"], Opening::Aim),
    plain(
        "--chown=$V",
        &["ARG V=3\nCOPY --chown=$V:$V a /a"],
        Opening::Args,
    ),
    plain("*.nope", &["COPY a *.nope /n/"], Opening::Aim),
];

/// A scenario's focus (`FOCI`) and the instruction it adds. With `turn`, the focus is the
/// turn-th of those a scenario of its kind may have (in turn, so that every focus comes as often
/// in a run: `generate_scenarios`); else one at random.
pub(super) fn arb_focus(
    modern: bool,
    turn: Option<usize>,
) -> impl Strategy<Value = (&'static Focus, &'static str)> {
    let foci: Vec<&'static Focus> = FOCI
        .iter()
        .filter(|f| if modern { !f.plain } else { !f.modern })
        .collect();
    let count = foci.len();
    let pick = match turn {
        Some(turn) => Just(turn % count).boxed(),
        None => (0..count).boxed(),
    };
    (pick, 0usize..6).prop_map(move |(f, n)| {
        let focus = foci[f];
        (focus, focus.bodies[n % focus.bodies.len()])
    })
}

/// A change of `s0` alone, which a later stage reads: where no RUN of `s0` follows its first
/// COPY, the owner that COPY gives `/a` (`bk.from-owner`); else the content of `a` or that RUN
/// (what a RUN made is keyed by its chain: `copy.from-chain`).
pub(super) fn stage_opening(n: usize, text: &str) -> Change {
    let s0 = text.split("\nFROM ").nth(1).unwrap_or("");
    match (s0.contains("\nRUN "), n % 2) {
        (false, _) => Change::Edit(DockerfileEdit::Toggle(0, Flag::Chown)),
        (true, 0) => Change::Aimed(aim::Aim {
            reader: 1,
            path: 0,
            kind: aim::AimKind::Write,
            on: aim::On::Any,
        }),
        (true, _) => Change::Edit(DockerfileEdit::Vary(1)),
    }
}

/// A change of metadata alone on the focus's first path: an xattr the CLI drops, one BuildKit
/// filters out, its times.
pub(super) fn metadata_opening(n: usize) -> Change {
    let kind = match n % 3 {
        0 => aim::AimKind::Xattr(0),
        1 => aim::AimKind::Xattr(2),
        _ => aim::AimKind::Touch,
    };
    Change::Aimed(aim::Aim {
        reader: 0,
        path: 0,
        kind,
        on: aim::On::Any,
    })
}

/// The change a focus opens with, as a build's change.
pub(super) fn opening(focus: &Focus) -> Change {
    match focus.opening {
        Opening::Aim => Change::Aimed(aim::Aim {
            reader: 0,
            path: 0,
            kind: aim::AimKind::Fitting,
            on: aim::On::Any,
        }),
        Opening::Edit => Change::Edit(DockerfileEdit::VaryTelling(0, focus.word)),
        Opening::Args => Change::Args,
    }
}
