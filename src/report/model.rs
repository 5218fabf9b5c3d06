//! The results model: one structured record of a run. Every output (terminal
//! matrix, JUnit, JSON, snapshots) is a view of it.

use serde::{Deserialize, Serialize};

/// How a stage ended. `Failed` is the spec's or the software's fault,
/// `Error` a fault of the tool or harness, `Skipped` a stage that did not run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed { message: String },
    TimedOut { message: String, after_secs: u64 },
    Error { message: String },
    Skipped { reason: String },
}

impl Outcome {
    pub fn is_passed(&self) -> bool {
        matches!(self, Outcome::Passed)
    }
    pub fn is_problem(&self) -> bool {
        matches!(self, Outcome::Failed { .. } | Outcome::TimedOut { .. } | Outcome::Error { .. })
    }
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::TimedOut { .. } => "timed out",
            Outcome::Error { .. } => "error",
            Outcome::Skipped { .. } => "skipped",
        }
    }
}

/// One stage of one kernel on one partition. `stage` is the JUnit case name:
/// `modules`, `venv`, `pip:<group>`, `import:<lib>`, `test_script`, `kernelspec`, `launch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub stage: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Wall time in seconds.
    pub seconds: f64,
    /// The command as a user could type it, when the stage ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Captured output of the stage (stdout and stderr interleaved).
    #[serde(default)]
    pub log: String,
}

/// The generated kernelspec files, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelspecFiles {
    pub kernel_json: String,
    pub launcher: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelResult {
    pub kernel: String,
    pub display_name: String,
    pub steps: Vec<StepResult>,
    /// Where the kernelspec was installed, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernelspec_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venv: Option<String>,
    /// Modules loaded for this kernel, as `module -t list` reports them.
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernelspec: Option<KernelspecFiles>,
    /// Lmod's bash init script the install used, so a later shell in the
    /// same place (`reproduce`) initialises the same Lmod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lmod_init: Option<String>,
    /// What this cell's verdict rests on besides the real thing (stand-ins,
    /// emulated interpreters), for every report view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl KernelResult {
    /// A kernel of which only `steps` are known: no venv, modules, kernelspec or notes.
    pub fn from_steps(kernel: &str, display_name: String, steps: Vec<StepResult>) -> KernelResult {
        KernelResult {
            kernel: kernel.to_string(),
            display_name,
            steps,
            kernelspec_dir: None,
            venv: None,
            modules: Vec::new(),
            kernelspec: None,
            lmod_init: None,
            notes: Vec::new(),
        }
    }

    /// The first stage that failed, timed out or errored.
    pub fn first_problem(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.outcome.is_problem())
    }
    /// No stage had a problem and at least one stage really ran and passed.
    pub fn passed(&self) -> bool {
        self.first_problem().is_none() && self.steps.iter().any(|s| s.outcome.is_passed())
    }
    /// No stage had a problem, and none ran either: nothing was proven.
    pub fn skipped(&self) -> bool {
        self.first_problem().is_none() && !self.steps.iter().any(|s| s.outcome.is_passed())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartitionResult {
    pub partition: String,
    pub kernels: Vec<KernelResult>,
    /// A fault that stopped the whole partition (image missing, container failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything one `install` or `validate` run found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub tool_version: String,
    pub spec_file: String,
    pub spec_sha256: String,
    pub partitions: Vec<PartitionResult>,
    /// Facts a reader needs to trust the result: index mappings applied,
    /// packages served as emulated wheels, release substitutions.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl RunReport {
    /// No partition fault and no kernel with a failed, timed-out or errored
    /// stage. Skipped kernels do not count against it: see `skipped_kernels`.
    pub fn no_problems(&self) -> bool {
        self.partitions
            .iter()
            .all(|p| p.error.is_none() && p.kernels.iter().all(|k| k.first_problem().is_none()))
    }
    /// Kernels on partitions where not a single stage ran.
    pub fn skipped_kernels(&self) -> usize {
        self.partitions.iter().flat_map(|p| &p.kernels).filter(|k| k.skipped()).count()
    }
    /// The exit code this report earns: 1 for any problem, and for skipped
    /// kernels when the caller asked for every kernel to run (`--fail-on-skip`).
    pub fn exit_code(&self, fail_on_skip: bool) -> crate::ExitCode {
        if !self.no_problems() || (fail_on_skip && self.skipped_kernels() > 0) {
            crate::ExitCode::CheckFailed
        } else {
            crate::ExitCode::Success
        }
    }
}

/// Progress events, emitted as work happens; reporters consume them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    KernelStarted { partition: String, kernel: String, stages: usize },
    StepStarted { partition: String, kernel: String, stage: String },
    StepFinished { partition: String, kernel: String, result: StepResult },
    KernelFinished {
        partition: String,
        kernel: String,
        passed: bool,
        /// Nothing ran (every stage skipped); `passed` is false then too.
        #[serde(default)]
        skipped: bool,
    },
}
