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
    /// Check a spec and report every problem with its JSON path.
    Lint(super::lint::LintArgs),
    /// Show the exact steps `install` would run on a partition.
    Plan(PlanArgs),
    /// Install the spec's kernels on this host (an Lmod login node).
    Install(InstallArgs),
    /// Validate every kernel × partition in emulated partitions (Docker): install,
    /// check_libs, test_script and a real kernel launch; matrix, JUnit, snapshots.
    Validate(ValidateArgs),
    /// Build, list and enter the emulated partition images.
    #[command(subcommand)]
    Images(super::images::ImagesCommand),
    /// Certify a module release: validate with the sticky release switched, write
    /// JUnit, JSON, Markdown and HTML reports (and what changed since --against).
    Certify(CertifyArgs),
    /// Reproduce one kernel's failure in its partition's image and keep the container.
    Reproduce(ReproduceArgs),
    /// Work with reports of earlier runs: merge the shards of a validation.
    #[command(subcommand)]
    Report(ReportCommand),
    /// List installed kernels: ours with every partition, spec hash, modules and health; others as foreign.
    List(ListArgs),
    /// Start installed kernels through jupyter_client, once per partition, and run their check_libs imports.
    Check(CheckArgs),
    /// Remove a kernel we installed, or one partition of it (kernelspec and venvs).
    Remove(RemoveArgs),
}

#[derive(Args, Debug)]
pub struct KernelsDirArgs {
    /// Kernels under PREFIX/share/jupyter/kernels instead of the user's Jupyter data dir.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: KernelsDirArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Kernels to check; default: every kernel hpc-kernels installed.
    pub names: Vec<String>,
    #[command(flatten)]
    pub dir: KernelsDirArgs,
    /// Only these partitions of each kernel (comma-separated or repeated);
    /// default: every partition it is installed for.
    #[arg(long = "partition", short, value_delimiter = ',', value_name = "P")]
    pub partitions: Vec<String>,
    /// Only the partition this host is on, which the launcher finds itself
    /// (from the host's domain), as when JupyterHub starts a server here.
    #[arg(long, conflicts_with = "partitions")]
    pub here: bool,
    /// Python with jupyter_client to start kernels with; default: each kernel's venv.
    #[arg(long, value_name = "PYTHON")]
    pub launch_python: Option<PathBuf>,
    /// Seconds to wait for a kernel to answer.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    pub name: String,
    #[command(flatten)]
    pub dir: KernelsDirArgs,
    /// Remove only this partition (and its venv); the kernelspec goes with its
    /// last partition. Default: every partition.
    #[arg(long, short, value_name = "P")]
    pub partition: Option<String>,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
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
    /// One kernelspec per partition (`KERNEL-PARTITION`, display name with the
    /// partition) instead of one kernelspec shared by every partition.
    #[arg(long)]
    pub kernelspec_per_partition: bool,
    /// What makes the venvs and installs the pip groups: pip, or uv (much
    /// faster; falls back to pip with a notice when uv is not on PATH). A site
    /// sets its default with HPC_KERNELS_INSTALLER (e.g. in a module).
    #[arg(long, value_enum, env = "HPC_KERNELS_INSTALLER", default_value_t = InstallerChoice::Pip)]
    pub installer: InstallerChoice,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InstallerChoice {
    Pip,
    Uv,
}

impl From<InstallerChoice> for crate::plan::Installer {
    fn from(c: InstallerChoice) -> Self {
        match c {
            InstallerChoice::Pip => crate::plan::Installer::Pip,
            InstallerChoice::Uv => crate::plan::Installer::Uv,
        }
    }
}

impl InstallerChoice {
    pub fn name(self) -> &'static str {
        match self {
            InstallerChoice::Pip => "pip",
            InstallerChoice::Uv => "uv",
        }
    }
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
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// Stream progress events as JSON lines on stdout, then the results as
    /// the last line (for the validation harness and other tools).
    #[arg(long)]
    pub jsonl: bool,
    /// Timeout for each pip group, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub pip_timeout: u64,
    /// Timeout for every other step (module load, venv, imports, test_script, launch), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub step_timeout: u64,
    /// Timeout for one kind of step, overriding the two above (repeatable):
    /// modules, venv, pip, import, test_script or launch.
    #[arg(long = "timeout", value_name = "KIND=SECS")]
    pub timeouts: Vec<String>,
    /// Python with jupyter_client that starts the kernel for the launch check;
    /// default: the kernel's own venv.
    #[arg(long, value_name = "PYTHON")]
    pub launch_python: Option<PathBuf>,
    /// Install the kernelspec without starting it first (not recommended).
    #[arg(long)]
    pub no_launch_check: bool,
    /// Run every step even when the installed kernel matches the spec, modules
    /// and venv (by default such a kernel is verified and left as it is).
    #[arg(long)]
    pub recheck: bool,
    /// Keep a venv whose pip groups an earlier install of the same plan
    /// completed, unchanged since, and do not rerun pip for it; every check
    /// after pip still runs.
    #[arg(long, conflicts_with = "recheck")]
    pub reuse_venv: bool,
    /// Checks after the pip groups (consistency, imports, test_script, the
    /// launch) running at once; they only read the venv, and a check after
    /// a failed one does not count. Default: the number of CPUs; 1 runs them
    /// one after another.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub check_jobs: Option<u16>,
    /// Download and wheel cache of pip and uv (DIR/pip, DIR/uv); default:
    /// their own user caches (~/.cache/pip, ~/.cache/uv).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The kernel spec (JSON).
    pub spec: PathBuf,
    /// Partitions to validate on (comma-separated or repeated); default: all emulated ones.
    #[arg(long = "partition", short, value_delimiter = ',', value_name = "P")]
    pub partitions: Vec<String>,
    /// Only these kernels (repeatable); default: all.
    #[arg(long = "kernel", short = 'k', value_name = "KERNEL")]
    pub kernels: Vec<String>,
    /// Sticky default release of the partition images, e.g. 24.04 (default 23.10).
    #[arg(long, value_name = "R")]
    pub release: Option<String>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare the generated kernelspecs with the snapshots in DIR.
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,
    /// Write new or changed snapshots instead of failing on them.
    #[arg(long, requires = "snapshots")]
    pub accept: bool,
    /// Print the results as JSON instead of the matrix.
    #[arg(long)]
    pub json: bool,
    /// Cells running at once; default: the number of CPUs + 1.
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Leave failed containers running and print how to enter them.
    #[arg(long)]
    pub keep: bool,
    /// Base the images on this Debian/Ubuntu image instead of a bootstrapped rootfs.
    #[arg(long, value_name = "IMAGE")]
    pub base_image: Option<String>,
    /// Cache for the rootfs and wheels; default: $HPC_KERNELS_CACHE or ~/.cache/hpc-kernels.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Timeout for each pip group inside the containers, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub pip_timeout: u64,
    /// Timeout for every other step inside the containers, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub step_timeout: u64,
    /// Exit 1 when a kernel was skipped on a partition (nothing of it ran),
    /// not only when one failed.
    #[arg(long)]
    pub fail_on_skip: bool,
    /// Run only shard K of N of the kernel × partition matrix (1 ≤ K ≤ N), e.g.
    /// $CI_NODE_INDEX/$CI_NODE_TOTAL; combine the shards with `report merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<crate::shard::Shard>,
    /// What the installs in the containers use: pip, or uv (the PyPI wheel,
    /// fetched into the cache's tools venv and mounted into the containers);
    /// default from HPC_KERNELS_INSTALLER, else pip.
    #[arg(long, value_enum, env = "HPC_KERNELS_INSTALLER", default_value_t = InstallerChoice::Pip)]
    pub installer: InstallerChoice,
    #[command(flatten)]
    pub packages: PackageArgs,
    /// Install every cell's venv afresh. By default, with the index pinned
    /// (--exclude-newer, or --wheels synthetic), a cell whose image, spec,
    /// installer, package options and hpc-kernels binary match an earlier
    /// run's keeps that run's venv (a Docker volume): pip is not rerun, every
    /// check after it is, and the cell says so.
    #[arg(long)]
    pub reinstall: bool,
}

