//! The `cachet` command line: parsing, then one function per subcommand.

mod args;

use crate::error::{Result, EXIT_BUILD_FAILS, EXIT_NONCONFORMANCE, EXIT_OK};

pub use args::*;

/// Runs the command; returns the process exit code.
pub fn main_with(cli: Cli) -> Result<i32> {
    crate::engine::check_environment()?;
    match cli.command {
        Command::Engines => engines(),
        Command::Run(args) => run(args),
        Command::Report(ReportCommand::Merge(args)) => report_merge(args),
        Command::Report(ReportCommand::Diff(args)) => report_diff(args),
        Command::Report(ReportCommand::Trend(args)) => report_trend(args),
        Command::Pins(args) => pins(args),
        Command::Replay(args) => replay(args),
        Command::Clean(args) => clean(args),
        Command::Mutants(args) => mutants(args),
        Command::Snapshot(args) => snapshot(args),
        Command::Explain(args) => explain(args),
    }
}

/// One line per engine: name, generation (the host's label), profile, daemon version, CLI and
/// plugin versions (CLI doors), up or DOWN, endpoint and distribution.
fn engines() -> Result<i32> {
    let inventory = crate::engine::load_inventory()?;
    let mut rows = vec![[
        "ENGINE",
        "GENERATION",
        "PROFILE",
        "DAEMON",
        "CLIENTS",
        "STATE",
        "ENDPOINT",
    ]
    .map(String::from)];
    let mut troubles = Vec::new();
    for engine in inventory.engines() {
        let (row, trouble) = engine_row(&engine);
        rows.push(row);
        if let Some(e) = trouble {
            troubles.push((engine.name.clone(), e));
        }
    }
    print!("{}", columns(&rows));
    for (name, e) in &troubles {
        eprintln!("{name}: {e}");
    }
    Ok(if troubles.is_empty() { EXIT_OK } else { 3 })
}

/// One line of `cachet engines`, and why the engine does not answer, if it does not.
fn engine_row(
    engine: &crate::engine::inventory::Engine,
) -> ([String; 7], Option<crate::error::Error>) {
    let tls = if engine.tls_dir.is_some() {
        " (TLS)"
    } else {
        ""
    };
    let distro = engine
        .distro
        .as_deref()
        .map(|d| format!(" [{d}]"))
        .unwrap_or_default();
    let (versions, trouble) = match crate::engine::versions(engine) {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(e)),
    };
    let daemon = versions
        .as_ref()
        .map_or("-".to_string(), |v| v.daemon.clone());
    let profile = versions.as_ref().map_or(engine.profile.clone(), |v| {
        engine.with_reported_version(&v.daemon).profile
    });
    let clients = versions.as_ref().map_or(String::new(), |v| {
        let mut words = Vec::new();
        if let Some(cli) = &v.cli {
            words.push(format!("cli {cli}"));
        }
        if let Some(plugin) = &v.buildx {
            words.push(format!("buildx {plugin}"));
        }
        words.join("  ")
    });
    let generation = match &engine.image_store {
        Some(store) => format!("{}/{store}", engine.generation_label()),
        None => engine.generation_label().to_string(),
    };
    let state = if trouble.is_none() { "up" } else { "DOWN" };
    let row = [
        engine.name.clone(),
        generation,
        profile.name(),
        daemon,
        clients,
        state.to_string(),
        format!("{}{tls}{distro}", engine.endpoint),
    ];
    (row, trouble)
}

/// Rows as left-aligned columns, each as wide as its widest cell, two spaces apart.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn run(args: RunArgs) -> Result<i32> {
    let RunArgs {
        engines,
        scenarios,
        seed,
        out,
        jobs,
        mutant,
        shrink_budget,
        known,
        fresh_check,
        label,
    } = args;
    let known = known.map_or(
        crate::corpus::known::Catalogue::BuiltIn,
        crate::corpus::known::Catalogue::File,
    );
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let options = crate::run::RunOptions {
        engines,
        scenarios,
        seed,
        out: out.clone(),
        jobs,
        mutant,
        shrink_budget,
        known,
        fresh_check,
        label,
        shadows: Vec::new(),
    };
    let report = crate::run::run(&options)?;
    let s = &report.summary;
    for line in crate::run::per_engine_lines(&report) {
        println!("{line}");
    }
    println!(
                "seed {seed}: {} scenarios, {} builds, {} confirmed discrepancies, {} known divergences, {} unconfirmed, {} indeterminate, {} lost; reports in {}",
                s.scenarios,
                s.builds,
                s.discrepancies,
                s.known,
                s.unconfirmed,
                s.indeterminate,
                s.lost,
                out.display()
            );
    for line in crate::report::closing::lines(&report, &out) {
        println!("{line}");
    }
    for (engine, why) in &report.aborted {
        eprintln!("error: {engine} stopped early (its finished scenarios are reported): {why}");
    }
    Ok(crate::run::exit_code(&report))
}

