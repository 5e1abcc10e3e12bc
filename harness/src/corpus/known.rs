//! The known-divergence catalogue (`cases/known/catalogue.toml`): engine behaviour that differs from the
//! model and is already reported upstream. A confirmed discrepancy that matches an entry is
//! reported as known, not as nonconformance, so nightly runs stay green on known behaviour; when
//! the engine is fixed the entry stops matching and `cachet report diff` shows it vanish.

use std::collections::BTreeMap;
use std::path::Path;

use models::predict::{Field, ReasonKind};
use models::scenario::{apply_mutation, Mutation, Scenario};
use models::{BuildContext, Outcome};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Known {
    /// Engine kind (`Engine::kind`): a profile name (`buildkit-cli`, `podman`, ...) or `buildx`.
    pub engine: String,
    /// Engine versions it applies to (`engine::versions`: `20.10`, `>=4.3, <5`), compared with the
    /// engine's own version.
    pub versions: crate::engine::versions::VersionRange,
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
    /// If set: only a discrepancy at a step of this instruction (`WORKDIR`), so an entry for one
    /// instruction's behaviour cannot hide another's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
    /// If set: only a discrepancy at a step whose instruction carries every one of these flags
    /// (`["--from", "--chown"]`, names without their values), for an engine bug that only one
    /// form of an instruction shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    pub link: String,
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
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

/// The catalogue as this cachet was built with it (`cases/known/catalogue.toml`): what `cachet
/// run` and `cachet explain` use wherever they run, unless `--known` names another.
pub const BUILT_IN: &str = include_str!("../../../cases/known/catalogue.toml");

/// Which catalogue a run classifies its findings with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Catalogue {
    /// The one cachet was built with (`BUILT_IN`): the command line's default.
    #[default]
    BuiltIn,
    /// `--known FILE`: replaces the built-in one (an empty file: no catalogue).
    File(std::path::PathBuf),
    /// None: every confirmed discrepancy is new (tests that count raw findings).
    Empty,
}

impl Catalogue {
    /// Its entries; a file that cannot be read or parsed is bad input.
    pub fn load(&self) -> Result<Vec<Known>> {
        match self {
            Catalogue::BuiltIn => {
                parse_catalogue(BUILT_IN, Path::new("cases/known/catalogue.toml"))
            }
            Catalogue::File(path) => load_catalogue(path),
            Catalogue::Empty => Ok(Vec::new()),
        }
    }

    /// How a report names it: `built-in (cachet 0.1.0)`, the file's path, or `none`.
    pub fn describe(&self) -> String {
        match self {
            Catalogue::BuiltIn => format!("built-in (cachet {})", env!("CARGO_PKG_VERSION")),
            Catalogue::File(path) => path.display().to_string(),
            Catalogue::Empty => "none".to_string(),
        }
    }
}

