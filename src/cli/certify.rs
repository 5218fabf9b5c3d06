//! `hpc-kernels certify`: the validation matrix with the partitions' sticky
//! release switched, written out for a release announcement.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::harness::validate::{self, HarnessEvent, ValidateOptions};
use crate::harness::{self, images};
use crate::report::{self, RunReport};
use crate::spec::{self, Spec};
use crate::ExitCode;

use super::args::CertifyArgs;
use super::common;
use super::progress::Progress;

pub fn run(a: &CertifyArgs, color: bool) -> Result<ExitCode> {
    let (spec, _warnings) = spec::load(&a.spec)?;
    common::check_kernels(&spec, &a.spec, &a.kernels)?;
    common::check_report_dir("--out", &a.out)?;
    let binary = common::current_binary()?;
    let run_id = format!("certify-{}", std::process::id());
    harness::interrupt::remove_containers_on_interrupt(validate::RUN_LABEL, &run_id);
    let base = ValidateOptions {
        partitions: if a.partitions.is_empty() { images::known_partitions() } else { a.partitions.clone() },
        kernels: a.kernels.clone(),
        release: None,
        jobs: common::jobs(a.jobs),
        keep: false,
        cache_dir: a.cache_dir.clone().unwrap_or_else(images::default_cache_dir),
        base_image: None,
        pip_timeout: 1800,
        step_timeout: 600,
        binary,
        run_id,
        shard: None,
        installer: a.installer.into(),
        packages: a.packages.options(),
    };

    let current = certify_release(&spec, &a.spec, &a.release, &a.out, &base)?;
    let baseline = match &a.against {
        Some(against) => Some(certify_release(&spec, &a.spec, against, &a.out, &base)?),
        None => None,
    };
    let title = format!("Kernel certification: release/{}", a.release);
    let comparison = baseline
        .as_ref()
        .map(|b| report::compare(b, &current, &format!("release/{}", a.against.as_deref().unwrap_or("")), &format!("release/{}", a.release)));

    // The matrix first: a report that cannot be written fails the run after it.
    let mut out = std::io::stdout().lock();
    let io = |e| Error::environment("cannot write to stdout").with_source(e);
    report::write_matrix(&current, &mut out, report::MatrixStyle { color, unicode: true }).map_err(io)?;
    if let Some(c) = &comparison {
        writeln!(out, "\nchanges since {}: {} cell(s) flipped, {} module change(s), {} kernelspec diff(s)", c.baseline_label, c.flipped.len(), c.module_changes.len(), c.kernelspec_diffs.len()).map_err(io)?;
        for f in &c.flipped {
            writeln!(out, "  {}/{}: {} → {}", f.partition, f.kernel, f.before, f.after).map_err(io)?;
        }
    }
    common::write_report_file(&a.out.join("junit.xml"), |w| report::write_junit(&current, w))?;
    common::write_report_file(&a.out.join("results.json"), |w| report::write_json(&current, w))?;
    if let (Some(b), Some(against)) = (&baseline, &a.against) {
        common::write_report_file(&a.out.join(format!("results-{against}.json")), |w| report::write_json(b, w))?;
    }
    common::write_report_file(&a.out.join("summary.md"), |w| report::write_markdown(&current, &title, comparison.as_ref(), w))?;
    common::write_report_file(&a.out.join("report.html"), |w| report::write_html(&current, &title, comparison.as_ref(), w))?;
    writeln!(out, "\nwritten to {}: junit.xml results.json summary.md report.html", a.out.display()).map_err(io)?;
    Ok(current.exit_code(a.fail_on_skip))
}

/// Validates the spec with its release modules switched to `release`, on
/// images whose sticky default is that release.
fn certify_release(spec: &Spec, spec_path: &Path, release: &str, out: &Path, base: &ValidateOptions) -> Result<RunReport> {
    let (switched, substitutions) = spec::with_release(spec, release);
    let stem = spec_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".into());
    let switched_path = out.join(format!("{stem}.release-{release}.json"));
    std::fs::write(&switched_path, spec::to_json(&switched)).map_err(|e| Error::io("write", &switched_path, e))?;
    for s in &substitutions {
        eprintln!("release {release}: {}: {} → {}", s.path, s.from, s.to);
    }
    let opts = ValidateOptions { release: Some(release.to_string()), ..base.clone() };
    let mut progress = Progress::new();
    progress.println(&format!("· certifying release/{release}"));
    let result = validate::validate(&switched_path, &switched, &opts, &mut |e| match e {
        HarnessEvent::Phase(p) => progress.println(&format!("· {p}")),
        HarnessEvent::Image(_) | HarnessEvent::Kept { .. } => {}
        HarnessEvent::Run(e) => progress.event(&e),
    });
    harness::interrupt::wait_if_interrupted();
    let mut report = result?;
    report.spec_file = spec_path.display().to_string();
    for s in &substitutions {
        report.notes.push(format!("release substituted: {} {} → {}", s.path, s.from, s.to));
    }
    Ok(report)
}
