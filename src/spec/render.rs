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

/// Blocks shown per diagnostic code; the rest are counted in one line (a
/// hostile spec can carry hundreds of thousands of the same problem).
const SHOWN_PER_CODE: usize = 50;

/// Writes each diagnostic as a block followed by a blank line; colour only when `color`.
pub fn render_human(diags: &[Diagnostic], w: &mut dyn Write, color: bool) -> std::io::Result<()> {
    let mut per_code: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for d in diags {
        let seen = per_code.entry(d.code).or_insert(0);
        *seen += 1;
        if *seen > SHOWN_PER_CODE {
            continue;
        }
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
    for (code, count) in per_code.into_iter().filter(|(_, n)| *n > SHOWN_PER_CODE) {
        writeln!(w, "… and {} more [{code}] not shown (`hpc-kernels lint --json` lists every one)\n", count - SHOWN_PER_CODE)?;
    }
    Ok(())
}

/// Writes the diagnostics as a pretty-printed JSON array.
pub fn render_json(diags: &[Diagnostic], w: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, diags)?;
    writeln!(w)
}

#[cfg(test)]
mod cap_tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn many_diagnostics_of_one_code_are_shown_up_to_the_cap_and_counted() {
        let d = |code: &'static str| Diagnostic {
            severity: Severity::Warning,
            code,
            file: PathBuf::from("s.json"),
            path: "pip_module_groups.g".into(),
            line: Some(1),
            column: Some(2),
            message: "m".into(),
            value: None,
            hint: None,
        };
        let mut diags: Vec<Diagnostic> = (0..SHOWN_PER_CODE + 7).map(|_| d("unused-group")).collect();
        diags.push(d("duplicate-key"));
        let mut out = Vec::new();
        render_human(&diags, &mut out, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("warning[unused-group]").count(), SHOWN_PER_CODE);
        assert_eq!(text.matches("warning[duplicate-key]").count(), 1);
        assert!(text.contains("… and 7 more [unused-group] not shown"), "{text}");
        assert!(!text.contains("more [duplicate-key]"));
    }
}
