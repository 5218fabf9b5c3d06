//! Putting a staged partition into the kernelspec, and taking one out, on a
//! `$HOME` that other partitions' installs update at the same time.
//!
//! Every change happens under the kernelspec's lock file (`exec::lock`, safe
//! on NFS and Lustre) and is made of single-file renames, which those file
//! systems perform atomically: a partition's launcher is a new file (its name
//! carries its content hash), and `kernel.json`, which names the launchers,
//! is replaced last. A reader, or a writer killed at any point, sees the old
//! `kernel.json` with the old launchers or the new one with the new ones;
//! nothing needs `renameat2(RENAME_EXCHANGE)`. Only a kernelspec that is not
//! in this layout (foreign, or from an earlier version) is replaced as a
//! whole directory, exchanged where the file system can, else parked.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::{read, remove_empty_parent, staging_root, write_file};
use super::metadata::{Kernelspec, Parsed};
use super::LAUNCHER;
use crate::exec::lock::{LockFile, STALE_AFTER};

/// How long an update waits for another partition's install to finish its own.
const LOCK_PATIENCE: Duration = Duration::from_secs(600);
/// Prefix of files being written into a kernelspec directory.
const TMP_PREFIX: &str = ".hpc-kernels-tmp-";

/// The lock file of kernelspec `dir_name`: beside `kernels/`, so Jupyter never lists it.
pub fn lock_path(kernels_dir: &Path, dir_name: &str) -> PathBuf {
    kernels_dir.parent().unwrap_or(kernels_dir).join(".hpc-kernels-locks").join(format!("{dir_name}.lock"))
}

fn lock(kernels_dir: &Path, dir_name: &str) -> io::Result<LockFile> {
    LockFile::acquire_waiting(&lock_path(kernels_dir, dir_name), STALE_AFTER, LOCK_PATIENCE)
}

/// Adds (or replaces) the staged partition in `kernels_dir/dir_name`,
/// keeping every other partition as it is. Consumes `staged`.
pub fn commit(staged: &Path, kernels_dir: &Path, dir_name: &str, partition: &str) -> io::Result<PathBuf> {
    fs::create_dir_all(kernels_dir)?;
    let _lock = lock(kernels_dir, dir_name)?;
    let staged_text = fs::read_to_string(staged.join("kernel.json"))?;
    let Some(Parsed::Ours { spec: new, .. }) = Kernelspec::parse(dir_name, &staged_text) else {
        return Err(io::Error::other(format!("{}: the staged kernel.json is not ours", staged.display())));
    };
    let entry = new.partitions.get(partition).cloned().ok_or_else(|| {
        io::Error::other(format!("{}: the staged kernel.json has no partition {partition}", staged.display()))
    })?;
    let target = kernels_dir.join(dir_name);
    let current = read(&target);
    let result = match current.as_ref().and_then(|k| k.spec.as_ref().map(|s| (s, k.legacy))) {
        None if !target.exists() => {
            fs::rename(staged, &target)?;
            Ok(())
        }
        Some((current, false)) => {
            let mut merged = new.clone();
            merged.partitions = current.partitions.clone();
            merged.partitions.insert(partition.to_string(), entry);
            update_in_place(staged, &target, current, &merged, partition).and_then(|()| fs::remove_dir_all(staged))
        }
        Some((current, true)) => {
            let mut merged = new.clone();
            for (p, e) in &current.partitions {
                if p != partition && !p.is_empty() {
                    let mut e = e.clone();
                    e.launcher = adopt_legacy_launcher(&target, staged, p)?;
                    merged.partitions.insert(p.clone(), e);
                }
            }
            write_file(&staged.join("kernel.json"), merged.kernel_json().as_bytes(), 0o644)?;
            swap_dirs(staged, &target)
        }
        // Foreign, or a directory without a readable kernel.json: replaced whole.
        None => swap_dirs(staged, &target),
    };
    remove_empty_parent(staged);
    result.map(|()| target)
}

/// The new launcher first, then the dispatcher and logos, then `kernel.json`.
/// Launchers go when neither the new nor the previous `kernel.json` names
/// them: a kernel starting right now from the previous one still finds its own.
fn update_in_place(staged: &Path, target: &Path, previous: &Kernelspec, merged: &Kernelspec, partition: &str) -> io::Result<()> {
    remove_tmp_files(target);
    let launcher = &merged.partitions[partition].launcher;
    replace_file(target, launcher, &fs::read(staged.join(launcher))?, 0o755)?;
    for entry in fs::read_dir(staged)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("logo-") && !target.join(&name).exists() {
            replace_file(target, &name, &fs::read(entry.path())?, 0o644)?;
        }
    }
    let dispatcher = fs::read(staged.join(LAUNCHER))?;
    if fs::read(target.join(LAUNCHER)).ok().as_ref() != Some(&dispatcher) {
        replace_file(target, LAUNCHER, &dispatcher, 0o755)?;
    }
    replace_file(target, "kernel.json", merged.kernel_json().as_bytes(), 0o644)?;
    remove_unused_launchers(target, &[previous, merged]);
    Ok(())
}

