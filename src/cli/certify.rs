//! `hpc-kernels certify`: the validation matrix with the partitions' sticky
//! release switched, written out for a release announcement; in emulated
//! partitions (containers) or, with `--slurm`, as Slurm jobs on the real ones.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::harness::validate::{self, HarnessEvent, ValidateOptions};
use crate::harness::{self, images};
use crate::report::{self, RunReport};
use crate::slurm::{self, SlurmEvent, SlurmOptions};
use crate::spec::{self, Spec};
use crate::ExitCode;

use super::args::{CertifyArgs, SlurmArgs};
use super::common;
use super::progress::Progress;

/// Where the installs run.
enum Backend {
    Containers(ValidateOptions),
    Slurm(SlurmOptions),
}

pub fn run(a: &CertifyArgs, color: bool) -> Result<ExitCode> {
    let (spec, _warnings) = spec::load(&a.spec)?;
    common::check_kernels(&spec, &a.spec, &a.kernels)?;
    common::check_report_dir("--out", &a.out)?;
    let binary = common::current_binary()?;
    let base = if a.slurm.slurm {
        Backend::Slurm(slurm_options(a, &spec, binary)?)
    } else {
        let run_id = format!("certify-{}", std::process::id());
        harness::interrupt::remove_containers_on_interrupt(validate::RUN_LABEL, &run_id);
        Backend::Containers(ValidateOptions {
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
            // A certificate is earned by this run alone: no venv from an earlier one.
            reinstall: true,
        })
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
    let slurm_errors = a.slurm.slurm && current.partitions.iter().chain(baseline.iter().flat_map(|b| &b.partitions)).any(|p| p.error.is_some());
    if slurm_errors {
        // A partition Slurm could not certify is the environment's fault, not a kernel's.
        return Ok(ExitCode::Environment);
    }
    Ok(current.exit_code(a.fail_on_skip))
}

fn slurm_options(a: &CertifyArgs, spec: &Spec, binary: std::path::PathBuf) -> Result<SlurmOptions> {
    let s: &SlurmArgs = &a.slurm;
    let sbatch_args = match &s.sbatch_args {
        None => Vec::new(),
        Some(text) => shlex::split(text).ok_or_else(|| {
            Error::usage(format!("--sbatch-args {text:?}: unbalanced quotes")).with_hint("quote the whole value once, e.g. --sbatch-args \"--account=p_ml --time=01:00:00\"")
        })?,
    };
    let mut slurm_partitions = BTreeMap::new();
    for m in &s.slurm_partitions {
        match m.split_once('=') {
            Some((p, sp)) if !p.is_empty() && !sp.is_empty() && !sp.contains(char::is_whitespace) => {
                slurm_partitions.insert(p.to_string(), sp.to_string());
            }
            _ => {
                return Err(Error::usage(format!("--slurm-partition {m:?}: expected P=SLURM_PARTITION")).with_hint("e.g. --slurm-partition alpha=alpha-gpu"))
            }
        }
    }
    let partitions: Vec<String> = if a.partitions.is_empty() { spec.modules_by_cluster.keys().cloned().collect() } else { a.partitions.clone() };
    // Partition names become file names of the jobs' scripts and results.
    if let Some((p, problem)) = partitions.iter().find_map(|p| spec::partition_name_problem(p).map(|problem| (p, problem))) {
        return Err(Error::usage(format!("--partition {p}: {}", problem.message)).with_hint(problem.hint));
    }
    if let Some(p) = slurm_partitions.keys().find(|p| !partitions.contains(p)) {
        return Err(Error::usage(format!("--slurm-partition {p}=…: {p} is not a partition of this run"))
            .with_hint(format!("partitions of this run: {}", partitions.join(", "))));
    }
    crate::exec::slurm::find("sbatch")?;
    crate::exec::slurm::find("scontrol")?;
    let mut install_args = Vec::new();
    if let Some(url) = &s.index_url {
        install_args.extend(["--index-url".to_string(), url.clone()]);
    }
    for (from, to) in &a.packages.index_map {
        install_args.extend(["--index-map".to_string(), format!("{from}={to}")]);
    }
    if a.packages.offline || a.packages.exclude_newer.is_some() {
        return Err(Error::usage("--offline and --exclude-newer apply to the emulated partitions, not to --slurm")
            .with_hint("on the real partitions the jobs install from the real index (or --index-url / --index-map)"));
    }
    install_args.extend(["--pip-timeout".to_string(), "1800".into(), "--step-timeout".into(), "600".into()]);
    // The job's install finds uv on the cluster's PATH, or says so and uses pip.
    install_args.extend(["--installer".to_string(), a.installer.name().to_string()]);
    let out = std::path::absolute(&a.out).map_err(|e| Error::io_arg("resolve", &a.out, e))?;
    crate::exec::slurm::cancel_jobs_on_interrupt();
    Ok(SlurmOptions {
        partitions,
        kernels: a.kernels.clone(),
        slurm_partitions,
        sbatch_args,
        binary,
        dir: out.join("slurm"),
        install_args,
        poll: Duration::from_secs(s.poll.max(1)),
        max_query_failures: 12,
    })
}

/// Validates the spec with its release modules switched to `release`, on
/// images whose sticky default is that release, or as Slurm jobs.
fn certify_release(spec: &Spec, spec_path: &Path, release: &str, out: &Path, base: &Backend) -> Result<RunReport> {
    let (switched, substitutions) = spec::with_release(spec, release);
    let stem = spec_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "spec".into());
    let switched_path = out.join(format!("{stem}.release-{release}.json"));
    std::fs::write(&switched_path, spec::to_json(&switched)).map_err(|e| Error::io("write", &switched_path, e))?;
    for s in &substitutions {
        eprintln!("release {release}: {}: {} → {}", s.path, s.from, s.to);
    }
    let mut progress = Progress::new();
    progress.println(&format!("· certifying release/{release}"));
    let mut report = match base {
        Backend::Containers(base) => {
            let opts = ValidateOptions { release: Some(release.to_string()), ..base.clone() };
            let result = validate::validate(&switched_path, &switched, &opts, &mut |e| match e {
                HarnessEvent::Phase(p) => progress.println(&format!("· {p}")),
                HarnessEvent::Image(_) | HarnessEvent::Kept { .. } => {}
                HarnessEvent::Run(e) => progress.event(&e),
            });
            harness::interrupt::wait_if_interrupted();
            result?
        }
        Backend::Slurm(base) => {
            let opts = SlurmOptions { dir: base.dir.join(format!("release-{release}")), ..base.clone() };
            slurm::certify(&switched_path, &switched, &opts, &mut |e| match e {
                SlurmEvent::Phase(p) => progress.println(&format!("· {p}")),
                SlurmEvent::Run(e) => progress.event(&e),
            })?
        }
    };
    report.spec_file = spec_path.display().to_string();
    for s in &substitutions {
        report.notes.push(format!("release substituted: {} {} → {}", s.path, s.from, s.to));
    }
    Ok(report)
}
