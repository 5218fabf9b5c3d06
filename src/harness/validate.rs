//! The validation matrix: every kernel × partition installed, checked and
//! launched in its own container of the partition's image, in parallel.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::container::{Container, ContainerSpec, Reaper};
use super::shared_home::{self, SharedHome};
use super::images::{self, BuildOptions};
use super::packages::{CellPackages, PackageOptions, Packages};
use super::venv_cache::{self, CellVenv, VenvCache};
use super::wheelhouse::Wheelhouse;
use crate::error::{Error, Result};
use crate::shard::{self, Shard};
use crate::report::{KernelResult, Outcome, PartitionResult, RunEvent, RunReport, StepResult};
use crate::plan::Installer;
use crate::spec::Spec;

/// Where the harness puts things inside a container.
pub(super) const BIN_IN_CONTAINER: &str = "/opt/hpc-kernels/bin/hpc-kernels";
/// pip's and uv's download cache, shared by every container and run (writable).
const CACHE_IN_CONTAINER: &str = "/opt/hpc-kernels/cache";
const SPEC_DIR_IN_CONTAINER: &str = "/opt/hpc-kernels/spec";
/// The Jupyter client side of the launch check: Debian's python3-jupyter-client,
/// a different interpreter from the kernel's, as with a real Jupyter server.
pub(super) const SERVER_PYTHON: &str = "/usr/bin/python3";
/// Label that ties containers to one validate run, for cleanup on interrupt.
pub const RUN_LABEL: &str = "org.hpc-kernels.run";

#[derive(Clone, Debug)]
pub struct ValidateOptions {
    pub partitions: Vec<String>,
    pub kernels: Vec<String>,
    pub release: Option<String>,
    pub jobs: usize,
    pub keep: bool,
    pub cache_dir: PathBuf,
    pub base_image: Option<String>,
    pub pip_timeout: u64,
    pub step_timeout: u64,
    /// The hpc-kernels binary copied into the containers (this one, normally).
    pub binary: PathBuf,
    /// Identifies this run's containers.
    pub run_id: String,
    /// Run only this slice of the kernel × partition matrix.
    pub shard: Option<Shard>,
    /// What the installs in the containers use (uv is mounted into them).
    pub installer: Installer,
    /// Where pip in the cells gets packages.
    pub packages: PackageOptions,
    /// Install every venv afresh, never from an earlier run's (see `venv_cache`).
    pub reinstall: bool,
}

/// What the harness tells the person watching.
pub enum HarnessEvent {
    Phase(String),
    Image(images::ImageEvent),
    Run(RunEvent),
    Kept { partition: String, kernel: String, command: String },
}

#[derive(Clone)]
struct Job {
    partition: String,
    kernel: String,
    image: String,
    /// The cell's name in the package index's log.
    cell: String,
    packages: CellPackages,
    /// The cell's venv volume and where it is mounted, when kept between runs.
    venv_volume: Option<(String, String)>,
    /// The modules the kernel loads on the partition.
    modules: Vec<String>,
}

