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

pub fn check(
    python: &Path,
    target: &Target,
    imports: &[String],
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
        Some(r) if r["status"] == "ok" => Outcome::Passed,
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
    #[test]
    fn ansi_codes_are_stripped() {
        assert_eq!(super::strip_ansi("\u{1b}[0;31mModuleNotFoundError\u{1b}[0m: x"), "ModuleNotFoundError: x");
    }
}
