//! The guard a run keeps over build-cache records: a snapshot of the records each endpoint held
//! before the run, a shared lock per endpoint, the removal of what the run added once its last
//! build is done (`restore_build_cache`), and the reaping of finished scenarios' records while
//! the run goes on (`reap`). `cachet clean` takes the same locks exclusively.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use models::Builder;

use crate::engine::cache::{build_cache_records, prune_ids};
use crate::engine::inventory::Engine;
use crate::error::{Error, Result};

/// The build-cache records each Docker endpoint held before a run, so the run can remove the ones
/// it added (cache records carry no labels; a salted scenario never reuses another's records).
#[derive(Clone, Debug, Default)]
pub struct BuildCacheSnapshot {
    by_endpoint: BTreeMap<String, (Engine, BTreeSet<String>)>,
    /// A shared lock per endpoint for the life of the run: cleanup (this run's, or `cachet clean`)
    /// takes it exclusively, so nothing removes what another cachet run still going there uses.
    locks: BTreeMap<String, std::sync::Arc<std::fs::File>>,
    /// Endpoints some BuildKit engine of the run builds on: the only ones whose records grow
    /// during the run (`reap` lists no other).
    buildkit: BTreeSet<String>,
}

/// The lock file of an endpoint (`engine::places::lock_dir`).
pub fn endpoint_lock(endpoint: &str) -> Result<std::fs::File> {
    let dir = crate::engine::places::lock_dir();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let path = dir.join(format!(
        "{:016x}.lock",
        models::fingerprint::fingerprint(&endpoint)
    ));
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Write { path, source })
}

/// Takes an endpoint's lock exclusively if no other cachet run holds it: `Ok(false)` when one does.
pub fn lock_exclusively(lock: &std::fs::File, endpoint: &str) -> Result<bool> {
    match lock.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::Harness(format!("locking {endpoint}: {e}")))
        }
    }
}

/// Records the build-cache ids of every endpoint the engines use (once per endpoint).
pub fn snapshot_build_cache(engines: &[Engine]) -> Result<BuildCacheSnapshot> {
    let mut snapshot = BuildCacheSnapshot::default();
    for engine in engines {
        if engine.builder() == Builder::BuildKit {
            snapshot.buildkit.insert(engine.endpoint.clone());
        }
        if !snapshot.locks.contains_key(&engine.endpoint) {
            // Podman's endpoint too: `cachet clean` must not remove what a run is using.
            let lock = endpoint_lock(&engine.endpoint)?;
            lock.lock_shared()
                .map_err(|e| Error::Harness(format!("locking {}: {e}", engine.endpoint)))?;
            snapshot
                .locks
                .insert(engine.endpoint.clone(), std::sync::Arc::new(lock));
        }
        // Podman keeps its layers as images (no records), but a model engine keeps records for
        // every profile.
        if snapshot.by_endpoint.contains_key(&engine.endpoint)
            || (engine.builder() == models::Builder::Buildah && !engine.is_model())
        {
            continue;
        }
        let ids = crate::engine::open(engine).build_cache_ids()?;
        snapshot
            .by_endpoint
            .insert(engine.endpoint.clone(), (engine.clone(), ids));
    }
    Ok(snapshot)
}

/// Removes the build-cache records added since `snapshot`; returns how many went. Call it when no
/// build of the run is in flight: a record another build is about to reuse would go too. The
/// endpoints are pruned side by side, each on its own thread: a prune is the daemon's work, and
/// one daemon's prune of a thousand records takes tens of seconds.
pub fn restore_build_cache(snapshot: &BuildCacheSnapshot) -> Result<usize> {
    let removed: Vec<Result<usize>> = std::thread::scope(|scope| {
        let pruning: Vec<_> = snapshot
            .by_endpoint
            .iter()
            .map(|(endpoint, (engine, keep))| {
                scope.spawn(move || restore_endpoint(snapshot, endpoint, engine, keep))
            })
            .collect();
        pruning
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(Error::Harness("a build-cache prune panicked".into())))
            })
            .collect()
    });
    // Every endpoint's failure is said; the first is the result.
    let failures: Vec<&Error> = removed.iter().filter_map(|r| r.as_ref().err()).collect();
    for e in failures.iter().skip(1) {
        eprintln!("warning: build-cache cleanup: {e}");
    }
    removed.into_iter().sum()
}

