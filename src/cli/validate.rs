//! `hpc-kernels validate`: the kernel × partition matrix in emulated partitions.


use crate::error::{Error, Result};
use crate::harness::validate::{self, HarnessEvent, ValidateOptions};
use crate::harness::{self, images};
use crate::report::{self, snapshot};
use crate::spec;
use crate::ExitCode;

use super::args::ValidateArgs;
use super::common;
use super::progress::Progress;

pub fn run(a: &ValidateArgs, color: bool) -> Result<ExitCode> {
    let (spec, warnings) = spec::load(&a.spec)?;
    if !warnings.is_empty() {
        let _ = spec::render_human(&warnings, &mut std::io::stderr().lock(), color);
    }
    common::check_kernels(&spec, &a.spec, &a.kernels)?;
    if let Some(path) = &a.junit {
        common::check_report_target("--junit", path)?;
    }
    let binary = common::current_binary()?;
    let run_id = format!("{}-{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
    let opts = ValidateOptions {
        partitions: if a.partitions.is_empty() { images::known_partitions() } else { a.partitions.clone() },
        kernels: a.kernels.clone(),
        release: a.release.clone(),
        jobs: common::jobs(a.jobs),
        keep: a.keep,
        cache_dir: a.cache_dir.clone().unwrap_or_else(images::default_cache_dir),
        base_image: a.base_image.clone(),
        pip_timeout: a.pip_timeout,
        step_timeout: a.step_timeout,
        binary,
        run_id: run_id.clone(),
        shard: a.shard,
        installer: a.installer.into(),
        packages: a.packages.options(),
        reinstall: a.reinstall,
    };
    harness::interrupt::remove_containers_on_interrupt(validate::RUN_LABEL, &run_id);

    let mut progress = Progress::new();
    if let Some(shard) = a.shard {
        progress.println(&format!("· shard {shard}: {}", shard_cells(&spec, &opts, shard)));
    }
    let mut kept = Vec::new();
    let report = validate::validate(&a.spec, &spec, &opts, &mut |e| match e {
        HarnessEvent::Phase(p) => progress.println(&format!("· {p}")),
        HarnessEvent::Image(e) => progress.println(&image_line(&e)),
        HarnessEvent::Run(e) => progress.event(&e),
        HarnessEvent::Kept { partition, kernel, command } => kept.push(format!("{partition}/{kernel}: {command}")),
    });
    harness::interrupt::wait_if_interrupted();
    let report = report?;

    let mut code = report.exit_code(a.fail_on_skip);
    let mut out = std::io::stdout().lock();
    let io = |e| Error::environment("cannot write to stdout").with_source(e);
    if a.json {
        match a.shard {
            Some(shard) => report::write_shard_json(&report, shard, &mut out),
            None => report::write_json(&report, &mut out),
        }
        .map_err(io)?;
    } else {
        report::write_matrix(&report, &mut out, report::MatrixStyle { color, unicode: true }).map_err(io)?;
    }
    // The matrix is out; a report that cannot be written fails the run after it.
    let junit_written = a.junit.as_ref().map(|path| {
        common::write_report_file(path, |w| match a.shard {
            Some(shard) => report::write_shard_junit(&report, shard, w),
            None => report::write_junit(&report, w),
        })
    });
    if let Some(dir) = &a.snapshots {
        let results = snapshot::check_snapshots(&report, &snapshot::SnapshotOptions { dir: dir.clone(), accept: a.accept, workspace: None })?;
        let mut err = std::io::stderr().lock();
        snapshot::write_diffs(&results, &mut err, color).map_err(io)?;
        if results.iter().any(|r| matches!(r.status, snapshot::SnapshotStatus::New | snapshot::SnapshotStatus::Changed { .. })) {
            code = ExitCode::CheckFailed;
        }
    }
    // stdout carries only the matrix or the JSON; the rest is for the person.
    for line in &kept {
        progress.println(&format!("kept failed container {line}"));
    }
    if !kept.is_empty() {
        // The kept containers hold the run's shared home and network; they go with them.
        let volume = harness::shared_home::volume_name(&run_id);
        let network = match a.packages.wheels {
            harness::packages::WheelsMode::Synthetic => String::new(),
            _ => format!(" && docker network rm {}", harness::network::network_name(&run_id)),
        };
        progress.println(&format!(
            "remove when done: docker rm --force $(docker ps --all --quiet --filter label={}={run_id}) && docker volume rm {volume}{network}",
            validate::RUN_LABEL
        ));
    }
    if let (Some(path), Some(written)) = (&a.junit, junit_written) {
        written?;
        progress.println(&format!("JUnit written to {}", path.display()));
    }
    Ok(code)
}

fn image_line(e: &images::ImageEvent) -> String {
    match e {
        images::ImageEvent::Started { step, detail } => format!("· image {step}: {detail}"),
        images::ImageEvent::Finished { step, elapsed } => format!("· image {step}: built in {:.1}s", elapsed.as_secs_f64()),
        images::ImageEvent::Cached { step, tag } => format!("· image {step}: cached ({tag})"),
    }
}

/// "2 of 6 kernel × partition cells: alpha/pytorch … barnard/tensorflow".
fn shard_cells(spec: &spec::Spec, opts: &ValidateOptions, shard: crate::shard::Shard) -> String {
    let kernels: Vec<String> = spec.kernels.keys().filter(|k| opts.kernels.is_empty() || opts.kernels.contains(k)).cloned().collect();
    let all = crate::shard::select(None, &opts.partitions, &kernels).len();
    let mine = crate::shard::select(Some(shard), &opts.partitions, &kernels);
    let span = match mine.as_slice() {
        [] => String::new(),
        [only] => format!(": {}/{}", only.0, only.1),
        [first, .., last] => format!(": {}/{} … {}/{}", first.0, first.1, last.0, last.1),
    };
    format!("{} of {all} kernel × partition cells{span}", mine.len())
}
