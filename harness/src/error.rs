//! Harness errors and the exit codes they map to.
//!
//! Exit codes (documented in the README): 0 no unexplained discrepancy, 1 nonconformance found,
//! 2 bad input or usage, 3 engine unavailable, 4 harness fault (cachet's own failure, such as an
//! output it cannot write mid-run): three different things to do about them, so three codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("engine `{engine}` at {endpoint} is not reachable: {detail}\n  start the local engines with `bash ci/engines up` (as root), or point the inventory at a running one")]
    EngineUnavailable {
        engine: String,
        endpoint: String,
        detail: String,
    },
    /// The engine answers but cannot do the work for a reason of its own, not cachet's and not a
    /// cache rule's (its disk is full): the scenario in flight is lost, the run goes on.
    #[error("engine `{engine}` at {endpoint}: {fault}: {detail}")]
    EngineFault {
        engine: String,
        endpoint: String,
        fault: Fault,
        detail: String,
    },
    #[error("unknown engine `{0}`; `cachet engines` lists the engines of the inventory")]
    UnknownEngine(String),
    #[error("bad case file {path}:{line}: {reason}")]
    BadCase {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// cachet's own failure (a temp dir, serialising a report, a worker that panicked).
    #[error("harness fault: {0}")]
    Harness(String),
    /// An engine, its CLI or the registry answered a call with an error that is neither
    /// unreachability nor a fault cachet knows (`Fault`): a refused push, a tag, a prune. The
    /// door's wrapper (`engine::traced`) turns one that names a fault, or that timed out, into
    /// `EngineFault` or `EngineUnavailable`.
    #[error("engine call failed: {0}")]
    EngineCall(String),
    /// The harness could not lay out a scenario's input on this machine (the kernel refused an
    /// xattr, an owner, a time): the scenario is lost with this reason and a run goes on.
    #[error("cannot set up the scenario's context: {0}")]
    Setup(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadCase { .. }
            | Error::BadInput(_)
            | Error::UnknownEngine(_)
            | Error::Read { .. } => 2,
            Error::EngineUnavailable { .. } | Error::EngineFault { .. } => EXIT_UNAVAILABLE,
            Error::Write { .. } | Error::Harness(_) | Error::EngineCall(_) | Error::Setup(_) => {
                EXIT_HARNESS_FAULT
            }
        }
    }
}

/// What went wrong on an engine that still answers, told from its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// "no space left on device": its data-root (or a registry's storage) is full.
    OutOfDisk,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Fault::OutOfDisk => "out of disk",
        })
    }
}

impl Fault {
    /// The fault an engine's message names, if any. The words are the kernel's (`ENOSPC`'s
    /// strerror), which dockerd, BuildKit, containerd and Podman all pass through.
    pub fn of_message(message: &str) -> Option<Fault> {
        message
            .to_ascii_lowercase()
            .contains("no space left on device")
            .then_some(Fault::OutOfDisk)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const EXIT_OK: i32 = 0;
pub const EXIT_NONCONFORMANCE: i32 = 1;
/// `cachet explain`'s 1: the next build fails on a profile asked for (the frontend refuses it).
pub const EXIT_BUILD_FAILS: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_UNAVAILABLE: i32 = 3;
pub const EXIT_HARNESS_FAULT: i32 = 4;
