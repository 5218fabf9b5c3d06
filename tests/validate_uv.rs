//! `validate --installer uv` in the containers: uv comes from the PyPI wheel
//! in the tools venv, mounted beside the binary; the installs give the same
//! distributions as pip's, with the packages outside the venv (Debian's, the
//! module's) counted as installed, and they pass.

mod common;

use std::collections::BTreeSet;

use common::*;

/// A module Python of the image's own version (3.11): the index proxy shows
/// pip the files as that interpreter sees them, and uv sees the same.
const SPEC: &str = r#"{
  "modules_by_cluster": { "romeo": "release/24.04 GCCcore/12.3.0 Python/3.11.3" },
  "pip_module_groups": { "base": "ipykernel requests" },
  "kernels": { "small": { "name": "Small", "pip_dependencies": ["base"],
                          "check_libs": "requests ipykernel", "test_script": "true" } }
}"#;

fn validate(spec: &std::path::Path, installer: &str) -> serde_json::Value {
    let assert = bin()
        .args(["validate", "--json", "--partition", "romeo", "--installer", installer])
        .arg(spec)
        .timeout(std::time::Duration::from_secs(1200))
        .assert();
    let out = assert.get_output();
    assert!(out.status.success(), "validate --installer {installer}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pip_step(report: &serde_json::Value) -> &serde_json::Value {
    let steps = report["partitions"][0]["kernels"][0]["steps"].as_array().unwrap();
    steps.iter().find(|s| s["stage"] == "pip:base").expect("a pip:base step")
}

/// `name==version` of what the group put into the venv, from the step's log.
fn installed(report: &serde_json::Value, installer: &str) -> BTreeSet<String> {
    let log = pip_step(report)["log"].as_str().unwrap();
    let normal = |s: &str| s.to_lowercase().replace('_', "-");
    if installer == "uv" {
        log.lines().filter_map(|l| l.strip_prefix(" + ")).map(normal).collect()
    } else {
        let line = log.lines().find(|l| l.starts_with("Successfully installed ")).unwrap_or_else(|| panic!("{log}"));
        line.split_whitespace()
            .skip(2)
            .filter_map(|d| d.rsplit_once('-'))
            .map(|(name, version)| format!("{}=={version}", normal(name)))
            .collect()
    }
}

#[test]
fn uv_in_the_containers_installs_what_pip_installs() {
    require_docker();
    let _serial = container_test_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, SPEC).unwrap();
    let pip = validate(&spec, "pip");
    let uv = validate(&spec, "uv");

    assert!(uv["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with("installer: uv ")), "{:#}", uv["notes"]);
    assert!(pip_step(&uv)["command"].as_str().unwrap().starts_with("uv pip install "), "{:#}", pip_step(&uv));
    let log = pip_step(&uv)["log"].as_str().unwrap();
    assert!(log.contains("counted as installed as pip counts them:"), "{log}");
    let (from_pip, from_uv) = (installed(&pip, "pip"), installed(&uv, "uv"));
    assert!(from_pip.iter().any(|d| d.starts_with("ipykernel==")), "{from_pip:?}");
    assert_eq!(from_pip, from_uv);
}
