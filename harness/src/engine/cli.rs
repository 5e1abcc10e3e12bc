//! The CLI door: the docker CLI (`docker build`, or `docker buildx build` for buildx) syncing a
//! real directory to the engine, as users build. Serves classic-cli, buildkit-cli, buildx and
//! podman-cli (the docker CLI against Podman's socket).
//!
//! The command line is one pure function, `build_command`, shared with the reproducer
//! (`run::reproduce` renders it as shell), so the two cannot drift apart. The door only runs it and
//! collects what it printed; `observe` interprets that.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use models::{BuildOptions, Builder};

use crate::engine::client::{global_args, says_unreachable, unavailable, Arg, CommandLine};
use crate::engine::door::BuildRequest;
use crate::engine::doors::{DoorKind, Via};
use crate::engine::inventory::Engine;
use crate::engine::observe::{self, RawBuild};
use crate::engine::settings::build_timeout;
use crate::error::{Error, Result};

/// Everything one CLI build's command line depends on.
#[derive(Clone, Debug)]
pub struct BuildLine<'a> {
    /// The CLI door (`cli_door`): its builder, and whether through buildx.
    pub kind: DoorKind,
    /// The docker CLI binary.
    pub cli: Arg,
    pub endpoint: Arg,
    /// TLS material for a `tcp://` endpoint (`ca.pem`, `cert.pem`, `key.pem`).
    pub tls_dir: Option<&'a Path>,
    /// The host's `DOCKER_CONFIG` (where its CLI finds its buildx plugin), if it has its own.
    pub docker_config: Option<&'a Path>,
    pub tag: Arg,
    /// The context directory (its `Dockerfile` is the one built).
    pub dir: Arg,
    pub options: &'a BuildOptions,
    /// Registry references or backends (`type=local,src=DIR`), already mapped to the registry and
    /// directories in use.
    pub cache_from: Vec<Arg>,
    /// Cache exports (`type=registry,ref=...`), mapped as `cache_from`; only buildx passes them.
    pub cache_to: Vec<Arg>,
}

/// The CLI door an engine's build is run by: its own, or for an API-door engine the CLI door
/// of the same builder (what a reproducer of it runs).
pub fn cli_door(engine: &Engine) -> DoorKind {
    match engine.door.spec().via {
        Via::Cli => engine.door,
        Via::DockerApi | Via::PodmanApi => {
            DoorKind::of_profile(engine.builder(), models::Transport::Cli)
        }
    }
}

/// The build arguments an engine gets: the build's own, plus `BUILDKIT_INLINE_CACHE=1` when it
/// exports inline cache and the builder is BuildKit (the only one that reads it). Sorted.
pub fn build_args(builder: Builder, options: &BuildOptions) -> Vec<(String, String)> {
    let mut args = options.build_args.clone();
    if options.inline_cache && builder == Builder::BuildKit {
        args.insert("BUILDKIT_INLINE_CACHE".to_string(), "1".to_string());
    }
    args.into_iter().collect()
}

/// The `docker build` / `docker buildx build` invocation of one build: argv and environment.
pub fn build_command(line: &BuildLine<'_>) -> CommandLine {
    let mut argv = global_args(line.cli.clone(), line.endpoint.clone(), line.tls_dir);
    let mut env = Vec::new();
    if let Some(dir) = line.docker_config {
        env.push(("DOCKER_CONFIG".to_string(), dir.display().to_string()));
    }
    let buildkit = line.kind.spec().builder == Builder::BuildKit;
    if line.kind == DoorKind::Buildx {
        // The default builder of the endpoint (buildx's `docker` driver): the daemon's own
        // BuildKit, the result loaded into its image store as `docker build` does.
        argv.push(Arg::lit("buildx"));
    } else {
        env.push((
            "DOCKER_BUILDKIT".to_string(),
            if buildkit { "1" } else { "0" }.to_string(),
        ));
    }
    // `--force-rm`: a failed step's container goes too (the API door sends `forcerm=1`).
    for word in ["build", "--force-rm", "-t"] {
        argv.push(Arg::lit(word));
    }
    argv.push(line.tag.clone());
    argv.push(Arg::lit("-f"));
    argv.push(line.dir.followed_by("/Dockerfile"));
    if buildkit {
        argv.push(Arg::lit("--progress=plain"));
    }
    if line.kind.spec().builder != Builder::Buildah {
        argv.push(Arg::lit("--network=none"));
    }
    if line.options.no_cache {
        argv.push(Arg::lit("--no-cache"));
    }
    for (k, v) in build_args(line.kind.spec().builder, line.options) {
        argv.push(Arg::lit("--build-arg"));
        argv.push(Arg::lit(format!("{k}={v}")));
    }
    if let Some(t) = &line.options.target {
        argv.push(Arg::lit("--target"));
        argv.push(Arg::lit(t));
    }
    for c in &line.cache_from {
        argv.push(Arg::lit("--cache-from"));
        argv.push(c.clone());
    }
    // Only buildx has `--cache-to` (`Engine::passes_cache_to`); other doors never get one.
    if line.kind == DoorKind::Buildx {
        for c in &line.cache_to {
            argv.push(Arg::lit("--cache-to"));
            argv.push(c.clone());
        }
    }
    argv.push(line.dir.clone());
    CommandLine { argv, env }
}

