//! Connections to an engine: a bollard client for the Docker-compatible API (unix, TLS, ssh), the
//! docker CLI aimed at the same endpoint, and the version probes.
//!
//! Every call builds its own current-thread runtime and client: a BuildKit session otherwise
//! leaves a `/session` connection and a daemon task open until the process exits (30 builds:
//! 30 more open connections, measured on Docker 20.10).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bollard::Docker;

use crate::engine::doors::DoorKind;
use crate::engine::inventory::{CliFacts, CliSetup, Engine};
use crate::error::{Error, Result};

pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime always builds")
        .block_on(future)
}

pub(crate) fn unavailable(engine: &Engine, detail: impl std::fmt::Display) -> Error {
    Error::EngineUnavailable {
        engine: engine.name.clone(),
        endpoint: engine.endpoint.clone(),
        detail: detail.to_string(),
    }
}

/// A client for every call but a build: a request that gets no answer within
/// `call_timeout()` (a daemon that stalled) fails as unreachable instead of hanging the run.
pub(crate) fn client(engine: &Engine) -> Result<Docker> {
    connect(engine, crate::engine::settings::call_timeout().as_secs())
}

/// A client for a build, whose own deadline is `build_timeout()` around the whole stream: the
/// request itself may wait as long.
pub(crate) fn build_client(engine: &Engine) -> Result<Docker> {
    connect(
        engine,
        crate::engine::settings::build_timeout().as_secs().max(600),
    )
}

fn connect(engine: &Engine, timeout: u64) -> Result<Docker> {
    let endpoint = &engine.endpoint;
    let result = if let Some(path) = endpoint.strip_prefix("unix://") {
        Docker::connect_with_unix(path, timeout, bollard::API_DEFAULT_VERSION)
    } else if let (Some(dir), true) = (&engine.tls_dir, endpoint.starts_with("tcp://")) {
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            if !dir.join(file).is_file() {
                return Err(unavailable(
                    engine,
                    format!("TLS: {} is missing", dir.join(file).display()),
                ));
            }
        }
        Docker::connect_with_ssl(
            endpoint,
            &dir.join("key.pem"),
            &dir.join("cert.pem"),
            &dir.join("ca.pem"),
            timeout,
            bollard::API_DEFAULT_VERSION,
        )
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, timeout, bollard::API_DEFAULT_VERSION)
    } else if endpoint.starts_with("ssh://") {
        // The system's ssh runs `docker system dial-stdio` on the remote host, as the docker CLI
        // does for the same endpoint: user, port, key and known hosts come from the ssh config.
        Docker::connect_with_ssh(endpoint, timeout, bollard::API_DEFAULT_VERSION, None)
    } else {
        return Err(unavailable(
            engine,
            "only unix://, tcp:// and ssh:// endpoints are supported",
        ));
    };
    result.map_err(|e| unavailable(engine, e))
}

/// The docker CLI aimed at the engine's endpoint, with its TLS material when it has some.
pub(crate) fn docker_cli(engine: &Engine) -> Command {
    let line = global_args(
        Arg::lit(&engine.cli),
        Arg::lit(&engine.endpoint),
        engine.tls_dir.as_deref(),
    );
    let mut command = Command::new(line[0].as_literal());
    command.args(line[1..].iter().map(Arg::as_literal));
    if let Some(dir) = &engine.docker_config {
        command.env("DOCKER_CONFIG", dir);
    }
    command
}

/// The engine's CLI, run with its host's `DOCKER_CONFIG` (no endpoint).
pub(crate) fn cli_setup(engine: &Engine) -> CliSetup {
    CliSetup {
        cli: engine.cli.clone().into(),
        docker_config: engine.docker_config.clone(),
    }
}

/// A command running the CLI of `setup` with its `DOCKER_CONFIG`, output captured, no input.
fn plain_cli(setup: &CliSetup, args: &[&str]) -> Option<String> {
    let mut command = Command::new(&setup.cli);
    command
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = &setup.docker_config {
        command.env("DOCKER_CONFIG", dir);
    }
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether the docker CLI's words say it could not reach the engine (rather than that a build or
/// command failed there).
pub(crate) fn says_unreachable(cli_output: &str) -> bool {
    cli_output.contains("Cannot connect") || cli_output.contains("connection refused")
}

/// The daemon's version if it answers within 5 s.
pub(crate) fn daemon_version(engine: &Engine) -> Result<String> {
    let docker = client(engine)?;
    block_on(async {
        let ping = tokio::time::timeout(Duration::from_secs(5), docker.version()).await;
        match ping {
            Ok(Ok(v)) => Ok(v.version.unwrap_or_else(|| "unknown".to_string())),
            Ok(Err(e)) => Err(unavailable(engine, e)),
            Err(_) => Err(unavailable(engine, "no answer within 5 s")),
        }
    })
}

/// The daemon's version, then for a buildx engine the plugin's version
/// (`20.10.24+dfsg1 buildx 0.13.1+ds1`), since its client half does the context sync.
pub(crate) fn engine_version(engine: &Engine) -> Result<String> {
    let daemon = daemon_version(engine)?;
    if engine.door != DoorKind::Buildx {
        return Ok(daemon);
    }
    let plugin = buildx_version(&cli_setup(engine)).ok_or_else(|| {
        unavailable(
            engine,
            format!(
                "{} has no buildx plugin (`docker buildx version` fails); `ci/engines up` installs it",
                engine.cli
            ),
        )
    })?;
    Ok(format!("{daemon} buildx {plugin}"))
}

/// What `cachet engines` shows of an engine: the daemon's version, and for CLI doors the CLI's
/// (`docker --version`) and, through buildx, the plugin's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineVersions {
    pub daemon: String,
    pub cli: Option<String>,
    pub buildx: Option<String>,
}