/// A catalogue's entries from its text (`path` names it in errors).
pub fn parse_catalogue(text: &str, path: &Path) -> Result<Vec<Known>> {
    let catalogue: CatalogueFile = toml::from_str(text).map_err(|e| Error::BadCase {
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
        .find(|k| !crate::engine::inventory::is_engine_kind(&k.engine))
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
                crate::engine::inventory::engine_kinds().join(", ")
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

/// One mutation of a scenario as the catalogue sees it: before which build (1-based), its kind,
/// and the context paths it changed (a rename's two).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub build: usize,
    pub kind: String,
    pub paths: Vec<String>,
}

/// Every mutation of `scenario`, in order, with its kind and paths.
pub fn touches(scenario: &Scenario) -> Vec<Touch> {
    let mut context = scenario.context.clone();
    let mut out = Vec::new();
    for (n, transition) in scenario.transitions.iter().enumerate() {
        for m in &transition.mutations {
            out.push(Touch {
                build: n + 1,
                kind: mutation_kind(m, &context),
                paths: mutation_paths(m),
            });
            let _ = apply_mutation(&mut context, m, n as i64);
        }
    }
    out
}

fn mutation_paths(m: &Mutation) -> Vec<String> {
    match m {
        Mutation::Rename { from, to } => vec![from.clone(), to.clone()],
        other => vec![other.path().to_string()],
    }
}

/// Whether a mutation of `kind` changes a source's `field` as the model keys it.
fn changes_field(kind: &str, field: &Field) -> bool {
    match field {
        Field::Content => matches!(kind, "write" | "write-same-size"),
        Field::Mode { .. } => matches!(kind, "chmod" | "chmod-dir"),
        Field::Owner { .. } => kind == "chown",
        Field::Times => matches!(kind, "touch" | "write"),
        Field::Xattr { .. } => matches!(kind, "set-xattr" | "remove-xattr"),
        Field::Type { .. } | Field::LinkTarget { .. } | Field::Added | Field::Removed => {
            matches!(kind, "symlink" | "mkdir" | "remove" | "rename" | "write")
        }
    }
}

/// `path` is `at` or lies under it.
fn at_or_under(path: &str, at: &str) -> bool {
    path == at
        || path
            .strip_prefix(at)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Why a discrepancy happened, in the catalogue's terms: the kinds of the mutations that made the
/// input difference the model's reason names, and since which build.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Cause {
    /// Mutation kinds (sorted, deduplicated), with the build-level kinds of the finding's own
    /// build (`no-cache`, `dockerfile-xattrs`).
    pub kinds: Vec<String>,
    /// The earliest build whose mutation made the difference, where the reason names one.
    pub since: Option<usize>,
    /// The instruction keyword of the step (`COPY`), where the step is known.
    pub keyword: Option<String>,
    /// The flags the step's instruction carries (`--from`, `--chown`: names without values).
    pub flags: Vec<String>,
}

impl Cause {
    /// `set-xattr` or `write+chmod`, `none` when no mutation made it: a bucket's signature part.
    pub fn label(&self) -> String {
        if self.kinds.is_empty() {
            "none".to_string()
        } else {
            self.kinds.join("+")
        }
    }
}

/// The cause of a discrepancy at `build` whose model prediction was `predicted`. A step the model
/// predicted rebuilt because a source differs (`SourceChanged { path, field }`) is caused by the
/// mutations of any build up to this one that changed that field of that path (or of a directory
/// holding it), whatever the builds between did: a stale sync hidden behind a `--no-cache`
/// rebuild still has its cause. Anything else is caused by the build's own mutations.
pub fn cause(
    touches: &[Touch],
    kinds: &[Vec<String>],
    build: usize,
    predicted: Option<&Outcome>,
) -> Cause {
    let own = || -> Vec<String> {
        kinds
            .get(build.saturating_sub(1))
            .cloned()
            .unwrap_or_default()
    };
    let by_source = match predicted {
        Some(Outcome::Rebuilt { reason }) => match &reason.kind {
            ReasonKind::SourceChanged { path, field } => touches
                .iter()
                .filter(|t| t.build <= build && changes_field(&t.kind, field))
                .filter(|t| t.paths.iter().any(|p| at_or_under(path, p)))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let (mut kinds, since) = if by_source.is_empty() {
        (own(), None)
    } else {
        let mut k: Vec<String> = by_source.iter().map(|t| t.kind.clone()).collect();
        // The build's own build-level kinds stay part of what happened.
        k.extend(
            own()
                .into_iter()
                .filter(|k| k == "no-cache" || k == "dockerfile-xattrs"),
        );
        (k, by_source.iter().map(|t| t.build).min())
    };
    kinds.sort();
    kinds.dedup();
    Cause {
        kinds,
        since,
        keyword: None,
        flags: Vec::new(),
    }
}

/// An instruction's keyword (upper case) and the names of its flags (`--from`, without values),
/// from its text as written (`COPY --from=s0 --chown=2:2 /a /x`).
pub fn keyword_and_flags(instruction: &str) -> (String, Vec<String>) {
    let mut words = instruction.lines().next().unwrap_or("").split_whitespace();
    let keyword = words.next().unwrap_or("").to_ascii_uppercase();
    let flags = words
        .take_while(|w| w.starts_with("--"))
        .map(|w| w.split('=').next().unwrap_or(w).to_ascii_lowercase())
        .collect();
    (keyword, flags)
}

/// The entry that explains a discrepancy observed as `observed` at `build`, caused by `cause`
/// (`kinds` covers every build of the scenario, for `after`), if any.
pub fn explain<'a>(
    catalogue: &'a [Known],
    kind: &str,
    version: &str,
    kinds: &[Vec<String>],
    build: usize,
    cause: &Cause,
    observed: &str,
) -> Option<&'a Known> {
    let earlier = &kinds[..build.saturating_sub(1).min(kinds.len())];
    catalogue.iter().find(|k| {
        k.engine == kind
            && k.versions.contains_engine(version)
            && k.observed == observed
            && k.instruction.as_ref().is_none_or(|i| {
                cause
                    .keyword
                    .as_ref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(i))
            })
            && k.flags.iter().all(|f| cause.flags.contains(f))
            && (k.mutations.is_empty() || cause.kinds.iter().any(|kind| k.mutations.contains(kind)))
            && (k.after.is_empty() || earlier.iter().flatten().any(|kind| k.after.contains(kind)))
    })
}

/// Whether a later step of a build, observed `observed` like a known discrepancy at `at` before
/// it, only carries that discrepancy on: after a known miss the engine rebuilds what the model
/// predicted cached (it hangs off the missed step); after a known hit it serves what the model
/// predicted rebuilt only because the stage was rebuilt at or after `at` (`cascade`), not for a
/// reason of its own (`--no-cache`, a changed source).
fn cascades(at: usize, observed: &str, predicted: Option<&Outcome>) -> bool {
    match (observed, predicted) {
        ("rebuilt", Some(Outcome::Cached { .. })) => true,
        ("cached", Some(Outcome::Rebuilt { reason })) => {
            matches!(reason.kind, ReasonKind::ParentRebuilt { step } if step >= at)
        }
        _ => false,
    }
}

/// Confirmed discrepancies split into those the catalogue does not explain and those it does,
/// each with its cause.
#[derive(Debug, Default)]
pub struct Classified {
    pub unknown: Vec<(usize, usize, String)>,
    /// `(build, step, observed, link)`.
    pub known: Vec<(usize, usize, String, String)>,
    /// `(build, step, cause label)` of every discrepancy, known or not.
    pub causes: Vec<(usize, usize, String)>,
}

/// A step as `classify` reads it: the model's prediction and the instruction as written (its
/// keyword and flags are what an entry's `instruction` and `flags` match).
pub type StepFacts = BTreeMap<(usize, usize), (Outcome, String)>;

/// Splits discrepancies `(build, step, observed)` of a run of `scenario` (`predicted`: the
/// model's outcome at each step, for the cause). After a build with a known divergence, the
/// engine's cache no longer holds what the model thinks it holds, so the discrepancies of later
/// builds follow from it and count as known too; so do the later steps of the same build that
/// only carry it on (`cascades`).
pub fn classify(
    catalogue: &[Known],
    kind: &str,
    settings: &models::scenario::HostSettings,
    version: &str,
    scenario: &Scenario,
    predicted: &StepFacts,
    discrepancies: impl IntoIterator<Item = (usize, usize, String)>,
) -> Classified {
    let kinds = mutation_kinds_per_build(scenario, settings);
    let touches = touches(scenario);
    let mut sorted: Vec<(usize, usize, String)> = discrepancies.into_iter().collect();
    sorted.sort();
    let mut out = Classified::default();
    // The first known discrepancy: `(build, step, observed, link)`.
    let mut first_known: Option<(usize, usize, String, String)> = None;
    for (build, step, observed) in sorted {
        let facts = predicted.get(&(build, step));
        let (keyword, flags) = facts.map(|(_, text)| keyword_and_flags(text)).unzip();
        let cause = Cause {
            keyword,
            flags: flags.unwrap_or_default(),
            ..cause(&touches, &kinds, build, facts.map(|(o, _)| o))
        };
        out.causes.push((build, step, cause.label()));
        if let Some(k) = explain(catalogue, kind, version, &kinds, build, &cause, &observed) {
            first_known.get_or_insert((build, step, observed.clone(), k.link.clone()));
            out.known.push((build, step, observed, k.link.clone()));
        } else if let Some((at, link)) = first_known
            .as_ref()
            .filter(|(at, _, _, _)| *at < build)
            .map(|(at, _, _, link)| (*at, link))
        {
            out.known.push((
                build,
                step,
                observed,
                format!("follows from build {at}: {link}"),
            ));
        } else if let Some((at, at_step, link)) = first_known
            .as_ref()
            .filter(|(at, at_step, was, _)| {
                *at == build
                    && *at_step < step
                    && *was == observed
                    && cascades(*at_step, &observed, facts.map(|(o, _)| o))
            })
            .map(|(at, at_step, _, link)| (*at, *at_step, link))
        {
            out.known.push((
                build,
                step,
                observed,
                format!("follows from build {at} step {at_step}: {link}"),
            ));
        } else {
            out.unknown.push((build, step, observed));
        }
    }
    out
}

#[cfg(test)]
mod tests;
