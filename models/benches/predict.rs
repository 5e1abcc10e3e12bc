//! Prints step predictions per second on a 20-step, 200-file scenario, per profile.
//! Run: `cargo bench -p cachet-models --bench predict`. Target: at least 100,000 steps/s.

use std::time::{Duration, Instant};

use models::{apply, predict, Build, BuildContext, EngineState, Entry, Profile};

fn scenario() -> Build {
    let mut context = BuildContext::new();
    for i in 0..200 {
        let mut entry = Entry::file(format!("file {i} {}", "x".repeat(i % 64)));
        entry.mode = if i % 3 == 0 { 0o755 } else { 0o644 };
        context
            .insert(&format!("src/d{}/f{i}", i % 10), entry)
            .unwrap();
    }
    let mut lines = vec!["FROM base".to_string(), "ARG V".to_string()];
    for i in 0..18 {
        lines.push(match i % 6 {
            0 => format!("COPY src/d{} /app/d{}", i % 10, i % 10),
            1 => format!("RUN echo step {i}"),
            2 => format!("ENV E{i}=v{i}"),
            3 => "COPY . /all".to_string(),
            4 => format!("WORKDIR /w{i}"),
            _ => format!("LABEL l{i}=x"),
        });
    }
    context.set_dockerfile_text(&(lines.join("\n") + "\n"));
    let mut build = Build {
        context,
        ..Build::default()
    };
    build.options.build_args.insert("V".into(), "1".into());
    build
}

fn main() {
    let build = scenario();
    let mut changed = build.clone();
    changed.context.get_mut("src/d3/f13").unwrap().mode = 0o600;
    println!(
        "scenario: 20 instructions, {} context entries",
        build.context.entries.len()
    );
    for profile in Profile::all() {
        let mut state = EngineState::new(profile.clone());
        apply(&mut state, &build);
        let mut steps = 0usize;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(700) {
            for b in [&build, &changed] {
                steps += predict(&state, b).steps.len();
            }
        }
        let rate = steps as f64 / start.elapsed().as_secs_f64();
        println!(
            "{:<14} {:>12.0} step predictions/s  (target >= 100000: {})",
            profile.name(),
            rate,
            if rate >= 100_000.0 { "met" } else { "MISSED" }
        );
    }
}