/// The daemon's version, and for a CLI door its CLI's and (buildx) plugin's.
pub(crate) fn engine_versions(engine: &Engine) -> Result<EngineVersions> {
    let daemon = daemon_version(engine)?;
    let cli = (engine.transport() == models::Transport::Cli)
        .then(|| cli_version(&cli_setup(engine)).unwrap_or_else(|| "-".to_string()));
    let buildx = (engine.door == DoorKind::Buildx)
        .then(|| buildx_version(&cli_setup(engine)).unwrap_or_else(|| "-".to_string()));
    Ok(EngineVersions {
        daemon,
        cli,
        buildx,
    })
}

/// The buildx plugin's version as `docker buildx version` prints it (`github.com/docker/buildx
/// 0.13.1+ds1 0.13.1+ds1-3` gives `0.13.1+ds1`), or `None` when the CLI has no plugin.
pub fn buildx_version(setup: &CliSetup) -> Option<String> {
    let text = plain_cli(setup, &["buildx", "version"])?;
    Some(crate::engine::observe::buildx_version_word(&text))
}

/// The CLI's own version as `docker --version` prints it (`Docker version 28.5.2+dfsg4, build
/// 9c2b0b8` gives `28.5.2+dfsg4`), or `None` when it does not run.
pub fn cli_version(setup: &CliSetup) -> Option<String> {
    let text = plain_cli(setup, &["--version"])?;
    crate::engine::observe::cli_version_word(&text)
}

/// What a CLI has: the buildx plugin, and a built-in BuildKit client (a CLI before 23.0; from
/// 23.0 `DOCKER_BUILDKIT=1 docker build` runs buildx). The probe `Inventory::load_with` is
/// given; asked once per CLI and config.
pub fn cli_facts(setup: &CliSetup) -> CliFacts {
    static ASKED: std::sync::Mutex<std::collections::BTreeMap<CliSetup, CliFacts>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut asked = ASKED.lock().unwrap_or_else(|e| e.into_inner());
    *asked.entry(setup.clone()).or_insert_with(|| CliFacts {
        buildx: buildx_version(setup).is_some(),
        builtin_buildkit: cli_version(setup)
            .map(|v| crate::engine::versions::Version::parse(&v).is_some_and(|v| v.major() < 23))
            .unwrap_or(true),
    })
}

/// One word of a command line: a literal, or a shell expression a script expands (`$HOST_A`,
/// `$ctx/Dockerfile`). Only the reproducer makes the latter; the door runs literals only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    Lit(String),
    Shell(String),
}

impl Arg {
    pub fn lit(s: impl Into<String>) -> Arg {
        Arg::Lit(s.into())
    }
    pub fn shell(s: impl Into<String>) -> Arg {
        Arg::Shell(s.into())
    }
    /// The word as a process receives it (a shell expression's text as written).
    pub fn as_literal(&self) -> &str {
        match self {
            Arg::Lit(s) | Arg::Shell(s) => s,
        }
    }
    /// The word followed by `suffix`, of the same kind.
    pub(crate) fn followed_by(&self, suffix: &str) -> Arg {
        match self {
            Arg::Lit(s) => Arg::Lit(format!("{s}{suffix}")),
            Arg::Shell(s) => Arg::Shell(format!("{s}{suffix}")),
        }
    }
    /// The word in a shell script: a literal bare when it is safe so, else single-quoted; a shell
    /// expression double-quoted, so it expands to one word.
    pub fn render(&self) -> String {
        match self {
            Arg::Lit(s)
                if !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) =>
            {
                s.clone()
            }
            Arg::Lit(s) => format!("'{}'", s.replace('\'', "'\\''")),
            Arg::Shell(s) => format!("\"{s}\""),
        }
    }
}

/// A process to run: its words and the environment it adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    pub argv: Vec<Arg>,
    pub env: Vec<(String, String)>,
}

impl CommandLine {
    /// As one line of shell: `VAR=value ... word ...`.
    pub fn render(&self) -> String {
        self.env
            .iter()
            .map(|(k, v)| format!("{k}={}", Arg::lit(v).render()))
            .chain(self.argv.iter().map(Arg::render))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `CLI -H ENDPOINT [--tlsverify ...]`: the words every CLI call starts with.
pub fn global_args(cli: Arg, endpoint: Arg, tls_dir: Option<&Path>) -> Vec<Arg> {
    let mut argv = vec![cli, Arg::lit("-H"), endpoint];
    if let Some(dir) = tls_dir {
        argv.push(Arg::lit("--tlsverify"));
        for (flag, file) in [
            ("--tlscacert", "ca.pem"),
            ("--tlscert", "cert.pem"),
            ("--tlskey", "key.pem"),
        ] {
            argv.push(Arg::lit(flag));
            argv.push(Arg::lit(dir.join(file).display().to_string()));
        }
    }
    argv
}
