//! The engine inventory: hosts by name and the engines (`BUILDER@HOST`) derived from them.
//!
//! `ci/engines up` writes `/run/cachet/inventory.toml`; `CACHET_INVENTORY` points elsewhere. With
//! no inventory, cachet uses `DOCKER_HOST` (or the default socket) as host `a`. A host of kind
//! `model` (endpoint `model:NAME`) is no daemon: its engines answer from the model in process
//! (`engine::model`), optionally a mutant (`mutant = "RULE"`, that rule switched off).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use models::{Builder, Profile, Transport};
use serde::Deserialize;

use crate::error::{Error, Result};

pub const DEFAULT_INVENTORY: &str = "/run/cachet/inventory.toml";
pub const DEFAULT_CLI: &str = "/usr/bin/docker";

/// Every engine kind (`Engine::kind`): the profiles' names and `buildx`.
pub fn engine_kinds() -> Vec<String> {
    let mut kinds: Vec<String> = Profile::all().iter().map(Profile::name).collect();
    kinds.push("buildx".to_string());
    kinds
}

pub fn is_engine_kind(name: &str) -> bool {
    engine_kinds().iter().any(|k| k == name)
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    Docker,
    Podman,
    /// The model engine (`engine::model`): every profile, answered in process, no daemon.
    Model,
}

/// Where a model host's endpoints start: `model:` (one in-process engine), `model:NAME` (hosts
/// naming the same endpoint share one engine, as two names for one daemon would).
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
    /// For a `model` host: the rule its engines switch off (a mutant engine, which a reference
    /// run must catch). Its engines are the profiles whose table holds the rule.
    #[serde(default)]
    pub mutant: Option<String>,
}

impl Host {
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
    /// `classic@a`, `buildkit-cli@b`, `podman@podman`.
    pub name: String,
    pub host: String,
    pub endpoint: String,
    pub profile: Profile,
    pub cli: String,
    /// How the host presents contexts (umask, SELinux label, owner), applied at materialisation.
    pub settings: models::scenario::HostSettings,
    /// The host's distribution label, if the inventory gives one.
    pub distro: Option<String>,
    /// TLS material for a `tcp://` endpoint (`ca.pem`, `cert.pem`, `key.pem`).
    pub tls_dir: Option<PathBuf>,
    /// The CLI door goes through the buildx plugin (`docker buildx build`, what `docker build` is
    /// on current Docker) rather than the CLI's built-in BuildKit client. The model does not
    /// tell the two apart (same profile); the engine's behaviour is recorded under its own kind.
    pub buildx: bool,
    /// On a model host (`kind = "model"`): the rule the model engine switches off, if a mutant.
    /// The harness's own predictions never see it (they use `profile`).
    pub mutant: Option<String>,
}

impl Engine {
    /// What the engine is, without its host: the profile's name (`classic`, `buildkit-cli`,
    /// `podman`), or `buildx`. Recorded divergences and the known catalogue are keyed by it.
    pub fn kind(&self) -> String {
        if self.buildx {
            "buildx".to_string()
        } else {
            self.profile.name()
        }
    }
    pub fn builder(&self) -> Builder {
        self.profile.builder
    }
    pub fn transport(&self) -> Transport {
        self.profile.transport
    }
    /// Whether builds go to the model engine in process (a `model` host), not a daemon.
    pub fn is_model(&self) -> bool {
        self.endpoint.starts_with(MODEL_SCHEME)
    }
    /// The same builder and door on another host of the inventory (a model engine's on another
    /// model host, a daemon's on another daemon: the two share no registry).
    pub fn on_host(&self, inventory: &Inventory, host: &str) -> Option<Engine> {
        let name = format!("{}@{host}", self.kind());
        inventory
            .engines()
            .into_iter()
            .find(|e| e.name == name && e.is_model() == self.is_model())
    }
}

