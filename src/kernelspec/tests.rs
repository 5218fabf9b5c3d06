use std::os::unix::fs::PermissionsExt;

use super::launcher::LauncherInput;
use super::*;

fn modules() -> Vec<String> {
    ["release/23.10", "GCC/11.3.0", "OpenMPI/4.1.4", "PyTorch/1.13.1"].iter().map(|s| s.to_string()).collect()
}

fn files(display: &str, prefix: &[String]) -> KernelspecFiles {
    let mods = modules();
    render(&KernelspecInput {
        name: "pytorch",
        display_name: display,
        launcher: LauncherInput {
            kernel: "pytorch",
            partition: "alpha",
            spec_sha256: "0123abcd",
            lmod_init: "/usr/share/lmod/lmod/init/bash",
            modulepath: "/opt/modules/releases",
            modules: &mods,
            venv: "/ws/alpha/pytorch/venv-abc",
            argv_prefix: prefix,
        },
        loaded_modules: &mods,
        check_libs: &["torch".to_string()],
    })
}

#[test]
fn kernel_json_points_at_the_launcher_and_records_provenance() {
    let f = files("PyTorch \"ML\"", &[]);
    let v: serde_json::Value = serde_json::from_str(&f.kernel_json).unwrap();
    assert_eq!(v["argv"][0], "{resource_dir}/launch-kernel.sh");
    assert_eq!(v["display_name"], "PyTorch \"ML\"");
    assert_eq!(v["metadata"]["debugger"], true);
    assert_eq!(v["metadata"]["hpc_kernels"]["partition"], "alpha");
    assert_eq!(v["metadata"]["hpc_kernels"]["modules"][3], "PyTorch/1.13.1");
}

#[test]
fn kernelspec_snapshot() {
    let f = files("PyTorch (Machine Learning)", &[]);
    insta::assert_snapshot!("kernel_json", f.kernel_json.replace(crate::VERSION, "<version>"));
    insta::assert_snapshot!("launcher", f.launcher.replace(crate::VERSION, "<version>"));
}

#[test]
fn argv_prefix_goes_in_front_of_python() {
    let f = files("x", &["flux".into(), "start".into()]);
    assert!(f.launcher.contains("exec flux start \"$VENV/bin/python\" -m ipykernel_launcher \"$@\""), "{}", f.launcher);
}

#[test]
fn launcher_passes_shellcheck() {
    let Ok(out) = std::process::Command::new("shellcheck").arg("--version").output() else {
        assert!(std::env::var_os("CI").is_none(), "shellcheck is required in CI");
        eprintln!("SKIP: shellcheck is not installed; the launcher was not linted");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    for (i, prefix) in [vec![], vec!["srun".to_string(), "--mpi=none".to_string()]].iter().enumerate() {
        let path = dir.path().join(format!("l{i}.sh"));
        std::fs::write(&path, files("x", prefix).launcher).unwrap();
        let out = std::process::Command::new("shellcheck").arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn stage_and_commit_swap_an_existing_kernel() {
    let root = tempfile::tempdir().unwrap();
    let kernels = root.path().join("share/jupyter/kernels");
    let venv = root.path().join("venv");
    let first = stage(&kernels, "pytorch", &files("first", &[]), &venv).unwrap();
    assert!(!first.starts_with(&kernels), "staging must be outside the kernels dir");
    let target = commit(&first, &kernels, "pytorch").unwrap();
    let second = stage(&kernels, "pytorch", &files("second", &[]), &venv).unwrap();
    commit(&second, &kernels, "pytorch").unwrap();
    let listed = installed(&kernels);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].display_name, "second");
    assert!(listed[0].is_ours());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target.join(LAUNCHER)), 0o755);
    assert_eq!(mode(&target.join("kernel.json")), 0o644);
    assert!(!staging_root(&kernels).exists(), "staging left behind");
}

#[test]
fn foreign_kernels_are_listed_as_foreign() {
    let root = tempfile::tempdir().unwrap();
    let k = root.path().join("python3");
    std::fs::create_dir_all(&k).unwrap();
    std::fs::write(k.join("kernel.json"), r#"{"argv":["python3"],"display_name":"Python 3","language":"python"}"#).unwrap();
    std::fs::create_dir_all(root.path().join("broken")).unwrap();
    let listed = installed(root.path());
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].is_ours());
}
