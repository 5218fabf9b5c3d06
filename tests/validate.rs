//! The main job, for real: the example specs on the three emulated
//! partitions, in containers, with JUnit and kernelspec snapshots.

mod common;

use std::path::Path;

use common::*;
use predicates::prelude::*;

/// `(partition, kernel) → first failing stage or "passed"`, from `validate --json`.
fn cells(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in report["partitions"].as_array().unwrap() {
        for k in p["kernels"].as_array().unwrap() {
            let steps = k["steps"].as_array().unwrap();
            let first_bad = steps.iter().find(|s| !matches!(s["status"].as_str(), Some("passed") | Some("skipped")));
            let cell = first_bad.map(|s| s["stage"].as_str().unwrap().to_string()).unwrap_or_else(|| "passed".into());
            out.push((p["partition"].as_str().unwrap().to_string(), k["kernel"].as_str().unwrap().to_string(), cell));
        }
    }
    out
}

fn cell(p: &str, k: &str, c: &str) -> (String, String, String) {
    (p.into(), k.into(), c.into())
}

/// The index flags every run of the examples uses: PyPI as it was on
/// [`INDEX_DATE`], with the PyTorch CPU index (unreachable here) served from PyPI.
fn example_index_args() -> Vec<String> {
    ["--exclude-newer", INDEX_DATE, "--index-map", "https://download.pytorch.org/whl/cpu=https://pypi.org/simple"]
        .map(String::from)
        .to_vec()
}

/// The seed example against the real index: pip pulls what the modules do
/// not agree with, and the consistency stage says so in pip's words. Every
/// wheel is a stand-in with its real metadata (`--wheels metadata`): the
/// verdicts come from resolution and metadata, and CI need not install
/// gigabytes of real files to reach them.
#[test]
fn example_spec_matrix_and_junit() {
    require_docker();
    let _serial = container_test_lock();
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("results.xml");
    let assert = bin()
        .args(["validate", "--json", "--wheels", "metadata", "--junit"])
        .arg(&junit)
        .args(example_index_args())
        .arg(fixture("specs/example.json"))
        .timeout(std::time::Duration::from_secs(1800))
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let mut got = cells(&report);
    got.sort();
    let mut want = vec![
        // Unpinned groups pull versions newer than the modules' (below).
        cell("alpha", "pytorch", "consistency"),
        cell("alpha", "tensorflow", "consistency"),
        // release/23.10 alone does not expose PyTorch or TensorFlow on barnard.
        cell("barnard", "pytorch", "modules"),
        cell("barnard", "tensorflow", "modules"),
        cell("romeo", "pytorch", "consistency"),
        // No CUDA build of TensorFlow on romeo.
        cell("romeo", "tensorflow", "modules"),
    ];
    want.sort();
    assert_eq!(got, want, "{stderr}");

    // The barnard failure is Lmod's own, with the hierarchy hint.
    let barnard = &report["partitions"][1];
    assert_eq!(barnard["partition"], "barnard");
    let pytorch = barnard["kernels"].as_array().unwrap().iter().find(|k| k["kernel"] == "pytorch").unwrap();
    assert!(pytorch["steps"][0]["message"].as_str().unwrap().contains("cannot be loaded as requested"), "{}", pytorch["steps"][0]);

    // alpha's PyTorch kernel: the unpinned torchvision brings a torch 2.x that
    // the module's torch 1.13.1 shadows, and matplotlib wants a newer numpy
    // than SciPy-bundle's, in pip check's own words.
    let alpha = report["partitions"][0]["kernels"].as_array().unwrap();
    let pytorch = alpha.iter().find(|k| k["kernel"] == "pytorch").unwrap();
    let consistency = pytorch["steps"].as_array().unwrap().iter().find(|s| s["stage"] == "consistency").unwrap();
    let log = consistency["log"].as_str().unwrap();
    assert!(log.contains("is shadowed by torch 1.13.1 (module PyTorch/1.13.1 on PYTHONPATH"), "{log}");
    assert!(log.contains("torchvision 0.24.1 has requirement torch==2.9.1, but you have torch 1.13.1."), "{log}");
    assert!(log.contains("matplotlib 3.10.8 has requirement numpy>=1.23, but you have numpy 1.22.3."), "{log}");
    assert!(pytorch["modules"].as_array().unwrap().iter().any(|m| m == "OpenMPI/4.1.4"));
    let notes: Vec<&str> = report["notes"].as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    assert!(notes.iter().any(|n| n.contains("https://download.pytorch.org/whl/cpu served from https://pypi.org/simple")), "{notes:?}");

    // JUnit: valid against the common schema, and a real consumer agrees with the matrix.
    let xsd = fixture("junit-10.xsd");
    let lint = std::process::Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&junit).output().expect("xmllint (libxml2-utils) is installed");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    let counts = python(
        r#"
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    cases = list(suite)
    f = sum(1 for c in cases for r in c.result if isinstance(r, Failure))
    e = sum(1 for c in cases for r in c.result if isinstance(r, Error))
    s = sum(1 for c in cases for r in c.result if isinstance(r, Skipped))
    names = [(c.classname, c.name) for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (len(cases), f, e, s), suite.name
    print(suite.name, len(cases), f, e, s)
"#,
        &[junit.to_str().unwrap()],
    );
    let lines: Vec<&str> = counts.lines().collect();
    assert_eq!(lines.len(), 3, "{counts}");
    // Two failed kernels per partition, no errors: `name cases failures errors skipped`.
    for (line, partition) in lines.iter().zip(["alpha", "barnard", "romeo"]) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((fields[0], fields[2], fields[3]), (partition, "2", "0"), "{counts}");
    }
}

