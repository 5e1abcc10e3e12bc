//! cachet's harness: engines, contexts, observation, generation, checking, shrinking and reports.

pub mod driver;
pub mod error;
pub mod inventory;
pub mod materialize;
pub mod observe;
