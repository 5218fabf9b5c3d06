//! The Slurm commands of `certify --slurm`: `sbatch`, `scontrol show job`
//! and `scancel`, run with this process's environment (they need the site's
//! Slurm configuration and, for munge, nothing else).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use super::process::{self, CommandSpec, Finished};
use crate::error::{Error, Result};

/// Slurm answers in seconds; a controller that does not answer in this time is down.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Jobs this process submitted and has not seen end: cancelled on Ctrl-C.
static SUBMITTED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What a Slurm command printed (stdout and stderr together) and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub code: Option<i32>,
    pub output: String,
}

impl Answer {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

fn environment() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// The program's path on `PATH`, or an environment error naming what to install.
pub fn find(program: &str) -> Result<PathBuf> {
    process::which_in(program, &environment()).ok_or_else(|| {
        Error::environment(format!("`{program}` was not found on PATH"))
            .with_hint("certify --slurm runs on a login node of the cluster, where Slurm's client commands are installed (Debian: slurm-client)")
    })
}

fn run(program: &str, args: Vec<String>) -> Result<Answer> {
    let spec = CommandSpec { program: find(program)?, args, env: environment(), cwd: None };
    let finished: Finished = process::run(&spec, COMMAND_TIMEOUT, &mut std::io::sink())
        .map_err(|e| Error::environment(format!("cannot run `{program}`")).with_source(e))?;
    Ok(Answer { code: finished.code, output: finished.output })
}

/// `sbatch ARGS`; the caller reads the job id or sbatch's refusal from the answer.
pub fn sbatch(args: Vec<String>) -> Result<Answer> {
    run("sbatch", args)
}

/// `scontrol show job -o ID`: one line of `Key=Value` fields.
pub fn show_job(id: &str) -> Result<Answer> {
    run("scontrol", vec!["show".into(), "job".into(), "-o".into(), id.into()])
}

/// Remembers a submitted job so that Ctrl-C cancels it.
pub fn track(id: &str) {
    if let Ok(mut jobs) = SUBMITTED.lock() {
        jobs.push(id.to_string());
    }
}

/// Forgets a job that ended.
pub fn untrack(id: &str) {
    if let Ok(mut jobs) = SUBMITTED.lock() {
        jobs.retain(|j| j != id);
    }
}

/// On SIGINT, SIGTERM or SIGHUP: `scancel` every tracked job, then exit 128+signal.
pub fn cancel_jobs_on_interrupt() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let jobs: Vec<String> = SUBMITTED.lock().map(|j| j.clone()).unwrap_or_default();
            if !jobs.is_empty() {
                eprintln!("\ninterrupted: cancelling Slurm job(s) {}", jobs.join(" "));
                let _ = run("scancel", jobs);
            }
            std::process::exit(128 + sig);
        }
    });
}