/// Where pip in the cells gets its packages (`validate`, `certify`).
#[derive(Args, Debug, Clone)]
pub struct PackageArgs {
    /// What the cells install from the real index: `budget` (real files up to
    /// --wheel-budget, heavier wheels as stand-ins with their real metadata),
    /// `real` (every file), `metadata` (every wheel a stand-in: resolution
    /// only), `synthetic` (generated wheels, no index, no resolution).
    #[arg(long, value_enum, value_name = "MODE", default_value = "budget")]
    pub wheels: crate::harness::packages::WheelsMode,
    /// The size budget of `--wheels budget`, in MiB per file.
    #[arg(long, value_name = "MIB", default_value_t = 40)]
    pub wheel_budget: u64,
    /// Replay the index from the cache only; anything not recorded there is
    /// an environment error (exit 3) naming its URL.
    #[arg(long)]
    pub offline: bool,
    /// Resolve against the index as it was at DATE (2024-06-30 or an RFC 3339
    /// time): files uploaded later do not exist. Makes a run reproducible.
    #[arg(long, value_name = "DATE", value_parser = parse_exclude_newer)]
    pub exclude_newer: Option<(String, i64)>,
    /// Record the index the spec names FROM from the index TO instead, e.g.
    /// https://download.pytorch.org/whl/cpu=https://pypi.org/simple (repeatable).
    #[arg(long = "index-map", value_name = "FROM=TO", value_parser = parse_index_map)]
    pub index_map: Vec<(String, String)>,
}

impl PackageArgs {
    pub fn options(&self) -> crate::harness::packages::PackageOptions {
        crate::harness::packages::PackageOptions {
            wheels: self.wheels,
            budget: self.wheel_budget.saturating_mul(1024 * 1024),
            offline: self.offline,
            exclude_newer: self.exclude_newer.clone(),
            index_map: self.index_map.clone(),
        }
    }
}

