//! The engine inventory: hosts by name and the engines (`BUILDER@HOST`) derived from them.
//!
//! `ci/engines up` writes `/run/cachet/inventory.toml`; `CACHET_INVENTORY` points elsewhere. With
//! no inventory, cachet uses `DOCKER_HOST` (or the default socket) as host `a`.
//!
//! Engine generations (README "Engine generations"): a host may name its own docker CLI and
//! `DOCKER_CONFIG` (so its own buildx plugin) and carry a `generation` label and an `image-store`.
//! Which engines a docker host has follows from its CLI: `buildkit-cli` only where the CLI has a
//! built-in BuildKit client (before Docker 23; from 23 on `docker build` *is* buildx, so the two
//! would be one door run twice), `buildx` where the plugin is there. Cross-host scenarios pair an
//! engine only with the same kind on a host of the same generation and image store (`on_host`).
//!
//! A host of kind `model` (endpoint `model:NAME`) is no daemon: its engines answer from the model
//! in process (`engine::model`), optionally a mutant (`mutant = "RULE"`, that rule switched off).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use models::{Builder, Profile, Transport};
use serde::Deserialize;

use crate::engine::doors::{self, DoorKind, Offered, DOORS};
use crate::error::{Error, Result};

/// The docker CLI when neither `CACHET_DOCKER_CLI` nor the inventory names one: the first
/// `docker` on the PATH (`/usr/bin/docker` without one).
pub fn default_cli() -> String {
    crate::engine::places::docker_cli(std::env::var_os("PATH").as_deref())
        .display()
        .to_string()
}

/// Every engine kind (`Engine::kind`): the door table's names.
pub fn engine_kinds() -> Vec<String> {
    doors::kind_names()
        .into_iter()
        .map(str::to_string)
        .collect()
}

pub fn is_engine_kind(name: &str) -> bool {
    engine_kinds().iter().any(|k| k == name)
}

pub use crate::engine::doors::HostKind;

/// The endpoint scheme of a model host.
pub const MODEL_SCHEME: &str = "model:";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Host {
    pub endpoint: String,
    pub kind: HostKind,
    /// Distribution label, for reports (`debian-12`, `centos-stream-9`).
    #[serde(default)]
    pub distro: Option<String>,
    /// The umask a checkout on this host runs under (`0o002` on Fedora/CentOS user accounts).
    #[serde(default)]
    pub umask: Option<u32>,
    /// The SELinux label the host gives the build context's files.
    #[serde(default)]
    pub selinux_label: Option<String>,
    /// The uid owning the build context on this host.
    #[serde(default)]
    pub uid: Option<u32>,
    /// For `tcp://` endpoints with TLS: a directory holding `ca.pem`, `cert.pem` and `key.pem`
    /// (what `DOCKER_CERT_PATH` holds for the docker CLI).
    #[serde(default)]
    pub tls_dir: Option<PathBuf>,
    /// The docker CLI the CLI doors run for this host (a generation root's own); default: the
    /// inventory's `cli`. `CACHET_DOCKER_CLI` overrides only the inventory's, never a host's own.
    #[serde(default)]
    pub cli: Option<String>,
    /// The `DOCKER_CONFIG` directory the host's CLI runs with (its config.json names the plugin
    /// directory: the host's own buildx). Default: the caller's.
    #[serde(default)]
    pub docker_config: Option<PathBuf>,
    /// The engine generation the host runs, a label for people and for pairing (`trixie`, `sid`);
    /// unset: the system's engines (`system`). The model's generation comes from the version the
    /// engine reports (`profile_for`), not from this label.
    #[serde(default)]
    pub generation: Option<String>,
    /// The daemon's image store when it is not the graph driver's (`containerd`).
    #[serde(default)]
    pub image_store: Option<String>,
    /// Whether this host's CLI has the buildx plugin; unset: the inventory's `buildx` for the
    /// inventory's CLI, the probe for a host's own CLI.
    #[serde(default)]
    pub buildx: Option<bool>,
    /// Whether this host's CLI has a built-in BuildKit client (`DOCKER_BUILDKIT=1 docker build`
    /// not going through buildx: CLIs before 23.0); unset: the probe asks the CLI's version.
    #[serde(default)]
    pub builtin_buildkit: Option<bool>,
    /// For a `model` host: the rule its engines switch off (a mutant engine, which a reference
    /// run must catch). Its engines are the profiles whose table holds the rule.
    #[serde(default)]
    pub mutant: Option<String>,
    /// Whether the daemon garbage-collects BuildKit's build cache on its own (daemon.json
    /// `builder.gc.enabled`). Unset: on from Engine 28.2, its default there (moby#49899). Where
    /// it is on, a run watches its records and a miss after an eviction is indeterminate.
    #[serde(default)]
    pub build_cache_gc: Option<bool>,
}

