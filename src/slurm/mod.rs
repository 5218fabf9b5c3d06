//! Certification as Slurm jobs: one job per partition runs `hpc-kernels
//! install --jsonl` on a compute node of that partition, into a directory
//! the login node shares; this side submits, follows the jobs' progress
//! through `scontrol show job -o` and the growing result files, and builds
//! the same `RunReport` the container harness builds.
//!
//! A job that Slurm refused, lost (node failure), stopped (time limit,
//! cancellation) or that left no results is an error of its partition, not
//! a failed check; the other partitions carry on.

pub mod job;
pub mod results;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::exec::slurm as commands;
use crate::report::{KernelResult, Outcome, PartitionResult, RunEvent, RunReport, StepResult};
use crate::spec::Spec;
use job::{JobKind, JobRequest, JobStatus, Phase};
use results::{Follower, Line};

#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// hpc-kernels partitions, in report order.
    pub partitions: Vec<String>,
    /// Only these kernels; empty: all of the spec's.
    pub kernels: Vec<String>,
    /// hpc-kernels partition → Slurm partition; absent names map to themselves.
    pub slurm_partitions: BTreeMap<String, String>,
    /// The user's `--sbatch-args`, already split.
    pub sbatch_args: Vec<String>,
    /// The hpc-kernels binary the jobs run (on a shared file system).
    pub binary: PathBuf,
    /// Shared directory for scripts, results, logs, venvs and kernelspecs.
    pub dir: PathBuf,
    /// Further `install` arguments (indexes, timeouts); `--kernel` comes from `kernels`.
    pub install_args: Vec<String>,
    /// How often `scontrol` is asked.
    pub poll: Duration,
    /// Consecutive `scontrol` failures after which a job counts as lost.
    pub max_query_failures: u32,
}

/// What the person watching is told.
pub enum SlurmEvent {
    Phase(String),
    Run(RunEvent),
}

/// A job in flight.
struct Tracked {
    request: JobRequest,
    id: String,
    follower: Follower,
    last_state: String,
    failures: u32,
}

/// How a job that Slurm did not abort ended: its results decide.
enum JobEnd {
    Ended(Box<JobStatus>),
    /// Ended without scontrol having seen its end state (purged).
    Vanished,
}

