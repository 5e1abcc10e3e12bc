//! How much of real Dockerfiles the model understands (issue #16): parses every file under a
//! directory, predicts a first build of each on every profile of every engine generation, and
//! prints the share of instructions parsed into a supported body, per profile the share of files
//! predicted without an unsupported step (a frontend's refusal of a newer form is a prediction
//! too, counted apart), and what is still unsupported, by reason.
//!
//! `cargo run -p cachet-models --example vocabulary -- DIR` (files are read recursively; a file
//! counts when its name holds `dockerfile` or `containerfile`, any case, and is neither a
//! `.dockerignore` / `.containerignore` nor another language's source (`dockerfile.go`,
//! `Dockerfile.rego`, `dockerfile.md`); the context is synthesised: every COPY/ADD source named in
//! the file exists as a small file). A template (a name ending `.template` or `.tmpl`, or a line
//! holding a `{{` or `%%` placeholder, as docker-library's and jq templates have) is no
//! Dockerfile: no builder reads it as written, so it is counted apart and left out of every
//! figure. `VOCABULARY_VERBOSE=1` also lists every parse diagnostic and every unsupported step
//! with its file and the profiles it is unsupported on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use models::context::BuildContext;
use models::dockerfile::{parse, Body, Dockerfile};
use models::{predict, Build, EngineState, Entry, Outcome, Profile};

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: vocabulary DIR");
        std::process::exit(2)
    });
    // `VOCABULARY_VERBOSE=1`: also print every parse diagnostic with its file.
    let verbose = std::env::var_os("VOCABULARY_VERBOSE").is_some();
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files);
    files.sort();
    let profiles = Profile::all_generations();
    let mut tally = Tally::default();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if is_template_name(path) || is_template(&text) {
            tally.templates += 1;
            continue;
        }
        if verbose {
            for d in parse(&text).diagnostics {
                println!("{}: {d}", path.display());
            }
        }
        let unsupported = tally.file(&text, &profiles);
        if verbose {
            for (why, on) in unsupported {
                println!("{}: {why} [{}]", path.display(), on.join(" "));
            }
        }
    }
    tally.print(&profiles, files.len());
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if is_dockerfile_name(&path) {
            out.push(path);
        }
    }
}

/// Extensions of files whose name holds `dockerfile` but that are another language's source or
/// text: BuildKit's `dockerfile_test.go`, xx's `Dockerfile.rego` policy, docs.
const OTHER_LANGUAGES: &[&str] = &[
    ".go", ".rego", ".md", ".rs", ".py", ".sh", ".bats", ".ps1", ".json", ".yml", ".yaml", ".txt",
    ".toml", ".js", ".ts",
];

fn lower_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A name that says Dockerfile: `Dockerfile`, `Dockerfile.x`, `x.Dockerfile`, `Containerfile`,
/// but not the `Dockerfile.dockerignore` BuildKit reads beside one, nor another language's source.
fn is_dockerfile_name(path: &Path) -> bool {
    let name = lower_name(path);
    (name.contains("dockerfile") || name.contains("containerfile"))
        && !name.ends_with(".dockerignore")
        && !name.ends_with(".containerignore")
        && !OTHER_LANGUAGES.iter().any(|ext| name.ends_with(ext))
}

/// A name that says template: `Dockerfile.template`, `Dockerfile-alpine.template` (node's, filled
/// in with bash arrays), `Dockerfile.tmpl`.
fn is_template_name(path: &Path) -> bool {
    let name = lower_name(path);
    name.ends_with(".template") || name.ends_with(".tmpl")
}

/// A file a generator fills in: a line that opens with a `{{ … }}` directive, a FROM whose image
/// is a `{{ … }}` placeholder, or a `%%NAME%%` placeholder (shell's `${x%%y}` is no placeholder).
fn is_template(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let from = line
            .get(..5)
            .is_some_and(|k| k.eq_ignore_ascii_case("from "));
        line.starts_with("{{") || (from && line.contains("{{")) || has_percent_placeholder(line)
    })
}