/// `restore_build_cache` on one endpoint: nothing when another run holds it.
fn restore_endpoint(
    snapshot: &BuildCacheSnapshot,
    endpoint: &str,
    engine: &Engine,
    keep: &BTreeSet<String>,
) -> Result<usize> {
    let lock = snapshot.locks.get(endpoint);
    if let Some(lock) = lock {
        if !lock_exclusively(lock, endpoint)? {
            eprintln!(
                "note: another cachet run is using {endpoint}: the build-cache records this run added stay (the last run to end removes what it can)"
            );
            return Ok(0);
        }
    }
    let removed = crate::engine::open(engine).prune_build_cache(keep);
    if let Some(lock) = lock {
        let _ = lock.lock_shared();
    }
    removed
}

/// How many build-cache records each endpoint of the snapshot holds now.
pub fn build_cache_counts(snapshot: &BuildCacheSnapshot) -> Result<BTreeMap<String, usize>> {
    snapshot
        .by_endpoint
        .iter()
        .map(|(endpoint, (engine, _))| {
            Ok((
                endpoint.clone(),
                crate::engine::open(engine).build_cache_ids()?.len(),
            ))
        })
        .collect()
}

impl BuildCacheSnapshot {
    /// Record counts at snapshot time, per endpoint.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.by_endpoint
            .iter()
            .map(|(endpoint, (_, ids))| (endpoint.clone(), ids.len()))
            .collect()
    }
}

/// Scenarios in flight and when each started: a build-cache record made since the oldest start
/// may be one of theirs, and stays until they end.
static IN_FLIGHT: std::sync::Mutex<Vec<(u64, std::time::SystemTime)>> =
    std::sync::Mutex::new(Vec::new());
static NEXT_FLIGHT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How far before the oldest in-flight scenario's start a record must have been made to be
/// reaped: room for a daemon clock a little ahead of ours (every host here shares one kernel
/// clock; an ssh host may not).
const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// A scenario in flight, from `scenario_started` until dropped.
pub struct InFlight(u64);

/// Marks a scenario as started: until the guard drops, `reap` leaves every record made since.
pub fn scenario_started() -> InFlight {
    let token = NEXT_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    in_flight().push((token, std::time::SystemTime::now()));
    InFlight(token)
}

impl Drop for InFlight {
    fn drop(&mut self) {
        in_flight().retain(|(t, _)| *t != self.0);
    }
}

