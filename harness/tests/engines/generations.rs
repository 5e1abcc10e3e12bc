//! One real diff between engine generations (issue #12): the same seed on BuildKit through the
//! API on Engine 20.10 (host a) and on Engine 28.5 (host sid), then `cachet report diff`, paired
//! by engine kind. The snapshot holds what changed step by step and which rule the model cites,
//! with versions and paths normalised from the runs' own reports.

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::Redactions;
use cachet::engine::version as engine_version;
use cachet::report::schema::Report;

fn cachet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(args)
        .output()
        .expect("cachet runs")
}

fn run(engine: &str, out: &Path) -> Report {
    let out_text = out.to_str().unwrap();
    let done = cachet(&[
        "run",
        "--engine",
        engine,
        "--scenarios",
        "15",
        "--seed",
        "2",
        "--jobs",
        "2",
        "--out",
        out_text,
    ]);
    assert!(
        done.status.code().is_some_and(|c| c <= 1),
        "cachet run on {engine}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    cachet::report::schema::load(out).expect("report.json").0
}

pub fn twenty_ten_to_twenty_eight_five_step_by_step() {
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    for name in ["buildkit@a", "buildkit@sid"] {
        let Ok(engine) = inventory.engine(name) else {
            assert!(!common::in_ci(), "no {name} in CI");
            eprintln!("skipping outside CI: no {name} (CACHET_GENERATIONS left it out)");
            return;
        };
        if let Err(e) = engine_version(&engine) {
            assert!(!common::in_ci(), "engine unavailable in CI: {e}");
            eprintln!("skipping outside CI: {e}");
            return;
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (tmp.path().join("old"), tmp.path().join("new"));
    // The two hosts side by side: they share no daemon.
    let (old, new) = std::thread::scope(|scope| {
        let old = scope.spawn(|| run("buildkit@a", &old_dir));
        let new = run("buildkit@sid", &new_dir);
        (old.join().expect("the run on host a"), new)
    });
    assert_eq!(old.profiles[0].profile, "buildkit");
    assert_eq!(new.profiles[0].profile, "buildkit:28");
    let diff = cachet(&[
        "report",
        "diff",
        old_dir.to_str().unwrap(),
        new_dir.to_str().unwrap(),
    ]);
    let text = String::from_utf8(diff.stdout).unwrap();
    assert!(text.contains("paired by engine kind"), "{text}");
    let redact = Redactions::of(&[&old, &new], &[tmp.path()]);
    insta::assert_snapshot!("diff_20_10_to_28_5", redact.apply(&text));
}