#[test]
fn corrected_example_passes_everywhere_and_a_changed_spec_shows_a_diff() {
    require_docker();
    let _serial = container_test_lock();
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("results.xml");
    bin()
        .args(["validate", "--junit"])
        .arg(&junit)
        .args(example_index_args())
        .arg("--snapshots")
        .arg(fixture("snapshots/example-fixed"))
        .arg(fixture("specs/example-fixed.json"))
        .timeout(std::time::Duration::from_secs(1800))
        .assert()
        .success()
        .stdout(predicate::str::contains("kernels: 6 passed, 0 failed, 0 skipped"));
    // One home for the run: each kernel's one kernelspec started on every partition.
    let shared = python(
        r#"
import sys, xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    if case.get("name") == "shared-home":
        bad = case.find("failure") is not None or case.find("error") is not None or case.find("skipped") is not None
        print(case.get("classname"), "bad" if bad else "ok", (case.findtext("system-out") or "").strip().splitlines()[-1])
"#,
        &[junit.to_str().unwrap()],
    );
    let mut lines: Vec<&str> = shared.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 6, "{shared}");
    for (line, cell) in lines.iter().zip(["alpha.pytorch", "alpha.tensorflow", "barnard.pytorch", "barnard.tensorflow", "romeo.pytorch", "romeo.tensorflow"]) {
        let (partition, kernel) = cell.split_once('.').unwrap();
        assert_eq!(*line, format!("{cell} ok ✔ {kernel} on {partition}: started, imported {} check_libs", if kernel == "pytorch" { 17 } else { 15 }));
    }

    // A spec change (a display name) changes the generated kernel.json: diff, exit 1.
    let work = tempfile::tempdir().unwrap();
    let spec_text = std::fs::read_to_string(fixture("specs/example-fixed.json")).unwrap();
    let changed = work.path().join("example-fixed.json");
    std::fs::write(&changed, spec_text.replace("PyTorch (Machine Learning)", "PyTorch 1.13 (ML)")).unwrap();
    let snapshots = work.path().join("snapshots");
    copy_dir(&fixture("snapshots/example-fixed"), &snapshots);
    let run = |accept: bool| {
        let mut cmd = bin();
        // The kernelspec, not resolution, is under test here.
        cmd.args(["validate", "--color", "never", "--wheels", "synthetic", "--partition", "alpha", "--kernel", "pytorch", "--snapshots"]).arg(&snapshots).arg(&changed);
        if accept {
            cmd.arg("--accept");
        }
        cmd.timeout(std::time::Duration::from_secs(900)).assert()
    };
    let changed_run = run(false)
        .code(1)
        .stderr(predicate::str::contains("-  \"display_name\": \"PyTorch (Machine Learning)\"").and(predicate::str::contains("+  \"display_name\": \"PyTorch 1.13 (ML)\"")));
    let stderr = String::from_utf8_lossy(&changed_run.get_output().stderr).into_owned();
    let lines = snapshot_report_lines(&stderr);
    assert!(lines.contains(&"changed alpha/pytorch/kernel.json:"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("to accept 1 snapshot(s)")), "{lines:?}");
    // Nothing is written unless asked.
    assert!(std::fs::read_to_string(snapshots.join("alpha/pytorch/kernel.json")).unwrap().contains("PyTorch (Machine Learning)"));
    run(true).success();
    assert!(std::fs::read_to_string(snapshots.join("alpha/pytorch/kernel.json")).unwrap().contains("PyTorch 1.13 (ML)"));
    run(false).success();
}

