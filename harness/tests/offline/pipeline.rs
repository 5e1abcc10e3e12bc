//! The whole pipeline on the model engine (`engine::model`), with no daemon: `cachet run` on the
//! reference model agrees and writes every report; on a mutant model engine the same seed finds a
//! discrepancy, confirms it, shrinks it, writes its case file and reproducer, and names the
//! mutated rule; the corpus replays in agreement on every reference profile; a run leaves no
//! images, pushed tags or build-cache records behind; the same seed gives the same report; and
//! the command line does all this from an inventory file with `kind = "model"` hosts.

use std::path::Path;

use crate::common::Redactions;
use cachet::engine::inventory::Inventory;
use cachet::engine::{self, model};
use cachet::error::{EXIT_BAD_INPUT, EXIT_NONCONFORMANCE, EXIT_OK};
use cachet::report::schema::{Report, ScenarioResult};
use cachet::run::execute::{fresh_salt, run_scenario};
use cachet::run::{exit_code, run_on, RunOptions};

/// Seed 7 until the generator of issue #15, whose seed 7 no longer tells `copy.mtime-ignored`
/// apart on buildkit within 50 scenarios; seed 3 does: with the generator of 2026-12-04 it tells
/// `copy.mtime-ignored` apart on buildkit in scenario 0, `run.opaque` on classic-cli in 5 and
/// `buildah.arg-names` on podman in 8 (`cachet mutants --seed 3`).
const SEED: u64 = 3;
/// Enough scenarios for the seed to catch each mutant below.
const SCENARIOS: usize = 16;

fn options(engines: &[&str], out: &Path) -> RunOptions {
    let mut options = RunOptions::new(
        engines.iter().map(|e| e.to_string()).collect(),
        SCENARIOS,
        SEED,
        out.to_path_buf(),
    );
    options.shrink_budget = 40;
    options
}

/// What every engine of the inventory holds: `(endpoint, images, containers, build-cache records)`.
fn holdings(inventory: &Inventory) -> Vec<(String, usize, usize, usize)> {
    let mut out: Vec<_> = inventory
        .engines()
        .iter()
        .map(|e| {
            let door = engine::open(e);
            let (images, containers) = door.resource_counts().unwrap();
            let records = door.build_cache_ids().unwrap().len();
            (e.endpoint.clone(), images, containers, records)
        })
        .collect();
    out.dedup();
    out
}

fn assert_reports_written(report: &Report, out: &Path, engines: &[&str]) {
    let (back, _) = cachet::report::schema::load(out).expect("report.json loads back");
    assert_eq!(&back, report, "report.json is the report");
    for name in ["report.md", "index.html", "junit.xml"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        for engine in engines {
            assert!(text.contains(engine), "{name} names {engine}");
        }
    }
}

#[test]
fn a_reference_run_on_the_model_engine_agrees_and_writes_every_report() {
    let inventory = model::inventory(None);
    let out = tempfile::tempdir().unwrap();
    let engines = ["buildkit@a", "classic-cli@a", "podman@a"];
    let before = holdings(&inventory);
    let report = run_on(&inventory, &options(&engines, out.path())).expect("the run runs");
    let s = &report.summary;
    assert_eq!(s.scenarios, SCENARIOS * engines.len());
    assert!(s.builds >= 2 * s.scenarios, "{} builds", s.builds);
    assert_eq!((s.discrepancies, s.unconfirmed, s.known), (0, 0, 0));
    assert_eq!(s.indeterminate, 0, "the model engine is never unsure");
    let lines = cachet::run::per_engine_lines(&report);
    assert_eq!(lines.len(), engines.len(), "{lines:?}");
    for (line, engine) in lines
        .iter()
        .zip(["buildkit@a", "classic-cli@a", "podman@a"])
    {
        assert!(
            line.starts_with(&format!("  {engine}: {SCENARIOS} scenarios, "))
                && line.ends_with(" 0 indeterminate (0.0%)")
                && !line.contains(" 0 observed steps"),
            "{line}"
        );
    }
    assert!(report.aborted.is_empty());
    assert_eq!(exit_code(&report), EXIT_OK);
    assert!(report
        .engines
        .iter()
        .all(|(_, v)| v.starts_with("cachet-model ")));
    assert_reports_written(&report, out.path(), &engines);
    assert_eq!(
        std::fs::read_dir(out.path().join("cases")).unwrap().count(),
        0,
        "no finding, no case file"
    );
    assert_eq!(holdings(&inventory), before, "the run left nothing behind");
}

