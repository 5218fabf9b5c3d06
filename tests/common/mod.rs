//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

/// Container tests resolve against PyPI as it was on this date (`--exclude-newer`),
/// so their verdicts do not change when the index does.
#[allow(dead_code)]
pub const INDEX_DATE: &str = "2026-01-15";

/// How to leave out the tests that need Docker or Lmod so that the runner
/// reports them as skipped (a test never passes without having run).
pub const SKIP_HINT: &str = "run `cargo nextest run --profile no-containers` to leave the Docker and Lmod tests out; \
     nextest then counts them as skipped";

/// A test that needs Lmod fails without it: see [`SKIP_HINT`].
pub fn require_lmod() {
    assert!(
        Path::new(LMOD_INIT).is_file(),
        "this test needs Lmod ({LMOD_INIT} is missing): scripts/setup-host.sh installs Debian's lmod; or {SKIP_HINT}"
    );
}

/// A test that needs a program fails without it.
pub fn require_program(program: &str, package: &str) {
    let found = Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "this test needs {program}: scripts/setup-host.sh installs the Debian package {package}");
}

pub fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("hpc-kernels").expect("binary built");
    // The tests name their installer; a developer's site default must not choose for them.
    cmd.env_remove("HPC_KERNELS_INSTALLER");
    cmd
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// A small hierarchical module tree: a sticky release, and `Demo/1.0`, whose
/// Python package `demo_pkg` imports only while the module is loaded.
pub fn module_tree(root: &Path) -> PathBuf {
    let mods = root.join("modules");
    let pkgs = root.join("software/Demo/1.0/site-packages");
    std::fs::create_dir_all(mods.join("release")).unwrap();
    std::fs::create_dir_all(mods.join("Demo")).unwrap();
    std::fs::create_dir_all(pkgs.join("demo_pkg")).unwrap();
    std::fs::write(mods.join("release/23.10.lua"), "add_property(\"lmod\",\"sticky\")\n").unwrap();
    std::fs::write(
        mods.join("Demo/1.0.lua"),
        format!(
            "setenv(\"EBROOTDEMO\", \"{0}\")\nsetenv(\"EBVERSIONDEMO\", \"1.0\")\nprepend_path(\"PYTHONPATH\", \"{0}\")\n",
            pkgs.display()
        ),
    )
    .unwrap();
    std::fs::write(pkgs.join("demo_pkg/__init__.py"), "__version__ = '1.0'\n").unwrap();
    mods
}

/// A PYTHONPATH entry whose `ipykernel` breaks any kernel it reaches.
pub fn poison_dir(root: &Path) -> PathBuf {
    let dir = root.join("poison");
    std::fs::create_dir_all(dir.join("ipykernel")).unwrap();
    std::fs::write(dir.join("ipykernel/__init__.py"), "raise ImportError('poisoned PYTHONPATH reached the kernel')\n").unwrap();
    dir
}

/// A Jupyter client that starts a kernel by name and runs one cell.
pub const CLIENT: &str = r#"
import sys
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name=sys.argv[1])
km.start_kernel()
kc = km.client(); kc.start_channels()
try:
    kc.wait_for_ready(timeout=60)
    reply = kc.execute_interactive(sys.argv[2], timeout=60, output_hook=lambda m: print(m["content"].get("text", ""), end=""))
    print("STATUS", reply["content"]["status"])
finally:
    kc.stop_channels(); km.shutdown_kernel(now=True)
"#;

pub struct Site {
    pub root: tempfile::TempDir,
    pub modulepath: PathBuf,
    pub poison: PathBuf,
}

