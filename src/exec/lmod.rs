//! Finding Lmod and loading modules in one Lmod session, whose resulting
//! environment the later steps of a kernel run in.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, CommandSpec, Finished};

/// Where Lmod's bash init lives on common installs (Debian's package first).
pub const INIT_CANDIDATES: &[&str] = &[
    "/usr/share/lmod/lmod/init/bash",
    "/opt/lmod/lmod/init/bash",
    "/usr/local/lmod/lmod/init/bash",
    "/sw/lmod/lmod/init/bash",
];

/// Variables that must never flow from the installing user (or the Jupyter
/// server) into a kernel: modules prepend to them, they do not reset them.
pub const SCRUBBED_VARS: &[&str] =
    &["PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "LD_LIBRARY_PATH", "VIRTUAL_ENV"];

/// Finds Lmod's bash init script: `$LMOD_CMD`, `$LMOD_PKG`, `$LMOD_DIR`, then the usual paths.
pub fn find_init(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(cmd) = env.get("LMOD_CMD") {
        // $LMOD_CMD is <pkg>/libexec/lmod
        if let Some(pkg) = Path::new(cmd).parent().and_then(Path::parent) {
            candidates.push(pkg.join("init/bash"));
        }
    }
    if let Some(pkg) = env.get("LMOD_PKG") {
        candidates.push(Path::new(pkg).join("init/bash"));
    }
    if let Some(dir) = env.get("LMOD_DIR") {
        if let Some(pkg) = Path::new(dir).parent() {
            candidates.push(pkg.join("init/bash"));
        }
    }
    candidates.extend(INIT_CANDIDATES.iter().map(PathBuf::from));
    candidates.into_iter().find(|p| p.is_file())
}

/// The environment a kernel's install starts from: this process's, minus the
/// scrubbed variables, with Lmod told not to page or colour.
pub fn base_env(current: impl IntoIterator<Item = (String, String)>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> =
        current.into_iter().filter(|(k, _)| !SCRUBBED_VARS.contains(&k.as_str())).collect();
    env.insert("LMOD_PAGER".into(), "none".into());
    env.insert("LMOD_COLORIZE".into(), "no".into());
    env
}

const LOAD_SCRIPT: &str = r#"
init=$1 env_out=$2 list_out=$3
shift 3
# shellcheck source=/dev/null
source "$init" || { echo "cannot source Lmod init $init" >&2; exit 3; }
module purge || exit 1
echo "MODULEPATH=${MODULEPATH:-}"
if [ "$#" -gt 0 ]; then
  module load "$@" || exit 1
fi
module -t list 2> "$list_out"
cat "$list_out"
env -0 > "$env_out"
"#;

pub struct Loaded {
    pub finished: Finished,
    /// The environment after the loads (empty when they failed).
    pub env: BTreeMap<String, String>,
    /// `module -t list` after the loads, in load order.
    pub loaded: Vec<String>,
}

/// Purges and loads `modules` in a fresh bash; modules are passed as
/// arguments, never spliced into the script.
pub fn load(
    init: &Path,
    modules: &[String],
    base: &BTreeMap<String, String>,
    timeout: Duration,
    log: &mut dyn Write,
) -> std::io::Result<Loaded> {
    let dir = tempfile::tempdir()?;
    let env_out = dir.path().join("env");
    let list_out = dir.path().join("list");
    let mut args = vec![
        "--noprofile".into(),
        "--norc".into(),
        "-c".into(),
        LOAD_SCRIPT.into(),
        "hpc-kernels-modules".into(),
        init.to_string_lossy().into_owned(),
        env_out.to_string_lossy().into_owned(),
        list_out.to_string_lossy().into_owned(),
    ];
    args.extend(modules.iter().cloned());
    let mut env = base.clone();
    env.remove("BASH_ENV");
    let spec = CommandSpec { program: "/bin/bash".into(), args, env, cwd: None };
    let finished = process::run(&spec, timeout, log)?;
    if !finished.success() {
        return Ok(Loaded { finished, env: BTreeMap::new(), loaded: Vec::new() });
    }
    let env = parse_env0(&std::fs::read(&env_out).unwrap_or_default());
    let loaded = parse_list(&std::fs::read_to_string(&list_out).unwrap_or_default());
    Ok(Loaded { finished, env, loaded })
}

/// Parses `env -0` output. Exported bash functions (`BASH_FUNC_module%%`) are kept:
/// they give `test_script` the `module` command.
pub fn parse_env0(bytes: &[u8]) -> BTreeMap<String, String> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (k, v) = entry.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Parses `module -t list`: one module per line, headers and blanks skipped.
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.ends_with(':') && !l.starts_with("No modules"))
        .map(String::from)
        .collect()
}

/// Pins each requested module to the full name Lmod loaded (`Python` →
/// `Python/3.10.4`), keeping the requested order.
pub fn pin(requested: &[String], loaded: &[String]) -> Vec<String> {
    requested
        .iter()
        .map(|req| {
            if req.contains('/') && loaded.contains(req) {
                return req.clone();
            }
            loaded
                .iter()
                .find(|full| full.rsplit_once('/').map(|(name, _)| name) == Some(req.as_str()))
                .cloned()
                .unwrap_or_else(|| req.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn pins_unversioned_requests() {
        let loaded = s(&["release/23.10", "GCCcore/11.3.0", "Python/3.10.4", "PyTorch/1.13.1"]);
        assert_eq!(
            pin(&s(&["release/23.10", "Python", "PyTorch/1.13.1", "Missing"]), &loaded),
            s(&["release/23.10", "Python/3.10.4", "PyTorch/1.13.1", "Missing"])
        );
    }

    #[test]
    fn env0_parsing_keeps_values_with_equals_and_newlines() {
        let env = parse_env0(b"A=1\0B=x=y\0F=() {  echo\n}\0\0=bad\0");
        assert_eq!(env.get("B").unwrap(), "x=y");
        assert_eq!(env.get("F").unwrap(), "() {  echo\n}");
        assert_eq!(env.len(), 3);
    }

    #[test]
    fn base_env_scrubs_python_and_loader_variables() {
        let env = base_env(vec![
            ("PYTHONPATH".to_string(), "/poison".to_string()),
            ("LD_LIBRARY_PATH".to_string(), "/poison".to_string()),
            ("HOME".to_string(), "/home/u".to_string()),
        ]);
        assert!(!env.contains_key("PYTHONPATH") && !env.contains_key("LD_LIBRARY_PATH"));
        assert_eq!(env["HOME"], "/home/u");
    }

    #[test]
    fn list_parsing_skips_headers() {
        assert_eq!(parse_list("\nrelease/23.10\nGCC/11.3.0\n"), s(&["release/23.10", "GCC/11.3.0"]));
        assert!(parse_list("No modules loaded\n").is_empty());
    }
}
