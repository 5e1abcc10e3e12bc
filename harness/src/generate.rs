//! Generators: random scenarios from tiny name pools, so files, steps and stages collide.
//! Preconditions (`Mutation::applies_to`) keep every generated sequence valid.

use models::dockerfile::{self, render, Body, Command, CopyArgs, Dockerfile, Instruction, Line};
use models::scenario::{apply_mutation, BuildStep, Mutation, Scenario, Transition};
use models::{BuildContext, BuildOptions, Entry};
use proptest::prelude::*;

const FILES: &[&str] = &["a", "b", "d/c"];

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        "[xy]".prop_map(|w| Body::run(Command::Shell(format!("echo {w}")))),
        (0..FILES.len()).prop_map(|i| Body::Copy(CopyArgs {
            sources: vec![FILES[i].into()],
            dest: format!("/{}", FILES[i]),
            ..CopyArgs::default()
        })),
        Just(Body::Copy(CopyArgs {
            sources: vec!["d".into()],
            dest: "/d".into(),
            ..CopyArgs::default()
        })),
        Just(Body::Copy(CopyArgs {
            sources: vec![".".into()],
            dest: "/app".into(),
            ..CopyArgs::default()
        })),
        "[xy]".prop_map(|v| Body::Env {
            pairs: vec![("E".into(), v)]
        }),
        Just(Body::arg("V", None)),
    ]
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let path = (0..FILES.len()).prop_map(|i| FILES[i].to_string());
    prop_oneof![
        (path.clone(), "[pq]{1,3}").prop_map(|(path, content)| Mutation::Write { path, content }),
        (path.clone(), "[pq]")
            .prop_map(|(path, content)| Mutation::WriteSameSize { path, content }),
        (
            path.clone(),
            prop_oneof![Just(0o644u32), Just(0o600), Just(0o664)]
        )
            .prop_map(|(path, mode)| Mutation::Chmod { path, mode }),
        (path.clone(), 1000u32..1002).prop_map(|(path, uid)| Mutation::Chown {
            path,
            uid,
            gid: uid
        }),
        (path.clone(), 1_650_000_000i64..1_650_000_100)
            .prop_map(|(path, mtime)| Mutation::Touch { path, mtime }),
        (
            path.clone(),
            prop_oneof![Just("user.note"), Just("security.selinux")]
        )
            .prop_map(|(path, name)| Mutation::SetXattr {
                path,
                name: name.into(),
                value: "system_u:object_r:container_file_t:s0".into()
            }),
        prop_oneof![Just("b\n"), Just("d\n"), Just("nothing\n")]
            .prop_map(|t| Mutation::Dockerignore { text: t.into() }),
        path.clone().prop_map(|path| Mutation::Remove { path }),
        (path.clone(), prop_oneof![Just("a"), Just("b")]).prop_map(|(path, target)| {
            Mutation::Symlink {
                path: format!("{path}-link"),
                target: target.into(),
            }
        }),
        path.clone().prop_map(|from| Mutation::Rename {
            to: format!("{from}-renamed"),
            from
        }),
    ]
}

fn arb_options() -> impl Strategy<Value = BuildOptions> {
    (prop::option::of("[12]"), prop::bool::weighted(0.15)).prop_map(|(v, no_cache)| {
        let mut options = BuildOptions {
            no_cache,
            ..BuildOptions::default()
        };
        if let Some(v) = v {
            options.build_args.insert("V".into(), v);
        }
        options
    })
}

/// A scenario on one host: an initial context and Dockerfile, then 2 to 4 builds, each after up
/// to two mutations that apply.
/// An edit of the Dockerfile, resolved against its text at that point of the scenario.
#[derive(Clone, Debug)]
enum DockerfileEdit {
    /// A comment line before instruction `n` (a text change builders normalise away).
    Comment(usize),
    /// Instruction `n`'s keyword in lower case.
    LowerKeyword(usize),
    /// Extra spaces inside instruction `n`'s arguments (a real text change for RUN).
    Respace(usize),
    /// A new instruction at the end.
    Append(Body),
}

fn arb_dockerfile_edit() -> impl Strategy<Value = DockerfileEdit> {
    prop_oneof![
        (0usize..6).prop_map(DockerfileEdit::Comment),
        (0usize..6).prop_map(DockerfileEdit::LowerKeyword),
        (0usize..6).prop_map(DockerfileEdit::Respace),
        arb_body().prop_map(DockerfileEdit::Append),
    ]
}

