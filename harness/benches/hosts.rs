//! Many hosts in parallel: `cachet run` on three hosts (classic@a, classic@b, podman@podman), each
//! alone, then all three at once with `--jobs 3`. Prints the wall times and the ratio of the
//! parallel run to the slowest host alone (target <= 1.2: a host delays nothing but itself).
//! Needs the engines of `ci/engines up`. Run: `cargo bench -p cachet --bench hosts`.

use std::time::Instant;

use cachet::run::{run, RunOptions};

const SCENARIOS: usize = 8;

fn timed(engines: &[&str], jobs: usize) -> f64 {
    let out = tempfile::tempdir().expect("temp dir");
    let options = RunOptions {
        shrink_budget: 0,
        known: cachet::corpus::known::Catalogue::BuiltIn,
        jobs,
        ..RunOptions::new(
            engines.iter().map(|e| e.to_string()).collect(),
            SCENARIOS,
            31,
            out.path().to_path_buf(),
        )
    };
    let started = Instant::now();
    let report = run(&options).expect("the run completes");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(report.aborted.is_empty(), "{:?}", report.aborted);
    elapsed
}

fn main() {
    let hosts = ["classic@a", "classic@b", "podman@podman"];
    println!("{SCENARIOS} scenarios per host, seed 31");
    let mut alone = Vec::new();
    for host in hosts {
        let t = timed(&[host], 1);
        println!("{host:<16} alone        {t:7.1} s");
        alone.push(t);
    }
    let slowest = alone.iter().cloned().fold(0.0, f64::max);
    let together = timed(&hosts, hosts.len());
    println!("all three      --jobs 3     {together:7.1} s");
    println!(
        "parallel / slowest alone = {:.2} (target <= 1.2); sequential would be {:.1} s",
        together / slowest,
        alone.iter().sum::<f64>()
    );
}
