//! Nemesis, Jepsen-style: faults struck during a real `cachet run`, each costing only the
//! scenarios in flight. A daemon stopped (SIGSTOP) while a build runs a step, past short build
//! and call timeouts: the build is indeterminate ("did not finish"; steps reported before the stop
//! keep their verdicts, the scenario's later builds are not run), a cleanup call the stop catches
//! leaves its images for the run to remove once the engine answers, and the run goes on. A daemon
//! whose data-root sits on a small filesystem that fills up: what failed for want of disk is
//! indeterminate or lost ("out of disk"), never a discrepancy, and the run goes on once space is
//! freed. (`restart.rs` kills and restarts a daemon; `faults.rs` stops a second host and the
//! registry.) For each fault it asserts no false verdicts (the same seed without the fault
//! confirms the same), every touched scenario says why, complete reports, an exit code other than
//! 3, and nothing left behind; and prints per fault the scenarios completed, touched and lost,
//! the false verdicts and the seconds from the engine's return to the run's next build.
//! Needs the engines `ci/engines up` starts (as root); in CI a missing one fails the test.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cachet::check::Verdict;
use cachet::engine::inventory::{Engine, Inventory};
use cachet::report::schema::Report;
use cachet::run::{exit_code, run_on, RunOptions};

/// One fault at a time: both strike engines the other's run would feel.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The build timeout of this test binary (read once per process by the doors): a stopped daemon
/// outlasts it, an ordinary build of these scenarios never comes near it.
const BUILD_TIMEOUT_S: u64 = 20;

/// Any other call's timeout: a call the stop catches (not a build) fails after this long.
const CALL_TIMEOUT_S: u64 = 10;

fn setup() {
    // `RUST_LOG=cachet=debug` shows each engine call with its duration.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    std::env::set_var("CACHET_BUILD_TIMEOUT", BUILD_TIMEOUT_S.to_string());
    std::env::set_var("CACHET_CALL_TIMEOUT", CALL_TIMEOUT_S.to_string());
    std::env::set_var("CACHET_ENGINE_WAIT", "300");
}

/// The reasons a scenario's builds or steps were indeterminate, or that it was lost.
fn touched(report: &Report) -> BTreeMap<usize, Vec<String>> {
    report
        .results
        .iter()
        .filter_map(|r| {
            let mut why: Vec<String> = r.lost.iter().cloned().collect();
            // A build the fault caught whose steps had all been reported before it: its verdicts
            // stand, but its outcome and the scenario's later builds are unknown.
            why.extend(
                r.history
                    .builds
                    .iter()
                    .filter_map(|b| b.observation.indeterminate.clone()),
            );
            why.extend(
                r.history
                    .builds
                    .iter()
                    .flat_map(|b| &b.verdicts)
                    .filter_map(|v| match &v.verdict {
                        Verdict::Indeterminate { why } => Some(why.clone()),
                        _ => None,
                    }),
            );
            (!why.is_empty()).then_some((r.index, why))
        })
        .collect()
}

/// Everything a faulted run must show, checked against the calm run of the same seed; prints the
/// figures. Every touched scenario's reasons mention one of `causes`.
/// Returns the scenarios the fault touched.
fn assert_costs_only_what_it_touched(
    fault: &str,
    (calm, faulted): (&Report, &Report),
    count: usize,
    causes: &[&str],
    resumed: Duration,
    out: &Path,
) -> BTreeSet<usize> {
    let calm_touched = touched(calm);
    let touched = touched(faulted);
    let caused: BTreeMap<_, _> = touched
        .iter()
        // A scenario the calm run also had indeterminate steps in (a step after a failing one)
        // counts only if the fault changed what it says.
        .filter(|(i, why)| calm_touched.get(i) != Some(why))
        .collect();
    let lost = faulted.results.iter().filter(|r| r.lost.is_some()).count();
    let calm_confirmed = common::confirmed(calm);
    let false_verdicts = common::confirmed(faulted)
        .into_iter()
        .filter(|(i, found)| calm_confirmed.get(i) != Some(found))
        .count();
    eprintln!(
        "nemesis ({fault}): {} scenarios completed, {} touched by the fault, {lost} lost, \
         {false_verdicts} false verdicts, next build {:.1} s after the engine's return",
        count - lost,
        caused.len(),
        resumed.as_secs_f64()
    );
    assert_eq!(false_verdicts, 0, "{fault}: no false verdicts");
    assert!(faulted.aborted.is_empty(), "{:?}", faulted.aborted);
    assert_eq!(faulted.results.len(), count, "every scenario has a result");
    assert!(!caused.is_empty(), "{fault}: the fault touched a scenario");
    for (index, why) in &caused {
        assert!(
            why.iter().any(|w| causes.iter().any(|c| w.contains(c))),
            "{fault}: scenario {index} says why ({causes:?}): {why:?}"
        );
    }
    assert!(
        caused.len() < count,
        "{fault}: the run went on after it: {caused:?}"
    );
    assert_ne!(exit_code(faulted), 3, "{fault}: the engine came back");
    for file in ["report.json", "report.md", "index.html", "junit.xml"] {
        assert!(out.join(file).is_file(), "{fault}: {file} written");
    }
    caused.keys().map(|i| **i).collect()
}

