//! The launch check: start a kernelspec through a real jupyter_client, from a
//! bare environment with a poisoned PYTHONPATH, as a Jupyter server would.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::process::{self, CommandSpec};
use crate::kernelspec::LAUNCH_CHECK_PY;
use crate::report::Outcome;

/// A package that breaks any kernel whose launcher lets the server's PYTHONPATH through.
const POISON: &str = "raise ImportError('the Jupyter server PYTHONPATH leaked into the kernel')\n";

/// The kernelspec to start, under its name, on a partition (the launcher's
/// `HPC_KERNELS_PARTITION`), or where the launcher finds itself.
pub struct Target<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
    pub partition: Option<&'a str>,
}

/// What the started kernel must report about itself: the venv it runs in and
/// the modules that must be loaded in it.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    pub venv: Option<String>,
    pub modules: Vec<String>,
}

pub fn check(
    python: &Path,
    target: &Target,
    imports: &[String],
    expected: &Expected,
    home: &str,
    timeout: Duration,
    log: &mut dyn Write,
) -> std::io::Result<Outcome> {
    let (kernelspec_dir, name) = (target.dir, target.name);
    let tmp = tempfile::tempdir()?;
    let kernels = tmp.path().join("path/kernels");
    std::fs::create_dir_all(&kernels)?;
    std::os::unix::fs::symlink(kernelspec_dir, kernels.join(name))?;
    let poison = tmp.path().join("poison/ipykernel");
    std::fs::create_dir_all(&poison)?;
    std::fs::write(poison.join("__init__.py"), POISON)?;
    let script = tmp.path().join("launch_check.py");
    std::fs::write(&script, LAUNCH_CHECK_PY)?;

    let t = tmp.path();
    let mut env: BTreeMap<String, String> = [
        ("HOME", home.to_string()),
        ("PATH", "/usr/bin:/bin".to_string()),
        ("LANG", "C.UTF-8".to_string()),
        ("PYTHONPATH", t.join("poison").to_string_lossy().into_owned()),
        ("JUPYTER_PATH", t.join("path").to_string_lossy().into_owned()),
        ("JUPYTER_DATA_DIR", t.join("data").to_string_lossy().into_owned()),
        ("JUPYTER_CONFIG_DIR", t.join("config").to_string_lossy().into_owned()),
        ("JUPYTER_RUNTIME_DIR", t.join("runtime").to_string_lossy().into_owned()),
        ("JUPYTER_PLATFORM_DIRS", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(p) = target.partition {
        env.insert(crate::kernelspec::PARTITION_ENV.to_string(), p.to_string());
    }
    let mut args = vec![script.to_string_lossy().into_owned(), name.to_string(), timeout.as_secs().to_string()];
    args.extend(imports.iter().cloned());
    let partition = target.partition.map(|p| format!("{}={p} ", crate::kernelspec::PARTITION_ENV)).unwrap_or_default();
    writeln!(log, "$ env -i PYTHONPATH=<poison> {partition}{} launch_check.py {name} …", python.display())?;
    let spec = CommandSpec { program: python.to_path_buf(), args, env, cwd: Some(t.to_path_buf()) };
    let finished = process::run(&spec, timeout + Duration::from_secs(30), log)?;
    if finished.timed_out {
        return Ok(Outcome::TimedOut {
            message: format!("the kernel did not answer within {}s", timeout.as_secs()),
            after_secs: timeout.as_secs(),
        });
    }
    let result = finished
        .output
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("HPCK_RESULT "))
        .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok());
    Ok(match result {
        Some(r) if r["status"] == "ok" => match environment_mismatch(r["stdout"].as_str().unwrap_or(""), expected) {
            None => Outcome::Passed,
            Some(message) => Outcome::Failed { message: format!("kernel started in the wrong environment: {message}") },
        },
        Some(r) => {
            let error = r["error"].as_str().unwrap_or("").trim();
            let last = error.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(error);
            Outcome::Failed { message: format!("kernel launch failed: {}", strip_ansi(last)) }
        }
        None => Outcome::Failed {
            message: format!(
                "the launch check with {} gave no result (exit {:?}); is jupyter_client installed there?",
                python.display(),
                finished.code
            ),
        },
    })
}