/// A CLI as a host runs it: the binary and its `DOCKER_CONFIG`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CliSetup {
    pub cli: PathBuf,
    pub docker_config: Option<PathBuf>,
}

/// What a probe learns of a CLI: whether it has the buildx plugin, and whether it has a built-in
/// BuildKit client (a CLI before 23.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliFacts {
    pub buildx: bool,
    pub builtin_buildkit: bool,
}

/// Answers `CliFacts` for a CLI (`engine::client::cli_facts`; tests pass their own).
pub type CliProbe = fn(&CliSetup) -> CliFacts;

/// The generation label of hosts that carry none: the system's own engines.
pub const SYSTEM_GENERATION: &str = "system";

/// The one place the harness chooses the profile an engine of `kind` (`classic`, `buildkit-cli`,
/// `buildx`, `podman`, ...) is checked against: the model's generation for the version the engine
/// reports (`models::Generation::from_version`), or the oldest generation when it has not been
/// asked yet (`None`). `None` for a kind no profile has.
pub fn profile_for(kind: &str, version: Option<&str>) -> Option<Profile> {
    generation_choice(kind, version).map(|(profile, _)| profile)
}

/// `profile_for`, with why the choice is not exact (a version newer than any generation the
/// model knows gets the newest, and the report says so).
pub fn generation_choice(kind: &str, version: Option<&str>) -> Option<(Profile, Option<String>)> {
    let base = match DoorKind::from_name(kind) {
        Some(door) => Profile::new(door.spec().builder, door.spec().transport),
        None => Profile::from_name(kind)?,
    };
    Some(match version {
        None => (Profile::new(base.builder, base.transport), None),
        Some(v) => {
            let (profile, choice) = Profile::for_version(base.builder, base.transport, v);
            (profile, choice.note)
        }
    })
}

impl Host {
    /// A host of `kind` at `endpoint` with nothing else set: what an inventory file's table with
    /// only those two keys gives.
    pub fn at(endpoint: String, kind: HostKind) -> Host {
        Host {
            endpoint,
            kind,
            distro: None,
            umask: None,
            selinux_label: None,
            uid: None,
            tls_dir: None,
            cli: None,
            docker_config: None,
            generation: None,
            image_store: None,
            buildx: None,
            builtin_buildkit: None,
            mutant: None,
            build_cache_gc: None,
        }
    }

