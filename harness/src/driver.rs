//! Engine drivers: every call to a real engine goes through here.
//!
//! The API door uses bollard; the CLI door runs a docker CLI binary on a real directory. Every
//! call is blocking and builds its own current-thread runtime and client: a BuildKit session
//! otherwise stays open for the life of the process (shared/ENGINES.md).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bollard::models::BuildInfoAux;
use bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, ImportImageOptions, ListContainersOptions,
    ListImagesOptions, PushImageOptions, RemoveImageOptions, TagImageOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use models::{BuildOptions, Builder, Transport};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::inventory::Engine;
use crate::observe::{self, Observation, VertexReport};

/// How long one build may take before its outcome counts as unknown: 300 s, or
/// `CACHET_BUILD_TIMEOUT` seconds.
fn build_timeout() -> Duration {
    static TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        std::env::var("CACHET_BUILD_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(Duration::from_secs(300), Duration::from_secs)
    })
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime always builds")
        .block_on(future)
}

fn unavailable(engine: &Engine, detail: impl std::fmt::Display) -> Error {
    Error::EngineUnavailable {
        engine: engine.name.clone(),
        endpoint: engine.endpoint.clone(),
        detail: detail.to_string(),
    }
}

pub(crate) fn client(engine: &Engine) -> Result<Docker> {
    let endpoint = &engine.endpoint;
    let result = if let Some(path) = endpoint.strip_prefix("unix://") {
        Docker::connect_with_unix(path, 600, bollard::API_DEFAULT_VERSION)
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
            600,
            bollard::API_DEFAULT_VERSION,
        )
    } else if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") {
        Docker::connect_with_http(endpoint, 600, bollard::API_DEFAULT_VERSION)
    } else if endpoint.starts_with("ssh://") {
        // The system's ssh runs `docker system dial-stdio` on the remote host, as the docker CLI
        // does for the same endpoint: user, port, key and known hosts come from the ssh config.
        Docker::connect_with_ssh(endpoint, 600, bollard::API_DEFAULT_VERSION, None)
    } else {
        return Err(unavailable(
            engine,
            "only unix://, tcp:// and ssh:// endpoints are supported",
        ));
    };
    result.map_err(|e| unavailable(engine, e))
}

/// The docker CLI aimed at the engine's endpoint, with its TLS material when it has some.
pub fn docker_cli(engine: &Engine) -> Command {
    let mut command = Command::new(&engine.cli);
    command.arg("-H").arg(&engine.endpoint);
    if let Some(dir) = &engine.tls_dir {
        command
            .arg("--tlsverify")
            .arg("--tlscacert")
            .arg(dir.join("ca.pem"))
            .arg("--tlscert")
            .arg(dir.join("cert.pem"))
            .arg("--tlskey")
            .arg(dir.join("key.pem"));
    }
    command
}