/// The confirmed, shrunk finding of a run on a model engine that switches `rule` off, checked
/// through: its case file, its reproducer, its suspects, and the shrunk case on both engines.
fn mutant_run_finds(rule: &str, engine_name: &str) {
    let inventory = model::inventory(Some(rule));
    let out = tempfile::tempdir().unwrap();
    let before = holdings(&inventory);
    let report = run_on(&inventory, &options(&[engine_name], out.path())).expect("the run runs");
    assert!(report.summary.discrepancies > 0, "{rule}: nothing found");
    assert_eq!(exit_code(&report), EXIT_NONCONFORMANCE);
    assert!(report.engines[0].1.ends_with(&format!(", {rule} off)")));
    assert_reports_written(&report, out.path(), &[engine_name]);
    let findings: Vec<&ScenarioResult> = report
        .results
        .iter()
        .filter(|r| !r.confirmed.is_empty())
        .collect();
    assert!(findings.iter().all(|r| r.unconfirmed == 0));
    let finding = findings[0];
    assert!(
        finding.suspects.iter().any(|s| s == rule),
        "{rule}: the finding cites {:?}",
        finding.suspects
    );
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains(&format!("`{rule}`")), "report.md cites {rule}");
    let shrunk = finding.shrunk.as_ref().expect("shrunk");
    let original_builds = finding.history.builds.len();
    assert!(
        shrunk.builds <= original_builds && shrunk.candidates_tried > 0,
        "{shrunk:?} from {original_builds} builds"
    );
    let case_path = finding.case_file.as_ref().expect("a case file");
    let case = cachet::corpus::case_file::load_case(case_path).expect("the case file loads");
    assert!(
        case.file.rules.iter().any(|r| r == rule),
        "{:?}",
        case.file.rules
    );
    assert_eq!(case.scenario.transitions.len(), shrunk.builds);
    let original_steps: usize = finding
        .history
        .builds
        .iter()
        .map(|b| b.prediction.steps.len())
        .sum();
    let shrunk_steps = shrunk.builds * shrunk.instructions;
    assert!(
        shrunk_steps < original_steps,
        "{rule}: shrunk to {shrunk_steps} build steps from {original_steps}"
    );
    let script = std::fs::read_to_string(finding.reproducer.as_ref().unwrap()).unwrap();
    assert!(script.contains("cachet observed"), "{script}");
    buckets_account_for_every_finding(&report, out.path());
    pages_link_what_the_run_wrote(finding, out.path(), rule);
    assert_eq!(holdings(&inventory), before, "the run left nothing behind");
    assert!(model::pushed(inventory.registry.as_deref().unwrap()).is_empty());
    assert_eq!(holdings(&inventory), before, "the run left nothing behind");
    assert!(model::pushed(inventory.registry.as_deref().unwrap()).is_empty());
    // The shrunk case still disagrees on the mutant engine; the reference engine agrees with it.
    let mutant = inventory.engine(engine_name).unwrap();
    let again = run_scenario(&inventory, &mutant, &case.scenario, &fresh_salt("again")).unwrap();
    assert!(
        again.discrepancy_count() > 0,
        "{rule}: the shrunk case agrees"
    );
    let reference_inventory = model::inventory(None);
    let reference = reference_inventory.engine(engine_name).unwrap();
    let fine = run_scenario(
        &reference_inventory,
        &reference,
        &case.scenario,
        &fresh_salt("reference"),
    )
    .unwrap();
    assert_eq!(
        fine.discrepancy_count(),
        0,
        "{rule}: the reference disagrees"
    );
}