    /// What cachet applies to every context it materialises for this host.
    pub fn settings(&self) -> models::scenario::HostSettings {
        models::scenario::HostSettings {
            umask: self.umask,
            selinux_label: self.selinux_label.clone(),
            uid: self.uid,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    #[serde(default)]
    pub registry: Option<String>,
    #[serde(default)]
    pub cli: Option<String>,
    /// Whether the CLI has the buildx plugin, which adds a `buildx` engine on every docker host.
    /// Unset: the probe given at load asks the CLI (`docker buildx version`).
    #[serde(default)]
    pub buildx: Option<bool>,
    pub hosts: BTreeMap<String, Host>,
}

/// One engine: a builder, reached through one door, on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Engine {
    /// `classic@a`, `buildkit-cli@b`, `podman@podman`, `buildx@sid`.
    pub name: String,
    pub host: String,
    pub endpoint: String,
    pub profile: Profile,
    /// The docker CLI the CLI doors and the CLI-backed calls run (the host's own, if it has one).
    pub cli: String,
    /// The `DOCKER_CONFIG` that CLI runs with (where it finds its plugins), if the host names one.
    pub docker_config: Option<PathBuf>,
    /// The host's generation label (`None`: the system's engines).
    pub generation: Option<String>,
    /// The daemon's image store if not the graph driver's (`containerd`).
    pub image_store: Option<String>,
    /// How the host presents contexts (umask, SELinux label, owner), applied at materialisation.
    pub settings: models::scenario::HostSettings,
    /// The host's distribution label, if the inventory gives one.
    pub distro: Option<String>,
    /// TLS material for a `tcp://` endpoint (`ca.pem`, `cert.pem`, `key.pem`).
    pub tls_dir: Option<PathBuf>,
    /// The door builds get in by (`doors::DOORS`). Buildx and the CLI's built-in BuildKit client
    /// share a profile: the model does not tell them apart; the engine's behaviour is recorded
    /// under its own kind.
    pub door: DoorKind,
    /// On a model host (`kind = "model"`): the rule the model engine switches off, if a mutant.
    pub mutant: Option<String>,
    /// Whether the daemon's build-cache GC is on (the host's `build-cache-gc`; unset: decided
    /// by the reported version, `with_reported_version`).
    pub build_cache_gc: Option<bool>,
}

impl Engine {
    /// What the engine is, without its host or generation: the profile's base name (`classic`,
    /// `buildkit-cli`, `podman`), or `buildx`. Recorded divergences and the known catalogue are
    /// keyed by it, with version ranges for the generation.
    pub fn kind(&self) -> String {
        self.door.name().to_string()
    }
    pub fn builder(&self) -> Builder {
        self.profile.builder
    }
    pub fn transport(&self) -> Transport {
        self.profile.transport
    }
    /// Whether a build through this engine's door can name a `--cache-to`: only buildx's does
    /// (the Engine API and the classic CLI have no such option, and the built-in BuildKit
    /// client of CLIs before 23.0 none either); a model host's BuildKit door stands in for it.
    pub fn passes_cache_to(&self) -> bool {
        self.door == DoorKind::Buildx || (self.is_model() && self.builder() == Builder::BuildKit)
    }
    /// Whether builds go to the model engine in process (a `model` host), not a daemon.
    pub fn is_model(&self) -> bool {
        self.endpoint.starts_with(MODEL_SCHEME)
    }
    /// The generation label for people: the host's, or `system`.
    pub fn generation_label(&self) -> &str {
        self.generation.as_deref().unwrap_or(SYSTEM_GENERATION)
    }
    /// Whether a scenario may move cache between this engine and `other`: the same kind, on a
    /// host of the same generation and image store (a generation host pairs only with its own).
    pub fn pairs_with(&self, other: &Engine) -> bool {
        self.kind() == other.kind()
            && self.is_model() == other.is_model()
            && self.generation == other.generation
            && self.image_store == other.image_store
    }
    /// The same builder and door on another host of the inventory, if that host is of the same
    /// generation and image store (`pairs_with`).
    pub fn on_host(&self, inventory: &Inventory, host: &str) -> Option<Engine> {
        let name = format!("{}@{host}", self.kind());
        inventory
            .engines()
            .into_iter()
            .find(|e| e.name == name && self.pairs_with(e))
    }
    /// The engine checked against the profile its reported version selects (`profile_for`),
    /// with the switches of a mutant kept.
    pub fn with_reported_version(&self, version: &str) -> Engine {
        let mut engine = self.clone();
        if let Some(mut profile) = profile_for(&self.kind(), Some(version)) {
            profile.switches = self.profile.switches.clone();
            if self.image_store.as_deref() == Some("containerd")
                && profile.builder == Builder::BuildKit
            {
                profile = profile.with_store(models::ImageStore::Containerd);
            }
            engine.profile = profile;
        }
        engine.build_cache_gc = Some(
            self.build_cache_gc
                .unwrap_or_else(|| gc_by_default(version)),
        );
        engine
    }
    /// Whether a run must watch this engine's build-cache records for evictions: a daemon's
    /// BuildKit with its GC on (Podman's layers are images; the classic builder's cache is its
    /// images, which no GC removes; the model engine never evicts).
    pub fn watches_evictions(&self) -> bool {
        self.builder() == Builder::BuildKit && !self.is_model() && self.build_cache_gc == Some(true)
    }
}

/// Engine 28.2 turned BuildKit's garbage collection on by default (moby#49899,
/// https://github.com/moby/moby/pull/49899): from that version, unless the host says otherwise.
fn gc_by_default(reported: &str) -> bool {
    crate::engine::versions::VersionRange::parse(">=28.2")
        .expect("a range")
        .contains_engine(reported)
}

/// The endpoint schemes cachet speaks (bollard and the docker CLI alike): anything else is a
/// mistake in the inventory, not an engine that is down.
pub const ENDPOINT_SCHEMES: &[&str] = &["unix://", "tcp://", "http://", "ssh://", MODEL_SCHEME];

/// Whether cachet can speak to `endpoint`; why not, if it cannot.
pub fn check_endpoint(endpoint: &str) -> std::result::Result<(), String> {
    match ENDPOINT_SCHEMES.iter().find(|s| endpoint.starts_with(*s)) {
        Some(scheme) if endpoint.len() > scheme.len() => Ok(()),
        Some(_) => Err(format!("endpoint `{endpoint}` names no socket or address")),
        None => Err(format!(
            "endpoint `{endpoint}`: cachet speaks only {}",
            ENDPOINT_SCHEMES.join(", ")
        )),
    }
}

impl Inventory {
    /// The inventory `CACHET_INVENTORY` names, else `/run/cachet/inventory.toml`, else one host
    /// `a` at `DOCKER_HOST`. `probe` answers what a CLI has (buildx, a built-in BuildKit client)
    /// when the inventory does not say (`engine::load_inventory` passes the engine module's
    /// probe; this module runs nothing).
    pub fn load_with(probe: CliProbe) -> Result<Inventory> {
        let mut inventory = match std::env::var_os("CACHET_INVENTORY") {
            Some(path) => Inventory::parse_file(Path::new(&path))?,
            None => match crate::engine::places::default_inventory() {
                Some(path) => Inventory::parse_file(&path)?,
                None => Inventory::from_docker_host()?,
            },
        };
        inventory.resolve_cli_facts(probe);
        Ok(inventory)
    }

