//! Real resolution: pip in the cells resolves against the real index (PyPI,
//! as it was on a fixed date) through the run's index proxy, installs real
//! wheels within the size budget and stand-ins with real metadata above it,
//! and a second run replays from the cache.

mod common;

use common::*;

fn validate_json(args: &[&str], spec: &std::path::Path) -> (i32, serde_json::Value, String) {
    let out = bin()
        .args(["validate", "--json", "--exclude-newer", INDEX_DATE])
        .args(args)
        .arg(spec)
        .timeout(std::time::Duration::from_secs(1800))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn kernel<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["partitions"][0]["kernels"].as_array().unwrap().iter().find(|k| k["kernel"] == name).unwrap()
}

/// The first stage with a problem: its name, message and log.
fn first_problem(kernel: &serde_json::Value) -> Option<(String, String, String)> {
    kernel["steps"].as_array().unwrap().iter().find(|s| !matches!(s["status"].as_str(), Some("passed") | Some("skipped"))).map(|s| {
        let text = |key: &str| s[key].as_str().unwrap_or_default().to_string();
        (text("stage"), text("message"), text("log"))
    })
}

fn notes(report: &serde_json::Value) -> Vec<String> {
    report["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// sympy, requests and plotly work for real (the test script computes with
/// them); a second run, installing afresh, needs no index request, the third
/// replays offline, and the fourth keeps the first one's venv and reruns every check.
#[test]
fn small_real_packages_work_for_real_and_later_runs_need_no_index() {
    require_docker();
    let _serial = container_test_lock();
    let spec = fixture("specs/real-packages.json");
    // Installs into the cell's kept venv (or keeps one an earlier test left).
    let (code, report, stderr) = validate_json(&["--partition", "alpha"], &spec);
    assert_eq!(code, 0, "{stderr}");
    let real = kernel(&report, "real");
    assert_eq!(first_problem(real), None, "{stderr}");
    let cell_notes = strings(&real["notes"]);
    assert!(cell_notes.iter().all(|n| !n.starts_with("stand-ins installed")), "no stand-ins: {cell_notes:?}");
    let python_note = "Python/3.10.4 runs as Debian's CPython 3.11 in the image; the index was presented to the installer as CPython 3.10";
    assert!(cell_notes.iter().any(|n| n.starts_with(python_note)), "{cell_notes:?}");
    let run_notes = notes(&report);
    assert!(run_notes.iter().any(|n| n.starts_with("package index: https://pypi.org/simple")), "{run_notes:?}");
    assert!(run_notes.iter().any(|n| n.contains(&format!("as it was on {INDEX_DATE} (--exclude-newer)"))), "{run_notes:?}");

    // Installs afresh, every page and file from the proxy's cache.
    let (code, report, stderr) = validate_json(&["--partition", "alpha", "--reinstall"], &spec);
    assert_eq!(code, 0, "{stderr}");
    assert!(step(kernel(&report, "real"), "pip:base")["log"].as_str().unwrap().contains("Successfully installed"), "{stderr}");
    assert!(
        notes(&report).iter().any(|n| n.starts_with("requests that went to an index this run: 0 ")),
        "a warm run must not touch the index: {:?}",
        notes(&report)
    );

    let (code, report, stderr) = validate_json(&["--partition", "alpha", "--offline", "--reinstall"], &spec);
    assert_eq!(code, 0, "{stderr}");
    assert!(notes(&report).iter().any(|n| n.contains("replayed from the cache (--offline)")), "{:?}", notes(&report));

    // Without --reinstall the kept venv of the first run comes back: pip is
    // not rerun, every check is, and the cell says so with what its install said.
    let (code, report, stderr) = validate_json(&["--partition", "alpha"], &spec);
    assert_eq!(code, 0, "{stderr}");
    let real = kernel(&report, "real");
    assert_eq!(first_problem(real), None, "{stderr}");
    assert!(step(real, "pip:base")["log"].as_str().unwrap().starts_with("not rerun: its pip groups were installed at "), "{real}");
    for checked in ["consistency", "import:sympy", "test_script", "launch", "shared-home"] {
        assert_eq!(step(real, checked)["status"], "passed", "{checked} ran: {real}");
    }
    assert!(step(real, "launch")["seconds"].as_f64().unwrap() > 0.1, "the launch ran: {real}");
    let cell_notes = strings(&real["notes"]);
    assert!(cell_notes.iter().any(|n| n.starts_with("venv kept from run ")), "{cell_notes:?}");
    assert!(cell_notes.iter().any(|n| n.starts_with("pip was not rerun (--reuse-venv)")), "{cell_notes:?}");
    assert!(cell_notes.iter().any(|n| n.starts_with(python_note)), "the install's interpreter note survives: {cell_notes:?}");
    assert!(notes(&report).iter().any(|n| n.starts_with("venvs: kept between runs")), "{:?}", notes(&report));
}

fn step<'a>(kernel: &'a serde_json::Value, stage: &str) -> &'a serde_json::Value {
    let steps = kernel["steps"].as_array().unwrap_or_else(|| panic!("no steps: {kernel}"));
    steps.iter().find(|s| s["stage"] == stage).unwrap_or_else(|| panic!("no {stage} step: {kernel}"))
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// A pin whose Requires-Python excludes the interpreter fails at pip in pip's
/// words; a wheel over the budget is installed as a stand-in with its real
/// metadata, and its cell says so; a release with wheels for CPython 3.10
/// only (the module's Python) is chosen as on the cluster, as a stand-in.
#[test]
fn requires_python_decides_and_heavy_wheels_are_named_stand_ins() {
    require_docker();
    let _serial = container_test_lock();
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("resolution.json");
    std::fs::write(
        &spec,
        r#"{
  "modules_by_cluster": { "alpha": "release/23.10 GCC/11.3.0 OpenMPI/4.1.4 Python/3.10.4" },
  "pip_module_groups": { "jupyter": "ipykernel", "django6": "Django==6.0", "plotly": "plotly", "torchvision": "torchvision==0.14.1" },
  "kernels": {
    "too-new": { "name": "Django 6 needs Python 3.12", "pip_dependencies": ["jupyter", "django6"], "check_libs": "django" },
    "heavy": { "name": "plotly over a 5 MiB budget", "pip_dependencies": ["jupyter", "plotly"], "check_libs": "plotly",
               "test_script": "python -c 'import plotly; assert plotly.__hpc_kernels_stand_in__'" },
    "cp310-only": { "name": "torchvision for the module's torch", "module_load": ["PyTorch/1.13.1"],
                    "pip_dependencies": ["jupyter", "torchvision"], "check_libs": "torchvision" }
  }
}"#,
    )
    .unwrap();
    let (code, report, stderr) = validate_json(&["--partition", "alpha", "--wheel-budget", "5", "--jobs", "2"], &spec);
    assert_eq!(code, 1, "{stderr}");

    let (stage, message, log) = first_problem(kernel(&report, "too-new")).expect("Django 6.0 cannot install");
    assert_eq!(stage, "pip:django6");
    assert!(message.contains("No matching distribution found for Django==6.0"), "{message}");
    assert!(log.contains("Requires-Python >=3.12"), "pip's own words: {log}");

    let heavy = kernel(&report, "heavy");
    assert_eq!(first_problem(heavy), None, "{heavy}");
    let note = stand_in_note(heavy);
    assert!(note.contains("plotly ") && note.contains("-py3-none-any.whl"), "{note}");

    let cp310 = kernel(&report, "cp310-only");
    assert_eq!(first_problem(cp310), None, "{cp310}");
    let note = stand_in_note(cp310);
    assert!(
        note.contains("torchvision 0.14.1 (torchvision-0.14.1-cp310-cp310-manylinux1_x86_64.whl")
            && note.contains("offered as torchvision-0.14.1-cp311-cp311-manylinux1_x86_64.whl"),
        "{note}"
    );
    let notes: Vec<&str> = cp310["notes"].as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    assert!(notes.iter().any(|n| n.starts_with("Python/3.10.4 runs as Debian's CPython 3.11")), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("module packages not as built on the cluster") && n.contains("torch 1.13.1 (import only) (PyTorch/1.13.1)")), "{notes:?}");
}

