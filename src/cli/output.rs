//! Printing errors and choosing colours, in one place.

use std::io::IsTerminal;

use owo_colors::OwoColorize;

use super::args::ColorChoice;
use crate::error::{Error, ErrorKind};

pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

/// `error:` / `caused by:` / `hint:` on stderr. Spec errors print their diagnostics first.
pub fn print_error(e: &Error, color: bool) {
    let mut err = std::io::stderr().lock();
    if let ErrorKind::Spec(diags) = &e.kind {
        let _ = crate::spec::render_human(diags, &mut err, color);
    }
    let label = if color { "error:".red().bold().to_string() } else { "error:".to_string() };
    eprintln!("{label} {}", e.message);
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
    let bug_hint = "this is a fault of hpc-kernels itself: please report it with the command line and the spec";
    let hint = match (&e.kind, &e.hint) {
        (_, Some(hint)) => Some(hint.as_str()),
        (ErrorKind::Internal, None) => Some(bug_hint),
        _ => None,
    };
    if let Some(hint) = hint {
        let label = if color { "hint:".cyan().bold().to_string() } else { "hint:".to_string() };
        eprintln!("  {label} {hint}");
    }
}