    /// An inventory file, its CLI questions answered by `probe` where it leaves them open.
    pub fn from_file_with(path: &Path, probe: CliProbe) -> Result<Inventory> {
        let mut inventory = Inventory::parse_file(path)?;
        inventory.resolve_cli_facts(probe);
        Ok(inventory)
    }

    /// Answers, for the inventory's CLI and every docker host, whether its CLI has buildx and a
    /// built-in BuildKit client, where the file leaves it open.
    pub fn resolve_cli_facts(&mut self, probe: CliProbe) {
        let global = CliSetup {
            cli: PathBuf::from(self.cli()),
            docker_config: None,
        };
        let mut asked: BTreeMap<CliSetup, CliFacts> = BTreeMap::new();
        let mut facts =
            |setup: &CliSetup| *asked.entry(setup.clone()).or_insert_with(|| probe(setup));
        if self.buildx.is_none() {
            self.buildx = Some(facts(&global).buildx);
        }
        let global_buildx = self.buildx;
        let global_cli = self.cli();
        for host in self.hosts.values_mut() {
            if host.kind != HostKind::Docker {
                continue;
            }
            let own = host.cli.is_some() || host.docker_config.is_some();
            let setup = CliSetup {
                cli: PathBuf::from(host.cli.clone().unwrap_or_else(|| global_cli.clone())),
                docker_config: host.docker_config.clone(),
            };
            if host.buildx.is_none() {
                host.buildx = if own {
                    Some(facts(&setup).buildx)
                } else {
                    global_buildx
                };
            }
            if host.builtin_buildkit.is_none() {
                host.builtin_buildkit = Some(facts(&setup).builtin_buildkit);
            }
        }
    }

    /// An inventory file as written (what it leaves open stays open: `engines` reads an unknown
    /// buildx as no and an unknown built-in BuildKit client as yes, the 20.10 CLI's way).
    pub fn parse_file(path: &Path) -> Result<Inventory> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let inventory: Inventory = toml::from_str(&text).map_err(|e| Error::BadCase {
            path: PathBuf::from(path),
            line: e
                .span()
                .map(|s| text[..s.start].lines().count().max(1))
                .unwrap_or(1),
            reason: e.message().to_string(),
        })?;
        for (name, host) in &inventory.hosts {
            check_endpoint(&host.endpoint).map_err(|reason| Error::BadCase {
                path: PathBuf::from(path),
                line: text
                    .lines()
                    .position(|l| l.contains(&host.endpoint))
                    .map_or(1, |n| n + 1),
                reason: format!("host `{name}`: {reason}"),
            })?;
        }
        inventory
            .check_model_hosts()
            .map_err(|why| Error::BadInput(format!("{}: {why}", path.display())))?;
        Ok(inventory)
    }

    /// A model host's endpoint is `model:...` and its mutant a known rule id; other hosts have
    /// no mutant.
    pub fn check_model_hosts(&self) -> std::result::Result<(), String> {
        for (name, host) in &self.hosts {
            let model = host.kind == HostKind::Model;
            if model != host.endpoint.starts_with(MODEL_SCHEME) {
                return Err(format!(
                    "host `{name}`: kind = \"model\" goes with an endpoint `{MODEL_SCHEME}...`, and only it"
                ));
            }
            match &host.mutant {
                Some(_) if !model => {
                    return Err(format!("host `{name}`: only a model host has a `mutant`"))
                }
                Some(rule) => {
                    rule.parse::<models::RuleId>()
                        .map_err(|e| format!("host `{name}`: mutant: {e}"))?;
                }
                None => {}
            }
        }
        Ok(())
    }

