//! Argument definitions (clap derive). No I/O here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "hpc-kernels", version, about = "Install, verify and validate Lmod-backed Jupyter kernels", max_term_width = 100)]
pub struct Cli {
    /// When to use colours.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the exact steps `install` would run on a partition.
    Plan(PlanArgs),
    /// Install the spec's kernels on this host (an Lmod login node).
    Install(InstallArgs),
    /// Check a spec and report every problem with its JSON path.
    Lint(super::lint::LintArgs),
}

/// Where things go and which kernels: shared by `plan` and `install`.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The kernel spec (JSON).
    pub spec: PathBuf,
    /// Partition to install for; default: detected from the host's domain
    /// (`<partition>.hpc.tu-dresden.de`).
    #[arg(long, short)]
    pub partition: Option<String>,
    /// Only these kernels (repeatable); default: all.
    #[arg(long = "kernel", short = 'k', value_name = "KERNEL")]
    pub kernels: Vec<String>,
    /// Root of the venvs; default: $HPC_KERNELS_WORKSPACE or ~/.local/share/hpc-kernels.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Install kernelspecs into PREFIX/share/jupyter/kernels.
    #[arg(long, value_name = "PREFIX", conflicts_with = "user")]
    pub prefix: Option<PathBuf>,
    /// Install kernelspecs into the user's Jupyter data dir (the default).
    #[arg(long)]
    pub user: bool,
    /// Python that creates the venvs, looked up after the modules are loaded.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Package index for pip groups that name none (e.g. a site mirror).
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Rewrite an index a spec names: FROM=TO, or *=TO for all (repeatable).
    #[arg(long = "index-map", value_name = "FROM=TO")]
    pub index_map: Vec<String>,
    /// Command to put in front of the kernel's python, e.g. "flux start" or "srun".
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    pub argv_prefix: Option<String>,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the plan as JSON.
    #[arg(long, conflicts_with = "script")]
    pub json: bool,
    /// Print the plan as a bash script to run by hand.
    #[arg(long)]
    pub script: bool,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the results as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Timeout for each pip group, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub pip_timeout: u64,
    /// Timeout for every other step (module load, venv, imports, test_script, launch), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub step_timeout: u64,
    /// Python with jupyter_client that starts the kernel for the launch check;
    /// default: the kernel's own venv.
    #[arg(long, value_name = "PYTHON")]
    pub launch_python: Option<PathBuf>,
    /// Install the kernelspec without starting it first (not recommended).
    #[arg(long)]
    pub no_launch_check: bool,
}
