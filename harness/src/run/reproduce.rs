//! Standalone reproducers: a shell script that recreates a scenario's context with exact metadata
//! and runs its builds with the plain docker CLI, printing expected and observed per step.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use models::scenario::{HostSettings, Mutation, Scenario};
use models::step::backends::{map_place, Backend};
use models::{Builder, EntryKind, Outcome};

use crate::engine::cli::{build_command, cli_door, BuildLine};
use crate::engine::client::Arg;
use crate::engine::inventory::Engine;
use crate::run::execute::History;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The script's variable for a scenario host's endpoint: `HOST_A`, `HOST_B`, `HOST_MY_HOST`.
fn host_variable(host: &str) -> String {
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("HOST_{name}")
}

fn mutation_commands(m: &Mutation, clock: i64) -> String {
    match m {
        Mutation::Write { path, content } => format!("printf %s {} > {p}; touch -h -d @{clock} {p}", quote(content), p = quote(path)),
        Mutation::WriteSameSize { path, content } => format!(
            "m=$(stat -c %Y {p}); n=$(stat -c %s {p}); printf %s {c} | head -c \"$n\" > {p}.new; \
             while [ \"$(stat -c %s {p}.new)\" -lt \"$n\" ]; do printf . >> {p}.new; done; \
             cat {p}.new > {p}; rm {p}.new; touch -d @\"$m\" {p}",
            p = quote(path),
            c = quote(content)
        ),
        Mutation::Chmod { path, mode } => format!("chmod {mode:o} {}", quote(path)),
        Mutation::Chown { path, uid, gid } => format!("chown -h {uid}:{gid} {}", quote(path)),
        Mutation::Touch { path, mtime } => format!("touch -h -d @{mtime} {}", quote(path)),
        Mutation::SetXattr { path, name, value } => format!("setfattr -n {} -v {} {}", quote(name), quote(value), quote(path)),
        Mutation::RemoveXattr { path, name } => format!("setfattr -x {} {}", quote(name), quote(path)),
        Mutation::Symlink { path, target } => format!("ln -sfn {} {}", quote(target), quote(path)),
        Mutation::Mkdir { path } => format!("mkdir -p {}", quote(path)),
        Mutation::Remove { path } => format!("rm -rf {}", quote(path)),
        Mutation::Rename { from, to } => format!("mv {} {}", quote(from), quote(to)),
        Mutation::Dockerignore { text } if text.is_empty() => "rm -f .dockerignore".to_string(),
        Mutation::Dockerignore { text } => format!("printf %s {} > .dockerignore", quote(text)),
        Mutation::Dockerfile { text } => format!("printf %s {} | sed \"s|^\\([Ff][Rr][Oo][Mm][[:space:]]\\+\\)base\\b|\\1$BASE|\" > Dockerfile", quote(text)),
    }
}

/// The shell function a reproducer calls before a build on a host with settings: `present DIR
/// UMASK LABEL UID` fills DIR with a copy of the context as that host presents a checkout (modes
/// from 0666, or 0777 for directories and owner-executable files, masked by UMASK; LABEL as
/// `security.selinux` where an entry has none; UID as owner), as `apply_host_settings` does.
const PRESENT_FUNCTION: &str = r#"present() { # DIR UMASK LABEL UID: a copy of the context as an emulated host presents it (cachet's host settings)
  mkdir -p "$1" && find "$1" -mindepth 1 -delete && cp -a "$ctx/." "$1/" && (cd "$1" && find . -mindepth 1 | while IFS= read -r p; do
    if [ -n "$2" ] && [ ! -L "$p" ]; then m=$(stat -c %a "$p"); b=0666; if [ -d "$p" ] || [ $(( (0$m >> 6) & 1 )) -eq 1 ]; then b=0777; fi; chmod "$(printf %o $(( b & ~0$2 & 0777 )))" "$p"; fi
    if [ -n "$3" ] && ! getfattr -h -n security.selinux "$p" >/dev/null 2>&1; then setfattr -h -n security.selinux -v "$3" "$p" 2>/dev/null || true; fi
    if [ -n "$4" ]; then chown -h "$4:$4" "$p"; fi
  done)
}
"#;

/// The script. `history` is a run of `scenario` on `engine` (its predictions are the expectations).
/// `host_settings`: how each scenario host (`a`, `b`) presents a checkout, as the inventory says;
/// a host with settings builds from a copy of the context that the script presents that way.
pub fn shell_reproducer(
    name: &str,
    scenario: &Scenario,
    engine: &Engine,
    history: &History,
    host_settings: &BTreeMap<String, HostSettings>,
) -> String {
    let mut s = String::new();
    write_header(&mut s, name, scenario, engine);
    write_base_and_context(&mut s, scenario);
    write_observe(&mut s, engine.builder() == Builder::BuildKit);
    let emulated = host_settings
        .values()
        .any(|h| *h != HostSettings::default());
    if emulated {
        s.push_str(PRESENT_FUNCTION);
    }
    for (n, transition) in scenario.transitions.iter().enumerate() {
        write_transition(&mut s, n, transition, engine, history, host_settings);
    }
    s
}

