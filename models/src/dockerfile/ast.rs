//! The parsed meaning of an instruction: `Body` and its parts (commands, heredocs, mounts, COPY
//! and ADD arguments, ARG declarations), and the frontend `Feature`s a body uses. Plain data, below
//! the parser (`body.rs`) and the instruction and file types (`dockerfile.rs`) that hold it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

/// A heredoc an instruction's line names (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`), with the body
/// read after the line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Heredoc {
    /// The terminator, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs of the body and the terminator are stripped.
    pub strip_tabs: bool,
    /// Unquoted name: variables in the body are expanded.
    pub expand: bool,
    /// The file descriptor before `<<`, if written.
    pub fd: Option<u32>,
    /// The body as written, every line with its `\n`, the terminator line excluded.
    pub content: String,
}

/// `RUN --mount=...`: the mount's type and its options, as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountKind,
    pub target: Option<String>,
    pub source: Option<String>,
    /// `from=`: an earlier stage or an image the mount reads (bind and cache mounts).
    pub from: Option<String>,
    /// `id=`: a cache, secret or ssh id.
    pub id: Option<String>,
    /// Every `key[=value]` of the flag in order, as written (the ones above included).
    pub options: Vec<(String, Option<String>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

impl MountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MountKind::Bind => "bind",
            MountKind::Cache => "cache",
            MountKind::Tmpfs => "tmpfs",
            MountKind::Secret => "secret",
            MountKind::Ssh => "ssh",
        }
    }
}

/// RUN's flags: `--mount` (repeatable), `--network`, `--security`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunFlags {
    pub mounts: Vec<Mount>,
    pub network: Option<String>,
    pub security: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CopyArgs {
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// `ADD --checksum=sha256:...`.
    pub checksum: Option<String>,
    /// `ADD --keep-git-dir[=true]`.
    pub keep_git_dir: bool,
    /// `COPY --exclude=PATTERN` (repeatable).
    pub exclude: Vec<String>,
    /// `COPY --parents[=true]`.
    pub parents: bool,
    /// Sources as written; a heredoc source is its `<<NAME` word, its body in `heredocs`.
    pub sources: Vec<String>,
    pub dest: String,
    pub heredocs: Vec<Heredoc>,
}

/// One name an ARG declares, with its default.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

/// Dockerfile forms that only some frontends accept (`profiles::Features` says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    CopyLink,
    Heredoc,
    AddChecksum,
    AddKeepGitDir,
    CopyExclude,
    CopyParents,
}

impl Feature {
    /// How the form is written, for messages.
    pub fn spelling(self) -> &'static str {
        match self {
            Feature::CopyLink => "--link",
            Feature::Heredoc => "heredoc",
            Feature::AddChecksum => "--checksum",
            Feature::AddKeepGitDir => "--keep-git-dir",
            Feature::CopyExclude => "--exclude",
            Feature::CopyParents => "--parents",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    From {
        image: String,
        stage: Option<String>,
        /// `--platform=...` as written.
        platform: Option<String>,
    },
    Run {
        command: Command,
        flags: RunFlags,
        heredocs: Vec<Heredoc>,
    },
    Copy(CopyArgs),
    Add(CopyArgs),
    Env {
        pairs: Vec<(String, String)>,
    },
    Arg {
        args: Vec<ArgDecl>,
    },
    Workdir {
        path: String,
    },
    User {
        user: String,
    },
    Label {
        pairs: Vec<(String, String)>,
    },
    Expose {
        ports: Vec<String>,
    },
    Cmd {
        command: Command,
    },
    Entrypoint {
        command: Command,
    },
    Volume {
        paths: Vec<String>,
    },
    /// `SHELL ["executable", "parameters"]` (JSON form only).
    Shell {
        shell: Vec<String>,
    },
    /// `HEALTHCHECK NONE` (`command: None`) or `HEALTHCHECK [--flag=value...] CMD command`.
    Healthcheck {
        flags: Vec<(String, String)>,
        command: Option<Command>,
    },
    Stopsignal {
        signal: String,
    },
    Maintainer {
        name: String,
    },
    /// `ONBUILD INSTRUCTION`: the trigger, with its keyword as written.
    Onbuild {
        keyword: String,
        trigger: Box<Body>,
    },
    Unsupported {
        why: String,
    },
}

impl Body {
    pub fn keyword(&self) -> &'static str {
        match self {
            Body::From { .. } => "FROM",
            Body::Run { .. } => "RUN",
            Body::Copy(_) => "COPY",
            Body::Add(_) => "ADD",
            Body::Env { .. } => "ENV",
            Body::Arg { .. } => "ARG",
            Body::Workdir { .. } => "WORKDIR",
            Body::User { .. } => "USER",
            Body::Label { .. } => "LABEL",
            Body::Expose { .. } => "EXPOSE",
            Body::Cmd { .. } => "CMD",
            Body::Entrypoint { .. } => "ENTRYPOINT",
            Body::Volume { .. } => "VOLUME",
            Body::Shell { .. } => "SHELL",
            Body::Healthcheck { .. } => "HEALTHCHECK",
            Body::Stopsignal { .. } => "STOPSIGNAL",
            Body::Maintainer { .. } => "MAINTAINER",
            Body::Onbuild { .. } => "ONBUILD",
            Body::Unsupported { .. } => "UNSUPPORTED",
        }
    }

    /// The forms in this instruction (an ONBUILD's trigger included) that not every frontend
    /// accepts, in a fixed order; `profiles::Features` says which generation takes which.
    pub fn features(&self) -> Vec<Feature> {
        let body = match self {
            Body::Onbuild { trigger, .. } => trigger.as_ref(),
            other => other,
        };
        let mut out = Vec::new();
        if !body.heredocs().is_empty() {
            out.push(Feature::Heredoc);
        }
        if let Body::Copy(c) | Body::Add(c) = body {
            let used = [
                (c.link, Feature::CopyLink),
                (c.checksum.is_some(), Feature::AddChecksum),
                (c.keep_git_dir, Feature::AddKeepGitDir),
                (!c.exclude.is_empty(), Feature::CopyExclude),
                (c.parents, Feature::CopyParents),
            ];
            out.extend(used.iter().filter(|(on, _)| *on).map(|(_, f)| *f));
        }
        out
    }

    /// `FROM image [AS stage]`, no flags.
    pub fn from_image(image: impl Into<String>, stage: Option<String>) -> Body {
        Body::From {
            image: image.into(),
            stage,
            platform: None,
        }
    }

    /// `RUN command`, no flags, no heredocs.
    pub fn run(command: Command) -> Body {
        Body::Run {
            command,
            flags: RunFlags::default(),
            heredocs: Vec::new(),
        }
    }

    /// `ARG name[=default]`.
    pub fn arg(name: impl Into<String>, default: Option<String>) -> Body {
        Body::Arg {
            args: vec![ArgDecl {
                name: name.into(),
                default,
            }],
        }
    }

    /// The heredocs the instruction reads (RUN, COPY and ADD).
    pub fn heredocs(&self) -> &[Heredoc] {
        match self {
            Body::Run { heredocs, .. } => heredocs,
            Body::Copy(c) | Body::Add(c) => &c.heredocs,
            _ => &[],
        }
    }
}
