//! One certification job per partition, as text: the batch script, the
//! `sbatch` arguments, and what `sbatch` and `scontrol show job -o` answer.
//! Pure: nothing here runs a process.

use std::path::{Path, PathBuf};

/// What a job does on its node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobKind {
    /// `hpc-kernels install --jsonl` of the spec's kernels.
    Install,
    /// `hpc-kernels check KERNEL --here` of each kernel from the shared
    /// kernelspec, after every partition's install (the `shared-home` stage).
    SharedHome { kernels: Vec<String> },
}

/// Everything one partition's job needs.
#[derive(Clone, Debug)]
pub struct JobRequest {
    pub kind: JobKind,
    /// The hpc-kernels partition (`--partition` of the install).
    pub partition: String,
    /// The Slurm partition the job is submitted to.
    pub slurm_partition: String,
    /// The hpc-kernels binary, on a file system the compute nodes see.
    pub binary: PathBuf,
    /// The spec, on a shared file system.
    pub spec: PathBuf,
    /// Shared directory for the script, the results and Slurm's log.
    pub dir: PathBuf,
    /// Further `hpc-kernels install` arguments (kernels, indexes, timeouts).
    pub install_args: Vec<String>,
    /// The user's `--sbatch-args`, after ours so that they win.
    pub sbatch_args: Vec<String>,
}

impl JobRequest {
    /// File names of this job: `alpha.sh`, `alpha.shared-home.sh` …
    fn stem(&self) -> String {
        match self.kind {
            JobKind::Install => self.partition.clone(),
            JobKind::SharedHome { .. } => format!("{}.shared-home", self.partition),
        }
    }
    pub fn script_path(&self) -> PathBuf {
        self.dir.join(format!("{}.sh", self.stem()))
    }
    /// The install's JSON lines (events, then the results), or one
    /// `KERNEL EXIT-CODE` line per checked kernel.
    pub fn results_path(&self) -> PathBuf {
        match self.kind {
            JobKind::Install => self.dir.join(format!("{}.jsonl", self.stem())),
            JobKind::SharedHome { .. } => self.dir.join(format!("{}.codes", self.stem())),
        }
    }
    /// The job's stderr and Slurm's own messages (time limit, cancellation).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.stem()))
    }
    /// What `check` printed for one kernel.
    pub fn check_log_path(&self, kernel: &str) -> PathBuf {
        self.dir.join(format!("{}.{kernel}.log", self.stem()))
    }
    /// Venvs and kernelspecs of the certification, apart from the user's own.
    pub fn workspace(&self) -> PathBuf {
        self.dir.join("workspace")
    }
    pub fn prefix(&self) -> PathBuf {
        self.dir.join("prefix")
    }
    pub fn job_name(&self) -> String {
        match self.kind {
            JobKind::Install => format!("hpc-kernels-certify-{}", self.partition),
            JobKind::SharedHome { .. } => format!("hpc-kernels-shared-home-{}", self.partition),
        }
    }
}

fn quote(text: &str) -> String {
    shlex::try_quote(text).map(|q| q.into_owned()).unwrap_or_else(|_| format!("'{}'", text.replace(['\0', '\''], "")))
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The `hpc-kernels install` command the job runs.
pub fn install_argv(job: &JobRequest) -> Vec<String> {
    let mut argv = vec![
        path_text(&job.binary),
        "install".into(),
        path_text(&job.spec),
        "--partition".into(),
        job.partition.clone(),
        "--jsonl".into(),
        "--workspace".into(),
        path_text(&job.workspace()),
        "--prefix".into(),
        path_text(&job.prefix()),
    ];
    argv.extend(job.install_args.iter().cloned());
    argv
}

/// The batch script: a login shell (as a user's job has: Lmod initialised
/// by the site's profile), the install's JSON lines into the results file.
pub fn script(job: &JobRequest) -> String {
    if let JobKind::SharedHome { kernels } = &job.kind {
        return shared_home_script(job, kernels);
    }
    let command: Vec<String> = install_argv(job).iter().map(|a| quote(a)).collect();
    format!(
        "#!/bin/bash -l\n\
         # Written by `hpc-kernels certify --slurm`: certifies partition {partition} on a compute node.\n\
         # stdout: the install's events and results as JSON lines; stderr: Slurm's output file.\n\
         exec {} > {}\n",
        command.join(" "),
        quote(&path_text(&job.results_path())),
        partition = job.partition,
    )
}

/// Starts each kernel from the one kernelspec every partition installed
/// into, on this partition's node (found from the node's domain, `--here`).
fn shared_home_script(job: &JobRequest, kernels: &[String]) -> String {
    let mut text = format!(
        "#!/bin/bash -l\n\
         # Written by `hpc-kernels certify --slurm`: starts the shared kernelspecs on a compute node of {}.\n",
        job.partition
    );
    let codes = quote(&path_text(&job.results_path()));
    for kernel in kernels {
        let argv = [path_text(&job.binary), "check".into(), kernel.clone(), "--here".into(), "--prefix".into(), path_text(&job.prefix())];
        let command: Vec<String> = argv.iter().map(|a| quote(a)).collect();
        text.push_str(&format!(
            "{} > {} 2>&1\necho {} $? >> {codes}\n",
            command.join(" "),
            quote(&path_text(&job.check_log_path(kernel))),
            quote(kernel)
        ));
    }
    text
}

/// `sbatch` arguments: ours first, the user's after them (the last one wins).
pub fn sbatch_argv(job: &JobRequest) -> Vec<String> {
    let mut argv = vec![
        "--parsable".into(),
        // The job starts from the user's login environment on the node, not
        // from the submitting shell's (loaded modules must not leak in).
        "--export=NONE".into(),
        // A node failure is reported, not retried behind the user's back.
        "--no-requeue".into(),
        format!("--job-name={}", job.job_name()),
        format!("--partition={}", job.slurm_partition),
        "--nodes=1".into(),
        "--ntasks=1".into(),
        format!("--chdir={}", path_text(&job.dir)),
        format!("--output={}", path_text(&job.log_path())),
    ];
    argv.extend(job.sbatch_args.iter().cloned());
    argv.push(path_text(&job.script_path()));
    argv
}

/// The job id from `sbatch --parsable` (`12345` or `12345;cluster`).
pub fn parse_job_id(output: &str) -> Option<String> {
    output.lines().rev().map(str::trim).find_map(|line| {
        let id = line.split(';').next().unwrap_or("");
        (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
    })
}

/// Where a job is, as far as certification cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a node, starting, running or cleaning up.
    Active,
    /// The batch script ended by itself (`COMPLETED` or `FAILED`): its results decide.
    Ended,
    /// Slurm ended it (node failure, time limit, cancellation …): an error of the partition.
    Aborted,
}

/// The fields of `scontrol show job -o` that certification reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub state: String,
    pub reason: String,
    pub nodes: String,
    pub exit_code: String,
    pub time_limit: String,
    pub run_time: String,
}