/// The script's opening: what it is, what it needs, its variables (one endpoint per host).
fn write_header(s: &mut String, name: &str, scenario: &Scenario, engine: &Engine) {
    let _ = writeln!(s, "#!/usr/bin/env bash");
    let _ = writeln!(
        s,
        "# cachet reproducer `{name}` for {} ({}), written by cachet.",
        engine.name,
        engine.kind()
    );
    if engine.transport() == models::Transport::Api {
        let _ = writeln!(
            s,
            "# {} takes builds through the Engine API (a tar upload); this script reproduces them through\n# the docker CLI with the same builder (a directory sync), which resets owners to 0:0 and drops\n# user.* xattrs: a difference that hinges on those may not show here.",
            engine.name
        );
    }
    let _ = writeln!(
        s,
        "# Needs root (chown, security.* xattrs), busybox-static and attr. DOCKER picks the CLI,"
    );
    let _ = writeln!(
        s,
        "# HOST_<NAME> each scenario host's endpoint (HOST_A: the engine under test), REGISTRY the registry"
    );
    let _ = writeln!(s, "# for builds that move cache between hosts.");
    let _ = writeln!(s, "set -euo pipefail");
    let _ = writeln!(s, "DOCKER=${{DOCKER:-/usr/bin/docker}}");
    let hosts: Vec<&str> = {
        let mut h: Vec<&str> = scenario
            .transitions
            .iter()
            .map(|t| t.build.host_name())
            .collect();
        h.sort();
        h.dedup();
        h
    };
    for host in &hosts {
        let var = host_variable(host);
        let _ = match *host {
            "a" => writeln!(s, "{var}=${{{var}:-${{DOCKER_HOST:-{}}}}}", engine.endpoint),
            "b" => writeln!(s, "{var}=${{{var}:-unix:///run/cachet/docker-b.sock}}"),
            _ => writeln!(
                s,
                "{var}=${{{var}:?set {var} to the endpoint of scenario host {host}}}"
            ),
        };
    }
    let _ = writeln!(s, "REGISTRY=${{REGISTRY:-127.0.0.1:5000}}");
    let _ = writeln!(
        s,
        "HOSTS=\"{}\"",
        hosts
            .iter()
            .map(|h| format!("${}", host_variable(h)))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// The salted base image on every host, and the context with its exact metadata.
fn write_base_and_context(s: &mut String, scenario: &Scenario) {
    let _ = writeln!(s, "BASE=localhost/cachet-base:repro-$(date +%s%N)-$$");
    let _ = writeln!(s, "work=$(mktemp -d)");
    let _ = writeln!(
        s,
        "cleanup() {{ rm -rf \"$work\"; for h in $HOSTS; do \"$DOCKER\" -H \"$h\" rmi -f \"$BASE\" $(seq -f \"cachet-repro-$$:%g\" 0 {}) >/dev/null 2>&1 || true; done; }}; trap cleanup EXIT",
        scenario.transitions.len().saturating_sub(1)
    );
    let _ = writeln!(
        s,
        "busybox=$(command -v busybox || echo /bin/busybox); mkdir -p \"$work/base/bin\" \"$work/base/etc\" && cp \"$busybox\" \"$work/base/bin/busybox\" && ln -s busybox \"$work/base/bin/sh\" && printf %s {} > \"$work/base/etc/passwd\" && printf %s {} > \"$work/base/etc/group\"",
        quote(crate::engine::base_image::PASSWD),
        quote(crate::engine::base_image::GROUP)
    );
    let _ = writeln!(
        s,
        "for h in $HOSTS; do tar -C \"$work/base\" -c . | \"$DOCKER\" -H \"$h\" import -c 'ENV PATH=/bin' - \"$BASE\" >/dev/null; done"
    );
    // A context directory of its own name: the 20.10 CLI keys BuildKit's incremental context sync
    // on the directory as given, so building `.` from two directories shares one sync cache and
    // a same-size, same-mtime file comes back stale (buildkit#1368, buildkit#4950).
    let _ = writeln!(s, "ctx=$(mktemp -d \"$work/ctx-XXXXXX\") && cd \"$ctx\"");
    for (path, entry) in &scenario.context.entries {
        let p = quote(path);
        match &entry.kind {
            EntryKind::Dir => {
                let _ = writeln!(s, "mkdir -p {p}");
            }
            EntryKind::File { content } if path == models::context::DOCKERFILE_NAME => {
                let _ = writeln!(
                    s,
                    "printf %s {} | sed \"s|^\\([Ff][Rr][Oo][Mm][[:space:]]\\+\\)base\\b|\\1$BASE|\" > Dockerfile",
                    quote(&String::from_utf8_lossy(content))
                );
            }
            EntryKind::File { content } => {
                let _ = writeln!(
                    s,
                    "mkdir -p \"$(dirname {p})\"; printf %s {} > {p}",
                    quote(&String::from_utf8_lossy(content))
                );
            }
            EntryKind::Symlink { target } => {
                let _ = writeln!(
                    s,
                    "mkdir -p \"$(dirname {p})\"; ln -sfn {} {p}",
                    quote(target)
                );
            }
        }
        if !matches!(entry.kind, EntryKind::Symlink { .. }) {
            let _ = writeln!(s, "chmod {:o} {p}", entry.mode);
        }
        let _ = writeln!(s, "chown -h {}:{} {p}", entry.uid, entry.gid);
        for (name, value) in &entry.xattrs {
            let _ = writeln!(
                s,
                "setfattr -n {} -v {} {p}",
                quote(name),
                quote(&String::from_utf8_lossy(value))
            );
        }
    }
    for (path, entry) in scenario.context.entries.iter().rev() {
        let _ = writeln!(s, "touch -h -d @{} {}", entry.mtime, quote(path));
    }
}

/// `observe`: the engine's output summarised per step, as the engine's kind prints it.
fn write_observe(s: &mut String, buildkit: bool) {
    let _ = writeln!(
        s,
        "observe() {{ # prints, per [i/n] or Step i/N header, whether the engine said cached"
    );
    if buildkit {
        let _ = writeln!(s, "  awk '/^#[0-9]+ \\[/{{id=$1; name[id]=$0}} /^#[0-9]+ CACHED/{{c[$1]=1}} /^(#[0-9]+ )?(ERROR|error)/{{print \"   engine: \" $0}} END{{for (i in name) print name[i] (c[i] ? \"  => cached\" : \"  => rebuilt\")}}' | sort -t'#' -k2 -n");
    } else {
        let _ = writeln!(s, "  awk '/^(Step |STEP |\\[[0-9]+\\/[0-9]+\\] STEP )/{{if (h) print h (c ? \"  => cached\" : \"  => rebuilt\"); h=$0; c=0}} /Using cache/{{c=1}} /^(ERROR|error|Error)/{{print \"   engine: \" $0}} END{{if (h) print h (c ? \"  => cached\" : \"  => rebuilt\")}}'");
    }
    let _ = writeln!(s, "}}");
}

/// One transition: its mutations, what the model and cachet said, and the build (the CLI door's
/// command line), then its push.
fn write_transition(
    s: &mut String,
    n: usize,
    transition: &models::scenario::Transition,
    engine: &Engine,
    history: &History,
    host_settings: &BTreeMap<String, HostSettings>,
) {
    let clock = 1_700_000_000 + n as i64 * 1000;
    for m in &transition.mutations {
        let _ = writeln!(s, "{}", mutation_commands(m, clock));
    }
    let pushed = |r: &str| format!("$REGISTRY/cachet-repro-$$/{r}");
    // A case's backend names: the registry's under the script's own repository, a local cache
    // directory under its work directory (removed at exit).
    let place = |backend: Backend, p: &str| match backend {
        Backend::Local => format!("$work/cache/{p}"),
        _ => pushed(p),
    };
    let host_name = transition.build.host_name();
    let host = format!("${}", host_variable(host_name));
    let _ = writeln!(s, "echo '== build {}'", n + 1);
    write_steps(s, n, history);
    let dir = write_presentation(s, host_name, host_settings);
    // The CLI door's own command line (`engine::cli::build_command`), with the script's
    // variables for the CLI, the host, the tag and the directories.
    let line = build_command(&BuildLine {
        kind: cli_door(engine),
        cli: Arg::shell("$DOCKER"),
        endpoint: Arg::shell(&host),
        tls_dir: None,
        docker_config: engine.docker_config.as_deref(),
        tag: Arg::shell(format!("cachet-repro-$$:{n}")),
        dir: Arg::shell(dir),
        options: &transition.build.options,
        cache_from: (transition.build.options.cache_from.iter())
            .map(|v| Arg::shell(map_place(v, false, &place)))
            .collect(),
        cache_to: (transition.build.options.cache_to.iter())
            .map(|v| Arg::shell(map_place(v, true, &place)))
            .collect(),
    });
    let _ = writeln!(s, "{} 2>&1 | observe || true", line.render());
    if let Some(r) = &transition.build.options.push {
        let _ = writeln!(
            s,
            "\"$DOCKER\" -H \"{host}\" tag cachet-repro-$$:{n} \"{p}\" && \"$DOCKER\" -H \"{host}\" push \"{p}\" >/dev/null && \"$DOCKER\" -H \"{host}\" rmi \"{p}\" >/dev/null",
            p = pushed(r)
        );
    }
}

/// The echo lines of build `n` (from 0): each step's outcome in the model (and why it missed)
/// and what cachet observed, from `history`.
fn write_steps(s: &mut String, n: usize, history: &History) {
    if let Some(build) = history.builds.iter().find(|b| b.transition == n + 1) {
        for step in &build.prediction.steps {
            let why = match &step.outcome {
                Outcome::Rebuilt { reason } => format!(": {reason}"),
                _ => String::new(),
            };
            let observed = build
                .verdicts
                .iter()
                .find(|v| v.step == step.step)
                .map(|v| v.observed_short())
                .unwrap_or("-");
            let _ = writeln!(
                s,
                "echo {}",
                quote(&format!(
                    "   step {} {}: model {}{why}; cachet observed {observed}",
                    step.step,
                    step.instruction,
                    step.outcome.short()
                ))
            );
        }
    }
}

/// Where host `host_name` reads a build's context: `$ctx`, or, where the host has settings of
/// its own (a umask, an SELinux label, an owner), a copy the script presents as it does (the
/// `present` line written here).
fn write_presentation(
    s: &mut String,
    host_name: &str,
    host_settings: &BTreeMap<String, HostSettings>,
) -> String {
    let settings = host_settings.get(host_name).cloned().unwrap_or_default();
    if settings == HostSettings::default() {
        "$ctx".to_string()
    } else {
        let dir = format!("$work/host-{host_name}");
        let _ = writeln!(
            s,
            "present \"{dir}\" '{}' {} '{}'",
            settings
                .umask
                .map(|u| format!("{u:04o}"))
                .unwrap_or_default(),
            quote(settings.selinux_label.as_deref().unwrap_or("")),
            settings.uid.map(|u| u.to_string()).unwrap_or_default()
        );
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::scenario::{BuildStep, Transition};
    use models::{BuildOptions, Profile, Transport};

    fn engine(builder: Builder, transport: Transport) -> Engine {
        let profile = Profile::new(builder, transport);
        Engine {
            name: format!("{}@a", profile.name()),
            host: "a".into(),
            endpoint: "unix:///run/x.sock".into(),
            profile,
            cli: "/usr/bin/docker".into(),
            docker_config: None,
            generation: None,
            image_store: None,
            settings: HostSettings::default(),
            distro: None,
            tls_dir: None,
            door: crate::engine::doors::DoorKind::of_profile(builder, transport),
            mutant: None,
            build_cache_gc: None,
        }
    }

    fn scenario() -> Scenario {
        let mut context = models::BuildContext::new();
        context.set_dockerfile_text("FROM base\nRUN true\n");
        let build = |host: &str, inline_cache: bool| Transition {
            mutations: Vec::new(),
            build: BuildStep {
                host: host.into(),
                options: BuildOptions {
                    inline_cache,
                    ..BuildOptions::default()
                },
            },
        };
        Scenario {
            context,
            transitions: vec![build("", true), build("b", false), build("c", false)],
        }
    }

    fn script(engine: &Engine) -> String {
        let history = History {
            engine: engine.name.clone(),
            salt: "s".into(),
            builds: Vec::new(),
        };
        shell_reproducer("t", &scenario(), engine, &history, &BTreeMap::new())
    }

    #[test]
    fn each_host_has_its_own_endpoint_and_inline_cache_is_buildkit_only() {
        let classic = script(&engine(Builder::Classic, Transport::Cli));
        assert!(!classic.contains("BUILDKIT_INLINE_CACHE"), "{classic}");
        assert!(classic.contains("HOST_A=${HOST_A:-${DOCKER_HOST:-unix:///run/x.sock}}"));
        assert!(classic.contains("HOST_C=${HOST_C:?"), "{classic}");
        assert!(classic.contains(
            "DOCKER_BUILDKIT=0 \"$DOCKER\" -H \"$HOST_C\" build --force-rm -t \"cachet-repro-$$:2\""
        ));
        assert!(classic.contains("-H \"$HOST_B\" build"));
        assert!(!classic.contains("Engine API"));
        let buildkit = script(&engine(Builder::BuildKit, Transport::Api));
        assert!(buildkit.contains("--build-arg BUILDKIT_INLINE_CACHE=1"));
        assert!(buildkit.contains("reproduces them through"), "{buildkit}");
    }
}
