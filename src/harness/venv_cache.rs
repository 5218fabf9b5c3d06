//! Venvs kept from run to run. When the package index is pinned
//! (`--exclude-newer`, or the generated wheelhouse), a cell whose inputs are
//! an earlier run's (the same image, spec, kernel, installer, package options
//! and hpc-kernels binary) gets that run's venv back: a Docker volume of its
//! own, mounted where the venv lives, and `install --reuse-venv` keeps the pip
//! groups the earlier run installed into it. Every check after pip runs again.
//! The cell says so, with what its install said about the index (stand-ins,
//! the interpreter it was presented for). `--reinstall` turns it off; a
//! volume another run is using is left to it (a lock file per key).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::docker::{self, LABEL};
use super::packages::{PackageOptions, WheelsMode};
use super::wheelhouse::sha256_of_file;
use crate::error::{Error, Result};
use crate::report::KernelResult;

/// Label of the venv volumes; its value is the key.
pub const VOLUME_LABEL: &str = "org.hpc-kernels.venv-cache";
/// Where the engine in a cell keeps a kernel's venvs (its default workspace).
const WORKSPACE_IN_CONTAINER: &str = "/root/.local/share/hpc-kernels";

/// The run's side of the cache: what every cell's key shares.
pub struct VenvCache {
    dir: PathBuf,
    inputs: String,
}

/// One cell's claim on its volume, held until dropped.
pub struct CellVenv {
    pub volume: String,
    /// Where the volume is mounted in the cell's containers.
    pub mount_point: String,
    record: PathBuf,
    /// What the run that installed the venv recorded, when one did.
    pub previous: Option<Record>,
    _lock: File,
}

/// What a run that installed a cell's venv leaves for the runs reusing it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub run_id: String,
    pub installed_at: String,
    /// The interpreter version the index was presented for.
    pub presented_for: Option<String>,
    /// The cell's notes about its packages (stand-ins it installed).
    pub package_notes: Vec<String>,
}

/// Why a run keeps no venvs, or `None` when it may.
pub fn disabled_because(packages: &PackageOptions, reinstall: bool) -> Option<&'static str> {
    if reinstall {
        Some("--reinstall")
    } else if packages.wheels != WheelsMode::Synthetic && packages.exclude_newer.is_none() {
        Some("the index is live (no --exclude-newer), so an earlier install may not be what pip would install today")
    } else {
        None
    }
}

/// Every package option that changes what pip installs (`--offline` does not:
/// it replays what the same options recorded).
fn package_inputs(p: &PackageOptions) -> String {
    format!(
        "wheels={:?} budget={} exclude-newer={} index-map={:?}",
        p.wheels,
        p.budget,
        p.exclude_newer.as_ref().map(|(_, s)| s.to_string()).unwrap_or_default(),
        p.index_map
    )
}

impl VenvCache {
    /// `installer` names the installer and its version (the run's note).
    pub fn open(cache_dir: &Path, binary: &Path, installer: &str, packages: &PackageOptions) -> Result<VenvCache> {
        let dir = cache_dir.join("venvs");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create the venv cache", &dir, e))?;
        let binary_sha = sha256_of_file(binary).map_err(|e| Error::io("read", binary, e))?;
        let inputs = format!("binary={binary_sha}\ninstaller={installer}\n{}", package_inputs(packages));
        prune(&dir, UNUSED_FOR);
        Ok(VenvCache { dir, inputs })
    }

    fn key(&self, image: &str, spec_sha256: &str, partition: &str, kernel: &str) -> String {
        let mut h = Sha256::new();
        for part in [self.inputs.as_str(), image, spec_sha256, partition, kernel] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..12])
    }

    /// The cell's volume, or `None` when another run holds it (the cell then
    /// installs afresh) or Docker cannot make it.
    pub fn claim(&self, image: &str, spec_sha256: &str, partition: &str, kernel: &str) -> Option<CellVenv> {
        let key = self.key(image, spec_sha256, partition, kernel);
        let lock = File::create(self.dir.join(format!("{key}.lock"))).ok()?;
        lock.try_lock().ok()?;
        // The lock file's age is how long the key has gone unclaimed (see `prune`).
        let _ = lock.set_modified(std::time::SystemTime::now());
        let volume = format!("hpc-kernels-venv-{key}");
        let record = self.dir.join(format!("{key}.json"));
        let previous: Option<Record> = fs::read(&record).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if previous.is_none() {
            // A venv no record speaks for (another cache directory's, or one
            // whose install failed) is never reused: start from an empty volume.
            if !remove_volume(&volume, "remove a venv volume") {
                return None;
            }
        }
        docker::output(
            "create a venv volume",
            ["volume", "create", "--label", &format!("{LABEL}=true"), "--label", &format!("{VOLUME_LABEL}={key}"), &volume],
        )
        .ok()?;
        Some(CellVenv {
            volume,
            mount_point: format!("{WORKSPACE_IN_CONTAINER}/{partition}/{kernel}"),
            record,
            previous,
            _lock: lock,
        })
    }
}

