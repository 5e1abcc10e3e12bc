//! Dockerfile generation: each instruction kind from the pools (older and newer generations'
//! forms), one-stage Dockerfiles, and the two-stage shape whose last stage reads `s0`.

use proptest::prelude::*;

use super::pools::{pick, STAGE};

/// `COPY` of the pool's sources with optional `--chown`, and in a modern scenario `--chmod` (as
/// text: the parser gives the instruction its `Body`).
fn arb_copy(modern: bool) -> impl Strategy<Value = String> {
    let source = pick(&[
        "a /a", "b /b", "d/c /d/c", "d /d", ". /app", ". /app", ". /app", "a b /m/", "d/* /w/",
        "l /l",
    ]);
    let flag = prop_oneof![
        8 => Just(""),
        2 => pick(&["--chown=1:1 ", "--chown=2:2 "]),
        if modern { 1 } else { 0 } => pick(&["--chmod=600 ", "--chmod=755 "]),
    ];
    (pick(&["COPY", "COPY", "COPY", "ADD"]), flag, source)
        .prop_map(|(keyword, flag, source)| format!("{keyword} {flag}{source}"))
}

/// A plain RUN.
fn arb_run() -> impl Strategy<Value = String> {
    pick(&["x", "y", "$V", "$E"]).prop_map(|w| format!("RUN echo {w}"))
}

/// RUN in the newer generations' forms: heredoc, cache and context bind mounts (refused by the
/// older ones and by the classic builder: the model predicts that).
fn arb_new_run() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => pick(&["x", "y"]).prop_map(|w| format!("RUN <<EOF\necho {w}\nEOF")),
        1 => pick(&["a", "b"])
            .prop_map(|id| format!("RUN --mount=type=cache,id={id},target=/c true")),
        1 => pick(&["a", "b"])
            .prop_map(|f| format!("RUN --mount=type=bind,source={f},target=/m cat /m")),
    ]
}

/// Metadata and config instructions, two spellings each so an edit changes them.
fn arb_metadata() -> impl Strategy<Value = String> {
    pick(&[
        "ENV E=x",
        "ENV E=y",
        "ARG V",
        "ARG V W=1",
        "LABEL x=1",
        "LABEL x=2",
        "WORKDIR /w",
        "WORKDIR /v",
        "USER 1000",
        "USER 0",
        "EXPOSE 80",
        "EXPOSE 81",
        "CMD [\"x\"]",
        "CMD [\"y\"]",
        "ENTRYPOINT [\"/bin/sh\"]",
        "VOLUME /data",
        "VOLUME /logs",
        "STOPSIGNAL SIGINT",
        "SHELL [\"/bin/sh\", \"-c\"]",
        "HEALTHCHECK NONE",
        "HEALTHCHECK CMD true",
        "ONBUILD RUN echo x",
        "MAINTAINER me",
    ])
    .prop_map(str::to_string)
}

/// The newer generations' COPY and ADD forms (refused by the older ones: the model predicts
/// that): `--exclude`, heredocs, `--link` (with and without `--chmod`, which BuildKit keys
/// differently), `--parents`, and `ADD --checksum` of a context file (refused by BuildKit,
/// failing at its step on Buildah).
fn arb_new_copy() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pick(&[
            "COPY <<EOF /f\nhi\nEOF",
            "COPY <<EOF /f\nho\nEOF",
            "COPY --link a /a",
            "COPY --link . /app",
            "COPY --link --chmod=600 a /a",
            "COPY --link b /b",
            "COPY --parents d/c /p/",
        ]),
        // Refused whole by some generations: rarer, and added by `Toggle` edits.
        1 => pick(&[
            "COPY --exclude=b d /d",
            "COPY --exclude=b . /app",
            CHECKSUM_ADD,
        ]),
    ]
    .prop_map(str::to_string)
}

/// One instruction of a stage (not FROM, not `--from`), as Dockerfile text; the newer forms only
/// in a modern scenario.
pub(super) fn arb_body(modern: bool) -> BoxedStrategy<String> {
    let new = if modern { 7 } else { 0 };
    prop_oneof![
        8 => arb_run(),
        8 => arb_copy(modern),
        6 => pick(&[
            "ENV E=x",
            "ENV E=y",
            "ENV E=$V",
            "ARG V",
            // An ENV of an arg's name overrides it in every RUN after (`arg.env-overrides`).
            "ARG V\nENV V=x",
            "ARG V\nENV E=$V",
            "ARG V\nLABEL x=$V",
        ])
        .prop_map(str::to_string),
        4 => arb_metadata(),
        new => arb_new_run(),
        new => arb_new_copy(),
    ]
    .boxed()
}

/// An instruction of the final stage of a two-stage Dockerfile, reading stage `s0` (in a modern
/// scenario also through a bind mount).
fn arb_from_stage(modern: bool) -> impl Strategy<Value = String> {
    let new = if modern { 1 } else { 0 };
    prop_oneof![
        4 => Just("COPY --from=s0 /a /x"),
        1 => Just("COPY --from=s0 --chown=1:1 /a /x"),
        3 => Just("COPY --from=s0 /o /o"),
        // What the base image put there: keyed through `s0`'s chain (`copy.from-chain`).
        2 => Just("COPY --from=s0 /etc/group /g"),
        new => Just("COPY --link --from=s0 /a /x"),
        new => Just("RUN --mount=type=bind,from=s0,source=/a,target=/m cat /m"),
        2 * new => Just("RUN --mount=type=bind,from=s0,source=/o,target=/m cat /m"),
    ]
    .prop_map(str::to_string)
}

