//! The second oracle, which needs no model: an image whose steps were served from cache must have
//! the same filesystem as a fresh `--no-cache` build of the same input. Stale hits (moby#38964,
//! buildkit#4817) show up here even when the cache report looks right. The fresh build runs on
//! a host the scenario does not use (`fresh_engine_for`, `fresh_check`); `execute` asks for it.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

use models::{Build, BuildOptions};

use crate::engine::inventory::{Engine, Inventory};
use crate::engine::{self, BuildRequest};
use crate::error::{Error, Result};

/// What a file in an image is, without its times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    pub kind: char,
    pub mode: u32,
    pub owner: (u64, u64),
    pub size: u64,
    pub content: Option<String>,
    pub link: Option<String>,
}

pub type Listing = BTreeMap<String, FileFacts>;

/// The final filesystem of a `docker save` archive: layers applied in order, whiteouts honoured.
pub fn listing_of_saved_image(archive: &[u8]) -> Result<Listing> {
    let fault = |e: std::io::Error| Error::Harness(format!("reading a saved image: {e}"));
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in tar::Archive::new(archive).entries().map_err(fault)? {
        let mut entry = entry.map_err(fault)?;
        let path = entry.path().map_err(fault)?.display().to_string();
        // Docker names layers `<id>/layer.tar`, Podman `<digest>.tar`.
        if path == "manifest.json" || path.ends_with(".tar") {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(fault)?;
            files.insert(path, bytes);
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(
        files
            .get("manifest.json")
            .ok_or_else(|| Error::Harness("saved image has no manifest.json".into()))?,
    )
    .map_err(|e| Error::Harness(format!("saved image manifest: {e}")))?;
    let layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    let mut listing = Listing::new();
    for layer in layers {
        let bytes = files
            .get(&layer)
            .ok_or_else(|| Error::Harness(format!("saved image lacks {layer}")))?;
        apply_layer(&mut listing, bytes).map_err(fault)?;
    }
    Ok(listing)
}

fn apply_layer(listing: &mut Listing, layer: &[u8]) -> std::io::Result<()> {
    use sha2::{Digest, Sha256};
    for entry in tar::Archive::new(layer).entries()? {
        let mut entry = entry?;
        let path = entry
            .path()?
            .display()
            .to_string()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (dir, name) = path
            .rsplit_once('/')
            .map(|(d, n)| (format!("{d}/"), n.to_string()))
            .unwrap_or((String::new(), path.clone()));
        if name == ".wh..wh..opq" {
            listing.retain(|p, _| !(p.starts_with(&dir) && p.len() > dir.len()));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let gone = format!("{dir}{hidden}");
            let under = format!("{gone}/");
            listing.retain(|p, _| *p != gone && !p.starts_with(&under));
            continue;
        }
        let header = entry.header().clone();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            _ => 'f',
        };
        let content = if kind == 'f' {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            Some(hex::encode(Sha256::digest(&bytes)))
        } else {
            None
        };
        let facts = FileFacts {
            kind,
            mode: header.mode()? & 0o7777,
            owner: (header.uid()?, header.gid()?),
            size: header.size()?,
            content,
            link: header.link_name()?.map(|l| l.display().to_string()),
        };
        if path.is_empty() {
            continue;
        }
        listing.insert(path, facts);
    }
    Ok(())
}

/// Differences between two listings, one line each (`path: what`), sorted.
pub fn compare_listings(cached: &Listing, fresh: &Listing) -> Vec<String> {
    let mut out = Vec::new();
    for (path, f) in fresh {
        match cached.get(path) {
            None => out.push(format!("{path}: missing from the cached image")),
            Some(c) if c != f => {
                let what = if c.content != f.content {
                    "content"
                } else if c.mode != f.mode {
                    "mode"
                } else if c.owner != f.owner {
                    "owner"
                } else if c.link != f.link {
                    "link target"
                } else if c.kind != f.kind {
                    "type"
                } else {
                    "size"
                };
                out.push(format!("{path}: {what} differs from a fresh build"));
            }
            _ => {}
        }
    }
    for path in cached.keys().filter(|p| !fresh.contains_key(*p)) {
        out.push(format!("{path}: only in the cached image"));
    }
    out
}

/// The filesystem of an image on an engine (`docker save`).
pub fn image_listing(engine: &Engine, image: &str) -> Result<Listing> {
    let archive = crate::engine::open(engine).save_image(image)?;
    listing_of_saved_image(&archive)
}

/// The engine a scenario's fresh builds run on (`--fresh-check`): `engine`'s kind on a host the
/// scenario does not use (none of `hosts`), so that their cache records never change what the
/// scenario's engines hold (a --no-cache build still records its steps, and the classic builder
/// then picks between equal candidates). None, with a warning said once per run, where every
/// such host is in use.
pub(crate) fn fresh_engine_for(
    inventory: &Inventory,
    engine: &Engine,
    hosts: &BTreeMap<String, Engine>,
) -> Option<Engine> {
    let fresh_engine = inventory
        .hosts
        .keys()
        .filter(|h| !hosts.values().any(|e| &e.host == *h))
        .find_map(|h| engine.on_host(inventory, h));
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if fresh_engine.is_none() && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "warning: no spare host with {} for --fresh-check in scenarios that use every such host: the check is skipped for those (said once)",
            engine.kind()
        );
    }
    fresh_engine
}