/// The lines the snapshot check prints for a snapshot that differs or is
/// missing (`changed …:`, `new …:`, `to accept …`).
fn snapshot_report_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("changed ") || l.starts_with("new ") || l.starts_with("to accept "))
        .collect()
}

/// Module packages carry their real metadata, and the consistency stage sees
/// what the kernel will import: a venv numpy newer than SciPy-bundle's fails
/// there, naming both; a pin matching the module and two kernels pinning
/// different xarray versions pass.
#[test]
fn consistency_stage_names_shadowed_module_packages() {
    require_docker();
    let _serial = container_test_lock();
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("results.xml");
    let assert = bin()
        .args(["validate", "--json", "--exclude-newer", INDEX_DATE, "--partition", "alpha", "--junit"])
        .arg(&junit)
        .arg(fixture("specs/consistency.json"))
        .timeout(std::time::Duration::from_secs(1800))
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let mut got = cells(&report);
    got.sort();
    let mut want = vec![
        cell("alpha", "numpy-as-module", "passed"),
        cell("alpha", "numpy-newer", "consistency"),
        cell("alpha", "xarray-new", "passed"),
    ];
    want.sort();
    assert_eq!(got, want, "{stderr}");

    let kernels = report["partitions"][0]["kernels"].as_array().unwrap();
    let newer = kernels.iter().find(|k| k["kernel"] == "numpy-newer").unwrap();
    let step = newer["steps"].as_array().unwrap().iter().find(|s| s["stage"] == "consistency").unwrap();
    let message = step["message"].as_str().unwrap();
    assert!(message.starts_with("consistency check exited with status 1: numpy 1.26.4 (venv /"), "{message}");
    assert!(
        message.ends_with(
            "is shadowed by numpy 1.22.3 (module SciPy-bundle/2022.05 on PYTHONPATH /sw/installed/SciPy-bundle/2022.05/lib/python3.10/site-packages), which is imported first."
        ),
        "{message}"
    );
    // The imports after it do not count: a failed consistency stops the kernel
    // (checks that ran alongside it are skipped as not counted).
    let after: Vec<&str> = newer["steps"].as_array().unwrap().iter().skip_while(|s| s["stage"] != "consistency").skip(1).map(|s| s["status"].as_str().unwrap()).collect();
    assert!(!after.is_empty() && after.iter().all(|s| *s == "skipped"), "{after:?}");

    // The module's pandas has its real requirements, met by what is imported first.
    let matching = kernels.iter().find(|k| k["kernel"] == "numpy-as-module").unwrap();
    let log = matching["steps"].as_array().unwrap().iter().find(|s| s["stage"] == "consistency").unwrap()["log"].as_str().unwrap().to_string();
    assert!(log.contains("No broken requirements."), "{log}");

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"name="consistency" classname="alpha.numpy-newer""#), "{xml}");
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A later partition's install that breaks an earlier partition's kernel in
/// the shared home: the earlier partition fails its `shared-home` case.
#[test]
fn a_kernel_broken_for_another_partition_fails_its_shared_home_case() {
    require_docker();
    let _serial = container_test_lock();
    let work = tempfile::tempdir().unwrap();
    let spec = work.path().join("sabotage.json");
    // romeo installs after alpha (one job at a time, partitions in order) and
    // deletes alpha's launcher from the kernelspec they share.
    std::fs::write(
        &spec,
        r#"{
  "modules_by_cluster": { "alpha": "release/23.10", "romeo": "release/23.10" },
  "pip_module_groups": { "jupyter": "ipykernel" },
  "kernels": {
    "demo": {
      "name": "Demo",
      "module_load": ["GCCcore/11.3.0", "Python/3.10.4"],
      "pip_dependencies": ["jupyter"],
      "test_script": "if uname -n | grep -q romeo; then rm -f ~/.local/share/jupyter/kernels/demo/launch-alpha-*.sh; fi"
    }
  }
}"#,
    )
    .unwrap();
    let assert = bin()
        .args(["validate", "--json", "--exclude-newer", INDEX_DATE, "--jobs", "1", "--partition", "alpha,romeo"])
        .arg(&spec)
        .timeout(std::time::Duration::from_secs(1800))
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let mut got = cells(&report);
    got.sort();
    assert_eq!(got, vec![cell("alpha", "demo", "shared-home"), cell("romeo", "demo", "passed")]);
    let alpha = &report["partitions"][0]["kernels"][0]["steps"];
    let step = alpha.as_array().unwrap().iter().find(|s| s["stage"] == "shared-home").unwrap();
    let message = step["message"].as_str().unwrap();
    assert!(message.contains("does not start on alpha"), "{message}");
    assert!(step["log"].as_str().unwrap().contains("of partition alpha is missing"), "{}", step["log"]);
}