fn apply_edit(text: &str, edit: &DockerfileEdit) -> String {
    let mut dockerfile = dockerfile::parse(text).dockerfile;
    let positions: Vec<usize> = dockerfile
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l, Line::Instruction(i) if !matches!(i.body, Body::From { .. })))
        .map(|(n, _)| n)
        .collect();
    let pick = |n: usize| positions.get(n % positions.len().max(1)).copied();
    match edit {
        DockerfileEdit::Comment(n) => {
            if let Some(at) = pick(*n) {
                dockerfile
                    .lines
                    .insert(at, Line::Comment("# edited by cachet".into()));
            }
        }
        DockerfileEdit::LowerKeyword(n) => {
            if let Some(Line::Instruction(i)) = pick(*n).and_then(|at| dockerfile.lines.get_mut(at))
            {
                i.keyword = i.keyword.to_lowercase();
            }
        }
        DockerfileEdit::Respace(n) => {
            if let Some(Line::Instruction(i)) = pick(*n).and_then(|at| dockerfile.lines.get_mut(at))
            {
                i.raw_args = i.raw_args.replacen(' ', "  ", 1);
            }
        }
        DockerfileEdit::Append(body) => dockerfile
            .lines
            .push(Line::Instruction(Instruction::new(body.clone()))),
    }
    render(&dockerfile)
}

/// The stage name pool: one name, so `--target` and `COPY --from` always meet the same stage.
const STAGE: &str = "s0";

/// The registry reference cross-host scenarios push to and import from.
const PUSHED: &str = "app";

/// A Dockerfile of one stage, or of two: `s0` (which always copies `a`) and a final stage built
/// from `base` or from `s0` that copies `/a` out of `s0`.
fn arb_instructions() -> impl Strategy<Value = Vec<Body>> {
    let from =
        |image: &str, stage: Option<&str>| Body::from_image(image, stage.map(str::to_string));
    prop_oneof![
        3 => proptest::collection::vec(arb_body(), 1..5).prop_map(move |bodies| {
            let mut all = vec![from("base", None)];
            all.extend(bodies);
            all
        }),
        1 => (
            proptest::collection::vec(arb_body(), 0..3),
            prop::bool::ANY,
            proptest::collection::vec(arb_body(), 0..3),
        )
            .prop_map(move |(first, final_from_stage, last)| {
                let mut all = vec![
                    from("base", Some(STAGE)),
                    Body::Copy(CopyArgs {
                        sources: vec!["a".into()],
                        dest: "/a".into(),
                        ..CopyArgs::default()
                    }),
                ];
                all.extend(first);
                all.push(from(if final_from_stage { STAGE } else { "base" }, None));
                all.push(Body::Copy(CopyArgs {
                    from: Some(STAGE.into()),
                    sources: vec!["/a".into()],
                    dest: "/x".into(),
                    ..CopyArgs::default()
                }));
                all.extend(last);
                all
            }),
    ]
}

/// Where and how one build runs in a scenario that moves cache between hosts: the first build
/// on `a` exports inline cache and pushes; later builds run on `b` with `--cache-from` or on `a`.
fn place_build(options: &mut BuildOptions, n: usize, cross_host: bool, on_b: bool) -> String {
    if !cross_host {
        return "a".into();
    }
    if n == 0 {
        options.inline_cache = true;
        options.push = Some(PUSHED.into());
        return "a".into();
    }
    if on_b {
        options.cache_from = vec![PUSHED.into()];
        return "b".into();
    }
    "a".into()
}

/// The same scenario on one host, for engines without a second one in the inventory: every
/// build on `a`, without inline cache, pushes or `--cache-from`.
pub fn fold_onto_one_host(scenario: &Scenario) -> Scenario {
    let mut folded = scenario.clone();
    for t in &mut folded.transitions {
        t.build.host = "a".into();
        t.build.options.inline_cache = false;
        t.build.options.push = None;
        t.build.options.cache_from.clear();
    }
    folded
}

