//! The `cachet` binary: set up logging (`RUST_LOG`), parse the command line, run it, map errors
//! to exit codes.

use clap::Parser;

fn main() {
    // Diagnostics for developers (`RUST_LOG=cachet=debug` shows every engine call with its door,
    // operation and duration), on stderr; progress and results are printed as before.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = cachet::cli::Cli::parse();
    let code = match cachet::cli::main_with(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
