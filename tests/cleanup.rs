//! The harness leaves nothing behind: not after a run, not after Ctrl-C;
//! only `--keep` keeps a failed container, and says how to enter it.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const LABEL: &str = "org.hpc-kernels.managed";

fn listed(kind: &[&str]) -> BTreeSet<String> {
    listed_by(kind, LABEL)
}

fn containers() -> BTreeSet<String> {
    listed(&["ps", "--all"])
}

#[test]
fn no_containers_networks_or_volumes_remain() {
    require_docker();
    let _serial = container_test_lock();
    let before = containers();
    // A failing run (barnard cannot load PyTorch this way) and a passing one.
    bin().args(["validate", "--partition", "barnard", "--kernel", "pytorch"]).arg(fixture("specs/example.json")).assert().code(1);
    bin().args(["validate", "--partition", "alpha", "--exclude-newer", INDEX_DATE]).arg(fixture("specs/real-packages.json")).assert().success();
    assert_eq!(containers(), before, "containers left behind");
    assert!(listed(&["network", "ls"]).is_empty(), "networks left behind");
    assert!(run_volumes().is_empty(), "volumes left behind: {:?}", run_volumes());
    // What stays is meant to: the venvs kept between runs of a pinned index,
    // and the images' directories served from volumes (on a fuse-overlayfs Docker).
    let kept = listed_by(&["volume", "ls"], "org.hpc-kernels.venv-cache");
    assert!(kept.iter().all(|v| v.starts_with("hpc-kernels-venv-")), "{kept:?}");
    let image_files = listed_by(&["volume", "ls"], "org.hpc-kernels.rootfs");
    assert!(image_files.iter().all(|v| v.starts_with("hpc-kernels-rootfs-")), "{image_files:?}");
}

fn listed_by(kind: &[&str], label: &str) -> BTreeSet<String> {
    let out = Command::new("docker").args(kind).args(["--quiet", "--filter", &format!("label={label}")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
}

/// The managed volumes of runs (the shared homes), not the venvs kept between
/// runs nor the images' directories (kept per image).
fn run_volumes() -> BTreeSet<String> {
    let mut kept = listed_by(&["volume", "ls"], "org.hpc-kernels.venv-cache");
    kept.extend(listed_by(&["volume", "ls"], "org.hpc-kernels.rootfs"));
    listed(&["volume", "ls"]).difference(&kept).cloned().collect()
}

#[test]
fn ctrl_c_removes_the_runs_containers() {
    require_docker();
    let _serial = container_test_lock();
    let before = containers();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("hpc-kernels"))
        .args(["validate", "--partition", "alpha", "--kernel", "pytorch"])
        .arg(fixture("specs/example-fixed.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while containers() == before {
        assert!(Instant::now() < deadline, "no container was started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(containers(), before, "Ctrl-C left containers behind");
}

#[test]
fn keep_leaves_a_failed_container_to_enter() {
    require_docker();
    let _serial = container_test_lock();
    let before = containers();
    let out = bin()
        .args(["validate", "--keep", "--partition", "barnard", "--kernel", "pytorch"])
        .arg(fixture("specs/example.json"))
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let kept: Vec<String> = containers().difference(&before).cloned().collect();
    assert_eq!(kept.len(), 1, "{stderr}");
    assert!(stderr.contains(&format!("docker exec -it {}", &kept[0][..12])), "{stderr}");
    // The kept container is in the failed state: the module really is not loadable there.
    let probe = Command::new("docker")
        .args(["exec", &kept[0], "bash", "-lc", "module load release/23.10 PyTorch/1.13.1"])
        .output()
        .unwrap();
    assert!(!probe.status.success());
    // The kept container holds the run's shared home; the printed command removes both.
    let remove = stderr.lines().find_map(|l| l.strip_prefix("remove when done: ")).unwrap_or_else(|| panic!("no removal command: {stderr}"));
    let removed = Command::new("bash").args(["-c", remove]).output().unwrap();
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(containers(), before, "the printed command left the kept container");
    assert!(run_volumes().is_empty(), "the printed command left the shared home volume");
    assert!(listed(&["network", "ls"]).is_empty(), "the printed command left the run's network");
}
