//! What scenarios left on engines that did not answer their cleanup, or that a fault ended: kept
//! until the engine answers, swept by salt, and swept again at the run's end.

use crate::engine::inventory::Engine;
use crate::engine::{self};
use crate::error::Result;

/// What a scenario left on an engine that did not answer its cleanup, or that a fault ended:
/// its salt (every image and container built on its base carries it) and its tags.
#[derive(Clone, Debug)]
pub struct Leftover {
    pub engine: Engine,
    pub salt: String,
    pub refs: Vec<String>,
}

/// Leftovers not yet removed, and those removed once (`SWEPT`): a build the engine went on with
/// after its client gave up (a stalled daemon, continued) can still add an image under a salt
/// already swept, so the run sweeps those salts again once no build of its own is in flight.
static UNCLEAN: std::sync::Mutex<Vec<Leftover>> = std::sync::Mutex::new(Vec::new());
static SWEPT: std::sync::Mutex<Vec<Leftover>> = std::sync::Mutex::new(Vec::new());

fn locked<T>(m: &'static std::sync::Mutex<T>) -> std::sync::MutexGuard<'static, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The leftovers on `endpoint` (all of them with `None`), taken off the list: the caller removes
/// them once the engine answers again, and puts back (`keep_unclean`) what it could not.
pub fn take_unclean(endpoint: Option<&str>) -> Vec<Leftover> {
    let mut all = locked(&UNCLEAN);
    let (mine, rest): (Vec<_>, Vec<_>) = all
        .drain(..)
        .partition(|l| endpoint.is_none_or(|e| l.engine.endpoint == e));
    *all = rest;
    mine
}

/// Puts a scenario on the list of what `engine` still holds (its removal met the engine down, or
/// a fault ended the scenario): nothing taken off the list is forgotten.
pub fn keep_unclean(engine: &Engine, salt: &str, refs: Vec<String>) {
    locked(&UNCLEAN).push(Leftover {
        engine: engine.clone(),
        salt: salt.to_string(),
        refs,
    });
}

/// Records a leftover as removed, for the run's last sweep (`take_swept`).
pub fn swept(leftover: Leftover) {
    locked(&SWEPT).push(leftover);
}

/// Every leftover removed so far, taken off that record.
pub fn take_swept() -> Vec<Leftover> {
    std::mem::take(&mut *locked(&SWEPT))
}

/// Removes one scenario's images and containers: its tags (`refs`), then what its salt's label
/// marks (a killed build's container, a classic builder's intermediate images), pass after pass
/// while each pass removes something (an image still in use by a container or child goes next
/// pass). How many stay (a daemon that refuses, as on a full disk); an error if it stops
/// answering.
pub fn sweep_salt(door: &dyn engine::Door, salt: &str, refs: &[String]) -> Result<usize> {
    door.remove_images(refs)?;
    let mut left = usize::MAX;
    loop {
        let (images, containers) = door.salted_resources(salt)?;
        let now = images.len() + containers.len();
        if now == 0 || now >= left {
            return Ok(now);
        }
        left = now;
        door.remove_containers(&containers)?;
        // Children first: `remove_images` takes the last first.
        door.remove_images(&images.into_iter().rev().collect::<Vec<_>>())?;
    }
}