/// The cell's note naming its stand-ins.
fn stand_in_note(kernel: &serde_json::Value) -> String {
    let notes = kernel["notes"].as_array().unwrap_or_else(|| panic!("the cell names its stand-ins: {kernel}"));
    notes
        .iter()
        .filter_map(|n| n.as_str())
        .find(|n| n.starts_with("stand-ins installed (real metadata, no real code"))
        .unwrap_or_else(|| panic!("no stand-in note: {notes:?}"))
        .to_string()
}

/// `--offline` with nothing recorded: an environment error naming the URL.
#[test]
fn an_offline_miss_is_an_environment_error_naming_the_url() {
    require_docker();
    let _serial = container_test_lock();
    let cache = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["validate", "--partition", "alpha", "--offline", "--exclude-newer", INDEX_DATE, "--cache-dir"])
        .arg(cache.path())
        .arg(fixture("specs/real-packages.json"))
        .timeout(std::time::Duration::from_secs(900))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("https://pypi.org/simple/ipykernel/: not in the cache (--offline)"), "{stderr}");
    assert!(stderr.contains("hint: run once without --offline"), "{stderr}");
}

/// Flags that make no sense are refused before anything runs.
#[rstest::rstest]
#[case(&["--exclude-newer", "yesterday"], "--exclude-newer")]
#[case(&["--index-map", "https://a"], "--index-map")]
#[case(&["--index-map", "*=https://a"], "--index-map")]
#[case(&["--wheels", "some"], "--wheels")]
fn bad_index_flags_are_usage_errors(#[case] args: &[&str], #[case] named: &str) {
    let out = bin().arg("validate").args(args).arg(fixture("specs/real-packages.json")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(named), "{stderr}");
}