/// Compares what the kernel printed (`sys.prefix=…`, `LOADEDMODULES=…`)
/// with what it must have: `None` when it matches.
fn environment_mismatch(stdout: &str, expected: &Expected) -> Option<String> {
    let field = |key: &str| stdout.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
    let mut problems = Vec::new();
    if let Some(venv) = &expected.venv {
        match field("sys.prefix=") {
            None => problems.push("the kernel did not report its sys.prefix".to_string()),
            Some(prefix) if !same_path(prefix, venv) => {
                problems.push(format!("sys.prefix is {prefix}, not the kernel's venv {venv}"))
            }
            Some(_) => {}
        }
    }
    if !expected.modules.is_empty() {
        match field("LOADEDMODULES=") {
            None => problems.push("the kernel did not report LOADEDMODULES".to_string()),
            Some(loaded) => {
                let loaded: Vec<&str> = loaded.split(':').filter(|m| !m.is_empty()).collect();
                let missing: Vec<&str> =
                    expected.modules.iter().map(String::as_str).filter(|m| !loaded.contains(m)).collect();
                if !missing.is_empty() {
                    let shown = if loaded.is_empty() { "none".to_string() } else { loaded.join(" ") };
                    problems.push(format!("modules not loaded: {} (loaded: {shown})", missing.join(" ")));
                }
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn same_path(a: &str, b: &str) -> bool {
    let canonical = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| Path::new(p).to_path_buf());
    a.trim_end_matches('/') == b.trim_end_matches('/') || canonical(a) == canonical(b)
}

/// Tracebacks from ipykernel carry ANSI colours.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(venv: &str, modules: &[&str]) -> Expected {
        Expected { venv: Some(venv.into()), modules: modules.iter().map(|m| m.to_string()).collect() }
    }

    #[test]
    fn a_kernel_in_its_venv_with_its_modules_passes() {
        let out = "sys.prefix=/ws/alpha/pytorch/venv-1\nLOADEDMODULES=release/23.10:GCC/11.3.0:OpenMPI/4.1.4:PyTorch/1.13.1\n";
        assert_eq!(environment_mismatch(out, &expected("/ws/alpha/pytorch/venv-1/", &["GCC/11.3.0", "PyTorch/1.13.1"])), None);
    }

    #[test]
    fn a_kernel_outside_its_venv_fails_naming_both_prefixes() {
        let out = "sys.prefix=/usr\nLOADEDMODULES=PyTorch/1.13.1\n";
        let m = environment_mismatch(out, &expected("/ws/v", &["PyTorch/1.13.1"])).unwrap();
        assert_eq!(m, "sys.prefix is /usr, not the kernel's venv /ws/v");
    }

    #[test]
    fn a_kernel_without_a_pinned_module_fails_naming_it() {
        let out = "sys.prefix=/ws/v\nLOADEDMODULES=release/23.10:GCC/11.3.0\n";
        let m = environment_mismatch(out, &expected("/ws/v", &["GCC/11.3.0", "PyTorch/1.13.1"])).unwrap();
        assert_eq!(m, "modules not loaded: PyTorch/1.13.1 (loaded: release/23.10 GCC/11.3.0)");
        let none = environment_mismatch("sys.prefix=/ws/v\nLOADEDMODULES=\n", &expected("/ws/v", &["X/1"])).unwrap();
        assert_eq!(none, "modules not loaded: X/1 (loaded: none)");
    }

    #[test]
    fn a_prefix_of_a_module_name_is_not_that_module() {
        let out = "sys.prefix=/ws/v\nLOADEDMODULES=PyTorch/1.13.1-CUDA-11.7.0\n";
        assert!(environment_mismatch(out, &expected("/ws/v", &["PyTorch/1.13.1"])).is_some());
    }

    #[test]
    fn silence_is_not_a_pass() {
        let m = environment_mismatch("", &expected("/ws/v", &["X/1"])).unwrap();
        assert!(m.contains("did not report its sys.prefix") && m.contains("did not report LOADEDMODULES"), "{m}");
        assert_eq!(environment_mismatch("", &Expected::default()), None);
    }

    #[test]
    fn ansi_codes_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[0;31mModuleNotFoundError\u{1b}[0m: x"), "ModuleNotFoundError: x");
    }
}
