//! What a profile is of: the builder, how the context reaches it (`Transport`: the one property of
//! a harness door the model keys on), and where the daemon keeps images (`ImageStore`). The plain
//! words every layer above names.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Builder {
    Classic,
    BuildKit,
    Buildah,
}

/// How the context reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A tar built by the caller and sent in the request body: metadata exactly as the headers say.
    Api,
    /// The docker CLI reading a real directory: its own normalisation applies.
    Cli,
}

/// Where a Docker daemon keeps images: the graph drivers' layer store (Engine 20.10 to 28's
/// default), or containerd's snapshotters (`"features": {"containerd-snapshotter": true}`,
/// Engine 29's default on new installs). It decides whether BuildKit inside the daemon can merge
/// layers: moby#45153 (Engine 23+) turns merge and diff off for the graph drivers, so `COPY
/// --link` falls back to a plain COPY there (`bk.link` holds with containerd only).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ImageStore {
    #[default]
    Graph,
    Containerd,
}