impl JobStatus {
    pub fn phase(&self) -> Phase {
        match self.state.as_str() {
            "COMPLETED" | "FAILED" => Phase::Ended,
            "NODE_FAIL" | "TIMEOUT" | "CANCELLED" | "BOOT_FAIL" | "DEADLINE" | "OUT_OF_MEMORY" | "PREEMPTED"
            | "REVOKED" | "SPECIAL_EXIT" => Phase::Aborted,
            _ => Phase::Active,
        }
    }

    /// Why Slurm ended the job, in words, for the partition's error.
    pub fn abort_reason(&self) -> String {
        let known = !(self.nodes.is_empty() || self.nodes == "(null)");
        let on = if known { format!(" on {}", self.nodes) } else { String::new() };
        let node = if known { format!("node {}", self.nodes) } else { "its node".to_string() };
        let what = match self.state.as_str() {
            "NODE_FAIL" => format!("{node} failed (stopped responding to slurmctld)"),
            "TIMEOUT" => format!("it exceeded its time limit of {}{on}", self.time_limit),
            "CANCELLED" => format!("it was cancelled{on}"),
            "BOOT_FAIL" => format!("{node} failed to boot"),
            "DEADLINE" => "it reached its deadline".into(),
            "OUT_OF_MEMORY" => format!("it ran out of memory{on}"),
            "PREEMPTED" => format!("it was preempted{on}"),
            other => format!("it ended in state {other}{on}"),
        };
        let reason = if self.reason.is_empty() || self.reason == "None" { String::new() } else { format!(" (Reason={})", self.reason) };
        format!("{what}{reason}")
    }
}

/// Reads `scontrol show job -o` output; `None` when it names no job state.
pub fn parse_status(output: &str) -> Option<JobStatus> {
    let line = output.lines().find(|l| l.contains("JobState="))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|token| token.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    Some(JobStatus {
        state: field("JobState"),
        reason: field("Reason"),
        nodes: field("NodeList"),
        exit_code: field("ExitCode"),
        time_limit: field("TimeLimit"),
        run_time: field("RunTime"),
    })
}

