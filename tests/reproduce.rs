//! `reproduce`: a user's failure in a kept container, in the failing state.

mod common;

use std::process::Command;

use common::*;
use predicates::prelude::*;

fn kept() -> Vec<String> {
    let out = Command::new("docker").args(["ps", "--all", "--quiet", "--filter", "label=org.hpc-kernels.reproduce=true"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
}

#[test]
fn reproduce_keeps_the_failing_state_and_cleanup_removes_it() {
    require_docker();
    let _serial = container_test_lock();
    let work = tempfile::tempdir().unwrap();
    bin().args(["reproduce", "--cleanup"]).assert().success();
    // Partition and kernel come from the user's failed install report.
    let out = bin()
        .current_dir(work.path())
        .arg("reproduce")
        .arg(fixture("specs/reproduce-demo.json"))
        .arg("--from-log")
        .arg(fixture("report/user-install-failed.json"))
        .timeout(std::time::Duration::from_secs(900))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("✘ alpha/pytorch failed at test_script"))
        .stdout(predicate::str::contains("AssertionError: torch 1.13.1"))
        .stdout(predicate::str::contains("reproduced: the same step fails here"))
        .stdout(predicate::str::contains("bash --rcfile /root/.hpc-kernels/reproduce.rc -i"));
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();

    // The replay script runs every step up to the failing one, in order.
    let replay = std::fs::read_to_string(work.path().join("reproduce-alpha-pytorch.sh")).unwrap();
    let order = ["# modules", "# venv", "# pip:jupyter", "# consistency", "# import:torch", "# test_script"];
    let positions: Vec<usize> = order.iter().map(|m| replay.find(m).unwrap_or_else(|| panic!("{m} missing:\n{replay}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{replay}");
    assert!(!replay.contains("# kernelspec"));

    // The kept container, entered as printed, has the modules loaded and the venv active.
    let ids = kept();
    assert_eq!(ids.len(), 1, "{stdout}");
    assert!(stdout.contains(&ids[0][..12]));
    let shell = Command::new("docker")
        .args(["exec", &ids[0], "bash", "--rcfile", "/root/.hpc-kernels/reproduce.rc", "-i", "-c"])
        .arg("module -t list 2>&1 | tr '\\n' ' '; echo; echo VENV=$VIRTUAL_ENV; python -c 'import torch; print(\"TORCH\", torch.__version__)'")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shell.stdout);
    assert!(text.contains("PyTorch/1.13.1") && text.contains("OpenMPI/4.1.4"), "{text}");
    assert!(text.contains("VENV=/root/.local/share/hpc-kernels/alpha/pytorch/venv-"), "{text}");
    assert!(text.contains("TORCH 1.13.1"), "{text}");
    let replay_in = Command::new("docker").args(["exec", &ids[0], "bash", "/root/.hpc-kernels/replay.sh"]).output().unwrap();
    assert_eq!(replay_in.status.code(), Some(1), "the replay fails where the install failed");

    bin().args(["reproduce", "--cleanup"]).assert().success().stdout(predicate::str::contains("removed 1"));
    assert!(kept().is_empty());
}

#[test]
fn reproduce_needs_to_know_what() {
    let home = tempfile::tempdir().unwrap();
    bin()
        .current_dir(home.path())
        .arg("reproduce")
        .arg(fixture("specs/reproduce-demo.json"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--partition").and(predicate::str::contains("--from-log")));
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none());
}