/// The engine's version if it answers; for a buildx engine the plugin's version follows
/// (`20.10.24+dfsg1 buildx 0.13.1+ds1`), since its client half does the context sync.
pub fn engine_version(engine: &Engine) -> Result<String> {
    let docker = client(engine)?;
    let daemon = block_on(async {
        let ping = tokio::time::timeout(Duration::from_secs(5), docker.version()).await;
        match ping {
            Ok(Ok(v)) => Ok(v.version.unwrap_or_else(|| "unknown".to_string())),
            Ok(Err(e)) => Err(unavailable(engine, e)),
            Err(_) => Err(unavailable(engine, "no answer within 5 s")),
        }
    })?;
    if !engine.buildx {
        return Ok(daemon);
    }
    let plugin = buildx_version(Path::new(&engine.cli)).ok_or_else(|| {
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

/// The buildx plugin's version as `docker buildx version` prints it (`github.com/docker/buildx
/// 0.13.1+ds1 0.13.1+ds1-3` gives `0.13.1+ds1`), or `None` when the CLI has no plugin.
pub fn buildx_version(cli: &Path) -> Option<String> {
    let output = Command::new(cli)
        .args(["buildx", "version"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace().skip(1);
    Some(words.next().unwrap_or("unknown").to_string())
}

/// The applets the base image links to busybox, so RUN can use them without a PATH search.
const APPLETS: &[&str] = &[
    "cat",
    "echo",
    "ls",
    "mkdir",
    "sha256sum",
    "stat",
    "touch",
    "true",
    "false",
    "find",
    "env",
    "rm",
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where the static busybox is: `CACHET_BUSYBOX`, else Debian's `busybox-static` (`/bin/busybox`)
/// or Fedora's `busybox` (`/usr/sbin/busybox`).
pub fn busybox_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("CACHET_BUSYBOX") {
        return p.into();
    }
    ["/bin/busybox", "/usr/sbin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "/bin/busybox".into())
}

/// The label the base image carries (its salt). Every image and build container made from it
/// inherits it, intermediate ones included: that is how `cachet clean` finds what cachet made.
pub const BASE_LABEL: &str = "cachet.salt";

/// A `docker save`-format archive of the base image: busybox-static, `sh` and a few applets as
/// links, and a salt file that makes each scenario's cache its own. Deterministic: the same salt
/// gives the same image id on every engine.
pub fn base_image_archive(reference: &str, salt: &str) -> Result<Vec<u8>> {
    let busybox_path = busybox_path();
    let busybox = std::fs::read(&busybox_path).map_err(|source| Error::Read {
        path: busybox_path.clone(),
        source,
    })?;
    // The root filesystem and the archive around it are both plain contexts: `context_tar` writes
    // them with exact, fixed metadata (owner 0, mtime 0), so the image id depends on the salt only.
    let fixed = |mut entry: models::Entry, mode: u32| {
        entry.mode = mode;
        entry.mtime = 0;
        entry.atime = 0;
        entry
    };
    let mut rootfs = models::BuildContext::new();
    let insert = |context: &mut models::BuildContext, path: &str, entry: models::Entry| {
        context
            .insert(path, entry)
            .map_err(|e| Error::Harness(format!("building the base image: {e}")))
    };
    insert(&mut rootfs, "tmp", fixed(models::Entry::dir(), 0o755))?;
    insert(
        &mut rootfs,
        "bin/busybox",
        fixed(models::Entry::file(busybox), 0o755),
    )?;
    if let Some(bin) = rootfs.get_mut("bin") {
        *bin = fixed(models::Entry::dir(), 0o755);
    }
    for applet in std::iter::once(&"sh").chain(APPLETS) {
        insert(
            &mut rootfs,
            &format!("bin/{applet}"),
            fixed(models::Entry::symlink("busybox"), 0o777),
        )?;
    }
    insert(
        &mut rootfs,
        ".cachet-salt",
        fixed(models::Entry::file(salt), 0o644),
    )?;
    let layer = crate::materialize::context_tar(&rootfs)?;
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": { BASE_LABEL: salt } },
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{layer_digest}")] },
        "created": "1970-01-01T00:00:00Z",
        "history": [{ "created": "1970-01-01T00:00:00Z", "created_by": "cachet base image (busybox-static)" }]
    })
    .to_string();
    let config_digest = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!([{
        "Config": format!("{config_digest}.json"),
        "RepoTags": [reference],
        "Layers": [format!("{layer_digest}/layer.tar")]
    }])
    .to_string();
    let mut archive = models::BuildContext::new();
    insert(
        &mut archive,
        &format!("{layer_digest}/layer.tar"),
        fixed(models::Entry::file(layer), 0o644),
    )?;
    insert(
        &mut archive,
        &format!("{config_digest}.json"),
        fixed(models::Entry::file(config), 0o644),
    )?;
    insert(
        &mut archive,
        "manifest.json",
        fixed(models::Entry::file(manifest), 0o644),
    )?;
    if let Some(dir) = archive.get_mut(&layer_digest) {
        *dir = fixed(models::Entry::dir(), 0o755);
    }
    crate::materialize::context_tar(&archive)
}

/// Loads the salted base image on the engine's host (a no-op when it is there already).
pub fn ensure_base_image(engine: &Engine, reference: &str, salt: &str) -> Result<()> {
    let docker = client(engine)?;
    let present = block_on(docker.inspect_image(reference)).is_ok();
    if present {
        return Ok(());
    }
    let archive = base_image_archive(reference, salt)?;
    block_on(async {
        let mut stream = docker.import_image(
            ImportImageOptions {
                quiet: true,
                ..Default::default()
            },
            bollard::body_full(archive.into()),
            None,
        );
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                return Err(unavailable(engine, format!("loading the base image: {e}")));
            }
        }
        Ok(())
    })?;
    block_on(docker.inspect_image(reference))
        .map(|_| ())
        .map_err(|e| {
            Error::Harness(format!(
                "base image {reference} did not load on {}: {e}",
                engine.name
            ))
        })
}

/// Every image (intermediate ones included) and container (stopped ones included) on the
/// engine's host.
fn all_images_and_containers(
    engine: &Engine,
) -> Result<(
    Vec<bollard::models::ImageSummary>,
    Vec<bollard::models::ContainerSummary>,
)> {
    let docker = client(engine)?;
    block_on(async {
        let images = docker
            .list_images(Some(ListImagesOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| unavailable(engine, e))?;
        let containers = docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                ..Default::default()
            }))
            .await
            .map_err(|e| unavailable(engine, e))?;
        Ok((images, containers))
    })
}