pub fn validate(
    spec_path: &Path,
    spec: &Spec,
    opts: &ValidateOptions,
    on_event: &mut dyn FnMut(HarnessEvent),
) -> Result<RunReport> {
    check_partitions(&opts.partitions)?;
    let kernels: Vec<String> = spec
        .kernels
        .keys()
        .filter(|k| opts.kernels.is_empty() || opts.kernels.contains(k))
        .cloned()
        .collect();

    let cells = shard::select(opts.shard, &opts.partitions, &kernels);
    let in_run = |p: &str, k: &str| cells.iter().any(|(cp, ck)| cp == p && ck == k);
    let partitions: Vec<String> =
        opts.partitions.iter().filter(|p| opts.shard.is_none() || cells.iter().any(|(cp, _)| cp == *p)).cloned().collect();
    if partitions.is_empty() && opts.shard.is_some() {
        on_event(HarnessEvent::Phase("this shard has no kernel × partition cells".into()));
        return Ok(RunReport {
            tool_version: crate::VERSION.to_string(),
            spec_file: spec_path.display().to_string(),
            spec_sha256: spec.source_sha256.clone(),
            partitions: Vec::new(),
            notes: Vec::new(),
        });
    }
    let built = build_images(&ValidateOptions { partitions: partitions.clone(), ..opts.clone() }, on_event)?;
    on_event(HarnessEvent::Phase("preparing the package index".into()));
    let packages = Packages::prepare(spec, &opts.packages, &opts.cache_dir, &opts.run_id, &mut |msg| {
        on_event(HarnessEvent::Phase(msg.to_string()))
    })?;
    let mut mounts = Mounts::new(opts.binary.clone(), spec_path)?;
    let tagged: Vec<super::rootfs::Image> = built.iter().map(|b| (b.tag.clone(), b.id.clone())).collect();
    let run_labels = [(RUN_LABEL.to_string(), opts.run_id.clone())];
    let (rootfs, rootfs_note) =
        super::rootfs::prepare(&tagged, opts.jobs, &run_labels, &mut |msg| on_event(HarnessEvent::Phase(msg.to_string())))?;
    mounts.rootfs = rootfs;
    let installer_note = mounts.add_installer(opts, on_event)?;
    let home = SharedHome::create(&opts.run_id)?;
    mounts.home_volume = Some(home.volume.clone());
    let (venv_cache, venv_note) = open_venv_cache(opts, &installer_note, &packages);
    // Claims are held until the shared-home check is done with the volumes.
    let mut claims: Vec<Option<CellVenv>> = Vec::new();

    let mut results: Vec<PartitionResult> = Vec::new();
    let mut jobs = Vec::new();
    for p in &partitions {
        let kernels: Vec<String> = kernels.iter().filter(|k| in_run(p, k)).cloned().collect();
        let image = built.iter().find(|b| &b.partition == p).map(|b| b.tag.clone());
        let mut pr = PartitionResult { partition: p.clone(), kernels: Vec::new(), error: None };
        match (image, spec.modules_by_cluster.contains_key(p)) {
            (None, _) => pr.error = Some(format!("no image was built for partition {p}")),
            (Some(_), false) => {
                pr.kernels = kernels
                    .iter()
                    .map(|k| not_run(spec, k, format!("the spec's modules_by_cluster has no entry for {p}")))
                    .collect();
            }
            (Some(image), true) => {
                for k in &kernels {
                    // The same in every run: the cell's index URLs, and so its venv's path, stay put.
                    let cell = format!("{p}.{k}");
                    let claim = venv_cache.as_ref().and_then(|c| c.claim(&image, &spec.source_sha256, p, k));
                    let venv_volume = claim.as_ref().map(|c| (c.volume.clone(), c.mount_point.clone()));
                    claims.push(claim);
                    let packages = packages.for_cell(&cell);
                    let modules = crate::plan::kernel_modules(spec, p, k);
                    jobs.push(Job { partition: p.clone(), kernel: k.clone(), image: image.clone(), packages, cell, venv_volume, modules });
                }
            }
        }
        results.push(pr);
    }

    let labels = vec![(RUN_LABEL.to_string(), opts.run_id.clone())];
    mounts.venv_volumes = jobs.iter().filter_map(|j| j.venv_volume.clone()).collect();
    on_event(HarnessEvent::Phase(format!("running {} kernel × partition installs", jobs.len())));
    // The cells running at once.
    let first_wave = jobs.len().min(opts.jobs.max(1));
    // They already fill the CPUs: each runs its checks on its share.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let check_jobs = (cpus / first_wave.max(1)).max(1);
    let reaper = Reaper::default();
    let ctx = RunContext { opts: opts.clone(), mounts: mounts.clone(), check_jobs, reaper: &reaper };
    // The shared-home check containers start once the first cells have theirs, not competing with them.
    let (mut started, mut standby) = (0, None);
    let outcomes = crate::pool::run_all(
        jobs.clone(),
        opts.jobs,
        |job, tx| ctx.run_job(job, tx),
        |msg| match msg {
            Message::Event(e) => {
                if matches!(e, RunEvent::KernelStarted { .. }) {
                    started += 1;
                    if started == first_wave {
                        let cells = jobs.iter().map(|j| (j.partition.clone(), j.kernel.clone(), j.image.clone())).collect();
                        standby = Some(shared_home::Standby::start(cells, &mounts, &labels));
                    }
                }
                on_event(HarnessEvent::Run(e))
            }
            Message::Kept { partition, kernel, command } => on_event(HarnessEvent::Kept { partition, kernel, command }),
        },
    );
    // Every planned cell appears in the report, in spec order, whatever
    // happened to the worker that ran it.
    for ((job, outcome), claim) in jobs.iter().zip(outcomes).zip(&claims) {
        let mut result = outcome.unwrap_or_else(|panic| {
            harness_error(&job.kernel, format!("the harness worker for this cell panicked: {panic}"))
        });
        let emulated = built.iter().find(|b| b.partition == job.partition).map(|b| &b.emulated_packages);
        let (presented_for, package_notes) = match claim {
            Some(claim) => claim.settle(&result, &opts.run_id, packages.presented_for(&job.cell), packages.cell_notes(&job.cell)),
            None => (packages.presented_for(&job.cell), packages.cell_notes(&job.cell)),
        };
        result.notes.extend(super::emulation::cell_notes(
            &result.modules,
            emulated.unwrap_or(&Default::default()),
            presented_for.as_deref(),
        ));
        result.notes.extend(package_notes);
        if let Some(pr) = results.iter_mut().find(|pr| pr.partition == job.partition) {
            pr.kernels.push(result);
        }
    }
    let images: Vec<(String, String)> = built.iter().map(|b| (b.partition.clone(), b.tag.clone())).collect();
    let checks = shared_home::CheckRun { images: &images, mounts: &mounts, labels: &labels, jobs: opts.jobs, reaper: &reaper };
    shared_home::check_every_partition(&mut results, &checks, standby.unwrap_or_default(), on_event);
    reaper.finish();
    let failures = packages.failures();
    let mut notes = packages.notes();
    // The run's index and network go while its home volume does.
    std::thread::scope(|s| {
        s.spawn(move || drop(packages));
        drop(home);
    });
    drop(claims);

    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(10).map(String::as_str).collect();
        let more = failures.len().saturating_sub(shown.len());
        let more = if more > 0 { format!("\n  … and {more} more") } else { String::new() };
        let hint = if opts.packages.offline {
            "run once without --offline (with the same --exclude-newer) to record what is missing"
        } else {
            "check that this host reaches the index (pip download works here); map an unreachable index with --index-map FROM=TO"
        };
        return Err(Error::environment(format!(
            "the package index could not serve {} request(s) of the cells, so their pip verdicts are not the index's:\n  {}{more}",
            failures.len(),
            shown.join("\n  ")
        ))
        .with_hint(hint));
    }
    if let Some(r) = &opts.release {
        notes.push(format!("sticky default release of the images: release/{r}"));
    }
    notes.push(installer_note);
    notes.push(venv_note);
    notes.extend(rootfs_note);
    Ok(RunReport {
        tool_version: crate::VERSION.to_string(),
        spec_file: spec_path.display().to_string(),
        spec_sha256: spec.source_sha256.clone(),
        partitions: results,
        notes,
    })
}

