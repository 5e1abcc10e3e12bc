//! `cachet snapshot` + `cachet explain` on a generated tree of 10,000 files (100 directories of
//! 100 small files, a `.dockerignore` excluding a tenth of them, a Dockerfile copying the
//! requirements and then the sources): the snapshot (written and read back), one file edited, the second walk and the
//! explanation for the default profiles (one per builder, newest generation). Prints each time
//! and the total (target <= 2 s). Engine-free. Run: `cargo bench -p cachet --bench explain`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use cachet::explain::snapshot::{take, take_again, Request};
use cachet::explain::{default_profiles, explain, Target};

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;

fn generate(root: &Path) {
    std::fs::write(
        root.join("Dockerfile"),
        "FROM base\nWORKDIR /app\nCOPY requirements.txt .\nRUN echo deps\nARG V=0\n\
         COPY src/ src/\nRUN echo build $V\n",
    )
    .unwrap();
    std::fs::write(root.join(".dockerignore"), "src/d0*\n*.md\n").unwrap();
    std::fs::write(root.join("requirements.txt"), "flask\n").unwrap();
    for d in 0..DIRS {
        let dir = root.join(format!("src/d{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("f{f:03}.py")), format!("x = {d} * {f}\n")).unwrap();
        }
    }
}

fn main() {
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path();
    generate(root);
    let catalogue = cachet::corpus::known::parse_catalogue(
        cachet::corpus::known::BUILT_IN,
        Path::new("cases/known/catalogue.toml"),
    )
    .unwrap();
    let targets: Vec<Target> = default_profiles()
        .into_iter()
        .map(Target::of_profile)
        .collect();

    let started = Instant::now();
    let before = take(&Request {
        dir: root.to_path_buf(),
        dockerfile: None,
        build_args: BTreeMap::from([("V".to_string(), "1".to_string())]),
        target: None,
    })
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("snapshot.json");
    cachet::explain::snapshot::save(&before, &file).unwrap();
    let before = cachet::explain::snapshot::load(&file).unwrap();
    let snapshot_time = started.elapsed().as_secs_f64();
    let json = before.to_json().unwrap();

    std::fs::write(root.join("src/d42/f042.py"), "x = 'edited'\n").unwrap();
    let started = Instant::now();
    let now = take_again(root, &before, before.build_args.clone(), Path::new("bench")).unwrap();
    let walk_time = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let explanation = explain(&before, &now, &targets, &catalogue);
    let explain_time = started.elapsed().as_secs_f64();

    // A checkout: every file of one directory touched (mtime only), so cached steps read
    // changed paths and explain looks for the rule that leaves the change out.
    for f in 0..FILES_PER_DIR {
        let path = root.join(format!("src/d42/f{f:03}.py"));
        let file = std::fs::File::options().append(true).open(&path).unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
    }
    std::fs::write(
        root.join("src/d42/f042.py"),
        format!("x = {} * {}\n", 42, 42),
    )
    .unwrap();
    let started = Instant::now();
    let touched = take_again(root, &before, before.build_args.clone(), Path::new("bench")).unwrap();
    let touched_explanation = explain(&before, &touched, &targets, &catalogue);
    let touched_time = started.elapsed().as_secs_f64();
    let held = touched_explanation.profiles[0]
        .steps
        .iter()
        .find(|s| s.step == 6)
        .map(|s| s.why.chars().take(90).collect::<String>())
        .unwrap_or_default();

    let rebuilt: Vec<String> = explanation
        .profiles
        .iter()
        .map(|p| {
            let first = p.steps.iter().find(|s| s.outcome == "rebuilt");
            format!(
                "{}: first rebuilt step {}",
                p.profile,
                first.map_or("none".to_string(), |s| format!("{} ({})", s.step, s.why))
            )
        })
        .collect();
    let total = snapshot_time + walk_time + explain_time;
    println!(
        "explain bench: {} files generated, {} entries recorded ({} bytes of JSON)",
        DIRS * FILES_PER_DIR,
        before.entries.len(),
        json.len()
    );
    println!("  snapshot (walk, write, read back) {snapshot_time:.3} s");
    println!("  walk again        {walk_time:.3} s");
    println!("  explain ({} profiles) {explain_time:.3} s", targets.len());
    println!("  total             {total:.3} s (target <= 2 s)");
    for line in rebuilt {
        println!("  {line}");
    }
    println!(
        "  after touching {FILES_PER_DIR} files instead (walk + explain): {touched_time:.3} s; step 6: {held}"
    );
}
