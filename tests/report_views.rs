//! Report views rendered from the sample reports in `fixtures/report/`:
//! JUnit validated by xmllint against Jenkins' xunit schema and parsed by
//! Python's `junitparser`, terminal matrix and install summary as snapshots,
//! JSON round trip.
//!
//! Needs `xmllint` (Debian `libxml2-utils`) and junitparser in the tools venv (scripts/setup-host.sh).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use hpc_kernels::report::{
    read_json, read_json_file, write_install_summary, write_json, write_junit, write_junit_at,
    write_matrix, MatrixStyle, RunReport,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

fn load(name: &str) -> RunReport {
    read_json_file(&fixture(&format!("report/{name}.json"))).expect("fixture report parses")
}

fn junit_file(report: &RunReport) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    let mut xml = Vec::new();
    write_junit(report, &mut xml).unwrap();
    std::fs::write(&path, &xml).unwrap();
    (dir, path, String::from_utf8(xml).unwrap())
}

fn xmllint_validates(path: &Path) -> Result<(), String> {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(fixture("junit-10.xsd"))
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run xmllint (install Debian's libxml2-utils): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn junit_of_every_outcome_and_hostile_strings_validates_against_the_schema() {
    let (_dir, path, xml) = junit_file(&load("mixed"));
    if let Err(e) = xmllint_validates(&path) {
        panic!("schema validation failed:\n{e}\n{xml}");
    }
}

#[test]
fn junit_of_an_all_passed_report_and_of_an_empty_report_validate() {
    let (_dir, path, xml) = junit_file(&load("all-passed"));
    xmllint_validates(&path).unwrap_or_else(|e| panic!("{e}\n{xml}"));

    let mut empty = load("all-passed");
    empty.partitions.clear();
    let (_dir, path, xml) = junit_file(&empty);
    xmllint_validates(&path).unwrap_or_else(|e| panic!("{e}\n{xml}"));
}

#[test]
fn schema_check_rejects_what_the_schema_forbids() {
    // Guards the test above: the schema must really be enforced.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xml");
    std::fs::write(&path, "<testsuites skipped=\"1\"><testsuite name=\"a\"/></testsuites>\n")
        .unwrap();
    assert!(xmllint_validates(&path).is_err());
}

const JUNITPARSER_SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        cases.append({
            "classname": case.classname,
            "name": case.name,
            "time": case.time,
            "result": kinds[0] if kinds else "Passed",
            "message": case.result[0].message if case.result else None,
            "system_out": case.system_out,
        })
    suites.append({
        "name": suite.name,
        "tests": suite.tests, "failures": suite.failures,
        "errors": suite.errors, "skipped": suite.skipped,
        "timestamp": suite.timestamp,
        "cases": cases,
    })
print(json.dumps(suites))
"#;

fn junitparser(path: &Path) -> serde_json::Value {
    let out = Command::new(common::tools_python())
        .arg("-c")
        .arg(JUNITPARSER_SCRIPT)
        .arg(path)
        .output()
        .expect("the tools venv's python runs");
    assert!(out.status.success(), "junitparser failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn junitparser_reads_honest_counts_and_per_case_output() {
    let report = load("mixed");
    let (_dir, path, _xml) = junit_file(&report);
    let suites = junitparser(&path);
    let suites = suites.as_array().unwrap();
    assert_eq!(suites.len(), 4);

    for (suite, partition) in suites.iter().zip(&report.partitions) {
        assert_eq!(suite["name"], partition.partition.as_str());
        let cases = suite["cases"].as_array().unwrap();
        let count = |kind: &str| cases.iter().filter(|c| c["result"] == kind).count() as u64;
        // Attribute counts agree with the cases themselves.
        assert_eq!(suite["tests"].as_u64().unwrap(), cases.len() as u64);
        assert_eq!(suite["failures"].as_u64().unwrap(), count("Failure"));
        assert_eq!(suite["errors"].as_u64().unwrap(), count("Error"));
        assert_eq!(suite["skipped"].as_u64().unwrap(), count("Skipped"));
        assert!(suite["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        // And with the report.
        let steps: usize = partition.kernels.iter().map(|k| k.steps.len()).sum();
        let harness = usize::from(partition.error.is_some());
        assert_eq!(cases.len(), steps + harness);
        // (classname, name) pairs are unique within a suite.
        let mut keys: Vec<(String, String)> =
            cases.iter().map(|c| (c["classname"].to_string(), c["name"].to_string())).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), cases.len(), "duplicate case in {}", partition.partition);
    }

    let counts: Vec<[u64; 4]> = suites
        .iter()
        .map(|s| ["tests", "failures", "errors", "skipped"].map(|k| s[k].as_u64().unwrap()))
        .collect();
    assert_eq!(counts, vec![[9, 1, 0, 4], [9, 2, 1, 1], [1, 0, 1, 0], [0, 0, 0, 0]]);

    let alpha = suites[1]["cases"].as_array().unwrap();
    let bs4 = alpha.iter().find(|c| c["name"] == "import:bs4").unwrap();
    assert_eq!(bs4["classname"], "alpha.tensorflow");
    assert_eq!(bs4["result"], "Failure");
    assert_eq!(bs4["message"], "ModuleNotFoundError: No module named 'bs4' <&> ]]>");
    let out = bs4["system_out"].as_str().unwrap();
    assert!(out.starts_with("$ python3 -c 'import bs4'\n"), "{out}");
    assert!(out.contains("colour ]]> <![CDATA[ &  tail \u{fffd} ✔"), "{out:?}");
    assert!(alpha.iter().any(|c| c["name"] == "import:tensorflow (2)"));
    let timeout = alpha
        .iter()
        .find(|c| c["classname"] == "alpha.pytorch" && c["name"] == "pip:base_pks")
        .unwrap();
    assert_eq!(timeout["result"], "Failure");
    assert_eq!(timeout["message"], "timed out after 600 s: pip did not finish");
    assert_eq!(timeout["time"], 600.0);
    let harness = &suites[2]["cases"][0];
    assert_eq!(
        (harness["name"].as_str(), harness["result"].as_str()),
        (Some("harness"), Some("Error"))
    );
    let skipped = &suites[0]["cases"][1];
    assert_eq!(
        (skipped["result"].as_str(), skipped["message"].as_str()),
        (Some("Skipped"), Some("blocked by modules"))
    );
}

#[test]
fn junit_snapshot() {
    let mut xml = Vec::new();
    write_junit_at(&load("mixed"), &mut xml, UNIX_EPOCH + Duration::from_secs(1_714_566_896))
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    insta::with_settings!({ filters => vec![(r#"timestamp="[^"]*""#, r#"timestamp="[timestamp]""#)] }, {
        insta::assert_snapshot!("junit_mixed", xml);
    });
}

fn matrix(report: &RunReport, color: bool, unicode: bool) -> String {
    let mut out = Vec::new();
    write_matrix(report, &mut out, MatrixStyle { color, unicode }).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn matrix_snapshots() {
    let mixed = load("mixed");
    insta::assert_snapshot!("matrix_mixed_unicode", matrix(&mixed, false, true));
    insta::assert_snapshot!("matrix_mixed_ascii", matrix(&mixed, false, false));
    insta::assert_snapshot!("matrix_all_passed_color", matrix(&load("all-passed"), true, true));
}

#[test]
fn matrix_columns_line_up_in_display_columns() {
    let text = matrix(&load("mixed"), false, true);
    let table: Vec<Vec<char>> =
        text.lines().take_while(|l| !l.is_empty()).map(|l| l.chars().collect()).collect();
    assert_eq!(table.len(), 4, "header + 3 kernels:\n{text}");
    // All glyphs in this table are one column wide, so char index = display column.
    let header: String = table[0].iter().collect();
    for partition in ["barnard", "alpha", "romeo", "capella"] {
        let col = header.find(partition).unwrap();
        for row in &table[1..] {
            let row_text: String = row.iter().collect();
            assert!(
                row.get(col).is_some_and(|c| *c != ' '),
                "{partition} column empty in {row_text:?}\n{text}"
            );
            assert_eq!(
                row[col - 2..col],
                [' ', ' '],
                "{partition}: {row_text:?} misaligned\n{text}"
            );
        }
    }
    assert!(!text.contains('\u{1b}'), "no colour unless asked");
    assert!(text.lines().all(|l| l == l.trim_end()), "no trailing spaces");
}

#[test]
fn summary_snapshot() {
    let mut out = Vec::new();
    write_install_summary(&load("mixed"), &mut out, false).unwrap();
    insta::assert_snapshot!("summary_mixed", String::from_utf8(out).unwrap());
}

#[test]
fn json_round_trip_of_the_fixtures() {
    for name in ["mixed", "all-passed"] {
        let report = load(name);
        let mut out = Vec::new();
        write_json(&report, &mut out).unwrap();
        assert_eq!(read_json(&out).unwrap(), report, "{name}");
    }
}
