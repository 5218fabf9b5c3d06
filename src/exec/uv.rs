//! The uv backend's steps (see `plan::uv` for why a group takes three calls).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::plan::uv::translate;
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
    for (k, v) in [("UV_NATIVE_TLS", "1"), ("UV_PYTHON_DOWNLOADS", "never"), ("UV_NO_PROGRESS", "1")] {
        env.entry(k.to_string()).or_insert_with(|| v.to_string());
    }
}

pub(super) fn venv_argv(python: &Path, venv: &Path) -> Vec<String> {
    vec![
        "venv".into(),
        "--python".into(),
        python.to_string_lossy().into_owned(),
        "--system-site-packages".into(),
        venv.to_string_lossy().into_owned(),
    ]
}

/// One pip group with uv; `work` is a directory for its files (the step's logs).
pub(super) fn install_group(uv: &Path, venv_python: &Path, args: &[String], work: &Path, log: &mut dyn Write, run: &mut Run) -> Result<Outcome, String> {
    let t = translate(args);
    for note in &t.dropped {
        writeln!(log, "uv: not passed on: {note}").ok();
    }
    fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let file = |name: &str| work.join(name);
    let path = |p: PathBuf| p.to_string_lossy().into_owned();
    let listed = run(
        venv_python.to_path_buf(),
        vec!["-c".into(), crate::plan::INSTALLED_PY.into(), path(file("installed.txt")), path(file("outside.txt"))],
        "listing installed distributions",
        log,
    )?;
    if !listed.is_passed() {
        return Ok(listed);
    }
    let write = |name: &str, text: String| fs::write(file(name), text).map_err(|e| format!("cannot write {}: {e}", file(name).display()));
    write("requirements.in", t.requirements.iter().map(|r| format!("{r}\n")).collect())?;
    let installed = fs::read_to_string(file("installed.txt")).unwrap_or_default();
    write("resolved.txt", installed)?;
    let mut compile = vec!["pip".into(), "compile".into(), "--python".into(), path(venv_python.to_path_buf())];
    compile.extend(["--quiet", "--no-header", "--no-annotate"].map(String::from));
    compile.extend(t.compile.iter().cloned());
    compile.extend(["-o".into(), path(file("resolved.txt")), path(file("requirements.in"))]);
    let resolved = run(uv.to_path_buf(), compile, "uv pip compile", log)?;
    if !resolved.is_passed() {
        return Ok(resolved);
    }
    let outside = fs::read_to_string(file("outside.txt")).unwrap_or_default();
    let outside: Vec<&str> = outside.lines().collect();
    let text = fs::read_to_string(file("resolved.txt")).map_err(|e| format!("cannot read {}: {e}", file("resolved.txt").display()))?;
    let pins: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let kept: Vec<&str> = pins.iter().copied().filter(|p| outside.contains(p)).collect();
    if !kept.is_empty() {
        writeln!(log, "already installed outside the venv, kept as pip keeps them: {}", kept.join(" ")).ok();
    }
    let todo: Vec<&str> = pins.iter().copied().filter(|p| !outside.contains(p)).collect();
    if todo.is_empty() {
        writeln!(log, "every requirement is already satisfied").ok();
        return Ok(Outcome::Passed);
    }
    write("install.txt", todo.iter().map(|p| format!("{p}\n")).collect())?;
    let mut install = vec!["pip".into(), "install".into(), "--python".into(), path(venv_python.to_path_buf()), "--no-deps".into()];
    install.extend(t.install.iter().cloned());
    install.extend(["-r".into(), path(file("install.txt"))]);
    run(uv.to_path_buf(), install, "uv pip install", log)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut env = BTreeMap::from([("UV_NATIVE_TLS".to_string(), "0".to_string())]);
        defaults(&mut env);
        assert_eq!(env["UV_NATIVE_TLS"], "0");
        assert_eq!(env["UV_PYTHON_DOWNLOADS"], "never");
    }
}
