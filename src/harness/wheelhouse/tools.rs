//! The host's Python tools: a venv under the cache, made with the host's
//! `python3 -m venv`. Debian 12's system Python refuses `pip install`
//! (externally managed) and has no pip at all without `python3-pip`, while
//! `python3-venv` brings pip through `ensurepip` without any network. The
//! wheel downloads run here; `scripts/setup-host.sh` makes the same venv (and
//! adds the test tools to it).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Written last: a venv without it is incomplete and made again.
const READY: &str = ".hpc-kernels-ready";

/// `CACHE/tools/venv`, where setup-host.sh puts it too.
pub fn tools_venv(cache_dir: &Path) -> PathBuf {
    cache_dir.join("tools").join("venv")
}

/// The tools venv's python, with pip; made on first use.
pub fn pip_python(cache_dir: &Path) -> Result<PathBuf> {
    let venv = tools_venv(cache_dir);
    let python = venv.join("bin/python");
    if venv.join(READY).is_file() && python.is_file() {
        return Ok(python);
    }
    let _guard = super::lock_cache_dir(&cache_dir.join("tools"), "tools directory")?;
    if venv.join(READY).is_file() && python.is_file() {
        return Ok(python);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| Error::io("remove the incomplete tools venv", &venv, e))?;
    }
    let hint = "install Debian's python3-venv (scripts/setup-host.sh does)";
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .map_err(|e| Error::environment("cannot run python3 to make the tools venv").with_source(e).with_hint(hint))?;
    let pip = Command::new(&python).args(["-m", "pip", "--version"]).output();
    match pip {
        Ok(out) if made.status.success() && out.status.success() => {
            fs::write(venv.join(READY), b"").map_err(|e| Error::io("write", &venv.join(READY), e))?;
            Ok(python)
        }
        _ => Err(Error::environment(format!(
            "`python3 -m venv {}` gave no venv with pip: {}",
            venv.display(),
            String::from_utf8_lossy(&made.stderr).lines().last().unwrap_or("")
        ))
        .with_hint(hint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_venv_is_made_once_and_has_pip() {
        let cache = tempfile::tempdir().unwrap();
        let python = pip_python(cache.path()).expect("python3 -m venv works on this host");
        assert_eq!(python, tools_venv(cache.path()).join("bin/python"));
        let ready = tools_venv(cache.path()).join(READY);
        let first = fs::metadata(&ready).unwrap().modified().unwrap();
        assert_eq!(pip_python(cache.path()).unwrap(), python);
        assert_eq!(fs::metadata(&ready).unwrap().modified().unwrap(), first, "made again");
    }

    #[test]
    fn an_incomplete_tools_venv_is_made_again() {
        let cache = tempfile::tempdir().unwrap();
        fs::create_dir_all(tools_venv(cache.path()).join("bin")).unwrap();
        fs::write(tools_venv(cache.path()).join("bin/python"), "not python").unwrap();
        let python = pip_python(cache.path()).unwrap();
        let out = Command::new(&python).args(["-m", "pip", "--version"]).output().unwrap();
        assert!(out.status.success());
    }
}
