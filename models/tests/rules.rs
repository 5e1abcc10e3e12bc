//! Data-driven rule tests: every case is a tiny script run through one `check` helper, and every
//! exercised rule of every profile has a case that fails when the rule is switched off.

use std::collections::BTreeMap;

use models::scenario::{apply_mutation, Mutation};
use models::{
    apply, predict, Build, BuildContext, BuildOptions, CacheExport, EngineState, Entry, Outcome,
    Profile, Switch,
};

const ALL: &[&str] = &[
    "classic",
    "classic-cli",
    "buildkit",
    "buildkit-cli",
    "podman",
    "podman-cli",
];
const DOCKER: &[&str] = &["classic", "classic-cli", "buildkit", "buildkit-cli"];
const BUILDKIT: &[&str] = &["buildkit", "buildkit-cli"];

struct Case {
    name: &'static str,
    /// Profile names: `buildkit` covers every generation of that profile, `buildkit:26` only that
    /// one, `buildkit:20.10` only the oldest.
    profiles: &'static [&'static str],
    script: &'static str,
    /// The last build's prediction, one `step outcome: reason` per line.
    expect: &'static str,
}

/// Runs a script and renders the last build's prediction.
///
/// Script lines: `file PATH TEXT`, `dockerfile LINE | LINE ...`, `ignore PAT | PAT`, `write PATH TEXT`,
/// `same-size PATH TEXT`, `chmod PATH OCTAL`, `chown PATH UID GID`, `touch PATH SECONDS`,
/// `xattr PATH NAME VALUE`, `rm PATH`, `symlink PATH TARGET`, and
/// `build [@HOST] [--no-cache] [--arg K=V] [--target T] [--inline] [--push REF] [--cache-from REF]`.
fn run_script(profile: &Profile, script: &str) -> String {
    let mut context = BuildContext::new();
    let mut hosts: BTreeMap<String, EngineState> = BTreeMap::new();
    let mut registry: BTreeMap<String, CacheExport> = BTreeMap::new();
    let mut last = String::new();
    for (clock, line) in script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let words: Vec<&str> = rest.split_whitespace().collect();
        let mutation = match verb {
            "file" => {
                let (path, text) = rest.split_once(' ').unwrap();
                context.insert(path, Entry::file(text)).unwrap();
                continue;
            }
            "dockerfile" => Mutation::Dockerfile {
                text: rest.split(" | ").map(|l| format!("{l}\n")).collect(),
            },
            "ignore" => Mutation::Dockerignore {
                text: rest.split(" | ").map(|l| format!("{l}\n")).collect(),
            },
            "write" => Mutation::Write {
                path: words[0].into(),
                content: words[1].into(),
            },
            "same-size" => Mutation::WriteSameSize {
                path: words[0].into(),
                content: words[1].into(),
            },
            "chmod" => Mutation::Chmod {
                path: words[0].into(),
                mode: u32::from_str_radix(words[1], 8).unwrap(),
            },
            "chown" => Mutation::Chown {
                path: words[0].into(),
                uid: words[1].parse().unwrap(),
                gid: words[2].parse().unwrap(),
            },
            "touch" => Mutation::Touch {
                path: words[0].into(),
                mtime: words[1].parse().unwrap(),
            },
            "xattr" => Mutation::SetXattr {
                path: words[0].into(),
                name: words[1].into(),
                value: words[2].into(),
            },
            "rm" => Mutation::Remove {
                path: words[0].into(),
            },
            "symlink" => Mutation::Symlink {
                path: words[0].into(),
                target: words[1].into(),
            },
            "build" => {
                let mut host = "a".to_string();
                let mut options = BuildOptions::default();
                let mut it = words.iter();
                while let Some(w) = it.next() {
                    match *w {
                        "--no-cache" => options.no_cache = true,
                        "--inline" => options.inline_cache = true,
                        "--frontend-pull" => options.frontend_pull = true,
                        "--arg" => {
                            let (k, v) = it.next().unwrap().split_once('=').unwrap();
                            options.build_args.insert(k.into(), v.into());
                        }
                        "--target" => options.target = Some(it.next().unwrap().to_string()),
                        "--push" => options.push = Some(it.next().unwrap().to_string()),
                        "--cache-from" => options.cache_from.push(it.next().unwrap().to_string()),
                        "--cache-to" => options.cache_to.push(it.next().unwrap().to_string()),
                        h if h.starts_with('@') => host = h[1..].to_string(),
                        other => panic!("unknown build word {other}"),
                    }
                }
                let state = hosts
                    .entry(host)
                    .or_insert_with(|| EngineState::new(profile.clone()));
                for (reference, export) in &registry {
                    state.import(reference, export.clone());
                }
                let build = Build {
                    context: context.clone(),
                    options,
                };
                let prediction = predict(state, &build);
                last = render_prediction(&prediction);
                let exports = apply(state, &build);
                if let Some(export) = exports.inline {
                    if let Some(reference) = &build.options.push {
                        registry.insert(reference.clone(), export);
                    }
                }
                registry.extend(exports.to);
                continue;
            }
            other => panic!("unknown script verb {other}"),
        };
        apply_mutation(&mut context, &mutation, 1_700_000_000 + clock as i64).unwrap();
    }
    last
}

fn render_prediction(prediction: &models::Prediction) -> String {
    if let Some(why) = &prediction.rejected {
        return format!("rejected: {why}");
    }
    let mut lines = Vec::new();
    for step in &prediction.steps {
        let detail = match &step.outcome {
            Outcome::Cached { from: Some(r), .. } => format!(" from {r}"),
            Outcome::Rebuilt { reason } => format!(": {reason}"),
            Outcome::Fails { why } | Outcome::Unsupported { why } | Outcome::Skipped { why } => {
                format!(": {why}")
            }
            _ => String::new(),
        };
        lines.push(format!("{} {}{detail}", step.step, step.outcome.short()));
    }
    lines.join("\n")
}

fn check(case: &Case, profile: &Profile) -> Result<(), String> {
    let got = run_script(profile, case.script);
    if got == case.expect.trim() {
        Ok(())
    } else {
        Err(format!(
            "case `{}` on {}:\n--- expected\n{}\n--- got\n{got}\n",
            case.name,
            profile.name(),
            case.expect.trim()
        ))
    }
}

