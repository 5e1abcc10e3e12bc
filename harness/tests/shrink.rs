//! Shrinking: a mutant model (one rule switched off) disagrees with BuildKit on a noisy scenario;
//! shrinking must leave a small scenario that still disagrees, and its case file and shell
//! reproducer must be written. On a real engine (in CI an unreachable one fails the test), and in
//! every test run on the model engine (`engine::model`) standing in for BuildKit, the cross-host
//! reproducer too.

mod common;

use std::path::Path;

use harness::corpus::case_file::parse_case;
use harness::engine::version as engine_version;
use harness::run::shrink::shrink;
use harness::run::write_finding;

/// Runs a reproducer script with `env`; it must succeed. Returns what it printed.
fn run_reproducer(script: &Path, env: &[(&str, &str)]) -> String {
    let run = std::process::Command::new("bash")
        .arg(script)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "reproducer failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

const NOISY: &str = r#"
name = "noisy"
shows = "a touch buried in noise"
dockerfile = """
FROM base
ENV E=1
COPY b /b
RUN echo one
COPY a /a
RUN echo two
"""
[files.a]
content = "a"
[files.b]
content = "b"
[files."d/c"]
content = "c"
[[build]]
[[build]]
mutations = [{ op = "chmod", path = "d/c", mode = 0o600 }, { op = "write", path = "b", content = "bb" }]
[[build]]
mutations = [{ op = "touch", path = "a", mtime = 1650000000 }]
args = { V = "1" }
[[build]]
mutations = [{ op = "write", path = "d/c", content = "cc" }]
"#;

#[test]
fn a_mutant_discrepancy_shrinks_to_a_small_reproducer() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engine = inventory
        .engine("buildkit@a")
        .expect("buildkit@a in the inventory");
    if let Err(e) = engine_version(&engine) {
        assert!(
            std::env::var_os("CI").is_none(),
            "engine unavailable in CI: {e}"
        );
        eprintln!("skipping outside CI: {e} (the model engine's version runs in every test run)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let (script_path, script) = shrink_noisy(&inventory, engine.clone(), out.path());
    // The reproducer runs on its own with the plain docker CLI and shows the engine's side.
    let shown = run_reproducer(&script_path, &[("DOCKER_HOST", &engine.endpoint)]);
    let after_touch = shown.split("== build 2").nth(1).unwrap_or_default();
    assert!(
        after_touch
            .lines()
            .any(|l| l.contains("COPY a /a") && l.ends_with("=> cached")),
        "{shown}"
    );
    assert!(script.contains("touch -h -d @1650000000 'a'"), "{script}");
}

/// The same on the reference model engine (no daemon): it plays the engine, and the mutant model
/// the harness predicts with disagrees with it just as with BuildKit.
#[test]
fn a_mutant_discrepancy_shrinks_to_a_small_reproducer_on_the_model_engine() {
    let inventory = harness::engine::model::inventory(None);
    let engine = inventory.engine("buildkit@a").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (_, script) = shrink_noisy(&inventory, engine, out.path());
    assert!(script.contains("touch -h -d @1650000000 'a'"), "{script}");
}

/// Shrinks the noisy scenario on `engine` with the model's `copy.mtime-ignored` switched off, checks
/// what is left and writes its finding under `out`: the reproducer's path and text.
fn shrink_noisy(
    inventory: &harness::engine::inventory::Inventory,
    mut engine: harness::engine::inventory::Engine,
    out: &Path,
) -> (std::path::PathBuf, String) {
    engine.profile = engine
        .profile
        .with_switch("copy.mtime-ignored", models::Switch::Off)
        .unwrap();
    let case = parse_case(Path::new("inline/noisy.toml"), NOISY).expect("inline case parses");
    let result = shrink(inventory, &engine, &case.scenario, 60, false, &|_, run| {
        run.discrepancy_count() > 0
    })
    .expect("shrink runs");
    assert!(
        result.history.discrepancy_count() > 0,
        "the shrunk scenario no longer disagrees"
    );
    let text = result.scenario.context.dockerfile_text().unwrap();
    let instructions = models::dockerfile::parse(&text)
        .dockerfile
        .instructions()
        .count();
    let files = result
        .scenario
        .context
        .entries
        .iter()
        .filter(|(p, e)| *p != "Dockerfile" && !e.is_dir())
        .count();
    eprintln!(
        "shrunk to {} builds, {instructions} instructions, {files} files; {} builds spent on {} candidates",
        result.scenario.transitions.len(),
        result.builds_spent,
        result.candidates_tried
    );
    assert!(
        instructions <= 3,
        "{instructions} instructions left:\n{text}"
    );
    assert!(files <= 2, "{files} files left");
    assert_eq!(
        result.scenario.transitions.len(),
        2,
        "a touch needs exactly one build before it"
    );
    let (case_path, script_path) =
        write_finding(out, "shrunk", 0, &engine, &result, &Default::default()).unwrap();
    let reparsed =
        harness::corpus::case_file::load_case(&case_path).expect("the emitted case file loads");
    assert_eq!(
        reparsed.scenario, result.scenario,
        "the case file round-trips the shrunk scenario"
    );
    let script = std::fs::read_to_string(&script_path).unwrap();
    assert!(
        script.contains(
            "model rebuilt: source `a`: mtime/atime (copy.checksum); cachet observed cached"
        ),
        "{script}"
    );
    (script_path, script)
}

/// A reproducer of a scenario that moves cache between hosts builds on both, pushes, and
/// imports with `--cache-from`, so what it shows is the cross-host behaviour.
#[test]
fn reproducer_moves_inline_cache_between_hosts() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engine = inventory.engine("buildkit-cli@a").expect("buildkit-cli@a");
    let Some(engine_b) = engine.on_host(&inventory, "b") else {
        assert!(std::env::var_os("CI").is_none(), "no host b in CI");
        return;
    };
    if let Err(e) = engine_version(&engine).and(engine_version(&engine_b)) {
        assert!(
            std::env::var_os("CI").is_none(),
            "engine unavailable in CI: {e}"
        );
        eprintln!("skipping outside CI: {e}");
        return;
    }
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case =
        harness::corpus::case_file::load_case(&cases.join("seed-gist-selinux-cache-from.toml"))
            .expect("case loads");
    let history = harness::run::execute::run_scenario(
        &inventory,
        &engine,
        &case.scenario,
        &harness::run::execute::fresh_salt("repro-cross-host"),
    )
    .expect("scenario runs");
    let script = harness::run::reproduce::shell_reproducer(
        "cross",
        &case.scenario,
        &engine,
        &history,
        &Default::default(),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cross.sh");
    std::fs::write(&path, &script).unwrap();
    let shown = run_reproducer(
        &path,
        &[("HOST_A", &engine.endpoint), ("HOST_B", &engine_b.endpoint)],
    );
    let on_b = shown.split("== build 2").nth(1).unwrap_or_default();
    assert!(
        on_b.lines()
            .any(|l| l.contains("COPY a /a") && l.ends_with("=> cached")),
        "host b reuses host a's inline cache through the registry:\n{shown}"
    );
    assert!(
        script.contains("--cache-from \"$REGISTRY/cachet-repro-$$/app\""),
        "{script}"
    );
}

/// The cross-host scenario on the model engine: host b's build imports host a's inline cache
/// through the in-process registry, and the reproducer pushes and imports as on real hosts.
#[test]
fn inline_cache_moves_between_model_hosts() {
    let inventory = harness::engine::model::inventory(None);
    let engine = inventory.engine("buildkit-cli@a").unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case =
        harness::corpus::case_file::load_case(&cases.join("seed-gist-selinux-cache-from.toml"))
            .expect("case loads");
    let history = harness::run::execute::run_scenario(
        &inventory,
        &engine,
        &case.scenario,
        &harness::run::execute::fresh_salt("model-cross-host"),
    )
    .expect("scenario runs");
    assert_eq!(history.discrepancy_count(), 0);
    let on_b = &history.builds[1];
    assert_eq!(on_b.engine, "buildkit-cli@b");
    let copy = on_b
        .verdicts
        .iter()
        .find(|v| v.instruction == "COPY a /a")
        .expect("a COPY on b");
    assert_eq!(
        copy.observed_short(),
        "cached",
        "host b reuses host a's inline cache"
    );
    let script = harness::run::reproduce::shell_reproducer(
        "cross",
        &case.scenario,
        &engine,
        &history,
        &Default::default(),
    );
    assert!(
        script.contains("--cache-from \"$REGISTRY/cachet-repro-$$/app\""),
        "{script}"
    );
}
