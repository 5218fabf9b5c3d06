//! `report merge`: the shards of one run (`validate --shard K/N`), as JUnit XML
//! or as JSON results, back into one report with honest counts.
//!
//! JUnit inputs are merged as JUnit: every `<testcase>` element is copied
//! byte for byte ([`super::junit_read`] says why not through `quick-junit`),
//! suites are joined by partition and their counts and times recomputed.
//! JSON inputs are merged in the results model, from which every view follows.
//! Either way the shards are put in index order, which restores the unsharded
//! order (see [`crate::shard`]); a cell in two inputs, a missing shard, shards
//! of different specs or counts are usage errors.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::junit::parse_shard_root_name;
use super::junit_read::{read_junit, CaseStatus, JunitCase, JunitFile, JunitSuite};
use super::model::{KernelResult, Outcome, PartitionResult, RunReport, StepResult};
use crate::error::{Error, Result};
use crate::shard::Shard;

/// One file given to `report merge`.
pub struct MergeInput {
    pub path: PathBuf,
    /// The shard the file says it is, if it was written with `--shard`.
    pub shard: Option<Shard>,
    /// The spec's sha256 (JSON) or its first 12 hex digits (JUnit of a shard).
    spec: Option<String>,
    body: Body,
}

enum Body {
    Junit(JunitFile),
    Json(RunReport),
}

/// What the shards add up to.
pub struct Merged {
    /// The merged results; from JUnit inputs only what JUnit holds (stages,
    /// outcomes, times, logs), enough for the matrix and the counts.
    pub report: RunReport,
    /// The merged suites, when the inputs were JUnit.
    junit: Option<Vec<JunitSuite>>,
}

/// Writes the JSON results of one shard: the run report plus
/// `"shard": {"index": K, "count": N}`, which `report merge` reads back.
/// Other readers of run reports ignore the extra key.
pub fn write_shard_json(report: &RunReport, shard: Shard, w: &mut dyn Write) -> io::Result<()> {
    let mut value = serde_json::to_value(report).map_err(io::Error::other)?;
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("shard".into(), serde_json::to_value(shard).map_err(io::Error::other)?);
    }
    serde_json::to_writer_pretty(&mut *w, &value).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Reads a JUnit file or JSON results written by this tool.
pub fn read_merge_input(path: &Path) -> Result<MergeInput> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::io_arg("read", path, e).with_hint("pass the JUnit (--junit) or JSON (--json) files of the shards")
    })?;
    let not_a_report = |what: String| {
        Error::usage(format!("{}: {what}", path.display()))
            .with_hint("pass files written by `hpc-kernels validate --junit FILE` or `--json`, unchanged")
    };
    let path = path.to_path_buf();
    match text.trim_start().chars().next() {
        Some('<') => {
            let report = read_junit(&text).map_err(|e| not_a_report(format!("not JUnit XML this tool can read: {e}")))?;
            let named = report.name.as_deref().unwrap_or("");
            let (shard, spec) = match parse_shard_root_name(named) {
                Some((shard, spec)) => (Some(shard), Some(spec)),
                None if named.is_empty() => (None, None),
                None => return Err(not_a_report(format!("a JUnit report named \"{named}\", not one written by hpc-kernels"))),
            };
            Ok(MergeInput { path, shard, spec, body: Body::Junit(report) })
        }
        Some('{') => {
            let mut value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| not_a_report(format!("not valid JSON (line {}, column {})", e.line(), e.column())))?;
            let shard = match value.as_object_mut().and_then(|m| m.remove("shard")) {
                None => None,
                Some(s) => Some(
                    serde_json::from_value::<Shard>(s)
                        .ok()
                        .filter(|s| s.index >= 1 && s.index <= s.count)
                        .ok_or_else(|| not_a_report("its \"shard\" is not {\"index\": K, \"count\": N} with 1 ≤ K ≤ N".into()))?,
                ),
            };
            let report: RunReport = serde_json::from_value(value)
                .map_err(|e| not_a_report(format!("not JSON results of a run: {e}")))?;
            Ok(MergeInput { path, shard, spec: Some(report.spec_sha256.clone()), body: Body::Json(report) })
        }
        _ => Err(not_a_report("neither JUnit XML nor JSON results".into())),
    }
}

