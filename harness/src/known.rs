//! The known-divergence catalogue (`cases/known.toml`): engine behaviour that differs from the
//! model and is already reported upstream. A confirmed discrepancy that matches an entry is
//! reported as known, not as nonconformance, so nightly runs stay green on known behaviour; when
//! the engine is fixed the entry stops matching and `cachet report diff` shows it vanish.

use std::path::Path;

use models::scenario::{apply_mutation, Mutation, Scenario};
use models::BuildContext;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Known {
    /// Engine kind (`Engine::kind`): a profile name (`buildkit-cli`, `podman`, ...) or `buildx`.
    pub engine: String,
    /// Engine versions it applies to (`versions.rs`: `20.10`, `>=4.3, <5`), compared with the
    /// engine's own version.
    pub versions: crate::versions::VersionRange,
    /// The build has at least one mutation of these kinds (op names, with `chmod-dir` for a chmod
    /// of a directory, and `no-cache` for a build run with `--no-cache`). Other mutations may
    /// ride along: a stale file stays stale whatever else changes. Empty: any build, with or
    /// without mutations (then `after` says what makes it known).
    #[serde(default)]
    pub mutations: Vec<String>,
    /// If set: some earlier build of the scenario had a mutation of one of these kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// What the engine does where the model predicts otherwise: `cached` or `rebuilt`; `stale`
    /// when the second oracle found the image differs from a fresh build.
    pub observed: String,
    pub link: String,
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    #[serde(default)]
    known: Vec<Known>,
}

pub fn load_catalogue(path: &Path) -> Result<Vec<Known>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_catalogue(&text, path)
}

/// The catalogue as this cachet was built with it (`cases/known/catalogue.toml`), for commands
/// run away from a checkout (`cachet explain`).
pub const BUILT_IN: &str = include_str!("../../cases/known/catalogue.toml");

/// A catalogue's entries from its text (`path` names it in errors).
pub fn parse_catalogue(text: &str, path: &Path) -> Result<Vec<Known>> {
    let catalogue: Catalogue = toml::from_str(text).map_err(|e| Error::BadCase {
        path: path.to_path_buf(),
        line: e
            .span()
            .map(|s| text[..s.start].matches('\n').count() + 1)
            .unwrap_or(1),
        reason: e.message().to_string(),
    })?;
    if let Some(k) = catalogue
        .known
        .iter()
        .find(|k| !crate::inventory::is_engine_kind(&k.engine))
    {
        return Err(Error::BadCase {
            path: path.to_path_buf(),
            line: text
                .lines()
                .position(|l| l.contains(&format!("engine = \"{}\"", k.engine)))
                .map_or(1, |i| i + 1),
            reason: format!(
                "an entry names engine `{}`, which is no engine kind ({})",
                k.engine,
                crate::inventory::engine_kinds().join(", ")
            ),
        });
    }
    Ok(catalogue.known)
}

/// A mutation's kind as the catalogue names it.
pub fn mutation_kind(mutation: &Mutation, before: &BuildContext) -> String {
    let op = serde_json::to_value(mutation)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default();
    match mutation {
        Mutation::Chmod { path, .. } if before.get(path).is_some_and(models::Entry::is_dir) => {
            "chmod-dir".to_string()
        }
        _ => op,
    }
}

/// The kinds of the mutations before each build (1-based build `n` at index `n - 1`),
/// `no-cache` for a build run with `--no-cache`, and `dockerfile-xattrs` for a build whose
/// Dockerfile carries xattrs as the host presents it (`settings`: an SELinux host labels it).
pub fn mutation_kinds_per_build(
    scenario: &Scenario,
    settings: &models::scenario::HostSettings,
) -> Vec<Vec<String>> {
    let mut context = scenario.context.clone();
    let mut out = Vec::new();
    for (n, transition) in scenario.transitions.iter().enumerate() {
        let mut kinds = Vec::new();
        for m in &transition.mutations {
            kinds.push(mutation_kind(m, &context));
            let _ = apply_mutation(&mut context, m, n as i64);
        }
        if transition.build.options.no_cache {
            kinds.push("no-cache".to_string());
        }
        let presented = models::scenario::apply_host_settings(&context, settings);
        if presented
            .get(models::context::DOCKERFILE_NAME)
            .is_some_and(|e| !e.xattrs.is_empty())
        {
            kinds.push("dockerfile-xattrs".to_string());
        }
        out.push(kinds);
    }
    out
}