/// How many images (intermediate ones included) and containers (stopped ones included) the
/// engine's host holds: what the leak check compares before and after.
pub fn resource_counts(engine: &Engine) -> Result<(usize, usize)> {
    let (images, containers) = all_images_and_containers(engine)?;
    Ok((images.len(), containers.len()))
}

/// One plain-HTTP request to a registry (`HOST:PORT`); the whole response, headers included.
fn registry_request(host: &str, method: &str, path: &str) -> Result<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(host)
        .map_err(|e| Error::Harness(format!("registry {host}: {e}")))?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| Error::Harness(format!("registry {host}: {e}")))?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    Ok(response)
}

/// A registry's JSON answer to a GET (`/v2/_catalog`, `/v2/NAME/tags/list`).
fn registry_json(host: &str, path: &str) -> Result<serde_json::Value> {
    let response = registry_request(host, "GET", path)?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).map_err(|e| {
        Error::Harness(format!(
            "registry {host}{path}: unexpected answer ({e}): {}",
            response.lines().next().unwrap_or("")
        ))
    })
}

/// Every tag the registry holds in a repository cachet pushed to (`cachet-SALT/NAME`), as
/// `HOST:PORT/cachet-SALT/NAME:TAG`.
pub fn cachet_registry_references(host: &str) -> Result<Vec<String>> {
    let catalog = registry_json(host, "/v2/_catalog?n=100000")?;
    let mut references = Vec::new();
    for repository in catalog["repositories"].as_array().into_iter().flatten() {
        let Some(name) = repository.as_str().filter(|n| n.starts_with("cachet-")) else {
            continue;
        };
        let tags = registry_json(host, &format!("/v2/{name}/tags/list"))?;
        for tag in tags["tags"].as_array().into_iter().flatten() {
            if let Some(tag) = tag.as_str() {
                references.push(format!("{host}/{name}:{tag}"));
            }
        }
    }
    Ok(references)
}

/// Deletes a pushed reference (`HOST:PORT/NAME:TAG`) from a plain-HTTP registry: looks up its
/// manifest digest, then deletes the manifest. Blobs stay until the registry's garbage collection.
pub fn delete_from_registry(reference: &str) -> Result<()> {
    let (host, rest) = reference
        .split_once('/')
        .ok_or_else(|| Error::BadInput(format!("`{reference}` names no registry")))?;
    let (name, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
    let head = registry_request(host, "HEAD", &format!("/v2/{name}/manifests/{tag}"))?;
    let Some(digest) = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("docker-content-digest"))
            .map(|(_, v)| v.trim().to_string())
    }) else {
        return Ok(()); // not there (never pushed, or deleted already)
    };
    let response = registry_request(host, "DELETE", &format!("/v2/{name}/manifests/{digest}"))?;
    if response.starts_with("HTTP/1.1 202") || response.starts_with("HTTP/1.1 404") {
        Ok(())
    } else {
        Err(Error::Harness(format!(
            "registry refused to delete {reference}: {}",
            response.lines().next().unwrap_or("")
        )))
    }
}