fn report_merge(MergeArgs { runs, out }: MergeArgs) -> Result<i32> {
    crate::run::prepare_out(&out)?;
    let loaded = runs
        .iter()
        .map(|r| crate::report::compare::load_run(r))
        .collect::<Result<Vec<_>>>()?;
    let mut merged = crate::report::compare::merge(&loaded);
    merged.paths_relative_to(&out);
    let write = |name: &str, text: String| {
        std::fs::create_dir_all(&out)
            .and_then(|()| std::fs::write(out.join(name), text))
            .map_err(|source| crate::error::Error::Write {
                path: out.join(name),
                source,
            })
    };
    let json = serde_json::to_string_pretty(&merged)
        .map_err(|e| crate::error::Error::Harness(e.to_string()))?;
    write("merged.json", json)?;
    let md = crate::report::compare::matrix_markdown(
        &merged,
        &format!("cachet: {} runs merged", loaded.len()),
    );
    write("merged.md", md.clone())?;
    write(
        "merged.html",
        crate::report::compare::matrix_html(
            &merged,
            &format!("cachet: {} runs merged", loaded.len()),
        ),
    )?;
    let cases = crate::report::buckets::cases_by_rule(&merged.buckets);
    write("rules.html", crate::report::rules_page::html(&cases))?;
    print!("{md}");
    Ok(EXIT_OK)
}

fn report_diff(DiffArgs { old, new, pair }: DiffArgs) -> Result<i32> {
    use crate::report::step_changes::{step_changes, Pairing};
    let (old_report, old_file) = crate::report::schema::load(&old)?;
    let (new_report, new_file) = crate::report::schema::load(&new)?;
    let pairing = match pair {
        PairArg::Auto => Pairing::for_runs(&old_report, &new_report),
        PairArg::Name => Pairing::Name,
        PairArg::Kind => Pairing::Kind,
    };
    let (mut old_m, mut new_m) = (
        crate::report::compare::RunMatrix::of(&old_report, old_file),
        crate::report::compare::RunMatrix::of(&new_report, new_file),
    );
    if pairing == Pairing::Kind {
        (old_m, new_m) = (old_m.by_kind(), new_m.by_kind());
    }
    let mut d = crate::report::compare::diff(&old_m, &new_m);
    d.steps = Some((pairing, step_changes(&old_report, &new_report, pairing)));
    print!("{}", crate::report::compare::diff_markdown(&d));
    Ok(if d.is_empty() {
        EXIT_OK
    } else {
        EXIT_NONCONFORMANCE
    })
}

fn report_trend(TrendArgs { root, out }: TrendArgs) -> Result<i32> {
    crate::run::prepare_out(&out)?;
    let trend = crate::report::trend::trend(&root, &out)?;
    let write = |name: &str, text: String| {
        std::fs::write(out.join(name), text).map_err(|source| crate::error::Error::Write {
            path: out.join(name),
            source,
        })
    };
    let json = serde_json::to_string_pretty(&trend)
        .map_err(|e| crate::error::Error::Harness(e.to_string()))?;
    write("trend.json", json)?;
    write("trend.html", crate::report::trend::html(&trend))?;
    let last = trend
        .nights
        .last()
        .map(|n| n.buckets.as_slice())
        .unwrap_or_default();
    let cases = crate::report::buckets::cases_by_rule(last);
    write("rules.html", crate::report::rules_page::html(&cases))?;
    let changes = crate::report::trend::changes_markdown(&trend);
    write("changes.md", changes.clone())?;
    print!("{changes}");
    Ok(EXIT_OK)
}

fn pins(PinsArgs { files }: PinsArgs) -> Result<i32> {
    for file in files {
        let case = crate::corpus::case_file::load_case(&file)?;
        let pins = crate::corpus::case_file::pins_for(&case.scenario)
            .map_err(|e| crate::error::Error::BadInput(format!("{}: {e}", file.display())))?;
        println!("# {}", file.display());
        for (n, pin) in pins.iter().enumerate() {
            println!("# build {}", n + 1);
            println!("{}", crate::corpus::case_file::pin_line(pin));
        }
    }
    Ok(EXIT_OK)
}

fn clean(CleanArgs { build_cache }: CleanArgs) -> Result<i32> {
    let inventory = crate::engine::load_inventory()?;
    let summary = crate::engine::clean::clean(&inventory, build_cache)?;
    for (endpoint, images, containers, records) in &summary.endpoints {
        println!(
            "{endpoint}: removed {images} images, {containers} containers{}",
            if build_cache {
                format!(", {records} build-cache records")
            } else {
                String::new()
            }
        );
    }
    for endpoint in &summary.busy {
        println!("{endpoint}: skipped, another cachet run is using it");
    }
    if summary.busy.is_empty() {
        println!(
            "registry: removed {} pushed tags; temp dir: removed {} context directories",
            summary.registry_tags, summary.temp_dirs
        );
    } else {
        println!("registry and temp dir left alone while another run is going");
    }
    for (endpoint, e) in &summary.unreachable {
        eprintln!("{endpoint}: {e}");
    }
    if let Some(e) = &summary.registry_error {
        eprintln!("registry: {e}");
    }
    Ok(
        if summary.unreachable.is_empty() && summary.registry_error.is_none() {
            EXIT_OK
        } else {
            crate::error::EXIT_UNAVAILABLE
        },
    )
}

