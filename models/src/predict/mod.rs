//! Engine state and prediction: which steps a build serves from cache, and why.
//!
//! A build is first turned into a `Plan` (`plan.rs`, one function per instruction kind): for every
//! instruction of every stage that would be built, the key the profile's rules give it (`StepKey`,
//! rule-tagged components, `step/key.rs`) and its chain id (the key folded with its parent's chain).
//! `predict` looks the plan up in an `EngineState` (`state.rs`, `lookup.rs`); `apply` records it
//! there. A miss is explained from the same keys (`explain.rs`).
//!
//! The words a plan is made of (`Build`, `StepKey`, `Outcome`, `Reason`, `Scope`) are in `step/`,
//! below both this planner and the rule tables it calls; this file only declares and re-exports.

mod copy;
mod cx;
mod explain;
pub mod from;
mod lookup;
mod metadata;
pub(crate) mod plan;
mod run;
mod state;

pub use crate::step::key::{Component, Part, SourceFact, StepKey};
pub use crate::step::outcome::{Field, Outcome, Prediction, Reason, ReasonKind, StepPrediction};
pub use crate::step::{Build, BuildOptions};
pub use lookup::{apply, predict};
pub use plan::{built_stages, dispatch_refusal, parse_as, stage_bases};
pub use state::{CacheExport, EngineState, Exports};
