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

/// Markdown table cells must not contain pipes or newlines.
fn md(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

pub fn write_markdown(report: &RunReport, title: &str, comparison: Option<&Comparison>, w: &mut dyn Write) -> io::Result<()> {
    let kernels = kernels_of(report);
    let total: usize = report.partitions.iter().map(|p| p.kernels.len()).sum();
    let passed: usize = report.partitions.iter().flat_map(|p| &p.kernels).filter(|k| cell(Some(k)) == "passed").count();
    writeln!(w, "# {}\n", md(title))?;
    writeln!(
        w,
        "{passed} of {total} kernel × partition combinations install, pass their checks and start in Jupyter \
         (spec `{}`, sha256 `{}`, hpc-kernels {}).\n",
        md(&report.spec_file),
        report.spec_sha256.get(..12).unwrap_or(&report.spec_sha256),
        report.tool_version
    )?;
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
            let c = cell(p.kernels.iter().find(|r| &r.kernel == k));
            let shown = match c.as_str() {
                "passed" => "✅ passed".to_string(),
                "not run" | "skipped" => format!("– {c}"),
                stage => format!("❌ {}", md(stage)),
            };
            write!(w, " {shown} |")?;
        }
        writeln!(w)?;
    }

    let failures: Vec<_> = report
        .partitions
        .iter()
        .flat_map(|p| p.kernels.iter().filter_map(move |k| k.first_problem().map(|s| (p, k, s))))
        .collect();
    if !failures.is_empty() {
        writeln!(w, "\n## Failures\n")?;
        for (p, k, s) in failures {
            let message = outcome_message(&s.outcome).unwrap_or_default();
            writeln!(w, "- **{}/{}** at `{}`: {}", md(&p.partition), md(&k.kernel), md(&s.stage), md(&message))?;
        }
    }
    for p in report.partitions.iter().filter(|p| p.error.is_some()) {
        writeln!(w, "- **{}**: harness error: {}", md(&p.partition), md(p.error.as_deref().unwrap_or("")))?;
    }

    if let Some(c) = comparison {
        writeln!(w, "\n## Changes since {}\n", md(&c.baseline_label))?;
        if c.flipped.is_empty() && c.module_changes.is_empty() && c.kernelspec_diffs.is_empty() {
            writeln!(w, "No differences.")?;
        }
        for f in &c.flipped {
            writeln!(w, "- {}/{}: {} → {}", md(&f.partition), md(&f.kernel), md(&f.before), md(&f.after))?;
        }
        for m in &c.module_changes {
            let list: Vec<String> = m
                .changes
                .iter()
                .map(|(b, a)| format!("`{}` → `{}`", b.as_deref().unwrap_or("—"), a.as_deref().unwrap_or("—")))
                .collect();
            writeln!(w, "- {}/{} modules: {}", md(&m.partition), md(&m.kernel), list.join(", "))?;
        }
        for d in &c.kernelspec_diffs {
            writeln!(w, "\n{}/{} `{}`:\n\n```diff\n{}```", md(&d.partition), md(&d.kernel), d.file, d.diff.replace("```", "'''"))?;
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
