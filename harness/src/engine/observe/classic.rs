//! The classic builder's stream (`Step i/N : ...`, ` ---> Using cache`).

use std::collections::BTreeMap;

use super::step_map::StepInfo;
use super::stream::parse_step_stream;
use super::types::Observed;

/// Classic builder stream text (`Step i/N : ...`, ` ---> Using cache`): `i` counts every
/// instruction of the file.
pub fn parse_classic(
    log: &str,
    map: &[StepInfo],
    error: Option<&str>,
) -> BTreeMap<usize, Observed> {
    let header = |line: &str| {
        let (numbers, _) = line.strip_prefix("Step ")?.split_once(" : ")?;
        Some(numbers.split('/').next()?.parse::<usize>().ok())
    };
    parse_step_stream(log, map, error, header, ("---> Using cache", None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observe::fixtures::{check, steps_of, DOCKERFILE};

    #[test]
    fn classic_stream() {
        let log = "Step 1/7 : FROM base AS first\n ---> 1\nStep 2/7 : COPY a /a\n ---> Using cache\n ---> 2\nStep 3/7 : ENV X=1\n ---> Running in 9\n ---> 3\nStep 4/7 : RUN true\n";
        check(
            parse_classic(log, &steps_of(DOCKERFILE), Some("boom")),
            "1 cached, 2 cached, 3 rebuilt, 4 failed",
        );
    }
}
