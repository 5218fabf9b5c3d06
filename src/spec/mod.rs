//! Spec parsing and lint. Input: the JSON file format of
//! `installer-json-format.md` (plus `module_load_cluster`). Output: a typed
//! [`Spec`] when there are no errors, and every diagnostic found in one pass,
//! sorted by position in the file.

mod diagnostic;
mod json;
mod lint;
mod lint_kernel;
mod model;
mod names;
mod path;
mod pip;
mod release;
mod render;
mod write;

use std::io::Read;
use std::path::Path;

use sha2::Digest;

pub use diagnostic::{Diagnostic, Severity};
pub use model::{Kernel, PipGroup, Spec};
pub use names::{is_valid_kernel_name, is_valid_module_name, partition_name_problem};
pub use pip::option_takes_value as pip_option_takes_value;
pub use release::{with_release, Substitution};
pub use render::{render_human, render_json};
pub use write::to_json;

use crate::error::{Error, Result};
use json::Pos;
use lint::Linter;

/// Larger spec files are refused before parsing.
pub const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// Everything lint found; `spec` is `Some` exactly when there are no errors.
#[derive(Debug)]
pub struct LintReport {
    pub diagnostics: Vec<Diagnostic>,
    pub spec: Option<Spec>,
}

impl LintReport {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Lints a spec held in memory. Never panics, whatever the bytes.
pub fn lint_bytes(file: &Path, bytes: &[u8]) -> LintReport {
    let document_error = |code, pos: Pos, message: String, hint: &str| LintReport {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_path_buf(),
            path: String::new(),
            line: Some(pos.line),
            column: Some(pos.column),
            message,
            value: None,
            hint: Some(hint.to_string()),
        }],
        spec: None,
    };
    let start = Pos { line: 1, column: 1, offset: 0 };
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return too_large(file, bytes.len() as u64);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.valid_up_to();
            let pos = position_of(bytes.get(..valid).unwrap_or_default(), valid);
            return document_error(
                "not-utf8",
                pos,
                format!("the file is not UTF-8: invalid byte 0x{:02X} at byte offset {valid}", bytes.get(valid).copied().unwrap_or(0)),
                "save the spec as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
            );
        }
    };
    if text.trim().is_empty() {
        return document_error("empty-file", start, "the file is empty".into(), "a spec is a JSON object: {\"modules_by_cluster\": {...}, \"kernels\": {...}}");
    }
    let (root, problems) = json::parse(text);
    let mut linter = Linter::new(file, text);
    for p in problems {
        linter.error(p.code, &p.path, p.pos, p.message);
        if let Some(last) = linter.diagnostics.last_mut() {
            last.value = p.value.map(|v| lint::shorten(&v));
            last.hint = p.hint;
        }
    }
    let parts = root.as_ref().and_then(|root| linter.document(root));
    let mut diagnostics = linter.finish();
    // Sort by position; diagnostics without one go last; ties keep discovery order.
    diagnostics.sort_by_key(|d| (d.line.is_none(), d.line, d.column));
    let spec = match parts {
        Some(parts) if !diagnostics.iter().any(Diagnostic::is_error) => Some(Spec {
            modules_by_cluster: parts.modules_by_cluster,
            pip_module_groups: parts.pip_module_groups,
            kernels: parts.kernels,
            source_sha256: hex::encode(sha2::Sha256::digest(bytes)),
        }),
        _ => None,
    };
    LintReport { diagnostics, spec }
}

fn too_large(file: &Path, size: u64) -> LintReport {
    LintReport {
        diagnostics: vec![Diagnostic {
            severity: Severity::Error,
            code: "file-too-large",
            file: file.to_path_buf(),
            path: String::new(),
            line: None,
            column: None,
            message: format!("the file has {size} bytes; specs are limited to {MAX_SPEC_BYTES} bytes (4 MiB)"),
            value: None,
            hint: Some("a kernel spec is a few kilobytes; check that this is the right file".into()),
        }],
        spec: None,
    }
}

/// Line and column (in characters) of byte `offset` in valid UTF-8 `prefix`.
fn position_of(prefix: &[u8], offset: usize) -> Pos {
    let line = 1 + prefix.iter().filter(|&&b| b == b'\n').count();
    let line_start = prefix.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = 1 + prefix.get(line_start..).unwrap_or_default().iter().filter(|&&b| b & 0xC0 != 0x80).count();
    Pos { line, column, offset }
}

/// Reads and lints a spec file. Files over 4 MiB are refused without reading them.
pub fn lint_file(file: &Path) -> Result<LintReport> {
    let hint = "check the path of the spec file";
    let handle = std::fs::File::open(file).map_err(|e| Error::io_arg("read the spec", file, e).with_hint(hint))?;
    let size = handle.metadata().map_err(|e| Error::io_arg("read the spec", file, e).with_hint(hint))?.len();
    if size > MAX_SPEC_BYTES {
        return Ok(too_large(file, size));
    }
    let mut bytes = Vec::new();
    // Read one byte past the limit so that a file growing meanwhile is still caught.
    handle
        .take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io_arg("read the spec", file, e).with_hint("is it a regular file?"))?;
    Ok(lint_bytes(file, &bytes))
}

/// Loads a spec for use: errors become [`Error::spec`]; `Ok` carries the warnings.
pub fn load(file: &Path) -> Result<(Spec, Vec<Diagnostic>)> {
    let report = lint_file(file)?;
    match report.spec {
        Some(spec) => Ok((spec, report.diagnostics)),
        None => Err(Error::spec(file, report.diagnostics)),
    }
}

#[cfg(test)]
mod tests;