/// Submits one job per partition, waits for all, returns their results.
pub fn certify(spec_path: &std::path::Path, spec: &Spec, opts: &SlurmOptions, on_event: &mut dyn FnMut(SlurmEvent)) -> Result<RunReport> {
    let kernels: Vec<String> =
        spec.kernels.keys().filter(|k| opts.kernels.is_empty() || opts.kernels.contains(k)).cloned().collect();
    let mut install_args: Vec<String> = opts.kernels.iter().flat_map(|k| ["--kernel".to_string(), k.clone()]).collect();
    install_args.extend(opts.install_args.iter().cloned());
    std::fs::create_dir_all(&opts.dir).map_err(|e| Error::io("create the Slurm results directory", &opts.dir, e))?;
    let spec_abs = std::path::absolute(spec_path).map_err(|e| Error::io_arg("resolve", spec_path, e))?;
    let request = |kind: JobKind, p: &str| JobRequest {
        kind,
        partition: p.to_string(),
        slurm_partition: opts.slurm_partitions.get(p).cloned().unwrap_or_else(|| p.to_string()),
        binary: opts.binary.clone(),
        spec: spec_abs.clone(),
        dir: opts.dir.clone(),
        install_args: install_args.clone(),
        sbatch_args: opts.sbatch_args.clone(),
    };

    let mut partitions: Vec<PartitionResult> = Vec::new();
    let mut jobs: Vec<(usize, JobRequest)> = Vec::new();
    for p in &opts.partitions {
        let mut pr = PartitionResult { partition: p.clone(), kernels: Vec::new(), error: None };
        if spec.modules_by_cluster.contains_key(p) {
            jobs.push((partitions.len(), request(JobKind::Install, p)));
        } else {
            pr.kernels = kernels.iter().map(|k| not_run(spec, k, format!("the spec's modules_by_cluster has no entry for {p}"))).collect();
        }
        partitions.push(pr);
    }
    let mut notes = Vec::new();
    for (index, request, id, end) in run_jobs(jobs, opts, &mut notes, on_event) {
        let partition = &mut partitions[index];
        match end.and_then(|end| collect(&request, &id, end)) {
            Ok(done) => partition.kernels = done.kernels,
            Err(message) => {
                on_event(SlurmEvent::Phase(format!("{}: {message}", partition.partition)));
                partition.error = Some(message);
            }
        }
    }

    // The shared-home stage, as in the containers: each kernel that passed
    // somewhere is started from the one kernelspec on every partition where it passed.
    let checks: Vec<(usize, JobRequest)> = partitions
        .iter()
        .enumerate()
        .filter_map(|(i, pr)| {
            let passed: Vec<String> = pr.kernels.iter().filter(|k| k.passed()).map(|k| k.kernel.clone()).collect();
            (!passed.is_empty()).then(|| (i, request(JobKind::SharedHome { kernels: passed }, &pr.partition)))
        })
        .collect();
    if !checks.is_empty() {
        on_event(SlurmEvent::Phase("starting the kernels from the shared kernelspec on every partition where they passed".into()));
    }
    for (index, request, _, end) in run_jobs(checks, opts, &mut notes, on_event) {
        let JobKind::SharedHome { kernels } = &request.kind else { continue };
        for kernel in kernels {
            let step = shared_home_step(&request, kernel, &end);
            if let Some(k) = partitions[index].kernels.iter_mut().find(|k| &k.kernel == kernel) {
                k.steps.push(step);
            }
        }
    }
    notes.push(format!("ran as Slurm jobs; scripts, results and logs in {}", opts.dir.display()));
    Ok(RunReport {
        tool_version: crate::VERSION.to_string(),
        spec_file: spec_path.display().to_string(),
        spec_sha256: spec.source_sha256.clone(),
        partitions,
        notes,
    })
}

/// A partition's index, the job, its Slurm id (none when refused) and how it ended.
type Finished = (usize, JobRequest, String, std::result::Result<JobEnd, String>);

/// Submits the jobs and follows them until every one has ended.
fn run_jobs(jobs: Vec<(usize, JobRequest)>, opts: &SlurmOptions, notes: &mut Vec<String>, on_event: &mut dyn FnMut(SlurmEvent)) -> Vec<Finished> {
    let mut finished = Vec::new();
    let mut running: Vec<(usize, Tracked)> = Vec::new();
    for (index, request) in jobs {
        let p = request.partition.clone();
        match submit(&request) {
            Ok(id) => {
                on_event(SlurmEvent::Phase(format!("{p}: submitted job {id} ({}) to Slurm partition {}", request.job_name(), request.slurm_partition)));
                notes.push(format!("{p}: Slurm job {id} ({}) in partition {}", request.job_name(), request.slurm_partition));
                let follower = Follower::new(&request.results_path());
                running.push((index, Tracked { request, id, follower, last_state: String::new(), failures: 0 }));
            }
            Err(message) => finished.push((index, request, String::new(), Err(message))),
        }
    }
    while !running.is_empty() {
        std::thread::sleep(opts.poll);
        let mut still = Vec::new();
        for (index, mut job) in running {
            forward_progress(&mut job, on_event);
            match poll(&mut job, opts, on_event) {
                None => still.push((index, job)),
                Some(end) => {
                    forward_progress(&mut job, on_event);
                    commands::untrack(&job.id);
                    finished.push((index, job.request, job.id, end));
                }
            }
        }
        running = still;
    }
    finished
}

