//! Engine generations: which releases of Docker Engine (its classic builder and embedded BuildKit)
//! and of Podman (its Buildah) a profile models, how a reported version picks one, and the version
//! ranges rules hold for (`Versions`).
//!
//! Everything that differs between generations is stated here or in a rule's `versions`: the
//! frontend features each generation accepts (`Features::of`) and, per rule, the upstream release
//! it holds from. Nothing else asks which generation a profile is.

use serde::{Deserialize, Serialize};

use crate::dockerfile::expand::{Dialect, Syntax};
use crate::dockerfile::Feature;
use crate::profiles::builder::Builder;

/// A release number, `major.minor.patch`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// The first `N.N[.N]` in a token such as `20.10.24+dfsg1`, `v0.13.2`, `28.5.2+dfsg4,`.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim_start_matches('v');
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let mut parts = text[..end].split('.').filter(|p| !p.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        Some(Version(major, minor, patch))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The upstream project whose release a version range counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Project {
    /// Docker Engine (moby), whose classic builder cachet drives with `version=1`.
    Engine,
    /// BuildKit as embedded in Docker Engine (Debian's builds report it as `v0.0.0+unknown`, so
    /// the engine's own version stands for it: 20.10 → v0.8, 26.1 → v0.13.2, 28.5 → v0.25.2).
    BuildKit,
    /// Buildah as vendored by Podman (4.3 → 1.28, 5.4 → 1.39, 5.8 → 1.43).
    Buildah,
}

/// The engine generations cachet knows, each measured here: Debian 12, 13 and sid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Generation {
    /// Docker Engine 20.10.24: BuildKit v0.8 line, buildx 0.13.1 (Debian 12).
    #[serde(rename = "docker-20.10")]
    Docker20_10,
    /// Docker Engine 26.1.5: BuildKit v0.13.2, buildx 0.13.1 (Debian 13).
    #[serde(rename = "docker-26")]
    Docker26,
    /// Docker Engine 28.5.2: BuildKit v0.25.2, buildx 0.29.1 (sid).
    #[serde(rename = "docker-28")]
    Docker28,
    /// Podman 4.3.1: Buildah 1.28.2 (Debian 12).
    #[serde(rename = "podman-4.3")]
    Podman4_3,
    /// Podman 5.4.2: Buildah 1.39.3 (Debian 13).
    #[serde(rename = "podman-5.4")]
    Podman5_4,
    /// Podman 5.8.6: Buildah 1.43.2 (sid).
    #[serde(rename = "podman-5.8")]
    Podman5_8,
}

const DOCKER: &[Generation] = &[
    Generation::Docker20_10,
    Generation::Docker26,
    Generation::Docker28,
];
const PODMAN: &[Generation] = &[
    Generation::Podman4_3,
    Generation::Podman5_4,
    Generation::Podman5_8,
];

/// The generation a reported version picks, and whether it is one cachet knows exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GenerationChoice {
    pub generation: Generation,
    /// The version is in the generation's release line (`26.1.5` for Docker 26).
    pub exact: bool,
    /// Why the choice is not exact, for the report: newer than any known generation, older than
    /// the oldest, between two, or no version could be read.
    pub note: Option<String>,
}