fn parse_exclude_newer(text: &str) -> Result<(String, i64), String> {
    crate::harness::packages::parse_exclude_newer(text)
}

fn parse_index_map(text: &str) -> Result<(String, String), String> {
    crate::plan::IndexMapping::parse_rule(text)
        .filter(|(from, _)| from != "*")
        .ok_or_else(|| format!("{text:?}: expected FROM=TO, two index URLs"))
}

fn parse_shard(text: &str) -> Result<crate::shard::Shard, String> {
    text.parse()
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Merge the JUnit files (or the JSON results) of a run's shards into one
    /// report; prints the merged matrix.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' files: all JUnit XML (--junit) or all JSON results (--json).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the merged JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the merged JSON results here (from JSON inputs only).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The user's kernel spec (JSON).
    #[arg(required_unless_present = "cleanup")]
    pub spec: Option<PathBuf>,
    /// Partition to reproduce on (default: from --from-log).
    #[arg(long, short)]
    pub partition: Option<String>,
    /// Kernel to reproduce (default: from --from-log).
    #[arg(long, short)]
    pub kernel: Option<String>,
    /// Sticky default release of the image, e.g. 24.04.
    #[arg(long, value_name = "R")]
    pub release: Option<String>,
    /// The user's `install --json` (or --jsonl) output: compare its failing step.
    #[arg(long, value_name = "FILE")]
    pub from_log: Option<PathBuf>,
    /// Where to write the replay script (default: reproduce-<partition>-<kernel>.sh).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Cache for the rootfs and wheels.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Remove every container kept by earlier `reproduce` runs.
    #[arg(long, conflicts_with_all = ["partition", "kernel", "from_log"])]
    pub cleanup: bool,
    /// What the installs in the containers use: pip, or uv (the PyPI wheel,
    /// fetched into the cache's tools venv and mounted into the containers);
    /// default from HPC_KERNELS_INSTALLER, else pip.
    #[arg(long, value_enum, env = "HPC_KERNELS_INSTALLER", default_value_t = InstallerChoice::Pip)]
    pub installer: InstallerChoice,
}

#[derive(Args, Debug)]
pub struct CertifyArgs {
    /// The kernel spec (JSON); its release modules are switched to --release.
    pub spec: PathBuf,
    /// The release to certify, e.g. 24.04.
    #[arg(long, value_name = "R")]
    pub release: String,
    /// Compare with this release, e.g. 23.10.
    #[arg(long, value_name = "R")]
    pub against: Option<String>,
    /// Partitions (comma-separated or repeated); default: all emulated ones (with
    /// --slurm: the spec's modules_by_cluster keys).
    #[arg(long = "partition", short, value_delimiter = ',', value_name = "P")]
    pub partitions: Vec<String>,
    /// Only these kernels (repeatable).
    #[arg(long = "kernel", short = 'k', value_name = "KERNEL")]
    pub kernels: Vec<String>,
    /// Directory for junit.xml, results.json, summary.md and report.html.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Cells running at once; default: the number of CPUs + 1.
    #[arg(long, short, conflicts_with = "slurm")]
    pub jobs: Option<usize>,
    /// Cache for the rootfs and wheels.
    #[arg(long, value_name = "DIR", conflicts_with = "slurm")]
    pub cache_dir: Option<PathBuf>,
    /// Exit 1 when a kernel was skipped on a partition (nothing of it ran).
    #[arg(long)]
    pub fail_on_skip: bool,
    /// What the installs in the containers use: pip, or uv (the PyPI wheel,
    /// fetched into the cache's tools venv and mounted into the containers);
    /// default from HPC_KERNELS_INSTALLER, else pip.
    #[arg(long, value_enum, env = "HPC_KERNELS_INSTALLER", default_value_t = InstallerChoice::Pip)]
    pub installer: InstallerChoice,
    #[command(flatten)]
    pub packages: PackageArgs,
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// `certify --slurm`: the real partitions, one Slurm job each.
#[derive(Args, Debug, Clone)]
pub struct SlurmArgs {
    /// Certify on the real partitions: one Slurm job per partition runs
    /// `hpc-kernels install` on a compute node (run this on a login node; --out,
    /// the spec and this binary must be on a file system the nodes share).
    /// Default partitions: the spec's modules_by_cluster keys.
    #[arg(long)]
    pub slurm: bool,
    /// Extra sbatch arguments for every job, e.g. "--account=p_ml --time=02:00:00".
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true, requires = "slurm")]
    pub sbatch_args: Option<String>,
    /// Submit partition P's job to Slurm partition S (repeatable; default: the same name).
    #[arg(long = "slurm-partition", value_name = "P=S", requires = "slurm")]
    pub slurm_partitions: Vec<String>,
    /// Package index for pip groups that name none, passed to each job's install
    /// (with --index-map FROM=TO, also passed on: e.g. a site mirror for compute
    /// nodes without internet).
    #[arg(long, value_name = "URL", requires = "slurm")]
    pub index_url: Option<String>,
    /// Seconds between two `scontrol show job` queries.
    #[arg(long, value_name = "SECS", default_value_t = 5, requires = "slurm")]
    pub poll: u64,
}
