//! Build-cache records: listing and pruning them on a Docker engine (through the docker CLI).
//! The guard a run keeps over them is `engine::guard`.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use models::Builder;

use super::client::{docker_cli, says_unreachable, unavailable};
use crate::engine::inventory::Engine;
use crate::error::{Error, Result};

/// The ids of the BuildKit build-cache records a Docker engine holds.
pub(crate) fn build_cache_ids(engine: &Engine) -> Result<BTreeSet<String>> {
    Ok(build_cache_records(engine)?
        .iter()
        .filter_map(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_string))
        .collect())
}

/// The records only a garbage collection removes: committed (`regular`) layers and the results
/// of steps, not the mutable ones in use (an id ending in `*`) nor the context transfers
/// (`local source`, `http url` of an uploaded tar), which BuildKit replaces build by build.
pub fn durable_build_cache_ids(engine: &Engine) -> Result<BTreeSet<String>> {
    Ok(build_cache_records(engine)?
        .iter()
        .filter(|r| r.get("CacheType").and_then(|v| v.as_str()) == Some("regular"))
        .filter(|r| {
            let description = r.get("Description").and_then(|v| v.as_str()).unwrap_or("");
            !description.starts_with("local source") && !description.starts_with("http url")
        })
        .filter_map(|r| r.get("ID").and_then(|v| v.as_str()))
        .filter(|id| !id.ends_with('*'))
        .map(str::to_string)
        .collect())
}

/// The build-cache records as `docker system df -v` lists them (none for Podman, whose layers
/// are images). Read through the docker CLI: Engine 20.10 answers `/system/df` in a shape older
/// than the one bollard parses.
pub(crate) fn build_cache_records(engine: &Engine) -> Result<Vec<serde_json::Value>> {
    if engine.builder() == Builder::Buildah {
        return Ok(Vec::new());
    }
    // The daemon runs one disk-usage scan at a time and refuses a second meanwhile: wait.
    let mut attempt = 0;
    let output = loop {
        let output = docker_cli(engine)
            .args(["system", "df", "-v", "--format", "{{json .BuildCache}}"])
            .output()
            .map_err(|e| Error::EngineCall(format!("running {}: {e}", engine.cli)))?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if output.status.success() {
            break output;
        }
        attempt += 1;
        // A record removed while the scan runs makes it fail ("snapshot ... does not exist",
        // seen on the containerd store): the next scan does not meet it.
        let transient = stderr.contains("already running") || stderr.contains("does not exist");
        if transient && attempt < 50 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        return Err(if says_unreachable(&stderr) {
            unavailable(engine, stderr)
        } else {
            Error::EngineCall(format!("listing build cache on {}: {stderr}", engine.name))
        });
    };
    Ok(serde_json::from_slice(&output.stdout).unwrap_or_default())
}

/// Removes the build-cache records that are not in `keep` (those a run created), children before
/// parents; returns how many went. Records still in use stay and are reported by the next count.
pub(crate) fn prune_build_cache(engine: &Engine, keep: &BTreeSet<String>) -> Result<usize> {
    let added = |ids: BTreeSet<String>| -> Vec<String> {
        ids.into_iter()
            .filter(|id| !keep.contains(id) && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect()
    };
    let current = build_cache_ids(engine)?;
    let keeps_none = current.iter().all(|id| !keep.contains(id));
    let mut extra = added(current);
    let mut removed = 0;
    if keeps_none && !extra.is_empty() {
        // Nothing to keep is left: one prune without a filter takes the lot. An id filter costs
        // the daemon about ten times as much per record (Engine 20.10: 5,393 records in 26 s
        // unfiltered, 500 in 28 s by id), and a corpus run leaves thousands.
        prune_call(engine, None)?;
        let left = added(build_cache_ids(engine)?);
        removed += extra.len().saturating_sub(left.len());
        extra = left;
    }
    // A parent record goes only once its children have; a chain needs a pass per level. Each
    // pass lists the records once: what is left after it is the next pass's work.
    for _ in 0..8 {
        if extra.is_empty() {
            break;
        }
        prune_ids(engine, &extra)?;
        let left = added(build_cache_ids(engine)?);
        removed += extra.len().saturating_sub(left.len());
        if left.len() >= extra.len() {
            break;
        }
        extra = left;
    }
    Ok(removed)
}

/// Prunes the records `ids` by exact id, `PRUNE_BATCH` at a time. The daemon matches `id` as a
/// regular expression (moby builder-next: `id~=`), so each call's alternation is anchored.
pub(crate) fn prune_ids(engine: &Engine, ids: &[String]) -> Result<()> {
    for batch in ids.chunks(PRUNE_BATCH) {
        prune_call(engine, Some(&format!("id=^({})$", batch.join("|"))))?;
    }
    Ok(())
}

/// One `docker builder prune --all --force`, with `filter` if given.
fn prune_call(engine: &Engine, filter: Option<&str>) -> Result<()> {
    let mut command = docker_cli(engine);
    command.args(["builder", "prune", "--all", "--force"]);
    if let Some(filter) = filter {
        command.args(["--filter", filter]);
    }
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::EngineCall(format!("running {}: {e}", engine.cli)))?;
    if !status.status.success() {
        return Err(Error::EngineCall(format!(
            "pruning build cache on {}: {}",
            engine.name,
            String::from_utf8_lossy(&status.stderr).trim()
        )));
    }
    Ok(())
}

/// Build-cache records to remove per prune call: the daemon matches the `id` filter as one
/// regular expression against every record it holds, pass after pass, so one alternation of
/// thousands of ids costs it minutes (Engine 28.5: over 33 min for a run's records), while a few
/// hundred records in calls of this size go at the daemon's own pace (about 36 ms a record).
pub(crate) const PRUNE_BATCH: usize = 100;