fn in_flight() -> std::sync::MutexGuard<'static, Vec<(u64, std::time::SystemTime)>> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the epoch of a record's `CreatedAt` as the docker CLI prints it
/// (`2026-12-07 02:58:13.152286595 +0000 UTC`, Go's `time.Time.String()`).
pub(crate) fn created_at(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    let (date, time, offset) = (words.next()?, words.next()?, words.next()?);
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.splitn(3, ':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let s: f64 = t.next()?.parse().ok()?;
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hhmm: i64 = offset.get(1..5)?.parse().ok()?;
    let offset_s = sign * (hhmm / 100 * 3600 + hhmm % 100 * 60);
    // Days from 1970-01-01 of a proleptic Gregorian date (March-based year).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + min * 60 - offset_s) as f64 + s)
}

/// The records a reap may remove now: made by this run (not in `keep`), not in use, and made
/// before `cutoff` (seconds since the epoch), deepest first so each batch's records have no
/// children left.
fn reapable(records: &[serde_json::Value], keep: &BTreeSet<String>, cutoff: f64) -> Vec<String> {
    let field = |r: &serde_json::Value, name: &str| -> String {
        r.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let parent: BTreeMap<String, String> = records
        .iter()
        .map(|r| (field(r, "ID"), field(r, "Parent")))
        .collect();
    let depth = |id: &str| {
        let (mut at, mut n) = (id.to_string(), 0);
        while let Some(p) = parent.get(&at).filter(|p| !p.is_empty() && n < 64) {
            at = p.clone();
            n += 1;
        }
        n
    };
    let mut ids: Vec<(usize, String)> = records
        .iter()
        .filter(|r| field(r, "InUse") != "true")
        .filter(|r| created_at(&field(r, "CreatedAt")).is_some_and(|t| t < cutoff))
        .map(|r| field(r, "ID"))
        .filter(|id| !keep.contains(id) && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|id| (depth(&id), id))
        .collect();
    ids.sort_by(|a, b| b.cmp(a));
    ids.into_iter().map(|(_, id)| id).collect()
}

/// Removes, on every Docker endpoint of `snapshot` no other cachet run is using, the records
/// this run made that no scenario in flight can still need (made before the oldest in-flight
/// scenario started), in batches of `PRUNE_BATCH` exact ids; returns how many went. Called after
/// each scenario, so a run's records go as it goes and its end has only the last ones left.
pub fn reap(snapshot: &BuildCacheSnapshot) -> Result<usize> {
    let now = std::time::SystemTime::now();
    let oldest = in_flight().iter().map(|(_, t)| *t).min().unwrap_or(now);
    let cutoff = oldest
        .checked_sub(CLOCK_MARGIN)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0.0, |d| d.as_secs_f64());
    let mut removed = 0;
    for (endpoint, (engine, keep)) in &snapshot.by_endpoint {
        if engine.is_model() || !snapshot.buildkit.contains(endpoint) {
            continue;
        }
        if let Some(lock) = snapshot.locks.get(endpoint) {
            if !lock_exclusively(lock, endpoint)? {
                continue;
            }
        }
        let outcome = build_cache_records(engine).and_then(|records| {
            let ids = reapable(&records, keep, cutoff);
            prune_ids(engine, &ids)?;
            Ok(ids.len())
        });
        if let Some(lock) = snapshot.locks.get(endpoint) {
            let _ = lock.lock_shared();
        }
        removed += outcome?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_reads_the_cli_s_time_in_any_zone() {
        assert_eq!(created_at("1970-01-01 00:00:00 +0000 UTC"), Some(0.0));
        let t = created_at("2026-12-07 02:58:13.5 +0000 UTC").unwrap();
        assert_eq!(t, 1_796_612_293.5);
        assert_eq!(created_at("2026-12-07 03:58:13.5 +0100 CET"), Some(t));
        assert_eq!(created_at("2026-12-06 21:58:13.5 -0500 EST"), Some(t));
        assert_eq!(created_at("yesterday"), None);
    }

    #[test]
    fn a_reap_takes_only_the_run_s_settled_records_deepest_first() {
        let record = |id: &str, parent: &str, at: &str, in_use: &str| serde_json::json!({"ID": id, "Parent": parent, "CreatedAt": at, "InUse": in_use});
        let early = "2026-12-07 02:00:00 +0000 UTC";
        let late = "2026-12-07 03:00:00 +0000 UTC";
        let records = vec![
            record("root", "", early, "false"),
            record("child", "root", early, "false"),
            record("grandchild", "child", early, "false"),
            record("theirs", "", early, "false"),
            record("busy", "root", early, "true"),
            record("fresh", "root", late, "false"),
            record("mutable*", "", early, "false"),
        ];
        let keep = BTreeSet::from(["theirs".to_string()]);
        let cutoff = created_at("2026-12-07 02:30:00 +0000 UTC").unwrap();
        assert_eq!(
            reapable(&records, &keep, cutoff),
            vec!["grandchild", "child", "root"]
        );
    }
}
