//! The Podman door: Podman's Docker-compatible API (`podman system service`), a tar in the body
//! of `POST /build` as for Docker, with Podman's differences, measured on Podman 4.3 to 5.8: the classic
//! build protocol only (no BuildKit session), no `networkmode` (Podman does not honour `none`
//! and its network mode is not in its cache key), and no API labels (each would become a LABEL
//! step, in random order). The stream is handled as Docker's (`api::stream_build`).

use bollard::query_parameters::{BuildImageOptions, BuilderVersion};

use crate::engine::door::BuildRequest;
use crate::engine::inventory::Engine;
use crate::engine::observe::RawBuild;
use crate::error::Result;

fn podman_options(engine: &Engine, request: &BuildRequest<'_>) -> BuildImageOptions {
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
        networkmode: None,
        target: request.options.target.clone().unwrap_or_default(),
        cachefrom: (!request.cache_from.is_empty()).then(|| request.cache_from.clone()),
        version: BuilderVersion::BuilderV1,
        session: None,
        ..Default::default()
    }
}

pub(crate) fn build(engine: &Engine, request: &BuildRequest<'_>) -> Result<RawBuild> {
    let options = podman_options(engine, request);
    super::api::stream_build(engine, request, options, false)
}

/// The Podman compat API door.
pub struct PodmanDoor {
    pub(super) engine: Engine,
}

crate::engine::door::real_door!(PodmanDoor, "podman");
