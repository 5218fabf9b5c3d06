//! Kernelspec directories on disk: staging, and reading back what is installed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::metadata::{Kernelspec, Parsed, PartitionEntry};
use super::{Rendered, LAUNCHER};

/// Logos ipykernel ships, copied so JupyterLab shows the kernel like any other.
const LOGOS: &[&str] = &["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"];

/// Staging lives beside `kernels/` (same file system, so renames are atomic),
/// but outside it, so Jupyter never lists a staged kernel.
pub fn staging_root(kernels_dir: &Path) -> PathBuf {
    kernels_dir.parent().unwrap_or(kernels_dir).join(".hpc-kernels-staging")
}

/// Writes one partition's kernelspec (its `kernel.json`, the dispatcher and
/// the partition's launcher) into a fresh staging directory and returns it.
/// The directory is named by pid *and* node: installs on other nodes stage
/// beside this one in a shared `$HOME`.
pub fn stage(kernels_dir: &Path, rendered: &Rendered, venv: &Path) -> std::io::Result<PathBuf> {
    let name = &rendered.spec.dir_name;
    let root = staging_root(kernels_dir);
    let dir = root.join(format!("{name}.{}@{}", std::process::id(), node()));
    let mut attempt = 0;
    loop {
        attempt += 1;
        fs::create_dir_all(&root)?;
        remove_abandoned(&root, name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        match fs::create_dir(&dir) {
            // Another install removed the (then empty) staging root meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 5 => continue,
            other => break other,
        }
    }?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
    write_file(&dir.join("kernel.json"), rendered.spec.kernel_json().as_bytes(), 0o644)?;
    write_file(&dir.join(LAUNCHER), rendered.dispatcher.as_bytes(), 0o755)?;
    write_file(&dir.join(rendered.launcher_name()), rendered.partition_launcher.as_bytes(), 0o755)?;
    let logo_dir = venv.join("share/jupyter/kernels/python3");
    for logo in LOGOS {
        if let Ok(bytes) = fs::read(logo_dir.join(logo)) {
            write_file(&dir.join(logo), &bytes, 0o644)?;
        }
    }
    Ok(dir)
}

/// This node's name, as a file name part.
pub(super) fn node() -> String {
    let name = nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default();
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// Staging directories of installs on this node that were killed: their pid
/// is gone. Other nodes' are theirs to clean.
fn remove_abandoned(root: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(root) else { return };
    let here = node();
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(name).and_then(|r| r.strip_prefix('.')) else { continue };
        let Some((pid, node)) = rest.split_once('@') else { continue };
        let node = node.split('.').next().unwrap_or(node);
        if node != here {
            continue;
        }
        let alive = pid.parse::<i32>().is_ok_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

pub(super) fn write_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

pub(super) fn remove_empty_parent(staged: &Path) {
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
#[derive(Clone, Debug)]
pub struct InstalledKernel {
    pub name: String,
    pub dir: PathBuf,
    pub display_name: String,
    /// Ours, when we installed it; `None` for foreign kernels.
    pub spec: Option<Kernelspec>,
    /// Written by a version before kernelspecs were shared between partitions.
    pub legacy: bool,
}

impl InstalledKernel {
    pub fn is_ours(&self) -> bool {
        self.spec.is_some()
    }
    /// The partitions it is installed for, with what each install recorded.
    pub fn partitions(&self) -> impl Iterator<Item = (&String, &PartitionEntry)> {
        self.spec.iter().flat_map(|s| s.partitions.iter())
    }
}

/// Reads one kernelspec directory; `None` when it holds no readable `kernel.json`.
pub fn read(dir: &Path) -> Option<InstalledKernel> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let text = fs::read_to_string(dir.join("kernel.json")).ok()?;
    let (display_name, spec, legacy) = match Kernelspec::parse(&name, &text)? {
        Parsed::Ours { spec, legacy } => (spec.display_name.clone(), Some(spec), legacy),
        Parsed::Foreign { display_name } => (display_name, None, false),
    };
    Some(InstalledKernel { name, dir: dir.to_path_buf(), display_name, spec, legacy })
}

/// Kernelspecs in `kernels_dir`, sorted by name.
pub fn installed(kernels_dir: &Path) -> Vec<InstalledKernel> {
    let Ok(entries) = fs::read_dir(kernels_dir) else { return Vec::new() };
    let mut out: Vec<InstalledKernel> = entries.filter_map(Result::ok).filter_map(|e| read(&e.path())).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Problems of one partition of a kernel visible without starting it:
/// missing launchers, venv or Lmod init.
pub fn health(k: &InstalledKernel, entry: &PartitionEntry) -> Vec<String> {
    let mut problems = Vec::new();
    let mut launchers = vec![k.dir.join(LAUNCHER)];
    if entry.launcher != LAUNCHER {
        launchers.push(k.dir.join(&entry.launcher));
    }
    for launcher in launchers {
        match fs::metadata(&launcher) {
            Ok(m) if m.permissions().mode() & 0o111 != 0 => {}
            Ok(_) => problems.push(format!("{} is not executable", launcher.display())),
            Err(_) => problems.push(format!("{} is missing", launcher.display())),
        }
    }
    if !entry.venv.is_empty() && !Path::new(&entry.venv).join("bin/python").exists() {
        problems.push(format!("venv {} is missing", entry.venv));
    }
    if !entry.lmod_init.is_empty() && !Path::new(&entry.lmod_init).is_file() {
        problems.push(format!("Lmod init {} is missing", entry.lmod_init));
    }
    problems
}
