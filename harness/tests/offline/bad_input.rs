//! Every bad-input path of the `cachet` binary, table-driven: what the user typed or pointed at,
//! the exit code it must give (2 bad input, 3 engine unavailable) and words its message must
//! hold. Engine-free: the inventories here name sockets that do not exist or schemes cachet does
//! not speak, and nothing is built.

use std::path::Path;
use std::process::Command;

struct Case {
    what: &'static str,
    args: &'static [&'static str],
    /// A file the case writes first: (name under the temp dir, text).
    file: Option<(&'static str, &'static str)>,
    /// The inventory the case runs with (`CACHET_INVENTORY`), written to the temp dir.
    inventory: &'static str,
    code: i32,
    says: &'static [&'static str],
}

const NO_ENGINE: &str =
    "[hosts.a]\nendpoint = \"unix:///nonexistent/cachet-test.sock\"\nkind = \"docker\"\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "an endpoint scheme cachet does not speak",
            args: &["engines"],
            file: None,
            inventory: "[hosts.a]\nendpoint = \"ftp://127.0.0.1:21\"\nkind = \"docker\"\n",
            code: 2,
            says: &["inventory.toml:2", "host `a`", "ftp://127.0.0.1:21", "unix://"],
        },
        Case {
            what: "an endpoint with nothing after its scheme",
            args: &["engines"],
            file: None,
            inventory: "[hosts.a]\nendpoint = \"unix://\"\nkind = \"docker\"\n",
            code: 2,
            says: &["names no socket"],
        },
        Case {
            what: "an inventory that is not TOML",
            args: &["engines"],
            file: None,
            inventory: "[hosts.a\nendpoint = 1\n",
            code: 2,
            says: &["inventory.toml:1"],
        },
        Case {
            what: "an inventory with an unknown field",
            args: &["engines"],
            file: None,
            inventory: "[hosts.a]\nendpoint = \"unix:///x.sock\"\nkind = \"docker\"\ncolour = 1\n",
            code: 2,
            says: &["unknown field `colour`"],
        },
        Case {
            what: "an engine that does not answer",
            args: &["engines"],
            file: None,
            inventory: NO_ENGINE,
            code: 3,
            says: &["not reachable", "/nonexistent/cachet-test.sock", "ci/engines up"],
        },
        Case {
            what: "an engine the inventory does not have",
            args: &["replay", "{dir}/case.toml", "--engine", "classic@z"],
            file: Some(("case.toml", "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\n")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["unknown engine `classic@z`"],
        },
        Case {
            what: "real kills on an engine that does not answer",
            args: &["mutants", "--engine", "classic@a", "--sample", "3", "--out", "{dir}/out"],
            file: None,
            inventory: NO_ENGINE,
            code: 3,
            says: &["not reachable", "/nonexistent/cachet-test.sock"],
        },
        Case {
            what: "real kills on an engine the inventory does not have",
            args: &["mutants", "--engine", "classic@z", "--sample", "3", "--out", "{dir}/out"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["unknown engine `classic@z`"],
        },
        Case {
            what: "real kills of no mutant",
            args: &["mutants", "--engine", "classic@a", "--sample", "0", "--out", "{dir}/out"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["--sample", "at least 1"],
        },
        Case {
            what: "a sample with no engine",
            args: &["mutants", "--sample", "3"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["--engine"],
        },
        Case {
            what: "a case file path that escapes the context",
            args: &["pins", "{dir}/case.toml"],
            file: Some((
                "case.toml",
                "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[files.\"../etc/passwd\"]\ncontent = \"x\"\n[[build]]\n",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["case.toml:4", "escapes the build context"],
        },
        Case {
            what: "a case file with a mutation outside the context",
            args: &["pins", "{dir}/case.toml"],
            file: Some((
                "case.toml",
                "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\nmutations = [{ op = \"write\", path = \"/etc/x\", content = \"y\" }]\n",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["case.toml:5", "build 1"],
        },
        Case {
            what: "a case file that is not there",
            args: &["pins", "{dir}/missing.toml"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["cannot read", "missing.toml"],
        },
        Case {
            what: "a pin naming no profile",
            args: &["pins", "{dir}/case.toml"],
            file: Some((
                "case.toml",
                "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\nexpect = { buildkt = \"cached\" }\n",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["case.toml:5", "`buildkt`", "neither `all` nor a profile"],
        },
        Case {
            what: "a mutant of a rule no table has",
            args: &["run", "--engine", "classic@a", "--mutant", "no.such-rule", "--out", "{dir}/out"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["no.such-rule"],
        },
        Case {
            what: "an --out that cannot be written, found before any engine is asked",
            args: &["run", "--engine", "classic@a", "--scenarios", "1", "--out", "{dir}/file/out"],
            file: Some(("file", "a file, not a directory")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["--out", "file/out", "cannot write there"],
        },
        Case {
            what: "a garbled report.json",
            args: &["report", "merge", "{dir}/run", "--out", "{dir}/merged"],
            file: Some(("run/report.json", "{\"format_version\": 1, \"seed\": ")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["report.json", "line 1 column"],
        },
        Case {
            what: "a report of another schema version",
            args: &["report", "diff", "{dir}/run", "{dir}/run"],
            file: Some(("run/report.json", "{\"format_version\": 99}")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["format_version 99"],
        },
        Case {
            what: "a run directory that does not exist",
            args: &["report", "diff", "{dir}/nothing", "{dir}/nothing"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["cannot read", "nothing"],
        },
        Case {
            what: "a garbled night under report trend's root",
            args: &["report", "trend", "{dir}/nights", "--out", "{dir}/trend"],
            file: Some((
                "nights/vm1/2026-12-01/report.json",
                "{\"format_version\": 1, \"seed\": ",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["2026-12-01/report.json", "line 1 column"],
        },
        Case {
            what: "a trend root with no nights",
            args: &["report", "trend", "{dir}", "--out", "{dir}/trend"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["no nights", "ROOT/LABEL/YYYY-MM-DD/report.json"],
        },
        Case {
            what: "an explain whose snapshot is not there",
            args: &["explain", "{dir}", "--since", "{dir}/missing.json"],
            file: None,
            inventory: NO_ENGINE,
            code: 2,
            says: &["cannot read", "missing.json"],
        },
        Case {
            what: "a garbled snapshot",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json"],
            file: Some(("snap.json", "{\"format_version\": 1, \"dir\": ")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["snap.json", "line 1 column"],
        },
        Case {
            what: "a snapshot of another format version",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json"],
            file: Some(("snap.json", "{\"format_version\": 99}")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["format_version 99", "reads format_version 1"],
        },
        Case {
            what: "a snapshot of another directory",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json"],
            file: Some(("snap.json", SNAPSHOT_ELSEWHERE)),
            inventory: NO_ENGINE,
            code: 2,
            says: &["was taken of /nonexistent/elsewhere", "not of /"],
        },
        Case {
            what: "a snapshot whose Dockerfile path escapes the context",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json"],
            file: Some((
                "snap.json",
                "{\"format_version\": 1, \"dir\": \"/x\", \"dockerfile\": {\"path\": \"../Dockerfile\", \"in_context\": true, \"text\": \"FROM base\"}, \"entries\": {}}",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["snap.json", "the Dockerfile path", "escapes the build context"],
        },
        Case {
            what: "a snapshot with an entry outside the context",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json"],
            file: Some((
                "snap.json",
                "{\"format_version\": 1, \"dir\": \"/x\", \"dockerfile\": {\"path\": \"Dockerfile\", \"in_context\": true, \"text\": \"FROM base\"}, \"entries\": {\"../etc/passwd\": {\"type\": \"dir\", \"mode\": 493, \"uid\": 0, \"gid\": 0, \"mtime\": 0, \"mtime_nsec\": 0, \"atime\": 0}}}",
            )),
            inventory: NO_ENGINE,
            code: 2,
            says: &["snap.json", "`../etc/passwd` escapes the build context"],
        },
        Case {
            what: "an explain for a profile the model does not have",
            args: &["explain", "{dir}", "--since", "{dir}/snap.json", "--engine", "buildkt"],
            file: Some(("snap.json", SNAPSHOT_ELSEWHERE)),
            inventory: NO_ENGINE,
            code: 2,
            says: &["unknown profile `buildkt`", "buildkit-cli:28"],
        },
        Case {
            what: "a snapshot of a directory without a Dockerfile",
            args: &["snapshot", "{dir}/ctx", "-o", "{dir}/snap.json"],
            file: Some(("ctx/a", "a")),
            inventory: NO_ENGINE,
            code: 2,
            says: &["cannot read", "ctx/Dockerfile"],
        },
    ]
}

/// A well-formed snapshot of a directory that is not the test's.
const SNAPSHOT_ELSEWHERE: &str = "{\"format_version\": 1, \"dir\": \"/nonexistent/elsewhere\", \"dockerfile\": {\"path\": \"Dockerfile\", \"in_context\": true, \"text\": \"FROM base\\n\"}, \"entries\": {}}";

fn run(case: &Case, dir: &Path) -> (i32, String) {
    let inventory = dir.join("inventory.toml");
    std::fs::write(&inventory, case.inventory).unwrap();
    if let Some((name, text)) = case.file {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let dir_text = dir.display().to_string();
    let args: Vec<String> = case
        .args
        .iter()
        .map(|a| a.replace("{dir}", &dir_text))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_cachet"))
        .args(&args)
        .env("CACHET_INVENTORY", &inventory)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("cachet runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn every_bad_input_has_its_exit_code_and_says_what_is_wrong() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let (code, text) = run(&case, dir.path());
        let missing: Vec<_> = case.says.iter().filter(|w| !text.contains(*w)).collect();
        if code != case.code || !missing.is_empty() {
            failures.push(format!(
                "{}: exit {code} (want {}), missing {missing:?} in:\n{text}",
                case.what, case.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A timeout or wait setting that is not a whole number of seconds is bad input, said before any
/// engine is asked (a silent fallback to the default would stall a night on a typo).
#[test]
fn a_seconds_setting_that_does_not_parse_is_bad_input() {
    for name in [
        "CACHET_BUILD_TIMEOUT",
        "CACHET_CALL_TIMEOUT",
        "CACHET_ENGINE_WAIT",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("inventory.toml");
        std::fs::write(&inventory, NO_ENGINE).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_cachet"))
            .arg("engines")
            .env("CACHET_INVENTORY", &inventory)
            .env(name, "10s")
            .output()
            .expect("cachet runs");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {text}");
        assert!(
            text.contains(name) && text.contains("`10s`") && text.contains("whole number"),
            "{name}: {text}"
        );
    }
}
