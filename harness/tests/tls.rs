//! A `tcp://` endpoint with TLS (client certificates): host b's daemon also listens on
//! 127.0.0.1:2376 (`ci/engines up` makes the certificates), added here as host `b-tls`. Both doors
//! reach it (bollard with rustls, the docker CLI with `--tlsverify`), a corpus case agrees with the
//! model through it, and a wrong CA is a clear "not reachable" error (exit code 3).

use std::path::{Path, PathBuf};

use harness::case_file::load_case;
use harness::check::Verdict;
use harness::driver::engine_version;
use harness::execute::{fresh_salt, run_scenario};
use harness::inventory::Inventory;

const TLS_DIR: &str = "/var/lib/cachet/tls/client";

fn inventory_with_tls(tls_dir: &Path) -> Option<Inventory> {
    let inventory_text = format!(
        "[hosts.b-tls]\nendpoint = \"tcp://127.0.0.1:2376\"\nkind = \"docker\"\ntls-dir = \"{}\"\n",
        tls_dir.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.toml");
    std::fs::write(&path, inventory_text).unwrap();
    Inventory::from_file(&path).ok()
}

#[test]
fn both_doors_reach_an_engine_over_tls_and_a_wrong_ca_is_a_clear_error() {
    if !Path::new(TLS_DIR).join("key.pem").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no TLS material in CI: run ci/engines up"
        );
        eprintln!("skipping outside CI: {TLS_DIR} missing");
        return;
    }
    let inventory = inventory_with_tls(Path::new(TLS_DIR)).expect("inventory parses");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case = load_case(&cases.join("copy-mode-change.toml")).expect("case loads");
    for name in ["classic@b-tls", "buildkit-cli@b-tls"] {
        let engine = inventory.engine(name).expect("engine");
        let version = engine_version(&engine).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(version.starts_with("20.") || !version.is_empty());
        let history = run_scenario(&inventory, &engine, &case.scenario, &fresh_salt(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let agreed = history
            .builds
            .iter()
            .flat_map(|b| &b.verdicts)
            .filter(|v| v.verdict == Verdict::Agree)
            .count();
        let disagreed: Vec<_> = history
            .builds
            .iter()
            .flat_map(|b| &b.verdicts)
            .filter(|v| v.verdict == Verdict::Discrepancy)
            .collect();
        assert!(disagreed.is_empty(), "{name}: {disagreed:#?}");
        assert!(agreed >= 4, "{name}: only {agreed} steps agreed");
    }

    // The client's own CA is not the server's: the handshake fails, and says where.
    let wrong = tempfile::tempdir().unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(Path::new(TLS_DIR).join(file), wrong.path().join(file)).unwrap();
    }
    let other_ca = PathBuf::from(TLS_DIR).join("cert.pem");
    std::fs::copy(other_ca, wrong.path().join("ca.pem")).unwrap();
    let inventory = inventory_with_tls(wrong.path()).unwrap();
    let engine = inventory.engine("classic@b-tls").unwrap();
    let error = engine_version(&engine).expect_err("a wrong CA must not connect");
    assert_eq!(error.exit_code(), 3);
    assert!(
        error.to_string().contains("tcp://127.0.0.1:2376"),
        "the error names the endpoint: {error}"
    );
}
