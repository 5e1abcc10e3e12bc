//! Host settings from the inventory (umask, SELinux label, owner) applied when contexts are
//! materialised: host b set up like a CentOS account (umask 002, labelled files, uid 1000) sees
//! the seed gist's cross-host cache differently from host b set up like host a, on real engines
//! through the docker CLI (what users type), and the model predicts both; the shell reproducer
//! presents each host's checkout the same way. (Through an API tar,
//! BuildKit on 20.10 fails outright once the Dockerfile carries an xattr: corpus case
//! `dockerfile-xattr-first-entry`.)

use crate::common;
use std::path::Path;

use cachet::check::Verdict;
use cachet::corpus::case_file::parse_case;
use cachet::engine::inventory::Inventory;
use cachet::engine::version as engine_version;
use cachet::run::execute::{fresh_salt, run_scenario};

const SCENARIO: &str = r#"
name = "cross-host-checkout"
shows = "the seed gist, with the hosts' own checkout settings"
dockerfile = "FROM base\nCOPY a /a\nRUN true\n"
[files.a]
content = "x"
[[build]]
inline-cache = true
push = "app"
[[build]]
host = "b"
cache-from = ["app"]
"#;

struct HostRun {
    inventory: Inventory,
    engine: cachet::engine::inventory::Engine,
    scenario: models::scenario::Scenario,
    history: cachet::run::execute::History,
}

fn run_with_host_b(umask: u32, label: Option<&str>, uid: Option<u32>) -> Option<HostRun> {
    let mut inventory = cachet::engine::load_inventory().expect("inventory");
    if !inventory.hosts.contains_key("b") {
        assert!(!common::in_ci(), "no host b in CI");
        return None;
    }
    for (name, host) in inventory.hosts.iter_mut() {
        host.umask = Some(0o022);
        if name == "b" {
            host.umask = Some(umask);
            host.selinux_label = label.map(str::to_string);
            host.uid = uid;
        }
    }
    let engine = inventory.engine("buildkit-cli@a").expect("buildkit-cli@a");
    if let Err(e) = engine_version(&engine) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
        eprintln!("skipping outside CI: {e}");
        return None;
    }
    let case = parse_case(Path::new("inline/cross-host-checkout.toml"), SCENARIO).unwrap();
    let salt = fresh_salt(("hosts", umask, label, uid));
    let history = run_scenario(&inventory, &engine, &case.scenario, &salt).expect("scenario runs");
    Some(HostRun {
        inventory,
        engine,
        scenario: case.scenario,
        history,
    })
}

/// What the shell reproducer of `run` prints for the COPY of build 2 (on host b): `cached` or
/// `rebuilt`, as the engine reported it. `with_settings`: the script emulates each host's
/// checkout settings as the inventory gives them.
fn reproducer_copy_on_b(run: &HostRun, with_settings: bool) -> String {
    let settings = if with_settings {
        cachet::run::execute::engines_for(&run.inventory, &run.engine, &run.scenario)
            .unwrap()
            .into_iter()
            .map(|(host, engine)| (host, engine.settings))
            .collect()
    } else {
        Default::default()
    };
    let script = cachet::run::reproduce::shell_reproducer(
        "hosts",
        &run.scenario,
        &run.engine,
        &run.history,
        &settings,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repro.sh");
    std::fs::write(&path, &script).unwrap();
    let output = std::process::Command::new("bash")
        .arg(&path)
        .env("HOST_A", &run.engine.endpoint)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "reproducer failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let build_2 = stdout
        .split("== build 2")
        .nth(1)
        .unwrap_or_else(|| panic!("no build 2 in {stdout}"));
    let line = build_2
        .lines()
        .find(|l| l.contains("COPY a /a") && l.contains("=>"))
        .unwrap_or_else(|| panic!("no engine answer for the COPY in {build_2}"));
    line.rsplit("=> ").next().unwrap().trim().to_string()
}

fn copy_on_b(history: &cachet::run::execute::History) -> (&'static str, Verdict) {
    let v = history.builds[1]
        .verdicts
        .iter()
        .find(|v| v.instruction.starts_with("COPY"))
        .expect("a COPY step");
    (v.predicted.short(), v.verdict.clone())
}

pub fn a_centos_like_host_b_misses_where_a_debian_like_one_hits() {
    let Some(same_run) = run_with_host_b(0o022, None, None) else {
        return;
    };
    let Some(centos_run) = run_with_host_b(
        0o002,
        Some("system_u:object_r:container_file_t:s0"),
        Some(1000),
    ) else {
        return;
    };
    let (same, centos) = (&same_run.history, &centos_run.history);
    for history in [same, centos] {
        for b in &history.builds {
            assert!(
                b.observation.error.is_none(),
                "build {} failed: {:?}",
                b.transition,
                b.observation.error
            );
        }
        let disagreements: Vec<_> = history
            .builds
            .iter()
            .flat_map(|b| b.verdicts.iter())
            .filter(|v| v.verdict == Verdict::Discrepancy)
            .collect();
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }
    // Same checkout settings: the COPY hits from host a's inline cache.
    assert_eq!(copy_on_b(same), ("cached", Verdict::Agree));
    // umask 002 makes the file 0664 on host b: BuildKit keys the mode, so the COPY misses (the
    // CLI sends no SELinux label and resets the owner, as the model says).
    assert_eq!(copy_on_b(centos), ("rebuilt", Verdict::Agree));
    // The reproducer shows the same: it presents host b's checkout as the inventory says, and
    // without those settings the same script would show a hit.
    assert_eq!(reproducer_copy_on_b(&centos_run, true), "rebuilt");
    assert_eq!(reproducer_copy_on_b(&centos_run, false), "cached");
}
