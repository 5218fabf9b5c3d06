//! Kernelspec directories on disk: staging, the atomic swap, and reading back
//! what is installed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{LAUNCHER, METADATA_KEY};
use crate::report::KernelspecFiles;

/// Logos ipykernel ships, copied so JupyterLab shows the kernel like any other.
const LOGOS: &[&str] = &["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"];

/// Staging lives beside `kernels/` (same file system, so renames are atomic),
/// but outside it, so Jupyter never lists a staged kernel.
pub fn staging_root(kernels_dir: &Path) -> PathBuf {
    kernels_dir.parent().unwrap_or(kernels_dir).join(".hpc-kernels-staging")
}

/// Writes the kernelspec into a fresh staging directory and returns it.
pub fn stage(kernels_dir: &Path, name: &str, files: &KernelspecFiles, venv: &Path) -> std::io::Result<PathBuf> {
    let root = staging_root(kernels_dir);
    fs::create_dir_all(&root)?;
    remove_abandoned(&root, name);
    let dir = root.join(format!("{name}.{}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    write_file(&dir.join("kernel.json"), files.kernel_json.as_bytes(), 0o644)?;
    write_file(&dir.join(LAUNCHER), files.launcher.as_bytes(), 0o755)?;
    let logo_dir = venv.join("share/jupyter/kernels/python3");
    for logo in LOGOS {
        if let Ok(bytes) = fs::read(logo_dir.join(logo)) {
            write_file(&dir.join(logo), &bytes, 0o644)?;
        }
    }
    Ok(dir)
}

/// Staging directories of installs that were killed: their pid is gone.
fn remove_abandoned(root: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = file.strip_prefix(name).and_then(|r| r.strip_prefix('.')) else { continue };
        let pid = pid.split('.').next().and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Moves `staged` to `kernels_dir/name`. An existing kernel is exchanged
/// atomically where the file system allows it, else parked and then removed,
/// so at no moment is a half-written kernelspec visible.
pub fn commit(staged: &Path, kernels_dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    fs::create_dir_all(kernels_dir)?;
    let target = kernels_dir.join(name);
    if !target.exists() {
        fs::rename(staged, &target)?;
        remove_empty_parent(staged);
        return Ok(target);
    }
    use nix::fcntl::{renameat2, RenameFlags};
    match renameat2(None, staged, None, &target, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => {
            // `staged` now holds the previous kernel.
            fs::remove_dir_all(staged)?;
        }
        Err(_) => {
            let parked = staged.with_extension("previous");
            fs::rename(&target, &parked)?;
            fs::rename(staged, &target)?;
            fs::remove_dir_all(&parked)?;
        }
    }
    remove_empty_parent(staged);
    Ok(target)
}

fn remove_empty_parent(staged: &Path) {
    if let Some(root) = staged.parent() {
        let _ = fs::remove_dir(root); // fails, as it should, while another install stages there
    }
}

/// Removes a staging directory (a failed verification).
pub fn discard(staged: &Path) {
    let _ = fs::remove_dir_all(staged);
    remove_empty_parent(staged);
}

/// A kernelspec found in a kernels directory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InstalledKernel {
    pub name: String,
    pub dir: PathBuf,
    pub display_name: String,
    /// Our provenance, when we installed it; `None` for foreign kernels.
    pub provenance: Option<Value>,
}

impl InstalledKernel {
    pub fn is_ours(&self) -> bool {
        self.provenance.is_some()
    }
    pub fn venv(&self) -> Option<PathBuf> {
        self.provenance.as_ref()?.get("venv")?.as_str().map(PathBuf::from)
    }
}

/// Kernelspecs in `kernels_dir`, sorted by name.
pub fn installed(kernels_dir: &Path) -> Vec<InstalledKernel> {
    let Ok(entries) = fs::read_dir(kernels_dir) else { return Vec::new() };
    let mut out: Vec<InstalledKernel> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let dir = e.path();
            let text = fs::read_to_string(dir.join("kernel.json")).ok()?;
            let json: Value = serde_json::from_str(&text).ok()?;
            Some(InstalledKernel {
                name: e.file_name().to_string_lossy().into_owned(),
                display_name: json.get("display_name").and_then(Value::as_str).unwrap_or("").to_string(),
                provenance: json.get("metadata").and_then(|m| m.get(METADATA_KEY)).cloned(),
                dir,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Problems visible without starting the kernel: missing launcher, venv or Lmod.
pub fn health(k: &InstalledKernel) -> Vec<String> {
    let mut problems = Vec::new();
    let launcher = k.dir.join(LAUNCHER);
    match fs::metadata(&launcher) {
        Ok(m) if m.permissions().mode() & 0o111 != 0 => {}
        Ok(_) => problems.push(format!("{} is not executable", launcher.display())),
        Err(_) => problems.push(format!("{} is missing", launcher.display())),
    }
    if let Some(venv) = k.venv() {
        if !venv.join("bin/python").exists() {
            problems.push(format!("venv {} is missing", venv.display()));
        }
    }
    let init = k.provenance.as_ref().and_then(|p| p.get("lmod_init")).and_then(Value::as_str);
    if let Some(init) = init {
        if !Path::new(init).is_file() {
            problems.push(format!("Lmod init {init} is missing"));
        }
    }
    problems
}