/// Merges the inputs (all JUnit or all JSON) in shard order.
pub fn merge(mut inputs: Vec<MergeInput>) -> Result<Merged> {
    if inputs.is_empty() {
        return Err(Error::usage("report merge: no files given").with_hint("pass the shards' JUnit or JSON files"));
    }
    check_same_kind(&inputs)?;
    check_same_spec(&inputs)?;
    order_shards(&mut inputs)?;
    if matches!(inputs[0].body, Body::Json(_)) {
        let reports: Vec<(&Path, &RunReport)> = inputs
            .iter()
            .filter_map(|i| match &i.body {
                Body::Json(r) => Some((i.path.as_path(), r)),
                Body::Junit(_) => None,
            })
            .collect();
        return Ok(Merged { report: merge_reports(&reports)?, junit: None });
    }
    let reports: Vec<(&Path, &JunitFile)> = inputs
        .iter()
        .filter_map(|i| match &i.body {
            Body::Junit(r) => Some((i.path.as_path(), r)),
            Body::Json(_) => None,
        })
        .collect();
    let suites = merge_junit(&reports)?;
    Ok(Merged { report: junit_to_model(&suites), junit: Some(suites) })
}

impl Merged {
    /// The merged JUnit: the shards' cases as they were (JUnit inputs), or
    /// rendered from the merged results (JSON inputs).
    pub fn write_junit(&self, w: &mut dyn Write) -> io::Result<()> {
        match &self.junit {
            Some(suites) => write_suites(suites, w),
            None => super::write_junit(&self.report, w),
        }
    }

    /// JSON results exist only when the inputs were JSON results: JUnit lacks
    /// modules, kernelspecs and display names.
    pub fn has_full_results(&self) -> bool {
        self.junit.is_none()
    }
}

fn check_same_kind(inputs: &[MergeInput]) -> Result<()> {
    let kind = |i: &MergeInput| if matches!(i.body, Body::Junit(_)) { "JUnit XML" } else { "JSON results" };
    match inputs.iter().find(|i| kind(i) != kind(&inputs[0])) {
        Some(other) => Err(Error::usage(format!(
            "{} is {} but {} is {}",
            other.path.display(),
            kind(other),
            inputs[0].path.display(),
            kind(&inputs[0])
        ))
        .with_hint("merge the JUnit files of the shards, or their JSON results, not a mix")),
        None => Ok(()),
    }
}

fn check_same_spec(inputs: &[MergeInput]) -> Result<()> {
    let specs: Vec<(&MergeInput, &str)> = inputs.iter().filter_map(|i| i.spec.as_deref().map(|s| (i, s))).collect();
    if let Some(((a, sa), (b, sb))) = specs.first().and_then(|first| {
        specs.iter().find(|(_, s)| !(s.starts_with(first.1) || first.1.starts_with(s))).map(|other| (*first, *other))
    }) {
        return Err(Error::usage(format!(
            "{} and {} are runs of different specs (sha256 {} and {})",
            a.path.display(),
            b.path.display(),
            short(sa),
            short(sb)
        ))
        .with_hint("merge only the shards of one run"));
    }
    Ok(())
}

fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// Sorts shards by index; refuses duplicates, missing shards, differing
/// counts and a mix of shard and non-shard files. Files that are no shards
/// keep the order given.
fn order_shards(inputs: &mut [MergeInput]) -> Result<()> {
    let hint = "pass the files of every shard of one run, each once (e.g. junit-*.xml or results-*.json)";
    if let Some(plain) = inputs.iter().find(|i| i.shard.is_none()) {
        if let Some(sharded) = inputs.iter().find(|i| i.shard.is_some()) {
            return Err(Error::usage(format!(
                "{} is shard {} of a run but {} was written without --shard",
                sharded.path.display(),
                sharded.shard.map(|s| s.to_string()).unwrap_or_default(),
                plain.path.display()
            ))
            .with_hint(hint));
        }
        return Ok(());
    }
    inputs.sort_by_key(|i| i.shard.map(|s| s.index));
    let count = inputs[0].shard.map(|s| s.count).unwrap_or(1);
    if let Some(other) = inputs.iter().find(|i| i.shard.map(|s| s.count) != Some(count)) {
        return Err(Error::usage(format!(
            "{} is shard {} but {} is shard {}: shards of different splits",
            other.path.display(),
            other.shard.map(|s| s.to_string()).unwrap_or_default(),
            inputs[0].path.display(),
            inputs[0].shard.map(|s| s.to_string()).unwrap_or_default(),
        ))
        .with_hint(hint));
    }
    for pair in inputs.windows(2) {
        if pair[0].shard == pair[1].shard {
            return Err(Error::usage(format!(
                "{} and {} are both shard {}",
                pair[0].path.display(),
                pair[1].path.display(),
                pair[0].shard.map(|s| s.to_string()).unwrap_or_default()
            ))
            .with_hint(hint));
        }
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !inputs.iter().any(|i| i.shard.map(|s| s.index) == Some(*k)))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!("shard {} missing: the merged matrix would be incomplete", missing.join(", ")))
            .with_hint(hint));
    }
    Ok(())
}

