//! Generator reach on the model alone: for seeds 1, 2 and 3, the first 50 generated scenarios
//! distinguish at least 95% of the exercised mutants of all 22 profiles (`cachet mutants`).
//! Survivors are printed, and named on failure. Their changes fill the input-coverage table to
//! a floor, and few of their builds fail.
//!
//! Real kills (`cachet mutants --engine`), engine-free on model hosts (`engine::model`): a
//! reference host answers as the model, so every sampled mutant is caught at exactly the
//! scenario the model-only reach names; a host that carries a mutant never lets that mutant be
//! caught, and the run reports the reference's disagreements as findings instead.

use std::path::Path;

use cachet::engine::model;
use cachet::error::{EXIT_NONCONFORMANCE, EXIT_OK};
use cachet::generate::generate_scenarios;
use cachet::run::exit_code;
use cachet::run::mutants::{
    coverage, failures, kills_on, reach_all, render_coverage, render_failures, survivors,
    KillOptions,
};
use models::Profile;

/// Distinguished mutants per mille each seed must reach: what the generator reaches now, so no
/// change may lower it. The target is 950 (issues #15, #25); it is not met. Measured 2026-12-07
/// over 731 mutants (`cachet mutants --seed N`): 617, 624 and 609 (844, 853 and 833 per mille).
/// The cache backends' rules added 10 mutants (`bk.cache-mode` on the four containerd-store
/// profiles, `bk.cache-export-store` on the six graph-store ones) that no generated scenario
/// reaches yet, as the generator makes no `--cache-to` (issue #28, part 3): the same 617, 624
/// and 609 of 741 are 832, 842 and 821. Then `buildah.heredoc-as-lines` (on the two Podman 4.3
/// profiles; reached by seeds 1 and 2 on both, by seed 3 on one) and
/// `classic.ignored-dockerfile-dropped` (on the three classic API profiles; no generated
/// scenario edits an ignored Dockerfile below an unchanged `COPY .`: the rule case and case
/// dockerignore-dockerfile-edit kill it) made 746: 619, 626 and 610, that is 829, 839 and 817.
/// The upstream tests' triage added `arg.env-overrides` (all 22 profiles) and
/// `classic.in-build-reuse` (the 6 classic ones): 774. The generator's stage pool now draws
/// `ARG V` then `ENV V=x`, and seed 2 tells the first apart on 10 profiles; no seed builds two
/// identical stages that both run (the rule cases and the corpus kill both): 621, 636 and 610,
/// that is 802, 821 and 788. `buildah.in-build-reuse` (the 6 Podman profiles, as unreached)
/// made 780: 796, 815 and 782. `bk.syntax-frontend` (the 10 BuildKit profiles; a generated
/// Dockerfile has no `# syntax=` line) made 790: 786, 805 and 772.
/// The seed-9 triage's fixes moved them from 620, 628 and 608 of 715:
/// - Buildah 1.28 now builds `FROM ${S}` on the stage only the global ARGs' defaults name when
///   another step needs it (`buildah.words-at-step`), and the generator's last stage always reads
///   `s0`, so that mutant is no longer told apart on the four Podman 5.x profiles on any seed;
/// - `bk.failed-solve` and `classic.symlink-followed` added 16 mutants: `bk.failed-solve` is never
///   told apart (the reference makes a hit on a failed solve's step unknown), and seed 1 no
///   longer tells `bk.stage-args` apart on the four BuildKit 28 profiles, whose telling step a
///   failed build recorded first; `classic.symlink-followed` is reached on the classic API
///   profiles by seed 1 and on `classic:28` by seed 3.
/// Seed 2 was 631 until a failed
/// `--no-cache` build superseded what it rebuilt (`classic.newest-match`, a model fix): its
/// scenario 10 then no longer tells `classic.owner-ignored` apart on the three classic-cli
/// profiles, as the step that did hangs off the superseded image in both models. That day's triage rules
/// (`from.base-written`, `bk.exclude-dangling-link`, `bk.declared-platform-arg`,
/// `buildah.declared-platform-arg`, `buildah.platform-args-in-defaults`,
/// `buildah.platform-args-in-from`, `buildah.keyword-as-written`, `buildah.bind-digest-fields`)
/// added 52 mutants that the generator seldom or never reaches (the rule cases and the corpus
/// kill them); before them, and before the generator spelled the classic fallback of a platform
/// FROM as the stage `bare`, it reached 616, 623 and 610 of 663 (929, 939 and 920). Survivors the
/// test prints, besides those: `lang.platform-args` on Podman, the `buildah.bind-*` rules,
/// `classic.newest-match`, `classic.dispatch-refusal`, `bk.stage-args`, `buildah.stage-args`,
/// `bk.chmod-flag`, and `bk.chmod-expanded` on BuildKit 28, which no scenario can tell apart (its
/// mutant makes the step unknown, and reach ignores unknown steps).
const FLOORS: [(u64, usize); 3] = [(1, 786), (2, 805), (3, 772)];

