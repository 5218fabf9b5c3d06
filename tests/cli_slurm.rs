//! `certify --slurm` arguments and failures that need no cluster: bad
//! mappings, no Slurm commands, and a job that left no results (with
//! stand-in `sbatch` and `scontrol` scripts). The real cluster: tests/slurm.rs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use predicates::prelude::*;

fn script(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{text}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn certify(out: &Path, path: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .args(["certify", "--release", "23.10", "--slurm", "--poll", "1", "--out"])
        .arg(out)
        .args(extra)
        .arg(fixture("specs/slurm-demo.json"))
        .env("PATH", path)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
}

#[test]
fn slurm_options_are_refused_with_usage_errors() {
    let out = tempfile::tempdir().unwrap();
    certify(out.path(), "/usr/bin:/bin", &["--slurm-partition", "alpha"])
        .code(2)
        .stderr(predicate::str::contains("--slurm-partition \"alpha\": expected P=SLURM_PARTITION"));
    certify(out.path(), "/usr/bin:/bin", &["--partition", "romeo", "--slurm-partition", "alpha=gpu"])
        .code(2)
        .stderr(predicate::str::contains("alpha is not a partition of this run"));
    certify(out.path(), "/usr/bin:/bin", &["--partition", "../etc"])
        .code(2)
        .stderr(predicate::str::contains("is not a valid partition name"));
    certify(out.path(), "/usr/bin:/bin", &["--sbatch-args", "--comment='unbalanced"])
        .code(2)
        .stderr(predicate::str::contains("unbalanced quotes"));
    bin().args(["certify", "--release", "23.10", "--out", "x", "--sbatch-args", "--time=1", "spec.json"]).assert().code(2);
}

#[test]
fn slurm_commands_missing_is_an_environment_error() {
    let out = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    certify(out.path(), &empty.path().display().to_string(), &[])
        .code(3)
        .stderr(predicate::str::contains("`sbatch` was not found on PATH"))
        .stderr(predicate::str::contains("slurm-client"));
}

#[test]
fn slurm_interrupt_cancels_the_submitted_jobs() {
    let out = tempfile::tempdir().unwrap();
    let fake = tempfile::tempdir().unwrap();
    let cancelled = fake.path().join("cancelled");
    script(fake.path(), "sbatch", "echo 23");
    script(fake.path(), "scontrol", "echo 'JobId=23 JobState=RUNNING Reason=None ExitCode=0:0 NodeList=i7001'");
    script(fake.path(), "scancel", &format!("echo \"$@\" > {}", cancelled.display()));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("hpc-kernels"))
        .args(["certify", "--release", "23.10", "--slurm", "--poll", "1", "--partition", "romeo", "--out"])
        .arg(out.path())
        .arg(fixture("specs/slurm-demo.json"))
        .env("PATH", format!("{}:/usr/bin:/bin", fake.path().display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let script = out.path().join("slurm/release-23.10/romeo.sh");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !script.is_file() {
        assert!(std::time::Instant::now() < deadline, "the job was never submitted");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(std::fs::read_to_string(&cancelled).unwrap().trim(), "23");
}

#[test]
fn slurm_job_that_left_no_results_is_an_error_of_its_partition() {
    let out = tempfile::tempdir().unwrap();
    let fake = tempfile::tempdir().unwrap();
    script(fake.path(), "sbatch", "echo 17");
    script(
        fake.path(),
        "scontrol",
        "echo 'JobId=17 JobName=hpc-kernels-certify-romeo JobState=COMPLETED Reason=None ExitCode=0:0 RunTime=00:00:01 TimeLimit=UNLIMITED NodeList=i7001'",
    );
    let path = format!("{}:/usr/bin:/bin", fake.path().display());
    certify(out.path(), &path, &["--partition", "romeo", "--against", "23.04"])
        .code(3)
        .stderr(predicate::str::contains("romeo: submitted job 17 (hpc-kernels-certify-romeo) to Slurm partition romeo"))
        .stdout(predicate::str::contains("romeo: harness error — job 17 ended COMPLETED (exit code 0:0) without results in"));
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap()).unwrap();
    let error = results["partitions"][0]["error"].as_str().unwrap();
    assert!(error.ends_with("slurm/release-23.10/romeo.jsonl"), "{error}");
    let script = std::fs::read_to_string(out.path().join("slurm/release-23.10/romeo.sh")).unwrap();
    assert!(script.starts_with("#!/bin/bash -l\n"), "{script}");
    assert!(script.contains(" install ") && script.contains("--partition romeo --jsonl"), "{script}");
    // --against runs the other release's jobs from a directory of their own.
    let against = std::fs::read_to_string(out.path().join("slurm/release-23.04/romeo.sh")).unwrap();
    assert!(against.contains("slurm-demo.release-23.04.json"), "{against}");
}