fn duplicate_cell(cell: &str, first: &Path, second: &Path) -> Error {
    Error::usage(format!("{cell} is in both {} and {}", first.display(), second.display()))
        .with_hint("each kernel × partition cell must come from one input: pass each shard's file once")
}

/// Concatenates the partitions' kernels in input order; identical partition
/// errors (every shard of a partition sees the same one) are kept once.
fn merge_reports(inputs: &[(&Path, &RunReport)]) -> Result<RunReport> {
    let first = inputs[0].1;
    let mut merged = RunReport {
        tool_version: first.tool_version.clone(),
        spec_file: first.spec_file.clone(),
        spec_sha256: first.spec_sha256.clone(),
        partitions: Vec::new(),
        notes: Vec::new(),
    };
    let mut owner: HashMap<(String, String), &Path> = HashMap::new();
    for (path, report) in inputs {
        if report.tool_version != merged.tool_version {
            return Err(Error::usage(format!(
                "{} was written by hpc-kernels {} and {} by {}",
                inputs[0].0.display(),
                merged.tool_version,
                path.display(),
                report.tool_version
            ))
            .with_hint("run every shard with the same hpc-kernels binary"));
        }
        for partition in &report.partitions {
            let target = match merged.partitions.iter().position(|p| p.partition == partition.partition) {
                Some(i) => &mut merged.partitions[i],
                None => {
                    merged.partitions.push(PartitionResult {
                        partition: partition.partition.clone(),
                        kernels: Vec::new(),
                        error: None,
                    });
                    merged.partitions.last_mut().expect("just pushed")
                }
            };
            target.error = match (target.error.take(), &partition.error) {
                (None, e) => e.clone(),
                (Some(a), Some(b)) if &a != b => Some(format!("{a}\n{b}")),
                (a, _) => a,
            };
            for kernel in &partition.kernels {
                let cell = (partition.partition.clone(), kernel.kernel.clone());
                if let Some(before) = owner.insert(cell, path) {
                    return Err(duplicate_cell(&format!("{}/{}", partition.partition, kernel.kernel), before, path));
                }
                target.kernels.push(kernel.clone());
            }
        }
        for note in &report.notes {
            if !merged.notes.contains(note) {
                merged.notes.push(note.clone());
            }
        }
    }
    Ok(merged)
}

/// Joins the suites of the same partition, in input order; a partition's
/// `harness` case, which every shard of that partition repeats, is kept once.
fn merge_junit(inputs: &[(&Path, &JunitFile)]) -> Result<Vec<JunitSuite>> {
    let mut suites: Vec<JunitSuite> = Vec::new();
    let mut owner: HashMap<(String, String), &Path> = HashMap::new();
    for (path, file) in inputs {
        for input in &file.suites {
            let i = match suites.iter().position(|s| s.name == input.name) {
                Some(i) => i,
                None => {
                    suites.push(JunitSuite { name: input.name.clone(), seconds: 0.0, timestamp: None, cases: Vec::new() });
                    suites.len() - 1
                }
            };
            let target = &mut suites[i];
            target.seconds += input.seconds;
            // RFC 3339 UTC stamps of one format sort as text: keep the earliest.
            target.timestamp = match (target.timestamp.take(), &input.timestamp) {
                (Some(a), Some(b)) => Some(if b < &a { b.clone() } else { a }),
                (a, b) => a.or(b.clone()),
            };
            let mut new_classes: Vec<&str> = Vec::new();
            for case in &input.cases {
                let harness_case = case.classname == input.name;
                if harness_case && target.cases.iter().any(|c| same_case(c, case)) {
                    continue;
                }
                if !harness_case && !new_classes.contains(&case.classname.as_str()) {
                    if let Some(before) = owner.get(&(input.name.clone(), case.classname.clone())) {
                        return Err(duplicate_cell(&format!("{}: {}", input.name, case.classname), before, path));
                    }
                    new_classes.push(&case.classname);
                }
                target.cases.push(case.clone());
            }
            for class in new_classes {
                owner.insert((input.name.clone(), class.to_string()), path);
            }
        }
    }
    Ok(suites)
}