impl Generation {
    /// The generations of a builder's engine, oldest first (the classic builder and BuildKit share
    /// Docker Engine's).
    pub fn known(builder: Builder) -> &'static [Generation] {
        match builder {
            Builder::Classic | Builder::BuildKit => DOCKER,
            Builder::Buildah => PODMAN,
        }
    }

    /// The oldest generation of a builder: the default, whose profile names are unqualified.
    pub fn oldest(builder: Builder) -> Generation {
        Generation::known(builder)[0]
    }

    pub fn is_oldest(self) -> bool {
        Generation::known(self.builder_family()).first() == Some(&self)
    }

    /// A builder this generation's engine carries (Docker: `Classic`; Podman: `Buildah`).
    fn builder_family(self) -> Builder {
        if DOCKER.contains(&self) {
            Builder::Classic
        } else {
            Builder::Buildah
        }
    }

    /// Whether a profile of `builder` can be of this generation.
    pub fn fits(self, builder: Builder) -> bool {
        Generation::known(builder).contains(&self)
    }

    /// The label in profile names (`buildkit-cli:26`, `podman:5.8`).
    pub fn label(self) -> &'static str {
        match self {
            Generation::Docker20_10 => "20.10",
            Generation::Docker26 => "26",
            Generation::Docker28 => "28",
            Generation::Podman4_3 => "4.3",
            Generation::Podman5_4 => "5.4",
            Generation::Podman5_8 => "5.8",
        }
    }

    /// The engine release measured for this generation (what the engine reports, without the
    /// distribution suffix).
    pub fn engine_version(self) -> Version {
        match self {
            Generation::Docker20_10 => Version(20, 10, 24),
            Generation::Docker26 => Version(26, 1, 5),
            Generation::Docker28 => Version(28, 5, 2),
            Generation::Podman4_3 => Version(4, 3, 1),
            Generation::Podman5_4 => Version(5, 4, 2),
            Generation::Podman5_8 => Version(5, 8, 6),
        }
    }

    /// The release of `project` this generation carries, if it carries it. Sources: each Engine
    /// release's vendored BuildKit (Engine 20.10.24 embeds BuildKit at the v0.8 branch, 26.1.5
    /// v0.13.2, 28.5.2 v0.25.2: moby's `vendor.mod` at those tags) and the Buildah each Podman
    /// reports (`podman version`: 4.3.1 has 1.28, 5.4.2 1.39, 5.8.6 1.43).
    pub fn release(self, project: Project) -> Option<Version> {
        let docker = DOCKER.contains(&self);
        match project {
            Project::Engine if docker => Some(self.engine_version()),
            Project::BuildKit => match self {
                Generation::Docker20_10 => Some(Version(0, 8, 0)),
                Generation::Docker26 => Some(Version(0, 13, 2)),
                Generation::Docker28 => Some(Version(0, 25, 2)),
                _ => None,
            },
            Project::Buildah => match self {
                Generation::Podman4_3 => Some(Version(1, 28, 2)),
                Generation::Podman5_4 => Some(Version(1, 39, 3)),
                Generation::Podman5_8 => Some(Version(1, 43, 2)),
                _ => None,
            },
            Project::Engine => None,
        }
    }

    /// Whether `version` is in this generation's release line: `20.10.*` for Docker 20.10, the
    /// major for later Docker (26.*, 28.*), `major.minor` for Podman.
    fn contains(self, version: Version) -> bool {
        let own = self.engine_version();
        match self {
            Generation::Docker26 | Generation::Docker28 => own.0 == version.0,
            _ => (own.0, own.1) == (version.0, version.1),
        }
    }

    /// The generation an engine's reported version picks: the first version-like word of it
    /// (`20.10.24+dfsg1`, `28.5.2+dfsg4`, `20.10.24+dfsg1 buildx 0.13.1+ds1` whose daemon part
    /// counts, Podman's `4.3.1`). A version between two known generations uses the older; newer
    /// than any, the newest; older than the oldest (or unreadable), the oldest: each with a note.
    pub fn from_version(builder: Builder, reported: &str) -> GenerationChoice {
        let known = Generation::known(builder);
        let oldest = known[0];
        let newest = known[known.len() - 1];
        let Some(version) = reported
            .split(|c: char| c.is_whitespace() || c == ',')
            .find_map(Version::parse)
        else {
            return GenerationChoice {
                generation: oldest,
                exact: false,
                note: Some(format!(
                    "no version in `{reported}`: modelled as the oldest known generation, {}",
                    oldest.label()
                )),
            };
        };
        if let Some(g) = known.iter().find(|g| g.contains(version)) {
            return GenerationChoice {
                generation: *g,
                exact: true,
                note: None,
            };
        }
        let (generation, why) = if version > newest.engine_version() {
            (newest, "newer than any known generation")
        } else if version < oldest.engine_version() {
            (oldest, "older than the oldest known generation")
        } else {
            let below = known.iter().rev().find(|g| g.engine_version() <= version);
            (*below.unwrap_or(&oldest), "between known generations")
        };
        GenerationChoice {
            generation,
            exact: false,
            note: Some(format!(
                "{version} is {why}: modelled as {} ({})",
                generation.label(),
                generation.engine_version()
            )),
        }
    }
}

/// The engine releases a rule holds for, counted in one upstream project's releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Versions {
    /// Every generation of the builders the rule `applies` to.
    All,
    /// From this release of the project on, with the change that introduced it.
    Since {
        project: Project,
        version: Version,
        source: &'static str,
    },
}

impl Versions {
    /// Whether the range holds for a generation (never for one that does not carry the project).
    pub fn holds(&self, generation: Generation) -> bool {
        match self {
            Versions::All => true,
            Versions::Since {
                project, version, ..
            } => generation.release(*project).is_some_and(|r| r >= *version),
        }
    }
}

impl std::fmt::Display for Versions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Versions::All => write!(f, "every generation"),
            Versions::Since {
                project, version, ..
            } => write!(f, "{project:?} {}.{} and later", version.0, version.1),
        }
    }
}

