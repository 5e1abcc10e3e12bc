//! Generators: random scenarios from tiny name pools, so files, steps and stages collide.
//! Preconditions (`Mutation::applies_to`) keep every generated sequence valid.
//!
//! This file assembles a scenario and holds the entry points (`generate_scenarios`,
//! `arb_scenario`); the parts are `pools` (names), `stages` (Dockerfiles), `changes` (mutations
//! and aimed changes, with `aim`, `fit` and `repair`), `edits` (Dockerfile edits), `foci` (a
//! scenario's focus and its openings) and `builds` (each build's options and scripted changes).

use models::scenario::{apply_mutation, Mutation, Scenario};
use proptest::prelude::*;

mod aim;
mod builds;
mod changes;
mod edits;
pub mod fit;
mod foci;
mod pools;
mod repair;
mod stages;

pub use changes::arb_mutation;
pub use pools::arb_context;
pub use stages::arb_dockerfile;

use builds::{arb_options, transitions_of, Shape};
use changes::arb_change;
use foci::arb_focus;
use pools::{initial_context, pick};
use stages::arb_instructions;

/// The same scenario on one host, for engines without a second one in the inventory: every
/// build on `a`, without inline cache, pushes or `--cache-from`; a `--cache-to` stays (the
/// export, or the refusal of it, is the host's own).
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

/// A scenario of four to six builds; two thirds are modern (their focus, edits and, in a third of
/// them, other instructions use the newer generations' forms, which the older generations
/// refuse), so the 26/28 and 5.4/5.8 profiles meet them.
pub fn arb_scenario() -> impl Strategy<Value = Scenario> {
    prop::bool::weighted(MODERN_SHARE).prop_flat_map(arb_scenario_of)
}

/// The share of modern scenarios, in `arb_scenario` and `generate_scenarios` alike.
const MODERN_SHARE: f64 = 0.65;

fn arb_scenario_of(modern: bool) -> impl Strategy<Value = Scenario> {
    arb_scenario_focused(modern, None)
}

/// `arb_scenario_of`, its focus the `turn`-th in turn (`arb_focus`) if given.
fn arb_scenario_focused(modern: bool, turn: Option<usize>) -> impl Strategy<Value = Scenario> {
    // Two thirds of the modern scenarios have no newer form but their focus's: a newer form alone
    // in a Dockerfile the older generations accept is what tells the rules that ignore or refuse
    // it (`classic.link-ignored`, `classic.checksum-ignored`, `bk.chmod-flag`, ...).
    let instructions = prop_oneof![
        1 => arb_instructions(modern).boxed(),
        2 => arb_instructions(false).boxed()
    ];
    (
        (
            instructions,
            arb_focus(modern, turn),
            0usize..8,
            prop::bool::weighted(0.85),
            0usize..3,
        ),
        prop::option::weighted(0.3, pick(&["d/b\n", "d/b\n", "b\n"])),
        prop::bool::weighted(0.4),
        proptest::collection::vec(
            (
                arb_change(modern),
                arb_options(),
                prop::bool::ANY,
                prop::bool::weighted(0.2),
                prop::bool::weighted(0.7),
                prop::bool::weighted(0.35),
            ),
            4..7,
        ),
    )
        .prop_map(|(draws, ignore, cross_host, steps)| {
            let (mut instructions, (focus, body), at, opens, stage_change) = draws;
            // The focus's instruction somewhere in the last stage.
            let last_from = instructions.iter().rposition(|b| b.starts_with("FROM"));
            // After the read of `s0` that opens a last stage, whose outcome nothing then masks.
            let stages = instructions
                .iter()
                .filter(|b| b.starts_with("FROM"))
                .count();
            let first = last_from.map_or(0, |f| f + 1 + usize::from(stages > 1));
            let at = first + at % (instructions.len() + 1 - first);
            instructions.insert(at, body.to_string());
            let mut context = initial_context(&instructions);
            if let Some(text) = ignore {
                let m = Mutation::Dockerignore { text: text.into() };
                apply_mutation(&mut context, &m, 0).expect("a .dockerignore always applies");
            }
            let two_stages = instructions
                .iter()
                .filter(|b| b.starts_with("FROM"))
                .count()
                > 1;
            let shape = Shape {
                two_stages,
                cross_host,
                focus,
                opens,
                stage_change,
            };
            let transitions = transitions_of(&context, steps, shape);
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
    // Modern or not at random, as `arb_scenario` draws it; the focus in turn among those of the
    // scenario's kind, so that in 50 scenarios each focus of its kind (16 modern, 9 not) comes
    // about twice, never
    // zero times (measured: a random focus left rules that need one focus's rare change
    // unreached on one seed or another).
    let mut turns = [0usize; 2];
    (0..count)
        .map(|_| {
            let modern = prop::bool::weighted(MODERN_SHARE)
                .new_tree(&mut runner)
                .expect("a bool")
                .current();
            let turn = &mut turns[usize::from(modern)];
            *turn += 1;
            arb_scenario_focused(modern, Some(*turn - 1))
                .new_tree(&mut runner)
                .expect("scenario strategy never rejects")
                .current()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::dockerfile;

    #[test]
    fn generated_scenarios_are_valid_and_varied() {
        // 300: with the language spellings' draws, seed 1's first 200 hold no `dockerignore`
        // edit (`tests/offline/distribution.rs` holds every kind in 1,000).
        let scenarios = crate::generate::generate_scenarios(1, 300);
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
                "no `{op}` in 300 generated scenarios: {ops:?}"
            );
        }
        assert!(
            two_stages > 20 && targets > 5 && on_b > 20 && pushes > 20,
            "300 scenarios: {two_stages} with two stages, {targets} builds with --target, \
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
