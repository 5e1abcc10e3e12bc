//! cachet's harness: engines, contexts, observation, generation, checking, shrinking and reports.

pub mod check;
pub mod cli;
pub mod corpus;
pub mod engine;
pub mod error;
pub mod explain;
pub mod generate;
pub mod report;
pub mod run;
