//! The one error type the binary prints, and the exit codes (DESIGN.md §8).
//!
//! Every error carries a message, optionally the cause and a hint; the CLI
//! prints them in one format (`error:` / `caused by:` / `hint:`).

use std::fmt;
use std::path::Path;

use crate::spec::Diagnostic;

/// Process exit codes, chosen in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything passed.
    Success = 0,
    /// A check failed (install step, import, test_script, launch, snapshot diff).
    CheckFailed = 1,
    /// Usage or spec error.
    Usage = 2,
    /// Environment error: no Lmod, no Docker, unknown partition, a disk or
    /// cache that cannot be written.
    Environment = 3,
    /// A fault of hpc-kernels itself: worth a bug report.
    Internal = 4,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

#[derive(Debug)]
pub enum ErrorKind {
    Usage,
    /// A spec that failed lint; the diagnostics are printed by the CLI.
    Spec(Vec<Diagnostic>),
    Environment,
    /// Something failed that is neither the user's spec nor their environment.
    Internal,
}

#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), hint: None, source: None }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn environment(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Environment, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn spec(file: &Path, diagnostics: Vec<Diagnostic>) -> Self {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        Self::new(
            ErrorKind::Spec(diagnostics),
            format!("{} has {errors} error(s)", file.display()),
        )
        .with_hint(format!("run `hpc-kernels lint {}` for the full report", file.display()))
    }
    /// An I/O failure on a path the tool works with (workspace, cache,
    /// images, outputs), in the words of the step that needed it: an
    /// environment error, whatever the `io::ErrorKind`.
    pub fn io(action: &str, path: &Path, source: std::io::Error) -> Self {
        Self::new(ErrorKind::Environment, format!("cannot {action} {}", path.display())).with_source(source)
    }
    /// An I/O failure on a path the user passed as an argument (the spec, an
    /// input file, a report target), found before anything was written: a
    /// usage error when the path is missing or not allowed, else an
    /// environment error.
    pub fn io_arg(action: &str, path: &Path, source: std::io::Error) -> Self {
        let kind = match source.kind() {
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::IsADirectory
            | std::io::ErrorKind::ReadOnlyFilesystem => ErrorKind::Usage,
            _ => ErrorKind::Environment,
        };
        Self::new(kind, format!("cannot {action} {}", path.display())).with_source(source)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
    pub fn exit_code(&self) -> ExitCode {
        match self.kind {
            ErrorKind::Usage | ErrorKind::Spec(_) => ExitCode::Usage,
            ErrorKind::Environment => ExitCode::Environment,
            ErrorKind::Internal => ExitCode::Internal,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind as Io;

    #[test]
    fn io_errors_mid_run_are_environment_errors_whatever_their_kind() {
        for kind in [Io::NotFound, Io::PermissionDenied, Io::StorageFull, Io::Other] {
            let e = Error::io("create the workspace", Path::new("/w"), std::io::Error::from(kind));
            assert_eq!(e.exit_code(), ExitCode::Environment, "{kind:?}");
        }
    }

    #[test]
    fn io_errors_on_the_users_arguments_are_usage_errors_when_the_path_is_wrong() {
        for kind in [Io::NotFound, Io::PermissionDenied, Io::NotADirectory, Io::IsADirectory] {
            let e = Error::io_arg("read the spec", Path::new("s.json"), std::io::Error::from(kind));
            assert_eq!(e.exit_code(), ExitCode::Usage, "{kind:?}");
        }
        let full = Error::io_arg("write", Path::new("r.xml"), std::io::Error::from(Io::StorageFull));
        assert_eq!(full.exit_code(), ExitCode::Environment);
    }

    #[test]
    fn internal_errors_have_their_own_exit_code() {
        assert_eq!(Error::internal("bug").exit_code(), ExitCode::Internal);
        assert_eq!(ExitCode::Internal.code(), 4);
    }
}
