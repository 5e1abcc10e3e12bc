//! Harness overhead: median wall time of one cold 4-step build (FROM, RUN, COPY, RUN) per builder,
//! through cachet's doors (API door, CLI door; buildx: `docker buildx build`) and through the bare
//! docker CLI on the same engine, side by side. The ratio to the bare CLI is the harness overhead (target <= 1.05).
//! Needs the engines of `ci/engines up`. Run: `cargo bench -p cachet --bench overhead`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cachet::engine::inventory::Engine;
use cachet::engine::{self, BuildRequest};
use cachet::run::execute::{fresh_salt, substitute_base};
use models::{BuildContext, BuildOptions, Builder, Entry};

const ROUNDS: usize = 7;

fn context(base: &str) -> BuildContext {
    let mut context = BuildContext::new();
    context.insert("a", Entry::file("payload")).unwrap();
    context.set_dockerfile_text(&substitute_base(
        "FROM base\nRUN echo one\nCOPY a /a\nRUN echo two\n",
        base,
    ));
    context
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

/// One cold build through `build`, with its own salted base loaded beforehand (not timed).
fn timed(engine: &Engine, build: impl Fn(&BuildContext, &str) -> bool) -> Option<Duration> {
    let salt = fresh_salt(("overhead", &engine.name));
    let base = format!("localhost/cachet-base:{salt}");
    engine::open(engine).ensure_base_image(&base, &salt).ok()?;
    let tag = format!("cachet-bench-{salt}:x");
    let ctx = context(&base);
    let started = Instant::now();
    let ok = build(&ctx, &tag);
    let elapsed = started.elapsed();
    let _ = engine::open(engine).remove_images(&[base, tag]);
    ok.then_some(elapsed)
}

fn bare_cli(engine: &Engine, context: &BuildContext, tag: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    cachet::engine::materialize::write_context_dir(context, dir.path()).unwrap();
    let mut command = Command::new(&engine.cli);
    command.arg("-H").arg(&engine.endpoint).env(
        "DOCKER_BUILDKIT",
        if engine.builder() == Builder::BuildKit {
            "1"
        } else {
            "0"
        },
    );
    if engine.door == cachet::engine::doors::DoorKind::Buildx {
        command.arg("buildx");
    }
    command.args(["build", "-q", "--force-rm", "-t", tag]);
    if engine.builder() != Builder::Buildah {
        command.arg("--network=none");
    }
    command
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.status().is_ok_and(|s| s.success())
}

fn main() {
    let inventory = cachet::engine::load_inventory().expect("inventory");
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "builder", "bare CLI", "cachet API", "cachet CLI", "API/bare", "CLI/bare"
    );
    // One row per builder: its API door and CLI door; the buildx plugin is a CLI door only.
    let engines = inventory.engines();
    let find = |kind: &str, host: Option<&str>| {
        engines
            .iter()
            .find(|e| e.kind() == kind && host.is_none_or(|h| e.host == h))
            .cloned()
    };
    for row in ["classic", "buildkit", "buildx", "podman"] {
        let (api, cli) = if row == "buildx" {
            (None, find("buildx", None))
        } else {
            let api = find(row, None);
            let cli = api
                .as_ref()
                .and_then(|a| find(&format!("{row}-cli"), Some(&a.host)));
            (api, cli)
        };
        let Some(cli) = cli else {
            continue;
        };
        let cli: &'static Engine = Box::leak(Box::new(cli));
        let api: Option<&'static Engine> = api.map(|a| &*Box::leak(Box::new(a)));
        if engine::version(cli).is_err() {
            println!("{row:<10} engine unavailable");
            continue;
        }
        let options = &BuildOptions::default();
        let through = |engine: &'static Engine| {
            move |ctx: &BuildContext, tag: &str| {
                let request = BuildRequest {
                    context: ctx,
                    options,
                    cache_from: Vec::new(),
                    tag: tag.to_string(),
                    workdir: None,
                };
                engine::open(engine)
                    .build(&request)
                    .is_ok_and(|o| o.error.is_none() && o.indeterminate.is_none())
            }
        };
        let (mut bare, mut via_api, mut via_cli) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            // Interleaved, so drift in the engine affects all three alike.
            bare.extend(timed(cli, |c, t| bare_cli(cli, c, t)));
            if let Some(api) = api {
                via_api.extend(timed(api, through(api)));
            }
            via_cli.extend(timed(cli, through(cli)));
        }
        if bare.is_empty() || via_cli.is_empty() || (api.is_some() && via_api.is_empty()) {
            println!("{row:<10} builds failed");
            continue;
        }
        let (b, c) = (median(bare), median(via_cli));
        let (a, a_ratio) = if via_api.is_empty() {
            ("-".to_string(), "-".to_string())
        } else {
            let a = median(via_api);
            (format!("{a:.3}s"), format!("{:.2}", a / b))
        };
        println!(
            "{row:<10} {b:>9.3}s {a:>10} {c:>9.3}s {a_ratio:>9} {:>9.2}",
            c / b
        );
    }
    println!("(median of {ROUNDS} cold builds each; target for cachet/bare <= 1.05)");
}
