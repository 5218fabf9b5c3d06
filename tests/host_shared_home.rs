//! One `$HOME` seen from two partitions, as on a cluster: installs on both
//! share one kernelspec; the launcher starts each partition's modules; a
//! partition the kernel lacks is refused with the command that adds it.
//! Real Lmod, real pip, kernels started by a real jupyter_client.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use predicates::prelude::*;

/// A site whose two partitions load different builds of one module.
struct TwoPartitions {
    site: Site,
}

const SPEC: &str = r#"{
  "modules_by_cluster": { "parta": "release/23.10", "partb": "release/23.10" },
  "pip_module_groups": { "jupyter": "ipykernel" },
  "kernels": {
    "demo": {
      "name": "Demo kernel",
      "module_load_cluster": { "parta": ["Demo/1.0"], "partb": ["Demo/2.0"] },
      "pip_dependencies": ["jupyter"],
      "check_libs": "demo_pkg"
    }
  }
}"#;

impl TwoPartitions {
    fn new() -> TwoPartitions {
        let site = Site::new();
        // Demo/2.0 beside the common tree's Demo/1.0: partb's build.
        let pkgs = site.path("software/Demo/2.0/site-packages");
        std::fs::create_dir_all(pkgs.join("demo_pkg")).unwrap();
        std::fs::write(pkgs.join("demo_pkg/__init__.py"), "__version__ = '2.0'\n").unwrap();
        std::fs::write(
            site.modulepath.join("Demo/2.0.lua"),
            format!("setenv(\"EBVERSIONDEMO\", \"2.0\")\nprepend_path(\"PYTHONPATH\", \"{}\")\n", pkgs.display()),
        )
        .unwrap();
        std::fs::write(site.path("spec.json"), SPEC).unwrap();
        std::fs::create_dir_all(site.path("home")).unwrap();
        TwoPartitions { site }
    }

    fn home(&self) -> PathBuf {
        self.site.path("home")
    }

    fn kernel_dir(&self, name: &str) -> PathBuf {
        self.home().join(".local/share/jupyter/kernels").join(name)
    }

