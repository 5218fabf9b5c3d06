//! Terminal matrix: kernels down, partitions across, one cell per run, then
//! the details of every problem, the report's notes and a closing count.

use std::io::{self, Write};

use super::model::{KernelResult, Outcome, PartitionResult, RunReport};
use super::text::{
    write_notes,
    one_line, outcome_message, outcome_verb, pad_painted, paint, tail_lines, verdict, width,
    write_indented, KernelVerdict, Tally, Tone,
};

/// Log lines shown under each problem.
const LOG_TAIL: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatrixStyle {
    /// ANSI colours (green passed, red failed/error, yellow timed out).
    pub color: bool,
    /// `✔ ✘ ⏱ –` glyphs; otherwise ASCII words (`ok`, `FAIL modules`).
    pub unicode: bool,
}

pub fn write_matrix(report: &RunReport, w: &mut dyn Write, style: MatrixStyle) -> io::Result<()> {
    let kernels = kernel_rows(report);
    let header: Vec<String> = std::iter::once("kernel".to_string())
        .chain(report.partitions.iter().map(|p| p.partition.clone()))
        .collect();
    let rows: Vec<Vec<(String, Tone)>> = kernels
        .iter()
        .map(|key| {
            let mut row = vec![(key.clone(), Tone::Plain)];
            row.extend(report.partitions.iter().map(|p| cell(p, key, style.unicode)));
            row
        })
        .collect();

    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (i, (text, _)) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(text));
        }
    }
    let header_cells: Vec<(String, Tone)> = header.into_iter().map(|h| (h, Tone::Plain)).collect();
    write_row(w, &header_cells, &widths, style.color)?;
    for row in &rows {
        write_row(w, row, &widths, style.color)?;
    }
    if kernels.is_empty() && report.partitions.iter().all(|p| p.error.is_none()) {
        writeln!(w, "(no kernels ran)")?;
    }

    write_problems(report, w, style.color)?;
    write_notes(report, w)?;
    writeln!(w)?;
    writeln!(w, "{}", summary_line(report))
}

/// Kernel keys in order of first appearance across partitions.
fn kernel_rows(report: &RunReport) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for kernel in report.partitions.iter().flat_map(|p| &p.kernels) {
        if !keys.contains(&kernel.kernel) {
            keys.push(kernel.kernel.clone());
        }
    }
    keys
}

fn cell(partition: &PartitionResult, key: &str, unicode: bool) -> (String, Tone) {
    let glyph = |u: &str, a: &str| if unicode { u.to_string() } else { a.to_string() };
    let Some(kernel) = partition.kernels.iter().find(|k| k.kernel == key) else {
        return if partition.error.is_some() {
            (glyph("! harness", "ERROR harness"), Tone::Bad)
        } else {
            (glyph("–", "-"), Tone::Muted)
        };
    };
    match verdict(kernel) {
        KernelVerdict::Passed => (glyph("✔ passed", "ok"), Tone::Good),
        KernelVerdict::Skipped => (glyph("– skipped", "- skipped"), Tone::Muted),
        KernelVerdict::Problem(step) => {
            let stage = one_line(&step.stage);
            match step.outcome {
                Outcome::TimedOut { .. } => {
                    (format!("{} {stage}", glyph("⏱", "TIMEOUT")), Tone::Warn)
                }
                Outcome::Error { .. } => (format!("{} {stage}", glyph("!", "ERROR")), Tone::Bad),
                Outcome::Failed { .. } | Outcome::Passed | Outcome::Skipped { .. } => {
                    (format!("{} {stage}", glyph("✘", "FAIL")), Tone::Bad)
                }
            }
        }
    }
}

fn write_row(
    w: &mut dyn Write,
    cells: &[(String, Tone)],
    widths: &[usize],
    color: bool,
) -> io::Result<()> {
    let last = cells.len().saturating_sub(1);
    let mut line = String::new();
    for (i, (text, tone)) in cells.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let columns = if i == last { 0 } else { widths.get(i).copied().unwrap_or(0) };
        line.push_str(&pad_painted(text, *tone, color, columns));
    }
    writeln!(w, "{line}")
}

fn write_problems(report: &RunReport, w: &mut dyn Write, color: bool) -> io::Result<()> {
    let mut first = true;
    let mut separate = |w: &mut dyn Write| -> io::Result<()> {
        if std::mem::take(&mut first) {
            writeln!(w)?;
        }
        Ok(())
    };
    for partition in &report.partitions {
        if let Some(error) = &partition.error {
            separate(w)?;
            writeln!(
                w,
                "{}: harness {} — {}",
                partition.partition,
                paint("error", Tone::Bad, color),
                one_line(error)
            )?;
        }
        for kernel in &partition.kernels {
            if let KernelVerdict::Problem(step) = verdict(kernel) {
                separate(w)?;
                write_problem(w, partition, kernel, step, color)?;
            }
        }
    }
    Ok(())
}

fn write_problem(
    w: &mut dyn Write,
    partition: &PartitionResult,
    kernel: &KernelResult,
    step: &super::model::StepResult,
    color: bool,
) -> io::Result<()> {
    let tone =
        if matches!(step.outcome, Outcome::TimedOut { .. }) { Tone::Warn } else { Tone::Bad };
    writeln!(
        w,
        "{}/{}: {} {} — {}",
        partition.partition,
        kernel.kernel,
        one_line(&step.stage),
        paint(outcome_verb(&step.outcome), tone, color),
        outcome_message(&step.outcome).unwrap_or_default()
    )?;
    write_indented(w, &tail_lines(&step.log, LOG_TAIL))
}

fn summary_line(report: &RunReport) -> String {
    let mut tally = Tally::default();
    for kernel in report.partitions.iter().flat_map(|p| &p.kernels) {
        tally.add(&verdict(kernel));
    }
    tally.line_with_harness_errors(report)
}