/// Materialises the context in the request's directory (or a fresh one) and runs the CLI build.
pub(crate) fn build(engine: &Engine, request: &BuildRequest<'_>) -> Result<RawBuild> {
    let fresh;
    let dir: &Path = match request.workdir {
        Some(dir) => {
            crate::engine::materialize::clear_dir(dir)?;
            dir
        }
        None => {
            fresh = tempfile::Builder::new()
                .prefix("cachet-ctx-")
                .tempdir()
                .map_err(|e| Error::Harness(format!("temp dir: {e}")))?;
            fresh.path()
        }
    };
    crate::engine::materialize::write_context_dir(request.context, dir)?;
    let line = build_command(&BuildLine {
        kind: cli_door(engine),
        cli: Arg::lit(&engine.cli),
        endpoint: Arg::lit(&engine.endpoint),
        tls_dir: engine.tls_dir.as_deref(),
        docker_config: engine.docker_config.as_deref(),
        tag: Arg::lit(&request.tag),
        dir: Arg::lit(dir.display().to_string()),
        options: request.options,
        cache_from: request.cache_from.iter().map(Arg::lit).collect(),
        cache_to: request.options.cache_to.iter().map(Arg::lit).collect(),
    });
    let (log, finished) = run_with_timeout(engine, &line)?;
    let mut raw = RawBuild {
        log,
        ..RawBuild::default()
    };
    match finished {
        None => {
            raw.indeterminate = Some(format!(
                "{} did not finish within {} s and was killed",
                engine.cli,
                build_timeout().as_secs()
            ));
        }
        Some(false) => {
            let message = observe::cli_failure_message(&raw.log);
            if says_unreachable(&message) {
                return Err(unavailable(engine, message));
            }
            raw.error = Some(message);
        }
        Some(true) => {}
    }
    Ok(raw)
}

/// Runs the command line in its own process group; its stdout then stderr, and whether it
/// succeeded (`None`: it outlived the build timeout and was killed).
fn run_with_timeout(engine: &Engine, line: &CommandLine) -> Result<(String, Option<bool>)> {
    let mut command = Command::new(line.argv[0].as_literal());
    command.args(line.argv[1..].iter().map(Arg::as_literal));
    command.envs(line.env.iter().map(|(k, v)| (k, v)));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a timeout kills the CLI and the plugin it runs (buildx) together,
    // and a Ctrl-C at the terminal reaches cachet only, which finishes the scenario in hand.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| Error::EngineCall(format!("cannot run {}: {e}", engine.cli)))?;
    let readers = [
        read_in_background(child.stdout.take().expect("piped")),
        read_in_background(child.stderr.take().expect("piped")),
    ];
    // The CLI gets as long as an API build; a CLI that hangs (an engine that stopped answering
    // mid-build) is killed, and the build's outcome is unknown.
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > build_timeout() => {
                // SAFETY: signalling the process group this function made; no memory involved.
                unsafe {
                    libc::kill(-(child.id() as i32), libc::SIGKILL);
                }
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Err(Error::EngineCall(format!(
                    "waiting for {}: {e}",
                    engine.cli
                )));
            }
        }
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    Ok((format!("{stdout}{stderr}"), status.map(|s| s.success())))
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The CLI door (classic-cli, buildkit-cli, buildx, podman-cli).
pub struct CliDoor {
    pub(super) engine: Engine,
}

crate::engine::door::real_door!(CliDoor, "cli");

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(kind: DoorKind, options: &'a BuildOptions) -> BuildLine<'a> {
        BuildLine {
            kind,
            cli: Arg::lit("/usr/bin/docker"),
            endpoint: Arg::shell("$HOST_A"),
            tls_dir: None,
            docker_config: None,
            tag: Arg::lit("t:1"),
            dir: Arg::shell("$ctx"),
            options,
            cache_from: vec![Arg::shell("$REGISTRY/x")],
            cache_to: options.cache_to.iter().map(Arg::lit).collect(),
        }
    }

    #[test]
    fn inline_cache_only_for_buildkit_and_buildx_has_no_env() {
        let options = BuildOptions {
            inline_cache: true,
            target: Some("1".into()),
            ..BuildOptions::default()
        };
        let classic = build_command(&line(DoorKind::ClassicCli, &options));
        assert_eq!(
            classic.render(),
            "DOCKER_BUILDKIT=0 /usr/bin/docker -H \"$HOST_A\" build --force-rm -t t:1 -f \"$ctx/Dockerfile\" --network=none --target 1 --cache-from \"$REGISTRY/x\" \"$ctx\""
        );
        let buildx = build_command(&line(DoorKind::Buildx, &options));
        assert_eq!(
            buildx.render(),
            "/usr/bin/docker -H \"$HOST_A\" buildx build --force-rm -t t:1 -f \"$ctx/Dockerfile\" --progress=plain --network=none --build-arg BUILDKIT_INLINE_CACHE=1 --target 1 --cache-from \"$REGISTRY/x\" \"$ctx\""
        );
        let podman = build_command(&line(DoorKind::PodmanCli, &options));
        assert!(!podman.render().contains("--network"));
        assert!(!podman.render().contains("INLINE"));
    }

    #[test]
    fn cache_to_is_a_word_of_buildx_alone() {
        let options = BuildOptions {
            cache_to: vec!["type=local,dest=/c/d,mode=max".into()],
            ..BuildOptions::default()
        };
        let buildx = build_command(&line(DoorKind::Buildx, &options)).render();
        assert!(
            buildx.ends_with(
                "--cache-from \"$REGISTRY/x\" --cache-to type=local,dest=/c/d,mode=max \"$ctx\""
            ),
            "{buildx}"
        );
        for door in [
            DoorKind::ClassicCli,
            DoorKind::BuildKitCli,
            DoorKind::PodmanCli,
        ] {
            let other = build_command(&line(door, &options)).render();
            assert!(!other.contains("--cache-to"), "{other}");
        }
    }

    #[test]
    fn literals_are_quoted_when_they_must_be() {
        assert_eq!(Arg::lit("A=b c").render(), "'A=b c'");
        assert_eq!(Arg::lit("it's").render(), "'it'\\''s'");
        assert_eq!(Arg::lit("").render(), "''");
    }
}
