use std::os::unix::fs::PermissionsExt;

use super::launcher::LauncherInput;
use super::*;

fn modules() -> Vec<String> {
    ["release/23.10", "GCC/11.3.0", "OpenMPI/4.1.4", "PyTorch/1.13.1"].iter().map(|s| s.to_string()).collect()
}

fn rendered_for(partition: &str, display: &str, prefix: &[String], modules: &[String]) -> Rendered {
    let venv = format!("/ws/{partition}/pytorch/venv-abc");
    let install = ["hpc-kernels", "install", "/home/u/spec.json", "--kernel", "pytorch"].map(String::from);
    render(&KernelspecInput {
        dir_name: "pytorch",
        kernel: "pytorch",
        display_name: display,
        layout: Layout::Shared,
        launcher: LauncherInput {
            kernel: "pytorch",
            partition,
            spec_sha256: "0123abcd",
            lmod_init: "/usr/share/lmod/lmod/init/bash",
            modulepath: "/opt/modules/releases",
            modules,
            venv: &venv,
            argv_prefix: prefix,
        },
        loaded_modules: modules,
        check_libs: &["torch".to_string()],
        spec_file: "/home/u/spec.json",
        installed_at: "2026-11-30T06:00:00Z",
        install_command: &install,
    })
}

fn rendered(display: &str, prefix: &[String]) -> Rendered {
    rendered_for("alpha", display, prefix, &modules())
}

fn files(display: &str, prefix: &[String]) -> KernelspecFiles {
    rendered(display, prefix).files()
}

#[test]
fn kernel_json_points_at_the_launcher_and_records_provenance() {
    let f = files("PyTorch \"ML\"", &[]);
    let v: serde_json::Value = serde_json::from_str(&f.kernel_json).unwrap();
    assert_eq!(v["argv"][0], "{resource_dir}/launch-kernel.sh");
    assert_eq!(v["argv"][1], "--partitions");
    assert!(v["argv"][2].as_str().unwrap().starts_with("alpha=launch-alpha-"), "{}", v["argv"]);
    assert_eq!(v["argv"][3], "-f");
    assert_eq!(v["display_name"], "PyTorch \"ML\"");
    assert_eq!(v["metadata"]["debugger"], true);
    let alpha = &v["metadata"]["hpc_kernels"]["partitions"]["alpha"];
    assert_eq!(alpha["modules"][3], "PyTorch/1.13.1");
    assert_eq!(alpha["spec_sha256"], "0123abcd");
    assert_eq!(alpha["installed_at"], "2026-11-30T06:00:00Z");
    assert_eq!(alpha["venv"], "/ws/alpha/pytorch/venv-abc");
}

#[test]
fn kernelspec_snapshot() {
    let f = files("PyTorch (Machine Learning)", &[]);
    // The launcher's name carries its content hash, and with it the tool version.
    let kernel_json = crate::report::redact::replace_launcher_hashes(&f.kernel_json);
    insta::assert_snapshot!("kernel_json", kernel_json.replace(crate::VERSION, "<version>"));
    insta::assert_snapshot!("launcher", f.launcher.replace(crate::VERSION, "<version>"));
    insta::assert_snapshot!("dispatcher", rendered("x", &[]).dispatcher.replace(crate::VERSION, "<version>"));
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
    let path = dir.path().join("dispatcher.sh");
    std::fs::write(&path, rendered("x", &[]).dispatcher).unwrap();
    let out = std::process::Command::new("shellcheck").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    {
    }
}

fn install(kernels: &std::path::Path, r: &Rendered) -> std::path::PathBuf {
    let staged = stage(kernels, r, std::path::Path::new("/nonexistent-venv")).unwrap();
    assert!(!staged.starts_with(kernels), "staging must be outside the kernels dir");
    commit(&staged, kernels, "pytorch", &r.partition).unwrap()
}

fn read_spec(kernels: &std::path::Path) -> Kernelspec {
    let k = files::read(&kernels.join("pytorch")).unwrap();
    k.spec.unwrap()
}

