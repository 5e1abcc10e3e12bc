//! Unit tests of `case_file`.

use super::*;

fn check_error(text: &str, expect: &str) {
    match parse_case(Path::new("cases/x.toml"), text) {
        Ok(_) => panic!("expected an error"),
        Err(e) => assert_eq!(e.to_string(), expect),
    }
}

#[test]
fn unknown_keys_name_file_and_line() {
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\ncolour = 1\n[[build]]\n",
        "bad case file cases/x.toml:4: unknown field `colour`, expected one of `name`, `shows`, `rules`, `links`, `files`, `dockerfile`, `build`, `divergence`",
    );
}

#[test]
fn divergences_name_an_engine_kind() {
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\n[[divergence]]\nengine = \"buildkitcli\"\nversions = \"1\"\nbuild = 1\nstep = 1\nobserved = \"cached\"\nlink = \"l\"\n",
        "bad case file cases/x.toml:6: a divergence names engine `buildkitcli`, which is no engine kind (classic, classic-cli, buildkit, buildkit-cli, podman, podman-cli, buildx)",
    );
}

#[test]
fn bad_version_ranges_are_refused_at_their_line() {
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\n[[divergence]]\nengine = \"buildkit\"\nversions = \">=20.x\"\nbuild = 1\nstep = 1\nobserved = \"cached\"\nlink = \"l\"\n",
        "bad case file cases/x.toml:7: versions `>=20.x`: `>=20.x` is not a comparator (>=, >, <=, <, =) and a dotted version such as `>=20.10` or `4.3`",
    );
    // The field before ranges is refused by name, not read as something else.
    let old = "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\n[[divergence]]\nengine = \"buildkit\"\nversion = \"20.10.24\"\nbuild = 1\nstep = 1\nobserved = \"cached\"\nlink = \"l\"\n";
    match parse_case(Path::new("cases/x.toml"), old) {
        Err(e) => assert!(e.to_string().contains("unknown field `version`"), "{e}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn a_divergence_holds_for_the_versions_it_names() {
    let text = "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\n[[divergence]]\nengine = \"buildx\"\nversions = \">=20.10, <23\"\nbuild = 1\nstep = 1\nobserved = \"cached\"\nlink = \"l\"\n";
    let case = parse_case(Path::new("cases/x.toml"), text).unwrap();
    let d = &case.file.divergences[0];
    assert!(d
        .versions
        .contains_engine("20.10.24+dfsg1 buildx 0.13.1+ds1"));
    assert!(!d.versions.contains_engine("28.5.2+dfsg4 buildx 0.29.1+ds1"));
}

#[test]
fn paths_that_escape_the_context_are_refused() {
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[files.\"../etc/passwd\"]\ncontent = \"x\"\n[[build]]\n",
        "bad case file cases/x.toml:4: path `../etc/passwd` escapes the build context",
    );
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n[[build]]\nmutations = [{ op = \"symlink\", path = \"l\", target = \"../../x\" }]\n",
        "bad case file cases/x.toml:5: build 1: path `../../x` escapes the build context",
    );
}

#[test]
fn unparseable_dockerfiles_are_refused() {
    check_error(
        "name = \"x\"\nshows = \"y\"\ndockerfile = \"\"\"\nFROM base\nFROBNICATE x\n\"\"\"\n[[build]]\n",
        "bad case file cases/x.toml:5: the Dockerfile cannot be parsed: unsupported instruction `FROBNICATE`",
    );
}

#[test]
fn entries_and_pins_are_refused_at_their_line() {
    let head = "name = \"x\"\nshows = \"y\"\ndockerfile = \"FROM base\\n\"\n";
    check_error(
        &format!("{head}[files.l]\ntype = \"symlink\"\ntarget = \"../../x\"\n[[build]]\n"),
        "bad case file cases/x.toml:4: symlink `l` -> `../../x` escapes the build context",
    );
    check_error(
        &format!("{head}[files.l]\ntype = \"symlink\"\n[[build]]\n"),
        "bad case file cases/x.toml:4: symlink `l` needs a target",
    );
    check_error(
        &format!("{head}[files.p]\ntype = \"pipe\"\n[[build]]\n"),
        "bad case file cases/x.toml:4: unknown type `pipe` for `p` (file, dir or symlink)",
    );
    check_error(
        &format!("{head}[[build]]\nexpect = {{ buildkt = \"cached\" }}\n"),
        "bad case file cases/x.toml:5: build 1: `expect` names `buildkt`, which is neither `all` nor a profile (classic, classic-cli, buildkit, buildkit-cli, podman, podman-cli)",
    );
}
