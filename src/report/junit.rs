//! JUnit XML view of a [`RunReport`] (DESIGN.md §7).
//!
//! One `<testsuite>` per partition, one `<testcase>` per kernel × stage with
//! `classname` `<partition>.<kernel>`; the stage's command and log go into that
//! case's own `<system-out>`. The output validates against Jenkins' xunit
//! schema (`fixtures/junit-10.xsd`) and parses in GitLab and Jenkins.
//!
//! Why `quick-junit` and not `junit-report` 0.8 (checked against 0.8.3):
//! * `junit-report` writes a skipped case as a bare `<skipped/>`: there is no
//!   way to give the reason (`message`) a blocked stage needs;
//! * its `<testsuite>` has no `skipped` attribute, so suite counts are not honest;
//! * for failures and errors it puts the output *inside* `<failure>` as CDATA
//!   instead of a per-case `<system-out>`, and it writes CDATA without splitting
//!   `]]>`, so a log containing `]]>` produces malformed XML;
//! * it formats `time` with `f64::to_string` (`12.345000000000001`), not a
//!   fixed `12.345`, and does not remove control characters that XML 1.0 forbids.
//!
//! `quick-junit` does all of that (escaped text, control characters stripped,
//! `{:.3}` times) with one gap: it writes a `skipped` attribute on the root
//! `<testsuites>`, which the xunit schema does not allow. [`fix_root_tag`]
//! rewrites that one start tag; the schema test guards it.

use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::model::{Outcome, PartitionResult, RunReport, StepResult};
use crate::shard::Shard;

/// Writes the JUnit XML of `report`, stamping every suite with the current time.
pub fn write_junit(report: &RunReport, w: &mut dyn Write) -> io::Result<()> {
    write_junit_at(report, w, SystemTime::now())
}

/// Like [`write_junit`] with a given suite timestamp (reproducible output).
pub fn write_junit_at(
    report: &RunReport,
    w: &mut dyn Write,
    timestamp: SystemTime,
) -> io::Result<()> {
    write_junit_named(report, None, w, timestamp)
}

/// The JUnit XML of one shard of a run: the root `<testsuites>` is named
/// [`shard_root_name`], which `report merge` reads back.
pub fn write_shard_junit(report: &RunReport, shard: Shard, w: &mut dyn Write) -> io::Result<()> {
    write_junit_named(report, Some(&shard_root_name(shard, &report.spec_sha256)), w, SystemTime::now())
}

fn write_junit_named(
    report: &RunReport,
    root_name: Option<&str>,
    w: &mut dyn Write,
    timestamp: SystemTime,
) -> io::Result<()> {
    let stamp = rfc3339_utc(timestamp);
    let mut junit = Report::unnamed();
    for partition in &report.partitions {
        junit.add_test_suite(partition_suite(partition, &stamp));
    }
    let total_seconds: f64 = report.partitions.iter().map(partition_seconds).sum();
    write_report(&junit, root_name, total_seconds, w)
}

/// Serialises `junit` with an honest, schema-valid root tag.
fn write_report(junit: &Report, root_name: Option<&str>, total_seconds: f64, w: &mut dyn Write) -> io::Result<()> {
    let mut buffer = Vec::new();
    junit.serialize(&mut buffer).map_err(|e| io::Error::other(format!("JUnit XML: {e}")))?;
    let name = root_name.map(|n| format!(" name=\"{}\"", escape_attribute(n))).unwrap_or_default();
    let root = format!(
        "<testsuites{name} tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\"",
        junit.tests,
        junit.failures,
        junit.errors,
        finite_seconds(total_seconds)
    );
    w.write_all(&fix_root_tag(&buffer, &root)?)
}

/// `hpc-kernels shard 2/5 spec 0123456789ab`: which shard, of which spec.
pub fn shard_root_name(shard: Shard, spec_sha256: &str) -> String {
    let spec: String = spec_sha256.chars().take(12).collect();
    format!("{SHARD_ROOT_PREFIX}{shard} spec {spec}")
}