/// Writes the script and submits it: the job id, or sbatch's refusal in its own words.
fn submit(request: &JobRequest) -> std::result::Result<String, String> {
    let script = request.script_path();
    std::fs::write(&script, job::script(request)).map_err(|e| format!("cannot write the job script {}: {e}", script.display()))?;
    // A results file of an earlier run must not pass for this job's.
    let _ = std::fs::remove_file(request.results_path());
    let answer = commands::sbatch(job::sbatch_argv(request)).map_err(|e| error_text(&e))?;
    let refused = |why: String| format!("sbatch refused the job for Slurm partition {}: {why}", request.slurm_partition);
    if !answer.success() {
        let code = answer.code.map_or_else(|| "timed out".to_string(), |c| format!("exit {c}"));
        return Err(refused(format!("{code}: {}", answer.output.trim())));
    }
    let id = job::parse_job_id(&answer.output).ok_or_else(|| refused(format!("no job id in its answer: {}", answer.output.trim())))?;
    commands::track(&id);
    Ok(id)
}

fn error_text(e: &Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => format!("{}: {s}", e.message),
        None => e.message.clone(),
    }
}

/// The job's new event lines, as progress.
fn forward_progress(job: &mut Tracked, on_event: &mut dyn FnMut(SlurmEvent)) {
    for line in job.follower.new_lines() {
        if let Line::Event(e) = results::parse_line(&line) {
            on_event(SlurmEvent::Run(e));
        }
    }
}

/// Asks Slurm once: `None` while the job is active.
fn poll(job: &mut Tracked, opts: &SlurmOptions, on_event: &mut dyn FnMut(SlurmEvent)) -> Option<std::result::Result<JobEnd, String>> {
    let p = job.request.partition.clone();
    let answer = match commands::show_job(&job.id) {
        Ok(a) => a,
        Err(e) => return lost_after(job, opts, error_text(&e)),
    };
    let status = match job::parse_status(&answer.output) {
        Some(s) => s,
        // Purged from slurmctld's memory (MinJobAge) before we saw it end.
        None if job::is_unknown_job(&answer.output) => return Some(Ok(JobEnd::Vanished)),
        None => return lost_after(job, opts, answer.output.trim().to_string()),
    };
    job.failures = 0;
    if status.state != job.last_state {
        let on = if status.nodes.is_empty() || status.nodes == "(null)" { String::new() } else { format!(" on {}", status.nodes) };
        on_event(SlurmEvent::Phase(format!("{p}: job {} {}{on}", job.id, status.state)));
        job.last_state = status.state.clone();
    }
    match status.phase() {
        Phase::Active => None,
        Phase::Ended => Some(Ok(JobEnd::Ended(Box::new(status)))),
        Phase::Aborted => Some(Err(aborted(job, &status))),
    }
}

/// `scontrol` failed: tolerated for a while (a controller restart), then the job counts as lost.
fn lost_after(job: &mut Tracked, opts: &SlurmOptions, why: String) -> Option<std::result::Result<JobEnd, String>> {
    job.failures += 1;
    (job.failures >= opts.max_query_failures)
        .then(|| Err(format!("cannot follow job {}: scontrol failed {} times in a row: {why}", job.id, job.failures)))
}

/// The install job's results, or why there are none.
fn collect(request: &JobRequest, id: &str, end: JobEnd) -> std::result::Result<PartitionResult, String> {
    let path = request.results_path();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    if let Some(report) = results::final_report(&text) {
        if let Some(mut pr) = report.partitions.into_iter().next() {
            pr.partition = request.partition.clone();
            return Ok(pr);
        }
    }
    let ended = match end {
        JobEnd::Ended(s) => format!("ended {} (exit code {}) ", s.state, s.exit_code),
        JobEnd::Vanished => "is no longer known to Slurm and ended ".into(),
    };
    Err(format!("job {id} {ended}without results in {}{}", path.display(), log_tail(request, 5)))
}

