//! End to end on this host: Debian's Lmod, a module tree made here, real pip,
//! real venvs, and kernels started by a real jupyter_client.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const CLIENT: &str = r#"
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

struct Site {
    root: tempfile::TempDir,
    modulepath: PathBuf,
    poison: PathBuf,
}

impl Site {
    fn new() -> Site {
        let root = tempfile::tempdir().unwrap();
        let modulepath = module_tree(root.path());
        let poison = poison_dir(root.path());
        Site { root, modulepath, poison }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }
    fn spec(&self, test_script: &str, extra_kernel: &str) -> PathBuf {
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
    fn install(&self, spec: &Path) -> assert_cmd::assert::Assert {
        let mut cmd = bin();
        cmd.args(["install", "--partition", "testpart", "--json", "--workspace"])
            .arg(self.path("ws"))
            .arg("--prefix")
            .arg(self.path("prefix"))
            .arg(spec)
            .env("MODULEPATH", &self.modulepath)
            .env("PYTHONPATH", &self.poison)
            .env("HOME", self.path("home"))
            .env_remove("LOADEDMODULES")
            .env_remove("_LMFILES_");
        if let Ok(index) = std::env::var("HPC_KERNELS_TEST_INDEX_URL") {
            cmd.args(["--index-url", &index]);
        }
        cmd.timeout(std::time::Duration::from_secs(600)).assert()
    }
    fn kernel_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }
    fn venv_python(&self) -> PathBuf {
        PathBuf::from(self.kernel_json()["metadata"]["hpc_kernels"]["venv"].as_str().unwrap()).join("bin/python")
    }
    /// Starts the installed kernel as a bare Jupyter server would: `env -i`,
    /// no `module` function, no MODULEPATH, a poisoned PYTHONPATH.
    fn run_cell(&self, code: &str) -> String {
        std::fs::write(self.path("client.py"), CLIENT).unwrap();
        let out = Command::new("env")
            .arg("-i")
            .arg(format!("HOME={}", self.path("home").display()))
            .arg("PATH=/usr/bin:/bin")
            .arg(format!("PYTHONPATH={}", self.poison.display()))
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

fn report(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout).expect("install --json prints a report")
}

#[test]
fn installed_kernel_starts_from_a_bare_server_with_its_modules() {
    if !require_lmod() {
        return;
    }
    let site = Site::new();
    let spec = site.spec("\"python -c 'import demo_pkg, os; assert os.environ[\\\"EBVERSIONDEMO\\\"] == \\\"1.0\\\"'\"", "");
    let assert = site.install(&spec).success();
    let r = report(&assert);
    let steps: Vec<&str> = r["partitions"][0]["kernels"][0]["steps"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(steps, ["modules", "venv", "pip:jupyter", "import:demo_pkg", "import:ipykernel", "test_script", "kernelspec", "launch"]);

    let kj = site.kernel_json();
    assert_eq!(kj["argv"][0], "{resource_dir}/launch-kernel.sh");
    assert_eq!(kj["display_name"], "Demo \"kernel\"");
    assert_eq!(kj["metadata"]["hpc_kernels"]["modules"], serde_json::json!(["release/23.10", "Demo/1.0"]));

    let out = site.run_cell("import demo_pkg, os, sys; print('VERSION', demo_pkg.__version__); print('PREFIX', sys.prefix); print('LOADED', os.environ['LOADEDMODULES'])");
    assert!(out.contains("STATUS ok"), "{out}");
    assert!(out.contains("VERSION 1.0"), "{out}");
    assert!(out.contains("LOADED release/23.10:Demo/1.0"), "{out}");

    // `jupyter kernelspec list` (jupyter_client's own) finds it.
    let jupyter = site.venv_python().with_file_name("jupyter-kernelspec");
    let out = Command::new(jupyter)
        .arg("list")
        .env("JUPYTER_PATH", site.path("prefix/share/jupyter"))
        .env("JUPYTER_DATA_DIR", site.path("empty-data"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("demo") && listed.contains("prefix/share/jupyter/kernels/demo"), "{listed}");

    // Nothing world-writable, and the launcher is executable.
    for entry in walkdir::WalkDir::new(site.path("prefix")) {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o002, 0, "{} is world-writable", entry.path().display());
    }

    // A reinstall whose test_script fails leaves the working kernel as it was.
    let before = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
    let broken = site.spec("\"exit 3\"", "");
    let assert = site.install(&broken).code(1);
    let r = report(&assert);
    let test = &r["partitions"][0]["kernels"][0]["steps"][5];
    assert_eq!(test["stage"], "test_script");
    assert_eq!(test["status"], "failed");
    assert_eq!(r["partitions"][0]["kernels"][0]["steps"][6]["status"], "skipped");
    let after = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
    assert_eq!(before, after);
    assert!(site.run_cell("import demo_pkg").contains("STATUS ok"));
}

#[test]
fn a_failing_module_stops_its_kernel_only() {
    if !require_lmod() {
        return;
    }
    let site = Site::new();
    let extra = r#",
    "missing": { "name": "Missing module", "module_load": ["Nope/9.9"], "pip_dependencies": ["jupyter"] }"#;
    let spec = site.spec("\"true\"", extra);
    let assert = site.install(&spec).code(1);
    let r = report(&assert);
    let kernels = r["partitions"][0]["kernels"].as_array().unwrap();
    assert_eq!(kernels[0]["kernel"], "demo");
    assert!(kernels[0]["steps"].as_array().unwrap().iter().all(|s| s["status"] == "passed"));
    let missing = &kernels[1]["steps"];
    assert_eq!(missing[0]["stage"], "modules");
    assert_eq!(missing[0]["status"], "failed");
    assert!(missing[0]["log"].as_str().unwrap().contains("Nope/9.9"), "{}", missing[0]["log"]);
    assert!(missing[1]["status"] == "skipped");
    assert!(!site.path("prefix/share/jupyter/kernels/missing").exists());
}