/// Polls `check` every `every` until it holds, as long as the run goes on (`run_ended` says when
/// it stopped), for at most `limit`: how long that took. `what` names the awaited event.
fn poll_until(
    what: &str,
    (limit, every): (Duration, Duration),
    run_ended: impl Fn() -> bool,
    mut check: impl FnMut() -> bool,
) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        assert!(!run_ended(), "the run ended before {what}");
        if check() {
            return started.elapsed();
        }
        std::thread::sleep(every);
    }
    panic!("not within {limit:?}: {what}");
}

/// Waits until `engine` holds a cachet image it did not hold at `since` (the run's next
/// scenario loaded its base, or its next build finished): how long the run took to resume.
fn until_next_build(
    engine: &Engine,
    since: &BTreeSet<String>,
    limit: Duration,
    run_ended: impl Fn() -> bool,
) -> Duration {
    let what = format!("a new build on {}", engine.name);
    poll_until(
        &what,
        (limit, Duration::from_millis(250)),
        run_ended,
        || {
            cachet::engine::open(engine)
                .cachet_resources()
                .is_ok_and(|(images, _)| images.iter().any(|i| !since.contains(i)))
        },
    )
}

/// Polls `engine` until it holds more containers than `idle` (a RUN step's container: the
/// scenarios' builds are the only thing on it).
fn until_a_step_runs(engine: &Engine, idle: usize, limit: Duration, run_ended: impl Fn() -> bool) {
    let what = format!(
        "a step ran a container on {} (the nemesis struck)",
        engine.name
    );
    poll_until(&what, (limit, Duration::from_millis(10)), run_ended, || {
        cachet::engine::open(engine)
            .resource_counts()
            .is_ok_and(|(_, containers)| containers > idle)
    });
}

/// Every image and container on `engine`'s host, with tags, labels and age, to name a leak.
fn listing(engine: &Engine) -> String {
    let docker = |args: &[&str]| {
        Command::new("docker")
            .args(["-H", &engine.endpoint])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| format!("(docker: {e})"))
    };
    let images = docker(&["image", "ls", "-aq", "--no-trunc"]);
    let mut inspect = vec![
        "image",
        "inspect",
        "--format",
        "{{.Id}} {{.RepoTags}} created {{.Created}} labels {{.Config.Labels}} parent {{.Parent}}",
    ];
    inspect.extend(images.split_whitespace());
    let images = match images.trim().is_empty() {
        true => String::new(),
        false => docker(&inspect),
    };
    images
        + &docker(&[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Image}} {{.Command}} {{.Status}} {{.Labels}}",
        ])
}

fn cachet_images(engine: &Engine) -> BTreeSet<String> {
    cachet::engine::open(engine)
        .cachet_resources()
        .expect("the engine answers")
        .0
        .into_iter()
        .collect()
}

