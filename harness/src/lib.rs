//! cachet's harness: engines, contexts, observation, generation, checking, shrinking and reports.

pub mod case_file;
pub mod check;
pub mod clean;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod error;
pub mod execute;
pub mod explain;
pub mod fresh;
pub mod generate;
pub mod inventory;
pub mod known;
pub mod materialize;
pub mod mutants;
pub mod observe;
pub mod report;
pub mod reproduce;
pub mod run;
pub mod schema;
pub mod shrink;
pub mod snapshot;
pub mod step_changes;
pub mod suspects;
pub mod versions;
