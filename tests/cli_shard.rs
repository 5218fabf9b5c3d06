//! `validate --shard` and `report merge` from the command line: bad input is
//! refused with exit 2 before anything runs or is written; the recorded shards
//! of a real run merge into the unsharded run's report.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;
use rstest::rstest;

#[rstest]
#[case("0/3", "between 1 and 3")]
#[case("4/3", "between 1 and 3")]
#[case("1/0", "between 1 and 1000")]
#[case("two/3", "not a whole number")]
#[case("3", "not K/N")]
fn validate_refuses_a_bad_shard(#[case] shard: &str, #[case] expected: &str) {
    bin()
        .args(["validate", "--shard", shard])
        .arg(fixture("specs/example.json"))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("--shard").and(predicate::str::contains(expected)));
}

/// Recorded from `validate fixtures/specs/example.json` on the emulated
/// partitions: unsharded and as four shards (`scripts/record-shards.sh`).
fn recorded(name: &str) -> PathBuf {
    fixture(&format!("report/shards/{name}"))
}

/// Blanks `time="…"` and `timestamp="…"` (equal up to timing) and the
/// per-run number of the kernelspec staging directory (`…-staging/pytorch.7`),
/// the one other thing in which two runs of the same cell differ.
fn without_timing(xml: &str) -> String {
    let xml = strip_times(xml);
    let marker = ".hpc-kernels-staging/";
    let mut out = String::new();
    let mut rest = xml.as_str();
    while let Some(i) = rest.find(marker) {
        let (head, tail) = rest.split_at(i + marker.len());
        out.push_str(head);
        // `<kernel>.<number>`: keep the kernel, mask the number.
        let name_len = tail.find('.').unwrap_or(tail.len());
        out.push_str(&tail[..name_len]);
        let after = &tail[name_len..];
        let digits = after.strip_prefix('.').map(|d| d.len() - d.trim_start_matches(|c: char| c.is_ascii_digit()).len());
        rest = match digits {
            Some(n) if n > 0 => {
                out.push_str(".N");
                &after[1 + n..]
            }
            _ => after,
        };
    }
    out.push_str(rest);
    out
}

fn strip_times(xml: &str) -> String {
    let mut out = String::new();
    let mut rest = xml;
    loop {
        let next = [" time=\"", " timestamp=\""].iter().filter_map(|a| rest.find(a).map(|i| (i, a.len()))).min();
        let Some((i, len)) = next else { break };
        out.push_str(&rest[..i + len]);
        rest = &rest[i + len..];
        out.push('…');
        rest = &rest[rest.find('"').unwrap()..];
    }
    out.push_str(rest);
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn recorded_junit_shards_merge_into_the_unsharded_junit() {
    let out = tempfile::tempdir().unwrap();
    let merged = out.path().join("merged.xml");
    // In any order: merge sorts by shard index.
    let assert = bin()
        .args(["report", "merge", "--junit"])
        .arg(&merged)
        .args([recorded("junit-3.xml"), recorded("junit-1.xml"), recorded("junit-4.xml"), recorded("junit-2.xml")])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("kernels: 3 passed, 3 failed, 0 skipped"), "{stdout}");
    assert_eq!(without_timing(&read(&merged)), without_timing(&read(&recorded("junit.xml"))));
    for file in [merged, recorded("junit-2.xml")] {
        let lint = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(fixture("junit-10.xsd"))
            .arg(&file)
            .output()
            .expect("xmllint (libxml2-utils) is installed");
        assert!(lint.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&lint.stderr));
    }
}

#[test]
fn recorded_json_shards_merge_into_the_unsharded_results() {
    let out = tempfile::tempdir().unwrap();
    let (json, junit) = (out.path().join("merged.json"), out.path().join("merged.xml"));
    let assert = bin()
        .args(["report", "merge", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .args([recorded("results-2.json"), recorded("results-4.json"), recorded("results-3.json"), recorded("results-1.json")])
        .assert()
        .code(1);
    let merged: serde_json::Value = serde_json::from_str(&without_timing(&read(&json))).unwrap();
    let unsharded: serde_json::Value = serde_json::from_str(&without_timing(&read(&recorded("results.json")))).unwrap();
    assert_eq!(without_seconds(merged), without_seconds(unsharded));
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("kernels: 3 passed, 3 failed, 0 skipped"), "{stdout}");
    // The JUnit of the merged results is the unsharded run's, up to timing.
    assert_eq!(without_timing(&read(&junit)), without_timing(&read(&recorded("junit.xml"))));
}

/// The runs were separate, so their step times differ.
fn without_seconds(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            if map.contains_key("seconds") {
                map.insert("seconds".into(), 0.into());
            }
            for v in map.values_mut() {
                *v = without_seconds(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_seconds(v.take());
            }
        }
        _ => {}
    }
    value
}

#[rstest]
#[case::missing_shards(&["junit-1.xml", "junit-3.xml"], "shard 2/4, 4/4 missing")]
#[case::same_shard_twice(&["junit-1.xml", "junit-1.xml", "junit-2.xml", "junit-3.xml", "junit-4.xml"], "both shard 1/4")]
#[case::junit_and_json(&["junit-1.xml", "results-2.json"], "not a mix")]
#[case::shard_and_whole_run(&["junit-1.xml", "junit.xml"], "without --shard")]
#[case::whole_run_twice(&["results.json", "results.json"], "is in both")]
#[case::no_such_file(&["nope.xml"], "nope.xml")]
fn merge_refuses_bad_input(#[case] files: &[&str], #[case] expected: &str) {
    let out = tempfile::tempdir().unwrap();
    let merged = out.path().join("merged.xml");
    bin()
        .args(["report", "merge", "--junit"])
        .arg(&merged)
        .args(files.iter().map(|f| recorded(f)))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(expected));
    assert!(!merged.exists(), "nothing is written on bad input");
}

#[test]
fn merge_refuses_json_output_from_junit_and_an_input_as_output() {
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("merged.json");
    bin()
        .args(["report", "merge", "--json"])
        .arg(&json)
        .args([recorded("junit-1.xml"), recorded("junit-2.xml"), recorded("junit-3.xml"), recorded("junit-4.xml")])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("JUnit inputs hold no full results"));
    assert!(!json.exists());

    let copy = out.path().join("junit-1.xml");
    std::fs::copy(recorded("junit-1.xml"), &copy).unwrap();
    let before = read(&copy);
    bin()
        .args(["report", "merge", "--junit"])
        .arg(&copy)
        .arg(&copy)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("both an input and an output"));
    assert_eq!(read(&copy), before);

    bin().args(["report", "merge"]).assert().code(2);
    let junk = out.path().join("junk.xml");
    std::fs::write(&junk, "<testsuites name=\"pytest\"/>").unwrap();
    bin()
        .args(["report", "merge"])
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not one written by hpc-kernels"));
}
