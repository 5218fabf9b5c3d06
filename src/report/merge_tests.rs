use std::path::Path;

use super::*;
use crate::report::{write_json, write_junit_at, write_shard_junit, KernelspecFiles};
use crate::shard;
use std::time::UNIX_EPOCH;

fn step(stage: &str, outcome: Outcome, seconds: f64, log: &str) -> StepResult {
    StepResult { stage: stage.into(), outcome, seconds, command: Some(format!("run {stage}")), log: log.into() }
}

fn kernel(name: &str, steps: Vec<StepResult>) -> KernelResult {
    KernelResult {
        kernel: name.into(),
        display_name: format!("Kernel \"{name}\" ✔"),
        steps,
        kernelspec_dir: Some(format!("/k/{name}")),
        venv: Some(format!("/ws/{name}/venv")),
        modules: vec!["release/23.10".into(), "GCC/11.3.0".into()],
        kernelspec: Some(KernelspecFiles { kernel_json: "{}".into(), launcher: "#!/bin/bash\n".into() }),
        lmod_init: Some("/usr/share/lmod/lmod/init/bash".into()),
        notes: Vec::new(),
    }
}

/// A run the way validate reports it: every partition has the same kernels
/// in spec order, except one whose image is missing (an error, no kernels).
fn full_run() -> RunReport {
    let kernels = |p: &str| {
        vec![
            kernel(
                "pytorch",
                vec![
                    step("modules", Outcome::Passed, 0.8, "loaded\n"),
                    step("venv", Outcome::Passed, 2.25, ""),
                    step("pip:base", Outcome::Failed { message: format!("no wheel on {p}\nsecond line") }, 3.5, "log with ]]> & <tags>\n"),
                    step("launch", Outcome::Skipped { reason: "blocked by pip:base".into() }, 0.0, ""),
                ],
            ),
            kernel(
                "tensorflow",
                vec![
                    step("modules", Outcome::Passed, 0.5, ""),
                    step("test_script", Outcome::TimedOut { message: "hung".into(), after_secs: 60 }, 60.0, "…"),
                ],
            ),
            kernel(
                "minimal",
                vec![
                    step("modules", Outcome::Passed, 0.5, ""),
                    step("import:numpy", Outcome::Passed, 0.25, ""),
                    step("import:numpy", Outcome::Passed, 0.25, ""),
                    step("kernelspec", Outcome::Error { message: "disk full".into() }, 0.1, ""),
                ],
            ),
        ]
    };
    let partition = |p: &str| PartitionResult { partition: p.into(), kernels: kernels(p), error: None };
    RunReport {
        tool_version: "0.1.0".into(),
        spec_file: "kernels.json".into(),
        spec_sha256: "ab12".repeat(16),
        partitions: vec![
            partition("barnard"),
            partition("alpha"),
            PartitionResult { partition: "romeo".into(), kernels: vec![], error: Some("no image was built for partition romeo".into()) },
            partition("capella"),
        ],
        notes: vec!["pip indexes mapped".into(), "emulated wheels: x==1".into()],
    }
}

const KERNELS: [&str; 3] = ["pytorch", "tensorflow", "minimal"];

/// What `validate --shard` reports: the shard's cells, partitions without a
/// cell in the shard left out, a partition error with each shard of it.
fn slice(report: &RunReport, s: Shard) -> RunReport {
    let partitions: Vec<String> = report.partitions.iter().map(|p| p.partition.clone()).collect();
    let kernels: Vec<String> = KERNELS.iter().map(|k| k.to_string()).collect();
    let cells = shard::select(Some(s), &partitions, &kernels);
    let mut out = RunReport { partitions: Vec::new(), ..report.clone() };
    for p in &report.partitions {
        if !cells.iter().any(|(cp, _)| cp == &p.partition) {
            continue;
        }
        let kernels = p.kernels.iter().filter(|k| cells.iter().any(|c| c.0 == p.partition && c.1 == k.kernel)).cloned().collect();
        out.partitions.push(PartitionResult { kernels, ..p.clone() });
    }
    if out.partitions.is_empty() {
        out.notes.clear();
    }
    out
}

fn junit_text(report: &RunReport) -> String {
    let mut out = Vec::new();
    write_junit_at(report, &mut out, UNIX_EPOCH).unwrap();
    String::from_utf8(out).unwrap()
}

