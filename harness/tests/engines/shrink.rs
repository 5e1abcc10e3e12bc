//! Shrinking on a real engine: a mutant model (one rule switched off) disagrees with BuildKit on a
//! noisy scenario (`common::runs::shrink_noisy`), and the shell reproducer it writes runs on its
//! own with the plain docker CLI and shows the engine's side; a reproducer of a scenario that
//! moves cache between hosts a and b does so through the registry. In CI an unreachable engine
//! fails the test.

use std::path::Path;

use crate::common;
use crate::common::runs::shrink_noisy;
use cachet::engine::version as engine_version;

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

pub fn a_mutant_discrepancy_shrinks_to_a_small_reproducer() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engine = inventory
        .engine("buildkit@a")
        .expect("buildkit@a in the inventory");
    if let Err(e) = engine_version(&engine) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
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

/// A reproducer of a scenario that moves cache between hosts builds on both, pushes, and
/// imports with `--cache-from`, so what it shows is the cross-host behaviour.
pub fn reproducer_moves_inline_cache_between_hosts() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engine = inventory.engine("buildkit-cli@a").expect("buildkit-cli@a");
    let Some(engine_b) = engine.on_host(&inventory, "b") else {
        assert!(!common::in_ci(), "no host b in CI");
        return;
    };
    if let Err(e) = engine_version(&engine).and(engine_version(&engine_b)) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
        eprintln!("skipping outside CI: {e}");
        return;
    }
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case =
        cachet::corpus::case_file::load_case(&cases.join("seed-gist-selinux-cache-from.toml"))
            .expect("case loads");
    let history = cachet::run::execute::run_scenario(
        &inventory,
        &engine,
        &case.scenario,
        &cachet::run::execute::fresh_salt("repro-cross-host"),
    )
    .expect("scenario runs");
    let script = cachet::run::reproduce::shell_reproducer(
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
