//! The variables in scope where a step runs: declared ARGs (with their value), ENVs, and what
//! USER, WORKDIR and SHELL set. The planner keeps one per stage; BuildKit's RUN key holds part of
//! it (`buildkit::run_env`).

use std::collections::BTreeMap;

/// Variables in scope in a stage: declared ARGs (with their value) and ENVs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    pub args: BTreeMap<String, Option<String>>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: String,
    /// The shell a SHELL instruction set, if any.
    pub shell: Option<Vec<String>>,
}

impl Scope {
    pub fn lookup(&self, name: &str, with_args: bool) -> Option<String> {
        if let Some((_, v)) = self.env.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if !with_args {
            return None;
        }
        self.args.get(name).cloned().flatten()
    }

    /// Declared args that have a value, as they enter RUN keys.
    pub fn args_with_values(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect()
    }

    pub fn set_env(&mut self, key: &str, value: String) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value));
    }
}
