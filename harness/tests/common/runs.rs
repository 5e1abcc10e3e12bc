//! Runs both suites make, on the model engine and on real engines alike: two corpus cases on
//! classic@a and on a mutant buildkit@a for the report tests, and the noisy scenario shrunk on a
//! mutant for the shrink tests.

use std::path::Path;

use cachet::corpus::case_file::{load_case, parse_case};
use cachet::engine::version as engine_version;
use cachet::report::schema::Report;
use cachet::run::shrink::shrink;
use cachet::run::{run_one, write_finding};

/// Two corpus cases on classic@a (the reference model: agreement) and on buildkit@a with the
/// model's `copy.mtime-ignored` off (a confirmed, shrunk discrepancy), findings under `out`.
pub fn agreement_and_mutant_report(
    inventory: &cachet::engine::inventory::Inventory,
    out: &Path,
) -> Report {
    let classic = inventory.engine("classic@a").expect("classic@a");
    let mut buildkit = inventory.engine("buildkit@a").expect("buildkit@a");
    buildkit.profile = buildkit
        .profile
        .with_switch("copy.mtime-ignored", models::Switch::Off)
        .unwrap();
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let mtime = load_case(&cases.join("mtime-only-hits.toml"))
        .unwrap()
        .scenario;
    let mode = load_case(&cases.join("copy-mode-change.toml"))
        .unwrap()
        .scenario;
    let setup = cachet::run::Setup {
        inventory,
        seed: 4242,
        out,
        shrink_budget: 30,
        known: &[],
        fresh_check: false,
        down: Default::default(),
        shadows: Default::default(),
        kinds_on_several_hosts: Default::default(),
    };
    let mut results = Vec::new();
    for (engine, scenarios) in [(&classic, [&mtime, &mode]), (&buildkit, [&mtime, &mode])] {
        for (index, scenario) in scenarios.into_iter().enumerate() {
            results.push(run_one(&setup, engine, "", scenario, index).unwrap());
        }
    }
    let engines = vec![
        ("buildkit@a".to_string(), engine_version(&buildkit).unwrap()),
        ("classic@a".to_string(), engine_version(&classic).unwrap()),
    ];
    let report = Report::from_results(4242, engines, results);
    assert_eq!(
        report.summary.discrepancies, 2,
        "the mutant disagrees at the touched COPY and the RUN after it"
    );
    report
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

/// Shrinks the noisy scenario on `engine` with the model's `copy.mtime-ignored` switched off, checks
/// what is left and writes its finding under `out`: the reproducer's path and text.
pub fn shrink_noisy(
    inventory: &cachet::engine::inventory::Inventory,
    mut engine: cachet::engine::inventory::Engine,
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
        cachet::corpus::case_file::load_case(&case_path).expect("the emitted case file loads");
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
