//! The shape the classic and Podman streams share (a header line opens a step, a cache line
//! marks it cached, an error lands on the open step), and the image ids either prints.

use std::collections::BTreeMap;

use super::step_map::StepInfo;
use super::types::Observed;

/// The shape both classic and Podman streams share: a header line opens a step, a cache line
/// marks the open step cached, and a build error lands on the step that was open.
/// `header` returns `Some(step)` for a header line (`Some(None)` when it maps to no step).
/// `closing`, where the stream has one (Podman's `--> <id>`), ends a step: Buildah builds
/// independent stages side by side and interleaves their headers, so a cache line belongs to the
/// latest step not yet closed, not to the latest header (measured on Podman 4.3, 5.4 and 5.8:
/// `[3/3] STEP 2/3: COPY --from=s1 …` waits for stage 2, whose steps print in between).
pub(super) fn parse_step_stream(
    log: &str,
    map: &[StepInfo],
    error: Option<&str>,
    header: impl Fn(&str) -> Option<Option<usize>>,
    (cache_marker, closing): (&str, Option<&str>),
) -> BTreeMap<usize, Observed> {
    let mut steps = BTreeMap::new();
    let mut current: Option<usize> = None;
    let mut open: Vec<usize> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        if let Some(step) = header(line) {
            current = step;
            if let Some(step) = step {
                // FROM has no cache line; reaching it without an error is all it can show.
                let from = map.iter().any(|s| s.step == step && s.is_from);
                steps.insert(
                    step,
                    if from {
                        Observed::Cached
                    } else {
                        Observed::Rebuilt
                    },
                );
                if !from {
                    open.push(step);
                }
            }
        } else if line.starts_with(cache_marker) {
            let step = match closing {
                Some(_) => open.last().copied(),
                None => current,
            };
            if let Some(step) = step {
                steps.insert(step, Observed::Cached);
            }
        } else if closing.is_some_and(|c| line.starts_with(c)) {
            open.pop();
        }
    }
    if let (Some(message), Some(step)) = (error, current) {
        steps.insert(
            step,
            Observed::Failed {
                message: message.to_string(),
            },
        );
    }
    steps
}

/// Image ids a build printed, in order: a Podman build's `--> 095155a1eaf` (11 hex digits for a
/// step's image) or `--> Using cache <64 hex>`, a classic build's ` ---> 2b651cb20427`. These are
/// its intermediate images: removing the tagged image leaves behind the ones that are not its
/// ancestors (earlier stages of a multi-stage build, the steps of a failed build).
pub fn printed_image_ids(log: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in log.lines() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("---> ")
            .or_else(|| line.strip_prefix("--> "))
        else {
            continue;
        };
        let id = rest.strip_prefix("Using cache ").unwrap_or(rest).trim();
        if id.len() >= 10
            && id.chars().all(|c| c.is_ascii_hexdigit())
            && !ids
                .iter()
                .any(|i| id.starts_with(i.as_str()) || i.starts_with(id))
        {
            ids.push(id.to_string());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_intermediate_ids() {
        // Podman 4.3 prints 11 hex digits for a step's image (seen for a non-final stage).
        let log = "STEP 2/3: COPY a /a\n--> Using cache 0123456789abcdef0123\n--> 0123456789ab\nSTEP 3/3: RUN true\n--> fedcba98765\nSuccessfully tagged x\n";
        assert_eq!(
            printed_image_ids(log),
            vec![
                "0123456789abcdef0123".to_string(),
                "fedcba98765".to_string()
            ]
        );
    }

    #[test]
    fn classic_intermediate_ids() {
        let log = "Step 1/5 : FROM b AS first\n ---> a1ef944cd928\nStep 2/5 : COPY a /a\n ---> Using cache\n ---> 2b651cb20427\nStep 3/5 : RUN true\n ---> Running in 0123456789ab\nRemoving intermediate container 0123456789ab\n ---> 38e7e306c56e\n";
        assert_eq!(
            printed_image_ids(log),
            vec![
                "a1ef944cd928".to_string(),
                "2b651cb20427".to_string(),
                "38e7e306c56e".to_string()
            ]
        );
    }
}
