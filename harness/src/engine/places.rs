//! Where cachet finds and keeps things on the machine it runs on: the inventory, the lock files,
//! the docker CLI and, with no inventory, the engine endpoint. Root on a provisioned machine
//! uses `/run/cachet` (what `ci/engines up` writes); anyone else the XDG directories of their
//! home, the CLI on their PATH and their current `docker context`.

use std::path::{Path, PathBuf};

/// The inventory `ci/engines up` writes.
pub const SYSTEM_INVENTORY: &str = "/run/cachet/inventory.toml";
/// Where the docker CLI is looked for when it is not on the PATH.
pub const FALLBACK_CLI: &str = "/usr/bin/docker";

/// The inventory to read when `CACHET_INVENTORY` names none: the system's, else the user's
/// (`$XDG_CONFIG_HOME/cachet/inventory.toml`, `~/.config/cachet/inventory.toml`), whichever
/// exists first; none means the engine of `DOCKER_HOST` or the current docker context.
pub fn default_inventory() -> Option<PathBuf> {
    let user = config_home().map(|d| d.join("cachet").join("inventory.toml"));
    std::iter::once(PathBuf::from(SYSTEM_INVENTORY))
        .chain(user)
        .find(|p| p.is_file())
}

/// The directory for the endpoints' lock files: `/run/cachet/locks` where this user can write
/// there (root on a provisioned machine), else `$XDG_STATE_HOME/cachet/locks`
/// (`~/.local/state/cachet/locks`), else the temp dir's. Locks keep runs of one user (or of
/// root) apart; runs of different users on one endpoint do not see each other's.
pub fn lock_dir() -> PathBuf {
    lock_dir_in(Path::new("/run/cachet"), state_home())
}

/// `lock_dir` with the system directory and the state home given.
fn lock_dir_in(system: &Path, state: Option<PathBuf>) -> PathBuf {
    let candidates = std::iter::once(system.join("locks"))
        .filter(|_| system.is_dir())
        .chain(state.map(|s| s.join("cachet").join("locks")));
    for dir in candidates {
        if writable(&dir) {
            return dir;
        }
    }
    std::env::temp_dir().join("cachet-locks")
}

/// Whether `dir` exists or can be made, and a file can be made in it.
fn writable(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).is_ok()
        && std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".writable"))
            .is_ok()
}

/// The docker CLI: the first `docker` on `path` (the `PATH` variable's value) that is an
/// executable file, else `/usr/bin/docker`.
pub fn docker_cli(path: Option<&std::ffi::OsStr>) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    path.into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("docker"))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(FALLBACK_CLI))
}

/// The endpoint of the docker CLI's current context (`docker context inspect`), if the CLI is
/// there and answers with one. How Docker Desktop and rootless Docker are reached.
pub fn docker_context_endpoint(cli: &Path) -> Option<String> {
    let out = std::process::Command::new(cli)
        .args([
            "context",
            "inspect",
            "--format",
            "{{.Endpoints.docker.Host}}",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let host = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !host.is_empty()).then_some(host)
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
}

fn state_home() -> Option<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".local").join("state")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_cli_is_the_first_executable_docker_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, exe) = (dir.path().join("plain"), dir.path().join("exe"));
        for d in [&plain, &exe] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("docker"), "#!/bin/sh\n").unwrap();
        }
        std::fs::set_permissions(exe.join("docker"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::set_permissions(plain.join("docker"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let path = std::env::join_paths([dir.path().join("none"), plain, exe.clone()]).unwrap();
        assert_eq!(docker_cli(Some(&path)), exe.join("docker"));
        let nowhere = std::env::join_paths([dir.path().join("none")]).unwrap();
        assert_eq!(docker_cli(Some(&nowhere)), PathBuf::from(FALLBACK_CLI));
        assert_eq!(docker_cli(None), PathBuf::from(FALLBACK_CLI));
    }

    #[test]
    fn locks_go_where_this_user_can_write() {
        let dir = tempfile::tempdir().unwrap();
        let (system, state) = (dir.path().join("run"), dir.path().join("state"));
        // No system directory: the state home.
        assert_eq!(
            lock_dir_in(&system, Some(state.clone())),
            state.join("cachet/locks")
        );
        std::fs::create_dir(&system).unwrap();
        assert_eq!(
            lock_dir_in(&system, Some(state.clone())),
            system.join("locks")
        );
        // A system lock directory this user cannot write in (made by root; here a file where
        // the lock file would go, which fails the same way): the state home.
        let read_only = dir.path().join("ro");
        std::fs::create_dir_all(read_only.join("locks/.writable")).unwrap();
        assert_eq!(
            lock_dir_in(&read_only, Some(state.clone())),
            state.join("cachet/locks")
        );
        assert_eq!(
            lock_dir_in(&read_only, None),
            std::env::temp_dir().join("cachet-locks")
        );
    }

    #[test]
    fn a_cli_that_is_not_there_gives_no_context_endpoint() {
        assert_eq!(
            docker_context_endpoint(Path::new("/nonexistent/docker")),
            None
        );
        let dir = tempfile::tempdir().unwrap();
        let cli = dir.path().join("docker");
        std::fs::write(
            &cli,
            "#!/bin/sh\n[ \"$*\" = 'context inspect --format {{.Endpoints.docker.Host}}' ] || exit 1\n\
             echo unix:///run/user/1000/docker.sock\n",
        )
        .unwrap();
        std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            docker_context_endpoint(&cli).as_deref(),
            Some("unix:///run/user/1000/docker.sock")
        );
    }
}
