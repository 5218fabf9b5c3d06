//! Faults during install: hangs are cut off by timeouts, a second install of
//! the same workspace is refused, and a killed install never breaks the
//! kernel that was installed before it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const JUPYTER: &str = r#"{ "jupyter": "ipykernel" }"#;

fn steps(report: &serde_json::Value, kernel: usize) -> Vec<(String, String)> {
    report["partitions"][0]["kernels"][kernel]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["stage"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string()))
        .collect()
}

fn status_of(report: &serde_json::Value, kernel: usize, stage: &str) -> String {
    steps(report, kernel).into_iter().find(|(s, _)| s == stage).map(|(_, st)| st).unwrap_or_default()
}

#[test]
fn hanging_steps_time_out_and_the_other_kernels_go_on() {
    require_lmod();
    let site = Site::new();
    // A module whose Lua never returns, a pip that waits on a silent index,
    // and a test_script that sleeps for ever.
    std::fs::create_dir_all(site.modulepath.join("Hang")).unwrap();
    std::fs::write(site.modulepath.join("Hang/1.0.lua"), "while true do end\n").unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let groups = format!(r#"{{ "jupyter": "ipykernel", "stuck": "nothing-here --index-url http://127.0.0.1:{port}/simple" }}"#);
    let kernels = r#"{
      "hang-module": { "name": "a", "module_load": ["Hang/1.0"] },
      "hang-pip": { "name": "b", "pip_dependencies": ["stuck"] },
      "hang-test": { "name": "c", "pip_dependencies": ["jupyter"], "test_script": "sleep 1000" },
      "fine": { "name": "d", "module_load": ["Demo/1.0"], "pip_dependencies": ["jupyter"], "check_libs": "demo_pkg" }
    }"#;
    let spec = site.spec_with(&groups, kernels);
    let started = Instant::now();
    let out = site
        .install_command(&spec, &["--json", "--timeout", "modules=4", "--timeout", "test_script=4", "--pip-timeout", "60"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status_of(&report, 0, "modules"), "timed_out");
    assert_eq!(status_of(&report, 1, "pip:stuck"), "timed_out");
    assert_eq!(status_of(&report, 2, "test_script"), "timed_out");
    assert!(steps(&report, 3).iter().all(|(_, s)| s == "passed"), "{:?}", steps(&report, 3));
    let test_step = report["partitions"][0]["kernels"][2]["steps"].as_array().unwrap().iter().find(|s| s["stage"] == "test_script").unwrap();
    let message = test_step["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains("within 4s"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(240));
    drop(silent);
}

#[test]
fn a_second_install_of_the_same_workspace_is_refused() {
    require_lmod();
    let site = Site::new();
    let spec = site.spec_with(JUPYTER, r#"{ "slow": { "name": "s", "test_script": "sleep 6" } }"#);
    let mut first = site.install_command(&spec, &["--jsonl", "--no-launch-check"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    // Wait until the first install is really running.
    for line in lines.by_ref() {
        if line.unwrap().contains("step_started") {
            break;
        }
    }
    let second = site.install_command(&spec, &["--json"]).output().unwrap();
    assert_eq!(second.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another hpc-kernels install is running"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.id())), "{stderr}");
    for _ in lines {}
    assert!(first.wait().unwrap().success());
}

/// Runs an install of `spec` and delivers `signal` once `stage` has started.
fn interrupt_at(site: &Site, spec: &std::path::Path, stage: &str, signal: nix::sys::signal::Signal) {
    let mut child = site.install_command(spec, &["--jsonl"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut seen = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("\"step_started\"") && line.contains(&format!("\"stage\":\"{stage}\"")) {
            std::thread::sleep(Duration::from_millis(300));
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
            seen = true;
            break;
        }
    }
    assert!(seen, "stage {stage} never started");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the install survived {signal:?}");
}

#[test]
fn killed_reinstalls_never_break_the_installed_kernel() {
    use nix::sys::signal::Signal;
    require_lmod();
    let site = Site::new();
    let kernel = |pip: &str| format!(r#"{{ "demo": {{ "name": "Demo", "module_load": ["Demo/1.0"], "pip_dependencies": ["{pip}"], "check_libs": "demo_pkg" }} }}"#);
    let v1 = site.spec_with(JUPYTER, &kernel("jupyter"));
    site.install(&v1).success();
    let installed = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();

    // Each changed spec needs a new venv, so the reinstall really rebuilds.
    let cases = [
        ("venv", Signal::SIGINT, r#"{ "v2": "ipykernel --no-deps" }"#, "v2"),
        ("pip:v3", Signal::SIGTERM, r#"{ "v3": "ipykernel comm" }"#, "v3"),
        ("launch", Signal::SIGKILL, r#"{ "v4": "ipykernel traitlets" }"#, "v4"),
    ];
    for (stage, signal, groups, group) in cases {
        let spec = site.spec_with(groups, &kernel(group));
        interrupt_at(&site, &spec, stage, signal);
        let now = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
        assert_eq!(now, installed, "{signal:?} during {stage} changed the installed kernel");
        let kernels: Vec<_> = std::fs::read_dir(site.path("prefix/share/jupyter/kernels")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(kernels, vec![std::ffi::OsString::from("demo")], "{signal:?} during {stage} left {kernels:?}");
        let out = site.run_cell("import demo_pkg; print('STILL', demo_pkg.__version__)");
        assert!(out.contains("STATUS ok") && out.contains("STILL 1.0"), "after {signal:?} during {stage}: {out}");
    }
    // And a rerun completes.
    let last = site.spec_with(r#"{ "v4": "ipykernel traitlets" }"#, &kernel("v4"));
    site.install(&last).success();
    assert!(site.run_cell("import demo_pkg").contains("STATUS ok"));
    let staging = site.path("prefix/share/jupyter/.hpc-kernels-staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(), "staging left behind");
}
