//! The uv backend's steps (see `plan::uv` for why a group takes three calls).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::uv::{translate, STAND_INS_PY};
use crate::report::Outcome;

/// Runs one command in the kernel's environment: program, argv, what it is.
pub(super) type Run<'a> = dyn FnMut(PathBuf, Vec<String>, &str, &mut dyn Write) -> Result<Outcome, String> + 'a;

/// Where uv is found when `--installer uv` is asked for: on `PATH`, else
/// next to this binary (where the harness puts it in containers).
pub fn find(path_var: Option<&str>, own_exe: Option<&Path>) -> Option<PathBuf> {
    let mut env = BTreeMap::new();
    if let Some(p) = path_var {
        env.insert("PATH".to_string(), p.to_string());
    }
    super::process::which_in("uv", &env).or_else(|| {
        let beside = own_exe?.parent()?.join("uv");
        super::process::which_in(&beside.to_string_lossy(), &BTreeMap::new()).filter(|p| p.is_file())
    })
}

/// Settings uv gets unless the user set them: the system's CA store (sites
/// and proxies add their CAs there, pip's `cert=` is not read by uv) and
/// never a downloaded Python (the venv is the module's Python).
pub fn defaults(env: &mut BTreeMap<String, String>) {
    for (k, v) in [("UV_SYSTEM_CERTS", "1"), ("UV_PYTHON_DOWNLOADS", "never"), ("UV_NO_PROGRESS", "1")] {
        env.entry(k.to_string()).or_insert_with(|| v.to_string());
    }
}

pub(super) fn venv_argv(python: &Path, venv: &Path) -> Vec<String> {
    vec![
        "venv".into(),
        "--python".into(),
        python.to_string_lossy().into_owned(),
        "--system-site-packages".into(),
        "--allow-existing".into(),
        venv.to_string_lossy().into_owned(),
    ]
}

/// One pip group with uv: stand-ins for the distributions outside the venv,
/// one `uv pip install`, and the stand-ins removed whatever happened.
pub(super) fn install_group(uv: &Path, venv_python: &Path, args: &[String], log: &mut dyn Write, run: &mut Run) -> Result<Outcome, String> {
    let t = translate(args);
    for note in &t.dropped {
        writeln!(log, "uv: not passed on: {note}").ok();
    }
    let stand_ins = |mode: &str| vec!["-c".to_string(), STAND_INS_PY.to_string(), mode.to_string()];
    let added = run(venv_python.to_path_buf(), stand_ins("add"), "adding stand-ins for distributions outside the venv", log)?;
    if !added.is_passed() {
        return Ok(added);
    }
    let mut argv = vec!["pip".into(), "install".into(), "--python".into(), venv_python.to_string_lossy().into_owned()];
    argv.extend(t.args);
    let installed = run(uv.to_path_buf(), argv, "uv pip install", log);
    let removed = run(venv_python.to_path_buf(), stand_ins("remove"), "removing the stand-ins", log)?;
    match installed? {
        Outcome::Passed => Ok(removed),
        problem => Ok(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn uv_is_found_on_path_or_beside_the_binary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        let own = bin.join("hpc-kernels");
        assert_eq!(find(Some("/nonexistent"), Some(&own)), None);
        let uv = bin.join("uv");
        fs::write(&uv, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&uv, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find(Some("/nonexistent"), Some(&own)), Some(uv.clone()));
        assert_eq!(find(Some(&bin.to_string_lossy()), None), Some(uv));
    }

    #[test]
    fn defaults_leave_the_users_settings() {
        let mut env = BTreeMap::from([("UV_SYSTEM_CERTS".to_string(), "0".to_string())]);
        defaults(&mut env);
        assert_eq!(env["UV_SYSTEM_CERTS"], "0");
        assert_eq!(env["UV_PYTHON_DOWNLOADS"], "never");
    }
}