/// Whether a generation's frontend accepts a Dockerfile form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    /// Accepted: the model predicts it, or (where it cannot) says `Unsupported`.
    Yes,
    /// Refused before building: the model predicts the rejection.
    No,
    /// Nobody has said: the model predicts `Unsupported`, never a guess either way.
    Unknown,
}

/// Dockerfile features the engine's frontend accepts, per generation (`Features::of`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Features {
    pub copy_link: Support,
    pub heredoc: Support,
    pub add_checksum: Support,
    pub add_keep_git_dir: Support,
    pub copy_exclude: Support,
    pub copy_parents: Support,
    /// The `${...}` forms its lexer accepts (`dockerfile::expand`).
    pub expansion: Syntax,
    /// The automatic platform ARGs (`TARGETARCH`, `BUILDPLATFORM`, ...): BuildKit's frontend
    /// and imagebuilder define them; the classic builder does not (moby `builder/dockerfile` has
    /// none of these names at v20.10.24, v26.1.5 or v28.5.2).
    pub platform_args: bool,
}

impl Features {
    /// Engine 20.10's built-in frontends and Buildah 1.28 as measured here: neither accepts
    /// `COPY --link` nor heredocs through the paths cachet drives (measured on both); the newer flags are refused by the parser as unknown flags.
    pub const ENGINES_UNDER_TEST: Features = Features {
        copy_link: Support::No,
        heredoc: Support::No,
        add_checksum: Support::No,
        add_keep_git_dir: Support::No,
        copy_exclude: Support::No,
        copy_parents: Support::No,
        expansion: Syntax::BUILDKIT_0_8,
        platform_args: true,
    };

    pub fn support(&self, feature: Feature) -> Support {
        match feature {
            Feature::CopyLink => self.copy_link,
            Feature::Heredoc => self.heredoc,
            Feature::AddChecksum => self.add_checksum,
            Feature::AddKeepGitDir => self.add_keep_git_dir,
            Feature::CopyExclude => self.copy_exclude,
            Feature::CopyParents => self.copy_parents,
        }
    }

    /// Why the frontend refuses the form, if it does (as the engines word it where measured:
    /// Engine 20.10.24 says "Unknown flag: link", and reads a heredoc's body as instructions).
    pub fn refusal(&self, feature: Feature) -> Option<String> {
        (self.support(feature) == Support::No).then(|| match feature {
            Feature::Heredoc => {
                "heredocs are not supported: the body is read as unknown instructions".to_string()
            }
            flag => format!("unknown flag: {}", flag.spelling().trim_start_matches('-')),
        })
    }