/// `scontrol` no longer knows the job (purged after `MinJobAge`).
pub fn is_unknown_job(output: &str) -> bool {
    output.contains("Invalid job id specified")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn request() -> JobRequest {
        JobRequest {
            kind: JobKind::Install,
            partition: "alpha".into(),
            slurm_partition: "gpu".into(),
            binary: "/home/u/bin/hpc-kernels".into(),
            spec: "/home/u/out/spec.release-24.04.json".into(),
            dir: "/home/u/out/slurm/release-24.04".into(),
            install_args: vec!["--kernel".into(), "torch".into(), "--index-map".into(), "*=file:///a b/simple".into()],
            sbatch_args: vec!["--account=p_ml".into(), "--time=01:00:00".into()],
        }
    }

    #[test]
    fn script_runs_the_install_in_a_login_shell_into_the_results_file() {
        insta::assert_snapshot!(script(&request()), @r#"
        #!/bin/bash -l
        # Written by `hpc-kernels certify --slurm`: certifies partition alpha on a compute node.
        # stdout: the install's events and results as JSON lines; stderr: Slurm's output file.
        exec /home/u/bin/hpc-kernels install /home/u/out/spec.release-24.04.json --partition alpha --jsonl --workspace /home/u/out/slurm/release-24.04/workspace --prefix /home/u/out/slurm/release-24.04/prefix --kernel torch --index-map '*=file:///a b/simple' > /home/u/out/slurm/release-24.04/alpha.jsonl
        "#);
    }

    #[test]
    fn shared_home_script_checks_each_kernel_and_records_its_exit_code() {
        let job = JobRequest { kind: JobKind::SharedHome { kernels: vec!["torch".into(), "tf".into()] }, ..request() };
        insta::assert_snapshot!(script(&job), @r#"
        #!/bin/bash -l
        # Written by `hpc-kernels certify --slurm`: starts the shared kernelspecs on a compute node of alpha.
        /home/u/bin/hpc-kernels check torch --here --prefix /home/u/out/slurm/release-24.04/prefix > /home/u/out/slurm/release-24.04/alpha.shared-home.torch.log 2>&1
        echo torch $? >> /home/u/out/slurm/release-24.04/alpha.shared-home.codes
        /home/u/bin/hpc-kernels check tf --here --prefix /home/u/out/slurm/release-24.04/prefix > /home/u/out/slurm/release-24.04/alpha.shared-home.tf.log 2>&1
        echo tf $? >> /home/u/out/slurm/release-24.04/alpha.shared-home.codes
        "#);
        assert_eq!(job.job_name(), "hpc-kernels-shared-home-alpha");
    }

    #[test]
    fn sbatch_arguments_put_the_users_last_and_the_script_at_the_end() {
        let argv = sbatch_argv(&request());
        assert_eq!(&argv[..3], ["--parsable", "--export=NONE", "--no-requeue"]);
        assert!(argv.contains(&"--partition=gpu".to_string()));
        assert!(argv.contains(&"--output=/home/u/out/slurm/release-24.04/alpha.log".to_string()));
        let n = argv.len();
        assert_eq!(&argv[n - 3..], ["--account=p_ml", "--time=01:00:00", "/home/u/out/slurm/release-24.04/alpha.sh"]);
    }

    #[rstest]
    #[case("42\n", Some("42"))]
    #[case("42;taurus\n", Some("42"))]
    #[case("sbatch: warning: something odd\n4711\n", Some("4711"))]
    #[case("sbatch: error: Batch job submission failed: Invalid partition name specified\n", None)]
    #[case("", None)]
    fn job_ids(#[case] output: &str, #[case] id: Option<&str>) {
        assert_eq!(parse_job_id(output).as_deref(), id);
    }

    const RUNNING: &str = "JobId=7 JobName=hpc-kernels-certify-alpha UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=1 Nice=0 Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:00:12 TimeLimit=UNLIMITED TimeMin=N/A Partition=alpha AllocNode:Sid=slurmctld:88 NodeList=login1 BatchHost=login1 Command=/shared/out/alpha.sh WorkDir=/shared/out StdOut=/shared/out/alpha.log\n";

    #[test]
    fn status_fields_are_read_from_the_one_line_form() {
        let s = parse_status(RUNNING).expect("a job line");
        assert_eq!(s.state, "RUNNING");
        assert_eq!(s.nodes, "login1");
        assert_eq!(s.exit_code, "0:0");
        assert_eq!(s.time_limit, "UNLIMITED");
        assert_eq!(s.phase(), Phase::Active);
        assert_eq!(parse_status("slurm_load_jobs error: Invalid job id specified\n"), None);
        assert!(is_unknown_job("slurm_load_jobs error: Invalid job id specified\n"));
    }

    #[rstest]
    #[case("PENDING", "Resources", Phase::Active, "")]
    #[case("COMPLETING", "None", Phase::Active, "")]
    #[case("COMPLETED", "None", Phase::Ended, "")]
    #[case("FAILED", "NonZeroExitCode", Phase::Ended, "")]
    #[case("NODE_FAIL", "NodeDown", Phase::Aborted, "node n1001 failed (stopped responding to slurmctld) (Reason=NodeDown)")]
    #[case("TIMEOUT", "TimeLimit", Phase::Aborted, "it exceeded its time limit of 00:01:00 on n1001 (Reason=TimeLimit)")]
    #[case("CANCELLED", "None", Phase::Aborted, "it was cancelled on n1001")]
    fn phases_and_reasons(#[case] state: &str, #[case] reason: &str, #[case] phase: Phase, #[case] words: &str) {
        let s = JobStatus {
            state: state.into(),
            reason: reason.into(),
            nodes: "n1001".into(),
            exit_code: "0:0".into(),
            time_limit: "00:01:00".into(),
            run_time: "00:01:03".into(),
        };
        assert_eq!(s.phase(), phase);
        if phase == Phase::Aborted {
            assert_eq!(s.abort_reason(), words);
        }
    }
}