/// Whether an image reference is one cachet makes: `cachet-scn-…`, `localhost/cachet-base:…`,
/// `127.0.0.1:5000/cachet-…/app:…` (the repository's path, past any registry host, starts with
/// `cachet-`).
pub fn is_cachet_reference(reference: &str) -> bool {
    let path = match reference.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => reference,
    };
    let path = path.strip_prefix("library/").unwrap_or(path);
    path.starts_with("cachet-")
}

/// What cachet made on the engine's host, newest first: image ids (labelled with `BASE_LABEL`, or
/// tagged with a cachet reference) and container ids (labelled).
pub fn cachet_resources(engine: &Engine) -> Result<(Vec<String>, Vec<String>)> {
    let (mut images, containers) = all_images_and_containers(engine)?;
    images.retain(|i| {
        i.labels.contains_key(BASE_LABEL) || i.repo_tags.iter().any(|t| is_cachet_reference(t))
    });
    images.sort_by_key(|i| std::cmp::Reverse(i.created));
    Ok((
        images.into_iter().map(|i| i.id).collect(),
        containers
            .into_iter()
            .filter(|c| {
                c.labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key(BASE_LABEL))
            })
            .filter_map(|c| c.id)
            .collect(),
    ))
}

/// Removes containers by id, running ones too; missing ones are fine.
pub fn remove_containers(engine: &Engine, ids: &[String]) -> Result<()> {
    let docker = client(engine)?;
    block_on(async {
        for id in ids {
            let _ = docker
                .remove_container(
                    id,
                    Some(bollard::query_parameters::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
    });
    Ok(())
}

/// Removes images by reference; missing ones are fine.
pub fn remove_images(engine: &Engine, references: &[String]) -> Result<()> {
    let docker = client(engine)?;
    block_on(async {
        // Newest first: children before the images they are built on.
        for reference in references.iter().rev() {
            let _ = docker
                .remove_image(
                    reference,
                    Some(RemoveImageOptions {
                        force: true,
                        noprune: false,
                        ..Default::default()
                    }),
                    None,
                )
                .await;
        }
    });
    Ok(())
}

pub fn push_image(engine: &Engine, reference: &str) -> Result<()> {
    let docker = client(engine)?;
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    block_on(async {
        let mut stream = docker.push_image(
            repo,
            Some(PushImageOptions {
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            None,
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) if info.error_detail.is_some() => {
                    return Err(Error::Harness(format!(
                        "push {reference}: {:?}",
                        info.error_detail
                    )))
                }
                Err(e) => return Err(Error::Harness(format!("push {reference}: {e}"))),
                _ => {}
            }
        }
        Ok(())
    })
}

pub fn tag_image(engine: &Engine, image: &str, reference: &str) -> Result<()> {
    let docker = client(engine)?;
    let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
    block_on(docker.tag_image(
        image,
        Some(TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        }),
    ))
    .map_err(|e| Error::Harness(format!("tag {reference}: {e}")))
}

/// What one build needs besides the context.
pub struct BuildRequest<'a> {
    pub context: &'a models::BuildContext,
    pub options: &'a BuildOptions,
    /// Registry references, already mapped to the local registry.
    pub cache_from: Vec<String>,
    pub tag: String,
    /// For the CLI door: the directory the context lives in. A scenario keeps one per host and
    /// rewrites it in place for every build, as a user edits a checkout, so the CLI's incremental
    /// context sync (and its bugs) is exercised. `None`: a fresh temporary directory.
    pub workdir: Option<&'a Path>,
}

fn build_args(engine: &Engine, request: &BuildRequest<'_>) -> HashMap<String, String> {
    let mut args: HashMap<String, String> =
        request.options.build_args.clone().into_iter().collect();
    if request.options.inline_cache && engine.builder() == Builder::BuildKit {
        args.insert("BUILDKIT_INLINE_CACHE".to_string(), "1".to_string());
    }
    args
}

/// Runs one build and observes it. Engine trouble becomes an indeterminate observation, never a
/// verdict; only an unreachable engine is an error.
pub fn build(engine: &Engine, request: &BuildRequest<'_>) -> Result<Observation> {
    let dockerfile = request.context.dockerfile_text().unwrap_or_default();
    let map = observe::step_map(&dockerfile);
    let mut observation = match engine.transport() {
        Transport::Api => build_api(engine, request)?,
        Transport::Cli => build_cli(engine, request)?,
    };
    // Podman 4.3 sometimes fails its cache scan while images are being removed elsewhere in the
    // store: that says nothing about cache rules, so the build's outcome is unknown.
    if engine.builder() == Builder::Buildah
        && observation
            .error
            .as_deref()
            .is_some_and(|e| e.contains("layer not known"))
    {
        observation.indeterminate = observation
            .error
            .take()
            .map(|e| format!("podman store race: {e}"));
    }
    let error = observation.error.clone();
    if let Some(e) = &error {
        observation
            .log
            .push_str(&format!("\n[cachet] build error: {e}\n"));
    }
    if let Some(why) = &observation.indeterminate {
        observation
            .log
            .push_str(&format!("\n[cachet] indeterminate: {why}\n"));
    }
    if engine.builder() != Builder::BuildKit {
        observation.intermediate_images = observe::printed_image_ids(&observation.log);
    }
    observation.steps = match (engine.builder(), engine.transport()) {
        (Builder::Classic, _) => observe::parse_classic(&observation.log, &map, error.as_deref()),
        (Builder::Buildah, _) => {
            let stages =
                observe::built_stages(&dockerfile, request.options.target.as_deref(), true);
            observe::parse_podman(&observation.log, &map, &stages, error.as_deref())
        }
        (Builder::BuildKit, Transport::Cli) => {
            observe::map_vertices(&observe::parse_buildkit_plain(&observation.log), &map)
        }
        (Builder::BuildKit, Transport::Api) => std::mem::take(&mut observation.steps),
    };
    // BuildKit solves steps concurrently and cancels the rest when one fails; what it reported
    // for the others (even `CACHED` under `--no-cache`, seen here) says nothing reliable.
    if engine.builder() == Builder::BuildKit && observation.error.is_some() {
        for outcome in observation.steps.values_mut() {
            // A step BuildKit cancelled reports itself failed with `context canceled` (seen when
            // a concurrent COPY's source was missing): not a failure of its own either.
            let cancelled = matches!(
                outcome,
                observe::Observed::Failed { message } if message.contains("context canceled")
            );
            if cancelled || !matches!(outcome, observe::Observed::Failed { .. }) {
                *outcome = observe::Observed::Indeterminate {
                    why: "the build failed at another step; BuildKit cancels concurrent steps"
                        .to_string(),
                };
            }
        }
    }
    Ok(observation)
}

fn build_api(engine: &Engine, request: &BuildRequest<'_>) -> Result<Observation> {
    let docker = client(engine)?;
    let tar = crate::materialize::context_tar(request.context)?;
    let buildkit = engine.builder() == Builder::BuildKit;
    let options = BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: Some(request.tag.clone()),
        nocache: request.options.no_cache,
        rm: true,
        forcerm: true,
        buildargs: Some(build_args(engine, request)),
        networkmode: (engine.builder() != Builder::Buildah).then(|| "none".to_string()),
        target: request.options.target.clone().unwrap_or_default(),
        cachefrom: (!request.cache_from.is_empty()).then(|| request.cache_from.clone()),
        version: if buildkit {
            BuilderVersion::BuilderBuildKit
        } else {
            BuilderVersion::BuilderV1
        },
        session: buildkit.then(|| format!("cachet-{}", request.tag.replace([':', '/'], "-"))),
        ..Default::default()
    };
    let dockerfile = request.context.dockerfile_text().unwrap_or_default();
    let map = observe::step_map(&dockerfile);
    block_on(async move {
        let mut observation = Observation::default();
        let mut vertices: HashMap<String, VertexReport> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let run = async {
            let mut stream =
                docker.build_image(options, None, Some(bollard::body_full(tar.into())));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(text) = info.stream {
                            observation.log.push_str(&text);
                        }
                        if let Some(detail) = info.error_detail {
                            observation.error = Some(detail.message.unwrap_or_default());
                        }
                        match info.aux {
                            Some(BuildInfoAux::Default(id)) => observation.image_id = id.id,
                            Some(BuildInfoAux::BuildKit(status)) => {
                                for v in status.vertexes {
                                    let entry =
                                        vertices.entry(v.digest.clone()).or_insert_with(|| {
                                            order.push(v.digest.clone());
                                            VertexReport::default()
                                        });
                                    if entry.name.is_empty() {
                                        entry.name = v.name.clone();
                                        observation.log.push_str(&format!("vertex {}\n", v.name));
                                    }
                                    entry.cached |= v.cached;
                                    entry.started |= v.started.is_some();
                                    entry.completed |= v.completed.is_some();
                                    if !v.error.is_empty() {
                                        entry.error = Some(v.error.clone());
                                    }
                                }
                                for log in status.logs {
                                    observation.log.push_str(&String::from_utf8_lossy(&log.msg));
                                }
                            }
                            None => {}
                        }
                    }
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        observation.error = Some(error)
                    }
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code,
                        message,
                    }) if status_code < 500 => observation.error = Some(message),
                    Err(e) => {
                        // A trailing read error after a finished build is harmless (shared/ENGINES.md).
                        if observation.image_id.is_none() && observation.error.is_none() {
                            observation.indeterminate = Some(format!("engine stream broke: {e}"));
                        }
                        break;
                    }
                }
            }
        };
        if tokio::time::timeout(build_timeout(), run).await.is_err() {
            observation.indeterminate = Some(format!(
                "build did not finish within {} s",
                build_timeout().as_secs()
            ));
        }
        if buildkit {
            let list: Vec<VertexReport> = order
                .iter()
                .filter_map(|d| vertices.get(d).cloned())
                .collect();
            for v in &list {
                if v.cached {
                    observation.log.push_str(&format!("CACHED {}\n", v.name));
                }
            }
            observation.steps = observe::map_vertices(&list, &map);
        }
        Ok(observation)
    })
}

