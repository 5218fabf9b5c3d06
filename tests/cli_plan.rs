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
