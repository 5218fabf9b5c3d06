//! Lint findings: each names the file, the JSON path, the bad value and a hint.

use std::path::PathBuf;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `unknown-key`, `bad-module-name`.
    pub code: &'static str,
    pub file: PathBuf,
    /// JSON path such as `kernels.pytorch.pip_dependencies[3]`; empty for the whole document.
    pub path: String,
    /// 1-based line and column of the value, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The offending value, shortened for display.
    pub value: Option<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
