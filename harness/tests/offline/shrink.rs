//! Shrinking: a mutant model (one rule switched off) disagrees with the reference model engine
//! (`engine::model`, standing in for BuildKit) on a noisy scenario; shrinking must leave a small
//! scenario that still disagrees, and its case file and shell reproducer must be written
//! (`common::runs::shrink_noisy`); and the cross-host scenario on model hosts. `engines::shrink`
//! does both on real engines and runs the reproducers.

use std::path::Path;

use crate::common::runs::shrink_noisy;

/// The same on the reference model engine (no daemon): it plays the engine, and the mutant model
/// the harness predicts with disagrees with it just as with BuildKit.
#[test]
fn a_mutant_discrepancy_shrinks_to_a_small_reproducer_on_the_model_engine() {
    let inventory = cachet::engine::model::inventory(None);
    let engine = inventory.engine("buildkit@a").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (_, script) = shrink_noisy(&inventory, engine, out.path());
    assert!(script.contains("touch -h -d @1650000000 'a'"), "{script}");
}

/// The cross-host scenario on the model engine: host b's build imports host a's inline cache
/// through the in-process registry, and the reproducer pushes and imports as on real hosts.
#[test]
fn inline_cache_moves_between_model_hosts() {
    let inventory = cachet::engine::model::inventory(None);
    let engine = inventory.engine("buildkit-cli@a").unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case =
        cachet::corpus::case_file::load_case(&cases.join("seed-gist-selinux-cache-from.toml"))
            .expect("case loads");
    let history = cachet::run::execute::run_scenario(
        &inventory,
        &engine,
        &case.scenario,
        &cachet::run::execute::fresh_salt("model-cross-host"),
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
    let script = cachet::run::reproduce::shell_reproducer(
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
