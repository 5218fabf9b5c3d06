//! `hpc-kernels install`: run the plan on this host.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::exec::{self, lmod, ExecOptions, Timeouts};
use crate::report::{self, RunReport};
use crate::ExitCode;

use super::args::InstallArgs;
use super::progress::Progress;

pub fn run(args: &InstallArgs, color: bool) -> Result<ExitCode> {
    let (spec, plan, uv) = super::plan::prepare(&args.target, true)?;
    let base_env = lmod::base_env(std::env::vars());
    let lmod_init = lmod::find_init(&base_env).ok_or_else(|| {
        Error::environment("Lmod not found: no $LMOD_CMD, $LMOD_PKG or init script in the usual places")
            .with_hint("run on a login node with Lmod, or set LMOD_PKG to Lmod's install directory")
    })?;
    let opts = ExecOptions {
        timeouts: timeouts(args)?,
        base_env,
        lmod_init,
        launch_python: args.launch_python.clone(),
        skip_launch_check: args.no_launch_check,
        spec_file: std::path::absolute(&args.target.spec).unwrap_or_else(|_| args.target.spec.clone()).to_string_lossy().into_owned(),
        install_command: super::plan::install_command(&args.target)?,
        uv,
        cache_dir: args.cache_dir.as_ref().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())),
        recheck: args.recheck,
        reuse_venv: args.reuse_venv,
        check_jobs: args.check_jobs.map(usize::from).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    exec::signals::install_handlers();
    let mut progress = Progress::new();
    let result = exec::install(&plan, &opts, &mut |e| {
        if args.jsonl {
            print_json_line(&e);
        }
        progress.event(&e)
    })?;
    let mut notes = Vec::new();
    if args.target.installer == super::args::InstallerChoice::Uv {
        notes.push(match &opts.uv {
            Some(uv) => format!("installer: uv ({})", uv.display()),
            None => "installer: pip (uv was asked for but is not on PATH; `pip install --user uv` gets it)".to_string(),
        });
    }
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
    if args.jsonl {
        print_json_line(&report);
        return Ok(exit_code(&report));
    }
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
    Ok(exit_code(&report))
}

fn timeouts(args: &InstallArgs) -> Result<Timeouts> {
    let step = Duration::from_secs(args.step_timeout.max(1));
    let mut t = Timeouts {
        modules: step,
        venv: step,
        pip: Duration::from_secs(args.pip_timeout.max(1)),
        import: step,
        test_script: step,
        launch: step,
    };
    for item in &args.timeouts {
        let bad = || {
            Error::usage(format!("--timeout {item}: expected KIND=SECS"))
                .with_hint("KIND is one of modules, venv, pip, import, test_script, launch; e.g. --timeout test_script=120")
        };
        let (kind, secs) = item.split_once('=').ok_or_else(bad)?;
        let secs = Duration::from_secs(secs.trim().parse::<u64>().map_err(|_| bad())?.max(1));
        let slot = match kind.trim() {
            "modules" => &mut t.modules,
            "venv" => &mut t.venv,
            "pip" => &mut t.pip,
            "import" => &mut t.import,
            "test_script" => &mut t.test_script,
            "launch" => &mut t.launch,
            _ => return Err(bad()),
        };
        *slot = secs;
    }
    Ok(t)
}

fn exit_code(report: &RunReport) -> ExitCode {
    report.exit_code(false)
}

fn print_json_line(value: &impl serde::Serialize) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Ok(line) = serde_json::to_string(value) {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