/// The tags of the salted base images on `engine` now (one per scenario in flight).
fn base_tags(engine: &Engine) -> Vec<String> {
    Command::new("docker")
        .args(["-H", &engine.endpoint, "images", "--format", "{{.Tag}}"])
        .arg(models::predict::from::BASE_REPOSITORY)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn signal(pid: &str, signal: &str) {
    let status = Command::new("kill")
        .args([signal, pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

pub fn a_stopped_daemon_costs_only_the_build_in_flight() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let Some(inventory) = common::inventory_or_skip() else {
        return;
    };
    if !common::host_b_started() {
        return;
    }
    let engine = inventory.engine("classic@b").expect("classic@b");
    let (seed, count) = (11, 8);
    let calm_out = tempfile::tempdir().expect("temp dir");
    let options = |out: &Path| RunOptions::new(vec![engine.name.clone()], count, seed, out.into());
    let calm = run_on(&inventory, &options(calm_out.path())).expect("the calm run");
    let before = cachet::engine::open(&engine)
        .resource_counts()
        .expect("host b answers");
    let pid = std::fs::read_to_string(common::DOCKERD_B_PID).expect("dockerd-b's pid");
    let pid = pid.trim();
    let out = tempfile::tempdir().expect("temp dir");
    let (report, resumed) = std::thread::scope(|scope| {
        let run = scope.spawn(|| run_on(&inventory, &options(out.path())));
        // The stop lands while a build runs a step (a container exists), so it catches a build
        // in flight: a stop between scenarios would only slow a cleanup down.
        until_a_step_runs(&engine, before.1, Duration::from_secs(120), || {
            run.is_finished()
        });
        signal(pid, "-STOP");
        // Past the build timeout, so the build in flight cannot finish in time.
        std::thread::sleep(Duration::from_secs(BUILD_TIMEOUT_S + 15));
        signal(pid, "-CONT");
        let since = cachet_images(&engine);
        let resumed = until_next_build(&engine, &since, Duration::from_secs(300), || {
            run.is_finished()
        });
        (run.join().expect("the run thread"), resumed)
    });
    let report = report.expect("the run ends normally");
    assert_costs_only_what_it_touched(
        "dockerd-b SIGSTOP",
        (&calm, &report),
        count,
        // A build the stop caught did not finish; any other call got no answer.
        &["did not finish", "stopped answering"],
        resumed,
        out.path(),
    );
    let after = cachet::engine::open(&engine)
        .resource_counts()
        .expect("host b answers");
    assert_eq!(
        after,
        before,
        "(images, containers) on host b: nothing leaked; it holds:\n{}",
        listing(&engine)
    );
}

/// A dockerd of this test's own whose data-root is a small tmpfs, stopped and unmounted on drop.
struct SmallDisk {
    mount: PathBuf,
    socket: PathBuf,
    daemon: Child,
}

const SMALL_DISK: &str = "/run/cachet/nemesis-disk";

impl SmallDisk {
    fn start() -> SmallDisk {
        let mount = PathBuf::from(SMALL_DISK);
        let exec_root = PathBuf::from("/run/cachet/nemesis-exec");
        let socket = PathBuf::from("/run/cachet/nemesis.sock");
        // What an earlier, killed run of this test left.
        let _ = Command::new("umount").arg(&mount).status();
        for dir in [&mount, &exec_root] {
            std::fs::create_dir_all(dir).expect("nemesis dirs");
        }
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=160m", "tmpfs"])
            .arg(&mount)
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "a tmpfs at {SMALL_DISK}");
        let log = std::fs::File::create(mount.join("dockerd.log")).expect("log file");
        let daemon = Command::new("dockerd")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(mount.join("data"))
            .arg("--exec-root")
            .arg(&exec_root)
            .arg("--pidfile")
            .arg(mount.join("dockerd.pid"))
            .args(["--containerd-namespace", "cachet-nemesis"])
            .args(["--containerd-plugins-namespace", "cachet-nemesis-plugins"])
            .args(["--bridge=none", "--iptables=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        SmallDisk {
            mount,
            socket,
            daemon,
        }
    }

    fn inventory(&self) -> Inventory {
        let file = self.mount.join("inventory.toml");
        std::fs::write(
            &file,
            format!(
                "cli = \"/usr/bin/docker\"\n[hosts.small]\nendpoint = \"unix://{}\"\nkind = \"docker\"\n",
                self.socket.display()
            ),
        )
        .expect("inventory written");
        cachet::engine::inventory_from_file(&file).expect("the inventory loads")
    }

    /// Fills the filesystem to the last block.
    fn fill(&self) {
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=1M"])
            .arg(format!("of={}", self.mount.join("filler").display()))
            .stderr(Stdio::null())
            .status();
    }

    fn free(&self) {
        std::fs::remove_file(self.mount.join("filler")).expect("the filler goes");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .status();
        let _ = self.daemon.wait();
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

fn answers_within(engine: &Engine, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cachet::engine::version(engine).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

pub fn a_full_data_root_costs_only_the_scenarios_it_failed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    // The inventory tells whether ci/engines ran; the daemon itself is this test's.
    if common::inventory_or_skip().is_none() {
        return;
    }
    if Command::new("dockerd").arg("--version").output().is_err() {
        assert!(
            !common::in_ci(),
            "no dockerd: ci/engines up installs docker.io"
        );
        eprintln!("skipping outside CI: no dockerd");
        return;
    }
    let disk = SmallDisk::start();
    let inventory = disk.inventory();
    let engine = inventory.engine("classic@small").expect("classic@small");
    assert!(
        answers_within(&engine, Duration::from_secs(60)),
        "the small-disk dockerd answers (log: {SMALL_DISK}/dockerd.log)"
    );
    // Enough scenarios that some are left once the disk is freed (4 s in, for 8 s).
    let (seed, count) = (11, 16);
    let options = |out: &Path| RunOptions::new(vec![engine.name.clone()], count, seed, out.into());
    let calm_out = tempfile::tempdir().expect("temp dir");
    let calm = run_on(&inventory, &options(calm_out.path())).expect("the calm run");
    let before = cachet::engine::open(&engine)
        .resource_counts()
        .expect("the small-disk dockerd answers");
    let out = tempfile::tempdir().expect("temp dir");
    let (report, resumed) = std::thread::scope(|scope| {
        let run = scope.spawn(|| run_on(&inventory, &options(out.path())));
        std::thread::sleep(Duration::from_secs(4));
        assert!(
            !run.is_finished(),
            "the run ended before the nemesis struck"
        );
        disk.fill();
        std::thread::sleep(Duration::from_secs(8));
        disk.free();
        let since = cachet_images(&engine);
        let resumed = until_next_build(&engine, &since, Duration::from_secs(300), || {
            run.is_finished()
        });
        (run.join().expect("the run thread"), resumed)
    });
    let report = report.expect("the run ends normally");
    assert_costs_only_what_it_touched(
        "data-root full",
        (&calm, &report),
        count,
        &["out of disk"],
        resumed,
        out.path(),
    );
    let after = cachet::engine::open(&engine)
        .resource_counts()
        .expect("the small-disk dockerd answers");
    assert_eq!(
        after,
        before,
        "(images, containers): nothing leaked; it holds:\n{}",
        listing(&engine)
    );
}

/// The registry `ci/engines up` started, killed now and started again, as it was (its command
/// line, its log, its pid file), when `back` runs or the guard drops, whichever comes first.
/// Started again at once: `ci/engines up` takes seconds, in which the run goes on losing what
/// needs the registry (CI: it lost every later scenario and ended before the registry's return).
struct RegistryDown {
    command: Vec<String>,
    address: String,
    back: bool,
}

pub const REGISTRY_PID: &str = "/run/cachet/registry.pid";
const REGISTRY_LOG: &str = "/var/log/cachet/registry.log";

impl RegistryDown {
    fn strike(address: &str) -> RegistryDown {
        let pid = std::fs::read_to_string(REGISTRY_PID).expect("the registry's pid");
        let pid = pid.trim();
        let command: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
            .expect("the registry's command line")
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert!(!command.is_empty(), "the registry's command line");
        signal(pid, "-KILL");
        RegistryDown {
            command,
            address: address.to_string(),
            back: false,
        }
    }

    // The registry outlives this test: `ci/engines down` stops it, by its pid file.
    #[allow(clippy::zombie_processes)]
    fn back(&mut self) {
        if std::mem::replace(&mut self.back, true) {
            return;
        }
        let log = |_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(REGISTRY_LOG)
                .expect("the registry's log")
        };
        // `setsid` execs the registry in a session of its own (as `ci/engines`' start_bg does):
        // the pid is the registry's, and `ci/engines down` stops it by the pid file.
        let child = Command::new("setsid")
            .args(&self.command)
            .stdin(Stdio::null())
            .stdout(log(()))
            .stderr(log(()))
            .spawn()
            .expect("the registry starts again");
        std::fs::write(REGISTRY_PID, format!("{}\n", child.id())).expect("the registry's pid file");
        let started = Instant::now();
        while cachet::engine::registry::registry_answers(&self.address).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the registry answers again within 30 s (log: {REGISTRY_LOG})"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RegistryDown {
    fn drop(&mut self) {
        self.back();
    }
}

pub fn a_registry_down_for_a_while_costs_only_the_scenarios_that_use_it_meanwhile() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    setup();
    let Some(mut inventory) = common::inventory_or_skip() else {
        return;
    };
    if !std::path::Path::new(REGISTRY_PID).exists() {
        assert!(
            !common::in_ci(),
            "no {REGISTRY_PID}: ci/engines up did not start the registry"
        );
        return;
    }
    // Host b is the only second host: cross-host scenarios push from one and import on the other.
    inventory.hosts.retain(|name, _| name == "a" || name == "b");
    let (a, b) = (
        inventory.engine("classic@a").expect("classic@a"),
        inventory.engine("classic@b").expect("classic@b"),
    );
    let address = inventory
        .registry
        .clone()
        .unwrap_or_else(|| "127.0.0.1:5000".into());
    let (seed, count) = (11, 12);
    // A scenario needs the registry when a build of it pushes or imports (`--cache-from`); one
    // whose later builds all stay on host a still pushes its first (CI: seed 11's fifth).
    let uses_registry: BTreeSet<usize> = cachet::generate::generate_scenarios(seed, count)
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.transitions
                .iter()
                .any(|t| t.build.options.push.is_some() || !t.build.options.cache_from.is_empty())
        })
        .map(|(i, _)| i)
        .collect();
    // Down from before the run until the scenario after the first that needs it has loaded its
    // base image (a lost scenario's base may come and go between two looks, so maybe one later):
    // the first is lost, maybe one or two after it, and a later one must find the registry back.
    let first = *uses_registry
        .first()
        .expect("seed 11 has a scenario that uses the registry");
    assert!(
        uses_registry.iter().any(|i| *i > first + 2),
        "seed 11 has a scenario that uses the registry after {}: {uses_registry:?}",
        first + 2
    );
    let options = |out: &Path| RunOptions::new(vec![a.name.clone()], count, seed, out.into());
    let calm_out = tempfile::tempdir().expect("temp dir");
    let calm = run_on(&inventory, &options(calm_out.path())).expect("the calm run");
    let counts = |e: &Engine| {
        cachet::engine::open(e)
            .resource_counts()
            .expect("it answers")
    };
    let before = (counts(&a), counts(&b));
    let out = tempfile::tempdir().expect("temp dir");
    let mut registry = RegistryDown::strike(&address);
    let (report, resumed) = std::thread::scope(|scope| {
        let run = scope.spawn(|| run_on(&inventory, &options(out.path())));
        let what = format!("scenario {}'s base image on {}", first + 2, a.name);
        let mut seen = BTreeSet::new();
        let every = (Duration::from_secs(300), Duration::from_millis(20));
        poll_until(
            &what,
            every,
            || run.is_finished(),
            || {
                seen.extend(base_tags(&a));
                seen.len() > first + 1
            },
        );
        let since = cachet_images(&a);
        registry.back();
        let resumed = until_next_build(&a, &since, Duration::from_secs(300), || run.is_finished());
        (run.join().expect("the run thread"), resumed)
    });
    let report = report.expect("the run ends normally");
    let touched = assert_costs_only_what_it_touched(
        "registry down",
        (&calm, &report),
        count,
        &["did not answer"],
        resumed,
        out.path(),
    );
    assert!(
        touched.is_subset(&uses_registry) && touched.contains(&first),
        "the first scenario that uses the registry, and maybe later ones, only: {touched:?} of \
         {uses_registry:?}"
    );
    let last_touched = touched.iter().max().copied().unwrap_or(0);
    assert!(
        report.results.iter().any(|r| r.index > last_touched
            && uses_registry.contains(&r.index)
            && r.lost.is_none()),
        "a scenario that uses the registry completed after its return ({uses_registry:?}, touched \
         {touched:?})"
    );
    assert_eq!(
        (counts(&a), counts(&b)),
        before,
        "nothing leaked on hosts a and b"
    );
}
