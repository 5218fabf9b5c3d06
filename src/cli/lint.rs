//! `hpc-kernels lint SPEC [--json]`: report every problem of a spec.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::spec::{self, Diagnostic};
use crate::ExitCode;

#[derive(Args, Debug)]
pub struct LintArgs {
    /// The kernel spec (JSON) to check.
    pub spec: PathBuf,
    /// Print the findings as one JSON object: file, errors, warnings, diagnostics.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a Path,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

/// Prints all diagnostics of `file`, then (human output only) a summary line.
/// Exit code: `Usage` when there are errors, `Success` otherwise (warnings only).
pub fn run(file: &Path, json: bool, out: &mut dyn Write, color: bool) -> Result<ExitCode> {
    let report = spec::lint_file(file)?;
    let (errors, warnings) = (report.errors(), report.warnings());
    let written = if json {
        let body = JsonReport { file, errors, warnings, diagnostics: &report.diagnostics };
        serde_json::to_writer_pretty(&mut *out, &body).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        spec::render_human(&report.diagnostics, out, color).and_then(|()| writeln!(out, "{}", summary(file, errors, warnings)))
    };
    written.map_err(|e| Error::environment("cannot write the lint report to stdout").with_source(e))?;
    Ok(if errors > 0 { ExitCode::Usage } else { ExitCode::Success })
}

fn summary(file: &Path, errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let verdict = if errors > 0 { "spec refused" } else { "spec ok" };
    format!("{}: {}, {} ({verdict})", file.display(), plural(errors, "error"), plural(warnings, "warning"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_verdict() {
        assert_eq!(summary(Path::new("s.json"), 1, 0), "s.json: 1 error, 0 warnings (spec refused)");
        assert_eq!(summary(Path::new("s.json"), 0, 2), "s.json: 0 errors, 2 warnings (spec ok)");
    }

    #[test]
    fn example_passes_and_json_is_an_object() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/example.json");
        let mut out = Vec::new();
        assert_eq!(run(&example, true, &mut out, false).expect("runs"), ExitCode::Success);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["errors"], 0);
        assert_eq!(v["warnings"], 2);
        assert_eq!(v["diagnostics"].as_array().map(Vec::len), Some(2));
    }
}
