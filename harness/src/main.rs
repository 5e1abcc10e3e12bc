//! The `cachet` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;

fn main() {
    let cli = harness::cli::Cli::parse();
    let code = match harness::cli::main_with(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