fn check(seed: u64, floor: usize) -> Result<(), String> {
    let reaches = reach_all(&Profile::all_generations(), &generate_scenarios(seed, 50));
    let left = survivors(&reaches);
    let distinguished = reaches.len() - left.len();
    let per_mille = distinguished * 1000 / reaches.len();
    println!(
        "seed {seed}: distinguished {distinguished}/{} ({per_mille}‰), survivors:\n  {}",
        reaches.len(),
        left.join("\n  ")
    );
    if per_mille < floor {
        return Err(format!(
            "seed {seed}: {distinguished}/{} mutants distinguished ({per_mille}‰ < {floor}‰); \
             survivors:\n  {}",
            reaches.len(),
            left.join("\n  ")
        ));
    }
    Ok(())
}

#[test]
fn generated_scenarios_distinguish_the_mutants() {
    let below: Vec<String> = FLOORS
        .into_iter()
        .filter_map(|(seed, floor)| check(seed, floor).err())
        .collect();
    assert!(below.is_empty(), "{}", below.join("\n"));
}

/// Cells of the input-coverage table (`cachet mutants`: change kind × entry type, a cell filled
/// when a change there reached a rule) each seed must fill, of the 38 no input is refused: the
/// measured floor. Measured with the generator of 2026-12-07 (issue #25: aimed changes of the
/// directories and links the Dockerfile reads, removals and renames of what it reads without
/// naming, new entries in what it copies whole, type changes in every direction, links
/// retargeted in place and dangling, a dangling link in every initial context): 19, 17 and 20;
/// before it (every link to `a` or `b`, no
/// retarget, no dangling link, type changes only from files and `l`, by the pools' mixed
/// mutations alone): 11, 11 and 14.
/// With both generators of 2026-12-07 merged and the language foci kept to the scenarios that
/// are not modern: 18, 19 and 18 (what the floors hold).
const CELL_FLOORS: [(u64, usize); 3] = [(1, 18), (2, 19), (3, 18)];

#[test]
fn generated_changes_fill_the_input_coverage_table() {
    for (seed, floor) in CELL_FLOORS {
        let coverage = coverage(&Profile::all_generations(), &generate_scenarios(seed, 50));
        println!("{}", render_coverage(&coverage, seed, 50));
        let (filled, possible) = coverage.filled();
        let empty: Vec<String> = coverage
            .empty()
            .iter()
            .map(|c| format!("{} × {}", c.kind, c.entry))
            .collect();
        assert!(
            filled >= floor,
            "seed {seed}: {filled}/{possible} cells filled (< {floor}); empty: {empty:?}"
        );
    }
}