fn build_cli(engine: &Engine, request: &BuildRequest<'_>) -> Result<Observation> {
    let fresh;
    let dir: &Path = match request.workdir {
        Some(dir) => {
            crate::materialize::clear_dir(dir)?;
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
    crate::materialize::write_context_dir(request.context, dir)?;
    let mut command = docker_cli(engine);
    let buildkit = engine.builder() == Builder::BuildKit;
    if engine.buildx {
        // The default builder of the endpoint (buildx's `docker` driver): the daemon's own
        // BuildKit, the result loaded into its image store as `docker build` does.
        command.arg("buildx");
    } else {
        command.env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" });
    }
    // `--force-rm`: a failed step's container goes too (the API door sends `forcerm=1`).
    command
        .arg("build")
        .arg("--force-rm")
        .arg("-t")
        .arg(&request.tag)
        .arg("-f")
        .arg(dir.join("Dockerfile"));
    if buildkit {
        command.arg("--progress=plain");
    }
    if engine.builder() != Builder::Buildah {
        command.arg("--network=none");
    }
    if request.options.no_cache {
        command.arg("--no-cache");
    }
    let mut args: Vec<(String, String)> = build_args(engine, request).into_iter().collect();
    args.sort();
    for (k, v) in args {
        command.arg("--build-arg").arg(format!("{k}={v}"));
    }
    if let Some(t) = &request.options.target {
        command.arg("--target").arg(t);
    }
    for c in &request.cache_from {
        command.arg("--cache-from").arg(c);
    }
    command.arg(dir);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a timeout kills the CLI and the plugin it runs (buildx) together,
    // and a Ctrl-C at the terminal reaches cachet only, which finishes the scenario in hand.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| Error::Harness(format!("cannot run {}: {e}", engine.cli)))?;
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
                return Err(Error::Harness(format!("waiting for {}: {e}", engine.cli)));
            }
        }
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    let log = format!("{stdout}{stderr}");
    let mut observation = Observation {
        log,
        ..Observation::default()
    };
    let Some(status) = status else {
        observation.indeterminate = Some(format!(
            "{} did not finish within {} s and was killed",
            engine.cli,
            build_timeout().as_secs()
        ));
        return Ok(observation);
    };
    if !status.success() {
        // The CLI's last words are the engine's error (BuildKit's plain progress ends with one
        // line starting `error:` or `ERROR:`, the classic stream with the failing step's message).
        let message = observation
            .log
            .lines()
            .rev()
            .find(|l| l.trim_start().to_ascii_lowercase().starts_with("error"))
            .or_else(|| observation.log.lines().rev().find(|l| !l.trim().is_empty()))
            .unwrap_or("build failed")
            .to_string();
        if says_unreachable(&message) {
            return Err(unavailable(engine, message));
        }
        observation.error = Some(message);
    }
    Ok(observation)
}

