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

/// `--jobs`, defaulting to the number of CPUs.
pub fn jobs(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1)
}

/// Renders into memory, then replaces `path` atomically (temp file + rename).
pub fn write_report_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut buf = Vec::new();
    write(&mut buf).map_err(|e| Error::environment(format!("cannot render {}", path.display())).with_source(e))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &buf).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io("write", path, e))
}
