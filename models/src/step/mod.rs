//! The step vocabulary: the words the rule tables (`profiles/`) and the planner (`predict/`) both
//! speak, below both. A build and its options (here), a step's key (`key.rs`), its outcome and
//! the reason for a rebuild (`outcome.rs`), the variables in scope where it runs (`scope.rs`).
//! Plain data and its own small methods; nothing here asks a rule or plans a step.

pub mod backends;
pub mod key;
pub mod outcome;
pub(crate) mod scope;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::context::BuildContext;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildOptions {
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    pub target: Option<String>,
    /// Where this build may take cache from (`--cache-from`), in order: a registry reference (an
    /// image's inline cache, or a cache manifest), or a backend as buildx writes it
    /// (`type=local,src=DIR`; `backends::parse`).
    pub cache_from: Vec<String>,
    /// Where this build exports its cache (`--cache-to`), as buildx writes it:
    /// `type=registry,ref=NAME,mode=max`, `type=local,dest=DIR`, `type=inline`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_to: Vec<String>,
    /// Export inline cache metadata with the image (`BUILDKIT_INLINE_CACHE=1`).
    pub inline_cache: bool,
    /// Push the result under this reference (the registry then holds its inline cache, if any).
    pub push: Option<String>,
    /// The platform built for, `os/arch[/variant]` (the automatic platform ARGs' values); `None`
    /// is the machine's own, `plan::DEFAULT_PLATFORM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Whether the engine can pull the frontend image a `# syntax=` line names: the machine
    /// reaches a registry that has it (`bk.syntax-frontend`). cachet's own engines cannot (no
    /// network); `cachet explain` assumes the user's machine can.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub frontend_pull: bool,
}

/// One build: the whole context (Dockerfile and `.dockerignore` included) and its options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub context: BuildContext,
    pub options: BuildOptions,
}

/// The name scenarios give cachet's base image: a busybox with `/bin/busybox`, `/bin/sh`,
/// `/etc/passwd` and `/etc/group`, and nothing else. The harness gives builds a salted copy of it,
/// `BASE_REPOSITORY:SALT`, which is the same image.
pub const BASE_IMAGE: &str = "base";
pub const BASE_REPOSITORY: &str = "localhost/cachet-base";

/// Whether `image` names cachet's base image (`BASE_IMAGE`, or a salted copy).
pub fn is_base_image(image: &str) -> bool {
    image == BASE_IMAGE
        || image
            .strip_prefix(BASE_REPOSITORY)
            .is_some_and(|tag| tag.starts_with(':'))
}