/// The run's venv cache, unless the options rule it out, and the run's note on it.
fn open_venv_cache(opts: &ValidateOptions, installer_note: &str, packages: &Packages) -> (Option<VenvCache>, String) {
    if let Some(why) = venv_cache::disabled_because(&opts.packages, opts.reinstall) {
        return (None, format!("venvs: every cell installed afresh ({why})"));
    }
    if !packages.stable_urls() {
        let why = format!("port {} of the run's gateway was taken, so the cells' index URLs are new", super::index::PREFERRED_PORT);
        return (None, format!("venvs: every cell installed afresh ({why})"));
    }
    match VenvCache::open(&opts.cache_dir, &opts.binary, installer_note, &opts.packages) {
        Ok(cache) => (
            Some(cache),
            "venvs: kept between runs in Docker volumes, one per cell and inputs; a cell whose inputs an earlier run \
             installed says so and reruns every check but pip (--reinstall installs afresh)"
                .into(),
        ),
        Err(e) => (None, format!("venvs: every cell installed afresh (the venv cache cannot be used: {})", e.message)),
    }
}

/// Every name must be an emulated partition.
pub fn check_partitions(partitions: &[String]) -> Result<()> {
    let known = images::known_partitions();
    match partitions.iter().find(|p| !known.contains(p)) {
        Some(p) => Err(Error::usage(format!("--partition {p}: no emulated partition of that name"))
            .with_hint(format!("emulated partitions: {}", known.join(", ")))),
        None => Ok(()),
    }
}