/// Blanks `time="…"` and `timestamp="…"`: equal up to timing.
fn without_timing(xml: &str) -> String {
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

fn input(dir: &Path, name: &str, bytes: &[u8]) -> MergeInput {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    read_merge_input(&path).unwrap()
}

fn shard_junit(report: &RunReport, s: Shard) -> Vec<u8> {
    let mut out = Vec::new();
    write_shard_junit(&slice(report, s), s, &mut out).unwrap();
    out
}

fn shard_json(report: &RunReport, s: Shard) -> Vec<u8> {
    let mut out = Vec::new();
    write_shard_json(&slice(report, s), s, &mut out).unwrap();
    out
}

#[test]
fn merged_junit_of_every_split_equals_the_unsharded_junit_up_to_timing() {
    let full = full_run();
    let expected = without_timing(&junit_text(&full));
    let dir = tempfile::tempdir().unwrap();
    for count in 1..=7 {
        // Given in reverse: merge puts them in shard order.
        let inputs: Vec<MergeInput> = (1..=count)
            .rev()
            .map(|index| input(dir.path(), &format!("junit-{index}.xml"), &shard_junit(&full, Shard { index, count })))
            .collect();
        let merged = merge(inputs).unwrap();
        let mut out = Vec::new();
        merged.write_junit(&mut out).unwrap();
        assert_eq!(without_timing(&String::from_utf8(out).unwrap()), expected, "{count} shards");
        assert!(!merged.has_full_results());
        let cells: usize = merged.report.partitions.iter().map(|p| p.kernels.len()).sum();
        assert_eq!(cells, 9, "{count} shards");
        assert_eq!(merged.report.partitions[2].error.as_deref(), Some("no image was built for partition romeo"));
    }
}

#[test]
fn merged_json_of_every_split_equals_the_unsharded_results() {
    let full = full_run();
    let dir = tempfile::tempdir().unwrap();
    for count in 1..=7 {
        let inputs: Vec<MergeInput> = (1..=count)
            .map(|index| input(dir.path(), &format!("r-{index}.json"), &shard_json(&full, Shard { index, count })))
            .collect();
        let merged = merge(inputs).unwrap();
        assert_eq!(merged.report, full, "{count} shards");
        assert!(merged.has_full_results());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_junit_at(&merged.report, &mut a, UNIX_EPOCH).unwrap();
        write_junit_at(&full, &mut b, UNIX_EPOCH).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn the_matrix_from_merged_junit_counts_like_the_unsharded_run() {
    let full = full_run();
    let dir = tempfile::tempdir().unwrap();
    let inputs = (1..=3).map(|index| input(dir.path(), &format!("{index}.xml"), &shard_junit(&full, Shard { index, count: 3 }))).collect();
    let merged = merge(inputs).unwrap();
    for (m, f) in merged.report.partitions.iter().zip(&full.partitions) {
        assert_eq!(m.partition, f.partition);
        let verdicts = |p: &PartitionResult| {
            p.kernels.iter().map(|k| (k.kernel.clone(), k.first_problem().map(|s| (s.stage.clone(), s.outcome.label())))).collect::<Vec<_>>()
        };
        assert_eq!(verdicts(m), verdicts(f));
    }
    let timed_out = &merged.report.partitions[0].kernels[1].steps[1].outcome;
    assert_eq!(timed_out, &Outcome::TimedOut { message: "timed out after 60 s: hung".into(), after_secs: 60 });
}

#[test]
fn shard_files_say_which_shard_they_are() {
    let full = full_run();
    let s = Shard { index: 2, count: 5 };
    let xml = String::from_utf8(shard_junit(&full, s)).unwrap();
    assert!(xml.contains(r#"<testsuites name="hpc-kernels shard 2/5 spec ab12ab12ab12" tests="#), "{xml}");
    let json: serde_json::Value = serde_json::from_slice(&shard_json(&full, s)).unwrap();
    assert_eq!(json["shard"], serde_json::json!({"index": 2, "count": 5}));
    // Other readers of run reports still read a shard's results.
    assert!(crate::report::read_json(&shard_json(&full, s)).is_ok());
}

fn merge_error(files: &[(&str, Vec<u8>)]) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files.iter().map(|(name, bytes)| input(dir.path(), name, bytes)).collect();
    match merge(inputs) {
        Ok(_) => panic!("merge accepted {:?}", files.iter().map(|f| f.0).collect::<Vec<_>>()),
        Err(e) => e,
    }
}

fn plain_json(report: &RunReport) -> Vec<u8> {
    let mut out = Vec::new();
    write_json(report, &mut out).unwrap();
    out
}

#[test]
fn refuses_inputs_that_do_not_make_one_run() {
    let full = full_run();
    let s = |index, count| Shard { index, count };
    type Files<'a> = Vec<(&'a str, Vec<u8>)>;
    let cases: Vec<(Files, &str)> = vec![
        (vec![("a.xml", shard_junit(&full, s(1, 3))), ("b.xml", shard_junit(&full, s(1, 3))), ("c.xml", shard_junit(&full, s(3, 3)))], "both shard 1/3"),
        (vec![("a.xml", shard_junit(&full, s(1, 3))), ("c.xml", shard_junit(&full, s(3, 3)))], "shard 2/3 missing"),
        (vec![("a.xml", shard_junit(&full, s(1, 2))), ("b.xml", shard_junit(&full, s(2, 3)))], "different splits"),
        (vec![("a.xml", shard_junit(&full, s(1, 2))), ("b.json", shard_json(&full, s(2, 2)))], "is JSON results but"),
        (vec![("a.json", shard_json(&full, s(1, 2))), ("b.json", plain_json(&full))], "without --shard"),
        (vec![("a.json", plain_json(&full)), ("b.json", plain_json(&full))], "barnard/pytorch is in both"),
        (vec![("a.xml", junit_text(&full).into_bytes()), ("b.xml", junit_text(&full).into_bytes())], "barnard: barnard.pytorch is in both"),
    ];
    for (files, expected) in cases {
        let err = merge_error(&files);
        assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{expected}");
        assert!(err.message.contains(expected), "expected {expected:?} in: {}", err.message);
        assert!(err.hint.is_some(), "{expected}");
    }

    let mut other_spec = full.clone();
    other_spec.spec_sha256 = "cd34".repeat(16);
    let err = merge_error(&[("a.json", shard_json(&full, s(1, 2))), ("b.json", shard_json(&other_spec, s(2, 2)))]);
    assert!(err.message.contains("different specs"), "{}", err.message);

    let mut other_tool = full.clone();
    other_tool.tool_version = "9.9.9".into();
    let err = merge_error(&[("a.json", shard_json(&full, s(1, 2))), ("b.json", shard_json(&other_tool, s(2, 2)))]);
    assert!(err.message.contains("9.9.9"), "{}", err.message);
}

#[test]
fn refuses_files_that_are_not_reports_of_this_tool() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 7] = [
        ("empty.xml", "", "neither JUnit XML nor JSON"),
        ("text.txt", "hello", "neither JUnit XML nor JSON"),
        ("broken.xml", "<testsuites><testsuite name=\"a\">", "not JUnit XML"),
        ("foreign.xml", "<testsuites name=\"pytest\"></testsuites>", "not one written by hpc-kernels"),
        ("broken.json", "{\"tool_version\": ", "not valid JSON (line 1"),
        ("other.json", "{\"name\": 3}", "not JSON results of a run"),
        ("shard.json", "{\"shard\": {\"index\": 4, \"count\": 3}}", "1 ≤ K ≤ N"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let err = read_merge_input(&path).err().unwrap_or_else(|| panic!("{name} accepted"));
        assert_eq!(err.exit_code(), crate::ExitCode::Usage, "{name}");
        assert!(err.message.contains(name) && err.message.contains(expected), "{name}: {}", err.message);
    }
    let err = read_merge_input(&dir.path().join("missing.xml")).err().unwrap();
    assert_eq!(err.exit_code(), crate::ExitCode::Usage);
    assert!(merge(Vec::new()).is_err());
}

#[test]
fn an_empty_shard_merges_to_nothing_extra() {
    let full = full_run();
    // 9 cells + 1 error-only partition → with 12 shards some are empty.
    let count = 12;
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<MergeInput> =
        (1..=count).map(|index| input(dir.path(), &format!("{index}.json"), &shard_json(&full, Shard { index, count }))).collect();
    assert_eq!(merge(inputs).unwrap().report, full);
}

#[test]
fn merging_only_empty_shards_gives_the_junit_of_an_empty_run() {
    let empty = RunReport { partitions: Vec::new(), notes: Vec::new(), ..full_run() };
    let dir = tempfile::tempdir().unwrap();
    let merged = merge(vec![input(dir.path(), "1.xml", &{
        let mut out = Vec::new();
        write_shard_junit(&empty, Shard { index: 1, count: 1 }, &mut out).unwrap();
        out
    })])
    .unwrap();
    let mut out = Vec::new();
    merged.write_junit(&mut out).unwrap();
    assert_eq!(without_timing(&String::from_utf8(out).unwrap()), without_timing(&junit_text(&empty)));
}