    /// What each generation's frontend accepts. Sources (the frontends' release notes): the built-in
    /// Dockerfile frontend has heredocs and `COPY --link` from 1.4 (BuildKit v0.10), `ADD
    /// --checksum` and `ADD --keep-git-dir` (with `ADD <git ref>`) from 1.6 (v0.12, buildkit#3979), `COPY --exclude` stable from 1.19 (v0.25), `COPY --parents`
    /// labs only on 28.5; the classic builder refuses them on 20.10, and from 26 parses
    /// heredocs, `--link`, `--checksum` and `--keep-git-dir` (28: `--exclude`), but not `--parents`. Buildah: heredocs accepted by 1.35 (their content keyed since, buildah#5261),
    /// `COPY --link` from 1.41, `ADD --checksum` from 1.33 (buildah#5135), `COPY --exclude` from
    /// 1.38, `COPY --parents` parsed from 1.37 (copied from 1.40, `buildah.copy-parents`); its
    /// `--keep-git-dir` is not documented here, so unknown past 1.28.
    pub fn of(builder: Builder, generation: Generation) -> Features {
        use Support::{No, Unknown, Yes};
        let since = |project, version| match generation.release(project) {
            Some(release) if release >= version => Yes,
            _ => No,
        };
        match builder {
            // Measured here (cases run-heredoc-body, copy-exclude-changed): the classic builder
            // of Engine 26.1 and 28.5 parses heredocs, and keys a heredoc RUN as any RUN, on its
            // command line: an edit of the body alone hits. 28.5's accepts `COPY --exclude`
            // (26.1's refuses it) and never reads it (`classic.exclude-ignored`).
            Builder::Classic => {
                let accepted = |project, version| match since(project, version) {
                    Yes => Unknown,
                    _ => No,
                };
                // Measured (cases copy-link-added, add-checksum-context): 26.1's and 28.5's
                // classic builder accept `COPY --link` and `ADD --checksum` too; its dispatcher
                // never reads them (`classic.link-ignored`, `classic.checksum-ignored`). Its
                // parser takes `ADD --keep-git-dir` as well (moby v26.1.0's vendored
                // instructions/parse.go), unmeasured: what an ADD of a git ref does is the
                // network's anyway.
                Features {
                    heredoc: since(Project::Engine, Version(26, 0, 0)),
                    copy_exclude: since(Project::Engine, Version(28, 0, 0)),
                    copy_link: since(Project::Engine, Version(26, 0, 0)),
                    add_checksum: since(Project::Engine, Version(26, 0, 0)),
                    add_keep_git_dir: accepted(Project::Engine, Version(26, 0, 0)),
                    expansion: buildkit_lexer(
                        generation
                            .release(Project::BuildKit)
                            .unwrap_or(Version(0, 8, 0)),
                    ),
                    platform_args: false,
                    ..Features::ENGINES_UNDER_TEST
                }
            }
            Builder::BuildKit => match generation.release(Project::BuildKit) {
                Some(release) => Features::of_dockerfile_frontend(release, false),
                None => Features::ENGINES_UNDER_TEST,
            },
            // Buildah 1.28 vendors imagebuilder at 4151e43 (July 2022): `${V:-w}` and `${V:+w}`.
            Builder::Buildah if generation.is_oldest() => Features {
                expansion: Syntax {
                    dialect: Dialect::ImageBuilder,
                    colonless: false,
                    required: false,
                    trim: false,
                    replace: false,
                },
                ..Features::ENGINES_UNDER_TEST
            },
            Builder::Buildah => Features {
                copy_link: since(Project::Buildah, Version(1, 41, 0)),
                heredoc: match since(Project::Buildah, Version(1, 35, 0)) {
                    Yes => Yes,
                    _ => Unknown,
                },
                add_checksum: since(Project::Buildah, Version(1, 33, 0)),
                add_keep_git_dir: Unknown,
                copy_exclude: since(Project::Buildah, Version(1, 38, 0)),
                copy_parents: since(Project::Buildah, Version(1, 37, 0)),
                // Buildah 1.39 vendors imagebuilder v1.2.15, 1.43 v1.2.19: `${V:?m}` (v1.2.4)
                // and the trims and replacements (v1.2.12, openshift/imagebuilder@88c69f9).
                expansion: Syntax {
                    dialect: Dialect::ImageBuilder,
                    colonless: false,
                    required: true,
                    trim: true,
                    replace: true,
                },
                platform_args: true,
            },
        }
    }
}

/// The lexer of BuildKit's Dockerfile frontend at the generation's release (the classic builder
/// vendors the same release: moby v20.10.24 BuildKit v0.8.4-pre, v26.1.5 v0.13.2, v28.5.2
/// v0.25.2): colon-less `${V-w}` / `${V+w}` from v0.12 (moby/buildkit@580eb9348), `#`, `%` and
/// `/` from v0.13 (moby/buildkit@4f459a4cd, moby/buildkit@9a3f9f36e).
impl Features {
    /// What the Dockerfile frontend of BuildKit `release` accepts (the frontend built in, or the
    /// `docker/dockerfile:1.N` image of the same line: 1.N is BuildKit v0.(N+6)), `labs` for its
    /// `-labs` variant (`COPY --parents` before it was stable).
    pub fn of_dockerfile_frontend(release: Version, labs: bool) -> Features {
        let since = |version| {
            if release >= version {
                Support::Yes
            } else {
                Support::No
            }
        };
        Features {
            copy_link: since(Version(0, 10, 0)),
            heredoc: since(Version(0, 10, 0)),
            add_checksum: since(Version(0, 12, 0)),
            add_keep_git_dir: since(Version(0, 12, 0)),
            copy_exclude: since(Version(0, 25, 0)),
            copy_parents: if labs {
                since(Version(0, 13, 0))
            } else {
                Support::No
            },
            expansion: buildkit_lexer(release),
            platform_args: true,
        }
    }
}