fn same_case(a: &JunitCase, b: &JunitCase) -> bool {
    a.name == b.name && a.classname == b.classname && a.status == b.status && a.system_out == b.system_out
}

/// The merged JUnit, laid out as [`super::write_junit`] lays out a run.
fn write_suites(suites: &[JunitSuite], w: &mut dyn Write) -> io::Result<()> {
    let count = |s: &JunitSuite, f: fn(&CaseStatus) -> bool| s.cases.iter().filter(|c| f(&c.status)).count();
    let failures = |s: &CaseStatus| matches!(s, CaseStatus::Problem { error: false, .. });
    let errors = |s: &CaseStatus| matches!(s, CaseStatus::Problem { error: true, .. });
    let skipped = |s: &CaseStatus| matches!(s, CaseStatus::Skipped { .. });
    let total = |f: fn(&CaseStatus) -> bool| suites.iter().map(|s| count(s, f)).sum::<usize>();
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let seconds: f64 = suites.iter().map(|s| s.seconds).sum();
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    write!(w, "<testsuites tests=\"{tests}\" failures=\"{}\" errors=\"{}\" time=\"{seconds:.3}\"", total(failures), total(errors))?;
    writeln!(w, ">")?;
    for s in suites {
        write!(
            w,
            "    <testsuite name=\"{}\" tests=\"{}\" skipped=\"{}\" errors=\"{}\" failures=\"{}\" time=\"{:.3}\"",
            escape(&s.name),
            s.cases.len(),
            count(s, skipped),
            count(s, errors),
            count(s, failures),
            s.seconds
        )?;
        if let Some(t) = &s.timestamp {
            write!(w, " timestamp=\"{}\"", escape(t))?;
        }
        if s.cases.is_empty() {
            writeln!(w, "/>")?;
            continue;
        }
        writeln!(w, ">")?;
        for case in &s.cases {
            writeln!(w, "        {}", case.xml)?;
        }
        writeln!(w, "    </testsuite>")?;
    }
    writeln!(w, "</testsuites>")
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The results model as far as JUnit holds it: partitions, kernels (from
/// `classname` `<partition>.<kernel>`), stages, outcomes, times and logs.
fn junit_to_model(suites: &[JunitSuite]) -> RunReport {
    let partitions = suites
        .iter()
        .map(|suite| {
            let partition = suite.name.clone();
            let mut result = PartitionResult { partition: partition.clone(), kernels: Vec::new(), error: None };
            for case in &suite.cases {
                let step = step_from_case(case);
                if case.classname == partition {
                    let message = match &step.outcome {
                        Outcome::Error { message } | Outcome::Failed { message } => message.clone(),
                        other => other.label().to_string(),
                    };
                    result.error = Some(match result.error.take() {
                        Some(before) => format!("{before}\n{message}"),
                        None => message,
                    });
                    continue;
                }
                let kernel = case.classname.strip_prefix(&format!("{partition}.")).unwrap_or(&case.classname);
                match result.kernels.iter_mut().find(|k| k.kernel == kernel) {
                    Some(k) => k.steps.push(step),
                    None => result.kernels.push(KernelResult::from_steps(kernel, String::new(), vec![step])),
                }
            }
            result
        })
        .collect();
    RunReport {
        tool_version: crate::VERSION.to_string(),
        spec_file: String::new(),
        spec_sha256: String::new(),
        partitions,
        notes: Vec::new(),
    }
}

fn step_from_case(case: &JunitCase) -> StepResult {
    let outcome = match &case.status {
        CaseStatus::Passed => Outcome::Passed,
        CaseStatus::Problem { error: true, message, text, .. } => {
            Outcome::Error { message: if text.is_empty() { message.clone() } else { text.clone() } }
        }
        CaseStatus::Problem { error: false, ty, message, text } => {
            let message = if text.is_empty() { message.clone() } else { text.clone() };
            if ty == "timeout" {
                let after_secs = message
                    .strip_prefix("timed out after ")
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                Outcome::TimedOut { message, after_secs }
            } else {
                Outcome::Failed { message }
            }
        }
        CaseStatus::Skipped { message } => Outcome::Skipped { reason: message.clone() },
    };
    StepResult { stage: case.name.clone(), outcome, seconds: case.seconds, command: None, log: case.system_out.clone() }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