fn replay(ReplayArgs { file, engine }: ReplayArgs) -> Result<i32> {
    let discrepancies = crate::run::replay(&file, &engine)?;
    Ok(if discrepancies == 0 {
        EXIT_OK
    } else {
        EXIT_NONCONFORMANCE
    })
}

fn mutants(
    MutantsArgs {
        profile,
        scenarios,
        seed,
        engine,
        sample,
        out,
    }: MutantsArgs,
) -> Result<i32> {
    if let (Some(engine), Some(sample)) = (engine, sample) {
        let options = crate::run::mutants::KillOptions {
            engine,
            sample,
            scenarios,
            seed,
            out,
            known: crate::corpus::known::Catalogue::BuiltIn,
        };
        let kills = crate::run::mutants::kills_on(&crate::engine::load_inventory()?, &options)?;
        print!("{}", crate::run::mutants::render_kills(&kills));
        for (engine, why) in &kills.report.aborted {
            eprintln!("error: {engine} stopped early (its finished scenarios are counted): {why}");
        }
        return Ok(crate::run::exit_code(&kills.report));
    }
    let profiles = match profile {
        None => models::Profile::all_generations(),
        Some(name) => vec![crate::explain::profile_named(&name)?],
    };
    let generated = crate::generate::generate_scenarios(seed, scenarios);
    let reaches = crate::run::mutants::reach_all(&profiles, &generated);
    print!("{}", crate::run::mutants::render(&reaches, scenarios));
    let coverage = crate::run::mutants::coverage(&profiles, &generated);
    print!(
        "\n{}",
        crate::run::mutants::render_coverage(&coverage, seed, scenarios)
    );
    let failures = crate::run::mutants::failures(&profiles, &generated);
    print!("\n{}", crate::run::mutants::render_failures(&failures));
    Ok(EXIT_OK)
}

/// `--build-arg` words as `docker build` takes them: `K=V`, or `K` with its value from the
/// environment (left out when the environment has none).
fn parse_build_args(words: &[String]) -> Result<std::collections::BTreeMap<String, String>> {
    let mut args = std::collections::BTreeMap::new();
    for word in words {
        match word.split_once('=') {
            Some(("", _)) => {
                return Err(crate::error::Error::BadInput(format!(
                    "--build-arg `{word}` has no name"
                )))
            }
            Some((k, v)) => {
                args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(word) {
                    args.insert(word.clone(), v);
                }
            }
        }
    }
    Ok(args)
}

fn snapshot(args: SnapshotArgs) -> Result<i32> {
    let request = crate::explain::snapshot::Request {
        dir: args.dir,
        dockerfile: args.file,
        build_args: parse_build_args(&args.build_args)?,
        target: args.target,
    };
    let snapshot = crate::explain::snapshot::take(&request)?;
    crate::explain::snapshot::save(&snapshot, &args.out)?;
    println!(
        "{}: {} entries, Dockerfile `{}`, {} build args; written to {}",
        snapshot.dir,
        snapshot.entries.len(),
        snapshot.dockerfile.path,
        snapshot.build_args.len(),
        args.out.display()
    );
    for note in &snapshot.not_represented {
        eprintln!("note: {note}");
    }
    Ok(EXIT_OK)
}

fn explain(args: ExplainArgs) -> Result<i32> {
    let before = crate::explain::snapshot::load(&args.since)?;
    let profiles = if args.engines.is_empty() {
        crate::explain::default_profiles()
    } else {
        args.engines
            .iter()
            .map(|name| crate::explain::profile_named(name))
            .collect::<Result<Vec<_>>>()?
    };
    // Each `--build-arg` overrides the snapshot's value of its key; the others stay.
    let mut build_args = before.build_args.clone();
    build_args.extend(parse_build_args(&args.build_args)?);
    let mut now =
        crate::explain::snapshot::take_again(&args.dir, &before, build_args, &args.since)?;
    if args.target.is_some() {
        now.target = args.target;
    }
    let catalogue = match &args.known {
        Some(path) => crate::corpus::known::Catalogue::File(path.clone()),
        None => crate::corpus::known::Catalogue::BuiltIn,
    }
    .load()?;
    let targets: Vec<_> = profiles
        .into_iter()
        .map(crate::explain::Target::of_profile)
        .collect();
    let explanation = crate::explain::explain(&before, &now, &targets, &catalogue);
    if args.json {
        let json = serde_json::to_string_pretty(&explanation)
            .map_err(|e| crate::error::Error::Harness(e.to_string()))?;
        println!("{json}");
    } else if args.markdown {
        print!(
            "{}",
            crate::explain::render_markdown(&explanation, args.all)
        );
    } else {
        print!("{}", crate::explain::render_text(&explanation, args.all));
    }
    // The build fails on a profile asked for: the frontend refuses the Dockerfile or options.
    if explanation.profiles.iter().any(|p| p.rejected.is_some()) {
        return Ok(EXIT_BUILD_FAILS);
    }
    Ok(EXIT_OK)
}