pub fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        arb_instructions(),
        prop::bool::weighted(0.3),
        proptest::collection::vec(
            (
                proptest::collection::vec(arb_mutation(), 0..3),
                prop::option::weighted(0.3, arb_dockerfile_edit()),
                arb_options(),
                prop::bool::ANY,
                prop::bool::weighted(0.2),
            ),
            2..5,
        ),
    )
        .prop_map(|(instructions, cross_host, steps)| {
            let mut context = BuildContext::new();
            for f in FILES {
                context
                    .insert(f, Entry::file(format!("{f}-content")))
                    .expect("pool paths are valid");
            }
            let two_stages = instructions
                .iter()
                .filter(|b| matches!(b, Body::From { .. }))
                .count()
                > 1;
            context.set_dockerfile_text(&render(&Dockerfile::from_instructions(instructions)));
            let mut current = context.clone();
            let mut transitions = Vec::new();
            for (n, (mutations, edit, mut options, on_b, target)) in steps.into_iter().enumerate() {
                if two_stages && target {
                    options.target = Some(STAGE.into());
                }
                let host = place_build(&mut options, n, cross_host, on_b);
                // The first build runs on the initial context.
                let mut kept: Vec<Mutation> = if n == 0 {
                    Vec::new()
                } else {
                    mutations
                        .into_iter()
                        .filter(|m| apply_mutation(&mut current, m, 0).is_ok())
                        .collect()
                };
                if let (Some(edit), true) = (edit, n > 0) {
                    let text = apply_edit(&current.dockerfile_text().unwrap_or_default(), &edit);
                    let m = Mutation::Dockerfile { text };
                    if apply_mutation(&mut current, &m, 0).is_ok() {
                        kept.push(m);
                    }
                }
                transitions.push(Transition {
                    mutations: kept,
                    build: BuildStep { host, options },
                });
            }
            Scenario {
                context,
                transitions,
            }
        })
}

/// `count` scenarios from `seed`, the same on every machine: what `cachet run --seed` runs.
pub fn generate_scenarios(seed: u64, count: usize) -> Vec<Scenario> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = arb_scenario();
    (0..count)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("scenario strategy never rejects")
                .current()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scenarios_are_valid_and_varied() {
        let scenarios = crate::generate::generate_scenarios(1, 200);
        let mut ops = std::collections::BTreeSet::new();
        let (mut two_stages, mut targets, mut on_b, mut pushes) = (0, 0, 0, 0);
        for s in &scenarios {
            let text = s.context.dockerfile_text().unwrap_or_default();
            two_stages += usize::from(text.contains("COPY --from=s0"));
            for t in &s.transitions {
                targets += usize::from(t.build.options.target.is_some());
                on_b += usize::from(t.build.host == "b" && !t.build.options.cache_from.is_empty());
                pushes +=
                    usize::from(t.build.options.push.is_some() && t.build.options.inline_cache);
            }
            let contexts = models::scenario::contexts_per_build(s).expect("every mutation applies");
            for c in contexts {
                let text = c.dockerfile_text().expect("a Dockerfile");
                assert!(dockerfile::parse(&text).diagnostics.is_empty(), "{text}");
            }
            for t in &s.transitions {
                ops.extend(t.mutations.iter().map(|m| {
                    serde_json::to_value(m).unwrap()["op"]
                        .as_str()
                        .unwrap()
                        .to_string()
                }));
            }
        }
        for op in [
            "write",
            "write-same-size",
            "chmod",
            "chown",
            "touch",
            "set-xattr",
            "remove",
            "rename",
            "symlink",
            "dockerignore",
            "dockerfile",
        ] {
            assert!(
                ops.contains(op),
                "no `{op}` in 200 generated scenarios: {ops:?}"
            );
        }
        assert!(
            two_stages > 20 && targets > 5 && on_b > 20 && pushes > 20,
            "200 scenarios: {two_stages} with two stages, {targets} builds with --target, \
             {on_b} on host b with --cache-from, {pushes} exporting inline cache"
        );
        let folded = fold_onto_one_host(&scenarios[0]);
        assert!(folded.transitions.iter().all(|t| t.build.host == "a"
            && t.build.options.cache_from.is_empty()
            && t.build.options.push.is_none()));
        assert_eq!(
            crate::generate::generate_scenarios(1, 5),
            crate::generate::generate_scenarios(1, 5),
            "a seed replays"
        );
    }
}