fn has_percent_placeholder(line: &str) -> bool {
    line.split("%%")
        .skip(1)
        .step_by(2)
        .zip(line.split("%%").skip(2))
        .any(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
}

#[derive(Default)]
struct Tally {
    files: usize,
    /// Files with template placeholders, left out of every figure.
    templates: usize,
    instructions: usize,
    supported: usize,
    clean_parse: usize,
    /// Per profile name: files with no rejection and no unsupported step.
    predicted: BTreeMap<String, usize>,
    /// Per profile name: files with no unsupported step (refused by the frontend or predicted).
    no_unsupported: BTreeMap<String, usize>,
    predicted_everywhere: usize,
    parse_reasons: BTreeMap<String, usize>,
    /// Per reason: (files, steps), over every profile.
    step_reasons: BTreeMap<String, (usize, usize)>,
}

impl Tally {
    /// Tallies one file; returns its unsupported steps' reasons, each with the profiles it is
    /// unsupported on.
    fn file(&mut self, text: &str, profiles: &[Profile]) -> BTreeMap<String, Vec<String>> {
        self.files += 1;
        let parsed = parse(text);
        let mut clean = true;
        for instruction in parsed.dockerfile.instructions() {
            self.instructions += 1;
            match &instruction.body {
                Body::Unsupported { .. } => clean = false,
                _ => self.supported += 1,
            }
        }
        for d in &parsed.diagnostics {
            *self
                .parse_reasons
                .entry(generalise(&d.message))
                .or_default() += 1;
        }
        self.clean_parse += usize::from(clean);
        let build = Build {
            context: context_for(text, &parsed.dockerfile),
            options: Default::default(),
        };
        let mut everywhere = true;
        let mut seen = BTreeMap::new();
        let mut unsupported: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for profile in profiles {
            let prediction = predict(&EngineState::new(profile.clone()), &build);
            let mut ok = true;
            let mut known = true;
            if let Some(why) = &prediction.rejected {
                ok = false;
                known &= !why.contains("parse error") && !why.contains("no FROM");
                *seen
                    .entry(format!("rejected: {}", generalise(why)))
                    .or_insert(0) += 1;
            }
            for step in &prediction.steps {
                if let Outcome::Unsupported { why } = &step.outcome {
                    ok = false;
                    known = false;
                    *seen.entry(generalise(why)).or_insert(0) += 1;
                    let on = unsupported.entry(why.clone()).or_default();
                    if !on.contains(&profile.name()) {
                        on.push(profile.name());
                    }
                }
            }
            everywhere &= ok;
            *self.predicted.entry(profile.name()).or_default() += usize::from(ok);
            *self.no_unsupported.entry(profile.name()).or_default() += usize::from(known);
        }
        for (why, steps) in seen {
            let entry = self.step_reasons.entry(why).or_default();
            entry.0 += 1;
            entry.1 += steps;
        }
        self.predicted_everywhere += usize::from(everywhere);
        unsupported
    }

    fn print(&self, profiles: &[Profile], found: usize) {
        let pct = |n: usize, d: usize| 100.0 * n as f64 / d.max(1) as f64;
        println!(
            "files read: {} (of {found} found; {} templates set apart)",
            self.files, self.templates
        );
        println!(
            "instructions parsed into a supported body: {}/{} ({:.1}%)",
            self.supported,
            self.instructions,
            pct(self.supported, self.instructions)
        );
        println!(
            "files with nothing unsupported in the parse: {}/{} ({:.1}%)",
            self.clean_parse,
            self.files,
            pct(self.clean_parse, self.files)
        );
        for p in profiles {
            let n = self.predicted.get(&p.name()).copied().unwrap_or(0);
            let k = self.no_unsupported.get(&p.name()).copied().unwrap_or(0);
            println!(
                "{:>20}: built and predicted {n}/{} ({:.1}%); no unsupported step (a refusal of a newer form counted as predicted) {k}/{} ({:.1}%)",
                p.name(),
                self.files,
                pct(n, self.files),
                self.files,
                pct(k, self.files)
            );
        }
        println!(
            "files predicted without a rejection or unsupported step on every profile: {}/{} ({:.1}%)",
            self.predicted_everywhere,
            self.files,
            pct(self.predicted_everywhere, self.files)
        );
        println!("\nparse diagnostics by reason (instructions):");
        let mut reasons: Vec<_> = self.parse_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (why, n) in reasons {
            println!("  {n:5}  {why}");
        }
        println!("\nrejections and unsupported steps by reason (files, steps over all profiles):");
        let mut reasons: Vec<_> = self.step_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (why, (files, steps)) in reasons {
            println!("  {files:4} files {steps:5} steps  {why}");
        }
    }
}

/// A reason without its particulars: every `` `quoted` `` part becomes `` `…` ``, and a parse
/// error's line number goes.
fn generalise(why: &str) -> String {
    // The paths of COPY --from go too (`put … there`).
    let mut out = String::new();
    let mut quoted = false;
    for c in why.chars() {
        if c == '`' {
            if !quoted {
                out.push_str("`…`");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    if let (Some(put), Some(there)) = (out.find(" put "), out.find(" there;")) {
        out.replace_range(put + 5..there, "…");
    }
    match out.split_once("line ") {
        Some((head, tail)) if tail.starts_with(|c: char| c.is_ascii_digit()) => {
            let rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}line N{rest}")
        }
        _ => out,
    }
}

/// The Dockerfile and one small file for every path a COPY or ADD from the context names (a
/// glob's `*` and `?` filled in), so that sources exist and the steps after them are reached.
fn context_for(text: &str, dockerfile: &Dockerfile) -> BuildContext {
    let mut context = BuildContext::new();
    for instruction in dockerfile.instructions() {
        let (Body::Copy(copy) | Body::Add(copy)) = &instruction.body else {
            continue;
        };
        if copy.from.is_some() {
            continue;
        }
        for source in &copy.sources {
            let path: String = source
                .trim_start_matches("./")
                .trim_start_matches('/')
                .replace(['*', '?'], "x");
            let path = path.trim_end_matches('/');
            if path.is_empty() || path == "." || path.contains("://") || path.contains('[') {
                continue;
            }
            let _ = context.insert(path, Entry::file(format!("{path}\n")));
        }
    }
    context.set_dockerfile_text(text);
    context
}