/// Reads [`shard_root_name`] back: the shard and the spec hash prefix.
pub fn parse_shard_root_name(name: &str) -> Option<(Shard, String)> {
    let rest = name.strip_prefix(SHARD_ROOT_PREFIX)?;
    let (shard, spec) = rest.split_once(" spec ")?;
    Some((shard.parse().ok()?, spec.to_string()))
}

const SHARD_ROOT_PREFIX: &str = "hpc-kernels shard ";

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;")
}

fn partition_suite(partition: &PartitionResult, stamp: &str) -> TestSuite {
    let mut suite = TestSuite::new(xml_safe(&partition.partition));
    suite.extra.insert("timestamp".into(), stamp.into());
    let mut names = UniqueNames::default();
    for kernel in &partition.kernels {
        let classname = xml_safe(&format!("{}.{}", partition.partition, kernel.kernel));
        for step in &kernel.steps {
            let mut case = step_case(step, &names.claim(&classname, &step.stage), &kernel.notes);
            case.set_classname(classname.as_str());
            suite.add_test_case(case);
        }
    }
    if let Some(error) = &partition.error {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_type("harness").set_message(xml_safe(&first_line(error)));
        status.set_description(xml_safe(error));
        let classname = xml_safe(&partition.partition);
        let mut case = TestCase::new(names.claim(&classname, "harness"), status);
        case.set_classname(classname.as_str());
        case.set_time(Duration::ZERO);
        suite.add_test_case(case);
    }
    suite.set_time(seconds(partition_seconds(partition)));
    suite
}

fn step_case(step: &StepResult, name: &str, notes: &[String]) -> TestCase {
    let status = match &step.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Failed { message } => problem(NonSuccessKind::Failure, "failed", message.clone()),
        Outcome::TimedOut { message, after_secs } => problem(
            NonSuccessKind::Failure,
            "timeout",
            if message.trim().is_empty() {
                format!("timed out after {after_secs} s")
            } else {
                format!("timed out after {after_secs} s: {message}")
            },
        ),
        Outcome::Error { message } => problem(NonSuccessKind::Error, "error", message.clone()),
        Outcome::Skipped { reason } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(xml_safe(&first_line(reason)));
            status
        }
    };
    let mut case = TestCase::new(xml_safe(name), status);
    case.set_time(seconds(step.seconds));
    let mut out: String = notes.iter().map(|n| format!("note: {n}\n")).collect();
    if let Some(command) = &step.command {
        out.push_str("$ ");
        out.push_str(command);
        out.push('\n');
    }
    out.push_str(&step.log);
    if !out.is_empty() {
        case.set_system_out(xml_safe(&out));
    }
    case
}

fn problem(kind: NonSuccessKind, ty: &str, message: String) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(ty).set_message(xml_safe(&first_line(&message)));
    if message.contains('\n') {
        status.set_description(xml_safe(&message));
    }
    status
}

/// Keeps (classname, name) unique within a suite, which is how GitLab and
/// Jenkins identify a case: a repeated stage gets ` (2)`, ` (3)` …
#[derive(Default)]
struct UniqueNames {
    seen: std::collections::HashSet<(String, String)>,
}

impl UniqueNames {
    fn claim(&mut self, classname: &str, wanted: &str) -> String {
        let mut name = wanted.to_string();
        let mut n = 1;
        while !self.seen.insert((classname.to_string(), name.clone())) {
            n += 1;
            name = format!("{wanted} ({n})");
        }
        name
    }
}

fn partition_seconds(partition: &PartitionResult) -> f64 {
    partition.kernels.iter().flat_map(|k| &k.steps).map(|s| finite_seconds(s.seconds)).sum()
}

fn finite_seconds(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(finite_seconds(value)).unwrap_or(Duration::ZERO)
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
}

/// Characters XML 1.0 cannot carry at all. `quick-junit` already drops the C0
/// controls; the non-characters U+FFFE/U+FFFF are replaced here.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| if matches!(c, '\u{fffe}' | '\u{ffff}') { '\u{fffd}' } else { c })
        .collect()
}

