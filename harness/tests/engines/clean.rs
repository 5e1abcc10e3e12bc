//! `cachet clean` after a run that was killed: what the run made (a multi-stage build's images,
//! intermediate ones included, a build container, a pushed tag, a context directory) goes, and
//! an image cachet did not make stays. Needs real engines; in CI an unreachable one fails it.

use crate::common;
use std::path::Path;
use std::process::Command;

use cachet::engine::{self, BuildRequest};
use cachet::run::execute::{fresh_salt, substitute_base};
use models::{BuildContext, BuildOptions, Entry};

fn docker(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/docker")
        .arg("-H")
        .arg(endpoint)
        .args(args)
        .output()
        .expect("docker CLI runs")
}

pub fn clean_removes_what_a_killed_run_left_and_nothing_else() {
    let inventory = cachet::engine::load_inventory().expect("inventory");
    let engine = inventory.engine("classic@a").expect("classic@a");
    if let Err(e) = engine::version(&engine) {
        assert!(!common::in_ci(), "engine unavailable in CI: {e}");
        eprintln!("skipping outside CI: {e}");
        return;
    }
    let registry = inventory
        .registry
        .clone()
        .expect("the inventory names a registry");

    let (images_before, containers_before) = engine::open(&engine).cachet_resources().unwrap();
    // What a killed run leaves: its base, a two-stage build (the first stage's images are no
    // ancestors of the tagged one), a build container, a pushed tag and its context directory.
    let salt = fresh_salt("clean");
    let base = format!("localhost/cachet-base:{salt}");
    engine::open(&engine)
        .ensure_base_image(&base, &salt)
        .expect("base loads");
    let mut context = BuildContext::new();
    context.insert("a", Entry::file("a")).unwrap();
    context.insert("b", Entry::file("b")).unwrap();
    context.set_dockerfile_text(&substitute_base(
        "FROM base AS first\nCOPY a /a\nCOPY b /b\nFROM base\nCOPY --from=first /a /x\n",
        &base,
    ));
    let tag = format!("cachet-scn-{salt}:b0");
    let observation = engine::open(&engine)
        .build(&BuildRequest {
            context: &context,
            options: &BuildOptions::default(),
            cache_from: Vec::new(),
            tag: tag.clone(),
            workdir: None,
        })
        .expect("build runs");
    assert!(observation.error.is_none(), "{}", observation.log);
    let pushed = format!("{registry}/cachet-{salt}/app:latest");
    engine::open(&engine).tag(&tag, &pushed).expect("tag");
    engine::open(&engine).push(&pushed).expect("push");
    let created = docker(&engine.endpoint, &["create", &tag, "true"]);
    assert!(created.status.success(), "{created:?}");
    let context_dir = std::env::temp_dir().join(format!("cachet-{salt}-a-left"));
    std::fs::create_dir_all(&context_dir).unwrap();

    // An image cachet did not make, on the same engine.
    let keep = format!("keep-me-{salt}:1");
    let tar = tempfile::NamedTempFile::new().unwrap();
    {
        let mut builder = tar::Builder::new(tar.reopen().unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "f", &b"x"[..]).unwrap();
        builder.finish().unwrap();
    }
    let imported = docker(
        &engine.endpoint,
        &["import", &tar.path().display().to_string(), &keep],
    );
    assert!(imported.status.success(), "{imported:?}");

    let (images, containers) = engine::open(&engine).cachet_resources().unwrap();
    assert!(
        images.len() >= images_before.len() + 4 && containers.len() == containers_before.len() + 1,
        "the killed run's leftovers (base, 3 built images, a container) are visible to clean: {} images, {} containers",
        images.len() - images_before.len(),
        containers.len() - containers_before.len()
    );
    let summary = cachet::engine::clean::clean(&inventory, false).expect("clean runs");
    assert!(
        summary.busy.is_empty(),
        "another cachet run is using the engines: {:?}",
        summary.busy
    );
    assert!(summary.unreachable.is_empty(), "{:?}", summary.unreachable);
    for engine in inventory.engines() {
        let (images, containers) = engine::open(&engine).cachet_resources().unwrap();
        assert!(
            images.is_empty() && containers.is_empty(),
            "{} still holds {images:?} {containers:?}",
            engine.name
        );
    }
    assert!(
        !engine::registry::cachet_registry_references(&registry)
            .unwrap()
            .contains(&pushed),
        "the pushed tag is gone"
    );
    assert!(
        !Path::new(&context_dir).exists(),
        "the context directory is gone"
    );
    assert!(
        docker(&engine.endpoint, &["image", "inspect", &keep])
            .status
            .success(),
        "clean removed an image cachet did not make"
    );
    assert!(docker(&engine.endpoint, &["rmi", &keep]).status.success());
}