const CASES: &[Case] = &[
    Case {
        name: "Buildah: ENV keyed on the line as written, keyword case included",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ENV E=x | RUN true\n build\n dockerfile FROM base | env E=x | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `ENV E=x` -> `env E=x` (buildah.env-raw)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "classic: ENV keyword case is normalised away",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ENV E=x | RUN true\n build\n dockerfile FROM base | env E=x | RUN true\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "Buildah: a source directory's own mode is not in the digest",
        profiles: &["podman", "podman-cli"],
        script: "file d/a x\n dockerfile FROM base | COPY d /d\n build\n chmod d 700\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "Buildah: a subdirectory's mode is in the digest",
        profiles: &["podman", "podman-cli"],
        script: "file d/s/a x\n dockerfile FROM base | COPY d /d\n build\n chmod d/s 700\n build",
        expect: "1 cached\n2 rebuilt: source `d/s`: mode 0755 -> 0700 (copy.checksum)",
    },
    Case {
        name: "an API tar upload is not filtered by .dockerignore (Docker)",
        profiles: &["classic", "buildkit"],
        script: "file a x\n file b x\n ignore b\n dockerfile FROM base | COPY . /app\n build\n write b y\n build",
        expect: "1 cached\n2 rebuilt: source `b`: content (copy.checksum)",
    },
    Case {
        name: "Buildah's ARG step keys the names of the proxy args given: dropping one misses, a new value hits",
        profiles: &["podman", "podman:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "dockerfile FROM base | ARG FOO | RUN true\n build --arg FOO=f --arg http_proxy=a --arg NO_PROXY=n\n build --arg FOO=f --arg http_proxy=b --arg NO_PROXY=n\n build --arg FOO=f --arg http_proxy=b",
        expect: "1 cached\n2 rebuilt: build arg `NO_PROXY` changed (buildah.arg-names)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "an ENV of an arg's name keeps the arg's new value out of the RUN key (Docker classic, Buildah)",
        profiles: &["classic", "classic-cli", "podman", "podman-cli"],
        script: "dockerfile FROM base | ARG V | ENV V=x | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 cached\n4 cached",
    },
    Case {
        name: "an ENV of an arg's name keeps the arg's new value out of the RUN key (BuildKit)",
        profiles: &["buildkit", "buildkit-cli"],
        script: "dockerfile FROM base | ARG V | ENV V=x | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 not-a-step\n3 not-a-step\n4 cached",
    },
    Case {
        name: "the classic builder's second identical stage reuses what the first made in the same build",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a | FROM base | COPY a /a\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 cached\n4 cached",
    },
    Case {
        name: "a stage's step identical to a built earlier stage's reuses it in the same build (classic, Buildah)",
        profiles: &["classic", "classic-cli", "podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base AS s0 | COPY a /a | FROM base | COPY a /a | COPY --from=s0 /a /b\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 cached\n4 cached\n5 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "a `# syntax=` frontend that cannot be pulled refuses the build on BuildKit",
        profiles: &["buildkit", "buildkit-cli"],
        script: "dockerfile # syntax=docker/dockerfile:1 | FROM base | RUN true\n build",
        expect: "rejected: `# syntax=docker/dockerfile:1`: the frontend image cannot be pulled (the engine has no network)",
    },
    Case {
        name: "a pulled `# syntax=docker/dockerfile:1` frontend reads heredocs on every BuildKit",
        profiles: &["buildkit", "buildkit-cli"],
        script: "dockerfile # syntax=docker/dockerfile:1 | FROM base | RUN <<EOF | true | EOF\n build --frontend-pull",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "a pulled `# syntax=docker/dockerfile:1.3` frontend refuses heredocs (1.4 brought them)",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "dockerfile # syntax=docker/dockerfile:1.3 | FROM base | RUN <<EOF | true | EOF\n build --frontend-pull",
        expect: "rejected: heredocs are not supported: the body is read as unknown instructions",
    },
    Case {
        name: "the classic builder and Buildah read `# syntax=` as a comment",
        profiles: &["classic", "classic-cli", "podman", "podman-cli"],
        script: "dockerfile # syntax=docker/dockerfile:1 | FROM base | RUN true\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "classic --cache-from of an image this host built serves that image's chain alone",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a | RUN true\n build --push app\n dockerfile FROM base | COPY a /a | RUN echo x\n build --cache-from app",
        expect: "1 cached\n2 cached\n3 rebuilt: instruction text `RUN true` -> `RUN echo x` (text.literal)",
    },
    Case {
        name: "the classic daemon drops an ignored Dockerfile from an API tar: an edit of it hits `COPY .`",
        profiles: &["classic", "classic:26", "classic:28"],
        script: "file a x\n ignore Dockerfile\n dockerfile FROM base | COPY . /app\n build\n dockerfile FROM base | COPY . /app | # hi\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "classic refuses COPY --chmod at its step: the steps before it run and hit",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a | COPY --chmod=600 a /b | RUN true\n build\n build",
        expect: "1 cached\n2 cached\n3 fails: the --chmod option requires BuildKit\n4 skipped: an earlier step fails",
    },
    Case {
        // Measured with lang-from-expanded-stage: Podman 4.3.1 fails the build up front.
        name: "Buildah 1.28 expands a FROM name without the global ARGs' defaults",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n file b y\n dockerfile ARG SRC=remote | FROM base AS remote-install | COPY a /a | FROM ${SRC}-install AS final | COPY b /b\n build\n write a z\n build",
        expect: "rejected: FROM ${SRC}-install: without the global ARGs' defaults it is `-install`, so nothing needs stage `remote-install`, which is skipped, and its name is an image that cannot be pulled",
    },
    Case {
        // Measured with buildah-from-default-arg-stage-needed on Podman 4.3.1: the COPY --from
        // makes the executor build s0, and the FROM, expanded with the defaults, finds it.
        name: "Buildah 1.28 builds FROM a stage only the global ARGs' defaults name when another step needs it",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile ARG P=s | ARG S=${P}0 | FROM base AS s0 | COPY a /a | FROM ${S} | COPY --from=s0 /a /b\n build\n build",
        expect: "3 cached\n4 cached\n5 cached\n6 cached",
    },
    Case {
        // Measured with lang-from-unavailable-base on the engines of all three generations.
        name: "a FROM name that only expands to `base` is the registry image, which cannot be pulled",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n file b y\n dockerfile ARG T | FROM base AS s0 | COPY a /a | FROM ${T:-base} | COPY b /b\n build --arg T=s0\n build",
        expect: "2 cached\n3 cached\n4 fails: FROM ${T:-base}: it names the image `base`, which cannot be pulled without network (only the word `base` written as FROM's name is cachet's base image)\n5 skipped: an earlier step fails",
    },
    Case {
        name: "a FROM name that only expands to `base` is the registry image, which cannot be pulled",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n file b y\n dockerfile ARG T | FROM base AS s0 | COPY a /a | FROM ${T:-base} | COPY b /b\n build --arg T=s0\n build",
        expect: "2 skipped: stage not needed for the target\n3 skipped: stage not needed for the target\n4 fails: FROM ${T:-base}: it names the image `base`, which cannot be pulled without network (only the word `base` written as FROM's name is cachet's base image)\n5 skipped: an earlier step fails",
    },
    Case {
        name: "a FROM name that only expands to `base` is the registry image, which cannot be pulled",
        profiles: BUILDKIT,
        script: "file a x\n file b y\n dockerfile ARG T | FROM base AS s0 | COPY a /a | FROM ${T:-base} | COPY b /b\n build --arg T=s0\n build",
        expect: "rejected: FROM ${T:-base}: it names the image `base`, which cannot be pulled without network (only the word `base` written as FROM's name is cachet's base image)",
    },
    Case {
        // Measured with run-bind-digest-fields on Podman 5.4 and 5.8.
        name: "Buildah's bind checksum holds no xattrs: a user.* change of a bound file hits",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file b x\n dockerfile FROM base | RUN --mount=type=bind,source=b,target=/m cat /m\n build\n xattr b user.note 1\n xattr b security.capability 1\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        // Measured with metadata-keyword-case on Podman 4.3, 5.4 and 5.8.
        name: "Buildah keys a metadata keyword as written: `expose` misses after `EXPOSE`",
        profiles: &["podman", "podman-cli", "podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "dockerfile FROM base | EXPOSE 80 | USER 1 | RUN true\n build\n dockerfile FROM base | expose 80 | USER 1 | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `EXPOSE 80` -> `expose 80` (text.literal)\n3 rebuilt: parent rebuilt at step 2 (cascade)\n4 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        // Measured with lang-platform-arg-declared on all three generations.
        name: "a global ARG TARGETARCH with no value keeps the automatic value",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "dockerfile ARG TARGETARCH | ARG T=${TARGETARCH:+x} | FROM base | ARG T | RUN echo $T > /o\n build\n build --arg T=x",
        expect: "3 cached\n4 not-a-step\n5 cached",
    },
    Case {
        name: "a global ARG TARGETARCH with no value keeps the automatic value",
        profiles: &["podman", "podman-cli", "podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "dockerfile ARG TARGETARCH | ARG T=${TARGETARCH:+x} | FROM base | ARG T | RUN echo $T > /o\n build\n build --arg T=x",
        expect: "3 cached\n4 cached\n5 cached",
    },
    Case {
        // Measured with lang-platform-arg-global on Podman 4.3, 5.4 and 5.8.
        name: "a FROM line sees TARGETARCH undeclared (Buildah 1.39 on)",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file a x\n file b y\n dockerfile FROM base AS barex | COPY a /a | FROM base AS bare | FROM bare${TARGETARCH:+x} | COPY b /b\n build\n write a z\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 skipped: stage not needed for the target\n4 cached\n5 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "a global ARG default sees TARGETARCH undeclared (Buildah 1.43)",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "file a x\n file b y\n dockerfile ARG T=${TARGETARCH:+s0} | FROM base AS s0 | COPY a /a | FROM base AS bare | FROM ${T:-bare} | COPY b /b\n build\n write a z\n build",
        expect: "2 cached\n3 rebuilt: source `a`: content (copy.checksum)\n4 skipped: stage not needed for the target\n5 cached\n6 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "FROM ${SRC}-install names the stage remote-install",
        profiles: &["classic", "classic-cli", "buildkit", "buildkit-cli", "podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file a x\n file b y\n dockerfile ARG SRC=remote | FROM base AS remote-install | COPY a /a | FROM ${SRC}-install AS final | COPY b /b\n build\n write a z\n build",
        expect: "2 cached\n3 rebuilt: source `a`: content (copy.checksum)\n4 FROM_AGAIN\n5 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "a global ARG's default uses the one above it, with its --build-arg value",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile ARG V=1 | ARG W=v${V} | FROM base | ARG W | RUN true\n build\n build --arg V=2",
        expect: "3 cached\n4 cached\n5 rebuilt: build arg `W` changed (classic.run-args)",
    },
    Case {
        name: "a global ARG's default uses the one above it, with its --build-arg value",
        profiles: BUILDKIT,
        script: "dockerfile ARG V=1 | ARG W=v${V} | FROM base | ARG W | RUN true\n build\n build --arg V=2",
        expect: "3 cached\n4 not-a-step\n5 rebuilt: build arg `W` changed (arg.first-use)",
    },
    Case {
        name: "a global ARG's default uses the one above it, with its --build-arg value",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile ARG V=1 | ARG W=v${V} | FROM base | ARG W | RUN true\n build\n build --arg V=2",
        expect: "3 cached\n4 cached\n5 rebuilt: build arg `W` changed (buildah.run-key)",
    },
    Case {
        name: "ARG TARGETARCH in a stage takes the automatic value (not on the classic builder)",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ARG TARGETARCH | RUN true\n build\n build --arg TARGETARCH=amd64",
        expect: "1 cached\n2 cached\n3 rebuilt: build arg `TARGETARCH` changed (classic.run-args)",
    },
    Case {
        name: "ARG TARGETARCH in a stage takes the automatic value (not on the classic builder)",
        profiles: BUILDKIT,
        script: "dockerfile FROM base | ARG TARGETARCH | RUN true\n build\n build --arg TARGETARCH=amd64",
        expect: "1 cached\n2 not-a-step\n3 cached",
    },
    Case {
        name: "ARG TARGETARCH in a stage takes the automatic value (not on the classic builder)",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ARG TARGETARCH | RUN true\n build\n build --arg TARGETARCH=amd64",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "a stage built FROM another copies into its WORKDIR",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base AS s0 | WORKDIR /app | FROM s0 AS s1 | COPY a . | FROM base | COPY --from=s1 /app/a /a\n build\n write a y\n build",
        expect: "1 cached\n2 cached\n3 FROM_AGAIN\n4 rebuilt: source `a`: content (copy.checksum)\n5 FROM_AGAIN\n6 rebuilt: context changed (bk.content-addressed)",
    },
    Case {
        name: "a source starting with / is a path from the context's root",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY /a /a\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)",
    },
    Case {
        name: "--chown is keyed on its expanded value",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | ARG UID=1 | COPY --chown=$UID:0 a /a\n build\n build --arg UID=2",
        expect: "1 cached\n2 cached\n3 rebuilt: instruction text `COPY Some(\"1:0\") in /a` -> `COPY Some(\"2:0\") in /a` (classic.copy-key)",
    },
    Case {
        name: "--chown is keyed on its expanded value",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | ARG UID=1 | COPY --chown=$UID:0 a /a\n build\n build --arg UID=2",
        expect: "1 cached\n2 not-a-step\n3 rebuilt: instruction text `COPY from=None chown=Some(\"1:0\") chmod=None a -> /a` -> `COPY from=None chown=Some(\"2:0\") chmod=None a -> /a` (text.literal)",
    },
    Case {
        name: "--chown is keyed on its expanded value (Buildah: the owner it gives the stream)",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | ARG UID=1 | COPY --chown=$UID:0 a /a\n build\n build --arg UID=2",
        expect: "1 cached\n2 cached\n3 rebuilt: source `a`: owner 1:0 -> 2:0 (copy.checksum)",
    },
    Case {
        // Buildah too: measured with lang-empty-wildcard-joined on Podman 4.3, 5.4 and 5.8.
        name: "a wildcard matching nothing beside a source that matches copies the rest",
        profiles: &["classic", "classic-cli", "buildkit", "buildkit-cli", "podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a *.nope /d/ | RUN true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a wildcard matching nothing copies nothing on BuildKit, fails elsewhere",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY *.nope /d/ | RUN true\n build\n build",
        expect: "1 cached\n2 fails: no source files were specified\n3 skipped: an earlier step fails",
    },
    Case {
        name: "a wildcard matching nothing copies nothing on BuildKit, fails elsewhere",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY *.nope /d/ | RUN true\n build\n build",
        expect: "1 cached\n2 fails: no source files were specified\n3 skipped: an earlier step fails",
    },
    Case {
        name: "a wildcard matching nothing copies nothing on BuildKit, fails elsewhere",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY *.nope /d/ | RUN true\n build\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "--chmod=$M is expanded from BuildKit v0.16",
        profiles: &["buildkit:20.10", "buildkit:26", "buildkit-cli:20.10", "buildkit-cli:26"],
        script: "file a x\n dockerfile FROM base | ARG M=600 | COPY --chmod=$M a /a\n build\n build --arg M=640",
        expect: "1 cached\n2 not-a-step\n3 unsupported: COPY --chmod=$M: not an octal mode, not modelled",
    },
    Case {
        name: "--chmod=$M is expanded from BuildKit v0.16",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "file a x\n dockerfile FROM base | ARG M=600 | COPY --chmod=$M a /a\n build\n build --arg M=640",
        expect: "1 cached\n2 not-a-step\n3 rebuilt: instruction text `COPY from=None chown=None chmod=Some(\"600\") a -> /a` -> `COPY from=None chown=None chmod=Some(\"640\") a -> /a` (text.literal)",
    },
    Case {
        name: "${V:?msg} with V unset: BuildKit refuses the build, the classic builder fails there",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a | WORKDIR /${NOPE:?needed} | RUN true\n build\n build",
        expect: "1 cached\n2 cached\n3 fails: WORKDIR: failed to process: NOPE: needed\n4 skipped: an earlier step fails",
    },
    Case {
        name: "${V:?msg} with V unset: BuildKit refuses the build, the classic builder fails there",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY a /a | WORKDIR /${NOPE:?needed} | RUN true\n build\n build",
        expect: "rejected: WORKDIR: failed to process: NOPE: needed",
    },
    Case {
        name: "${V:?msg} with V unset: BuildKit refuses the build, the classic builder fails there",
        // Measured with lang-required-var: Podman 4.3.1 fails the build before its first step.
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base | COPY a /a | WORKDIR /${NOPE:?needed} | RUN true\n build\n build",
        expect: "rejected: WORKDIR: failed to process: Unsupported modifier (?) in substitution",
    },
    Case {
        name: "${V:?msg} with V unset: BuildKit refuses the build, the classic builder fails there",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | COPY a /a | WORKDIR /${NOPE:?needed} | RUN true\n build\n build",
        expect: "1 cached\n2 cached\n3 cached\n4 cached",
    },
    Case {
        name: "identical rebuild is all cached",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a | RUN true\n build\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "instruction text change misses there, cascade after",
        profiles: ALL,
        script: "dockerfile FROM base | RUN echo a | RUN echo b\n build\n dockerfile FROM base | RUN echo a | RUN echo c | RUN true\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: instruction text `RUN echo b` -> `RUN echo c` (text.literal)\n4 rebuilt: parent rebuilt at step 3 (cascade)",
    },
    Case {
        name: "keyword case, comments and continuations are normalised away",
        profiles: ALL,
        script: "dockerfile FROM base | RUN echo a\n build\n dockerfile from base | # note | run echo \\ | a\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "content change misses at COPY and cascades",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a | RUN true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "same-size content change with mtime kept still misses",
        profiles: ALL,
        script: "file a xx\n dockerfile FROM base | COPY a /a\n build\n same-size a yy\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)",
    },
    Case {
        name: "mtime-only change hits",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n touch a 1234567\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "no-cache rebuilds all but FROM",
        profiles: ALL,
        script: "dockerfile FROM base | RUN true\n build\n build --no-cache",
        expect: "1 cached\n2 rebuilt: --no-cache (nocache.all)",
    },
    Case {
        name: "RUN never looks at the context",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | RUN cat /a\n build\n write a y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "ignored file changes do not count (the docker CLI or Buildah applies .dockerignore)",
        profiles: &["classic-cli", "buildkit-cli", "podman", "podman-cli"],
        script: "file a x\n file b x\n ignore b\n dockerfile FROM base | COPY . /app\n build\n write b y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "a Dockerfile comment misses COPY . (the Dockerfile is in the context)",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY . /app\n build\n dockerfile FROM base | # hi | COPY . /app\n build",
        expect: "1 cached\n2 rebuilt: source `Dockerfile`: content (copy.checksum)",
    },
    Case {
        name: "mode change misses",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n chmod a 600\n build",
        expect: "1 cached\n2 rebuilt: source `a`: mode 0644 -> 0600 (copy.checksum)",
    },
    Case {
        name: "directory mode change under a COPY source misses (buildkit#7176)",
        profiles: DOCKER,
        script: "file d/a x\n dockerfile FROM base | COPY d /d\n build\n chmod d 700\n build",
        expect: "1 cached\n2 rebuilt: source `d`: mode 0755 -> 0700 (copy.checksum)",
    },
    Case {
        name: "owner change hits where the owner is reset or replaced",
        profiles: &["classic-cli", "buildkit:20.10", "buildkit-cli", "podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n chown a 1000 1000\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "owner change misses through BuildKit's API tar from v0.11 (bk.api-owner)",
        profiles: &["buildkit:26", "buildkit:28"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n chown a 1000 1000\n build",
        expect: "1 cached\n2 rebuilt: source `a`: owner 0:0 -> 1000:1000 (copy.checksum)",
    },
    Case {
        name: "owner change misses on the classic API door",
        profiles: &["classic"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n chown a 1000 1000\n build",
        expect: "1 cached\n2 rebuilt: source `a`: owner 0:0 -> 1000:1000 (copy.checksum)",
    },
    Case {
        name: "user xattr misses where it reaches the builder",
        profiles: &["classic", "buildkit", "buildkit-cli", "podman"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n xattr a user.note v\n build",
        expect: "1 cached\n2 rebuilt: source `a`: xattr user.note (copy.checksum)",
    },
    Case {
        name: "user xattr is dropped by the docker CLI",
        profiles: &["classic-cli", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n xattr a user.note v\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "selinux label is ignored by BuildKit, Buildah and the docker CLI (buildkit#1330)",
        profiles: &["classic-cli", "buildkit", "buildkit-cli", "podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n xattr a security.selinux system_u:object_r:container_file_t:s0\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "selinux label in an API tar misses on classic",
        profiles: &["classic"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n xattr a security.selinux l\n build",
        expect: "1 cached\n2 rebuilt: source `a`: xattr security.selinux (copy.checksum)",
    },
    Case {
        name: "multi-source COPY with one source changed misses (moby#38964)",
        profiles: ALL,
        script: "file a x\n file b x\n dockerfile FROM base | COPY a b /d/\n build\n write b y\n build",
        expect: "1 cached\n2 rebuilt: source `b`: content (copy.checksum)",
    },
    Case {
        name: "classic: adding --chown misses (moby#36378 fixed)",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --chown=1:1 a /a\n build",
        expect: "1 cached\n2 rebuilt: instruction text `COPY None in /a` -> `COPY Some(\"1:1\") in /a` (classic.copy-key)",
    },
    Case {
        name: "BuildKit: adding --chown misses",
        profiles: &["buildkit", "buildkit-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --chown=1:1 a /a\n build",
        expect: "1 cached\n2 rebuilt: instruction text `COPY from=None chown=None chmod=None a -> /a` -> `COPY from=None chown=Some(\"1:1\") chmod=None a -> /a` (text.literal)",
    },
    Case {
        name: "Buildah: adding --chown misses where it changes the stream's owner",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --chown=1:1 a /a\n build",
        expect: "1 cached\n2 rebuilt: source `a`: owner 0:0 -> 1:1 (copy.checksum)",
    },
    Case {
        // Measured with buildah-copy-flag-same-effect (seed-9 triage, E): Buildah keys
        // `COPY <digest> in <dest>` (getCreatedBy, stage_executor.go v1.28.2 L1541-L1546).
        name: "Buildah: --chown=0:0 on a context file leaves the stream as it was and hits",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --chown=0:0 a /a\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "Buildah: --chmod of the mode the file has hits",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --chmod=644 a /a\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        // Measured with buildah-copy-flags-not-keyed on Podman 5.8.6 (4.3 and 5.4 leak the
        // source owner's names: a recorded divergence).
        name: "Buildah: --chown over a COPY --from masks the source stage's owner",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base AS s0 | COPY a /a | FROM base | COPY --from=s0 --chown=1:1 /a /x\n build\n dockerfile FROM base AS s0 | COPY --chown=2:2 a /a | FROM base | COPY --from=s0 --chown=1:1 /a /x\n build",
        expect: "1 cached\n2 rebuilt: source `a`: owner 0:0 -> 2:2 (copy.checksum)\n3 FROM_AGAIN\n4 cached",
    },
    Case {
        name: "Buildah: a COPY --from keeps the source stage's owner, so dropping a --chown of that owner hits",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base AS s0 | COPY --chown=2:2 a /a | FROM base | COPY --from=s0 --chown=2:2 /a /x\n build\n dockerfile FROM base AS s0 | COPY --chown=2:2 a /a | FROM base | COPY --from=s0 /a /x\n build",
        expect: "1 cached\n2 cached\n3 FROM_AGAIN\n4 cached",
    },
    Case {
        name: "source spelling does not matter",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY ./a /a\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "COPY --chmod does not mask a source mode change (buildkit#4374)",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY --chmod=600 a /a\n build\n chmod a 700\n build",
        expect: "1 cached\n2 rebuilt: source `a`: mode 0644 -> 0700 (copy.checksum)",
    },
    Case {
        name: "Buildah: under --chmod a source mode change hits",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY --chmod=600 a /a\n build\n chmod a 700\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "changed build arg misses at the first RUN after ARG (classic)",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ARG V | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 rebuilt: build arg `V` changed (classic.run-args)",
    },
    Case {
        name: "changed build arg misses at the first RUN after ARG (BuildKit)",
        profiles: BUILDKIT,
        script: "dockerfile FROM base | ARG V | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 not-a-step\n3 rebuilt: build arg `V` changed (arg.first-use)",
    },
    Case {
        name: "changed build arg misses at the first RUN after ARG (Buildah)",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ARG V | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 rebuilt: build arg `V` changed (buildah.run-key)",
    },
    Case {
        name: "Buildah: adding a build arg misses at ARG itself",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ARG V | RUN true\n build\n build --arg V=1",
        expect: "1 cached\n2 rebuilt: build arg `V` changed (buildah.arg-names)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        // imagebuilder's `arg`: a default already gives the name a value.
        name: "Buildah: adding a build arg for an ARG with a default hits at ARG",
        profiles: &["podman", "podman-cli", "podman:5.8"],
        script: "dockerfile FROM base | ARG V=1 | RUN true\n build\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 rebuilt: build arg `V` changed (buildah.run-key)",
    },
    Case {
        name: "Buildah: a redeclared global ARG with a default hits at ARG when given",
        profiles: &["podman", "podman-cli:5.4"],
        script: "dockerfile ARG V=1 | FROM base | ARG V | RUN true\n build\n build --arg V=2",
        expect: "2 cached\n3 cached\n4 rebuilt: build arg `V` changed (buildah.run-key)",
    },
    Case {
        name: "ENV X=$A with a new A misses on classic",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ARG A | ENV X=$A\n build --arg A=1\n build --arg A=2",
        expect: "1 cached\n2 cached\n3 rebuilt: instruction text `ENV X=1` -> `ENV X=2` (classic.config-match)",
    },
    Case {
        name: "ENV X=$A with a new A hits with a stale value on Buildah (buildah#5501)",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ARG A | ENV X=$A\n build --arg A=1\n build --arg A=2",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "ENV spellings with the same config are the same step (classic)",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ENV A 1 | RUN true\n build\n dockerfile FROM base | ENV A=1 | RUN true\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "ENV spellings with the same environment are the same RUN (BuildKit)",
        profiles: BUILDKIT,
        script: "dockerfile FROM base | ENV A 1 | RUN true\n build\n dockerfile FROM base | ENV A=1 | RUN true\n build",
        expect: "1 cached\n2 not-a-step\n3 cached",
    },
    Case {
        name: "ENV is keyed on its raw text (Buildah)",
        profiles: &["podman", "podman-cli"],
        script: "dockerfile FROM base | ENV A 1 | RUN true\n build\n dockerfile FROM base | ENV A=1 | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `ENV A 1` -> `ENV A=1` (buildah.env-raw)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a LABEL change does not reach later RUNs (BuildKit)",
        profiles: BUILDKIT,
        script: "dockerfile FROM base | LABEL x=1 | RUN true\n build\n dockerfile FROM base | LABEL x=2 | RUN true\n build",
        expect: "1 cached\n2 not-a-step\n3 cached",
    },
    Case {
        name: "a LABEL change misses and cascades (classic, Buildah)",
        profiles: &["classic", "classic-cli", "podman", "podman-cli"],
        script: "dockerfile FROM base | LABEL x=1 | RUN true\n build\n dockerfile FROM base | LABEL x=2 | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `LABEL x=1` -> `LABEL x=2` (LABEL_RULE)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "identical sources hit from an unrelated context",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n file unrelated y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "seed gist: inline cache from host a, selinux label on host b, cache-from hits",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY a /a | RUN true\n build --inline --push r/app\n xattr a security.selinux system_u:object_r:container_file_t:s0\n build @b --cache-from r/app",
        expect: "1 cached\n2 cached from r/app\n3 cached from r/app",
    },
    Case {
        name: "cache-from: a change at step 4 keeps steps before it cached (buildkit#3660)",
        profiles: BUILDKIT,
        script: "file a x\n file b x\n dockerfile FROM base | COPY a /a | RUN true | COPY b /b\n build --inline --push r/app\n write b y\n build @b --cache-from r/app",
        expect: "1 cached\n2 cached from r/app\n3 cached from r/app\n4 rebuilt: source `b`: content (copy.checksum)",
    },
    Case {
        name: "inline cache holds only the final stage (min mode)",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base AS first | COPY a /a | FROM base | COPY a /b | RUN true\n build --inline --push r/app\n build @b --cache-from r/app",
        expect: "1 skipped: stage not needed for the target\n2 skipped: stage not needed for the target\n3 cached\n4 cached from r/app\n5 cached from r/app",
    },
    Case {
        name: "inline cache holds only the final stage (min mode), needed stage",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base AS first | COPY a /a | FROM first | RUN true\n build --inline --push r/app\n build @b --cache-from r/app",
        expect: "1 cached\n2 cached from r/app\n3 not-a-step\n4 cached from r/app",
    },
    Case {
        // Measured on Engine 20.10.24: the copied-from stage's steps report CACHED on host b.
        name: "inline cache: a stage copied from travels as keys, reported cached when not needed",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base AS first | COPY a /a | FROM base | COPY --from=first /a /b\n build --inline --push r/app\n build @b --cache-from r/app",
        expect: "1 cached\n2 cached from r/app\n3 not-a-step\n4 cached from r/app",
    },
    Case {
        // Measured: buildx 0.13.1 against Engine 20.10.24 and 26.1.5, 0.29.1 against 28.5.2.
        name: "cache export: the graph drivers' store refuses a registry --cache-to before building",
        profiles: &["buildkit+graph", "buildkit-cli+graph"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build --cache-to type=registry,ref=r/c,mode=max",
        expect: "rejected: --cache-to type=registry: cache export is not supported for the docker driver without the containerd image store",
    },
    Case {
        name: "cache export: mode=max carries a copied-from stage's layers, so its steps hit where min reruns them",
        profiles: &["buildkit:26+containerd", "buildkit:28+containerd", "buildkit-cli:26+containerd", "buildkit-cli:28+containerd"],
        script: "file a x\n file b x\n dockerfile FROM base AS first | COPY a /a | COPY b /b | FROM base | COPY --from=first /a /x\n build --cache-to type=registry,ref=r/c,mode=max\n write b y\n build @b --cache-from type=registry,ref=r/c",
        expect: "1 cached\n2 cached from type=registry,ref=r/c\n3 rebuilt: source `b`: content (copy.checksum)\n4 not-a-step\n5 cached from type=registry,ref=r/c",
    },
    Case {
        // Measured on Engine 20.10.24: `first 2/3` runs, the COPY --from hits by content.
        name: "inline cache: a copied-from stage that must run has no layers for its hits",
        profiles: BUILDKIT,
        script: "file a x\n file b x\n dockerfile FROM base AS first | COPY a /a | COPY b /b | FROM base | COPY --from=first /a /x\n build --inline --push r/app\n write b y\n build @b --cache-from r/app",
        expect: "1 cached\n2 rebuilt: imported inline cache holds its key but not its layer, and a later step needs it (bk.inline-min)\n3 rebuilt: source `b`: content (copy.checksum)\n4 not-a-step\n5 cached from r/app",
    },
    Case {
        // Found by a 200-scenario run on buildx@sid (Engine 28.5): the miss named the chmod of an
        // earlier build, where the record the engine (blind to the xattr) served differs only in
        // the xattr.
        name: "a miss names its difference from the nearest record: after a chmod, then an xattr edit, the xattr",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n chmod a 600\n build\n xattr a user.note 1\n build",
        expect: "1 cached\n2 rebuilt: source `a`: xattr user.note (copy.checksum)",
    },
    Case {
        // Found by a run on buildkit@trixie (Engine 26.1): a chmod of a link alone hit.
        name: "a symlink has no mode of its own: a chmod of the link alone hits",
        profiles: ALL,
        script: "file a x\n symlink l a\n dockerfile FROM base | COPY . /app\n build\n chmod l 755\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        // Measured with stage-args-inherited: Podman 5.8 misses at the child's RUN.
        name: "Buildah 1.43+: a stage built FROM another keeps its ARGs, so a new value misses",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "dockerfile FROM base AS s0 | ARG V | FROM s0 | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 cached\n4 rebuilt: build arg `V` changed (buildah.run-key)",
    },
    Case {
        name: "before Buildah 1.43 a stage built FROM another starts without its ARGs",
        profiles: &["podman:4.3", "podman:5.4", "podman-cli:4.3", "podman-cli:5.4"],
        script: "dockerfile FROM base AS s0 | ARG V | FROM s0 | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 cached\n3 cached\n4 cached",
    },
    Case {
        // Found by a 200-scenario run on buildx@sid (Engine 28.5), then measured on every BuildKit
        // generation: the RUN of a stage built FROM another misses after a new value of an ARG
        // only the parent declared.
        name: "BuildKit: a stage built FROM another keeps its ARGs, so a new value misses",
        profiles: BUILDKIT,
        script: "dockerfile FROM base AS s0 | ARG V | FROM s0 | RUN true\n build --arg V=1\n build --arg V=2",
        expect: "1 cached\n2 not-a-step\n3 not-a-step\n4 rebuilt: build arg `V` changed (arg.first-use)",
    },
    Case {
        name: "COPY --from keys what the selected path holds, not the rest of the stage",
        profiles: ALL,
        script: "file a x\n file b x\n dockerfile FROM base AS first | COPY a /a | COPY b /b | FROM base | COPY --from=first /a /x\n build\n write b y\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: source `b`: content (copy.checksum)\n4 FROM_AGAIN\n5 cached",
    },
    Case {
        // moby image/cache/compare.go: the newest matching image wins (found by a 500-scenario
        // run on classic@a, Engine 20.10.24).
        name: "classic: after a --no-cache build with other args, the next build follows its images",
        profiles: &["classic", "classic-cli"],
        script: "dockerfile FROM base | ARG V | RUN echo x\n build\n build --no-cache --arg V=1\n build",
        // The only RUN under the newest ARG image is the --no-cache build's, with V=1.
        expect: "1 cached\n2 cached\n3 rebuilt: build arg `V` changed (classic.run-args)",
    },
    Case {
        // moby image/cache: with --cache-from, local hits count only under the named images.
        name: "classic: --cache-from of an image the host does not hold turns the local cache off",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n build --cache-from r/app",
        expect: "1 cached\n2 rebuilt: not in cache (classic.cache-from-only)",
    },
    Case {
        name: "Podman 5 refuses a tagged --cache-from (buildah.cache-from-repo)",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n build --cache-from r/app:1",
        expect: "rejected: --cache-from `r/app:1`: repository must contain neither a tag nor digest",
    },
    Case {
        name: "Podman 4.3 takes a tagged --cache-from and ignores it",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n build --cache-from r/app:1",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "Buildah ignores --cache-from of an image it does not hold",
        profiles: &["podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build --inline --push r/app\n build @b --cache-from r/app",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)",
    },
    Case {
        // moby/buildkit#3955; measured with bk-failed-solve-uncommitted: the step before the
        // failure was sometimes committed, sometimes not.
        name: "BuildKit: the new steps of a failed solve may or may not be cached; the failing one is not",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY a /a | COPY b /b\n build\n write b y\n build",
        expect: "1 cached\n2 unsupported: recorded only by a failed build, whose steps BuildKit may or may not have committed before the failure ended the solve (`bk.failed-solve`)\n3 rebuilt: not in cache (text.literal)",
    },
    Case {
        // A successful build commits every step it ran: the failed solve's uncertainty ends.
        name: "BuildKit: a successful build settles the steps a failed solve left uncertain",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base | COPY a /a | COPY b /b\n build\n write b y\n build\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "the classic builder and Buildah commit the steps before a failure",
        profiles: &["classic", "classic-cli", "podman", "podman-cli"],
        script: "file a x\n dockerfile FROM base | COPY a /a | COPY b /b\n build\n write b y\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: not in cache (text.literal)",
    },
    Case {
        name: "BuildKit: a COPY --from that finds its path missing waited for that stage, which is cached",
        profiles: BUILDKIT,
        script: "file a x\n dockerfile FROM base AS s0 | COPY a /a | FROM base | COPY --from=s0 /nope /n\n build\n dockerfile FROM base AS s0 | COPY a /a | FROM base | COPY --from=s0 /a /n\n build",
        expect: "1 cached\n2 cached\n3 not-a-step\n4 rebuilt: instruction text `COPY from=None chown=None chmod=None a -> /a` -> `COPY from=Some(\"s0\") chown=None chmod=None . -> /n` (text.literal)",
    },
    Case {
        name: "a removed COPY source fails the build",
        profiles: ALL,
        script: "file a x\n dockerfile FROM base | COPY a /a | RUN true\n build\n rm a\n build",
        expect: "1 cached\n2 fails: source `a` not found in the context\n3 skipped: an earlier step fails",
    },
    Case {
        name: "symlink retarget inside a copied directory misses",
        profiles: &["buildkit", "buildkit-cli", "podman", "podman-cli"],
        script: "file d/a x\n symlink d/l a\n dockerfile FROM base | COPY d /d\n build\n symlink d/l b\n build",
        expect: "1 cached\n2 rebuilt: source `d/l`: link target a -> b (copy.checksum)",
    },
    Case {
        // moby builder/remotecontext/archive.go: the link leads to d/a, then to nothing, whose
        // hash is the link's path.
        name: "classic: a link retargeted from a file to a missing name misses",
        profiles: &["classic", "classic-cli"],
        script: "file d/a x\n symlink d/l a\n dockerfile FROM base | COPY d /d\n build\n symlink d/l b\n build",
        expect: "1 cached\n2 rebuilt: source `d/l`: added (copy.checksum)",
    },
    Case {
        // Measured with classic-symlink-followed (found by a run on classic@sid, Engine 28.5).
        name: "classic: a dangling link is hashed by its path: a chown or a new missing target hits",
        profiles: &["classic", "classic-cli"],
        script: "file d/a x\n symlink d/l gone\n dockerfile FROM base | COPY d /d\n build\n chown d/l 1 1\n build\n symlink d/l gone2\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "classic: a link is hashed by the file it leads to, even outside the copied directory",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n file d/b y\n symlink d/l ../a\n dockerfile FROM base | COPY d /d\n build\n write a z\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)",
    },
    Case {
        // moby builder/remotecontext/archive.go: a source is resolved with every link followed
        // in the context's scope (`..` stops at the root), so a link to a link is the file.
        name: "classic: a source that is a link to a link, or one climbing out, is the file it leads to",
        profiles: &["classic", "classic-cli"],
        script: "file a x\n symlink l1 a\n symlink l2 l1\n symlink d/up ../../../a\n dockerfile FROM base | COPY l2 /x | COPY d/up /y\n build\n write a z\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "BuildKit and Buildah key a link by its own entry: the file it leads to is not in the key",
        profiles: &["buildkit", "buildkit-cli", "podman", "podman-cli"],
        script: "file a x\n file d/b y\n symlink d/l ../a\n dockerfile FROM base | COPY d /d\n build\n write a z\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "--target skips later stages",
        profiles: &["buildkit", "buildkit-cli", "podman", "podman-cli", "classic"],
        script: "dockerfile FROM base AS one | RUN echo 1 | FROM base AS two | RUN echo 2\n build --target one",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 skipped: stage not needed for the target\n4 skipped: stage not needed for the target",
    },
    Case {
        name: "COPY --link is rejected by frontends before Dockerfile 1.4",
        profiles: &[
            "classic:20.10",
            "classic-cli:20.10",
            "buildkit:20.10",
            "buildkit-cli:20.10",
        ],
        script: "file a x\n dockerfile FROM base | COPY --link a /a\n build",
        expect: "rejected: unknown flag: link",
    },
    Case {
        // Found by a run of seed 1 on podman@podman (Podman 4.3.1): the steps before the refused
        // COPY --link ran and hit in the next build.
        name: "Buildah before 1.41 refuses COPY --link at its step, after the steps before it",
        profiles: &["podman:4.3", "podman-cli:4.3", "podman:5.4", "podman-cli:5.4"],
        script: "file a x\n dockerfile FROM base | RUN echo x | COPY --link a /a\n build\n build",
        expect: "1 cached\n2 cached\n3 fails: unknown flag: link",
    },
    Case {
        name: "a --link COPY is keyed apart from its parent: an earlier change leaves it cached (BuildKit v0.10+, containerd store)",
        profiles: &["buildkit:26+containerd", "buildkit-cli:26+containerd", "buildkit:28+containerd", "buildkit-cli:28+containerd"],
        script: "file a x\n dockerfile FROM base | RUN echo 1 | COPY --link a /a | RUN true\n build\n dockerfile FROM base | RUN echo 2 | COPY --link a /a | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN echo 1` -> `RUN echo 2` (text.literal)\n3 cached\n4 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a --link COPY with --chmod is a plain COPY, keyed on its parent (BuildKit v0.10+)",
        profiles: &["buildkit:26", "buildkit-cli:28", "buildkit:28+containerd"],
        script: "file a x\n dockerfile FROM base | RUN echo 1 | COPY --link --chmod=644 a /a\n build\n dockerfile FROM base | RUN echo 2 | COPY --link --chmod=644 a /a\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN echo 1` -> `RUN echo 2` (text.literal)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "on the graph-driver store a --link COPY is a plain COPY, keyed on its parent (moby#45153)",
        profiles: &["buildkit:26+graph", "buildkit-cli:26+graph", "buildkit:28+graph", "buildkit-cli:28+graph"],
        script: "file a x\n dockerfile FROM base | RUN echo 1 | COPY --link a /a | RUN true\n build\n dockerfile FROM base | RUN echo 2 | COPY --link a /a | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN echo 1` -> `RUN echo 2` (text.literal)\n3 rebuilt: parent rebuilt at step 2 (cascade)\n4 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a --link COPY is keyed on its parent on Buildah 1.41+",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | RUN echo 1 | COPY --link a /a | RUN true\n build\n dockerfile FROM base | RUN echo 2 | COPY --link a /a | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN echo 1` -> `RUN echo 2` (text.literal)\n3 rebuilt: parent rebuilt at step 2 (cascade)\n4 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "adding --link to a COPY misses on Buildah 1.41+ (the history line changes)",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | COPY a /a\n build\n dockerfile FROM base | COPY --link a /a\n build",
        expect: "1 cached\n2 rebuilt: instruction text `` -> `--link` (buildah.link-keyed)",
    },
    Case {
        name: "the classic builder of Engine 26+ ignores --link: adding it to a COPY or an ADD hits",
        profiles: &["classic:26", "classic-cli:26", "classic:28", "classic-cli:28"],
        script: "file a x\n dockerfile FROM base | COPY a /a | ADD a /b\n build\n dockerfile FROM base | COPY --link a /a | ADD --link a /b\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "the classic builder of Engine 26+ copies a --link COPY onto its parent",
        profiles: &["classic:26", "classic-cli:26", "classic:28", "classic-cli:28"],
        script: "file a x\n dockerfile FROM base | RUN echo 1 | COPY --link a /a\n build\n dockerfile FROM base | RUN echo 2 | COPY --link a /a\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN echo 1` -> `RUN echo 2` (text.literal)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a heredoc is rejected where the frontend lacks it",
        profiles: &["classic:20.10", "classic-cli:20.10", "buildkit:20.10", "buildkit-cli:20.10"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF\n build",
        expect: "rejected: heredocs are not supported: the body is read as unknown instructions",
    },
    Case {
        name: "Buildah without heredocs runs `RUN <<EOF` as written and fails at the body's first line",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 fails: unknown instruction: ECHO\n4 skipped: an earlier step fails",
    },
    Case {
        name: "a RUN heredoc's body is keyed where the frontend accepts it (buildkit:26, buildkit:28, buildkit-cli:26, buildkit-cli:28)",
        profiles: &["buildkit:26", "buildkit:28", "buildkit-cli:26", "buildkit-cli:28"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF | RUN true\n build\n dockerfile FROM base | RUN <<EOF | echo ho | EOF | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `echo hi\n` -> `echo ho\n` (bk.heredoc-keyed)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a RUN heredoc's body is keyed where the frontend accepts it (podman:5.4, podman:5.8, podman-cli:5.4, podman-cli:5.8)",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF | RUN true\n build\n dockerfile FROM base | RUN <<EOF | echo ho | EOF | RUN true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `\necho hi` -> `\necho ho` (buildah.heredoc-keyed)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "Buildah keys a RUN heredoc's body trimmed, BuildKit as written (buildkit:26, buildkit:28, buildkit-cli:26, buildkit-cli:28)",
        profiles: &["buildkit:26", "buildkit:28", "buildkit-cli:26", "buildkit-cli:28"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF\n build\n dockerfile FROM base | RUN <<EOF | echo hi |  | EOF\n build",
        expect: "1 cached\n2 rebuilt: instruction text `echo hi\n` -> `echo hi\n\n` (bk.heredoc-keyed)",
    },
    Case {
        name: "Buildah keys a RUN heredoc's body trimmed, BuildKit as written (podman:5.4, podman:5.8, podman-cli:5.4, podman-cli:5.8)",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base | RUN <<EOF | echo hi | EOF\n build\n dockerfile FROM base | RUN <<EOF | echo hi |  | EOF\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "a COPY heredoc is a file whose content is the body",
        profiles: &["buildkit:26", "buildkit:28", "buildkit-cli:26", "buildkit-cli:28", "podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base | COPY <<EOF /f | hi | EOF | RUN true\n build\n dockerfile FROM base | COPY <<EOF /f | ho | EOF | RUN true\n build",
        expect: "1 cached\n2 rebuilt: source `EOF`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)",
    },
    Case {
        name: "a cache mount's id is in BuildKit's RUN key before v0.13 and in Buildah's text always (buildkit:20.10, buildkit-cli:20.10, podman:4.3, podman:5.4, podman:5.8, podman-cli:4.3, podman-cli:5.4, podman-cli:5.8)",
        profiles: &["buildkit:20.10", "buildkit-cli:20.10", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base | RUN --mount=type=cache,id=a,target=/c true\n build\n dockerfile FROM base | RUN --mount=type=cache,id=b,target=/c true\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN --mount=type=cache,id=a,target=/c true` -> `RUN --mount=type=cache,id=b,target=/c true` (text.literal)",
    },
    Case {
        name: "a cache mount's id is in BuildKit's RUN key before v0.13 and in Buildah's text always (buildkit:26, buildkit:28, buildkit-cli:26, buildkit-cli:28)",
        profiles: &["buildkit:26", "buildkit:28", "buildkit-cli:26", "buildkit-cli:28"],
        script: "dockerfile FROM base | RUN --mount=type=cache,id=a,target=/c true\n build\n dockerfile FROM base | RUN --mount=type=cache,id=b,target=/c true\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "a bind-mounted context file's content is keyed (BuildKit; Buildah from 1.39) (buildkit:20.10, buildkit:26, buildkit:28, buildkit-cli:20.10, buildkit-cli:26, buildkit-cli:28)",
        profiles: &["buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28"],
        script: "file a x\n dockerfile FROM base | RUN --mount=type=bind,source=a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (bk.run-bind-content)",
    },
    Case {
        name: "a bind-mounted context file's content is keyed (BuildKit; Buildah from 1.39) (podman:4.3, podman-cli:4.3)",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base | RUN --mount=type=bind,source=a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "a bind-mounted context file's content is keyed (BuildKit; Buildah from 1.39) (podman:5.4, podman:5.8, podman-cli:5.4, podman-cli:5.8)",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | RUN --mount=type=bind,source=a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (buildah.bind-sources)",
    },
    Case {
        name: "a bind-mounted context file's mtime is keyed on Buildah 1.39-1.41 only (buildkit:20.10, buildkit:26, buildkit:28, buildkit-cli:20.10, buildkit-cli:26, buildkit-cli:28, podman:4.3, podman:5.8, podman-cli:4.3, podman-cli:5.8)",
        profiles: &["buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.8", "podman-cli:4.3", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | RUN --mount=type=bind,source=a,target=/a true\n build\n touch a 99\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "a bind-mounted context file's mtime is keyed on Buildah 1.39-1.41 only (podman:5.4, podman-cli:5.4)",
        profiles: &["podman:5.4", "podman-cli:5.4"],
        script: "file a x\n dockerfile FROM base | RUN --mount=type=bind,source=a,target=/a true\n build\n touch a 99\n build",
        expect: "1 cached\n2 rebuilt: source `a`: mtime/atime (buildah.bind-sources)",
    },
    Case {
        name: "a bind mount of a stage is keyed on what it binds there (BuildKit), not at all (Buildah) (buildkit:20.10, buildkit:26, buildkit:28, buildkit-cli:20.10, buildkit-cli:26, buildkit-cli:28)",
        profiles: &["buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28"],
        script: "file a x\n dockerfile FROM base AS s | COPY a /a | FROM base | RUN --mount=type=bind,from=s,source=/a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 not-a-step\n4 rebuilt: context changed (bk.content-addressed)",
    },
    Case {
        name: "a bind mount of a stage adds nothing to the key on Buildah 1.28",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base AS s | COPY a /a | FROM base | RUN --mount=type=bind,from=s,source=/a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 cached\n4 cached",
    },
    Case {
        name: "a RUN mounting a stage whose last step ran skips the lookup from Buildah 1.29 (Podman 5.4, 5.8: measured)",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base AS s | COPY a /a | FROM base | RUN --mount=type=bind,from=s,source=/a,target=/a true\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 cached\n4 rebuilt: not in cache (buildah.bind-stage-keyed)",
    },
    Case {
        // Measured with buildah-bind-stage-executed on Podman 5.4.2 and 5.8.6 (ac7458e70): s0
        // runs again and writes the same /o; the RUN reruns, and the step after it hangs off
        // the new layer.
        name: "a RUN mounting a stage that ran reruns whatever the mounted file holds, and what follows it misses (Buildah 1.29+)",
        profiles: &["podman:5.4", "podman:5.8", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base AS s0 | COPY a /a | RUN echo 2 > /o | FROM base | RUN --mount=type=bind,from=s0,source=/o,target=/m cat /m | RUN echo 3 > /p\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)\n4 FROM_AGAIN\n5 rebuilt: not in cache (buildah.bind-stage-keyed)\n6 rebuilt: parent rebuilt at step 5 (cascade)",
    },
    Case {
        name: "a RUN mounting a stage that ran hits on Buildah 1.28, which neither keys the mount nor skips the lookup",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base AS s0 | COPY a /a | RUN echo 2 > /o | FROM base | RUN --mount=type=bind,from=s0,source=/o,target=/m cat /m | RUN echo 3 > /p\n build\n write a y\n build",
        expect: "1 cached\n2 rebuilt: source `a`: content (copy.checksum)\n3 rebuilt: parent rebuilt at step 2 (cascade)\n4 FROM_AGAIN\n5 cached\n6 cached",
    },
    Case {
        name: "COPY --from of a path an opaque RUN made is unknown once the stage's chain changed: the builder keys the content, which the RUN may have written the same",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base AS s | RUN printf 1 > /o | FROM base | COPY --from=s /o /o\n build\n dockerfile FROM base AS s | RUN printf 2 > /o | FROM base | COPY --from=s /o /o\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN printf 1 > /o` -> `RUN printf 2 > /o` (text.literal)\n3 FROM_AGAIN\n4 unsupported: `copy.from-chain`: what an opaque RUN (or the base image) put there is keyed by its stage's chain, which changed; the builder keys the content, which may be the same",
    },
    Case {
        name: "COPY --from of a path an opaque RUN made hits while the stage's chain is unchanged",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file b x\n dockerfile FROM base AS s | RUN printf 1 > /o | COPY b /b | FROM base | COPY --from=s /o /o\n build\n write b y\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: source `b`: content (copy.checksum)\n4 FROM_AGAIN\n5 cached",
    },
    Case {
        name: "what follows a step the model cannot know is unknown too, in its stage and in a stage that reads it",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base AS s | RUN printf 1 > /o | FROM base AS t | COPY --from=s /o /o | RUN echo z | FROM base | COPY --from=t /o /p\n build\n dockerfile FROM base AS s | RUN printf 2 > /o | FROM base AS t | COPY --from=s /o /o | RUN echo z | FROM base | COPY --from=t /o /p\n build",
        expect: "1 cached\n2 rebuilt: instruction text `RUN printf 1 > /o` -> `RUN printf 2 > /o` (text.literal)\n3 FROM_AGAIN\n4 unsupported: `copy.from-chain`: what an opaque RUN (or the base image) put there is keyed by its stage's chain, which changed; the builder keys the content, which may be the same\n5 unsupported: follows a step whose outcome the model cannot know (`copy.from-chain`)\n6 FROM_AGAIN\n7 unsupported: follows a step whose outcome the model cannot know (`copy.from-chain`)",
    },
    Case {
        name: "a COPY after the stage's last RUN leaves what the RUN made unchanged",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "file b x\n dockerfile FROM base AS s | RUN echo 1 > /o | COPY b /b | FROM base | COPY --from=s /o /o\n build\n write b y\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: source `b`: content (copy.checksum)\n4 FROM_AGAIN\n5 cached",
    },
    Case {
        name: "COPY --from of what a RUN of known effect wrote is keyed on that content: another RUN changed after it leaves it cached",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base AS s | RUN echo 1 > /o | RUN echo x | FROM base | COPY --from=s /o /o\n build\n dockerfile FROM base AS s | RUN echo 1 > /o | RUN echo y | FROM base | COPY --from=s /o /o\n build",
        expect: "1 cached\n2 cached\n3 rebuilt: instruction text `RUN echo x` -> `RUN echo y` (text.literal)\n4 FROM_AGAIN\n5 cached",
    },
    Case {
        name: "COPY --from of a path no step of a stage on the base image wrote fails",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base AS s | RUN echo 1 > /p | FROM base | COPY --from=s /o /o\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 FROM_AGAIN\n4 fails: COPY --from=s: `/o` not found (no step of the stage wrote it, and the base image has no such path)",
    },
    Case {
        name: "COPY --from of an image is keyed on its name and paths",
        profiles: &["classic:20.10", "classic:26", "classic:28", "classic-cli:20.10", "classic-cli:26", "classic-cli:28", "buildkit:20.10", "buildkit:26", "buildkit:28", "buildkit-cli:20.10", "buildkit-cli:26", "buildkit-cli:28", "podman:4.3", "podman:5.4", "podman:5.8", "podman-cli:4.3", "podman-cli:5.4", "podman-cli:5.8"],
        script: "dockerfile FROM base | RUN true | COPY --from=other /bin/sh /sh\n build\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "an excluded path leaves the COPY checksum (BuildKit v0.25)",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "file d/a x\n file d/b x\n dockerfile FROM base | COPY --exclude=b d /d\n build\n write d/b y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        // Measured with copy-exclude-dangling-link on Engine 28.5.2, both doors and stores.
        name: "a dangling symlink fails a COPY with --exclude (BuildKit v0.25, buildkit#4946)",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "file c x\n dockerfile FROM base | COPY --exclude=b . /app\n build\n symlink l a\n build",
        expect: "1 cached\n2 fails: failed to calculate checksum: \"/l\": not found (a dangling symlink under --exclude, bk.exclude-dangling-link)",
    },
    Case {
        name: "an included path's change still misses under --exclude (BuildKit v0.25)",
        profiles: &["buildkit:28", "buildkit-cli:28"],
        script: "file d/a x\n file d/b x\n dockerfile FROM base | COPY --exclude=b d /d\n build\n write d/a y\n build",
        expect: "1 cached\n2 rebuilt: source `d/a`: content (copy.checksum)",
    },
    Case {
        name: "the classic builder of Engine 28 ignores --exclude: a change of an excluded file misses",
        profiles: &["classic:28", "classic-cli:28"],
        script: "file d/a x\n file d/b x\n dockerfile FROM base | COPY --exclude=b d /d\n build\n write d/b y\n build",
        expect: "1 cached\n2 rebuilt: source `d/b`: content (copy.checksum)",
    },
    Case {
        name: "Buildah 1.28 refuses COPY --exclude and ADD --checksum at their step",
        profiles: &["podman:4.3", "podman-cli:4.3"],
        script: "file a x\n dockerfile FROM base | COPY --exclude=b a /a | ADD --checksum=sha256:00 a /b\n build",
        expect: "1 cached\n2 fails: unknown flag: exclude\n3 skipped: an earlier step fails",
    },
    Case {
        name: "COPY --exclude is refused before BuildKit v0.25 and by the classic builder before 28",
        profiles: &["classic:20.10", "classic-cli:20.10", "classic:26", "classic-cli:26", "buildkit:20.10", "buildkit-cli:20.10", "buildkit:26", "buildkit-cli:26"],
        script: "file a x\n dockerfile FROM base | COPY --exclude=b a /a\n build",
        expect: "rejected: unknown flag: exclude",
    },
    Case {
        name: "COPY --parents fails at its step on Buildah 1.37-1.39",
        profiles: &["podman:5.4", "podman-cli:5.4"],
        script: "file d/a x\n dockerfile FROM base | RUN true | COPY --parents d/a /x/\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 fails: COPY --parents is not supported",
    },
    Case {
        name: "adding --parents to a COPY misses on Buildah 1.40+ (the stream's names change)",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "file d/a x\n dockerfile FROM base | COPY d/a /x/\n build\n dockerfile FROM base | COPY --parents d/a /x/\n build",
        expect: "1 cached\n2 rebuilt: instruction text `` -> `--parents` (buildah.copy-parents)",
    },
    Case {
        name: "a --parents COPY lands under its context path on Buildah 1.40+",
        profiles: &["podman:5.8", "podman-cli:5.8"],
        script: "file d/a x\n dockerfile FROM base AS s | COPY --parents d/a /x/ | FROM base | COPY --from=s /x/d/a /a\n build\n write d/a y\n build",
        expect: "1 cached\n2 rebuilt: source `d/a`: content (copy.checksum)\n3 cached\n4 rebuilt: context changed (bk.content-addressed)",
    },
    Case {
        name: "Buildah 1.38+ matches an --exclude pattern against context paths: a pattern under the source keeps the file",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file d/a x\n file d/b x\n dockerfile FROM base | COPY --exclude=b d /d\n build\n write d/b y\n build",
        expect: "1 cached\n2 rebuilt: source `d/b`: content (copy.checksum)",
    },
    Case {
        name: "Buildah 1.38+ drops a path an --exclude pattern names from the context root",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file d/a x\n file d/b x\n dockerfile FROM base | COPY --exclude=d/b d /d\n build\n write d/b y\n build",
        expect: "1 cached\n2 cached",
    },
    Case {
        name: "ADD --checksum is refused before BuildKit v0.12 and by the classic builder of 20.10",
        profiles: &["classic:20.10", "classic-cli:20.10", "buildkit:20.10", "buildkit-cli:20.10"],
        script: "file a x\n dockerfile FROM base | ADD --checksum=sha256:00 a /a\n build",
        expect: "rejected: unknown flag: checksum",
    },
    Case {
        name: "ADD --checksum of a context source is refused by BuildKit's frontend from v0.12",
        profiles: &["buildkit:26", "buildkit-cli:26", "buildkit:28", "buildkit-cli:28"],
        script: "file a x\n dockerfile FROM base | RUN true | ADD --checksum=sha256:00 a /a\n build",
        expect: "rejected: checksum can't be specified for non-HTTP sources",
    },
    Case {
        name: "the classic builder of Engine 26+ ignores ADD --checksum: a context file with any checksum is a plain ADD, and adding or changing the checksum hits",
        profiles: &["classic:26", "classic-cli:26", "classic:28", "classic-cli:28"],
        script: "file a x\n dockerfile FROM base | RUN true | ADD --checksum=sha256:00 a /a\n build\n dockerfile FROM base | RUN true | ADD --checksum=sha256:11 a /a\n build",
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "ADD --checksum of a context source fails at its step on Buildah 1.33+",
        profiles: &["podman:5.4", "podman-cli:5.4", "podman:5.8", "podman-cli:5.8"],
        script: "file a x\n dockerfile FROM base | RUN true | ADD --checksum=sha256:00 a /a | RUN true\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 fails: ADD failed: checksum flag is not supported for local sources\n4 skipped: an earlier step fails",
    },
    Case {
        name: "ADD of a URL is not modelled (the network's)",
        profiles: &["buildkit:26", "buildkit-cli:28", "podman:5.8", "classic"],
        script: "dockerfile FROM base | ADD https://example.com/f /f\n build",
        expect: "1 cached\n2 unsupported: ADD of a URL: what it fetches is the network's",
    },
    Case {
        name: "ADD --checksum of a URL is not modelled (the network's)",
        profiles: &["buildkit:26", "buildkit-cli:28", "podman:5.8"],
        script: "dockerfile FROM base | ADD --checksum=sha256:00 https://example.com/f /f\n build",
        expect: "1 cached\n2 unsupported: ADD of a URL: what it fetches is the network's",
    },
    Case {
        name: "a COPY heredoc fails at its step on the classic builder from Engine 26",
        profiles: &["classic:26", "classic-cli:26", "classic:28", "classic-cli:28"],
        script: "dockerfile FROM base | RUN true | COPY <<EOF /f | hi | EOF\n build",
        expect: "1 cached\n2 rebuilt: not in cache (text.literal)\n3 fails: COPY failed: no source files were specified",
    },
    Case {
        // buildkit#3291, PR 3295 (v0.11): owners of files from another stage enter the checksum.
        name: "BuildKit v0.8: an owner-only difference in the source stage hits at COPY --from",
        profiles: &["buildkit:20.10", "buildkit-cli:20.10"],
        script: FROM_OWNER_SCRIPT,
        expect: "1 cached\n2 rebuilt: instruction text `COPY from=None chown=Some(\"1:1\") chmod=None a -> /a` -> `COPY from=None chown=Some(\"2:2\") chmod=None a -> /a` (text.literal)\n3 not-a-step\n4 cached",
    },
    Case {
        name: "BuildKit v0.11+: an owner-only difference in the source stage misses at COPY --from",
        profiles: &["buildkit:26", "buildkit-cli:26", "buildkit:28", "buildkit-cli:28"],
        script: FROM_OWNER_SCRIPT,
        expect: "1 cached\n2 rebuilt: instruction text `COPY from=None chown=Some(\"1:1\") chmod=None a -> /a` -> `COPY from=None chown=Some(\"2:2\") chmod=None a -> /a` (text.literal)\n3 not-a-step\n4 rebuilt: context changed (bk.content-addressed)",
    },
    Case {
        // buildah#6171 (1.41): the newest matching layer wins, as on the classic builder.
        name: "Buildah before 1.41: after a --no-cache build, the older layer's descendants still hit",
        profiles: &["podman:4.3", "podman-cli:4.3", "podman:5.4", "podman-cli:5.4"],
        script: NEWEST_SCRIPT,
        expect: "1 cached\n2 cached\n3 cached",
    },
    Case {
        name: "Buildah 1.41+: after a --no-cache build, later builds follow its newer layers",
        profiles: &["podman:5.8", "podman-cli:5.8", "classic", "classic-cli"],
        script: NEWEST_SCRIPT,
        expect: "1 cached\n2 cached\n3 rebuilt: source `a`: mode 0600 -> 0644 (copy.checksum)",
    },
];

/// A stage's COPY changes only `--chown`; the next stage copies the file from it.
const FROM_OWNER_SCRIPT: &str = "file a x\n dockerfile FROM base AS s | COPY --chown=1:1 a /a | FROM base | COPY --from=s /a /x\n build\n dockerfile FROM base AS s | COPY --chown=2:2 a /a | FROM base | COPY --from=s /a /x\n build";

/// A build, a --no-cache build of a changed source, and the first source again.
const NEWEST_SCRIPT: &str = "file a x\n dockerfile FROM base | ENV E=y | COPY a /a\n build\n chmod a 600\n build --no-cache\n chmod a 644\n build";

/// Whether a case's profile list covers a profile of some generation.
/// Whether the case names the profile: `base` (every generation), `base:label`, on either image
/// store unless it ends in `+containerd` or `+graph`.
fn covers(case: &Case, profile: &Profile) -> bool {
    case.profiles.iter().any(|entry| {
        let (entry, store) = split_store(entry);
        store.is_none_or(|s| s == profile.store) && covers_name(entry, profile)
    })
}

/// A case's profile entry and the image store it is limited to, if any.
fn split_store(entry: &str) -> (&str, Option<models::ImageStore>) {
    if let Some(entry) = entry.strip_suffix("+containerd") {
        (entry, Some(models::ImageStore::Containerd))
    } else if let Some(entry) = entry.strip_suffix("+graph") {
        (entry, Some(models::ImageStore::Graph))
    } else {
        (entry, None)
    }
}

fn covers_name(entry: &str, profile: &Profile) -> bool {
    match entry.split_once(':') {
        None => *entry == profile.base_name(),
        Some((base, label)) => base == profile.base_name() && label == profile.generation.label(),
    }
}

fn label_rule(profile: &Profile) -> &'static str {
    match profile.builder {
        models::Builder::Classic => "classic.config-match",
        _ => "buildah.env-raw",
    }
}

/// A FROM of an earlier stage, or of the image an earlier built stage starts from: no vertex of
/// its own on BuildKit (`bk.metadata-free`), a cached step elsewhere.
fn from_again(profile: &Profile) -> &'static str {
    match profile.builder {
        models::Builder::BuildKit => "not-a-step",
        _ => "cached",
    }
}

fn run_case(case: &Case, profile: &Profile) -> Result<(), String> {
    let expect = case
        .expect
        .replace(
            "LABEL_RULE",
            label_rule(&Profile::from_name(&profile.name()).unwrap()),
        )
        .replace("FROM_AGAIN", from_again(profile));
    let case = Case {
        expect: Box::leak(expect.into_boxed_str()),
        ..*case
    };
    check(&case, profile)
}

#[test]
fn every_case_matches_the_reference_profiles() {
    let mut failures = Vec::new();
    for case in CASES {
        for name in case.profiles {
            let known =
                Profile::from_name(name).or_else(|| Profile::from_name(split_store(name).0));
            assert!(known.is_some(), "unknown profile {name}");
        }
        for profile in Profile::all_generations() {
            if covers(case, &profile) {
                if let Err(e) = run_case(case, &profile) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// For every profile of every generation and every rule it exercises, some case for that profile
/// must fail once the rule is switched off (and once inverted): proof that the case tests the rule.
#[test]
fn every_exercised_rule_is_killed_by_a_case() {
    let mut survivors = Vec::new();
    for profile in Profile::all_generations() {
        for rule in profile.rules().into_iter().filter(|r| r.is_exercised()) {
            for switch in [Switch::Off, Switch::Inverted] {
                let mutant = profile.with_switch(rule.id, switch).unwrap();
                let killed = CASES
                    .iter()
                    .filter(|c| covers(c, &profile))
                    .any(|c| run_case(c, &mutant).is_err());
                if !killed {
                    survivors.push(format!("{} on {} ({switch:?})", rule.id, profile.name()));
                }
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "rules no case kills:\n{}",
        survivors.join("\n")
    );
}

#[test]
fn every_rule_cites_a_source_and_says_what_off_means() {
    for profile in Profile::all_generations() {
        for rule in profile.rules() {
            assert!(
                rule.source.starts_with("https://"),
                "{} has no source link",
                rule.id
            );
            assert!(
                !rule.if_off.is_empty() && !rule.statement.is_empty(),
                "{} is not described",
                rule.id
            );
        }
    }
}

#[test]
fn unknown_rule_ids_are_refused() {
    let profile = Profile::from_name("classic").unwrap();
    let err = profile
        .with_switch("bk.xattr-filter", Switch::Off)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "rule `bk.xattr-filter` is not in the classic profile's table"
    );
}
