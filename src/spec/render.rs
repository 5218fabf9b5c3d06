//! Human (rustc-like) and JSON rendering of diagnostics.
//!
//! ```text
//! error[unknown-group]: kernels.pytorch.pip_dependencies[3]: no pip group named "ml_lib"
//!   --> spec.json:27:36
//!    = value: "ml_lib"
//!    = hint: did you mean "ml_libs"? groups: base_pks, sci_pks, ml_libs
//! ```

use std::io::Write;

use owo_colors::OwoColorize;

use super::{Diagnostic, Severity};

/// Writes each diagnostic as a block followed by a blank line; colour only when `color`.
pub fn render_human(diags: &[Diagnostic], w: &mut dyn Write, color: bool) -> std::io::Result<()> {
    for d in diags {
        let label = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let head = format!("{label}[{}]", d.code);
        let head = match (color, d.severity) {
            (false, _) => head,
            (true, Severity::Error) => head.red().bold().to_string(),
            (true, Severity::Warning) => head.yellow().bold().to_string(),
        };
        let message = if d.path.is_empty() { d.message.clone() } else { format!("{}: {}", d.path, d.message) };
        let message = if color { message.bold().to_string() } else { message };
        writeln!(w, "{head}: {message}")?;
        let location = match (d.line, d.column) {
            (Some(line), Some(column)) => format!("{}:{line}:{column}", d.file.display()),
            (Some(line), None) => format!("{}:{line}", d.file.display()),
            _ => d.file.display().to_string(),
        };
        let (arrow, equals) = if color { ("-->".blue().bold().to_string(), "=".blue().bold().to_string()) } else { ("-->".into(), "=".into()) };
        writeln!(w, "  {arrow} {location}")?;
        if let Some(value) = &d.value {
            writeln!(w, "   {equals} value: {value}")?;
        }
        if let Some(hint) = &d.hint {
            writeln!(w, "   {equals} hint: {hint}")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Writes the diagnostics as a pretty-printed JSON array.
pub fn render_json(diags: &[Diagnostic], w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, diags)?;
    writeln!(w)
}
