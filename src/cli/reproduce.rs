//! `hpc-kernels reproduce`: one kernel's failure, in a kept container.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::harness::reproduce;
use crate::harness::validate::{HarnessEvent, ValidateOptions};
use crate::harness::images;
use crate::report::{self, RunReport};
use crate::spec;
use crate::ExitCode;

use super::args::ReproduceArgs;
use super::common;
use super::progress::Progress;

pub fn run(a: &ReproduceArgs) -> Result<ExitCode> {
    if a.cleanup {
        let n = reproduce::cleanup()?;
        println!("removed {n} kept reproduce container(s)");
        return Ok(ExitCode::Success);
    }
    let spec_path = a.spec.as_ref().ok_or_else(|| Error::usage("reproduce needs a SPEC (or --cleanup)"))?;
    let user = a.from_log.as_deref().map(read_user_report).transpose()?;
    let user_failure = user.as_ref().and_then(first_failure);
    let partition = a.partition.clone().or_else(|| user_failure.as_ref().map(|f| f.0.clone())).ok_or_else(|| {
        Error::usage("which partition? pass --partition (or --from-log with a failed install report)")
    })?;
    let kernel = a.kernel.clone().or_else(|| user_failure.as_ref().map(|f| f.1.clone())).ok_or_else(|| {
        Error::usage("which kernel? pass --kernel (or --from-log with a failed install report)")
    })?;

    let (spec, _warnings) = spec::load(spec_path)?;
    common::check_kernels(&spec, spec_path, std::slice::from_ref(&kernel))?;
    let replay_path = a.replay.clone().unwrap_or_else(|| PathBuf::from(format!("reproduce-{partition}-{kernel}.sh")));
    common::check_report_target("--replay", &replay_path)?;
    let binary = common::current_binary()?;
    let opts = ValidateOptions {
        partitions: vec![partition.clone()],
        kernels: vec![kernel.clone()],
        release: a.release.clone(),
        jobs: 1,
        keep: true,
        cache_dir: a.cache_dir.clone().unwrap_or_else(images::default_cache_dir),
        base_image: None,
        pip_timeout: 1800,
        step_timeout: 600,
        binary,
        run_id: format!("reproduce-{}", std::process::id()),
        shard: None,
        installer: a.installer.into(),
        packages: Default::default(),
        reinstall: true,
    };
    let mut progress = Progress::new();
    let r = reproduce::reproduce(spec_path, &spec, &kernel, &opts, &mut |e| match e {
        HarnessEvent::Phase(p) => progress.println(&format!("· {p}")),
        HarnessEvent::Image(_) => {}
        HarnessEvent::Run(e) => progress.event(&e),
        HarnessEvent::Kept { .. } => {}
    })?;

    std::fs::write(&replay_path, &r.replay_script).map_err(|e| Error::io("write the replay script", &replay_path, e))?;

    let failed = r.result.first_problem();
    match failed {
        Some(step) => {
            println!("✘ {partition}/{kernel} failed at {}: {}", step.stage, outcome_message(&step.outcome));
            for line in tail(&step.log, 20) {
                println!("    {line}");
            }
        }
        None => println!("✔ {partition}/{kernel} installed and started: nothing failed here"),
    }
    if let Some((_, _, stage)) = &user_failure {
        let same = failed.map(|s| &s.stage) == Some(stage);
        println!("your log: {stage} failed — {}", if same { "reproduced: the same step fails here" } else { "NOT reproduced: here it goes differently" });
    }
    println!("shell in that state:  {}", r.shell_command);
    println!("replay script:        {} (in the container: /root/.hpc-kernels/replay.sh)", replay_path.display());
    println!("remove when done:     hpc-kernels reproduce --cleanup");
    Ok(if failed.is_some() { ExitCode::CheckFailed } else { ExitCode::Success })
}

fn outcome_message(o: &report::Outcome) -> String {
    match o {
        report::Outcome::Failed { message } | report::Outcome::TimedOut { message, .. } | report::Outcome::Error { message } => message.clone(),
        report::Outcome::Skipped { reason } => reason.clone(),
        report::Outcome::Passed => "passed".into(),
    }
}

fn tail(log: &str, n: usize) -> Vec<&str> {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// A user's `install --json` report, or the last line of `install --jsonl`.
fn read_user_report(path: &Path) -> Result<RunReport> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io_arg("read the log", path, e))?;
    if let Ok(r) = report::read_json(text.as_bytes()) {
        return Ok(r);
    }
    text.lines()
        .rev()
        .find_map(|l| report::read_json(l.as_bytes()).ok())
        .ok_or_else(|| {
            Error::usage(format!("{}: not an hpc-kernels install report", path.display()))
                .with_hint("ask for the output of `hpc-kernels install --json` (or --jsonl)")
        })
}

/// `(partition, kernel, stage)` of the first failing kernel in a report.
fn first_failure(r: &RunReport) -> Option<(String, String, String)> {
    r.partitions.iter().find_map(|p| {
        p.kernels.iter().find_map(|k| k.first_problem().map(|s| (p.partition.clone(), k.kernel.clone(), s.stage.clone())))
    })
}