/// Builds (or finds cached) the partition images.
pub fn build_images(opts: &ValidateOptions, on_event: &mut dyn FnMut(HarnessEvent)) -> Result<Vec<images::BuiltImage>> {
    on_event(HarnessEvent::Phase("building partition images".into()));
    let build = BuildOptions {
        partitions: opts.partitions.clone(),
        releases: opts.release.iter().cloned().collect(),
        base_image: opts.base_image.clone(),
        cache_dir: opts.cache_dir.clone(),
    };
    images::build(&build, &mut |e| on_event(HarnessEvent::Image(e)))
}

/// Builds (or finds cached) the partition images and the generated wheelhouse.
pub fn prepare(
    spec: &Spec,
    opts: &ValidateOptions,
    on_event: &mut dyn FnMut(HarnessEvent),
) -> Result<(Vec<images::BuiltImage>, Wheelhouse)> {
    let built = build_images(opts, on_event)?;
    on_event(HarnessEvent::Phase("preparing the wheelhouse".into()));
    let wheelhouse = Wheelhouse::prepare(spec, &opts.cache_dir, &mut |msg| on_event(HarnessEvent::Phase(msg.to_string())))?;
    Ok((built, wheelhouse))
}

enum Message {
    Event(RunEvent),
    Kept { partition: String, kernel: String, command: String },
}

struct RunContext<'a> {
    opts: ValidateOptions,
    mounts: Mounts,
    /// Each cell's share of the CPUs for its checks.
    check_jobs: usize,
    /// Removes the cells' containers while the run goes on.
    reaper: &'a Reaper,
}

impl RunContext<'_> {
    fn run_job(&self, job: &Job, tx: &mpsc::Sender<Message>) -> KernelResult {
        let labels = vec![(RUN_LABEL.to_string(), self.opts.run_id.clone())];
        let target = KernelTarget {
            partition: &job.partition,
            kernel: &job.kernel,
            image: &job.image,
            venv_volume: job.venv_volume.as_ref(),
            modules: &job.modules,
            check_jobs: Some(self.check_jobs),
        };
        let timeouts = (self.opts.pip_timeout, self.opts.step_timeout);
        let (container, result) = run_kernel(&target, &self.mounts, &job.packages, timeouts, labels, &mut |e| {
            let _ = tx.send(Message::Event(e));
        });
        match container {
            Some(mut container) if self.opts.keep && !result.passed() => {
                let command = container.keep();
                let _ = tx.send(Message::Kept { partition: job.partition.clone(), kernel: job.kernel.clone(), command });
            }
            Some(container) => self.reaper.remove(container),
            None => {}
        }
        result
    }
}

/// What every kernel container gets mounted, read-only.
#[derive(Clone, Debug)]
pub struct Mounts {
    /// The hpc-kernels binary to run inside (this one, normally).
    pub binary: PathBuf,
    /// The directory holding the spec, and the spec's file name.
    pub spec_dir: PathBuf,
    pub spec_name: String,
    /// The run's shared home volume, mounted writable (see `shared_home`).
    pub home_volume: Option<String>,
    /// uv, mounted beside the binary: installs use `--installer uv`.
    pub uv: Option<PathBuf>,
    /// pip's and uv's download cache on the host, mounted writable into
    /// cells that install from a mounted wheelhouse (not the proxy's).
    pub install_cache: Option<PathBuf>,
    /// The cells' venv volumes kept between runs, and where each is mounted.
    pub venv_volumes: Vec<(String, String)>,
    /// Image tag → its directories served from read-only volumes (see `rootfs`).
    pub rootfs: super::rootfs::ByImage,
}