/// The relative links of a page written in `dir`: each names a file there (an anchor, an id in
/// it). Returns the hrefs followed.
fn relative_links_resolve(dir: &Path, page: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(page)).unwrap();
    let mut followed = Vec::new();
    for piece in text.split(" href=\"").skip(1) {
        let href = &piece[..piece.find('"').unwrap()];
        if href.starts_with("http") {
            continue;
        }
        let (file, anchor) = href.split_once('#').unwrap_or((href, ""));
        let target = dir.join(if file.is_empty() { page } else { file });
        assert!(target.is_file(), "{page}: {href} names no file");
        if !anchor.is_empty() {
            let linked = std::fs::read_to_string(&target).unwrap();
            assert!(
                linked.contains(&format!("id=\"{anchor}\"")),
                "{page}: {href}"
            );
        }
        followed.push(href.to_string());
    }
    followed
}

/// `index.html` links the finding's case file, reproducer and raw logs (relative, each there),
/// and every rule id into `rules.html`, which lists the case file under the rule; the shrunk
/// scenario comes first, the original folded below it.
fn pages_link_what_the_run_wrote(finding: &ScenarioResult, out: &Path, rule: &str) {
    let followed = relative_links_resolve(out, "index.html");
    assert_eq!(finding.logs.len(), finding.shrunk.as_ref().unwrap().builds);
    for path in [&finding.case_file, &finding.reproducer]
        .into_iter()
        .flatten()
        .chain(&finding.logs)
    {
        let rel = path.strip_prefix(out).unwrap().display().to_string();
        assert!(
            followed.contains(&rel),
            "index.html links {rel}: {followed:?}"
        );
    }
    assert!(
        followed.iter().any(|h| *h == format!("rules.html#{rule}")),
        "{followed:?}"
    );
    relative_links_resolve(out, "rules.html");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let shrunk = html
        .find("<h3>shrunk scenario</h3>")
        .expect("the shrunk scenario");
    let original = html
        .find("<details><summary>original scenario")
        .expect("folded");
    assert!(shrunk < original);
    assert!(finding.shrunk_history.is_some());
}

/// The report's buckets: each root finding is in exactly one, the cascades after them in none;
/// every bucket of a shrunk finding points at a case file and reproducer under `out`, relative.
fn buckets_account_for_every_finding(report: &Report, out: &Path) {
    assert!(!report.buckets.is_empty(), "a finding, so a bucket");
    let roots: usize = report
        .results
        .iter()
        .map(|r| cachet::report::attribution::attribute(r).len())
        .sum();
    let cascades: usize = report
        .results
        .iter()
        .map(|r| cachet::report::attribution::cascade_steps(r).len())
        .sum();
    let counted: usize = report.buckets.iter().map(|b| b.count).sum();
    assert_eq!(counted, roots, "{:?}", report.buckets);
    assert_eq!(
        roots + cascades,
        report.summary.discrepancies + report.summary.known
    );
    for b in &report.buckets {
        assert_eq!(b.findings.len(), b.count);
        assert!(b.link.is_none(), "a mutant's findings are new, not known");
        for path in b.case_file.iter().chain(&b.reproducer) {
            assert!(path.is_relative(), "{}", path.display());
            assert!(out.join(path).is_file(), "{} exists", path.display());
        }
    }
    assert!(report.buckets.iter().any(|b| b.case_file.is_some()));
}

#[test]
fn a_mutant_model_engine_yields_a_confirmed_shrunk_finding_citing_copy_mtime_ignored() {
    mutant_run_finds("copy.mtime-ignored", "buildkit@a");
}

#[test]
fn a_mutant_model_engine_yields_a_confirmed_shrunk_finding_citing_run_opaque() {
    mutant_run_finds("run.opaque", "classic-cli@a");
}

