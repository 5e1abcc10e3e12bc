//! The app and the ordinary edits `cachet explain` is tested on (`offline::explain` checks its
//! answers against the rules, `engines::explain` against real engines): the app as a build
//! context, each edit between two builds, and a scenario of the two explained as `explain` sees
//! them on disk.

use std::collections::BTreeMap;
use std::path::Path;

use cachet::explain::snapshot::{take, take_again, Request, Snapshot};
use cachet::explain::{explain, Explanation, Target};
use models::scenario::{apply_mutation, BuildStep, Mutation, Scenario, Transition};
use models::{BuildContext, BuildOptions, Entry};

const APP_DOCKERFILE: &str = "FROM base
WORKDIR /app
COPY requirements.txt .
RUN cat requirements.txt > deps.txt
ARG V=0
COPY src/ src/
RUN echo \"build $V\" > built.txt
CMD [\"sh\"]
";

/// The app: requirements, two sources and a test, a README and a `.git` the `.dockerignore`
/// keeps out.
pub fn app() -> BuildContext {
    let mut context = BuildContext::new();
    context.set_dockerfile_text(APP_DOCKERFILE);
    let files = [
        ("requirements.txt", "flask==3.0\n"),
        ("src/app.py", "print('hello')\n"),
        ("src/util.py", "X = 1\n"),
        ("src/test_app.py", "assert True\n"),
        ("README.md", "# app\n"),
        (".git/HEAD", "ref: refs/heads/main\n"),
        (".dockerignore", ".git\n*.md\n"),
    ];
    for (path, text) in files {
        context.insert(path, Entry::file(text)).unwrap();
    }
    context
}

pub fn rewrite(dir: &Path, context: &BuildContext) {
    cachet::engine::materialize::clear_dir(dir).unwrap();
    cachet::engine::materialize::write_context_dir(context, dir).unwrap();
}

pub fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An ordinary edit between two builds.
pub struct Edit {
    pub name: &'static str,
    pub mutations: Vec<Mutation>,
    pub args_before: BTreeMap<String, String>,
    pub args_after: BTreeMap<String, String>,
}

pub fn edits() -> Vec<Edit> {
    let plain = |name, mutations| Edit {
        name,
        mutations,
        args_before: args(&[("V", "1")]),
        args_after: args(&[("V", "1")]),
    };
    vec![
        plain(
            "source change",
            vec![Mutation::Write {
                path: "src/app.py".into(),
                content: "print('hello, world')\n".into(),
            }],
        ),
        plain(
            "chmod",
            vec![Mutation::Chmod {
                path: "src/app.py".into(),
                mode: 0o755,
            }],
        ),
        plain(
            "touch",
            vec![Mutation::Touch {
                path: "src/app.py".into(),
                mtime: 1_750_000_000,
            }],
        ),
        plain(
            "dockerignore edit",
            vec![Mutation::Dockerignore {
                text: ".git\n*.md\nsrc/test_*.py\n".into(),
            }],
        ),
        Edit {
            name: "source and build-arg change",
            mutations: vec![Mutation::Write {
                path: "src/util.py".into(),
                content: "X = 2\n".into(),
            }],
            args_before: args(&[("V", "1")]),
            args_after: args(&[("V", "2")]),
        },
        Edit {
            name: "build-arg change",
            mutations: Vec::new(),
            args_before: args(&[("V", "1")]),
            args_after: args(&[("V", "2")]),
        },
        plain(
            "same-size edit, mtime kept",
            vec![Mutation::WriteSameSize {
                path: "src/app.py".into(),
                content: "print('HELLO')\n".into(),
            }],
        ),
    ]
}

/// The app and `edit` as a scenario of two builds on host `a`, as `prepare` presents it.
pub fn scenario(edit: &Edit, prepare: &dyn Fn(&BuildContext) -> BuildContext) -> Scenario {
    let build = |args: &BTreeMap<String, String>| BuildStep {
        host: "a".into(),
        options: BuildOptions {
            build_args: args.clone(),
            ..BuildOptions::default()
        },
    };
    Scenario {
        context: prepare(&app()),
        transitions: vec![
            Transition {
                mutations: Vec::new(),
                build: build(&edit.args_before),
            },
            Transition {
                mutations: edit.mutations.clone(),
                build: build(&edit.args_after),
            },
        ],
    }
}

/// Writes the scenario's first context to `dir`, snapshots it, applies the second build's
/// mutations there (as `contexts_per_build` dates them) and explains the second build.
pub fn explain_edit(
    scenario: &Scenario,
    dir: &Path,
    prepare: &dyn Fn(&BuildContext) -> BuildContext,
    targets: &[Target],
) -> (Snapshot, Snapshot, Explanation) {
    let first = &scenario.transitions[0].build.options.build_args;
    let second = &scenario.transitions[1];
    rewrite(dir, &prepare(&scenario.context));
    let before = take(&Request {
        dir: dir.to_path_buf(),
        dockerfile: None,
        build_args: first.clone(),
        target: None,
    })
    .unwrap();
    let mut context = scenario.context.clone();
    for m in &second.mutations {
        apply_mutation(&mut context, m, 1_700_001_000).unwrap();
    }
    rewrite(dir, &prepare(&context));
    let now = take_again(
        dir,
        &before,
        second.build.options.build_args.clone(),
        Path::new("snapshot.json"),
    )
    .unwrap();
    let catalogue = cachet::corpus::known::parse_catalogue(
        cachet::corpus::known::BUILT_IN,
        Path::new("cases/known/catalogue.toml"),
    )
    .unwrap();
    let explanation = explain(&before, &now, targets, &catalogue);
    (before, now, explanation)
}