impl CellVenv {
    /// After the cell ran: records a fresh install whose pip groups passed.
    /// Returns the interpreter version the cell's index was presented for and
    /// the cell's notes on its packages: this run's, or, when the venv was
    /// reused, those its install recorded, after a note saying so.
    pub fn settle(
        &self,
        result: &KernelResult,
        run_id: &str,
        presented_for: Option<String>,
        package_notes: Vec<String>,
    ) -> (Option<String>, Vec<String>) {
        if reused(result) {
            let Some(previous) = &self.previous else {
                let mut notes = vec!["venv kept from an earlier run that left no record of its install".to_string()];
                notes.extend(package_notes);
                return (presented_for, notes);
            };
            let mut notes = vec![format!(
                "venv kept from run {} ({}): the same image, spec, installer, package options and hpc-kernels binary \
                 (volume {}); every check after pip ran in this run; --reinstall installs afresh",
                previous.run_id, previous.installed_at, self.volume
            )];
            notes.extend(previous.package_notes.iter().cloned());
            return (previous.presented_for.clone(), notes);
        }
        if pip_passed(result) {
            let record = Record {
                run_id: run_id.to_string(),
                installed_at: crate::report::junit::rfc3339_utc(std::time::SystemTime::now()),
                presented_for: presented_for.clone(),
                package_notes: package_notes.clone(),
            };
            if let Ok(text) = serde_json::to_vec_pretty(&record) {
                let _ = fs::write(&self.record, text);
            }
        } else {
            // What the volume holds now no record speaks for: the next claim empties it.
            let _ = fs::remove_file(&self.record);
        }
        (presented_for, package_notes)
    }
}

/// A venv no run has claimed for this long is removed by the next run.
const UNUSED_FOR: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// Removes the volumes (and records) of keys not claimed for `unused_for`;
/// a claim rewrites the key's lock file, so its age is the time since.
fn prune(dir: &Path, unused_for: std::time::Duration) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(key) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".lock")) else { continue };
        let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > unused_for);
        let Ok(lock) = File::open(&path) else { continue };
        if !old || lock.try_lock().is_err() {
            continue;
        }
        let volume = format!("hpc-kernels-venv-{key}");
        if remove_volume(&volume, "remove an unused venv volume") {
            let _ = fs::remove_file(dir.join(format!("{key}.json")));
            let _ = fs::remove_file(&path);
        }
    }
}

fn reused(result: &KernelResult) -> bool {
    result.steps.iter().any(|s| s.stage == crate::plan::stage::VENV && s.log.starts_with(crate::exec::VENV_REUSED))
}

/// The venv and every pip group passed.
fn pip_passed(result: &KernelResult) -> bool {
    let install: Vec<_> = result
        .steps
        .iter()
        .filter(|s| s.stage == crate::plan::stage::VENV || s.stage.starts_with("pip:"))
        .collect();
    !install.is_empty() && install.iter().all(|s| s.outcome.is_passed())
}

