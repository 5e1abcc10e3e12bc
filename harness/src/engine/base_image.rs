//! The salted base image every scenario builds on: busybox-static, `sh` and a few applets as
//! links, and a salt file, loaded through the image-load API (`docker load`) so its id is the
//! same on every engine (`docker import` gives a new id on every import, as measured on Docker 20.10).

use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use super::client::{block_on, client, unavailable};
use crate::engine::inventory::Engine;
use crate::error::{Error, Result};

/// The applets the base image links to busybox, so RUN can use them without a PATH search.
const APPLETS: &[&str] = &[
    "cat",
    "echo",
    "ls",
    "mkdir",
    "sha256sum",
    "stat",
    "touch",
    "true",
    "false",
    "find",
    "env",
    "rm",
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where the static busybox is: `CACHET_BUSYBOX`, else Debian's `busybox-static` (`/bin/busybox`)
/// or Fedora's `busybox` (`/usr/sbin/busybox`).
pub fn busybox_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("CACHET_BUSYBOX") {
        return p.into();
    }
    ["/bin/busybox", "/usr/sbin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "/bin/busybox".into())
}

/// The label the base image carries (its salt). Every image and build container made from it
/// inherits it, intermediate ones included: that is how `cachet clean` finds what cachet made.
pub const BASE_LABEL: &str = "cachet.salt";

/// The base image's users: root, and the uids the generator's `USER` and `--chown` name.
pub const PASSWD: &str = "root:x:0:0:root:/:/bin/sh\nu1:x:1:1::/tmp:/bin/sh\nu2:x:2:2::/tmp:/bin/sh\nu1000:x:1000:1000::/tmp:/bin/sh\n";
/// The base image's groups, as `PASSWD`'s.
pub const GROUP: &str = "root:x:0:\nu1:x:1:\nu2:x:2:\nu1000:x:1000:\n";

/// A `docker save`-format archive of the base image: busybox-static, `sh` and a few applets as
/// links, `/etc/passwd` and `/etc/group`, and a salt file that makes each scenario's cache its own. Deterministic: the same salt
/// gives the same image id on every engine.
pub fn base_image_archive(reference: &str, salt: &str) -> Result<Vec<u8>> {
    let busybox_path = busybox_path();
    let busybox = std::fs::read(&busybox_path).map_err(|source| Error::Read {
        path: busybox_path.clone(),
        source,
    })?;
    // The root filesystem and the archive around it are both plain contexts: `context_tar` writes
    // them with exact, fixed metadata (owner 0, mtime 0), so the image id depends on the salt only.
    let layer = crate::engine::materialize::context_tar(&base_rootfs(busybox, salt)?)?;
    saved_image_archive(reference, salt, layer)
}

/// `entry` with `mode` and times 0: what every file of the base image and its archive gets.
fn fixed(mut entry: models::Entry, mode: u32) -> models::Entry {
    entry.mode = mode;
    entry.mtime = 0;
    entry.atime = 0;
    entry
}

/// Puts `entry` at `path` of `context`, a harness fault if it cannot.
fn insert(context: &mut models::BuildContext, path: &str, entry: models::Entry) -> Result<()> {
    context
        .insert(path, entry)
        .map_err(|e| Error::Harness(format!("building the base image: {e}")))
}

/// The base image's root filesystem: `busybox` with `sh` and `APPLETS` linked to it, `/tmp`,
/// `/etc/passwd` and `/etc/group`, and the salt file.
fn base_rootfs(busybox: Vec<u8>, salt: &str) -> Result<models::BuildContext> {
    let mut rootfs = models::BuildContext::new();
    insert(&mut rootfs, "tmp", fixed(models::Entry::dir(), 0o755))?;
    insert(
        &mut rootfs,
        "bin/busybox",
        fixed(models::Entry::file(busybox), 0o755),
    )?;
    if let Some(bin) = rootfs.get_mut("bin") {
        *bin = fixed(models::Entry::dir(), 0o755);
    }
    for applet in std::iter::once(&"sh").chain(APPLETS) {
        insert(
            &mut rootfs,
            &format!("bin/{applet}"),
            fixed(models::Entry::symlink("busybox"), 0o777),
        )?;
    }
    // Users and groups for `USER 1000` and `--chown` (BuildKit of Engine 28.5 fails a RUN as a
    // uid that /etc/passwd does not list: "unable to find user 1000").
    for (path, text) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        insert(&mut rootfs, path, fixed(models::Entry::file(text), 0o644))?;
    }
    if let Some(etc) = rootfs.get_mut("etc") {
        *etc = fixed(models::Entry::dir(), 0o755);
    }
    insert(
        &mut rootfs,
        ".cachet-salt",
        fixed(models::Entry::file(salt), 0o644),
    )?;
    Ok(rootfs)
}

/// The `docker save` archive of an image of one `layer` tagged `reference`: its config (labelled
/// with `salt`), the manifest and the layer, each named by its digest.
fn saved_image_archive(reference: &str, salt: &str, layer: Vec<u8>) -> Result<Vec<u8>> {
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": { BASE_LABEL: salt } },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_digest}")] },
        "created": "1970-01-01T00:00:00Z",
        "history": [{ "created": "1970-01-01T00:00:00Z", "created_by": "cachet base image (busybox-static)" }]
    })
    .to_string();
    let config_digest = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_digest}.json"),
        "RepoTags": [reference],
        "Layers": [format!("{layer_digest}/layer.tar")]
    }])
    .to_string();
    let mut archive = models::BuildContext::new();
    insert(
        &mut archive,
        &format!("{layer_digest}/layer.tar"),
        fixed(models::Entry::file(layer), 0o644),
    )?;
    insert(
        &mut archive,
        &format!("{config_digest}.json"),
        fixed(models::Entry::file(config), 0o644),
    )?;
    insert(
        &mut archive,
        "manifest.json",
        fixed(models::Entry::file(manifest), 0o644),
    )?;
    if let Some(dir) = archive.get_mut(&layer_digest) {
        *dir = fixed(models::Entry::dir(), 0o755);
    }
    crate::engine::materialize::context_tar(&archive)
}

/// Loads the salted base image on the engine's host (a no-op when it is there already).
pub(crate) fn ensure_base_image(engine: &Engine, reference: &str, salt: &str) -> Result<()> {
    let docker = client(engine)?;
    let present = block_on(docker.inspect_image(reference)).is_ok();
    if present {
        return Ok(());
    }
    let archive = base_image_archive(reference, salt)?;
    block_on(async {
        let mut stream = docker.import_image(
            ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            bollard::body_full(archive.into()),
            None,
        );
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                return Err(unavailable(engine, format!("loading the base image: {e}")));
            }
        }
        Ok(())
    })?;
    block_on(docker.inspect_image(reference))
        .map(|_| ())
        .map_err(|e| {
            Error::EngineCall(format!(
                "base image {reference} did not load on {}: {e}",
                engine.name
            ))
        })
}
