//! The doors a build gets in by, as one table (`DOORS`): each door's name (the engine kind,
//! `classic-cli`, `buildx`), the builder and transport the model checks it against, the kind of
//! host that offers it and on what condition, and the implementation that drives it.
//!
//! What a door can build (heredocs, `--mount`, `--chmod`, `--link`) is not here: it is the
//! model profile's, per generation, since it follows the frontend's version, not the door.

use models::{Builder, Transport};
use serde::Deserialize;

/// One way a build gets in, on a real engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DoorKind {
    /// Docker's classic builder through the Engine API, the context as a tar.
    Classic,
    /// Docker's classic builder through the docker CLI (`DOCKER_BUILDKIT=0 docker build DIR`).
    ClassicCli,
    /// BuildKit through the Engine API (`version=2`, a session), the context as a tar.
    BuildKit,
    /// BuildKit through the docker CLI's built-in client (CLIs before 23.0), syncing a directory.
    BuildKitCli,
    /// BuildKit through the buildx plugin (`docker buildx build DIR`; `docker build` from 23.0).
    Buildx,
    /// Buildah through Podman's Docker-compatible API, the context as a tar.
    Podman,
    /// Buildah through the docker CLI against Podman's API (`DOCKER_BUILDKIT=0`).
    PodmanCli,
}

/// The kind of host an inventory names: what answers at its endpoint.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    Docker,
    Podman,
    /// No daemon: the model engine in process (`engine::model`).
    Model,
}

/// When a host of the door's kind offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offered {
    Always,
    /// Where the host's docker CLI has a built-in BuildKit client (before 23.0).
    BuiltinBuildKit,
    /// Where the host's docker CLI has the buildx plugin.
    BuildxPlugin,
}

/// The code that drives a door's builds (`engine::open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `engine::api`: bollard, a tar in the body of `POST /build`.
    DockerApi,
    /// `engine::podman`: Podman's compat API, a tar, the classic protocol.
    PodmanApi,
    /// `engine::cli`: the docker CLI (or buildx) syncing a real directory.
    Cli,
}

/// A row of the door table.
#[derive(Clone, Copy, Debug)]
pub struct DoorSpec {
    pub kind: DoorKind,
    /// The engine kind: the part of an engine's name before `@`, and how recorded divergences
    /// and the known catalogue name it.
    pub name: &'static str,
    pub builder: Builder,
    pub transport: Transport,
    /// The host kind that offers it (model hosts offer each profile's own door: the model does
    /// not tell buildx from the built-in client).
    pub host: HostKind,
    pub offered: Offered,
    pub via: Via,
}

/// Every door, in the order engines are listed on a host. The first row of a builder and transport
/// is that profile's own door (`DoorKind::of_profile`), the one a model host offers; a later row
/// (buildx) is another client of the same profile.
#[rustfmt::skip]
pub const DOORS: [DoorSpec; 7] = [
    door(DoorKind::Classic, "classic", Builder::Classic, Transport::Api, HostKind::Docker, Offered::Always, Via::DockerApi),
    door(DoorKind::ClassicCli, "classic-cli", Builder::Classic, Transport::Cli, HostKind::Docker, Offered::Always, Via::Cli),
    door(DoorKind::BuildKit, "buildkit", Builder::BuildKit, Transport::Api, HostKind::Docker, Offered::Always, Via::DockerApi),
    door(DoorKind::BuildKitCli, "buildkit-cli", Builder::BuildKit, Transport::Cli, HostKind::Docker, Offered::BuiltinBuildKit, Via::Cli),
    door(DoorKind::Podman, "podman", Builder::Buildah, Transport::Api, HostKind::Podman, Offered::Always, Via::PodmanApi),
    door(DoorKind::PodmanCli, "podman-cli", Builder::Buildah, Transport::Cli, HostKind::Podman, Offered::Always, Via::Cli),
    door(DoorKind::Buildx, "buildx", Builder::BuildKit, Transport::Cli, HostKind::Docker, Offered::BuildxPlugin, Via::Cli),
];

const fn door(
    kind: DoorKind,
    name: &'static str,
    builder: Builder,
    transport: Transport,
    host: HostKind,
    offered: Offered,
    via: Via,
) -> DoorSpec {
    DoorSpec {
        kind,
        name,
        builder,
        transport,
        host,
        offered,
        via,
    }
}

impl DoorKind {
    pub fn spec(self) -> &'static DoorSpec {
        DOORS
            .iter()
            .find(|d| d.kind == self)
            .expect("every door kind has a row in DOORS")
    }
    pub fn name(self) -> &'static str {
        self.spec().name
    }
    pub fn from_name(name: &str) -> Option<DoorKind> {
        DOORS.iter().find(|d| d.name == name).map(|d| d.kind)
    }
    /// The model profile `(builder, transport)`'s own door: its first row in `DOORS`.
    pub fn of_profile(builder: Builder, transport: Transport) -> DoorKind {
        DOORS
            .iter()
            .find(|d| d.builder == builder && d.transport == transport)
            .map(|d| d.kind)
            .expect("every profile has a door")
    }
    /// Whether this door is its profile's own (`of_profile`), not another client of it.
    pub fn is_profile_door(self) -> bool {
        let spec = self.spec();
        DoorKind::of_profile(spec.builder, spec.transport) == self
    }
}

/// Every engine kind, in the table's order.
pub fn kind_names() -> Vec<&'static str> {
    DOORS.iter().map(|d| d.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_door_is_one_row_and_every_profile_has_a_door() {
        for spec in &DOORS {
            assert_eq!(spec.kind.spec().name, spec.name);
            assert_eq!(DoorKind::from_name(spec.name), Some(spec.kind));
        }
        for profile in models::Profile::all() {
            let door = DoorKind::of_profile(profile.builder, profile.transport);
            assert_eq!(door.name(), profile.base_name());
        }
        assert_eq!(DoorKind::from_name("no-such-door"), None);
        assert!(
            DoorKind::Buildx.spec().kind != DoorKind::of_profile(Builder::BuildKit, Transport::Cli)
        );
        assert!(!DoorKind::Buildx.is_profile_door() && DoorKind::BuildKitCli.is_profile_door());
    }
}
