//! Human summary of an install on one host: per kernel ✔/✘, where its
//! kernelspec went, and for a failure the step, its message and its log tail.

use std::io::{self, Write};

use super::model::{KernelResult, RunReport};
use super::text::{
    write_notes,
    clean_line, one_line, outcome_message, outcome_verb, paint, tail_lines, verdict,
    write_indented, KernelVerdict, Tally, Tone,
};

/// Log lines shown under a failed step.
const LOG_TAIL: usize = 20;

pub fn write_install_summary(report: &RunReport, w: &mut dyn Write, color: bool) -> io::Result<()> {
    let mut tally = Tally::default();
    for (i, partition) in report.partitions.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        writeln!(w, "{} on {}:", clean_line(&report.spec_file), clean_line(&partition.partition))?;
        if let Some(error) = &partition.error {
            writeln!(w, "{} {}", paint("!", Tone::Bad, color), one_line(error))?;
        }
        if partition.kernels.is_empty() && partition.error.is_none() {
            writeln!(w, "  (no kernels)")?;
        }
        for kernel in &partition.kernels {
            let verdict = verdict(kernel);
            tally.add(&verdict);
            write_kernel(w, kernel, &verdict, color)?;
        }
    }
    write_notes(report, w)?;
    writeln!(w)?;
    writeln!(w, "{}", tally.line_with_harness_errors(report))
}

fn write_kernel(
    w: &mut dyn Write,
    kernel: &KernelResult,
    verdict: &KernelVerdict<'_>,
    color: bool,
) -> io::Result<()> {
    let name = format!("{} ({})", kernel.kernel, one_line(&kernel.display_name));
    match verdict {
        KernelVerdict::Passed => {
            let place = match &kernel.kernelspec_dir {
                Some(dir) => format!("kernelspec in {}", clean_line(dir)),
                None => "no kernelspec installed".to_string(),
            };
            writeln!(w, "{} {name}: {place}", paint("✔", Tone::Good, color))
        }
        KernelVerdict::Skipped => {
            let reason = kernel.steps.first().and_then(|s| outcome_message(&s.outcome));
            let reason = reason.unwrap_or_else(|| "nothing to do".to_string());
            writeln!(w, "{} {name}: skipped — {reason}", paint("–", Tone::Muted, color))
        }
        KernelVerdict::Problem(step) => {
            let tone = match step.outcome {
                super::model::Outcome::TimedOut { .. } => Tone::Warn,
                _ => Tone::Bad,
            };
            writeln!(
                w,
                "{} {name}: {} {} — {}",
                paint("✘", tone, color),
                one_line(&step.stage),
                outcome_verb(&step.outcome),
                outcome_message(&step.outcome).unwrap_or_default()
            )?;
            if let Some(command) = &step.command {
                writeln!(w, "    $ {}", one_line(command))?;
            }
            let tail = tail_lines(&step.log, LOG_TAIL);
            let total = step.log.lines().count();
            if total > tail.len() {
                writeln!(w, "    … last {} of {total} log lines:", tail.len())?;
            }
            write_indented(w, &tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, PartitionResult, StepResult};

    fn kernel(key: &str, steps: Vec<StepResult>, dir: Option<&str>) -> KernelResult {
        KernelResult {
            kernel: key.into(),
            display_name: format!("{key} kernel"),
            steps,
            kernelspec_dir: dir.map(Into::into),
            venv: None,
            modules: vec![],
            kernelspec: None,
            lmod_init: None,
            notes: Vec::new(),
        }
    }

    fn step(stage: &str, outcome: Outcome, log: &str) -> StepResult {
        StepResult { stage: stage.into(), outcome, seconds: 1.0, command: None, log: log.into() }
    }

    #[test]
    fn failure_shows_step_message_and_last_twenty_log_lines() {
        let log: String = (1..=25).map(|i| format!("line {i}\n")).collect();
        let mut failed =
            step("pip:base", Outcome::Failed { message: "no matching distribution".into() }, &log);
        failed.command = Some("pip install numpy".into());
        let report = RunReport {
            tool_version: "0.1.0".into(),
            spec_file: "kernels.json".into(),
            spec_sha256: String::new(),
            partitions: vec![PartitionResult {
                partition: "barnard".into(),
                kernels: vec![
                    kernel(
                        "ok",
                        vec![step("venv", Outcome::Passed, "")],
                        Some("/home/u/.local/share/jupyter/kernels/ok"),
                    ),
                    kernel("bad", vec![step("venv", Outcome::Passed, ""), failed], None),
                ],
                error: None,
            }],
            notes: vec![],
        };
        let mut out = Vec::new();
        write_install_summary(&report, &mut out, false).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(
                "✔ ok (ok kernel): kernelspec in /home/u/.local/share/jupyter/kernels/ok\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("✘ bad (bad kernel): pip:base failed — no matching distribution\n"),
            "{out}"
        );
        assert!(out.contains("    $ pip install numpy\n"), "{out}");
        assert!(out.contains("    … last 20 of 25 log lines:\n"), "{out}");
        assert!(out.contains("    line 6\n") && out.contains("    line 25\n"), "{out}");
        assert!(!out.contains("    line 5\n"), "{out}");
        assert!(out.ends_with("kernels: 1 passed, 1 failed, 0 skipped\n"), "{out}");
        assert!(!out.contains('\u{1b}'));
    }
}
