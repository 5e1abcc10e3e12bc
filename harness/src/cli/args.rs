//! The command line's options: clap's `Parser`, `Subcommand` and one `Args` struct per subcommand.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "cachet",
    version,
    about = "Checks real container build engines against a reference model of Docker's build-cache rules."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the engines of the inventory, their versions, and whether they answer.
    Engines,
    /// Generate scenarios, run them on real engines and report confirmed discrepancies.
    Run(RunArgs),
    /// Merge or compare runs' reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print the model's pins (`expect = {...}`) for every build of case files, to paste or check.
    Pins(PinsArgs),
    /// Run one case file on one engine and print expected and observed per step.
    Replay(ReplayArgs),
    /// Remove what cachet made on every engine of the inventory and a killed run left behind:
    /// images and containers from cachet's base, pushed `cachet-*` tags, context directories.
    /// Endpoints another cachet run is using are skipped.
    Clean(CleanArgs),
    /// Engine-free generator reach: for each exercised rule's mutant, the first generated
    /// scenario whose predictions differ from the reference's; then the input coverage (each
    /// change kind × entry type and the rules it reached) and the share of builds predicted to
    /// fail. With `--engine E --sample K`:
    /// K of E's mutants, and after how many scenarios a real run on E catches each.
    Mutants(MutantsArgs),
    /// Record a directory's build input as the model sees it (digests, not contents), without
    /// building: what `cachet explain --since` compares with.
    Snapshot(SnapshotArgs),
    /// What the next build of a directory reuses from the snapshot's build, and why, per step
    /// and profile, with no engine.
    Explain(ExplainArgs),
}

#[derive(Args, Debug)]
pub struct SnapshotArgs {
    /// The build context.
    pub dir: PathBuf,
    /// The Dockerfile (default `DIR/Dockerfile`), relative to the current directory.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// `K=V` (or `K`, taken from the environment), as `docker build` takes them.
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage the build stops at, as `docker build --target`; default: the last.
    #[arg(long)]
    pub target: Option<String>,
    /// Where to write the snapshot (JSON).
    #[arg(short = 'o', long = "out")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The build context the snapshot was taken of.
    pub dir: PathBuf,
    /// The snapshot of the earlier build (`cachet snapshot`).
    #[arg(long)]
    pub since: PathBuf,
    /// Profiles to explain for (`buildkit-cli`, `buildkit:28`, `podman-cli:5.8`, `classic`);
    /// default: the CLI profile of each builder's newest generation. (`--engine` is the old
    /// spelling.)
    #[arg(long = "profile", alias = "engine")]
    pub engines: Vec<String>,
    /// A build arg of the next build (`K=V`, or `K` from the environment), over the snapshot's
    /// (the others keep their values).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage the next build stops at (`--target`); default: the snapshot's.
    #[arg(long)]
    pub target: Option<String>,
    /// Every step, the cached ones too (by default only those that are not cached are listed).
    #[arg(long)]
    pub all: bool,
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    #[arg(long)]
    pub markdown: bool,
    /// Known-divergence catalogue for warnings; default: the one cachet was built with.
    #[arg(long)]
    pub known: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MutantsArgs {
    /// One profile (`buildkit-cli`, `podman:5.8`); default: every profile of every generation.
    #[arg(long, conflicts_with = "engine")]
    pub profile: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub scenarios: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Real kills on this inventory engine (`buildkit@a`): the seed's scenarios run once on it,
    /// watching `--sample` of its profile's mutants.
    #[arg(long, requires = "sample")]
    pub engine: Option<String>,
    /// How many mutants `--engine` samples (those the model alone distinguishes first).
    #[arg(long, requires = "engine")]
    pub sample: Option<usize>,
    /// Where `--engine`'s run writes its reports (the reference's own findings).
    #[arg(long, default_value = "out/mutants")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Engines to run on (`classic@a`, `buildkit-cli@a`, ...); default: every engine on host a.
    #[arg(long = "engine")]
    pub engines: Vec<String>,
    #[arg(long, default_value_t = 5)]
    pub scenarios: usize,
    /// Seed for the generator; printed so a run can be replayed.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, default_value = "out/run")]
    pub out: PathBuf,
    /// Engines run in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Switch this rule off in the model (a mutant), to measure how fast runs catch it.
    #[arg(long)]
    pub mutant: Option<String>,
    /// Candidate scenarios a shrink may run.
    #[arg(long, default_value_t = 60)]
    pub shrink_budget: usize,
    /// Known-divergence catalogue replacing the built-in one (`cases/known/catalogue.toml` as
    /// cachet was built); an empty file reports every confirmed discrepancy as new.
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// Second oracle: compare each image with cache hits against a fresh --no-cache build.
    #[arg(long)]
    pub fresh_check: bool,
    /// Names this machine in merged reports; default: the inventory's `distro` for host a.
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Args, Debug)]
pub struct PinsArgs {
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub engine: String,
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Also prune every build-cache record on Docker engines (records carry no labels: use
    /// this only on engines cachet owns, as `ci/engines up` starts them).
    #[arg(long)]
    pub build_cache: bool,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Merge runs (their report.json or output directories) into one rule × engine matrix.
    Merge(MergeArgs),
    /// What changed from OLD to NEW, rule by rule; exit 1 if anything did.
    Diff(DiffArgs),
    /// Buckets and scenarios per night, per engine and generation, of the nights under ROOT
    /// (ROOT/LABEL/YYYY-MM-DD/report.json, as ci/nightly lays them out), and what the last night
    /// has that the one before had not.
    Trend(TrendArgs),
}

#[derive(Args, Debug)]
pub struct TrendArgs {
    pub root: PathBuf,
    /// Directory for trend.html, trend.json, changes.md and rules.html.
    #[arg(long, default_value = "out/trend")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Directory for merged.json, merged.md and merged.html.
    #[arg(long, default_value = "out/merged")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    /// How engines of the two runs are paired: by full name (`classic@a`, an upgrade in place),
    /// by kind (`classic`, one host per generation), or `auto` (by kind when no name is shared).
    #[arg(long, value_enum, default_value_t = PairArg::Auto)]
    pub pair: PairArg,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairArg {
    Auto,
    Name,
    Kind,
}
