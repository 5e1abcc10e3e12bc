//! Settings read from the environment (`CACHET_BUILD_TIMEOUT`, `CACHET_CALL_TIMEOUT`,
//! `CACHET_ENGINE_WAIT`): whole seconds, with defaults, checked before any work.

use std::time::Duration;

use crate::error::{Error, Result};

/// The settings read from the environment as whole seconds, with their defaults (what each
/// bounds: `build_timeout`, `call_timeout`, `run`'s engine wait).
pub const SECONDS_SETTINGS: [(&str, u64); 3] = [
    ("CACHET_BUILD_TIMEOUT", 300),
    ("CACHET_CALL_TIMEOUT", 120),
    ("CACHET_ENGINE_WAIT", 120),
];

fn default_seconds(name: &str) -> u64 {
    SECONDS_SETTINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, d)| *d)
}

/// `name`'s value in whole seconds, or its default (`SECONDS_SETTINGS`) when unset; a value that
/// is not a whole number of seconds is bad input (`check_environment` says so before any work).
pub fn env_seconds(name: &str) -> Result<Duration> {
    let default = default_seconds(name);
    match std::env::var(name) {
        Err(_) => Ok(Duration::from_secs(default)),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                Error::BadInput(format!(
                    "{name}=`{v}` is not a whole number of seconds (unset, it is {default})"
                ))
            }),
    }
}

/// `env_seconds`, its default where the value does not parse (the command line refused such a
/// value before any work: `check_environment`).
pub(crate) fn seconds_setting(name: &str) -> Duration {
    env_seconds(name).unwrap_or(Duration::from_secs(default_seconds(name)))
}

/// Every `SECONDS_SETTINGS` value parses, or the first that does not, as bad input.
pub fn check_environment() -> Result<()> {
    SECONDS_SETTINGS
        .iter()
        .try_for_each(|(name, _)| env_seconds(name).map(|_| ()))
}

/// How long one build may take before its outcome counts as unknown: 300 s, or
/// `CACHET_BUILD_TIMEOUT` seconds (read once per process).
pub(crate) fn build_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| seconds_setting("CACHET_BUILD_TIMEOUT"))
}

/// How long any other engine call may wait for its answer before the engine counts as not
/// answering: 120 s, or `CACHET_CALL_TIMEOUT` seconds. A daemon that stalled (SIGSTOP, a hung
/// storage driver) then costs the scenario in flight, and the run waits for it as for one that
/// went away.
pub(crate) fn call_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| seconds_setting("CACHET_CALL_TIMEOUT"))
}
