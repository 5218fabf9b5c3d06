//! Command-line front end: parses arguments, calls the library, prints.
//! (Minimal wiring for the images branch; the full CLI lives on main.)

pub mod images;

use clap::{Parser, Subcommand};

use crate::error::Error;

#[derive(Debug, Parser)]
#[command(name = "hpc-kernels", version, about = "Install, verify and validate Lmod-backed Jupyter kernels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build, list and enter the emulated partition images
    #[command(subcommand)]
    Images(images::ImagesCommand),
}

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let mut stdout = std::io::stdout();
    let result = match cli.command {
        Command::Images(cmd) => images::run_status(cmd, &mut stdout),
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            print_error(&e);
            e.exit_code().code()
        }
    }
}

fn print_error(e: &Error) {
    eprintln!("error: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        eprintln!("caused by: {c}");
        cause = c.source();
    }
    if let Some(hint) = &e.hint {
        eprintln!("hint: {hint}");
    }
}