#[test]
fn a_second_partition_joins_the_kernelspec_and_a_reinstall_replaces_only_its_own() {
    let root = tempfile::tempdir().unwrap();
    let kernels = root.path().join("share/jupyter/kernels");
    let alpha = rendered_for("alpha", "first", &[], &modules());
    let target = install(&kernels, &alpha);
    let romeo_modules = ["release/23.10".to_string(), "PyTorch/1.13.1".to_string()];
    let romeo = rendered_for("romeo", "second", &[], &romeo_modules);
    install(&kernels, &romeo);
    let spec = read_spec(&kernels);
    assert_eq!(spec.partitions.keys().collect::<Vec<_>>(), ["alpha", "romeo"]);
    assert_eq!(spec.partitions["alpha"], alpha.spec.partitions["alpha"], "alpha's entry must stay as it was");
    assert_eq!(spec.partitions["romeo"].modules, romeo_modules);
    assert_eq!(spec.display_name, "second");
    for p in ["alpha", "romeo"] {
        let launcher = target.join(&spec.partitions[p].launcher);
        assert!(launcher.is_file(), "{}", launcher.display());
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target.join(LAUNCHER)), 0o755);
    assert_eq!(mode(&target.join(&spec.partitions["romeo"].launcher)), 0o755);
    assert_eq!(mode(&target.join("kernel.json")), 0o644);

    // Reinstalling alpha with other modules replaces alpha's launcher, keeps romeo's.
    let alpha2 = rendered_for("alpha", "third", &[], &romeo_modules);
    install(&kernels, &alpha2);
    let spec = read_spec(&kernels);
    assert_eq!(spec.partitions["alpha"].modules, romeo_modules);
    assert_eq!(spec.partitions["romeo"], romeo.spec.partitions["romeo"]);
    let launchers: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("launch-") && n != LAUNCHER)
        .collect();
    // The superseded alpha launcher stays for one more update (a kernel may be starting from it).
    assert_eq!(launchers.len(), 3, "{launchers:?}");
    install(&kernels, &alpha);
    let launchers = std::fs::read_dir(&target).unwrap().filter(|e| {
        let n = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
        n.starts_with("launch-") && n != LAUNCHER
    });
    assert_eq!(launchers.count(), 3, "two alpha launchers (current and previous) and romeo's");
    let alpha2 = rendered_for("alpha", "third", &[], &romeo_modules);
    install(&kernels, &alpha2);
    assert!(!staging_root(&kernels).exists(), "staging left behind");

    // Removing one partition keeps the other; the last one takes the kernelspec.
    assert!(matches!(remove_partition(&kernels, "pytorch", Some("alpha")).unwrap(), Removed::Partition));
    assert_eq!(read_spec(&kernels).partitions.keys().collect::<Vec<_>>(), ["romeo"]);
    assert!(!target.join(&alpha2.spec.partitions["alpha"].launcher).exists());
    let left: Vec<_> = std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!left.iter().any(|n| n.to_string_lossy().starts_with("launch-alpha-")), "{left:?}");
    assert!(matches!(remove_partition(&kernels, "pytorch", Some("alpha")).unwrap(), Removed::NotInstalled));
    assert!(matches!(remove_partition(&kernels, "pytorch", Some("romeo")).unwrap(), Removed::Kernelspec));
    assert!(!target.exists());
    assert!(installed(&kernels).is_empty());
}

#[test]
fn a_kernelspec_of_an_earlier_version_keeps_its_partition() {
    let root = tempfile::tempdir().unwrap();
    let kernels = root.path().join("share/jupyter/kernels");
    let old = kernels.join("pytorch");
    std::fs::create_dir_all(&old).unwrap();
    let legacy_json = r#"{"argv":["{resource_dir}/launch-kernel.sh","-f","{connection_file}"],"display_name":"old","language":"python",
      "metadata":{"hpc_kernels":{"installed_by":"hpc-kernels","kernel":"pytorch","partition":"barnard","spec_sha256":"ff","modules":["release/23.10"],"venv":"/ws/barnard/pytorch/venv-1"}}}"#;
    std::fs::write(old.join("kernel.json"), legacy_json).unwrap();
    std::fs::write(old.join(LAUNCHER), "#!/bin/bash\necho legacy\n").unwrap();
    std::fs::set_permissions(old.join(LAUNCHER), std::fs::Permissions::from_mode(0o755)).unwrap();
    let listed = installed(&kernels);
    assert!(listed[0].legacy);
    assert_eq!(listed[0].partitions().map(|(p, _)| p.as_str()).collect::<Vec<_>>(), ["barnard"]);

    install(&kernels, &rendered("new", &[]));
    let spec = read_spec(&kernels);
    assert_eq!(spec.partitions.keys().collect::<Vec<_>>(), ["alpha", "barnard"]);
    let barnard = &spec.partitions["barnard"];
    assert_eq!(barnard.venv, "/ws/barnard/pytorch/venv-1");
    assert_eq!(std::fs::read_to_string(old.join(&barnard.launcher)).unwrap(), "#!/bin/bash\necho legacy\n");
    assert!(std::fs::read_to_string(old.join(LAUNCHER)).unwrap().contains("--partitions"));
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