/// `fresh_differences`, where a failed check is no verdict and must not lose the run: a
/// warning, and no differences.
pub(crate) fn fresh_check(
    engine: &Engine,
    fresh: &Engine,
    build: &Build,
    tag: &str,
    (base_ref, salt): (&str, &str),
    created: &mut BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    fresh_differences(engine, fresh, build, tag, base_ref, salt, created).unwrap_or_else(|e| {
        eprintln!(
            "warning: fresh-build check of {tag} on {} skipped: {e}",
            engine.name
        );
        Vec::new()
    })
}

/// Builds the same input afresh on `fresh_engine` (`--no-cache`, a fresh context directory, so
/// no incremental sync state either) and compares the file listings of that image and `tag`.
fn fresh_differences(
    engine: &Engine,
    fresh_engine: &Engine,
    build: &Build,
    tag: &str,
    base_ref: &str,
    salt: &str,
    created: &mut BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>> {
    let fresh_tag = format!("{tag}-fresh");
    let mine = created.entry(fresh_engine.name.clone()).or_default();
    if !mine.iter().any(|r| r == base_ref) {
        mine.push(base_ref.to_string());
        engine::open(fresh_engine).ensure_base_image(base_ref, salt)?;
    }
    let options = BuildOptions {
        no_cache: true,
        push: None,
        cache_from: Vec::new(),
        inline_cache: false,
        ..build.options.clone()
    };
    created
        .entry(fresh_engine.name.clone())
        .or_default()
        .push(fresh_tag.clone());
    let request = BuildRequest {
        context: &build.context,
        options: &options,
        cache_from: Vec::new(),
        tag: fresh_tag.clone(),
        workdir: None,
    };
    let observation = engine::open(fresh_engine).build(&request)?;
    created
        .entry(fresh_engine.name.clone())
        .or_default()
        .extend(observation.intermediate_images.iter().cloned());
    if observation.error.is_some() || observation.indeterminate.is_some() {
        return Ok(Vec::new()); // no fresh image to compare with: no verdict
    }
    let cached = image_listing(engine, tag)?;
    let fresh = image_listing(fresh_engine, &fresh_tag)?;
    Ok(compare_listings(&cached, &fresh))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            h.set_size(content.len() as u64);
            h.set_path(path).unwrap();
            h.set_cksum();
            b.append(&h, *content).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_and_differences() {
        let mut listing = Listing::new();
        apply_layer(
            &mut listing,
            &layer(&[("a", b"1"), ("d/x", b"2"), ("d/y", b"3")]),
        )
        .unwrap();
        apply_layer(
            &mut listing,
            &layer(&[(".wh.a", b""), ("d/.wh..wh..opq", b""), ("d/z", b"4")]),
        )
        .unwrap();
        assert_eq!(listing.keys().collect::<Vec<_>>(), vec!["d/z"]);
        let mut fresh = listing.clone();
        fresh.get_mut("d/z").unwrap().content = Some("other".into());
        fresh.insert("n".into(), listing["d/z"].clone());
        assert_eq!(
            compare_listings(&listing, &fresh),
            vec![
                "d/z: content differs from a fresh build",
                "n: missing from the cached image"
            ]
        );
        assert!(compare_listings(&listing, &listing).is_empty());
    }
}