/// Writes `dir/name` through a temporary file and one rename.
fn replace_file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()));
    write_file(&tmp, bytes, mode)?;
    fs::rename(&tmp, dir.join(name)).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Temporary files of writers that were killed (we hold the lock, so no
/// writer is alive).
fn remove_tmp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn remove_unused_launchers(dir: &Path, keep: &[&Kernelspec]) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("launch-") && name.ends_with(".sh") && name != LAUNCHER;
        if ours && !keep.iter().any(|spec| spec.partitions.values().any(|p| p.launcher == name)) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// An earlier version's kernelspec had one partition whose launcher was
/// `launch-kernel.sh`; it keeps working under its own name in the new layout.
fn adopt_legacy_launcher(target: &Path, staged: &Path, partition: &str) -> io::Result<String> {
    let content = fs::read_to_string(target.join(LAUNCHER))?;
    let name = super::launcher::partition_file_name(partition, &content);
    write_file(&staged.join(&name), content.as_bytes(), 0o755)?;
    Ok(name)
}

/// Moves `staged` to `target`, exchanging them atomically where the file
/// system allows it, else parking the old one first.
fn swap_dirs(staged: &Path, target: &Path) -> io::Result<()> {
    if !target.exists() {
        return fs::rename(staged, target);
    }
    use nix::fcntl::{renameat2, RenameFlags};
    match renameat2(None, staged, None, target, RenameFlags::RENAME_EXCHANGE) {
        // `staged` now holds the previous kernel.
        Ok(()) => fs::remove_dir_all(staged),
        Err(_) => {
            let parked = staged.with_extension("previous");
            fs::rename(target, &parked)?;
            fs::rename(staged, target)?;
            fs::remove_dir_all(&parked)
        }
    }
}

/// What `remove_partition` did.
pub enum Removed {
    /// The partition is gone; others remain.
    Partition,
    /// It was the last partition: the kernelspec is gone.
    Kernelspec,
    /// The kernelspec has no such partition (nothing changed).
    NotInstalled,
}

/// Drops `partition` from kernelspec `dir_name`; the kernelspec goes with its
/// last partition. Venvs are the caller's business.
pub fn remove_partition(kernels_dir: &Path, dir_name: &str, partition: Option<&str>) -> io::Result<Removed> {
    let _lock = lock(kernels_dir, dir_name)?;
    let target = kernels_dir.join(dir_name);
    let Some(current) = read(&target) else { return Ok(Removed::NotInstalled) };
    let Some(mut spec) = current.spec else { return Ok(Removed::NotInstalled) };
    let removed = match partition {
        Some(p) => match spec.partitions.remove(p) {
            Some(entry) => Some(entry),
            None => return Ok(Removed::NotInstalled),
        },
        None => {
            spec.partitions.clear();
            None
        }
    };
    if spec.partitions.is_empty() {
        remove_dir_unseen(kernels_dir, &target)?;
        return Ok(Removed::Kernelspec);
    }
    if current.legacy {
        return Err(io::Error::other("a kernelspec of an earlier version has one partition only"));
    }
    replace_file(&target, "kernel.json", spec.kernel_json().as_bytes(), 0o644)?;
    if let (Some(_), Some(p)) = (removed, partition) {
        for e in fs::read_dir(&target)?.flatten() {
            if is_launcher_of(&e.file_name().to_string_lossy(), p) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(Removed::Partition)
}

/// `launch-<partition>-<12 hex digits>.sh`
fn is_launcher_of(file: &str, partition: &str) -> bool {
    file.strip_prefix(&format!("launch-{partition}-"))
        .and_then(|rest| rest.strip_suffix(".sh"))
        .is_some_and(|hash| hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Renames the directory out of `kernels/` first, so Jupyter never lists a
/// half-deleted kernel.
fn remove_dir_unseen(kernels_dir: &Path, dir: &Path) -> io::Result<()> {
    let trash_root = staging_root(kernels_dir);
    fs::create_dir_all(&trash_root)?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let trash = trash_root.join(format!("{name}.{}@{}.removed", std::process::id(), super::files::node()));
    fs::rename(dir, &trash)?;
    fs::remove_dir_all(&trash)?;
    remove_empty_parent(&trash);
    Ok(())
}
