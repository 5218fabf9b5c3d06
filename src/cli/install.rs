//! `hpc-kernels install`: run the plan on this host.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::exec::{self, lmod, ExecOptions, Timeouts};
use crate::report::{self, RunReport};
use crate::ExitCode;

use super::args::InstallArgs;
use super::progress::Progress;

pub fn run(args: &InstallArgs, color: bool) -> Result<ExitCode> {
    let (spec, plan) = super::plan::prepare(&args.target, true)?;
    let base_env = lmod::base_env(std::env::vars());
    let lmod_init = lmod::find_init(&base_env).ok_or_else(|| {
        Error::environment("Lmod not found: no $LMOD_CMD, $LMOD_PKG or init script in the usual places")
            .with_hint("run on a login node with Lmod, or set LMOD_PKG to Lmod's install directory")
    })?;
    let step = Duration::from_secs(args.step_timeout.max(1));
    let opts = ExecOptions {
        timeouts: Timeouts {
            modules: step,
            venv: step,
            pip: Duration::from_secs(args.pip_timeout.max(1)),
            import: step,
            test_script: step,
            launch: step,
        },
        base_env,
        lmod_init,
        launch_python: args.launch_python.clone(),
        skip_launch_check: args.no_launch_check,
    };
    exec::signals::install_handlers();
    let mut progress = Progress::new();
    let result = exec::install(&plan, &opts, &mut |e| progress.event(&e))?;
    let mut notes = Vec::new();
    for kp in &plan.kernels {
        for step in &kp.steps {
            if let crate::plan::Action::PipInstall { index_rewrites, group, .. } = &step.action {
                for (from, to) in index_rewrites {
                    let note = format!("index of pip group {group}: {from} → {to}");
                    if !notes.contains(&note) {
                        notes.push(note);
                    }
                }
            }
        }
    }
    let report = RunReport {
        tool_version: crate::VERSION.to_string(),
        spec_file: args.target.spec.display().to_string(),
        spec_sha256: spec.source_sha256.clone(),
        partitions: vec![result],
        notes,
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::from).and_then(|_| {
            use std::io::Write;
            writeln!(out)
        })
    } else {
        report::write_install_summary(&report, &mut out, color)
    };
    written.map_err(|e| Error::environment("cannot write the results to stdout").with_source(e))?;
    Ok(if report.all_passed() { ExitCode::Success } else { ExitCode::CheckFailed })
}