/// Whether the docker CLI's words say it could not reach the engine (rather than that a build or
/// command failed there).
fn says_unreachable(cli_output: &str) -> bool {
    cli_output.contains("Cannot connect") || cli_output.contains("connection refused")
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Whether the CLI has the buildx plugin; its engines (`buildx@HOST`) build with `docker buildx
/// build`.
pub fn cli_has_buildx(cli: &Path) -> bool {
    buildx_version(cli).is_some()
}

/// The ids of the BuildKit build-cache records a Docker engine holds (none for Podman, whose
/// layers are images). Read through the docker CLI: Engine 20.10 answers `/system/df` in a shape
/// older than the one bollard parses.
pub fn build_cache_ids(engine: &Engine) -> Result<BTreeSet<String>> {
    if engine.builder() == Builder::Buildah {
        return Ok(BTreeSet::new());
    }
    // The daemon runs one disk-usage scan at a time and refuses a second meanwhile: wait.
    let mut attempt = 0;
    let output = loop {
        let output = docker_cli(engine)
            .args(["system", "df", "-v", "--format", "{{json .BuildCache}}"])
            .output()
            .map_err(|e| Error::Harness(format!("running {}: {e}", engine.cli)))?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if output.status.success() {
            break output;
        }
        attempt += 1;
        if stderr.contains("already running") && attempt < 50 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        return Err(if says_unreachable(&stderr) {
            unavailable(engine, stderr)
        } else {
            Error::Harness(format!("listing build cache on {}: {stderr}", engine.name))
        });
    };
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap_or_default();
    Ok(records
        .iter()
        .filter_map(|r| r.get("ID").and_then(|v| v.as_str()).map(str::to_string))
        .collect())
}

/// Removes the build-cache records that are not in `keep` (those a run created), children before
/// parents; returns how many went. Records still in use stay and are reported by the next count.
pub fn prune_build_cache(engine: &Engine, keep: &BTreeSet<String>) -> Result<usize> {
    let added = || -> Result<Vec<String>> {
        Ok(build_cache_ids(engine)?
            .into_iter()
            .filter(|id| !keep.contains(id) && id.chars().all(|c| c.is_ascii_alphanumeric()))
            .collect())
    };
    let mut removed = 0;
    let mut extra = added()?;
    // A parent record goes only once its children have; a chain needs a pass per level. Each
    // pass lists the records once: what is left after it is the next pass's work.
    for _ in 0..8 {
        if extra.is_empty() {
            break;
        }
        // The daemon matches `id` as a regular expression (moby builder-next: `id~=`), so
        // anchor it; one alternation per call keeps the call count low.
        let pattern = format!("id=^({})$", extra.join("|"));
        let status = docker_cli(engine)
            .args(["builder", "prune", "--all", "--force", "--filter", &pattern])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::Harness(format!("running {}: {e}", engine.cli)))?;
        if !status.status.success() {
            return Err(Error::Harness(format!(
                "pruning build cache on {}: {}",
                engine.name,
                String::from_utf8_lossy(&status.stderr).trim()
            )));
        }
        let left = added()?;
        removed += extra.len().saturating_sub(left.len());
        if left.len() >= extra.len() {
            break;
        }
        extra = left;
    }
    Ok(removed)
}
