//! cachet's harness: engines, contexts, observation, generation, checking, shrinking and reports.

pub mod buckets;
pub mod case_file;
pub mod cells;
pub mod check;
pub mod clean;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod error;
pub mod execute;
pub mod fresh;
pub mod generate;
pub mod inventory;
pub mod known;
pub mod materialize;
pub mod mutants;
pub mod observe;
pub mod report;
pub mod reproduce;
pub mod rules_page;
pub mod run;
pub mod schema;
pub mod shrink;
pub mod step_changes;
pub mod suspects;
pub mod versions;
