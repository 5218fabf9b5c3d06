//! `plan` on the seed example, per partition: JSON, table and script views
//! are snapshotted; bad input is refused before anything is written.

mod common;

use common::*;
use predicates::prelude::*;
use rstest::rstest;

fn plan(partition: &str, view: &str) -> String {
    let mut cmd = bin();
    cmd.args(["plan", "--partition", partition, "--workspace", "/ws", "--prefix", "/prefix"]).arg(fixture("specs/example.json"));
    if !view.is_empty() {
        cmd.arg(view);
    }
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap().replace(crate_version(), "<version>")
}

fn crate_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[rstest]
#[case("barnard")]
#[case("alpha")]
#[case("romeo")]
fn plan_json_per_partition(#[case] partition: &str) {
    let json = plan(partition, "--json");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["partition"], partition);
    insta::assert_snapshot!(format!("plan_json_{partition}"), json);
}

#[test]
fn plan_table_and_script_for_alpha() {
    insta::assert_snapshot!("plan_table_alpha", plan("alpha", ""));
    let script = plan("alpha", "--script");
    insta::assert_snapshot!("plan_script_alpha", script);
}

#[test]
fn the_plan_script_passes_shellcheck_and_bash_n() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.sh");
    std::fs::write(&path, plan("romeo", "--script")).unwrap();
    let syntax = std::process::Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    require_program("shellcheck", "shellcheck");
    let out = std::process::Command::new("shellcheck").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn missing_pip_complex_partition_is_shown_as_skipped() {
    // nvidia-cudnn-cu12 is alpha-only in the corrected example; its tensorflow kernel uses it.
    let mut cmd = bin();
    cmd.args(["plan", "--partition", "romeo", "--workspace", "/ws", "--prefix", "/p"]).arg(fixture("specs/example-fixed.json"));
    cmd.assert().success().stdout(predicate::str::contains("pip:nvidia-cudnn-cu12").and(predicate::str::contains(
        "skipped: pip_complex of group \"nvidia-cudnn-cu12\" has no entry for partition \"romeo\"",
    )));
}

#[rstest]
#[case(&["plan", "--partition", "nowhere"], 3, "not in the spec's modules_by_cluster")]
#[case(&["plan", "--partition", "alpha", "--kernel", "nope"], 2, "no kernel named \"nope\"")]
#[case(&["plan", "--partition", "alpha", "--index-map", "nonsense"], 2, "expected FROM=TO")]
#[case(&["install", "--partition", "alpha", "--timeout", "pip"], 2, "expected KIND=SECS")]
fn bad_arguments_are_refused_with_a_hint(#[case] args: &[&str], #[case] code: i32, #[case] message: &str) {
    let home = tempfile::tempdir().unwrap();
    bin()
        .args(args)
        .arg(fixture("specs/example.json"))
        .env("HOME", home.path())
        .current_dir(home.path())
        .assert()
        .code(code)
        .stderr(predicate::str::contains(message).and(predicate::str::contains("hint:")));
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none(), "something was written");
}

#[test]
fn install_of_a_broken_spec_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    bin()
        .args(["install", "--partition", "alpha"])
        .arg(fixture("specs/bad/module-load-backticks.json"))
        .env("HOME", home.path())
        .current_dir(home.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("module_load"));
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none(), "something was written");
}

#[test]
fn partition_comes_from_the_host_domain_when_not_given() {
    // This host's domain is not <partition>.hpc.tu-dresden.de: a clear exit-3 error.
    let out = bin().args(["plan"]).arg(fixture("specs/example.json")).assert().code(3);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("--partition"), "{stderr}");
}

/// `plan --installer uv` for romeo with PATH holding only `path_dir`.
fn uv_plan(path_dir: &std::path::Path, view: &str) -> assert_cmd::assert::Assert {
    let mut cmd = bin();
    cmd.args(["plan", "--partition", "romeo", "--workspace", "/ws", "--prefix", "/prefix", "--installer", "uv"])
        .args([view].iter().filter(|v| !v.is_empty()))
        .arg(fixture("specs/example-fixed.json"))
        .env("PATH", path_dir);
    cmd.assert()
}

#[test]
fn with_uv_on_path_the_plan_uses_it_and_its_script_passes_shellcheck() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let uv = dir.path().join("uv");
    std::fs::write(&uv, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&uv, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = uv_plan(dir.path(), "--json").success().get_output().stdout.clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["installer"], "uv");
    assert_eq!(plan["kernels"][0]["installer"], "uv");
    let table = uv_plan(dir.path(), "").success().get_output().stdout.clone();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("installer uv"), "{table}");
    assert!(table.contains("uv venv --python python3 --system-site-packages --allow-existing /ws/romeo/"), "{table}");
    assert!(table.contains("uv pip install --python /ws/romeo/"), "{table}");
    assert!(table.contains("--index-strategy unsafe-best-match"), "{table}");

    let script = uv_plan(dir.path(), "--script").success().get_output().stdout.clone();
    let path = dir.path().join("plan.sh");
    std::fs::write(&path, &script).unwrap();
    let text = String::from_utf8(script).unwrap();
    assert!(text.contains(" - add <<'HPC_KERNELS_STAND_INS'") && text.contains(" - remove <<'HPC_KERNELS_STAND_INS'"), "{text}");
    let syntax = std::process::Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    require_program("shellcheck", "shellcheck");
    let out = std::process::Command::new("shellcheck").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn without_uv_the_plan_says_how_to_get_it_and_uses_pip() {
    let empty = tempfile::tempdir().unwrap();
    let assert = uv_plan(empty.path(), "--json").success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("uv is not on PATH") && stderr.contains("pip install --user uv"), "{stderr}");
    let plan: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(plan["installer"], "pip");
}

#[rstest::rstest]
#[case::from_the_environment(&[], "uv")]
#[case::the_flag_wins(&["--installer", "pip"], "pip")]
fn a_site_sets_the_default_installer_with_hpc_kernels_installer(#[case] flags: &[&str], #[case] want: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let uv = dir.path().join("uv");
    std::fs::write(&uv, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&uv, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = bin()
        .args(["plan", "--json", "--partition", "romeo", "--workspace", "/ws", "--prefix", "/prefix"])
        .args(flags)
        .arg(fixture("specs/example-fixed.json"))
        .env("PATH", dir.path())
        .env("HPC_KERNELS_INSTALLER", "uv")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["installer"], want);
}

#[test]
fn an_unknown_hpc_kernels_installer_is_a_usage_error() {
    let out = bin()
        .args(["plan", "--partition", "romeo"])
        .arg(fixture("specs/example-fixed.json"))
        .env("HPC_KERNELS_INSTALLER", "conda")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("conda") && stderr.contains("pip") && stderr.contains("uv"), "{stderr}");
}