/// An `ADD --checksum` of a context source.
pub(super) const CHECKSUM_ADD: &str =
    "ADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 a /a";

/// A Dockerfile of one stage built from `base` (maybe after a global ARG), as one instruction
/// text a line.
fn arb_one_stage(modern: bool) -> impl Strategy<Value = Vec<String>> {
    let global = prop::option::weighted(0.15, pick(&["ARG V=1", "ARG V"]));
    (global, proptest::collection::vec(arb_body(modern), 2..6)).prop_map(|(global, bodies)| {
        let mut all: Vec<String> = global.into_iter().map(str::to_string).collect();
        all.push("FROM base".into());
        all.extend(bodies);
        all
    })
}

/// A one-stage Dockerfile's text (a third modern), its keywords in lower case and comment lines
/// before them where `styles` says: for properties of the model on any Dockerfile.
pub fn arb_dockerfile() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.35).prop_flat_map(arb_one_stage),
        proptest::collection::vec(any::<bool>(), 8),
    )
        .prop_map(|(instructions, styles)| {
            let mut text = String::new();
            for (n, instruction) in instructions.iter().enumerate() {
                if styles.get(n).copied().unwrap_or(false) {
                    text.push_str("# generated\n");
                    let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
                    text.push_str(&format!("{} {rest}\n", keyword.to_lowercase()));
                } else {
                    text.push_str(&format!("{instruction}\n"));
                }
            }
            text
        })
}

/// A Dockerfile of one stage, or of two: `s0` (which always copies `a`, and may write `/o`)
/// and a final stage built from `base` or from `s0` that reads `s0`. Either may open with a
/// global ARG. As text, one instruction a line (heredocs span several).
pub(super) fn arb_instructions(modern: bool) -> impl Strategy<Value = Vec<String>> {
    let global = prop::option::weighted(0.15, pick(&["ARG V=1", "ARG V"]));
    let one = arb_one_stage(modern);
    let first = (
        pick(&["COPY a /a", "COPY --chown=2:2 a /a"]),
        prop::option::weighted(0.6, pick(&["RUN echo 1 > /o", "RUN echo 2 > /o"])),
        proptest::collection::vec(
            prop_oneof![1 => pick(&["COPY b /b", "COPY d /d"]).prop_map(str::to_string), 1 => arb_body(modern)],
            0..3,
        ),
    );
    let last = (
        prop::bool::weighted(0.35),
        arb_from_stage(modern),
        proptest::collection::vec(arb_body(modern), 0..2),
    );
    let two = (global, first, last, 0usize..6).prop_map(
        |(global, (copy, run, first), (from_stage, read, last), spelling)| {
            let mut all: Vec<String> = global.into_iter().map(str::to_string).collect();
            // How the last stage names `s0`, when built FROM it: as written, or through global
            // ARGs the frontend expands first (`lang.from-expanded`), each default from the one
            // before (`lang.global-arg-order`), the last set only where the automatic
            // `TARGETARCH` is (`lang.platform-args`; the classic builder has none: the stage
            // `bare`, on `base` with no step of its own: through expansion `base` would be an
            // image no offline build can pull, `from.base-written`, a failure in every build). Most
            // spellings have `s0` set an ENV the last stage's COPY source expands, with a
            // default for where it is unset (`lang.stage-scope`): a path no context holds where
            // every builder builds FROM `s0`, else `b`.
            let (globals, from, unset): (&[&str], &str, Option<&str>) = match spelling {
                2 => (&["ARG P=s", "ARG S=${P}0"], "${S}", Some("nope")),
                3 => (&[], STAGE, Some("nope")),
                4 | 5 => (
                    &["ARG P=s", "ARG S=${P}0", "ARG T=${TARGETARCH:+$S}"],
                    "${T:-bare}",
                    Some("b"),
                ),

                _ => (&[], STAGE, None),
            };
            let scoped = unset.filter(|_| from_stage);
            if from_stage {
                all.extend(globals.iter().map(|g| g.to_string()));
            }
            all.push(format!("FROM base AS {STAGE}"));
            all.push(copy.into());
            // Only RUNs of known effect write what the last stage reads: what an opaque RUN
            // wrote is keyed through its chain (`copy.from-chain`), and once that chain changes
            // the model cannot tell whether the RUN wrote the same (content-addressed engines
            // hit then): the reading step and all after it would go unchecked.
            all.extend(run.map(str::to_string));
            all.extend(first);
            if scoped.is_some() {
                all.push("ENV F=a".into());
            }
            if from_stage && from.contains("bare") {
                all.push("FROM base AS bare".into());
            }
            all.push(format!("FROM {}", if from_stage { from } else { "base" }));
            // What `s0` did not write is no read but a failure in every build: `/a` then.
            let read = if run.is_some() {
                read
            } else {
                read.replace("s0 /o ", "s0 /a ")
                    .replace("source=/o,", "source=/a,")
            };
            all.push(read);
            if let Some(unset) = scoped {
                all.push(format!("COPY ${{F:-{unset}}} /f"));
            }
            all.extend(last);
            all
        },
    );
    prop_oneof![1 => one, 1 => two]
}