    fn kernel_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.kernel_dir("demo").join("kernel.json")).unwrap()).unwrap()
    }

    /// Into the user's own Jupyter data dir and the default workspace, both under the shared `$HOME`.
    fn install_command(&self, partition: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("hpc-kernels"));
        cmd.args(["install", "--partition", partition, "--json"])
            .arg(self.site.path("spec.json"))
            .args(extra)
            .env("HOME", self.home())
            .env("MODULEPATH", &self.site.modulepath)
            .env("PYTHONPATH", &self.site.poison)
            .env_remove("JUPYTER_DATA_DIR")
            .env_remove("XDG_DATA_HOME")
            .env_remove("HPC_KERNELS_WORKSPACE")
            .env_remove("LOADEDMODULES")
            .env_remove("_LMFILES_");
        if let Ok(index) = std::env::var("HPC_KERNELS_TEST_INDEX_URL") {
            cmd.args(["--index-url", &index]);
        }
        cmd
    }

    fn install(&self, partition: &str, extra: &[&str]) {
        let out = self.install_command(partition, extra).output().unwrap();
        assert!(out.status.success(), "install on {partition} failed:\n{}{}", text(&out.stdout), text(&out.stderr));
    }

    fn manage(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        bin().args(args)
            .env("HOME", self.home())
            .env_remove("JUPYTER_DATA_DIR")
            .env_remove("XDG_DATA_HOME")
            .write_stdin("")
            .timeout(std::time::Duration::from_secs(300))
            .assert()
    }

    fn venv(&self, partition: &str) -> PathBuf {
        let kj = self.kernel_json();
        PathBuf::from(kj["metadata"]["hpc_kernels"]["partitions"][partition]["venv"].as_str().unwrap())
    }

    /// Starts kernel `name` through jupyter_client from a bare server
    /// environment (`env -i`, poisoned PYTHONPATH, no MODULEPATH) with `python`
    /// as the server's interpreter; `extra_env` adds e.g. HPC_KERNELS_PARTITION.
    fn run_cell(&self, python: &Path, name: &str, extra_env: &[(&str, String)], path: &str) -> String {
        std::fs::write(self.site.path("client.py"), CLIENT).unwrap();
        let mut cmd = Command::new("env");
        cmd.arg("-i")
            .arg(format!("HOME={}", self.home().display()))
            .arg(format!("PATH={path}"))
            .arg(format!("PYTHONPATH={}", self.site.poison.display()));
        for (k, v) in extra_env {
            cmd.arg(format!("{k}={v}"));
        }
        let out = cmd
            .arg(python)
            .arg(self.site.path("client.py"))
            .arg(name)
            .arg("import demo_pkg, os; print('VERSION', demo_pkg.__version__); print('LOADED', os.environ['LOADEDMODULES']); print('PART', os.environ.get('HPC_KERNELS_PARTITION'))")
            .output()
            .unwrap();
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// Runs the kernel's launcher as Jupyter would, with `kernel.json`'s argv.
    fn launcher(&self, name: &str, env: &[(&str, &str)]) -> Output {
        let dir = self.kernel_dir(name);
        let kj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("kernel.json")).unwrap()).unwrap();
        let argv: Vec<String> = kj["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().replace("{resource_dir}", &dir.to_string_lossy()).replace("{connection_file}", "/nonexistent.json"))
            .collect();
        let mut cmd = Command::new("env");
        cmd.arg("-i").arg(format!("HOME={}", self.home().display())).arg("PATH=/usr/bin:/bin");
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.args(&argv).output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn partition_env(p: &str) -> Vec<(&'static str, String)> {
    vec![("HPC_KERNELS_PARTITION", p.to_string())]
}

#[test]
fn one_kernelspec_serves_both_partitions_each_with_its_own_modules() {
    require_lmod();
    let t = TwoPartitions::new();
    t.install("parta", &[]);
    let after_a = t.kernel_json();
    let entry_a = after_a["metadata"]["hpc_kernels"]["partitions"]["parta"].clone();
    let launcher_a = t.kernel_dir("demo").join(entry_a["launcher"].as_str().unwrap());
    let launcher_a_text = std::fs::read_to_string(&launcher_a).unwrap();

    t.install("partb", &[]);
    let kj = t.kernel_json();
    let ours = &kj["metadata"]["hpc_kernels"];
    assert_eq!(kj["display_name"], "Demo kernel");
    assert_eq!(ours["partitions"].as_object().unwrap().keys().collect::<Vec<_>>(), ["parta", "partb"]);
    assert_eq!(ours["partitions"]["parta"], entry_a, "installing partb changed parta's entry");
    assert_eq!(std::fs::read_to_string(&launcher_a).unwrap(), launcher_a_text, "installing partb changed parta's launcher");
    assert_eq!(ours["partitions"]["partb"]["modules"], serde_json::json!(["release/23.10", "Demo/2.0"]));
    for p in ["parta", "partb"] {
        let e = &ours["partitions"][p];
        assert_eq!(e["spec_sha256"].as_str().unwrap().len(), 64, "{e}");
        assert!(e["installed_at"].as_str().unwrap().ends_with('Z'), "{e}");
        assert!(Path::new(e["venv"].as_str().unwrap()).join("bin/python").is_file());
    }
    assert!(t.venv("parta").starts_with(t.home().join(".local/share/hpc-kernels/parta")));

    // Each partition gets its own modules, the server's Python being either venv's.
    let server = t.venv("parta").join("bin/python");
    for (p, version) in [("parta", "1.0"), ("partb", "2.0")] {
        let out = t.run_cell(&server, "demo", &partition_env(p), "/usr/bin:/bin");
        assert!(out.contains("STATUS ok"), "{p}: {out}");
        assert!(out.contains(&format!("VERSION {version}")), "{p}: {out}");
        assert!(out.contains(&format!("LOADED release/23.10:Demo/{version}")), "{p}: {out}");
        assert!(out.contains(&format!("PART {p}")), "{p}: {out}");
    }

    // Without the override, the launcher reads the host's domain, as install does.
    let fake = t.site.path("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("hostname"), "#!/bin/sh\n[ \"$1\" = -d ] && echo partb.hpc.tu-dresden.de\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fake.join("hostname"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = t.run_cell(&server, "demo", &[], &format!("{}:/usr/bin:/bin", fake.display()));
    assert!(out.contains("STATUS ok") && out.contains("VERSION 2.0"), "{out}");

    // A partition the kernel lacks: one clear line, the command that adds it, non-zero exit.
    let out = t.launcher("demo", &[("HPC_KERNELS_PARTITION", "partc")]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("installed for partition(s) parta, partb, not for partc"), "{err}");
    let spec = t.site.path("spec.json");
    assert!(err.contains(&format!("hpc-kernels install {} --kernel demo --partition partc", spec.display())), "{err}");
    assert!(!err.contains("module"), "it must not try any module: {err}");
    // A host the site domain does not name, without the override.
    let out = t.launcher("demo", &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("set HPC_KERNELS_PARTITION to one of: parta, partb"), "{}", text(&out.stderr));

    // list shows both partitions and their health; check starts each.
    t.manage(&["list"])
        .success()
        .stdout(predicate::str::is_match(r"demo +Demo kernel").unwrap())
        .stdout(predicate::str::is_match(r"parta +spec [0-9a-f]{12}  \[release/23.10 Demo/1.0\]  ok").unwrap())
        .stdout(predicate::str::is_match(r"partb +spec [0-9a-f]{12}  \[release/23.10 Demo/2.0\]  ok").unwrap());
    t.manage(&["check"])
        .success()
        .stdout(predicate::str::contains("✔ demo on parta").and(predicate::str::contains("✔ demo on partb")));
    t.manage(&["check", "demo", "--partition", "partc"]).code(2).stderr(predicate::str::contains("parta, partb"));

    // remove --partition drops one partition and its venv; the other still starts.
    let venv_a = t.venv("parta");
    let venv_b = t.venv("partb");
    t.manage(&["remove", "demo", "--partition", "partc", "--yes"]).code(2).stderr(predicate::str::contains("parta, partb"));
    t.manage(&["remove", "demo", "--partition", "parta", "--yes"])
        .success()
        .stdout(predicate::str::contains("will remove partition parta").and(predicate::str::contains("removed parta from demo")));
    assert!(!venv_a.exists(), "parta's venv must go");
    assert!(!launcher_a.exists(), "parta's launcher must go");
    let kj = t.kernel_json();
    assert_eq!(kj["metadata"]["hpc_kernels"]["partitions"].as_object().unwrap().keys().collect::<Vec<_>>(), ["partb"]);
    let out = t.run_cell(&venv_b.join("bin/python"), "demo", &partition_env("partb"), "/usr/bin:/bin");
    assert!(out.contains("STATUS ok") && out.contains("VERSION 2.0"), "{out}");
    let out = t.launcher("demo", &[("HPC_KERNELS_PARTITION", "parta")]);
    assert!(text(&out.stderr).contains("installed for partition(s) partb, not for parta"), "{}", text(&out.stderr));
    t.manage(&["list"]).success().stdout(predicate::str::contains("parta").not());

    // The last partition takes the kernelspec with it.
    t.manage(&["remove", "demo", "--partition", "partb", "--yes"]).success();
    assert!(!t.kernel_dir("demo").exists());
    assert!(!venv_b.exists());
}

#[test]
fn two_partitions_installing_into_one_home_at_once_both_end_installed() {
    require_lmod();
    let t = TwoPartitions::new();
    let mut a = t.install_command("parta", &[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut b = t.install_command("partb", &[]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (sa, sb) = (a.wait().unwrap(), b.wait().unwrap());
    let out_a = a.wait_with_output().unwrap();
    let out_b = b.wait_with_output().unwrap();
    assert!(sa.success(), "parta: {}{}", text(&out_a.stdout), text(&out_a.stderr));
    assert!(sb.success(), "partb: {}{}", text(&out_b.stdout), text(&out_b.stderr));
    let kj = t.kernel_json();
    assert_eq!(kj["metadata"]["hpc_kernels"]["partitions"].as_object().unwrap().keys().collect::<Vec<_>>(), ["parta", "partb"]);
    let server = t.venv("partb").join("bin/python");
    for (p, version) in [("parta", "1.0"), ("partb", "2.0")] {
        let out = t.run_cell(&server, "demo", &partition_env(p), "/usr/bin:/bin");
        assert!(out.contains("STATUS ok") && out.contains(&format!("VERSION {version}")), "{p}: {out}");
    }
    assert!(!t.home().join(".local/share/jupyter/.hpc-kernels-locks/demo.lock").exists(), "lock left behind");

    // Sites that prefer one entry per partition.
    t.install("parta", &["--kernelspec-per-partition"]);
    let dir = t.kernel_dir("demo-parta");
    let kj: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("kernel.json")).unwrap()).unwrap();
    assert_eq!(kj["display_name"], "Demo kernel (parta)");
    assert_eq!(kj["metadata"]["hpc_kernels"]["layout"], "per-partition");
    let out = t.run_cell(&server, "demo-parta", &partition_env("parta"), "/usr/bin:/bin");
    assert!(out.contains("STATUS ok") && out.contains("VERSION 1.0"), "{out}");
    let out = t.launcher("demo-parta", &[("HPC_KERNELS_PARTITION", "partb")]);
    assert!(text(&out.stderr).contains("--kernelspec-per-partition --kernel demo --partition partb"), "{}", text(&out.stderr));
    // The shared kernelspec is untouched by it; the venv both use stays while one does.
    assert_eq!(t.kernel_json()["metadata"]["hpc_kernels"]["partitions"].as_object().unwrap().len(), 2);
    let (venv_a, venv_b) = (t.venv("parta"), t.venv("partb"));
    t.manage(&["remove", "demo", "--yes"])
        .success()
        .stdout(predicate::str::contains(format!("keeping venv {} (kernel demo-parta uses it)", venv_a.display())));
    assert!(!t.kernel_dir("demo").exists());
    assert!(venv_a.exists() && !venv_b.exists());
    // With the shared kernelspec gone, `remove demo --partition parta` finds demo-parta.
    t.manage(&["remove", "demo", "--partition", "parta", "--yes"]).success();
    assert!(!dir.exists());
    assert!(!venv_a.exists());
}
