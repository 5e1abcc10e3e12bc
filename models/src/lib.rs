//! cachet's reference model of Docker's build-cache rules: pure, deterministic, no IO.
//!
//! The model answers one question: given what an engine has cached (`EngineState`) and a build
//! (`Build`: a virtual context with its Dockerfile, and options), which steps does the engine serve
//! from cache, and why does each other step rebuild (`predict`)? `apply` records a build in the
//! state. Each builder, transport and engine generation has a `Profile` whose rule table
//! (`profiles/`) says what goes into a step's key; any rule can be switched off to make a mutant.
//!
//! Invariant: this crate does no IO (no `std::fs`, no network, no clock, no randomness, no async).
//! The harness does all of that and hands the model plain data.

pub mod context;
pub mod dockerfile;
pub mod dockerignore;
pub mod fingerprint;
pub mod predict;
pub mod profiles;
pub mod rules;
pub mod scenario;
pub mod step;

pub use context::{BuildContext, Entry, EntryKind};
pub use dockerfile::{Body, Dockerfile, Instruction};
pub use predict::{
    apply, predict, Build, BuildOptions, CacheExport, EngineState, Exports, Field, Outcome,
    Prediction, Reason, ReasonKind,
};
pub use profiles::{
    Builder, Features, Generation, GenerationChoice, ImageStore, Profile, Project, Support,
    Transport, Version, Versions,
};
pub use rules::{Rule, RuleId, Status, Switch, UnknownRuleId};
