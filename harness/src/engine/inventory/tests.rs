//! Unit tests of `inventory`.

use super::*;

const GENERATIONS: &str = r#"
cli = "/usr/bin/docker"
buildx = true
[hosts.a]
endpoint = "unix:///a.sock"
kind = "docker"
[hosts.b]
endpoint = "unix:///b.sock"
kind = "docker"
[hosts.sid]
endpoint = "unix:///sid.sock"
kind = "docker"
generation = "sid"
cli = "/roots/sid/usr/bin/docker"
docker-config = "/cli/sid"
[hosts.sid-ctrd]
endpoint = "unix:///ctrd.sock"
kind = "docker"
generation = "sid"
image-store = "containerd"
cli = "/roots/sid/usr/bin/docker"
docker-config = "/cli/sid-ctrd"
[hosts.sid-podman]
endpoint = "unix:///podman.sock"
kind = "podman"
generation = "sid"
cli = "/roots/sid/usr/bin/docker"
"#;

/// The 20.10 CLI on the system, the 28.5 root's elsewhere; both with buildx.
fn probe(setup: &CliSetup) -> CliFacts {
    CliFacts {
        buildx: true,
        builtin_buildkit: !setup.cli.starts_with("/roots"),
    }
}

fn inventory() -> Inventory {
    let mut inventory: Inventory = toml::from_str(GENERATIONS).unwrap();
    inventory.resolve_cli_facts(probe);
    inventory
}

fn names(inventory: &Inventory, host: &str) -> Vec<String> {
    inventory
        .engines()
        .into_iter()
        .filter(|e| e.host == host)
        .map(|e| e.name)
        .collect()
}

#[test]
fn a_cli_without_builtin_buildkit_has_buildx_and_no_buildkit_cli() {
    let inventory = inventory();
    assert_eq!(
        names(&inventory, "a"),
        [
            "classic@a",
            "classic-cli@a",
            "buildkit@a",
            "buildkit-cli@a",
            "buildx@a"
        ]
    );
    assert_eq!(
        names(&inventory, "sid"),
        [
            "classic@sid",
            "classic-cli@sid",
            "buildkit@sid",
            "buildx@sid"
        ]
    );
    assert_eq!(
        names(&inventory, "sid-podman"),
        ["podman@sid-podman", "podman-cli@sid-podman"]
    );
    let buildx = inventory.engine("buildx@sid").unwrap();
    assert_eq!(buildx.cli, "/roots/sid/usr/bin/docker");
    assert_eq!(buildx.docker_config.as_deref(), Some(Path::new("/cli/sid")));
    assert_eq!(buildx.generation_label(), "sid");
    assert_eq!(
        inventory.engine("classic@a").unwrap().generation_label(),
        "system"
    );
    assert_eq!(inventory.engine("classic@a").unwrap().cli, inventory.cli());
}

#[test]
fn engines_pair_only_within_their_generation_and_image_store() {
    let inventory = inventory();
    let a = inventory.engine("buildkit@a").unwrap();
    assert_eq!(a.on_host(&inventory, "b").unwrap().name, "buildkit@b");
    assert!(a.on_host(&inventory, "sid").is_none());
    let sid = inventory.engine("buildkit@sid").unwrap();
    assert!(sid.on_host(&inventory, "a").is_none());
    assert!(
        sid.on_host(&inventory, "sid-ctrd").is_none(),
        "another image store"
    );
}

#[test]
fn the_inventory_can_say_what_a_cli_has() {
    let text = format!(
        "{GENERATIONS}[hosts.old]\nendpoint = \"unix:///o.sock\"\nkind = \"docker\"\ncli = \"/roots/x\"\nbuildx = false\nbuiltin-buildkit = true\n"
    );
    let mut inventory: Inventory = toml::from_str(&text).unwrap();
    inventory.resolve_cli_facts(probe);
    assert_eq!(
        names(&inventory, "old"),
        [
            "classic@old",
            "classic-cli@old",
            "buildkit@old",
            "buildkit-cli@old"
        ]
    );
}

#[test]
fn the_profile_seam_keeps_a_mutants_switches() {
    assert_eq!(
        profile_for("buildx", Some("28.5.2+dfsg4")).unwrap().name(),
        "buildkit-cli:28"
    );
    assert_eq!(
        profile_for("buildx", Some("20.10.24+dfsg1 buildx 0.13.1+ds1"))
            .unwrap()
            .name(),
        "buildkit-cli"
    );
    assert_eq!(
        profile_for("podman", Some("5.4.2")).unwrap().name(),
        "podman:5.4"
    );
    let (newest, note) = generation_choice("classic", Some("29.0.1")).unwrap();
    assert_eq!(newest.name(), "classic:28");
    assert!(
        note.is_some_and(|n| n.contains("29.0.1")),
        "the report says so"
    );
    assert!(profile_for("nothing", None).is_none());
    let inventory = inventory();
    let mut engine = inventory.engine("classic@sid").unwrap();
    let rule = engine.profile.rules()[0].id.to_string();
    engine.profile = engine
        .profile
        .with_switch(rule, models::Switch::Off)
        .unwrap();
    assert!(engine.with_reported_version("28.5.2").profile.is_mutant());
}

#[test]
fn the_system_inventory_gives_the_engines_it_gave_before_generations() {
    let system = "registry = \"127.0.0.1:5000\"\ncli = \"/usr/bin/docker\"\nbuildx = true\n[hosts.a]\nendpoint = \"unix:///var/run/docker.sock\"\nkind = \"docker\"\ndistro = \"debian-12\"\n[hosts.b]\nendpoint = \"unix:///run/cachet/docker-b.sock\"\nkind = \"docker\"\ndistro = \"debian-12\"\n[hosts.podman]\nendpoint = \"unix:///run/cachet/podman.sock\"\nkind = \"podman\"\ndistro = \"debian-12\"\n";
    let mut inventory: Inventory = toml::from_str(system).unwrap();
    inventory.resolve_cli_facts(probe);
    let all: Vec<String> = inventory.engines().into_iter().map(|e| e.name).collect();
    let mut before = Vec::new();
    for host in ["a", "b"] {
        for kind in [
            "classic",
            "classic-cli",
            "buildkit",
            "buildkit-cli",
            "buildx",
        ] {
            before.push(format!("{kind}@{host}"));
        }
    }
    before.extend(["podman@podman".to_string(), "podman-cli@podman".to_string()]);
    assert_eq!(all, before);
    assert!(inventory.engines().iter().all(|e| e.generation.is_none()
        && e.docker_config.is_none()
        && e.cli == "/usr/bin/docker"
        || std::env::var_os("CACHET_DOCKER_CLI").is_some()));
}