/// Removes `volume` unless a container uses it; true when it is gone (or never was).
fn remove_volume(volume: &str, why: &str) -> bool {
    docker::output("inspect a venv volume", ["volume", "inspect", volume]).is_err() || docker::output(why, ["volume", "rm", volume]).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, StepResult};

    fn step(stage: &str, outcome: Outcome, log: &str) -> StepResult {
        StepResult { stage: stage.into(), outcome, seconds: 0.0, command: None, log: log.into() }
    }

    fn result(steps: Vec<StepResult>) -> KernelResult {
        KernelResult::from_steps("k", "K".into(), steps)
    }

    #[test]
    fn only_a_pinned_index_or_the_generated_wheelhouse_keeps_venvs() {
        let live = PackageOptions::default();
        assert!(disabled_because(&live, false).unwrap().contains("--exclude-newer"));
        let pinned = PackageOptions { exclude_newer: Some(("2026-01-15".into(), 1)), ..PackageOptions::default() };
        assert_eq!(disabled_because(&pinned, false), None);
        assert_eq!(disabled_because(&pinned, true), Some("--reinstall"));
        let synthetic = PackageOptions { wheels: WheelsMode::Synthetic, ..PackageOptions::default() };
        assert_eq!(disabled_because(&synthetic, false), None);
    }

    #[test]
    fn every_input_changes_the_key_but_offline_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("bin");
        fs::write(&binary, b"one").unwrap();
        let pinned = PackageOptions { exclude_newer: Some(("2026-01-15".into(), 1)), ..PackageOptions::default() };
        let cache = VenvCache::open(dir.path(), &binary, "pip", &pinned).unwrap();
        let key = cache.key("img:1", "spec", "alpha", "k");
        for other in [
            cache.key("img:2", "spec", "alpha", "k"),
            cache.key("img:1", "spec2", "alpha", "k"),
            cache.key("img:1", "spec", "romeo", "k"),
            cache.key("img:1", "spec", "alpha", "k2"),
            VenvCache::open(dir.path(), &binary, "uv 0.13.9", &pinned).unwrap().key("img:1", "spec", "alpha", "k"),
            VenvCache::open(dir.path(), &binary, "pip", &PackageOptions { budget: 1, ..pinned.clone() })
                .unwrap()
                .key("img:1", "spec", "alpha", "k"),
        ] {
            assert_ne!(key, other);
        }
        let offline = PackageOptions { offline: true, ..pinned.clone() };
        assert_eq!(VenvCache::open(dir.path(), &binary, "pip", &offline).unwrap().key("img:1", "spec", "alpha", "k"), key);
        fs::write(&binary, b"two").unwrap();
        assert_ne!(VenvCache::open(dir.path(), &binary, "pip", &pinned).unwrap().key("img:1", "spec", "alpha", "k"), key);
    }

    #[test]
    fn prune_forgets_keys_unclaimed_for_long_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        // Keys no Docker volume exists for: only the files are at stake.
        for key in ["old0hpck", "new0hpck"] {
            fs::write(dir.path().join(format!("{key}.lock")), b"").unwrap();
            fs::write(dir.path().join(format!("{key}.json")), b"{}").unwrap();
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(20 * 24 * 3600);
        File::options().write(true).open(dir.path().join("old0hpck.lock")).unwrap().set_modified(old).unwrap();
        prune(dir.path(), UNUSED_FOR);
        assert!(!dir.path().join("old0hpck.lock").exists() && !dir.path().join("old0hpck.json").exists());
        assert!(dir.path().join("new0hpck.lock").exists() && dir.path().join("new0hpck.json").exists());
    }

    #[test]
    fn a_reused_venv_is_named_and_a_fresh_install_is_recorded_only_when_pip_passed() {
        let dir = tempfile::tempdir().unwrap();
        let cell = |previous: Option<Record>| CellVenv {
            volume: "hpc-kernels-venv-abc".into(),
            mount_point: "/x".into(),
            record: dir.path().join("abc.json"),
            previous,
            _lock: File::create(dir.path().join("abc.lock")).unwrap(),
        };
        let failed = result(vec![step("venv", Outcome::Passed, ""), step("pip:base", Outcome::Failed { message: "x".into() }, "")]);
        fs::write(dir.path().join("abc.json"), b"{}").unwrap();
        cell(None).settle(&failed, "r1", None, vec![]);
        assert!(!dir.path().join("abc.json").exists(), "a failed install leaves no record");

        let fresh = result(vec![step("venv", Outcome::Passed, ""), step("pip:base", Outcome::Passed, "")]);
        let (presented, notes) = cell(None).settle(&fresh, "r1", Some("3.10".into()), vec!["stand-ins installed: torch".into()]);
        assert_eq!(presented.as_deref(), Some("3.10"));
        assert_eq!(notes, vec!["stand-ins installed: torch".to_string()]);
        let record: Record = serde_json::from_slice(&fs::read(dir.path().join("abc.json")).unwrap()).unwrap();
        assert_eq!((record.run_id.as_str(), record.presented_for.as_deref()), ("r1", Some("3.10")));

        let log = format!("{} /root/x: unchanged", crate::exec::VENV_REUSED);
        let again = result(vec![step("venv", Outcome::Passed, &log), step("pip:base", Outcome::Passed, "not rerun")]);
        let (presented, notes) = cell(Some(record)).settle(&again, "r2", None, vec![]);
        assert_eq!(presented.as_deref(), Some("3.10"));
        assert!(notes[0].starts_with("venv kept from run r1 ("), "{notes:?}");
        assert_eq!(notes[1], "stand-ins installed: torch");
    }
}
