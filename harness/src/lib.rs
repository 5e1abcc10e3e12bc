//! cachet's harness: engines, contexts, observation, generation, checking, shrinking and reports.

pub mod case_file;
pub mod check;
pub mod driver;
pub mod error;
pub mod execute;
pub mod inventory;
pub mod materialize;
pub mod observe;
