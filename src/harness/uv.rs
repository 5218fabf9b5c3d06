//! uv for the containers: the PyPI wheel installed into the host's tools venv
//! (`CACHE/tools/venv/bin/uv`, where scripts/setup-host.sh puts it too), then
//! mounted next to the hpc-kernels binary in every container; the images stay
//! as they are.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::wheelhouse::tools;
use crate::error::{Error, Result};

/// Where uv is mounted in containers: beside the binary, where `install` looks.
pub const UV_IN_CONTAINER: &str = "/opt/hpc-kernels/bin/uv";

/// The tools venv's uv, installed from PyPI on first use.
pub fn provision(cache_dir: &Path, on_phase: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let uv = tools::tools_venv(cache_dir).join("bin/uv");
    if works(&uv) {
        return Ok(uv);
    }
    let python = tools::pip_python(cache_dir)?;
    let _guard = super::wheelhouse::lock_cache_dir(&cache_dir.join("tools"), "tools directory")?;
    if works(&uv) {
        return Ok(uv);
    }
    on_phase("downloading uv (the PyPI wheel) into the tools venv");
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--quiet", "uv"])
        .output()
        .map_err(|e| Error::environment(format!("cannot run {}", python.display())).with_source(e))?;
    if out.status.success() && works(&uv) {
        return Ok(uv);
    }
    Err(Error::environment(format!(
        "`{} -m pip install uv` gave no working {}: {}",
        python.display(),
        uv.display(),
        String::from_utf8_lossy(&out.stderr).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
    ))
    .with_hint("check that PyPI is reachable, or run scripts/setup-host.sh; --installer pip needs no uv"))
}

/// `uv --version`'s answer, e.g. `uv 0.13.9`.
pub fn version(uv: &Path) -> Option<String> {
    let out = Command::new(uv).arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).split_whitespace().take(2).collect::<Vec<_>>().join(" "))
}

fn works(uv: &Path) -> bool {
    uv.is_file() && version(uv).is_some()
}

