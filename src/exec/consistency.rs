//! The `consistency` stage: [`CONSISTENCY_PY`] run by the venv's python in
//! the kernel's environment (modules loaded, venv first on `PATH`), so its
//! `sys.path` is the launcher's: module `PYTHONPATH` entries, the standard
//! library, the venv, then the interpreter's own site-packages.

pub use crate::plan::CONSISTENCY_PY;

/// Arguments to the venv's python.
pub fn argv() -> Vec<String> {
    vec!["-c".into(), CONSISTENCY_PY.into()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A venv without pip or system site-packages (nothing but what a test
    /// puts there), with the host's pip package linked in for its `packaging`.
    struct Env {
        _dir: tempfile::TempDir,
        venv_site: PathBuf,
        module_root: PathBuf,
        module_site: PathBuf,
        python: PathBuf,
    }

    fn python_output(python: &str, code: &str) -> String {
        let out = Command::new(python).args(["-c", code]).output().expect("python3 runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let venv = dir.path().join("venv");
        let status = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).status().expect("python3 -m venv runs");
        assert!(status.success());
        let python = venv.join("bin/python");
        let purelib = python_output(python.to_str().expect("utf-8 path"), "import sysconfig; print(sysconfig.get_paths()['purelib'])");
        let venv_site = PathBuf::from(purelib);
        let pip_dir = python_output("python3", "import os, pip; print(os.path.dirname(pip.__file__))");
        std::os::unix::fs::symlink(pip_dir, venv_site.join("pip")).expect("link pip");
        let module_root = dir.path().join("sw/SciPy-bundle/2022.05");
        let module_site = module_root.join("lib/python3.10/site-packages");
        fs::create_dir_all(&module_site).expect("module site");
        Env { _dir: dir, venv_site, module_root, module_site, python }
    }

    fn dist(site: &Path, name: &str, version: &str, requires: &[&str]) {
        let info = site.join(format!("{}-{version}.dist-info", name.replace('-', "_")));
        fs::create_dir_all(&info).expect("dist-info");
        let mut text = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        for r in requires {
            text.push_str(&format!("Requires-Dist: {r}\n"));
        }
        fs::write(info.join("METADATA"), text).expect("METADATA");
    }

    fn check(env: &Env) -> (i32, String) {
        let out = Command::new(&env.python)
            .args(argv())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("PYTHONPATH", &env.module_site)
            .env("EBROOTSCIPYMINBUNDLE", &env.module_root)
            .env("PYTHONNOUSERSITE", "1")
            .output()
            .expect("venv python runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn last_line(text: &str) -> &str {
        text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
    }

    fn scipy_bundle(env: &Env) {
        dist(&env.module_site, "numpy", "1.22.3", &[]);
        dist(&env.module_site, "pytz", "2022.1", &[]);
        dist(
            &env.module_site,
            "pandas",
            "1.4.2",
            &[
                "pytz (>=2020.1)",
                "numpy (>=1.18.5) ; platform_machine != \"aarch64\" and python_version < \"3.10\"",
                "numpy (>=1.21.0) ; python_version >= \"3.10\"",
                "hypothesis (>=5.5.3) ; extra == 'test'",
            ],
        );
    }

    #[test]
    fn a_venv_copy_of_a_module_package_at_another_version_is_named_with_both() {
        let env = env();
        scipy_bundle(&env);
        dist(&env.venv_site, "numpy", "1.26.4", &[]);
        let (code, text) = check(&env);
        assert_eq!(code, 1, "{text}");
        let venv_site = env.venv_site.display();
        let module_site = env.module_site.display();
        let expected = format!(
            "numpy 1.26.4 (venv {venv_site}) is shadowed by numpy 1.22.3 (module SciPy-bundle/2022.05 on PYTHONPATH {module_site}), which is imported first."
        );
        assert_eq!(last_line(&text), expected, "{text}");
        assert!(text.contains("1 problem(s)"), "{text}");
        assert_eq!(text.matches("is shadowed by").count(), 1, "one problem, said once: {text}");
    }

    #[test]
    fn a_pin_matching_the_module_passes_and_extras_are_not_required() {
        let env = env();
        scipy_bundle(&env);
        dist(&env.venv_site, "numpy", "1.22.3.0", &[]);
        dist(&env.venv_site, "seaborn", "0.13.2", &["numpy (!=1.24.0,>=1.20)", "pandas (>=1.2)", "pytest ; extra == 'dev'"]);
        let (code, text) = check(&env);
        assert_eq!((code, last_line(&text)), (0, "No broken requirements."), "{text}");
    }

    #[test]
    fn unmet_requirements_are_reported_in_pips_words() {
        let env = env();
        scipy_bundle(&env);
        dist(&env.venv_site, "matplotlib", "3.9.0", &["numpy (>=1.23)", "pyparsing (>=2.3.1)", "kiwisolver ; python_version < \"3\""]);
        dist(&env.venv_site, "scipy", "1.8.1", &["numpy (<1.25.0,>=1.17.3)"]);
        let (code, text) = check(&env);
        assert_eq!(code, 1, "{text}");
        let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("matplotlib ")).collect();
        assert_eq!(
            problems,
            [
                "matplotlib 3.9.0 has requirement numpy>=1.23, but you have numpy 1.22.3.",
                "matplotlib 3.9.0 requires pyparsing, which is not installed.",
                "matplotlib 3.9.0 has requirement numpy>=1.23, but you have numpy 1.22.3. (and 1 more above)",
            ],
            "{text}"
        );
        assert!(!text.contains("scipy 1.8.1 has"), "{text}");
        assert!(!text.contains("kiwisolver"), "{text}");
    }

    #[test]
    fn a_requirement_the_fast_parser_rejects_is_read_as_pip_reads_it() {
        // A `packaging` 22+ (the fast parser) comes first; what it cannot read,
        // pip's vendored copy reads; what neither reads is reported.
        let env = env();
        let fake = env.venv_site.join("packaging");
        fs::create_dir_all(&fake).expect("fake packaging");
        fs::write(fake.join("__init__.py"), "__version__ = '99.0'\n").expect("init");
        fs::write(
            fake.join("requirements.py"),
            "class InvalidRequirement(ValueError):\n    pass\nclass Requirement:\n    def __init__(self, line):\n        raise InvalidRequirement(line)\n",
        )
        .expect("requirements");
        fs::write(fake.join("version.py"), "class InvalidVersion(ValueError):\n    pass\nVersion = str\n").expect("version");
        scipy_bundle(&env);
        dist(&env.venv_site, "matplotlib", "3.9.0", &["numpy (>=1.23)", "pytz"]);
        dist(&env.venv_site, "broken", "1.0", &["numpy (>=="]);
        let (code, text) = check(&env);
        assert_eq!(code, 1, "{text}");
        assert!(text.contains("matplotlib 3.9.0 has requirement numpy>=1.23, but you have numpy 1.22.3."), "{text}");
        assert!(text.contains("broken 1.0 has an unreadable requirement 'numpy (>=='."), "{text}");
        assert!(text.contains("2 problem(s)"), "{text}");
    }

    #[test]
    fn the_venv_wins_over_the_interpreters_site_and_both_are_named() {
        // A module's extensions in the interpreter's site-packages come after
        // the venv: the venv's copy is imported, the module's is shadowed.
        let env = env();
        let python_root = env.module_root.parent().and_then(Path::parent).expect("sw dir").join("Python/3.10.4");
        let interpreter_site = python_root.join("lib/python3.10/site-packages");
        dist(&interpreter_site, "requests", "2.27.1", &[]);
        dist(&env.venv_site, "requests", "2.32.3", &[]);
        let code = format!("import sys; sys.path.append({:?}); exec(compile(open(sys.argv[1]).read(), 'c', 'exec'))", interpreter_site.display().to_string());
        let script = env.module_root.join("check.py");
        fs::write(&script, CONSISTENCY_PY).expect("script");
        let out = Command::new(&env.python)
            .args(["-c", &code])
            .arg(&script)
            .env_clear()
            .env("EBROOTPYTHON", &python_root)
            .output()
            .expect("venv python runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(1), "{text}");
        let expected = format!(
            "requests 2.27.1 (module Python/3.10.4 in {}) is shadowed by requests 2.32.3 (venv {}), which is imported first.",
            interpreter_site.display(),
            env.venv_site.display()
        );
        assert_eq!(last_line(&text), expected, "{text}");
    }
}