/// Builds the model predicts to fail, per mille of the builds of seeds 1 to 3 (50 scenarios
/// each) on all 22 profiles, at most: a failed build's other steps are cancelled or never
/// reached, so real runs learn nothing from them (issue #25). Measured with the generator of
/// 2026-12-07 (a failure lasts one build, `generate::repair`; no read of an `/o` `s0` never
/// writes): 16, 23 and 27 per mille (the claimed steps in them: 14, 24, 29 per mille of all);
/// before it: 17, 116 and 86 (19, 131, 92), mostly `COPY --from=s0 /o` where `s0` wrote no
/// `/o`, and `b` missing or left out by `.dockerignore` for every build after. A build whose
/// failing step is the builder's refusal of its form (the model's dispatch refusal: the classic
/// builder's `RUN --mount`, `COPY --chmod`) counts as refused, not failing (`failures`): with
/// the language rules merged that measure read 71 per mille on seed 1 (214 of its 383
/// failing builds such refusals); after, with the generator of this floor's reach comment: 20, 20 and 8.
const FAILING_CEILING: usize = 30;

#[test]
fn few_generated_builds_fail() {
    for seed in [1, 2, 3] {
        let f = failures(&Profile::all_generations(), &generate_scenarios(seed, 50));
        print!("seed {seed}: {}", render_failures(&f));
        assert!(f.failing > 0, "seed {seed}: failures that test a rule stay");
        assert!(
            f.failing_per_mille() <= FAILING_CEILING,
            "seed {seed}: {}",
            render_failures(&f)
        );
    }
}

fn kill_options(engine: &str, sample: usize, out: &Path) -> KillOptions {
    KillOptions {
        engine: engine.to_string(),
        sample,
        scenarios: 30,
        seed: 1,
        out: out.to_path_buf(),
        known: cachet::corpus::known::Catalogue::Empty,
    }
}

#[test]
fn real_kills_on_a_reference_model_host_are_the_model_only_reach() {
    for engine in ["buildkit@a", "classic-cli@a", "podman@a"] {
        let out = tempfile::tempdir().unwrap();
        let kills = kills_on(
            &model::inventory(None),
            &kill_options(engine, 8, out.path()),
        )
        .expect("the run runs");
        println!("{}", cachet::run::mutants::render_kills(&kills));
        assert_eq!(kills.kills.len(), 8, "{engine}");
        assert!(
            kills.kills.iter().all(|k| k.reach.is_some()),
            "{engine}: the sample takes mutants the model alone distinguishes first"
        );
        for k in &kills.kills {
            assert_eq!(k.caught, k.reach, "{engine}: {}", k.rule);
        }
        let s = &kills.report.summary;
        assert_eq!((s.discrepancies, s.unconfirmed, s.known), (0, 0, 0));
        assert_eq!(exit_code(&kills.report), EXIT_OK);
    }
}

#[test]
fn a_host_that_carries_a_mutant_never_lets_it_be_caught() {
    let out = tempfile::tempdir().unwrap();
    let options = kill_options("buildkit@a", 8, out.path());
    let reference = kills_on(&model::inventory(None), &options).unwrap();
    let rule = &reference
        .kills
        .iter()
        .find(|k| k.caught.is_some())
        .expect("the reference host catches some mutant")
        .rule;
    let mutant = kills_on(&model::inventory(Some(rule)), &options).unwrap();
    println!("{}", cachet::run::mutants::render_kills(&mutant));
    let same: Vec<_> = mutant.kills.iter().map(|k| &k.rule).collect();
    let sampled: Vec<_> = reference.kills.iter().map(|k| &k.rule).collect();
    assert_eq!(
        same, sampled,
        "the sample is the reference profile's either way"
    );
    let kill = mutant.kills.iter().find(|k| k.rule == *rule).unwrap();
    assert!(kill.reach.is_some());
    assert_eq!(
        kill.caught, None,
        "{rule}: the engine does what its mutant says"
    );
    assert!(
        mutant.report.summary.discrepancies > 0,
        "where the reference disagrees with the mutant engine, that is a finding"
    );
    assert_eq!(exit_code(&mutant.report), EXIT_NONCONFORMANCE);
}
