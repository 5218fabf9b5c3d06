//! Command-line front end: parses arguments, calls the library, prints.
//! Nothing here decides what to install or how; see `plan`, `exec`, `harness`.

mod args;
mod certify;
mod common;
mod images;
mod install;
mod manage;
mod lint;
mod output;
mod plan;
mod progress;
mod report;
mod reproduce;
mod validate;

use clap::Parser;

pub use args::{Cli, Command};

use crate::error::Result;
use crate::ExitCode;

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => ExitCode::Usage.code(),
            };
        }
    };
    let color = output::use_color(cli.color);
    match run(cli, color) {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e, color);
            e.exit_code().code()
        }
    }
}

fn run(cli: Cli, color: bool) -> Result<i32> {
    let code: ExitCode = match cli.command {
        // `images shell -- CMD` returns the command's own exit status.
        Command::Images(cmd) => return images::run_status(cmd, &mut std::io::stdout().lock()),
        Command::Lint(a) => lint::run(&a.spec, a.json, &mut std::io::stdout().lock(), color),
        Command::Plan(a) => plan::run(&a),
        Command::Install(a) => install::run(&a, color),
        Command::Validate(a) => validate::run(&a, color),
        Command::Certify(a) => certify::run(&a, color),
        Command::Reproduce(a) => reproduce::run(&a),
        Command::Report(args::ReportCommand::Merge(a)) => report::merge(&a, color),
        Command::List(a) => manage::list(&a),
        Command::Check(a) => manage::check(&a),
        Command::Remove(a) => manage::remove(&a),
    }?;
    Ok(code.code())
}
