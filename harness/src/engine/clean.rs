//! `cachet clean`: removes what cachet made and a killed run left behind (images, containers,
//! pushed tags, context directories; build-cache records on request).
//!
//! Images are found by the label every image built on cachet's base inherits
//! (`engine::BASE_LABEL`) or by a cachet reference; nothing else on an engine is touched. An
//! endpoint another cachet run is using (its lock is held) is left alone, and so are the registry
//! and the temp directories unless every endpoint was free.

use std::collections::BTreeSet;

use crate::engine;
use crate::engine::inventory::Inventory;
use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct CleanSummary {
    /// Per endpoint: `(endpoint, images removed, containers removed, build-cache records removed)`.
    pub endpoints: Vec<(String, usize, usize, usize)>,
    /// Endpoints skipped because another cachet run holds them.
    pub busy: Vec<String>,
    /// Endpoints that did not answer, with the error.
    pub unreachable: Vec<(String, Error)>,
    pub registry_tags: usize,
    /// The registry did not answer (or refused a delete): the tags stay, the rest went on.
    pub registry_error: Option<Error>,
    pub temp_dirs: usize,
}

/// Cleans every endpoint of the inventory. `build_cache`: also prune every build-cache record on
/// Docker endpoints (records carry no labels, so this is all of them: for engines cachet owns).
pub fn clean(inventory: &Inventory, build_cache: bool) -> Result<CleanSummary> {
    let mut summary = CleanSummary::default();
    let mut seen = BTreeSet::new();
    let mut locks = Vec::new();
    for engine in inventory.engines() {
        if !seen.insert(engine.endpoint.clone()) {
            continue;
        }
        let lock = engine::guard::endpoint_lock(&engine.endpoint)?;
        if !engine::guard::lock_exclusively(&lock, &engine.endpoint)? {
            summary.busy.push(engine.endpoint.clone());
            continue;
        }
        locks.push(lock);
        let door = engine::open(&engine);
        let (images, containers) = match door.cachet_resources() {
            Ok(found) => found,
            Err(e) => {
                summary.unreachable.push((engine.endpoint.clone(), e));
                continue;
            }
        };
        door.remove_containers(&containers)?;
        // Children before their parents (the list is so ordered, and `remove_images` takes the
        // last first); a second pass picks up what the first one freed.
        let mut left = images.clone();
        for _ in 0..4 {
            if left.is_empty() {
                break;
            }
            let oldest_first: Vec<String> = left.iter().rev().cloned().collect();
            door.remove_images(&oldest_first)?;
            let (after, _) = door.cachet_resources()?;
            let progress = after.len() < left.len();
            left = after;
            if !progress {
                break;
            }
        }
        let records = if build_cache && engine.builder() != models::Builder::Buildah {
            door.prune_build_cache(&BTreeSet::new())?
        } else {
            0
        };
        summary.endpoints.push((
            engine.endpoint.clone(),
            images.len().saturating_sub(left.len()),
            containers.len(),
            records,
        ));
    }
    if summary.busy.is_empty() {
        if let Some(registry) = &inventory.registry {
            let deleted =
                engine::registry::cachet_registry_references(registry).and_then(|references| {
                    references.iter().try_for_each(|reference| {
                        engine::registry::delete_from_registry(reference)?;
                        summary.registry_tags += 1;
                        Ok(())
                    })
                });
            summary.registry_error = deleted.err();
        }
        summary.temp_dirs = remove_context_dirs()?;
    }
    drop(locks);
    Ok(summary)
}

/// Context directories cachet makes in the temp dir (`cachet-SALT-HOST-…`, `cachet-ctx-…`).
fn remove_context_dirs() -> Result<usize> {
    let dir = std::env::temp_dir();
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Read {
        path: dir.clone(),
        source,
    })?;
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("cachet-") && name != "cachet-locks";
        if ours && entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(entry.path()).map_err(|source| Error::Write {
                path: entry.path(),
                source,
            })?;
            removed += 1;
        }
    }
    Ok(removed)
}
