//! Remote endpoints: host b's daemon as a `tcp://` endpoint with TLS (client certificates, on
//! 127.0.0.1:2376) and as an `ssh://` endpoint (`ci/engines up` runs an sshd on 127.0.0.1:2222
//! whose sessions reach host b, and an ssh config alias `cachet-ssh-b`). Every door reaches each
//! (bollard with rustls or the system's ssh; the docker CLI with `--tlsverify` or `-H ssh://`; the
//! buildx plugin), a corpus case agrees with the model through it, and a wrong CA or an unknown
//! ssh host is a clear "not reachable" error (exit code 3) naming the endpoint.

use crate::common;
use std::path::{Path, PathBuf};

use cachet::check::Verdict;
use cachet::corpus::case_file::load_case;
use cachet::engine::inventory::Inventory;
use cachet::engine::version as engine_version;
use cachet::run::execute::{fresh_salt, run_scenario};

const TLS_DIR: &str = "/var/lib/cachet/tls/client";

/// The client key in `TLS_DIR`, whose presence says `ci/engines up` set TLS up.
pub const TLS_KEY: &str = "/var/lib/cachet/tls/client/key.pem";

pub const SSH_CLIENT_CONFIG: &str = "/etc/ssh/ssh_config.d/cachet.conf";

fn inventory_from(text: &str) -> Inventory {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    cachet::engine::inventory_from_file(&path).expect("inventory parses")
}

/// The docker CLI `ci/engines up` installs and names in the system inventory (Debian's 20.10,
/// whose built-in BuildKit client is the `buildkit-cli` door), not the first `docker` on the
/// PATH, which may be a newer CLI without it.
const SYSTEM_CLI: &str = "cli = \"/usr/bin/docker\"\n";

fn tls_inventory(tls_dir: &Path) -> Inventory {
    inventory_from(&format!(
        "{SYSTEM_CLI}[hosts.b-tls]\nendpoint = \"tcp://127.0.0.1:2376\"\nkind = \"docker\"\ntls-dir = \"{}\"\n",
        tls_dir.display()
    ))
}

fn ssh_inventory(alias: &str) -> Inventory {
    inventory_from(&format!(
        "{SYSTEM_CLI}[hosts.b-ssh]\nendpoint = \"ssh://{alias}\"\nkind = \"docker\"\n"
    ))
}

/// Outside CI a missing endpoint skips the test; in CI it fails it.
fn provisioned(what: &Path) -> bool {
    if what.exists() {
        return true;
    }
    assert!(
        !common::in_ci(),
        "{} missing in CI: run ci/engines up",
        what.display()
    );
    eprintln!("skipping outside CI: {} missing", what.display());
    false
}

/// The engine answers, and a corpus case run through it agrees with the model at every step.
fn check_case_agrees(inventory: &Inventory, engine_name: &str) {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases");
    let case = load_case(&cases.join("copy-mode-change.toml")).expect("case loads");
    let engine = inventory.engine(engine_name).expect("engine");
    let version = engine_version(&engine).unwrap_or_else(|e| panic!("{engine_name}: {e}"));
    assert!(!version.is_empty());
    let history = run_scenario(inventory, &engine, &case.scenario, &fresh_salt(engine_name))
        .unwrap_or_else(|e| panic!("{engine_name}: {e}"));
    let verdicts: Vec<_> = history.builds.iter().flat_map(|b| &b.verdicts).collect();
    let disagreed: Vec<_> = verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Discrepancy)
        .collect();
    assert!(disagreed.is_empty(), "{engine_name}: {disagreed:#?}");
    let agreed = verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Agree)
        .count();
    assert!(agreed >= 4, "{engine_name}: only {agreed} steps agreed");
}

fn check_unreachable(inventory: &Inventory, engine_name: &str, endpoint: &str) {
    let engine = inventory.engine(engine_name).unwrap();
    let error = engine_version(&engine).expect_err("must not connect");
    assert_eq!(error.exit_code(), 3, "{error}");
    assert!(
        error.to_string().contains(endpoint),
        "the error names the endpoint: {error}"
    );
}

pub fn every_door_reaches_an_engine_over_tls_and_a_wrong_ca_is_a_clear_error() {
    if !provisioned(&Path::new(TLS_DIR).join("key.pem")) {
        return;
    }
    let inventory = tls_inventory(Path::new(TLS_DIR));
    let mut names = vec!["classic@b-tls", "buildkit-cli@b-tls"];
    if inventory.has_buildx() {
        names.push("buildx@b-tls");
    }
    for name in names {
        check_case_agrees(&inventory, name);
    }

    // The client's own certificate as the CA: not the server's, so the handshake fails.
    let wrong = tempfile::tempdir().unwrap();
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(Path::new(TLS_DIR).join(file), wrong.path().join(file)).unwrap();
    }
    let other_ca = PathBuf::from(TLS_DIR).join("cert.pem");
    std::fs::copy(other_ca, wrong.path().join("ca.pem")).unwrap();
    check_unreachable(
        &tls_inventory(wrong.path()),
        "classic@b-tls",
        "tcp://127.0.0.1:2376",
    );
}

pub fn every_door_reaches_an_engine_over_ssh_and_an_unknown_host_is_a_clear_error() {
    if !provisioned(Path::new(SSH_CLIENT_CONFIG)) {
        return;
    }
    let inventory = ssh_inventory("cachet-ssh-b");
    let mut names = vec!["classic@b-ssh", "buildkit@b-ssh", "classic-cli@b-ssh"];
    if inventory.has_buildx() {
        names.push("buildx@b-ssh");
    }
    for name in names {
        check_case_agrees(&inventory, name);
    }
    check_unreachable(
        &ssh_inventory("cachet-no-such-host.invalid"),
        "classic@b-ssh",
        "ssh://cachet-no-such-host.invalid",
    );
}
