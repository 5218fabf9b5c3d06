//! One self-contained HTML report (inline CSS, no scripts, no external
//! assets): the matrix, per-step timings, logs behind each failure, and what
//! changed since a baseline.

use std::io::{self, Write};

use super::compare::{cell, Comparison};
use super::model::{KernelResult, Outcome, RunReport};
use super::text::outcome_message;

/// Logs longer than this are cut to their tail.
const MAX_LOG_LINES: usize = 400;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.5em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left}\
th{background:#f3f3f3}.passed{background:#e6f6e6}.failed,.timed_out,.error{background:#fbe3e3}\
.skipped,.not_run{background:#f3f3f3;color:#777}pre{background:#f8f8f8;padding:.6em;overflow:auto;max-height:30em}\
.diff .add{color:#176f2c}.diff .del{color:#b31d28}details{margin:.4em 0}summary{cursor:pointer}\
.meta{color:#555}";

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn status_class(k: Option<&KernelResult>) -> &'static str {
    match k {
        None => "not_run",
        Some(k) => match k.first_problem().map(|s| &s.outcome) {
            Some(Outcome::TimedOut { .. }) => "timed_out",
            Some(Outcome::Error { .. }) => "error",
            Some(_) => "failed",
            None if k.steps.iter().any(|s| s.outcome.is_passed()) => "passed",
            None => "skipped",
        },
    }
}

fn cell_text(k: Option<&KernelResult>) -> String {
    match status_class(k) {
        "passed" => "✔ passed".into(),
        "skipped" | "not_run" => format!("– {}", cell(k)),
        _ => format!("✘ {}", cell(k)),
    }
}

fn log_tail(log: &str) -> (String, usize) {
    let lines: Vec<&str> = log.lines().collect();
    let cut = lines.len().saturating_sub(MAX_LOG_LINES);
    (lines[cut..].join("\n"), cut)
}

pub fn write_html(report: &RunReport, title: &str, comparison: Option<&Comparison>, w: &mut dyn Write) -> io::Result<()> {
    let mut kernels: Vec<&str> = Vec::new();
    for k in report.partitions.iter().flat_map(|p| &p.kernels) {
        if !kernels.contains(&k.kernel.as_str()) {
            kernels.push(&k.kernel);
        }
    }
    let find = |p: &str, k: &str| report.partitions.iter().find(|x| x.partition == p)?.kernels.iter().find(|x| x.kernel == k);

    writeln!(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>", escape(title))?;
    writeln!(w, "<h1>{}</h1>", escape(title))?;
    writeln!(
        w,
        "<p class=\"meta\">spec <code>{}</code> · sha256 <code>{}</code> · hpc-kernels {}</p>",
        escape(&report.spec_file),
        escape(&report.spec_sha256),
        escape(&report.tool_version)
    )?;

    writeln!(w, "<h2>Matrix</h2><table id=\"matrix\"><tr><th>kernel</th>")?;
    for p in &report.partitions {
        write!(w, "<th>{}</th>", escape(&p.partition))?;
    }
    writeln!(w, "</tr>")?;
    for k in &kernels {
        write!(w, "<tr><th>{}</th>", escape(k))?;
        for p in &report.partitions {
            let r = find(&p.partition, k);
            let class = status_class(r);
            write!(
                w,
                "<td class=\"{class}\" data-partition=\"{}\" data-kernel=\"{}\" data-status=\"{class}\"><a href=\"#{}-{}\">{}</a></td>",
                escape(&p.partition),
                escape(k),
                escape(&p.partition),
                escape(k),
                escape(&cell_text(r))
            )?;
        }
        writeln!(w, "</tr>")?;
    }
    writeln!(w, "</table>")?;
    for p in report.partitions.iter().filter(|p| p.error.is_some()) {
        writeln!(w, "<p class=\"error\">{}: harness error: {}</p>", escape(&p.partition), escape(p.error.as_deref().unwrap_or("")))?;
    }

    if let Some(c) = comparison {
        write_comparison(c, w)?;
    }

    writeln!(w, "<h2>Details</h2>")?;
    for p in &report.partitions {
        for k in &p.kernels {
            let open = if k.passed() { "" } else { " open" };
            writeln!(
                w,
                "<details id=\"{}-{}\"{open}><summary>{} / {} — {} ({})</summary>",
                escape(&p.partition),
                escape(&k.kernel),
                escape(&p.partition),
                escape(&k.kernel),
                escape(&cell_text(Some(k))),
                escape(&k.display_name)
            )?;
            if !k.modules.is_empty() {
                writeln!(w, "<p class=\"meta\">modules: <code>{}</code></p>", escape(&k.modules.join(" ")))?;
            }
            writeln!(w, "<table><tr><th>stage</th><th>status</th><th>seconds</th><th>message</th></tr>")?;
            for s in &k.steps {
                let class = match &s.outcome {
                    Outcome::Passed => "passed",
                    Outcome::Failed { .. } => "failed",
                    Outcome::TimedOut { .. } => "timed_out",
                    Outcome::Error { .. } => "error",
                    Outcome::Skipped { .. } => "skipped",
                };
                writeln!(
                    w,
                    "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td></tr>",
                    escape(&s.stage),
                    s.outcome.label(),
                    s.seconds,
                    escape(&outcome_message(&s.outcome).unwrap_or_default())
                )?;
            }
            writeln!(w, "</table>")?;
            for s in k.steps.iter().filter(|s| s.outcome.is_problem()) {
                let (log, cut) = log_tail(&s.log);
                let note = if cut > 0 { format!(" (last {MAX_LOG_LINES} lines; {cut} earlier lines omitted)") } else { String::new() };
                writeln!(w, "<p>log of <code>{}</code>{note}:</p><pre class=\"log\">{}</pre>", escape(&s.stage), escape(&log))?;
            }
            writeln!(w, "</details>")?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(w, "<h2>Notes</h2><ul>")?;
        for n in &report.notes {
            writeln!(w, "<li>{}</li>", escape(n))?;
        }
        writeln!(w, "</ul>")?;
    }
    writeln!(w, "</body></html>")
}

fn write_comparison(c: &Comparison, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<h2 id=\"changes\">Changes since {}</h2>", escape(&c.baseline_label))?;
    if c.flipped.is_empty() && c.module_changes.is_empty() && c.kernelspec_diffs.is_empty() {
        writeln!(w, "<p>No differences.</p>")?;
    }
    if !c.flipped.is_empty() {
        writeln!(w, "<table id=\"flipped\"><tr><th>partition</th><th>kernel</th><th>{}</th><th>{}</th></tr>", escape(&c.baseline_label), escape(&c.current_label))?;
        for f in &c.flipped {
            writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(&f.partition), escape(&f.kernel), escape(&f.before), escape(&f.after))?;
        }
        writeln!(w, "</table>")?;
    }
    if !c.module_changes.is_empty() {
        writeln!(w, "<ul id=\"modules\">")?;
        for m in &c.module_changes {
            let list: Vec<String> = m
                .changes
                .iter()
                .map(|(b, a)| format!("<code>{}</code> → <code>{}</code>", escape(b.as_deref().unwrap_or("—")), escape(a.as_deref().unwrap_or("—"))))
                .collect();
            writeln!(w, "<li>{}/{}: {}</li>", escape(&m.partition), escape(&m.kernel), list.join(", "))?;
        }
        writeln!(w, "</ul>")?;
    }
    for d in &c.kernelspec_diffs {
        writeln!(w, "<p>{}/{} <code>{}</code></p><pre class=\"diff\">", escape(&d.partition), escape(&d.kernel), escape(&d.file))?;
        for line in d.diff.lines() {
            let class = match line.chars().next() {
                Some('+') if !line.starts_with("+++") => "add",
                Some('-') if !line.starts_with("---") => "del",
                _ => "ctx",
            };
            writeln!(w, "<span class=\"{class}\">{}</span>", escape(line))?;
        }
        writeln!(w, "</pre>")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunReport {
        let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/report/mixed.json")).unwrap();
        crate::report::read_json(&text).unwrap()
    }

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(escape("<script>alert('x')</script> & \"]]>"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;]]&gt;");
        let mut r = sample();
        r.notes.push("<script>alert(1)</script>".into());
        let mut out = Vec::new();
        write_html(&r, "<b>title</b>", None, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(!html.contains("<script>") && !html.contains("<b>title</b>"));
    }

    #[test]
    fn report_is_self_contained_and_has_matrix_cells() {
        let r = sample();
        let mut out = Vec::new();
        write_html(&r, "t", None, &mut out).unwrap();
        let html = String::from_utf8(out).unwrap();
        // Text may mention URLs; nothing may load one.
        for bad in ["src=\"http", "href=\"http", "<link", "<script", "url(", "@import"] {
            assert!(!html.contains(bad), "{bad}");
        }
        let cells = r.partitions.iter().map(|p| p.kernels.len()).sum::<usize>();
        assert!(html.matches("data-status=").count() >= cells);
    }
}
