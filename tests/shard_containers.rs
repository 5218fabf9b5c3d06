//! `validate --shard` for real: the example spec on the emulated partitions in
//! three shards; every cell runs in exactly one of them, each shard builds only
//! its partitions' images, and `report merge` of the shards' JSON and JUnit
//! gives the matrix of the whole run.

mod common;

use common::*;

/// `(partition, kernel, first failing stage or "passed")` of a `--json` report.
fn cells(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in report["partitions"].as_array().unwrap() {
        for k in p["kernels"].as_array().unwrap() {
            let steps = k["steps"].as_array().unwrap();
            let bad = steps.iter().find(|s| !matches!(s["status"].as_str(), Some("passed") | Some("skipped")));
            let verdict = bad.map(|s| s["stage"].as_str().unwrap().to_string()).unwrap_or_else(|| "passed".into());
            out.push((p["partition"].as_str().unwrap().to_string(), k["kernel"].as_str().unwrap().to_string(), verdict));
        }
    }
    out
}

#[test]
fn shards_run_every_cell_once_and_merge_into_the_whole_matrix() {
    require_docker();
    let _serial = container_test_lock();
    let out = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    let mut json_files = Vec::new();
    let mut junit_files = Vec::new();
    for k in 1..=3 {
        let (json, junit) = (out.path().join(format!("results-{k}.json")), out.path().join(format!("junit-{k}.xml")));
        let assert = bin()
            // Sharding, not resolution, is under test: the generated wheelhouse keeps it fast.
            .args(["validate", "--json", "--jobs", "2", "--wheels", "synthetic", "--shard", &format!("{k}/3"), "--junit"])
            .arg(&junit)
            .arg(fixture("specs/example.json"))
            .timeout(std::time::Duration::from_secs(1800))
            .assert();
        let output = assert.get_output();
        let code = output.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "shard {k}/3 exited {code:?}: {}", String::from_utf8_lossy(&output.stderr));
        std::fs::write(&json, &output.stdout).unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["shard"], serde_json::json!({"index": k, "count": 3}));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&format!("shard {k}/3: 2 of 6")), "{stderr}");
        let mine = cells(&report);
        assert_eq!(mine.len(), 2, "shard {k}/3: {mine:?}");
        all.extend(mine);
        json_files.push(json);
        junit_files.push(junit);
    }
    // Partitions sorted, kernels in spec order (tensorflow, pytorch), cut in three.
    let expected: Vec<(String, String, String)> = [
        ("alpha", "tensorflow", "passed"),
        ("alpha", "pytorch", "passed"),
        ("barnard", "tensorflow", "modules"),
        ("barnard", "pytorch", "modules"),
        ("romeo", "tensorflow", "modules"),
        ("romeo", "pytorch", "passed"),
    ]
    .iter()
    .map(|(p, k, v)| (p.to_string(), k.to_string(), v.to_string()))
    .collect();
    assert_eq!(all, expected);

    let merged_json = out.path().join("merged.json");
    let merged_junit = out.path().join("merged.xml");
    let assert = bin()
        .args(["report", "merge", "--json"])
        .arg(&merged_json)
        .arg("--junit")
        .arg(&merged_junit)
        .args(json_files.iter().rev())
        .assert()
        .code(1);
    let matrix = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(matrix.contains("kernels: 3 passed, 3 failed, 0 skipped"), "{matrix}");
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged_json).unwrap()).unwrap();
    assert_eq!(cells(&merged), expected);

    let from_junit = out.path().join("from-junit.xml");
    let assert = bin().args(["report", "merge", "--junit"]).arg(&from_junit).args(&junit_files).assert().code(1);
    // The same table and counts; the details differ in what JUnit keeps (no notes).
    let from_junit_matrix = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert_eq!(table(&from_junit_matrix), table(&matrix));
    assert_eq!(from_junit_matrix.lines().last(), matrix.lines().last());
    let lint = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixture("junit-10.xsd"))
        .arg(&from_junit)
        .arg(&merged_junit)
        .output()
        .expect("xmllint (libxml2-utils) is installed");
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
}

/// The matrix's table: the lines before the first empty one.
fn table(matrix: &str) -> Vec<&str> {
    matrix.lines().take_while(|l| !l.trim().is_empty()).collect()
}