fn buildkit_lexer(release: Version) -> Syntax {
    let since = |version| release >= version;
    Syntax {
        colonless: since(Version(0, 12, 0)),
        trim: since(Version(0, 13, 0)),
        replace: since(Version(0, 13, 0)),
        ..Syntax::BUILDKIT_0_8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(builder: Builder, reported: &str) -> (Generation, bool) {
        let choice = Generation::from_version(builder, reported);
        (choice.generation, choice.exact)
    }

    #[test]
    fn the_real_engines_pick_their_generation() {
        use Generation::*;
        let docker = [
            ("20.10.24+dfsg1", Docker20_10),
            ("26.1.5+dfsg1", Docker26),
            ("28.5.2+dfsg4", Docker28),
            ("20.10.24+dfsg1 buildx 0.13.1+ds1", Docker20_10),
            ("26.1.5+dfsg1 buildx 0.13.1+ds1", Docker26),
            ("28.5.2+dfsg4 buildx 0.29.1+ds1", Docker28),
        ];
        for (reported, generation) in docker {
            for builder in [Builder::Classic, Builder::BuildKit] {
                assert_eq!(pick(builder, reported), (generation, true), "{reported}");
            }
        }
        for (reported, generation) in [
            ("4.3.1", Podman4_3),
            ("5.4.2", Podman5_4),
            ("5.8.6", Podman5_8),
        ] {
            assert_eq!(pick(Builder::Buildah, reported), (generation, true));
        }
        assert_eq!(
            Generation::from_version(Builder::Buildah, "4.3.1").note,
            None
        );
    }

    #[test]
    fn unknown_versions_pick_the_nearest_and_say_so() {
        use Generation::*;
        let newer = Generation::from_version(Builder::BuildKit, "29.0.1");
        assert_eq!((newer.generation, newer.exact), (Docker28, false));
        assert!(newer
            .note
            .unwrap()
            .contains("newer than any known generation"));
        let older = Generation::from_version(Builder::Classic, "19.03.15");
        assert_eq!((older.generation, older.exact), (Docker20_10, false));
        assert!(older.note.unwrap().contains("older than the oldest"));
        assert_eq!(pick(Builder::BuildKit, "27.3.1"), (Docker26, false));
        assert_eq!(pick(Builder::Buildah, "5.6.0"), (Podman5_4, false));
        assert_eq!(pick(Builder::Buildah, "6.0.0"), (Podman5_8, false));
        assert_eq!(pick(Builder::Buildah, "4.9.4"), (Podman4_3, false));
        let unreadable = Generation::from_version(Builder::Buildah, "unknown");
        assert_eq!(unreadable.generation, Podman4_3);
        assert!(unreadable.note.unwrap().contains("no version"));
        // Debian's BuildKit version is no help; the engine's version stands for it.
        assert_eq!(Version::parse("v0.0.0+unknown"), Some(Version(0, 0, 0)));
        assert_eq!(Version::parse("28.5.2+dfsg4,"), Some(Version(28, 5, 2)));
        assert_eq!(Version::parse("buildx"), None);
    }

    #[test]
    fn frontends_by_generation() {
        use Generation::*;
        let bk = |g| Features::of(Builder::BuildKit, g);
        assert_eq!(bk(Docker20_10), Features::ENGINES_UNDER_TEST);
        assert_eq!(
            (bk(Docker26).copy_link, bk(Docker26).add_checksum),
            (Support::Yes, Support::Yes)
        );
        assert_eq!(bk(Docker26).copy_exclude, Support::No);
        assert_eq!(bk(Docker28).copy_exclude, Support::Yes);
        let classic = |g| Features::of(Builder::Classic, g);
        assert_eq!(
            classic(Docker20_10),
            Features {
                platform_args: false,
                ..Features::ENGINES_UNDER_TEST
            }
        );
        assert_eq!(classic(Docker26).expansion, bk(Docker26).expansion);
        assert_eq!(
            (
                bk(Docker26).expansion.colonless,
                bk(Docker26).expansion.trim
            ),
            (true, true)
        );
        assert_eq!(
            (classic(Docker26).heredoc, classic(Docker26).copy_exclude),
            (Support::Yes, Support::No)
        );
        assert_eq!(
            (classic(Docker28).heredoc, classic(Docker28).copy_exclude),
            (Support::Yes, Support::Yes)
        );
        assert_eq!(
            (classic(Docker28).copy_link, classic(Docker28).add_checksum),
            (Support::Yes, Support::Yes)
        );
        assert_eq!(classic(Docker26).add_keep_git_dir, Support::Unknown);
        let buildah = |g| Features::of(Builder::Buildah, g);
        assert_eq!(
            Features {
                expansion: Syntax::BUILDKIT_0_8,
                ..buildah(Podman4_3)
            },
            Features::ENGINES_UNDER_TEST
        );
        assert_eq!(
            (
                buildah(Podman4_3).expansion.trim,
                buildah(Podman5_4).expansion.trim
            ),
            (false, true)
        );
        assert_eq!(
            Features::of(Builder::Buildah, Podman5_4).copy_link,
            Support::No
        );
        assert_eq!(
            Features::of(Builder::Buildah, Podman5_8).copy_link,
            Support::Yes
        );
        assert_eq!(
            Features::of(Builder::Buildah, Podman5_4).heredoc,
            Support::Yes
        );
    }
}
