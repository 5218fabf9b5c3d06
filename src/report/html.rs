//! One self-contained HTML report (inline CSS, no scripts, no external
//! assets): the matrix, per-step timings, logs behind each failure, and what
//! changed since a baseline.

use std::io::{self, Write};

use super::compare::{cell, Comparison};
use super::model::{KernelResult, Outcome, RunReport};
use super::text::{clean_line, outcome_message};

/// Logs longer than this are cut to their tail.
const MAX_LOG_LINES: usize = 400;
/// And to this many bytes, for logs of a few enormous lines (pip progress bars).
const MAX_LOG_BYTES: usize = 256 * 1024;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:75em}\
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.passed{background:#e6f6e6}.failed,.timed_out,.error{background:#fbe3e3}\
.skipped,.not_run{background:#f3f3f3;color:#777}#matrix td a{color:inherit;text-decoration:none}\
p.error{padding:.4em .7em;white-space:pre-line}summary span{padding:0 .4em}\
pre{background:#f8f8f8;border:1px solid #e4e4e4;padding:.6em;overflow:auto;max-height:30em}\
.diff .add{color:#176f2c;background:#e6f6e6}.diff .del{color:#b31d28;background:#fbe3e3}.diff .hunk{color:#6f42c1}\
details{margin:.4em 0;padding:.2em .5em;border:1px solid #e4e4e4}summary{cursor:pointer}\
.meta{color:#555}";

/// Text made safe for HTML element content and quoted attribute values.
/// Control characters other than newline and tab become U+FFFD.
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

/// The tail of a log cleaned of terminal escapes, and a note saying what was cut.
fn log_tail(log: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = log.lines().collect();
    let cut = lines.len().saturating_sub(MAX_LOG_LINES);
    let tail: Vec<String> = lines[cut..].iter().map(|l| clean_line(l)).collect();
    let mut text = tail.join("\n");
    let mut bytes_cut = 0;
    if text.len() > MAX_LOG_BYTES {
        let mut start = text.len() - MAX_LOG_BYTES;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        bytes_cut = start;
        text.drain(..start);
    }
    let note = match (cut, bytes_cut) {
        (0, 0) => None,
        (lines, 0) => Some(format!("last {MAX_LOG_LINES} lines; {lines} earlier lines omitted")),
        (_, bytes) => Some(format!("last {} KiB; {bytes} earlier bytes omitted", MAX_LOG_BYTES / 1024)),
    };
    (text, note)
}

/// An `id` for the details of a kernel on a partition, unique whatever the names contain.
fn anchor(partition: usize, kernel: usize) -> String {
    format!("p{partition}-k{kernel}")
}

pub fn write_html(report: &RunReport, title: &str, comparison: Option<&Comparison>, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    )?;
    writeln!(w, "<h1>{}</h1>", escape(title))?;
    writeln!(
        w,
        "<p class=\"meta\">hpc-kernels {} · spec <code>{}</code> · sha256 <code>{}</code></p>",
        escape(&report.tool_version),
        escape(&report.spec_file),
        escape(&report.spec_sha256)
    )?;
    let cells: Vec<&KernelResult> = report.partitions.iter().flat_map(|p| &p.kernels).collect();
    let passed = cells.iter().filter(|k| status_class(Some(k)) == "passed").count();
    writeln!(w, "<p id=\"summary\">{passed} of {} kernel × partition combinations pass.</p>", cells.len())?;

    write_matrix(report, w)?;
    if let Some(c) = comparison {
        write_comparison(c, w)?;
    }
    writeln!(w, "<h2>Details</h2>")?;
    for (pi, p) in report.partitions.iter().enumerate() {
        for (ki, k) in p.kernels.iter().enumerate() {
            write_kernel_details(&p.partition, k, &anchor(pi, ki), w)?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(w, "<h2>Notes</h2><ul id=\"notes\">")?;
        for n in &report.notes {
            writeln!(w, "<li>{}</li>", escape(n))?;
        }
        writeln!(w, "</ul>")?;
    }
    writeln!(w, "</body></html>")
}

/// The partition × kernel table: one row per kernel, one column per partition.
fn write_matrix(report: &RunReport, w: &mut dyn Write) -> io::Result<()> {
    let mut kernels: Vec<&str> = Vec::new();
    for k in report.partitions.iter().flat_map(|p| &p.kernels) {
        if !kernels.contains(&k.kernel.as_str()) {
            kernels.push(&k.kernel);
        }
    }
    writeln!(w, "<h2>Matrix</h2><table id=\"matrix\"><tr><th>kernel</th>")?;
    for p in &report.partitions {
        write!(w, "<th>{}</th>", escape(&p.partition))?;
    }
    writeln!(w, "</tr>")?;
    for name in &kernels {
        write!(w, "<tr><th>{}</th>", escape(name))?;
        for (pi, p) in report.partitions.iter().enumerate() {
            let found = p.kernels.iter().enumerate().find(|(_, k)| k.kernel == *name);
            let kernel = found.map(|(_, k)| k);
            let class = status_class(kernel);
            let text = escape(&cell_text(kernel));
            write!(
                w,
                "<td class=\"{class}\" data-partition=\"{}\" data-kernel=\"{}\" data-status=\"{class}\">",
                escape(&p.partition),
                escape(name)
            )?;
            match found {
                Some((ki, _)) => write!(w, "<a href=\"#{}\">{text}</a></td>", anchor(pi, ki))?,
                None => write!(w, "{text}</td>")?,
            }
        }
        writeln!(w, "</tr>")?;
    }
    writeln!(w, "</table>")?;
    for p in &report.partitions {
        if let Some(error) = &p.error {
            writeln!(w, "<p class=\"error\"><b>{}</b>: harness error: {}</p>", escape(&p.partition), escape(error))?;
        }
    }
    Ok(())
}

/// One kernel on one partition: its steps with timings, and the log behind each problem.
fn write_kernel_details(partition: &str, k: &KernelResult, id: &str, w: &mut dyn Write) -> io::Result<()> {
    let open = if k.passed() { "" } else { " open" };
    writeln!(
        w,
        "<details id=\"{id}\"{open}><summary><span class=\"{}\">{}</span> {} / {} ({})</summary>",
        status_class(Some(k)),
        escape(&cell_text(Some(k))),
        escape(partition),
        escape(&k.kernel),
        escape(&k.display_name)
    )?;
    if !k.modules.is_empty() {
        writeln!(w, "<p class=\"meta\">modules: <code>{}</code></p>", escape(&k.modules.join(" ")))?;
    }
    writeln!(w, "<table class=\"steps\"><tr><th>stage</th><th>status</th><th>seconds</th><th>message</th></tr>")?;
    for s in &k.steps {
        writeln!(
            w,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{:.2}</td><td>{}</td></tr>",
            outcome_class(&s.outcome),
            escape(&s.stage),
            s.outcome.label(),
            s.seconds,
            escape(&outcome_message(&s.outcome).unwrap_or_default())
        )?;
    }
    writeln!(w, "</table>")?;
    for s in k.steps.iter().filter(|s| s.outcome.is_problem()) {
        if let Some(command) = &s.command {
            writeln!(w, "<p>command of <code>{}</code>:</p><pre class=\"command\">{}</pre>", escape(&s.stage), escape(command))?;
        }
        let (log, note) = log_tail(&s.log);
        if log.trim().is_empty() {
            writeln!(w, "<p class=\"meta\"><code>{}</code> left no log.</p>", escape(&s.stage))?;
            continue;
        }
        let note = note.map(|n| format!(" ({})", escape(&n))).unwrap_or_default();
        writeln!(w, "<p>log of <code>{}</code>{note}:</p><pre class=\"log\">{}</pre>", escape(&s.stage), escape(&log))?;
    }
    writeln!(w, "</details>")
}

fn outcome_class(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed { .. } => "failed",
        Outcome::TimedOut { .. } => "timed_out",
        Outcome::Error { .. } => "error",
        Outcome::Skipped { .. } => "skipped",
    }
}

/// The class a comparison cell (`passed`, a stage, `skipped`, `not run`) is coloured with.
fn comparison_class(cell: &str) -> &'static str {
    match cell {
        "passed" => "passed",
        "skipped" => "skipped",
        "not run" => "not_run",
        _ => "failed",
    }
}

fn write_comparison(c: &Comparison, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<h2 id=\"changes\">Changes since {}</h2>", escape(&c.baseline_label))?;
    if c.flipped.is_empty() && c.module_changes.is_empty() && c.kernelspec_diffs.is_empty() {
        writeln!(w, "<p>No differences.</p>")?;
    }
    if !c.flipped.is_empty() {
        writeln!(
            w,
            "<h3>Cells that flipped</h3><table id=\"flipped\"><tr><th>partition</th><th>kernel</th><th>{}</th><th>{}</th></tr>",
            escape(&c.baseline_label),
            escape(&c.current_label)
        )?;
        for f in &c.flipped {
            writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
                escape(&f.partition),
                escape(&f.kernel),
                comparison_class(&f.before),
                escape(&f.before),
                comparison_class(&f.after),
                escape(&f.after)
            )?;
        }
        writeln!(w, "</table>")?;
    }
    if !c.module_changes.is_empty() {
        writeln!(w, "<h3>Module changes</h3><ul id=\"modules\">")?;
        for m in &c.module_changes {
            let side = |m: &Option<String>| m.as_deref().map_or("—".to_string(), |m| format!("<code>{}</code>", escape(m)));
            let list: Vec<String> = m.changes.iter().map(|(b, a)| format!("{} → {}", side(b), side(a))).collect();
            writeln!(w, "<li>{}/{}: {}</li>", escape(&m.partition), escape(&m.kernel), list.join(", "))?;
        }
        writeln!(w, "</ul>")?;
    }
    if !c.kernelspec_diffs.is_empty() {
        writeln!(w, "<h3>Kernelspec changes</h3>")?;
    }
    for d in &c.kernelspec_diffs {
        writeln!(w, "<p>{}/{} <code>{}</code></p><pre class=\"diff\">", escape(&d.partition), escape(&d.kernel), escape(&d.file))?;
        for line in d.diff.lines() {
            let class = match line.chars().next() {
                Some('+') if !line.starts_with("+++") => "add",
                Some('-') if !line.starts_with("---") => "del",
                Some('@') => "hunk",
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
    use rstest::rstest;

    use super::*;
    use crate::report::compare::{compare, samples};
    use crate::report::{KernelspecFiles, StepResult};

    const HOSTILE: &str = "<script>alert('x')</script> & \"q\" ]]> <img src=x onerror=alert(1)>";

    fn render(report: &RunReport, title: &str, comparison: Option<&Comparison>) -> String {
        let mut out = Vec::new();
        write_html(report, title, comparison, &mut out).expect("writing to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn escape_covers_markup_quotes_and_control_characters() {
        assert_eq!(escape("<a href='x'>&\"]]>\u{1b}[31m\n"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;]]&gt;\u{fffd}[31m\n");
    }

    /// Puts `HOSTILE` into one place of the report or comparison.
    fn poison(place: &str, r: &mut RunReport, c: &mut Comparison) {
        let k = &mut r.partitions[0].kernels[0];
        match place {
            "partition" => r.partitions[0].partition = HOSTILE.into(),
            "kernel" => k.kernel = HOSTILE.into(),
            "display name" => k.display_name = HOSTILE.into(),
            "stage" => k.steps[0].stage = HOSTILE.into(),
            "message" => k.steps[0].outcome = Outcome::Failed { message: HOSTILE.into() },
            "log" => k.steps[0].log = HOSTILE.into(),
            "command" => k.steps[0].command = Some(HOSTILE.into()),
            "module" => k.modules = vec![HOSTILE.into()],
            "harness error" => r.partitions[1].error = Some(HOSTILE.into()),
            "note" => r.notes.push(HOSTILE.into()),
            "spec file" => r.spec_file = HOSTILE.into(),
            "tool version" => r.tool_version = HOSTILE.into(),
            "labels" => {
                c.baseline_label = HOSTILE.into();
                c.current_label = HOSTILE.into();
            }
            "flipped cell" => c.flipped[0].after = HOSTILE.into(),
            "module change" => c.module_changes[0].changes.push((Some(HOSTILE.into()), None)),
            "diff" => c.kernelspec_diffs[0].diff = format!("+{HOSTILE}\n"),
            other => panic!("no place {other}"),
        }
    }

    #[rstest]
    fn hostile_text_is_escaped_everywhere(
        #[values(
            "partition", "kernel", "display name", "stage", "message", "log", "command", "module", "harness error",
            "note", "spec file", "tool version", "labels", "flipped cell", "module change", "diff"
        )]
        place: &str,
    ) {
        let mut r = samples::current();
        let mut c = compare(&samples::baseline(), &r, "release/23.04", "release/23.10");
        poison(place, &mut r, &mut c);
        let html = render(&r, "title", Some(&c));
        for raw in ["<script", "<img", "onerror=alert(1)>", "\"q\"", "'x'", "& \""] {
            assert!(!html.contains(raw), "{place}: {raw} left unescaped");
        }
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; ]]&gt;"), "{place} not shown");
    }

    #[test]
    fn hostile_title_is_escaped() {
        let html = render(&samples::current(), HOSTILE, None);
        assert_eq!(html.matches("&lt;script&gt;").count(), 2, "title and heading");
        assert!(!html.contains("<script"));
    }

    #[test]
    fn report_is_self_contained_and_has_every_cell() {
        let (baseline, current) = (samples::baseline(), samples::current());
        let html = render(&current, "t", Some(&compare(&baseline, &current, "a", "b")));
        // Text (the notes) may mention URLs; nothing may load one.
        for bad in ["src=", "href=\"http", "href=\"//", "<link", "<script", "<iframe", "<object", "url(", "@import", "@font-face"] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
        // 3 kernels × 4 partitions, absent ones included.
        assert_eq!(html.matches("data-status=").count(), 12);
        assert!(html.contains(r##"data-partition="barnard" data-kernel="pytorch" data-status="failed"><a href="#p0-k0">✘ modules</a>"##), "{html}");
        assert!(html.contains(r##"data-partition="alpha" data-kernel="pytorch" data-status="timed_out"><a href="#p1-k0">✘ pip:base_pks</a>"##));
        assert!(html.contains(r#"data-partition="romeo" data-kernel="minimal" data-status="not_run">– not run</td>"#));
        assert!(html.contains(r#"<details id="p0-k1"><summary><span class="passed">✔ passed</span>"#));
    }

    #[test]
    fn comparison_shows_flips_module_bumps_and_coloured_diffs() {
        let (baseline, current) = (samples::baseline(), samples::current());
        let html = render(&current, "t", Some(&compare(&baseline, &current, "release/23.04", "release/23.10")));
        assert!(html.contains("Changes since release/23.04"));
        assert!(html.contains(r#"<td>barnard</td><td>pytorch</td><td class="passed">passed</td><td class="failed">modules</td>"#), "{html}");
        assert!(html.contains("<code>PyTorch/1.12.0</code> → <code>PyTorch/1.13.1</code>"));
        assert!(html.contains(r#"<span class="del">-module load release/23.04 GCCcore/11.3.0 Python/3.10.4</span>"#));
        assert!(html.contains(r#"<span class="add">+module load release/23.10 GCCcore/11.3.0 Python/3.10.4</span>"#));
        assert!(html.contains(r#"<span class="ctx"> exec {venv}/bin/python -m ipykernel_launcher &quot;$@&quot;</span>"#));
        assert!(!render(&current, "t", None).contains("Changes since"));
    }

    #[test]
    fn long_logs_keep_their_tail_with_a_note_and_lose_terminal_escapes() {
        let mut r = samples::current();
        let log: String = (1..=1000).map(|i| format!("\u{1b}[31mline {i}\u{1b}[0m\n")).collect();
        r.partitions[0].kernels[0].steps[0].log = log;
        let html = render(&r, "t", None);
        assert!(html.contains("(last 400 lines; 600 earlier lines omitted)"), "{html}");
        assert!(html.contains("<pre class=\"log\">line 601\n") && html.contains("line 1000</pre>"));
        assert!(!html.contains("line 600\n") && !html.contains("[31m"));
    }

    #[test]
    fn a_log_of_few_enormous_lines_is_cut_by_size() {
        let (text, note) = log_tail(&"é".repeat(MAX_LOG_BYTES));
        assert!(text.len() <= MAX_LOG_BYTES && text.chars().all(|c| c == 'é'));
        assert_eq!(note.as_deref(), Some("last 256 KiB; 262144 earlier bytes omitted"));
    }

    #[test]
    fn kernels_with_no_steps_or_only_skips_are_not_passes() {
        let mut r = samples::current();
        let k = &mut r.partitions[0].kernels[1];
        k.steps = vec![StepResult { stage: "modules".into(), outcome: Outcome::Skipped { reason: "r".into() }, seconds: 0.0, command: None, log: String::new() }];
        k.kernelspec = Some(KernelspecFiles { kernel_json: String::new(), launcher: String::new() });
        let html = render(&r, "t", None);
        assert!(html.contains(r##"data-kernel="minimal" data-status="skipped"><a href="#p0-k1">– skipped</a>"##), "{html}");
        assert!(html.contains("<p id=\"summary\">0 of 4 kernel × partition combinations pass.</p>"));
    }
}
