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
