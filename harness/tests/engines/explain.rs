//! `cachet explain` against real engines: the ordinary edits of `common::edits` built before and
//! after on every CLI engine of the inventory (`execute::run_scenario`, the CLI door rewriting one
//! directory in place as users do); explain's answer for the engine's own profile must be what
//! the engine does, and each warning must mark a step the engine served from cache. In CI an
//! engine that does not answer fails the test.

use std::collections::BTreeMap;

use crate::common;
use crate::common::edits::{edits, explain_edit, scenario};
use cachet::explain::{Explanation, Target};
use models::BuildContext;

/// The engine's answer for each step explain judged, or why it differs.
fn compare(
    edit: &str,
    engine: &str,
    explanation: &Explanation,
    observed: &BTreeMap<usize, cachet::engine::observe::Observed>,
) -> Vec<String> {
    use cachet::engine::observe::Observed;
    let mut out = Vec::new();
    for s in &explanation.profiles[0].steps {
        let stale = s.warnings.iter().any(|w| w.observed == "cached");
        let misses = s.warnings.iter().any(|w| w.observed == "rebuilt");
        let want = match (s.outcome.as_str(), stale, misses) {
            ("cached", _, true) => Observed::Rebuilt,
            ("cached", _, false) | ("rebuilt", true, _) => Observed::Cached,
            ("rebuilt", false, _) => Observed::Rebuilt,
            _ => continue,
        };
        match observed.get(&s.step) {
            Some(o @ (Observed::Cached | Observed::Rebuilt)) if *o != want => out.push(format!(
                "{engine}, {edit}, step {} `{}`: explain says {}{} ({}), the engine {}",
                s.step,
                s.instruction,
                s.outcome,
                if stale {
                    " with a stale-hit warning"
                } else {
                    ""
                },
                s.why,
                o.short()
            )),
            _ => {}
        }
    }
    out
}

/// The inventory's CLI engines (or those `CACHET_EXPLAIN_ENGINES` names, comma separated), the
/// first of each pairing class (host b's repeat host a's), each with the profile its version
/// picks; in CI an engine that does not answer fails the test.
fn answering_cli_engines(
    inventory: &cachet::engine::inventory::Inventory,
) -> Vec<(cachet::engine::inventory::Engine, String)> {
    let only: Option<Vec<String>> = std::env::var("CACHET_EXPLAIN_ENGINES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let mut out = Vec::new();
    for engine in inventory.engines() {
        if engine.transport() != models::Transport::Cli || engine.is_model() {
            continue;
        }
        if only.as_ref().is_some_and(|o| !o.contains(&engine.name))
            || out.iter().any(|(e, _)| engine.pairs_with(e))
        {
            continue;
        }
        match cachet::engine::version(&engine) {
            Ok(v) => out.push((engine.with_reported_version(&v), v)),
            Err(e) => {
                assert!(
                    !common::in_ci(),
                    "{} does not answer in CI: {e}",
                    engine.name
                );
                eprintln!("skipping {} outside CI: {e}", engine.name);
            }
        }
    }
    if common::in_ci() {
        assert!(!out.is_empty(), "no CLI engine in the inventory in CI");
    }
    out
}

/// Builds on real engines: `cargo test -p cachet --test engines explain::real_engines`
/// (`CACHET_EXPLAIN_ENGINES=buildx@a,classic-cli@a` for a few).
pub fn real_engines_build_what_explain_says() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    let engines = answering_cli_engines(&inventory);
    let versions: BTreeMap<String, String> = engines
        .iter()
        .map(|(e, v)| (e.name.clone(), v.clone()))
        .collect();
    let engines: Vec<_> = engines.into_iter().map(|(e, _)| e).collect();
    // Four engines at a time, as the corpus runs its trials (a build mostly waits on a daemon).
    let failures: Vec<String> = common::on_each_endpoint(&engines, 4, |engine| {
        let target = Target {
            profile: engine.profile.clone(),
            kinds: vec![engine.kind()],
            version: versions[&engine.name].clone(),
        };
        let settings = engine.settings.clone();
        let prepare = move |c: &BuildContext| models::scenario::apply_host_settings(c, &settings);
        let mut failures = Vec::new();
        for edit in edits() {
            let scenario = scenario(&edit, &prepare);
            let dir = tempfile::tempdir().unwrap();
            let (_, _, explanation) = explain_edit(
                &scenario,
                dir.path(),
                &prepare,
                std::slice::from_ref(&target),
            );
            let salt = cachet::run::execute::fresh_salt((&engine.name, edit.name));
            let history = cachet::run::execute::run_scenario(&inventory, engine, &scenario, &salt)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", engine.name, edit.name));
            let second = &history.builds[1].observation;
            assert!(
                second.error.is_none() && second.indeterminate.is_none(),
                "{}: {}: {second:?}",
                engine.name,
                edit.name
            );
            failures.extend(compare(
                edit.name,
                &engine.name,
                &explanation,
                &second.steps,
            ));
        }
        failures
    })
    .concat();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
