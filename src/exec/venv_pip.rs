//! Where a kernel venv's pip comes from.
//!
//! `python -m venv` runs ensurepip, which installs pip (and, before Python
//! 3.12, setuptools) into every venv: about 2.5 s of a cold install on the
//! machines we measured. A kernel venv is made with `--system-site-packages`,
//! so the module Python's own pip is importable in it and, run by the venv's
//! interpreter, installs into the venv. The venv is therefore made
//! `--without-pip`, and pip is added only when the module's pip is missing or
//! older than the one ensurepip would install. Either way the venv gets
//! `bin/pip`, `bin/pip3` and `bin/pipX.Y`, so `pip install` in an activated
//! venv (and `%pip` in the kernel) installs into the venv as before. uv's
//! venvs (made without pip) get the same commands.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Prints `HPCK_PIP <module pip version> <ensurepip's version>` (empty when absent).
pub const PROBE_PY: &str = "\
import sys
def version(load):
    try:
        return load()
    except Exception:
        return ''
def pip_version():
    import pip
    return pip.__version__
def bundled_version():
    import ensurepip
    return ensurepip.version()
print('HPCK_PIP', version(pip_version) or '-', version(bundled_version) or '-', '%d.%d' % sys.version_info[:2])
";

/// What the probe found, read from its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub module_pip: Option<String>,
    pub bundled_pip: Option<String>,
    /// `X.Y` of the venv's interpreter.
    pub python: String,
}

/// How the venv gets its pip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipSource {
    /// The module Python's pip, found through the system site packages.
    Module { version: String },
    /// `python -m ensurepip`: the module's pip is missing or older.
    Ensurepip { why: String },
    /// Neither: pip groups cannot run.
    None,
}

impl Probe {
    pub fn parse(output: &str) -> Option<Probe> {
        let line = output.lines().rev().find_map(|l| l.strip_prefix("HPCK_PIP "))?;
        let mut words = line.split_whitespace().map(|w| (w != "-").then(|| w.to_string()));
        let (module_pip, bundled_pip, python) = (words.next()?, words.next()?, words.next()??);
        Some(Probe { module_pip, bundled_pip, python })
    }

    pub fn source(&self) -> PipSource {
        match (&self.module_pip, &self.bundled_pip) {
            (Some(module), Some(bundled)) if release(module) < release(bundled) => PipSource::Ensurepip {
                why: format!("the module's pip {module} is older than ensurepip's {bundled}"),
            },
            (Some(module), _) => PipSource::Module { version: module.clone() },
            (None, Some(_)) => PipSource::Ensurepip { why: "the module's Python has no pip".into() },
            (None, None) => PipSource::None,
        }
    }
}

/// The numeric release of a pip version (`23.0.1` → [23, 0, 1]; a
/// pre-release or local part ends it).
fn release(version: &str) -> Vec<u64> {
    version.split('.').map_while(|part| part.parse::<u64>().ok()).collect()
}

/// `bin/pip`, `bin/pip3` and `bin/pipX.Y` that run `python -m pip` with the
/// venv's interpreter next to them, unless the venv has its own.
pub fn write_commands(venv: &Path, python: &str) -> io::Result<Vec<String>> {
    let bin = venv.join("bin");
    let script = "#!/bin/sh\n# pip for this venv: the module Python's pip, run by the venv's interpreter, installs here.\nexec \"$(dirname -- \"$0\")/python\" -m pip \"$@\"\n";
    let mut written = Vec::new();
    for name in ["pip".to_string(), "pip3".to_string(), format!("pip{python}")] {
        let path = bin.join(&name);
        if path.exists() {
            continue;
        }
        fs::write(&path, script)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        written.push(name);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("HPCK_PIP 24.0 23.0.1 3.11", Some("24.0"), Some("23.0.1"), "3.11")]
    #[case("noise\nHPCK_PIP - 22.0.4 3.10\n", None, Some("22.0.4"), "3.10")]
    #[case("HPCK_PIP 9.0.1 - 3.6", Some("9.0.1"), None, "3.6")]
    fn probe_output_is_read(#[case] out: &str, #[case] module: Option<&str>, #[case] bundled: Option<&str>, #[case] python: &str) {
        let probe = Probe::parse(out).expect("parsed");
        assert_eq!(probe.module_pip.as_deref(), module);
        assert_eq!(probe.bundled_pip.as_deref(), bundled);
        assert_eq!(probe.python, python);
    }

    #[rstest]
    #[case("")]
    #[case("HPCK_PIP 24.0")]
    #[case("Traceback (most recent call last):")]
    fn unreadable_probe_output_is_none(#[case] out: &str) {
        assert_eq!(Probe::parse(out), None);
    }

    #[rstest]
    #[case(Some("24.0"), Some("23.0.1"), "module 24.0")]
    #[case(Some("23.0.1"), Some("23.0.1"), "module 23.0.1")]
    #[case(Some("22.3"), Some("23.0.1"), "ensurepip: the module's pip 22.3 is older than ensurepip's 23.0.1")]
    #[case(Some("23.0.1"), Some("23.0.10"), "ensurepip: the module's pip 23.0.1 is older than ensurepip's 23.0.10")]
    #[case(Some("24.1.dev0"), Some("24.0"), "module 24.1.dev0")]
    #[case(None, Some("23.0.1"), "ensurepip: the module's Python has no pip")]
    #[case(Some("9.0.1"), None, "module 9.0.1")]
    #[case(None, None, "none")]
    fn pip_source_prefers_the_modules_pip_unless_older(#[case] module: Option<&str>, #[case] bundled: Option<&str>, #[case] want: &str) {
        let probe = Probe { module_pip: module.map(String::from), bundled_pip: bundled.map(String::from), python: "3.11".into() };
        let got = match probe.source() {
            PipSource::Module { version } => format!("module {version}"),
            PipSource::Ensurepip { why } => format!("ensurepip: {why}"),
            PipSource::None => "none".into(),
        };
        assert_eq!(got, want);
    }

    #[test]
    fn commands_are_written_executable_and_never_over_the_venvs_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        fs::create_dir_all(&bin).expect("bin");
        fs::write(bin.join("pip3"), "own").expect("own pip3");
        let written = write_commands(dir.path(), "3.10").expect("written");
        assert_eq!(written, ["pip", "pip3.10"]);
        assert_eq!(fs::read_to_string(bin.join("pip3")).expect("pip3"), "own");
        let mode = fs::metadata(bin.join("pip")).expect("pip").permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
        assert!(fs::read_to_string(bin.join("pip3.10")).expect("pip3.10").contains("-m pip"));
    }
}
