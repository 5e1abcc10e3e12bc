//! Podman / Buildah's stream (`[k/m] STEP i/N: ...`, `--> Using cache <id>`): its stage
//! numbering among every stage up to the target, skipped ones too.

use std::collections::BTreeMap;

use super::step_map::StepInfo;
use super::stream::parse_step_stream;
use super::types::Observed;

/// Podman / Buildah compat stream text (`[k/m] STEP i/N: ...`, `--> Using cache <id>`): `k` is
/// the stage's place among the Dockerfile's stages up to the target (1-based, skipped stages
/// counted: `[2/3]` and `[3/3]` when the unused first stage is skipped, measured on Podman 4.3.1,
/// 5.4.2 and 5.8.6), `m` the target's; `i` restarts in each. With one stage up to the target
/// there is no prefix.
pub fn parse_podman(log: &str, map: &[StepInfo], error: Option<&str>) -> BTreeMap<usize, Observed> {
    let header = |line: &str| {
        let (stage, rest) = match line.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((prefix, rest)) if rest.starts_with("STEP ") => {
                let k = prefix
                    .split('/')
                    .next()
                    .and_then(|k| k.parse::<usize>().ok())
                    .unwrap_or(1);
                (k.saturating_sub(1), rest)
            }
            _ => (0, line),
        };
        let (numbers, _) = rest.strip_prefix("STEP ")?.split_once(": ")?;
        let i = numbers
            .split('/')
            .next()
            .and_then(|i| i.parse::<usize>().ok());
        Some(
            map.iter()
                .find(|s| s.stage == stage && Some(s.index_in_stage) == i)
                .map(|s| s.step),
        )
    };
    parse_step_stream(log, map, error, header, ("--> Using cache", Some("--> ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::observe::fixtures::{check, steps_of, DOCKERFILE};

    #[test]
    fn podman_stream_with_stage_prefixes() {
        let log = "[1/2] STEP 1/4: FROM base AS first\n[1/2] STEP 2/4: COPY a /a\n--> Using cache abc\n[1/2] STEP 3/4: ENV X=1\n--> 1\n[2/2] STEP 1/3: FROM base\n[2/2] STEP 3/3: RUN echo\n--> Using cache def\n";
        check(
            parse_podman(log, &steps_of(DOCKERFILE), None),
            "1 cached, 2 cached, 3 rebuilt, 5 cached, 7 cached",
        );
    }

    #[test]
    fn podman_steps_after_global_args_map_to_their_own_instructions() {
        let dockerfile = "ARG G\nARG V=1\nFROM base\nARG V\nRUN echo $V\n";
        let log = "STEP 1/3: FROM base\nSTEP 2/3: ARG V\n--> Using cache abc\n--> abc\nSTEP 3/3: RUN echo $V\n--> def\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "3 cached, 4 cached, 5 rebuilt",
        );
    }

    #[test]
    fn podman_s_interleaved_stages_give_each_cache_line_to_its_open_step() {
        // Measured on Podman 5.4: the last stage starts while stage 2 runs; its COPY --from
        // waits for stage 2, whose steps print in between.
        let dockerfile = "FROM base AS s0\nWORKDIR /app\nFROM s0 AS s1\nCOPY a .\nCOPY b /d/\nFROM base\nCOPY --from=s1 /app/a /a\n";
        let log = "[1/3] STEP 1/2: FROM base AS s0\n[1/3] STEP 2/2: WORKDIR /app\n--> Using cache 3cf8\n--> 3cf8\n[3/3] STEP 1/2: FROM base\n[3/3] STEP 2/2: COPY --from=s1 /app/a /a\n[2/3] STEP 1/3: FROM 3cf8 AS s1\n[2/3] STEP 2/3: COPY a .\n--> Using cache 18ad\n--> 18ad\n[2/3] STEP 3/3: COPY b /d/\n--> 9c0f\n--> Using cache 1ae3\n--> 1ae3\n[3/3] COMMIT x\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "1 cached, 2 cached, 3 cached, 4 cached, 5 rebuilt, 6 cached, 7 cached",
        );
    }

    #[test]
    fn podman_numbers_stages_among_all_up_to_the_target_skipped_ones_too() {
        // Podman 4.3.1, 5.4.2 and 5.8.6 alike: the unused s1 is skipped, yet the last stage is
        // `[3/3]`; with `--target s1` the only stage built is `[2/2]`.
        let dockerfile = "FROM base AS s0\nCOPY a /a\nFROM base AS s1\nCOPY b /b\nFROM base\nCOPY --from=s0 /a /c\n";
        let log = "[1/3] STEP 1/2: FROM base AS s0\n[1/3] STEP 2/2: COPY a /a\n--> Using cache 1a\n--> 1a\n[3/3] STEP 1/2: FROM base\n[3/3] STEP 2/2: COPY --from=s0 /a /c\n--> 2b\n";
        check(
            parse_podman(log, &steps_of(dockerfile), None),
            "1 cached, 2 cached, 5 cached, 6 rebuilt",
        );
        let target = "[2/2] STEP 1/2: FROM base AS s1\n[2/2] STEP 2/2: COPY b /b\n--> Using cache 3c\n--> 3c\n";
        check(
            parse_podman(target, &steps_of(dockerfile), None),
            "3 cached, 4 cached",
        );
    }
}
