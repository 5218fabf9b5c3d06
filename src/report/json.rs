//! JSON view of a [`RunReport`] (`--json`) and the way back.
//!
//! Field order is the model's declaration order and `serde_json` keeps it, so
//! the output is stable from run to run.

use std::io::{self, Write};
use std::path::Path;

use super::model::RunReport;
use crate::error::{Error, Result};

/// Pretty-printed JSON, followed by a newline.
pub fn write_json(report: &RunReport, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report).map_err(io::Error::other)?;
    w.write_all(b"\n")
}

/// Parses a report written by [`write_json`]; the error carries line and column.
pub fn read_json(bytes: &[u8]) -> Result<RunReport, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Reads a report file, with errors that name the file and position.
pub fn read_json_file(path: &Path) -> Result<RunReport> {
    let bytes = std::fs::read(path).map_err(|e| {
        Error::io_arg("read run report", path, e)
            .with_hint("pass the file written by `--json` (or `--report-json`) of an earlier run")
    })?;
    read_json(&bytes).map_err(|e| {
        Error::usage(format!(
            "{} is not a run report (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        ))
        .with_source(e)
        .with_hint("the file must hold the JSON an earlier run wrote; it was not written by this tool or was edited")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{KernelResult, KernelspecFiles, Outcome, PartitionResult, StepResult};

    fn sample() -> RunReport {
        let step = |stage: &str, outcome| StepResult {
            stage: stage.into(),
            outcome,
            seconds: 1.25,
            command: Some("python3 -m venv /ws/v".into()),
            log: "line\n".into(),
        };
        RunReport {
            tool_version: "0.1.0".into(),
            spec_file: "kernels.json".into(),
            spec_sha256: "ab".repeat(32),
            partitions: vec![PartitionResult {
                partition: "alpha".into(),
                kernels: vec![KernelResult {
                    kernel: "pytorch".into(),
                    display_name: "PyTorch \"GPU\" ✔".into(),
                    steps: vec![
                        step("modules", Outcome::Passed),
                        step("pip:base", Outcome::Failed { message: "no wheel".into() }),
                        step(
                            "launch",
                            Outcome::TimedOut { message: "hung".into(), after_secs: 60 },
                        ),
                        step("kernelspec", Outcome::Error { message: "disk".into() }),
                        step("test_script", Outcome::Skipped { reason: "blocked".into() }),
                    ],
                    kernelspec_dir: Some("/k/pytorch".into()),
                    venv: Some("/ws/alpha/share/pytorch".into()),
                    modules: vec!["release/23.10".into()],
                    kernelspec: Some(KernelspecFiles {
                        kernel_json: "{}".into(),
                        launcher: "#!/bin/bash\n".into(),
                    }),
                    lmod_init: Some("/usr/share/lmod/lmod/init/bash".into()),
                    notes: Vec::new(),
                }],
                error: Some("late fault".into()),
            }],
            notes: vec!["index mapped".into()],
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let report = sample();
        let mut out = Vec::new();
        write_json(&report, &mut out).unwrap();
        assert_eq!(read_json(&out).unwrap(), report);
        let mut again = Vec::new();
        write_json(&read_json(&out).unwrap(), &mut again).unwrap();
        assert_eq!(out, again, "output is stable");
    }

    #[test]
    fn file_errors_name_the_file_and_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "{\n  \"tool_version\": 3\n}").unwrap();
        let err = read_json_file(&path).unwrap_err();
        assert!(err.message.contains("report.json"), "{}", err.message);
        assert!(err.message.contains("line 2"), "{}", err.message);
        assert!(err.hint.is_some());
        let missing = read_json_file(&dir.path().join("nope.json")).unwrap_err();
        assert!(missing.message.contains("nope.json"));
    }
}