#[test]
fn a_mutant_model_engine_yields_a_confirmed_shrunk_finding_citing_buildah_arg_names() {
    mutant_run_finds("buildah.arg-names", "podman@a");
}

/// What the engine did at every step, in a pin's words (`cached rebuilt not-a-step ...`): the
/// observed outcome where it reported one, else the prediction's (a step it makes no claim on).
fn observed_words(build: &cachet::run::execute::BuildRecord) -> String {
    if build.prediction.rejected.is_some() {
        return cachet::corpus::case_file::outcome_words(&build.prediction);
    }
    build
        .prediction
        .steps
        .iter()
        .map(|p| match build.observation.steps.get(&p.step) {
            Some(cachet::engine::observe::Observed::Failed { .. }) => "fails",
            Some(o) => o.short(),
            None => p.outcome.short(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_corpus_case_replays_in_agreement_on_every_reference_model_engine() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let corpus = cachet::corpus::case_file::load_corpus(&dir).expect("the corpus loads");
    let inventory = model::inventory(None);
    let mut problems = Vec::new();
    let mut builds = 0;
    for case in &corpus {
        for engine in inventory.engines().iter().filter(|e| e.host == "a") {
            // As the corpus: a case that exports cache runs where the door can ask for it.
            if cachet::run::execute::exports_cache(&case.scenario) && !engine.passes_cache_to() {
                continue;
            }
            let history = run_scenario(&inventory, engine, &case.scenario, &fresh_salt("corpus"))
                .unwrap_or_else(|e| panic!("{} on {}: {e}", case.file.name, engine.name));
            builds += history.builds.len();
            if history.discrepancy_count() + history.indeterminate_count() > 0 {
                problems.push(format!("{} on {}: disagrees", case.file.name, engine.name));
            }
            for (n, build) in history.builds.iter().enumerate() {
                let pin =
                    cachet::corpus::case_file::pin_for(&case.file.builds[n].expect, &engine.kind());
                if pin.is_some_and(|pin| *pin != observed_words(build)) {
                    problems.push(format!(
                        "{} build {} on {}: pinned {pin:?}, engine {}",
                        case.file.name,
                        n + 1,
                        engine.name,
                        observed_words(build)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(builds > corpus.len() * 6, "{builds} builds");
    assert_eq!(
        holdings(&inventory)
            .iter()
            .map(|(_, images, containers, _)| images + containers)
            .sum::<usize>(),
        0,
        "every scenario removed its images"
    );
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let run = || {
        let inventory = model::inventory(Some("copy.mtime-ignored"));
        let out = tempfile::tempdir().unwrap();
        let report = run_on(&inventory, &options(&["buildkit@a"], out.path())).unwrap();
        let json = std::fs::read_to_string(out.path().join("report.json")).unwrap();
        // Each inventory built in code has a registry address of its own.
        let json = json.replace(inventory.registry.as_deref().unwrap(), "[REGISTRY]");
        let redacted = Redactions::of(&[&report], &[out.path()]).apply(&json);
        assert!(!redacted.contains(&out.path().display().to_string()));
        (report, redacted)
    };
    let (first, first_json) = run();
    let (_, second_json) = run();
    assert!(first.summary.discrepancies > 0, "a finding to compare too");
    assert_eq!(first_json, second_json);
}

#[test]
fn fresh_check_is_refused_on_a_model_engine() {
    let inventory = model::inventory(None);
    let out = tempfile::tempdir().unwrap();
    let mut options = options(&["buildkit@a"], out.path());
    options.fresh_check = true;
    let e = run_on(&inventory, &options).expect_err("refused");
    assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
    assert!(e.to_string().contains("model engine"), "{e}");
}

/// An inventory file with model hosts `a` and `b` (both `mutant` if given).
fn inventory_file(dir: &Path, mutant: Option<&str>) -> std::path::PathBuf {
    let mutant = mutant
        .map(|m| format!("mutant = \"{m}\"\n"))
        .unwrap_or_default();
    let text = format!(
        "[hosts.a]\nendpoint = \"model:a\"\nkind = \"model\"\n{mutant}\n[hosts.b]\nendpoint = \"model:b\"\nkind = \"model\"\n{mutant}"
    );
    let path = dir.join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What the tracing subscriber of this test process wrote (set once, by the CLI test).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

/// The command line, in process (as `main` runs it): its exit code.
fn cachet(args: &[&str]) -> i32 {
    let cli = <cachet::cli::Cli as clap::Parser>::try_parse_from([&["cachet"], args].concat())
        .expect("the command line parses");
    cachet::cli::main_with(cli).unwrap_or_else(|e| e.exit_code())
}

/// The command line on an inventory file of model hosts (the only test here that reads
/// `CACHET_INVENTORY`): `engines`, a reference run (exit 0), a mutant run (exit 1, with every
/// confirmation and shrink candidate logged at debug level), and `--fresh-check` refused (exit 2).
#[test]
fn the_command_line_runs_on_model_hosts_from_an_inventory_file() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("cachet=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("CACHET_INVENTORY", inventory_file(dir.path(), None));
    assert_eq!(cachet(&["engines"]), EXIT_OK);
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let run = [
        "run",
        "--engine",
        "buildkit@a",
        "--scenarios",
        "16",
        "--seed",
        "3",
        "--out",
        out,
    ];
    assert_eq!(cachet(&run), EXIT_OK);
    let log = captured.take();
    assert!(log.contains("door=\"model\" op=\"build\""), "{log}");
    inventory_file(dir.path(), Some("copy.mtime-ignored"));
    assert_eq!(cachet(&run), EXIT_NONCONFORMANCE);
    let log = captured.take();
    assert!(log.contains("confirmation"), "{log}");
    assert!(log.contains("shrink candidate"), "{log}");
    let report = cachet::report::schema::load(Path::new(out)).unwrap().0;
    assert!(report.summary.discrepancies > 0);
    assert_eq!(
        cachet(&[&run[..], &["--fresh-check"]].concat()),
        EXIT_BAD_INPUT
    );
}

/// A run killed with SIGKILL mid-way leaves a readable `report.json` (marked partial) holding
/// every finding confirmed so far, each with its case file and reproducer on disk: the reports
/// are written again after every scenario, each file replaced atomically.
#[test]
fn a_run_killed_mid_way_leaves_its_findings_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = inventory_file(dir.path(), Some("copy.mtime-ignored"));
    let out = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args([
            "run",
            "--engine",
            "buildkit@a",
            "--scenarios",
            "400",
            "--seed",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .env("CACHET_INVENTORY", &inventory)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cachet starts");
    let started = std::time::Instant::now();
    let found = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(300),
            "no confirmed finding was reported within 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed: too few scenarios for this test"
        );
        if let Ok((report, _)) = cachet::report::schema::load(&out) {
            if report.summary.discrepancies > 0 {
                break report.summary.discrepancies;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let (report, _) =
        cachet::report::schema::load(&out).expect("report.json readable after SIGKILL");
    assert!(report.partial, "a report written mid-run says so");
    assert!(report.summary.discrepancies >= found);
    assert!(report.summary.scenarios < 400);
    let findings: Vec<_> = report
        .results
        .iter()
        .filter(|r| !r.confirmed.is_empty())
        .collect();
    assert!(!findings.is_empty());
    for r in findings {
        for path in [&r.case_file, &r.reproducer] {
            let path = path
                .as_ref()
                .expect("a confirmed finding has its case and reproducer");
            assert!(path.exists(), "{} is on disk", path.display());
        }
    }
    assert!(
        !report.buckets.is_empty(),
        "the buckets are written as the run goes"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.len() <= 1,
        "at most the one write in flight when killed: {leftovers:?}"
    );
}
