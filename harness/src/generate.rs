//! Generators: random scenarios from tiny name pools, so files, steps and stages collide.
//! Preconditions (`Mutation::applies_to`) keep every generated sequence valid.

use models::dockerfile::{render, Body, Command, CopyArgs, Dockerfile};
use models::scenario::{apply_mutation, BuildStep, Mutation, Scenario, Transition};
use models::{BuildContext, BuildOptions, Entry};
use proptest::prelude::*;

const FILES: &[&str] = &["a", "b", "d/c"];

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        "[xy]".prop_map(|w| Body::Run {
            command: Command::Shell(format!("echo {w}"))
        }),
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
        Just(Body::Arg {
            name: "V".into(),
            default: None
        }),
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
pub fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(arb_body(), 1..5),
        proptest::collection::vec(
            (
                proptest::collection::vec(arb_mutation(), 0..3),
                arb_options(),
            ),
            2..5,
        ),
    )
        .prop_map(|(bodies, steps)| {
            let mut context = BuildContext::new();
            for f in FILES {
                context
                    .insert(f, Entry::file(format!("{f}-content")))
                    .expect("pool paths are valid");
            }
            let mut all = vec![Body::From {
                image: "base".into(),
                stage: None,
            }];
            all.extend(bodies);
            context.set_dockerfile_text(&render(&Dockerfile::from_instructions(all)));
            let mut current = context.clone();
            let mut transitions = Vec::new();
            for (n, (mutations, options)) in steps.into_iter().enumerate() {
                // The first build runs on the initial context.
                let kept: Vec<Mutation> = if n == 0 {
                    Vec::new()
                } else {
                    mutations
                        .into_iter()
                        .filter(|m| apply_mutation(&mut current, m, 0).is_ok())
                        .collect()
                };
                transitions.push(Transition {
                    mutations: kept,
                    build: BuildStep {
                        host: "a".into(),
                        options,
                    },
                });
            }
            Scenario {
                context,
                transitions,
            }
        })
}