/// The entry that explains a discrepancy observed as `observed` at a build whose mutations are
/// `kinds[build - 1]` (`kinds` covers every build of the scenario), if any.
pub fn explain<'a>(
    catalogue: &'a [Known],
    kind: &str,
    version: &str,
    kinds: &[Vec<String>],
    build: usize,
    observed: &str,
) -> Option<&'a Known> {
    let this = kinds
        .get(build.saturating_sub(1))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let earlier = &kinds[..build.saturating_sub(1).min(kinds.len())];
    catalogue.iter().find(|k| {
        k.engine == kind
            && k.versions.contains_engine(version)
            && k.observed == observed
            && (k.mutations.is_empty() || this.iter().any(|kind| k.mutations.contains(kind)))
            && (k.after.is_empty() || earlier.iter().flatten().any(|kind| k.after.contains(kind)))
    })
}

/// Confirmed discrepancies split into those the catalogue does not explain and those it does.
#[derive(Debug, Default)]
pub struct Classified {
    pub unknown: Vec<(usize, usize, String)>,
    /// `(build, step, observed, link)`.
    pub known: Vec<(usize, usize, String, String)>,
}

/// Splits discrepancies `(build, step, observed)` of a run of `scenario`. After a build with a
/// known divergence, the engine's cache no longer holds what the model thinks it holds, so the
/// discrepancies of later builds follow from it and count as known too.
pub fn classify(
    catalogue: &[Known],
    kind: &str,
    settings: &models::scenario::HostSettings,
    version: &str,
    scenario: &Scenario,
    discrepancies: impl IntoIterator<Item = (usize, usize, String)>,
) -> Classified {
    let kinds = mutation_kinds_per_build(scenario, settings);
    let mut sorted: Vec<(usize, usize, String)> = discrepancies.into_iter().collect();
    sorted.sort();
    let mut out = Classified::default();
    let mut first_known: Option<(usize, String)> = None;
    for (build, step, observed) in sorted {
        if let Some(k) = explain(catalogue, kind, version, &kinds, build, &observed) {
            first_known.get_or_insert((build, k.link.clone()));
            out.known.push((build, step, observed, k.link.clone()));
        } else if let Some((at, link)) = first_known.as_ref().filter(|(at, _)| *at < build) {
            out.known.push((
                build,
                step,
                observed,
                format!("follows from build {at}: {link}"),
            ));
        } else {
            out.unknown.push((build, step, observed));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::scenario::Transition;
    use models::Entry;

    fn stale_sync() -> Known {
        Known {
            engine: "buildkit-cli".into(),
            versions: crate::versions::VersionRange::parse("20.10").unwrap(),
            mutations: vec!["chmod-dir".into(), "write-same-size".into()],
            after: Vec::new(),
            observed: "cached".into(),
            link: "https://github.com/moby/buildkit/issues/4817".into(),
            note: String::new(),
        }
    }

    fn kinds(k: &[&[&str]]) -> Vec<Vec<String>> {
        k.iter()
            .map(|b| b.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn mutation_kinds_tell_directories_apart() {
        let mut context = BuildContext::new();
        context.insert("d/a", Entry::file("x")).unwrap();
        assert_eq!(
            mutation_kind(
                &Mutation::Chmod {
                    path: "d".into(),
                    mode: 0o700
                },
                &context
            ),
            "chmod-dir"
        );
        assert_eq!(
            mutation_kind(
                &Mutation::Chmod {
                    path: "d/a".into(),
                    mode: 0o600
                },
                &context
            ),
            "chmod"
        );
        assert_eq!(
            mutation_kind(
                &Mutation::WriteSameSize {
                    path: "d/a".into(),
                    content: "y".into()
                },
                &context
            ),
            "write-same-size"
        );
    }

    #[test]
    fn an_entry_matches_engine_version_observation_and_every_mutation() {
        let catalogue = vec![stale_sync()];
        let v = "20.10.24+dfsg1";
        assert!(explain(
            &catalogue,
            "buildkit-cli",
            v,
            &kinds(&[&["chmod-dir"]]),
            1,
            "cached"
        )
        .is_some());
        assert!(explain(
            &catalogue,
            "buildkit-cli",
            v,
            &kinds(&[&["chmod-dir", "chmod"]]),
            1,
            "cached"
        )
        .is_some());
        assert!(
            explain(
                &catalogue,
                "buildkit-cli",
                v,
                &kinds(&[&["chmod"]]),
                1,
                "cached"
            )
            .is_none(),
            "a file chmod is synced: not this entry"
        );
        assert!(explain(
            &catalogue,
            "buildkit-cli",
            "24.0.7",
            &kinds(&[&["chmod-dir"]]),
            1,
            "cached"
        )
        .is_none());
        assert!(explain(
            &catalogue,
            "buildkit",
            v,
            &kinds(&[&["chmod-dir"]]),
            1,
            "cached"
        )
        .is_none());
        assert!(explain(
            &catalogue,
            "buildkit-cli",
            v,
            &kinds(&[&["chmod-dir"]]),
            1,
            "rebuilt"
        )
        .is_none());
        assert!(explain(&catalogue, "buildkit-cli", v, &kinds(&[&[]]), 1, "cached").is_none());
        let catch_up = vec![Known {
            after: vec!["write-same-size".into()],
            mutations: vec!["touch".into()],
            observed: "rebuilt".into(),
            ..stale_sync()
        }];
        assert!(explain(
            &catch_up,
            "buildkit-cli",
            v,
            &kinds(&[&["write-same-size"], &["touch"]]),
            2,
            "rebuilt"
        )
        .is_some());
        assert!(
            explain(
                &catch_up,
                "buildkit-cli",
                v,
                &kinds(&[&["write"], &["touch"]]),
                2,
                "rebuilt"
            )
            .is_none(),
            "needs the earlier change"
        );
        let after_no_cache = vec![Known {
            engine: "podman".into(),
            versions: crate::versions::VersionRange::parse("4.3").unwrap(),
            mutations: Vec::new(),
            after: vec!["no-cache".into()],
            observed: "rebuilt".into(),
            ..stale_sync()
        }];
        assert!(
            explain(
                &after_no_cache,
                "podman",
                "4.3.1",
                &kinds(&[&[], &["chmod", "no-cache"], &[]]),
                3,
                "rebuilt"
            )
            .is_some(),
            "any build after a --no-cache build"
        );
        assert!(explain(
            &after_no_cache,
            "podman",
            "4.3.1",
            &kinds(&[&[], &["chmod"], &[]]),
            3,
            "rebuilt"
        )
        .is_none());
    }

    #[test]
    fn discrepancies_after_a_known_one_follow_from_it() {
        let mut context = BuildContext::new();
        context.insert("d/a", Entry::file("x")).unwrap();
        let scenario = Scenario {
            context,
            transitions: vec![
                Transition::default(),
                Transition {
                    mutations: vec![Mutation::Chmod {
                        path: "d".into(),
                        mode: 0o700,
                    }],
                    ..Default::default()
                },
                Transition {
                    mutations: vec![Mutation::Chmod {
                        path: "d/a".into(),
                        mode: 0o600,
                    }],
                    ..Default::default()
                },
            ],
        };
        let found = vec![
            (3, 2, "rebuilt".to_string()),
            (2, 2, "cached".to_string()),
            (1, 2, "cached".to_string()),
        ];
        let c = classify(
            &[stale_sync()],
            "buildkit-cli",
            &Default::default(),
            "20.10.24",
            &scenario,
            found,
        );
        assert_eq!(c.unknown, vec![(1, 2, "cached".to_string())]);
        assert_eq!(c.known.len(), 2);
        assert!(
            c.known[1].3.starts_with("follows from build 2: "),
            "{:?}",
            c.known
        );
    }

    #[test]
    fn a_labelled_dockerfile_is_a_kind_of_its_own() {
        let mut context = BuildContext::new();
        context.set_dockerfile_text("FROM base\n");
        let scenario = Scenario {
            context,
            transitions: vec![Transition::default(), Transition::default()],
        };
        let selinux = models::scenario::HostSettings {
            selinux_label: Some("system_u:object_r:container_file_t:s0".into()),
            ..Default::default()
        };
        assert_eq!(
            mutation_kinds_per_build(&scenario, &selinux),
            vec![vec!["dockerfile-xattrs".to_string()]; 2]
        );
        assert_eq!(
            mutation_kinds_per_build(&scenario, &Default::default()),
            vec![Vec::<String>::new(); 2]
        );
    }
}