    /// One host, `a`: the engine of `DOCKER_HOST`, else of the docker CLI's current context,
    /// else of the default socket.
    fn from_docker_host() -> Result<Inventory> {
        let (endpoint, from) = match std::env::var("DOCKER_HOST") {
            Ok(host) => (host, "DOCKER_HOST"),
            Err(_) => {
                match crate::engine::places::docker_context_endpoint(Path::new(
                    &std::env::var("CACHET_DOCKER_CLI").unwrap_or_else(|_| default_cli()),
                )) {
                    Some(host) => (host, "the current docker context"),
                    None => ("unix:///var/run/docker.sock".to_string(), "the default"),
                }
            }
        };
        check_endpoint(&endpoint).map_err(|e| Error::BadInput(format!("{from}: {e}")))?;
        let mut hosts = BTreeMap::new();
        hosts.insert(
            "a".to_string(),
            Host {
                tls_dir: std::env::var_os("DOCKER_CERT_PATH")
                    .filter(|_| std::env::var_os("DOCKER_TLS_VERIFY").is_some())
                    .map(PathBuf::from),
                ..Host::at(endpoint, HostKind::Docker)
            },
        );
        Ok(Inventory {
            registry: None,
            cli: None,
            buildx: None,
            hosts,
        })
    }

    pub fn cli(&self) -> String {
        std::env::var("CACHET_DOCKER_CLI")
            .ok()
            .or_else(|| self.cli.clone())
            .unwrap_or_else(default_cli)
    }

    /// Whether the inventory's CLI has the buildx plugin, as the inventory says or its probe
    /// answered at load; unknown counts as no.
    pub fn has_buildx(&self) -> bool {
        self.buildx.unwrap_or(false)
    }

    /// The doors a host offers (`doors::DOORS`): on a docker host the built-in BuildKit client
    /// where its CLI has one (before 23.0) and buildx where the plugin is there; a model host
    /// offers each profile's own door.
    fn doors(&self, host: &Host) -> Vec<DoorKind> {
        let buildx = match (&host.cli, &host.docker_config) {
            (None, None) => host.buildx.unwrap_or(self.has_buildx()),
            _ => host.buildx.unwrap_or(false),
        };
        let offered = |spec: &doors::DoorSpec| match host.kind {
            HostKind::Model => spec.kind.is_profile_door(),
            _ if spec.host != host.kind => false,
            _ => match spec.offered {
                Offered::Always => true,
                Offered::BuiltinBuildKit => host.builtin_buildkit.unwrap_or(true),
                Offered::BuildxPlugin => buildx,
            },
        };
        DOORS
            .iter()
            .filter(|d| offered(d))
            .map(|d| d.kind)
            .collect()
    }

    /// Every engine, in a stable order (hosts by name, then classic, classic-cli, buildkit,
    /// buildkit-cli, buildx; podman, podman-cli).
    pub fn engines(&self) -> Vec<Engine> {
        let mut out = Vec::new();
        for (host_name, host) in &self.hosts {
            for door in self.doors(host) {
                let kind = door.name();
                let profile = profile_for(kind, None).expect("a door's kind has a profile");
                let mut engine = Engine {
                    name: format!("{kind}@{host_name}"),
                    host: host_name.clone(),
                    endpoint: host.endpoint.clone(),
                    profile,
                    cli: host.cli.clone().unwrap_or_else(|| self.cli()),
                    docker_config: host.docker_config.clone(),
                    generation: host.generation.clone(),
                    image_store: host.image_store.clone(),
                    settings: host.settings(),
                    distro: host.distro.clone(),
                    tls_dir: host.tls_dir.clone(),
                    door,
                    mutant: host.mutant.clone(),
                    build_cache_gc: host.build_cache_gc,
                };
                engine.name = format!("{}@{host_name}", engine.kind());
                // A mutant model host offers the profiles whose table holds its rule.
                let holds = |rule: &String| engine.profile.rule(rule).is_some();
                if engine.mutant.as_ref().is_none_or(holds) {
                    out.push(engine);
                }
            }
        }
        out
    }

    pub fn engine(&self, name: &str) -> Result<Engine> {
        self.engines()
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::UnknownEngine(name.to_string()))
    }
}

#[cfg(test)]
mod tests;