impl Inventory {
    /// The inventory `CACHET_INVENTORY` names, else `/run/cachet/inventory.toml`, else one host
    /// `a` at `DOCKER_HOST`. `buildx_probe` answers whether a CLI has the buildx plugin when the
    /// inventory does not say (`engine::load_inventory` passes the engine module's probe; this
    /// module runs nothing).
    pub fn load_with(buildx_probe: fn(&Path) -> bool) -> Result<Inventory> {
        let mut inventory = match std::env::var_os("CACHET_INVENTORY") {
            Some(path) => Inventory::parse_file(Path::new(&path))?,
            None if Path::new(DEFAULT_INVENTORY).exists() => {
                Inventory::parse_file(Path::new(DEFAULT_INVENTORY))?
            }
            None => Inventory::from_docker_host(),
        };
        inventory.resolve_buildx(buildx_probe);
        Ok(inventory)
    }

    /// An inventory file, its buildx question answered by `buildx_probe` if it leaves it open.
    pub fn from_file_with(path: &Path, buildx_probe: fn(&Path) -> bool) -> Result<Inventory> {
        let mut inventory = Inventory::parse_file(path)?;
        inventory.resolve_buildx(buildx_probe);
        Ok(inventory)
    }

    fn resolve_buildx(&mut self, buildx_probe: fn(&Path) -> bool) {
        if self.buildx.is_none() {
            self.buildx = Some(buildx_probe(Path::new(&self.cli())));
        }
    }

    /// An inventory file as written (`buildx` unset stays unset, which `engines` reads as no).
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

    fn from_docker_host() -> Inventory {
        let endpoint = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let mut hosts = BTreeMap::new();
        hosts.insert(
            "a".to_string(),
            Host {
                endpoint,
                kind: HostKind::Docker,
                distro: None,
                umask: None,
                selinux_label: None,
                uid: None,
                tls_dir: std::env::var_os("DOCKER_CERT_PATH")
                    .filter(|_| std::env::var_os("DOCKER_TLS_VERIFY").is_some())
                    .map(PathBuf::from),
                mutant: None,
            },
        );
        Inventory {
            registry: None,
            cli: None,
            buildx: None,
            hosts,
        }
    }

    pub fn cli(&self) -> String {
        std::env::var("CACHET_DOCKER_CLI")
            .ok()
            .or_else(|| self.cli.clone())
            .unwrap_or_else(|| DEFAULT_CLI.to_string())
    }

    /// Whether the CLI has the buildx plugin, as the inventory says or its probe answered at
    /// load; unknown counts as no.
    pub fn has_buildx(&self) -> bool {
        self.buildx.unwrap_or(false)
    }

    /// Every engine, in a stable order: docker hosts give four (five with the buildx plugin),
    /// podman hosts two, model hosts all six profiles (a mutant one those whose table holds its
    /// rule).
    pub fn engines(&self) -> Vec<Engine> {
        let buildx = self.has_buildx();
        let mut out = Vec::new();
        for (host_name, host) in &self.hosts {
            let builders: &[Builder] = match host.kind {
                HostKind::Docker => &[Builder::Classic, Builder::BuildKit],
                HostKind::Podman => &[Builder::Buildah],
                HostKind::Model => &[Builder::Classic, Builder::BuildKit, Builder::Buildah],
            };
            let mut doors: Vec<(Builder, Transport, bool)> = Vec::new();
            for builder in builders {
                for transport in [Transport::Api, Transport::Cli] {
                    doors.push((*builder, transport, false));
                }
            }
            if buildx && host.kind == HostKind::Docker {
                doors.push((Builder::BuildKit, Transport::Cli, true));
            }
            for (builder, transport, through_buildx) in doors {
                let mut engine = Engine {
                    name: String::new(),
                    host: host_name.clone(),
                    endpoint: host.endpoint.clone(),
                    profile: Profile::new(builder, transport),
                    cli: self.cli(),
                    settings: host.settings(),
                    distro: host.distro.clone(),
                    tls_dir: host.tls_dir.clone(),
                    buildx: through_buildx,
                    mutant: host.mutant.clone(),
                };
                engine.name = format!("{}@{host_name}", engine.kind());
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
