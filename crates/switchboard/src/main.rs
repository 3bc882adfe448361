//! `switchboard`: the command-line entry point. See `switchboard --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    switchboard::cli::run(switchboard::cli::Cli::parse())
}