/// One kernel's `shared-home` step from the check job's exit codes.
fn shared_home_step(request: &JobRequest, kernel: &str, end: &std::result::Result<JobEnd, String>) -> StepResult {
    let codes = std::fs::read_to_string(request.results_path()).unwrap_or_default();
    let code = codes.lines().filter_map(|l| l.split_once(' ')).find(|(k, _)| *k == kernel).map(|(_, c)| c.trim().to_string());
    let log = std::fs::read_to_string(request.check_log_path(kernel)).unwrap_or_default();
    let outcome = match (code.as_deref(), end) {
        (Some("0"), _) => Outcome::Passed,
        (Some(code), _) => {
            let why = log.lines().find(|l| l.starts_with('✘')).unwrap_or("").trim_start_matches('✘').trim().to_string();
            Outcome::Failed { message: format!("the kernelspec in the shared home does not start on {} (exit {code}): {why}", request.partition) }
        }
        (None, Err(message)) => Outcome::Error { message: message.clone() },
        (None, Ok(_)) => Outcome::Error { message: format!("the check job left no exit code for {kernel} in {}{}", request.results_path().display(), log_tail(request, 3)) },
    };
    StepResult {
        stage: crate::harness::shared_home::STAGE.into(),
        outcome,
        seconds: 0.0,
        command: Some(format!("hpc-kernels check {kernel} --here --prefix {}", request.prefix().display())),
        log,
    }
}

fn log_tail(request: &JobRequest, lines: usize) -> String {
    let log = request.log_path();
    let tail = results::tail(&log, lines);
    if tail.is_empty() { String::new() } else { format!("; its log {} ends:\n{tail}", log.display()) }
}

fn aborted(job: &Tracked, status: &JobStatus) -> String {
    format!("job {} ended {}: {}{}", job.id, status.state, status.abort_reason(), log_tail(&job.request, 3))
}

fn not_run(spec: &Spec, kernel: &str, reason: String) -> KernelResult {
    let display_name = spec.kernels.get(kernel).map(|k| k.display_name.clone()).unwrap_or_default();
    let step = StepResult { stage: "modules".into(), outcome: Outcome::Skipped { reason }, seconds: 0.0, command: None, log: String::new() };
    KernelResult::from_steps(kernel, display_name, vec![step])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_job(dir: &std::path::Path) -> JobRequest {
        JobRequest {
            kind: JobKind::SharedHome { kernels: vec!["torch".into(), "tf".into(), "jax".into()] },
            partition: "romeo".into(),
            slurm_partition: "romeo".into(),
            binary: "/bin/hpc-kernels".into(),
            spec: "/s.json".into(),
            dir: dir.to_path_buf(),
            install_args: Vec::new(),
            sbatch_args: Vec::new(),
        }
    }

    #[test]
    fn shared_home_steps_come_from_the_check_jobs_exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let job = check_job(dir.path());
        std::fs::write(job.results_path(), "torch 0\ntf 1\n").unwrap();
        std::fs::write(job.check_log_path("tf"), "checking tf\n✘ romeo: module load failed: PyTorch/1.13.1\n").unwrap();
        let ended = Ok(JobEnd::Vanished);
        assert_eq!(shared_home_step(&job, "torch", &ended).outcome, Outcome::Passed);
        let tf = shared_home_step(&job, "tf", &ended);
        assert_eq!(
            tf.outcome,
            Outcome::Failed { message: "the kernelspec in the shared home does not start on romeo (exit 1): romeo: module load failed: PyTorch/1.13.1".into() }
        );
        assert_eq!(tf.stage, "shared-home");
        assert!(matches!(shared_home_step(&job, "jax", &ended).outcome, Outcome::Error { .. }));
        let aborted = Err("job 9 ended NODE_FAIL: node i7001 failed".to_string());
        assert_eq!(shared_home_step(&job, "jax", &aborted).outcome, Outcome::Error { message: "job 9 ended NODE_FAIL: node i7001 failed".into() });
    }
}