impl Mounts {
    pub fn new(binary: PathBuf, spec_path: &Path) -> Result<Mounts> {
        let spec_abs = std::path::absolute(spec_path).map_err(|e| Error::io_arg("resolve", spec_path, e))?;
        let spec_name = spec_abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "spec.json".into());
        let spec_dir = spec_abs.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        Ok(Mounts { binary, spec_dir, spec_name, home_volume: None, uv: None, install_cache: None, venv_volumes: Vec::new(), rootfs: Default::default() })
    }

    /// The read-only volumes that serve `image`'s own directories, if any.
    pub fn image_volumes(&self, image: &str) -> Vec<(String, String)> {
        self.rootfs.get(image).cloned().unwrap_or_default()
    }

    /// The download cache every container shares, and uv when the installs
    /// use it. Returns the report's note on the installer.
    pub fn add_installer(&mut self, opts: &ValidateOptions, on_event: &mut dyn FnMut(HarnessEvent)) -> Result<String> {
        let cache = opts.cache_dir.join("install-cache");
        std::fs::create_dir_all(&cache).map_err(|e| Error::io("create the install cache", &cache, e))?;
        self.install_cache = Some(cache);
        if opts.installer == Installer::Pip {
            return Ok("installer: pip".into());
        }
        let uv = super::uv::provision(&opts.cache_dir, &mut |m| on_event(HarnessEvent::Phase(m.to_string())))?;
        let version = super::uv::version(&uv).unwrap_or_else(|| "uv".into());
        self.uv = Some(uv);
        Ok(format!("installer: {version} (the PyPI wheel, mounted at {})", super::uv::UV_IN_CONTAINER))
    }
}

pub struct KernelTarget<'a> {
    pub partition: &'a str,
    pub kernel: &'a str,
    /// Image tag of the partition.
    pub image: &'a str,
    /// The cell's venv volume kept between runs, and where it is mounted.
    pub venv_volume: Option<&'a (String, String)>,
    /// The modules the kernel loads there.
    pub modules: &'a [String],
    /// Checks the engine runs side by side (`install --check-jobs`); `None`:
    /// the engine's default, every CPU.
    pub check_jobs: Option<usize>,
}

