//! A Markdown summary fit for a release announcement.

use std::io::{self, Write};

use super::compare::{cell, Comparison};
use super::model::RunReport;
use super::text::{one_line, outcome_message};

fn kernels_of(report: &RunReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in &report.partitions {
        for k in &p.kernels {
            if !out.contains(&k.kernel) {
                out.push(k.kernel.clone());
            }
        }
    }
    out
}

/// Untrusted text as one line of Markdown: no newlines, no pipes that would
/// split a table cell, no `<` that a renderer could take for an HTML tag.
fn md(text: &str) -> String {
    one_line(text).replace('|', "\\|").replace('<', "&lt;")
}

/// The longest run of backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Untrusted text as an inline code span (escapes do not work inside one:
/// the fence is made longer than any backtick run of the text instead).
fn code(text: &str) -> String {
    let text = one_line(text);
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A cell as the table shows it: `✅ passed`, `❌ <failing stage>`, `– not run`.
fn badge(cell: &str) -> String {
    match cell {
        "passed" => "✅ passed".to_string(),
        "not run" | "skipped" => format!("– {cell}"),
        stage => format!("❌ {}", md(stage)),
    }
}

pub fn write_markdown(report: &RunReport, title: &str, comparison: Option<&Comparison>, w: &mut dyn Write) -> io::Result<()> {
    let kernels = kernels_of(report);
    let total: usize = report.partitions.iter().map(|p| p.kernels.len()).sum();
    let passed: usize = report.partitions.iter().flat_map(|p| &p.kernels).filter(|k| cell(Some(k)) == "passed").count();
    writeln!(w, "# {}\n", md(title))?;
    let unreachable: Vec<String> = report.partitions.iter().filter(|p| p.error.is_some()).map(|p| md(&p.partition)).collect();
    write!(
        w,
        "{passed} of {total} kernel × partition combinations install, pass their checks and start in Jupyter \
         (spec {}, sha256 {}, hpc-kernels {}).",
        code(&report.spec_file),
        code(report.spec_sha256.get(..12).unwrap_or(&report.spec_sha256)),
        md(&report.tool_version)
    )?;
    if !unreachable.is_empty() {
        write!(w, " Not tested because of a harness error: {}.", unreachable.join(", "))?;
    }
    writeln!(w, "\n")?;
    write!(w, "| kernel |")?;
    for p in &report.partitions {
        write!(w, " {} |", md(&p.partition))?;
    }
    write!(w, "\n|---|")?;
    for _ in &report.partitions {
        write!(w, "---|")?;
    }
    writeln!(w)?;
    for k in &kernels {
        write!(w, "| {} |", md(k))?;
        for p in &report.partitions {
            write!(w, " {} |", badge(&cell(p.kernels.iter().find(|r| &r.kernel == k))))?;
        }
        writeln!(w)?;
    }

    let failures: Vec<_> = report
        .partitions
        .iter()
        .flat_map(|p| p.kernels.iter().filter_map(move |k| k.first_problem().map(|s| (p, k, s))))
        .collect();
    let harness_errors: Vec<(&str, &str)> =
        report.partitions.iter().filter_map(|p| Some((p.partition.as_str(), p.error.as_deref()?))).collect();
    if !failures.is_empty() || !harness_errors.is_empty() {
        writeln!(w, "\n## Failures\n")?;
    }
    for (p, k, s) in failures {
        let message = outcome_message(&s.outcome).unwrap_or_default();
        writeln!(w, "- **{}/{}** at {} ({}): {}", md(&p.partition), md(&k.kernel), code(&s.stage), s.outcome.label(), md(&message))?;
    }
    for (partition, error) in harness_errors {
        writeln!(w, "- **{}**: harness error: {}", md(partition), md(error))?;
    }

    if let Some(c) = comparison {
        writeln!(w, "\n## Changes since {}\n", md(&c.baseline_label))?;
        if c.flipped.is_empty() && c.module_changes.is_empty() && c.kernelspec_diffs.is_empty() {
            writeln!(w, "No differences.")?;
        }
        for f in &c.flipped {
            writeln!(w, "- {}/{}: {} → {}", md(&f.partition), md(&f.kernel), badge(&f.before), badge(&f.after))?;
        }
        for m in &c.module_changes {
            let list: Vec<String> = m
                .changes
                .iter()
                .map(|(b, a)| format!("{} → {}", b.as_deref().map_or("—".into(), code), a.as_deref().map_or("—".into(), code)))
                .collect();
            writeln!(w, "- {}/{} modules: {}", md(&m.partition), md(&m.kernel), list.join(", "))?;
        }
        for d in &c.kernelspec_diffs {
            let fence = "`".repeat(longest_backtick_run(&d.diff).max(2) + 1);
            let newline = if d.diff.ends_with('\n') { "" } else { "\n" };
            writeln!(w, "\n{}/{} {}:\n\n{fence}diff\n{}{newline}{fence}", md(&d.partition), md(&d.kernel), code(&d.file), d.diff)?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(w, "\n## Notes\n")?;
        for n in &report.notes {
            writeln!(w, "- {}", md(n))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::report::compare::{compare, samples};

    fn render(report: &RunReport, title: &str, comparison: Option<&Comparison>) -> String {
        let mut out = Vec::new();
        write_markdown(report, title, comparison, &mut out).expect("writing to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn release_summary_with_changes() {
        let (baseline, current) = (samples::baseline(), samples::current());
        let c = compare(&baseline, &current, "release/23.04", "release/23.10");
        insta::assert_snapshot!(render(&current, "Kernel certification: release/23.10", Some(&c)));
    }

    #[test]
    fn without_a_comparison_there_is_no_changes_section() {
        let md = render(&samples::current(), "t", None);
        assert!(!md.contains("Changes since"));
        assert!(md.contains("1 of 4 kernel × partition combinations"), "{md}");
    }

    #[test]
    fn a_harness_error_gets_the_failures_heading_too() {
        let mut r = samples::current();
        r.partitions.truncate(1);
        r.partitions[0].kernels.retain(|k| k.passed());
        r.partitions[0].error = Some("image hpc-kernels/barnard missing".into());
        let md = render(&r, "t", None);
        assert!(md.contains("## Failures\n\n- **barnard**: harness error: image hpc-kernels/barnard missing"), "{md}");
    }

    #[rstest]
    #[case::pipe_splits_no_cell("a|b", "a\\|b")]
    #[case::no_html("<script>x</script>", "&lt;script>x&lt;/script>")]
    #[case::one_line("one\ntwo", "one / two")]
    fn untrusted_text_stays_text(#[case] raw: &str, #[case] shown: &str) {
        assert_eq!(md(raw), shown);
    }

    #[rstest]
    #[case::plain("modules", "`modules`")]
    #[case::backtick("a`b", "``a`b``")]
    #[case::leading_backtick("`x", "`` `x ``")]
    fn code_spans_outlast_backticks(#[case] raw: &str, #[case] shown: &str) {
        assert_eq!(code(raw), shown);
    }

    #[test]
    fn a_diff_with_a_fence_inside_keeps_its_block() {
        let r = samples::current();
        let mut c = compare(&r, &r, "a", "b");
        c.kernelspec_diffs.push(crate::report::compare::KernelspecDiff {
            partition: "p".into(),
            kernel: "k".into(),
            file: "launcher.sh".into(),
            diff: "-```\n+````\n".into(),
        });
        let md = render(&r, "t", Some(&c));
        assert!(md.contains("`````diff\n-```\n+````\n`````"), "{md}");
    }
}
