//! Kernelspec snapshots: the normalised `kernel.json` and `launcher.sh` of each
//! kernel × partition, compared with stored files under
//! `<dir>/<partition>/<kernel>/`. Nothing is written unless asked to accept
//! (then atomically: temp file in the same directory + rename).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use similar::{ChangeTag, TextDiff};

use super::model::RunReport;
use super::text::{paint, Tone};
use crate::error::{Error, Result};

pub use super::redact::normalise;

/// The flag the CLI uses to accept snapshots (printed in hints).
pub const ACCEPT_FLAG: &str = "--accept-snapshots";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Root of the stored snapshots (e.g. `fixtures/kernelspecs`).
    pub dir: PathBuf,
    /// Write new and changed snapshots instead of reporting them.
    pub accept: bool,
    /// The workspace path of the run, replaced by `{workspace}`.
    pub workspace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    Matched,
    /// No stored file yet.
    New,
    /// The stored file differs; `diff` is a plain unified diff, stored → new.
    Changed {
        diff: String,
    },
    /// Stored (or updated) because `accept` was set.
    Written,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotResult {
    pub partition: String,
    pub kernel: String,
    /// `kernel.json` or `launcher.sh`.
    pub file: String,
    pub status: SnapshotStatus,
}

impl SnapshotResult {
    /// `New` and `Changed` are failures for the caller.
    pub fn is_failure(&self) -> bool {
        matches!(self.status, SnapshotStatus::New | SnapshotStatus::Changed { .. })
    }
}

/// Compares (or with `accept`, stores) the snapshot of every kernel that has a
/// kernelspec. Results come in report order, `kernel.json` before `launcher.sh`.
pub fn check_snapshots(report: &RunReport, opts: &SnapshotOptions) -> Result<Vec<SnapshotResult>> {
    let mut results = Vec::new();
    for partition in &report.partitions {
        for kernel in &partition.kernels {
            let Some(files) = &kernel.kernelspec else { continue };
            let dir = opts
                .dir
                .join(safe_component(&partition.partition, "partition")?)
                .join(safe_component(&kernel.kernel, "kernel")?);
            let normal = normalise(files, kernel.venv.as_deref(), opts.workspace.as_deref());
            for (file, content) in
                [("kernel.json", &normal.kernel_json), ("launcher.sh", &normal.launcher)]
            {
                let path = dir.join(file);
                let status = compare(&path, content, opts.accept)?;
                results.push(SnapshotResult {
                    partition: partition.partition.clone(),
                    kernel: kernel.kernel.clone(),
                    file: file.to_string(),
                    status,
                });
            }
        }
    }
    Ok(results)
}

/// A name used as one directory level: never empty, `.`/`..`, or with a separator.
fn safe_component<'a>(name: &'a str, what: &str) -> Result<&'a str> {
    let bad = name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
    if bad {
        return Err(Error::usage(format!("{what} name {name:?} cannot be a snapshot directory"))
            .with_hint(format!("{what} names must be plain names such as `alpha` or `pytorch`")));
    }
    Ok(name)
}

fn compare(path: &Path, new: &str, accept: bool) -> Result<SnapshotStatus> {
    let stored = match std::fs::read(path) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::io("read snapshot", path, e)
                .with_hint("check the permissions of the snapshot directory"))
        }
    };
    match stored {
        Some(old) if old == new => Ok(SnapshotStatus::Matched),
        _ if accept => {
            write_atomically(path, new)?;
            Ok(SnapshotStatus::Written)
        }
        None => Ok(SnapshotStatus::New),
        Some(old) => Ok(SnapshotStatus::Changed { diff: unified_diff(&old, new, path) }),
    }
}

fn write_atomically(path: &Path, content: &str) -> Result<()> {
    let hint = "the snapshot directory must be writable; nothing was changed";
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| Error::io("create snapshot directory", parent, e).with_hint(hint))?;
    let mut staged = tempfile::NamedTempFile::new_in(parent)
        .map_err(|e| Error::io("create a temporary file in", parent, e).with_hint(hint))?;
    staged
        .write_all(content.as_bytes())
        .and_then(|()| staged.as_file().sync_all())
        .map_err(|e| Error::io("write snapshot", staged.path(), e).with_hint(hint))?;
    staged
        .persist(path)
        .map_err(|e| Error::io("replace snapshot", path, e.error).with_hint(hint))?;
    Ok(())
}

fn unified_diff(old: &str, new: &str, path: &Path) -> String {
    let stored = format!("{} (stored)", path.display());
    let generated = format!("{} (generated)", path.display());
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&stored, &generated)
        .missing_newline_hint(true)
        .to_string()
}

/// Prints every new or changed snapshot (diffs coloured when `color`), then how
/// to accept them: `re-run with --accept-snapshots`.
pub fn write_diffs(results: &[SnapshotResult], w: &mut dyn Write, color: bool) -> io::Result<()> {
    write_diffs_with(results, w, color, None)
}

/// Like [`write_diffs`], ending with the exact command that accepts the
/// snapshots when the caller knows it (e.g. the invocation plus [`ACCEPT_FLAG`]).
pub fn write_diffs_with(
    results: &[SnapshotResult],
    w: &mut dyn Write,
    color: bool,
    accept_command: Option<&str>,
) -> io::Result<()> {
    let mut failures = 0;
    for result in results {
        let name = format!("{}/{}/{}", result.partition, result.kernel, result.file);
        match &result.status {
            SnapshotStatus::Matched | SnapshotStatus::Written => continue,
            SnapshotStatus::New => {
                writeln!(w, "{} {name}: no stored snapshot", paint("new", Tone::Warn, color))?;
            }
            SnapshotStatus::Changed { diff } => {
                writeln!(w, "{} {name}:", paint("changed", Tone::Bad, color))?;
                for line in diff.lines() {
                    writeln!(w, "{}", paint(line, diff_tone(line), color))?;
                }
            }
        }
        failures += 1;
    }
    let written = results.iter().filter(|r| r.status == SnapshotStatus::Written).count();
    if written > 0 {
        writeln!(w, "snapshots written: {written}")?;
    }
    if failures > 0 {
        match accept_command {
            Some(command) => writeln!(w, "to accept {failures} snapshot(s), run: {command}")?,
            None => writeln!(
                w,
                "to accept {failures} snapshot(s), re-run the same command with {ACCEPT_FLAG}"
            )?,
        }
    }
    Ok(())
}

fn diff_tone(line: &str) -> Tone {
    if line.starts_with("+++") || line.starts_with("---") {
        Tone::Plain
    } else if line.starts_with("@@") {
        Tone::Muted
    } else {
        match line.chars().next() {
            Some('+') => tone_of(ChangeTag::Insert),
            Some('-') => tone_of(ChangeTag::Delete),
            _ => Tone::Plain,
        }
    }
}

fn tone_of(tag: ChangeTag) -> Tone {
    match tag {
        ChangeTag::Insert => Tone::Good,
        ChangeTag::Delete => Tone::Bad,
        ChangeTag::Equal => Tone::Plain,
    }
}

#[cfg(test)]
mod tests;
