//! The `sepkg` binary: parse the command line, run it, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sepkg::cli::Cli::parse();
    sepkg::cli::run(cli).into()
}
