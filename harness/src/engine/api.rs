//! The API door for Docker: the build context as a tar in the body of `POST /build` (bollard),
//! the classic builder (`version=1`) or BuildKit (`version=2`, with a session id). Podman's
//! compat API shares the stream handling (`podman.rs`).
//!
//! Each build runs on its own current-thread runtime with its own client: a BuildKit session
//! otherwise stays open for the life of the process. The door only collects
//! the stream: text, error, image id and BuildKit's vertices merged by digest.

use bollard::models::{BuildInfo, BuildInfoAux};
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use futures_util::StreamExt;
use models::Builder;

use super::client::{block_on, build_client};
use crate::engine::door::BuildRequest;
use crate::engine::inventory::Engine;
use crate::engine::observe::{RawBuild, VertexMerge, VertexUpdate};
use crate::engine::settings::build_timeout;
use crate::error::Result;

/// The build query Docker gets: network mode none (builds are offline; and a second dockerd on the host can take the
/// first one's `docker0` bridge, failing RUN steps for a reason of the host's),
/// `forcerm`, and for BuildKit `version=2` and a session id.
fn docker_options(engine: &Engine, request: &BuildRequest<'_>) -> BuildImageOptions {
    let buildkit = engine.builder() == Builder::BuildKit;
    BuildImageOptions {
        dockerfile: "Dockerfile".to_string(),
        t: Some(request.tag.clone()),
        nocache: request.options.no_cache,
        rm: true,
        forcerm: true,
        buildargs: Some(
            super::cli::build_args(engine.builder(), request.options)
                .into_iter()
                .collect(),
        ),
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
    }
}

pub(crate) fn build(engine: &Engine, request: &BuildRequest<'_>) -> Result<RawBuild> {
    let options = docker_options(engine, request);
    stream_build(
        engine,
        request,
        options,
        engine.builder() == Builder::BuildKit,
    )
}

/// Sends the context as a tar with `options` and collects the stream, up to the build timeout.
/// `buildkit`: the stream carries BuildKit trace messages, whose vertices are kept.
pub(super) fn stream_build(
    engine: &Engine,
    request: &BuildRequest<'_>,
    options: BuildImageOptions,
    buildkit: bool,
) -> Result<RawBuild> {
    let docker = build_client(engine)?;
    let tar = crate::engine::materialize::context_tar(request.context)?;
    block_on(async move {
        let mut raw = RawBuild::default();
        let mut vertices = VertexMerge::default();
        let run = async {
            let mut stream =
                docker.build_image(options, None, Some(bollard::body_full(tar.into())));
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => collect(&mut raw, &mut vertices, info),
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        raw.error = Some(error)
                    }
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code,
                        message,
                    }) if status_code < 500 => raw.error = Some(message),
                    Err(e) => {
                        // A read error after the build reported its image id ("bytes remaining on stream",
                        // a few in a hundred BuildKit builds) is harmless; before it, the outcome is unknown.
                        if raw.image_id.is_none() && raw.error.is_none() {
                            raw.indeterminate = Some(format!("engine stream broke: {e}"));
                        }
                        break;
                    }
                }
            }
        };
        if tokio::time::timeout(build_timeout(), run).await.is_err() {
            raw.indeterminate = Some(format!(
                "build did not finish within {} s",
                build_timeout().as_secs()
            ));
        }
        if buildkit {
            raw.vertices = Some(vertices.into_reports());
        }
        Ok(raw)
    })
}

/// One stream message: its text, error, image id and BuildKit trace.
fn collect(raw: &mut RawBuild, vertices: &mut VertexMerge, info: BuildInfo) {
    if let Some(text) = info.stream {
        raw.log.push_str(&text);
    }
    if let Some(detail) = info.error_detail {
        raw.error = Some(detail.message.unwrap_or_default());
    }
    match info.aux {
        Some(BuildInfoAux::Default(id)) => raw.image_id = id.id,
        Some(BuildInfoAux::BuildKit(status)) => {
            for v in status.vertexes {
                let named = vertices.update(&VertexUpdate {
                    digest: &v.digest,
                    name: &v.name,
                    cached: v.cached,
                    started: v.started.is_some(),
                    completed: v.completed.is_some(),
                    error: &v.error,
                });
                if let Some(name) = named {
                    raw.log.push_str(&format!("vertex {name}\n"));
                }
            }
            for log in status.logs {
                raw.log.push_str(&String::from_utf8_lossy(&log.msg));
            }
        }
        None => {}
    }
}

/// The Docker Engine API door (classic and BuildKit).
pub struct ApiDoor {
    pub(super) engine: Engine,
}

crate::engine::door::real_door!(ApiDoor, "api");
