//! The corpus: case files a person writes and cachet emits (`cases/*.toml`), and the
//! known-divergence catalogue that tells a known engine deviation from a new one.

pub mod case_file;
pub mod known;
