//! Pieces several commands share: kernel-name checks, the binary that goes
//! into containers, job counts, and writing report files.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spec::Spec;

/// Every name must be a kernel of `spec`.
pub fn check_kernels(spec: &Spec, spec_path: &Path, names: &[String]) -> Result<()> {
    for k in names {
        if !spec.kernels.contains_key(k) {
            let known = spec.kernels.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(Error::usage(format!("--kernel {k}: {} has no kernel named \"{k}\"", spec_path.display()))
                .with_hint(format!("kernels in this spec: {known}")));
        }
    }
    Ok(())
}

/// This hpc-kernels binary: the harness runs the very same one in containers.
pub fn current_binary() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::environment("cannot find the hpc-kernels binary").with_source(e))
}

/// `--jobs`, defaulting to one more than the number of CPUs: a cell spends
/// much of its time waiting on Docker and on kernels starting, so one more
/// keeps the cores busy (a warm 1 × 3 matrix on 2 cores: 26 s → 20 s).
pub fn jobs(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) + 1).max(1)
}

/// Renders into memory, then replaces `path` atomically (temp file + rename).
pub fn write_report_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut buf = Vec::new();
    write(&mut buf).map_err(|e| Error::environment(format!("cannot render {}", path.display())).with_source(e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &buf).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("write", path, e))
}

/// Checks, before any work, that a report can be written to `path` (named by
/// `flag`): its directory exists and takes a new file, and `path` is not a
/// directory. A bad path costs a second, not a whole run.
pub fn check_report_target(flag: &str, path: &Path) -> Result<()> {
    let hint = format!("{flag} needs a file path in an existing, writable directory");
    if path.is_dir() {
        return Err(Error::usage(format!("{flag} {}: is a directory", path.display())).with_hint(hint));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    tempfile::Builder::new()
        .prefix(".hpc-kernels-probe")
        .tempfile_in(&dir)
        .map(drop)
        .map_err(|e| Error::io_arg(&format!("write {flag} into"), &dir, e).with_hint(hint))
}

/// Like [`check_report_target`] for an output directory, which is created.
pub fn check_report_dir(flag: &str, dir: &Path) -> Result<()> {
    let hint = format!("{flag} needs a directory that can be created and written");
    std::fs::create_dir_all(dir).map_err(|e| Error::io_arg(&format!("create the {flag} directory"), dir, e).with_hint(hint.clone()))?;
    tempfile::Builder::new()
        .prefix(".hpc-kernels-probe")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| Error::io_arg(&format!("write into the {flag} directory"), dir, e).with_hint(hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExitCode;

    #[test]
    fn report_targets_are_refused_before_the_run_with_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_report_target("--junit", &dir.path().join("r.xml")).is_ok());
        let missing = check_report_target("--junit", &dir.path().join("no/such/dir/r.xml")).unwrap_err();
        assert_eq!(missing.exit_code(), ExitCode::Usage);
        assert!(missing.message.contains("--junit"), "{}", missing.message);
        let is_dir = check_report_target("--junit", dir.path()).unwrap_err();
        assert_eq!(is_dir.exit_code(), ExitCode::Usage);
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(check_report_dir("--out", &file.join("sub")).unwrap_err().exit_code(), ExitCode::Usage);
        assert!(check_report_dir("--out", &dir.path().join("a/b")).is_ok());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 2, "probes are removed: {left:?}");
    }
}