impl Site {
    pub fn new() -> Site {
        let root = tempfile::tempdir().unwrap();
        let modulepath = module_tree(root.path());
        let poison = poison_dir(root.path());
        Site { root, modulepath, poison }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    pub fn spec(&self, test_script: &str, extra_kernel: &str) -> PathBuf {
        let spec = format!(
            r#"{{
  "modules_by_cluster": {{ "testpart": "release/23.10" }},
  "pip_module_groups": {{ "jupyter": "ipykernel" }},
  "kernels": {{
    "demo": {{
      "name": "Demo \"kernel\"",
      "module_load": ["Demo/1.0"],
      "pip_dependencies": ["jupyter"],
      "check_libs": "demo_pkg ipykernel",
      "test_script": {test_script}
    }}{extra_kernel}
  }}
}}"#
        );
        let path = self.path("spec.json");
        std::fs::write(&path, spec).unwrap();
        path
    }
    /// Writes a spec with the given `pip_module_groups` and `kernels` objects (JSON text).
    pub fn spec_with(&self, groups: &str, kernels: &str) -> PathBuf {
        let spec = format!(
            r#"{{ "modules_by_cluster": {{ "testpart": "release/23.10" }}, "pip_module_groups": {groups}, "kernels": {kernels} }}"#
        );
        let path = self.path("spec.json");
        std::fs::write(&path, spec).unwrap();
        path
    }
    /// `hpc-kernels install` for partition `testpart` into this site, as a process.
    pub fn install_command(&self, spec: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("hpc-kernels"));
        cmd.args(["install", "--partition", "testpart", "--workspace"])
            .arg(self.path("ws"))
            .arg("--prefix")
            .arg(self.path("prefix"))
            .arg(spec)
            .args(extra)
            .env("MODULEPATH", &self.modulepath)
            .env("PYTHONPATH", &self.poison)
            .env("HOME", self.path("home"))
            .env_remove("LOADEDMODULES")
            .env_remove("_LMFILES_");
        if let Ok(index) = std::env::var("HPC_KERNELS_TEST_INDEX_URL") {
            cmd.args(["--index-url", &index]);
        }
        cmd
    }
    pub fn install(&self, spec: &Path) -> assert_cmd::assert::Assert {
        let mut cmd = assert_cmd::Command::from_std(self.install_command(spec, &["--json"]));
        cmd.timeout(std::time::Duration::from_secs(600)).assert()
    }
    pub fn kernel_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
    pub fn venv_python(&self) -> PathBuf {
        PathBuf::from(self.kernel_json()["metadata"]["hpc_kernels"]["partitions"]["testpart"]["venv"].as_str().unwrap()).join("bin/python")
    }
    /// Starts the installed kernel as a bare Jupyter server would: `env -i`,
    /// no `module` function, no MODULEPATH, a poisoned PYTHONPATH.
    pub fn run_cell(&self, code: &str) -> String {
        std::fs::write(self.path("client.py"), CLIENT).unwrap();
        let out = Command::new("env")
            .arg("-i")
            .arg(format!("HOME={}", self.path("home").display()))
            .arg("PATH=/usr/bin:/bin")
            .arg(format!("PYTHONPATH={}", self.poison.display()))
            // This host's domain names no partition; the server says which one it is.
            .arg("HPC_KERNELS_PARTITION=testpart")
            .arg(format!("JUPYTER_PATH={}", self.path("prefix/share/jupyter").display()))
            .arg(format!("JUPYTER_DATA_DIR={}", self.path("empty-data").display()))
            .arg(self.venv_python())
            .arg(self.path("client.py"))
            .arg("demo")
            .arg(code)
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}


/// A test that needs Docker fails without it: see [`SKIP_HINT`].
pub fn require_docker() {
    let ok = Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs Docker Engine (`docker info` failed); or {SKIP_HINT}");
}

/// The python of the tools venv that scripts/setup-host.sh makes (with
/// junitparser); fails the test with the fix when it is missing.
pub fn tools_python() -> PathBuf {
    let venv = hpc_kernels::harness::wheelhouse::tools::tools_venv(&hpc_kernels::paths::default_cache_dir());
    let python = venv.join("bin/python");
    let ok = Command::new(&python).args(["-c", "import junitparser"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs junitparser in {}: run scripts/setup-host.sh", venv.display());
    python
}

/// Runs the tools venv's `python -c CODE ARGS…`; panics with its output when it fails.
pub fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new(tools_python()).arg("-c").arg(code).args(args).output().expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "python3 failed: {text}");
    text
}

/// Container tests that count containers must not overlap (also across test
/// binaries under `cargo test`): one at a time, by a lock file.
pub fn container_test_lock() -> nix::fcntl::Flock<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("hpc-kernels-container-tests.lock"))
        .unwrap();
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| e).unwrap()
}
