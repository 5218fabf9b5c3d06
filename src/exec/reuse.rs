//! A rerun with nothing changed: the installed kernelspec is the one this
//! install would write, and the venv holds what it held when it was written.
//! Then nothing is rebuilt or relaunched (`install --recheck` does it anyway).

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::kernelspec::{self, Rendered, LAUNCHER};

/// What a finished venv holds, as one hash: the distributions in its
/// site-packages (name and version, from their `.dist-info` directories),
/// its `pyvenv.cfg` and the interpreter it points at. Reads two directories
/// and one file: cheap enough for every rerun.
pub fn venv_fingerprint(venv: &Path) -> Option<String> {
    let mut h = Sha256::new();
    let cfg = fs::read(venv.join("pyvenv.cfg")).ok()?;
    h.update(&cfg);
    let python = fs::canonicalize(venv.join("bin/python")).ok()?;
    h.update(python.to_string_lossy().as_bytes());
    let mut dists = Vec::new();
    for lib in fs::read_dir(venv.join("lib")).ok()?.flatten() {
        let site = lib.path().join("site-packages");
        let Ok(entries) = fs::read_dir(&site) else { continue };
        dists.extend(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".dist-info")),
        );
    }
    dists.sort();
    for d in &dists {
        h.update([0]);
        h.update(d.as_bytes());
    }
    Some(format!("{} distributions, sha256 {}", dists.len(), hex::encode(h.finalize())))
}

/// Why the installed kernelspec in `dir` is not what `rendered` would write,
/// or `None` when it is. `rendered` carries the recorded `installed_at`.
pub fn kernelspec_difference(dir: &Path, rendered: &Rendered) -> Option<String> {
    let Some(installed) = kernelspec::read_installed(dir) else {
        return Some(format!("no kernelspec in {}", dir.display()));
    };
    let Some(spec) = installed.spec.filter(|_| !installed.legacy) else {
        return Some(format!("{} was not written by this version", dir.display()));
    };
    let partition = &rendered.partition;
    let Some(entry) = spec.partitions.get(partition) else {
        return Some(format!("{} has no entry for partition {partition}", dir.display()));
    };
    let wanted = &rendered.spec.partitions[partition];
    if entry != wanted {
        return Some("the recorded spec, modules, venv or options differ".into());
    }
    if spec.display_name != rendered.spec.display_name || spec.layout != rendered.spec.layout {
        return Some("the display name or layout differs".into());
    }
    let same_file = |name: &str, text: &str| fs::read(dir.join(name)).is_ok_and(|b| Sha256::digest(&b) == Sha256::digest(text.as_bytes()));
    if !same_file(&entry.launcher, &rendered.partition_launcher) {
        return Some(format!("launcher {} differs", entry.launcher));
    }
    if !same_file(LAUNCHER, &rendered.dispatcher) {
        return Some(format!("{LAUNCHER} differs"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venv(root: &Path) {
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("lib/python3.11/site-packages/a-1.0.dist-info")).unwrap();
        fs::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::os::unix::fs::symlink("/bin/sh", root.join("bin/python")).unwrap();
    }

    #[test]
    fn the_fingerprint_changes_with_the_distributions() {
        let dir = tempfile::tempdir().unwrap();
        venv(dir.path());
        let first = venv_fingerprint(dir.path()).unwrap();
        assert!(first.starts_with("1 distributions"), "{first}");
        assert_eq!(venv_fingerprint(dir.path()).unwrap(), first);
        fs::create_dir_all(dir.path().join("lib/python3.11/site-packages/b-2.0.dist-info")).unwrap();
        assert_ne!(venv_fingerprint(dir.path()).unwrap(), first);
    }

    #[test]
    fn a_venv_without_its_python_has_no_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        venv(dir.path());
        fs::remove_file(dir.path().join("bin/python")).unwrap();
        assert_eq!(venv_fingerprint(dir.path()), None);
    }
}