/// Installs one kernel in a fresh container of its partition's image, with the
/// same engine a user runs: `hpc-kernels install --kernel K`. Returns the
/// container (still running, removed on drop) and the kernel's result.
pub fn run_kernel(
    target: &KernelTarget,
    mounts: &Mounts,
    packages: &CellPackages,
    (pip_timeout, step_timeout): (u64, u64),
    labels: Vec<(String, String)>,
    on_event: &mut dyn FnMut(RunEvent),
) -> (Option<Container>, KernelResult) {
    let fqdn = images::identity(target.partition)
        .map(|i| i.fqdn)
        .unwrap_or_else(|| format!("login1.{}.hpc.tu-dresden.de", target.partition));
    let mut all_labels = labels;
    all_labels.push(("org.hpc-kernels.partition".to_string(), target.partition.to_string()));
    all_labels.push(("org.hpc-kernels.kernel".to_string(), target.kernel.to_string()));
    // Behind the run's index proxy every URL names the run and the cell, so a
    // download cache kept across runs would never hit; the proxy caches on the
    // host instead. There uv's cache goes into the run's shared volume, beside
    // the venvs, so that uv hard-links from it instead of copying every file.
    let install_cache = mounts.install_cache.as_ref().filter(|_| packages.network.is_none());
    let cache_dir = match (install_cache, &mounts.home_volume) {
        (Some(_), _) => Some(CACHE_IN_CONTAINER.to_string()),
        (None, Some(_)) if mounts.uv.is_some() => Some(format!("{}/hpc-kernels-cache", super::shared_home::MOUNT_POINT)),
        (None, _) => None,
    };
    let spec = ContainerSpec {
        image: target.image.to_string(),
        fqdn,
        mounts: [
            (mounts.binary.clone(), BIN_IN_CONTAINER.to_string()),
            (mounts.spec_dir.clone(), SPEC_DIR_IN_CONTAINER.to_string()),
        ]
        .into_iter()
        .chain(mounts.uv.iter().map(|uv| (uv.clone(), super::uv::UV_IN_CONTAINER.to_string())))
        .chain(packages.mounts.iter().cloned())
        .collect(),
        writable: install_cache.iter().map(|c| ((*c).clone(), CACHE_IN_CONTAINER.to_string())).collect(),
        volumes: mounts
            .home_volume
            .iter()
            .map(|v| (v.clone(), super::shared_home::MOUNT_POINT.to_string()))
            .chain(target.venv_volume.cloned())
            .collect(),
        readonly_volumes: mounts.image_volumes(target.image),
        labels: all_labels,
        network: packages.network.clone(),
        hosts: packages.hosts.clone(),
    };
    let container = match Container::start(&spec) {
        Ok(c) => c,
        Err(e) => return (None, harness_error(target.kernel, format!("{}: {}", e.message, source_text(&e)))),
    };
    if let (Some(declare), true) = (&packages.declare, mounts.uv.is_some()) {
        if let Some(version) = declared_python(&container, target.modules) {
            declare.declare(&version);
        }
    }
    let env = packages.env.iter().map(|(k, v)| format!("{k}={v}"));
    let mut argv: Vec<String> = std::iter::once("/usr/bin/env".to_string())
        .chain(env)
        .chain(
            [
        BIN_IN_CONTAINER,
        "install",
        &format!("{SPEC_DIR_IN_CONTAINER}/{}", mounts.spec_name),
        "--kernel",
        target.kernel,
        "--jsonl",
        "--launch-python",
        SERVER_PYTHON,
        "--pip-timeout",
        &pip_timeout.to_string(),
        "--step-timeout",
        &step_timeout.to_string(),
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .chain(packages.install_args.iter().cloned())
        .collect();
    // Always named: an HPC_KERNELS_INSTALLER in the image must not choose for the harness.
    let installer = if mounts.uv.is_some() { "uv" } else { "pip" };
    argv.extend(["--installer".to_string(), installer.to_string()]);
    if target.venv_volume.is_some() {
        argv.push("--reuse-venv".to_string());
    }
    if let Some(n) = target.check_jobs {
        argv.extend(["--check-jobs".to_string(), n.to_string()]);
    }
    if let Some(dir) = cache_dir {
        argv.extend(["--cache-dir".to_string(), dir]);
    }
    let mut report: Option<RunReport> = None;
    let mut other = String::new();
    let exec = container.exec(&argv, &mut |line| {
        if let Ok(e) = serde_json::from_str::<RunEvent>(line) {
            on_event(e);
        } else if let Ok(r) = serde_json::from_str::<RunReport>(line) {
            report = Some(r);
        } else {
            other.push_str(line);
            other.push('\n');
        }
    });
    let result = match (exec, report) {
        (_, Some(r)) => r
            .partitions
            .into_iter()
            .next()
            .and_then(|p| p.kernels.into_iter().next())
            .unwrap_or_else(|| harness_error(target.kernel, "the install result names no kernel".into())),
        (Ok(out), None) => harness_error(
            target.kernel,
            format!(
                "hpc-kernels install in the container exited {} without a result: {}",
                out.code,
                other.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
            ),
        ),
        (Err(e), None) => harness_error(target.kernel, e.message),
    };
    (Some(container), result)
}

/// The interpreter version the cell's modules declare (an emulated
/// `Python/X.Y.Z` sets it for pip's User-Agent; uv sends no such data, so the
/// harness tells the index itself). `None` when the modules do not load.
fn declared_python(container: &Container, modules: &[String]) -> Option<String> {
    let script = "module purge >/dev/null 2>&1; module load \"$@\" >/dev/null 2>&1 || exit 1; \
                  printf 'HPCK_DECLARED=%s\\n' \"$PIP_USER_AGENT_USER_DATA\"";
    let mut argv: Vec<String> = ["/bin/bash", "-lc", script, "declared-python"].iter().map(|s| s.to_string()).collect();
    argv.extend(modules.iter().cloned());
    let mut declared = None;
    container
        .exec(&argv, &mut |line| {
            if let Some(data) = line.strip_prefix("HPCK_DECLARED=") {
                declared = data.split_whitespace().find_map(|w| w.strip_prefix("hpc-kernels-python=")).map(String::from);
            }
        })
        .ok()?;
    declared
}

fn source_text(e: &Error) -> String {
    std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default()
}

/// A kernel the harness could not run: one `harness` stage with an error.
fn harness_error(kernel: &str, message: String) -> KernelResult {
    single_stage(kernel, kernel.to_string(), "harness", Outcome::Error { message })
}

fn not_run(spec: &Spec, kernel: &str, reason: String) -> KernelResult {
    let display = spec.kernels.get(kernel).map(|k| k.display_name.clone()).unwrap_or_default();
    single_stage(kernel, display, "modules", Outcome::Skipped { reason })
}

fn single_stage(kernel: &str, display_name: String, stage: &str, outcome: Outcome) -> KernelResult {
    let step = StepResult { stage: stage.into(), outcome, seconds: 0.0, command: None, log: String::new() };
    KernelResult::from_steps(kernel, display_name, vec![step])
}