/// Replaces the root start tag `<testsuites …` (up to its `>` or `/>`) with `root`.
fn fix_root_tag(xml: &[u8], root: &str) -> io::Result<Vec<u8>> {
    let malformed = || io::Error::other("JUnit XML: no <testsuites> root tag in serializer output");
    let start = find(xml, b"<testsuites").ok_or_else(malformed)?;
    let end = start + find(&xml[start..], b">").ok_or_else(malformed)?;
    let self_closing = end > 0 && xml[end - 1] == b'/';
    let mut fixed = Vec::with_capacity(xml.len());
    fixed.extend_from_slice(&xml[..start]);
    fixed.extend_from_slice(root.as_bytes());
    fixed.extend_from_slice(if self_closing { b"/>" } else { b">" });
    fixed.extend_from_slice(&xml[end + 1..]);
    Ok(fixed)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `2024-05-01T12:34:56Z` for a system time (UTC, whole seconds).
pub(crate) fn rfc3339_utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{KernelResult, StepResult};
    use rstest::rstest;

    fn step(stage: &str, outcome: Outcome, seconds: f64) -> StepResult {
        StepResult { stage: stage.into(), outcome, seconds, command: None, log: String::new() }
    }

    fn render(partitions: Vec<PartitionResult>) -> String {
        let report = RunReport {
            tool_version: "0.1.0".into(),
            spec_file: "spec.json".into(),
            spec_sha256: "00".into(),
            partitions,
            notes: vec![],
        };
        let mut out = Vec::new();
        write_junit_at(&report, &mut out, UNIX_EPOCH).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[rstest]
    #[case(0, "1970-01-01T00:00:00Z")]
    #[case(951_782_400, "2000-02-29T00:00:00Z")]
    #[case(1_714_566_896, "2024-05-01T12:34:56Z")]
    fn timestamps_are_rfc3339(#[case] secs: u64, #[case] expected: &str) {
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(secs)), expected);
    }

    #[test]
    fn repeated_stage_names_get_a_suffix() {
        let kernel = KernelResult {
            kernel: "k".into(),
            display_name: "K".into(),
            steps: vec![
                step("import:numpy", Outcome::Passed, 1.0),
                step("import:numpy", Outcome::Passed, 1.0),
            ],
            kernelspec_dir: None,
            venv: None,
            modules: vec![],
            kernelspec: None,
            lmod_init: None,
            notes: Vec::new(),
        };
        let xml = render(vec![PartitionResult {
            partition: "p".into(),
            kernels: vec![kernel],
            error: None,
        }]);
        assert!(xml.contains(r#"name="import:numpy""#), "{xml}");
        assert!(xml.contains(r#"name="import:numpy (2)""#), "{xml}");
    }

    #[test]
    fn root_counts_have_no_skipped_attribute_and_times_are_plain_decimals() {
        let kernel = KernelResult {
            kernel: "k".into(),
            display_name: "K".into(),
            steps: vec![
                step("venv", Outcome::Passed, 0.1 + 0.2),
                step("launch", Outcome::Skipped { reason: "blocked".into() }, f64::NAN),
            ],
            kernelspec_dir: None,
            venv: None,
            modules: vec![],
            kernelspec: None,
            lmod_init: None,
            notes: Vec::new(),
        };
        let xml = render(vec![PartitionResult {
            partition: "p".into(),
            kernels: vec![kernel],
            error: None,
        }]);
        let root = xml.lines().find(|l| l.starts_with("<testsuites")).unwrap();
        assert_eq!(root, r#"<testsuites tests="2" failures="0" errors="0" time="0.300">"#);
        assert!(xml.contains(r#"skipped="1""#), "suite keeps its skipped count: {xml}");
        assert!(xml.contains(r#"<skipped message="blocked"/>"#), "{xml}");
    }

    #[test]
    fn partition_error_becomes_a_harness_case() {
        let xml = render(vec![PartitionResult {
            partition: "romeo".into(),
            kernels: vec![],
            error: Some("image missing\nbuild it first".into()),
        }]);
        assert!(
            xml.contains(r#"<testcase name="harness" classname="romeo" time="0.000">"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<error message="image missing" type="harness">"#), "{xml}");
    }
}
