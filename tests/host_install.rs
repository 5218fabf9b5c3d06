//! End to end on this host: Debian's Lmod, a module tree made here, real pip,
//! real venvs, and kernels started by a real jupyter_client.

mod common;

use std::process::Command;

use common::*;

fn report(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout).expect("install --json prints a report")
}

#[test]
fn installed_kernel_starts_from_a_bare_server_with_its_modules() {
    require_lmod();
    let site = Site::new();
    let spec = site.spec("\"python -c 'import demo_pkg, os; assert os.environ[\\\"EBVERSIONDEMO\\\"] == \\\"1.0\\\"'\"", "");
    let assert = site.install(&spec).success();
    let r = report(&assert);
    let steps: Vec<&str> = r["partitions"][0]["kernels"][0]["steps"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(steps, ["modules", "venv", "pip:jupyter", "consistency", "import:demo_pkg", "import:ipykernel", "test_script", "kernelspec", "launch"]);

    let kj = site.kernel_json();
    assert_eq!(kj["argv"][0], "{resource_dir}/launch-kernel.sh");
    assert_eq!(kj["display_name"], "Demo \"kernel\"");
    assert_eq!(kj["metadata"]["hpc_kernels"]["partitions"]["testpart"]["modules"], serde_json::json!(["release/23.10", "Demo/1.0"]));

    let out = site.run_cell("import demo_pkg, os, sys; print('VERSION', demo_pkg.__version__); print('PREFIX', sys.prefix); print('LOADED', os.environ['LOADEDMODULES'])");
    assert!(out.contains("STATUS ok"), "{out}");
    assert!(out.contains("VERSION 1.0"), "{out}");
    assert!(out.contains("LOADED release/23.10:Demo/1.0"), "{out}");

    // `jupyter kernelspec list` (jupyter_client's own) finds it.
    let jupyter = site.venv_python().with_file_name("jupyter-kernelspec");
    let out = Command::new(jupyter)
        .arg("list")
        .env("JUPYTER_PATH", site.path("prefix/share/jupyter"))
        .env("JUPYTER_DATA_DIR", site.path("empty-data"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("demo") && listed.contains("prefix/share/jupyter/kernels/demo"), "{listed}");

    // Nothing world-writable, and the launcher is executable.
    for entry in walkdir::WalkDir::new(site.path("prefix")) {
        use std::os::unix::fs::PermissionsExt;
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o002, 0, "{} is world-writable", entry.path().display());
    }

    // A reinstall whose test_script fails leaves the working kernel as it was.
    let before = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
    let broken = site.spec("\"exit 3\"", "");
    let assert = site.install(&broken).code(1);
    let r = report(&assert);
    let steps = r["partitions"][0]["kernels"][0]["steps"].as_array().unwrap();
    let at = steps.iter().position(|s| s["stage"] == "test_script").expect("a test_script step");
    assert_eq!(steps[at]["status"], "failed");
    assert_eq!(steps[at + 1]["status"], "skipped");
    let after = std::fs::read_to_string(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();
    assert_eq!(before, after);
    assert!(site.run_cell("import demo_pkg").contains("STATUS ok"));
}

#[test]
fn a_failing_module_stops_its_kernel_only() {
    require_lmod();
    let site = Site::new();
    let extra = r#",
    "missing": { "name": "Missing module", "module_load": ["Nope/9.9"], "pip_dependencies": ["jupyter"] }"#;
    let spec = site.spec("\"true\"", extra);
    let assert = site.install(&spec).code(1);
    let r = report(&assert);
    let kernels = r["partitions"][0]["kernels"].as_array().unwrap();
    assert_eq!(kernels[0]["kernel"], "demo");
    assert!(kernels[0]["steps"].as_array().unwrap().iter().all(|s| s["status"] == "passed"));
    let missing = &kernels[1]["steps"];
    assert_eq!(missing[0]["stage"], "modules");
    assert_eq!(missing[0]["status"], "failed");
    assert!(missing[0]["log"].as_str().unwrap().contains("Nope/9.9"), "{}", missing[0]["log"]);
    assert!(missing[1]["status"] == "skipped");
    assert!(!site.path("prefix/share/jupyter/kernels/missing").exists());
}

/// The checks after pip run side by side; a check after the first failed one
/// ran but does not count, and nothing is installed. One at a time, it does
/// not run at all.
#[test]
fn checks_run_side_by_side_and_a_check_after_a_failure_does_not_count() {
    require_lmod();
    let site = Site::new();
    let kernels = r#"{ "demo": { "name": "Demo", "module_load": ["Demo/1.0"], "pip_dependencies": ["jupyter"],
        "check_libs": "demo_pkg no_such_module_here", "test_script": "python -c 'import demo_pkg'" } }"#;
    let spec = site.spec_with(r#"{ "jupyter": "ipykernel" }"#, kernels);
    let status = |r: &serde_json::Value, stage: &str| -> (String, String) {
        let step = r["partitions"][0]["kernels"][0]["steps"].as_array().unwrap().iter().find(|s| s["stage"] == stage).unwrap().clone();
        let why = step["message"].as_str().or(step["reason"].as_str()).unwrap_or_default().to_string();
        (step["status"].as_str().unwrap().to_string(), why)
    };

    // Jobs for every check: all start at once, before any can fail (with
    // fewer, a check not yet started after a failure is not started at all).
    let side_by_side = assert_cmd::Command::from_std(site.install_command(&spec, &["--json", "--check-jobs", "8"])).assert().code(1);
    let r = report(&side_by_side);
    assert_eq!(status(&r, "import:demo_pkg").0, "passed");
    let (failed, message) = status(&r, "import:no_such_module_here");
    assert_eq!(failed, "failed");
    assert!(message.contains("No module named 'no_such_module_here'"), "{message}");
    // The test_script and the launch ran alongside; neither counts, and each
    // says what it gave (the kernel imports every check_lib, so its cell failed).
    let not_counted = |gave: &str| format!("not counted: import:no_such_module_here did not pass (this check ran alongside it and {gave})");
    assert_eq!(status(&r, "test_script"), ("skipped".to_string(), not_counted("passed")));
    assert_eq!(status(&r, "launch"), ("skipped".to_string(), not_counted("failed")));
    let logs = site.path("ws/logs/testpart/demo");
    let launch_log = std::fs::read_dir(logs).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().ends_with("-launch.log")).unwrap();
    assert!(std::fs::read_to_string(launch_log).unwrap().contains("HPCK_RESULT"), "the launch check really ran");
    assert!(!site.path("prefix/share/jupyter/kernels/demo").exists(), "a kernel whose import failed was installed");
    let staging = site.path("prefix/share/jupyter/.hpc-kernels-staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(), "staging left behind");

    let one_by_one = assert_cmd::Command::from_std(site.install_command(&spec, &["--json", "--check-jobs", "1"])).assert().code(1);
    let r = report(&one_by_one);
    assert_eq!(status(&r, "launch"), ("skipped".to_string(), "not run: import:no_such_module_here did not pass".to_string()));

    // Fixed, the kernel installs with its checks side by side, every one passed.
    let fixed = site.spec_with(r#"{ "jupyter": "ipykernel" }"#, &kernels.replace(" no_such_module_here", ""));
    let r = report(&assert_cmd::Command::from_std(site.install_command(&fixed, &["--json", "--check-jobs", "3"])).assert().success());
    let steps = r["partitions"][0]["kernels"][0]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "passed"), "{steps:?}");
    assert!(site.run_cell("import demo_pkg").contains("STATUS ok"));
}
