//! The engine-free suite: every test that needs no engine, no browser and nothing `ci/engines up`
//! provisions, in one test binary (the model engine, `engine::model`, stands in for daemons
//! where a test runs builds). The tests that need real engines are the `engines` suite; the
//! regression corpus is `cases`.
//!
//! `cargo test -p cachet --test offline` runs it; `... --test offline -- reports::` one module.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod compare;
mod corpus;
mod distribution;
mod explain;
mod mutants;
mod pipeline;
mod properties;
mod reports;
mod shrink;
