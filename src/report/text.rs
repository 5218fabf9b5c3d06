//! Small text helpers shared by the terminal views: what a cell says, how
//! wide it is, and how untrusted text (logs, messages) is made safe to print.

use owo_colors::OwoColorize;
use unicode_width::UnicodeWidthStr;

use super::model::{KernelResult, Outcome, RunReport, StepResult};

/// The colour a piece of terminal output gets when colour is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Bad,
    Warn,
    Muted,
    Plain,
}

/// `text` in `tone`, or unchanged when colour is off.
pub(crate) fn paint(text: &str, tone: Tone, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    match tone {
        Tone::Good => text.green().to_string(),
        Tone::Bad => text.red().to_string(),
        Tone::Warn => text.yellow().to_string(),
        Tone::Muted => text.dimmed().to_string(),
        Tone::Plain => text.to_string(),
    }
}

/// Display width in terminal columns (`✔` is one column, CJK two).
pub(crate) fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// Pads `plain` to `columns` after painting it, so colour codes never
/// disturb alignment.
pub(crate) fn pad_painted(plain: &str, tone: Tone, color: bool, columns: usize) -> String {
    let fill = columns.saturating_sub(width(plain));
    format!("{}{}", paint(plain, tone, color), " ".repeat(fill))
}

/// One line of untrusted text that is safe on a terminal: ANSI escape
/// sequences and control characters removed, tabs expanded to one space.
pub(crate) fn clean_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape_sequence(&mut chars),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// Skips the rest of an ANSI escape sequence (CSI `ESC [ … final` or a
/// two-character `ESC x`).
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            // OSC: ends with BEL or ESC \
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

/// A message squeezed onto one line: lines cleaned and joined with ` / `.
pub(crate) fn one_line(message: &str) -> String {
    let parts: Vec<String> =
        message.lines().map(clean_line).filter(|l| !l.trim().is_empty()).collect();
    parts.join(" / ")
}

/// The last `n` non-empty-tail lines of a log, cleaned for the terminal.
pub(crate) fn tail_lines(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<String> = log.lines().map(clean_line).collect();
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    let start = end.saturating_sub(n);
    lines[start..end].to_vec()
}

/// Writes log lines indented by four spaces (blank lines stay empty).
pub(crate) fn write_indented(w: &mut dyn std::io::Write, lines: &[String]) -> std::io::Result<()> {
    for line in lines {
        if line.is_empty() {
            writeln!(w)?;
        } else {
            writeln!(w, "    {line}")?;
        }
    }
    Ok(())
}

/// The message an outcome carries, in words (`None` for passed).
pub(crate) fn outcome_message(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Passed => None,
        Outcome::Failed { message } | Outcome::Error { message } => Some(one_line(message)),
        Outcome::TimedOut { message, after_secs } => {
            let message = one_line(message);
            if message.is_empty() {
                Some(format!("no result after {after_secs} s"))
            } else {
                Some(format!("{message} (after {after_secs} s)"))
            }
        }
        Outcome::Skipped { reason } => Some(one_line(reason)),
    }
}

/// The verb used after a stage name: `pip:base failed`, `launch timed out`.
pub(crate) fn outcome_verb(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed { .. } => "failed",
        Outcome::TimedOut { .. } => "timed out",
        Outcome::Error { .. } => "errored",
        Outcome::Skipped { .. } => "skipped",
    }
}

/// How one kernel ended on one partition, as the matrix and summary show it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KernelVerdict<'a> {
    Passed,
    /// The first stage that failed, timed out or errored.
    Problem(&'a StepResult),
    /// Nothing ran (every stage skipped, or no stages at all).
    Skipped,
}

pub(crate) fn verdict(kernel: &KernelResult) -> KernelVerdict<'_> {
    if let Some(step) = kernel.first_problem() {
        return KernelVerdict::Problem(step);
    }
    if kernel.steps.iter().any(|s| s.outcome.is_passed()) {
        KernelVerdict::Passed
    } else {
        KernelVerdict::Skipped
    }
}

/// The report's notes as an indented list, after a blank line.
pub(crate) fn write_notes(report: &RunReport, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cell_notes: Vec<(String, &String)> = report
        .partitions
        .iter()
        .flat_map(|p| p.kernels.iter().flat_map(move |k| k.notes.iter().map(move |n| (format!("{}/{}", p.partition, k.kernel), n))))
        .collect();
    if !report.notes.is_empty() || !cell_notes.is_empty() {
        writeln!(w)?;
        writeln!(w, "notes:")?;
        for note in &report.notes {
            writeln!(w, "  - {}", one_line(note))?;
        }
        for (cell, note) in cell_notes {
            writeln!(w, "  - {cell}: {}", one_line(note))?;
        }
    }
    Ok(())
}

/// Counts for the closing summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, verdict: &KernelVerdict<'_>) {
        match verdict {
            KernelVerdict::Passed => self.passed += 1,
            KernelVerdict::Problem(_) => self.failed += 1,
            KernelVerdict::Skipped => self.skipped += 1,
        }
    }

    /// `kernels: 5 passed, 1 failed, 0 skipped` (deliberately not the bare
    /// `5 passed, 1 failed` that CI log parsers read as a test-runner summary).
    pub(crate) fn line(&self) -> String {
        format!("kernels: {} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }

    /// [`Tally::line`], plus how many partitions the harness could not run.
    pub(crate) fn line_with_harness_errors(&self, report: &RunReport) -> String {
        let broken = report.partitions.iter().filter(|p| p.error.is_some()).count();
        if broken > 0 {
            format!("{}; partitions with harness errors: {broken}", self.line())
        } else {
            self.line()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("plain", "plain")]
    #[case("\u{1b}[31mred\u{1b}[0m text", "red text")]
    #[case("bell\u{7} and nul\u{0}", "bell and nul")]
    #[case("tab\there  ", "tab here")]
    #[case("\u{1b}]0;title\u{7}after", "after")]
    #[case("ünïcödé ✔", "ünïcödé ✔")]
    #[case("non-character \u{ffff}", "non-character \u{fffd}")]
    fn clean_line_removes_escapes_and_controls(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(clean_line(input), expected);
    }

    #[test]
    fn tail_lines_keeps_last_lines_and_drops_trailing_blank_ones() {
        let log = "a\nb\nc\nd\n\n\n";
        assert_eq!(tail_lines(log, 2), vec!["c", "d"]);
        assert_eq!(tail_lines(log, 10), vec!["a", "b", "c", "d"]);
        assert!(tail_lines("", 5).is_empty());
    }

    #[test]
    fn padding_ignores_colour_codes_and_counts_columns() {
        let padded = pad_painted("✔ ok", Tone::Good, true, 6);
        assert!(padded.ends_with("  "), "{padded:?}");
        assert!(padded.contains("\u{1b}["));
        assert_eq!(pad_painted("✔ ok", Tone::Good, false, 6), "✔ ok  ");
        assert_eq!(width("漢字"), 4);
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("first\n\nsecond\r\n"), "first / second");
    }
}
