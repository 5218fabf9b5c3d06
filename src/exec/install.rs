//! Running a plan on this host: one kernel after another, each from a clean
//! module state; a failed step stops its kernel, never the others.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::checks;
use super::lmod;
use super::venv_pip::{self, PipSource, Probe};
use super::process::{self, CommandSpec};
use crate::error::{Error, Result};
use crate::kernelspec::{self, launcher::LauncherInput, KernelspecInput, Layout};
use crate::plan::render::command_line;
use crate::plan::{Action, Installer, KernelPlan, Plan};
use crate::report::{KernelResult, Outcome, PartitionResult, RunEvent, StepResult};

/// Marks a venv whose every install step passed; only such venvs are reused.
const COMPLETE_MARKER: &str = ".hpc-kernels-complete";
/// Marks a venv whose pip groups all passed: its fingerprint then, and when.
const INSTALLED_MARKER: &str = ".hpc-kernels-installed";
/// How the venv step's log of a venv kept with its pip groups begins.
pub const VENV_REUSED: &str = "reusing the installed venv";

#[derive(Clone, Debug)]
pub struct Timeouts {
    pub modules: Duration,
    pub venv: Duration,
    pub pip: Duration,
    pub import: Duration,
    pub test_script: Duration,
    pub launch: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            modules: Duration::from_secs(120),
            venv: Duration::from_secs(300),
            pip: Duration::from_secs(1800),
            import: Duration::from_secs(120),
            test_script: Duration::from_secs(600),
            launch: Duration::from_secs(120),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub timeouts: Timeouts,
    /// The environment installs start from (already scrubbed, see `lmod::base_env`).
    pub base_env: BTreeMap<String, String>,
    pub lmod_init: PathBuf,
    /// Python with jupyter_client that starts kernels for verification, as a
    /// Jupyter server would; `None` uses the kernel's own venv.
    pub launch_python: Option<PathBuf>,
    /// Write the kernelspec even when its launch check fails (never the default).
    pub skip_launch_check: bool,
    /// The spec file as recorded in the kernelspec (absolute).
    pub spec_file: String,
    /// `hpc-kernels install SPEC [options]` without `--kernel` and `--partition`:
    /// the launcher's advice for a partition the kernel lacks.
    pub install_command: Vec<String>,
    /// The uv binary, for plans whose installer is uv.
    pub uv: Option<PathBuf>,
    /// Download/wheel cache for pip and uv (`PIP_CACHE_DIR`, `UV_CACHE_DIR`
    /// below it); `None` leaves them at their own defaults.
    pub cache_dir: Option<PathBuf>,
    /// Run every step even when the installed kernel matches the plan.
    pub recheck: bool,
    /// How many checks after the pip groups run at once (consistency,
    /// imports, test_script, launch); 1 runs them one after another.
    pub check_jobs: usize,
    /// Do not rerun pip in a venv whose pip groups passed in an earlier run of
    /// the same plan and that is unchanged since; the checks still run.
    pub reuse_venv: bool,
}

/// Installs every kernel of `plan`. Returns Err only for faults that stop the
/// whole run before any kernel (workspace not writable, lock held).
pub fn install(plan: &Plan, opts: &ExecOptions, on_event: &mut dyn FnMut(RunEvent)) -> Result<PartitionResult> {
    fs::create_dir_all(&plan.workspace).map_err(|e| Error::io("create the workspace", &plan.workspace, e))?;
    let kernels: Vec<String> = plan.kernels.iter().map(|k| k.kernel.clone()).collect();
    let _lock = super::lock::WorkspaceLock::acquire(&plan.workspace, &plan.partition, &kernels)?;
    let kernels = plan
        .kernels
        .iter()
        .map(|kp| KernelRun::new(plan, kp, opts).run(on_event))
        .collect();
    Ok(PartitionResult { partition: plan.partition.clone(), kernels, error: None })
}

struct KernelRun<'a> {
    plan: &'a Plan,
    kp: &'a KernelPlan,
    opts: &'a ExecOptions,
    log_dir: PathBuf,
    /// The environment after `module load`, plus the venv once it exists.
    env: BTreeMap<String, String>,
    modulepath: String,
    loaded: Vec<String>,
    /// The staged kernelspec and its directory name.
    staged: Option<(PathBuf, String)>,
    check_libs: Vec<String>,
    /// Set when the venv's pip groups are kept from an earlier run (`reuse_venv`).
    pip_reused: Option<String>,
    result: KernelResult,
}

impl<'a> KernelRun<'a> {
    fn new(plan: &'a Plan, kp: &'a KernelPlan, opts: &'a ExecOptions) -> Self {
        KernelRun {
            plan,
            kp,
            opts,
            log_dir: plan.workspace.join("logs").join(&plan.partition).join(&kp.kernel),
            env: BTreeMap::new(),
            modulepath: String::new(),
            loaded: Vec::new(),
            staged: None,
            pip_reused: None,
            check_libs: kp
                .steps
                .iter()
                .filter_map(|s| match &s.action {
                    Action::CheckImport { module } => Some(module.clone()),
                    _ => None,
                })
                .collect(),
            result: KernelResult {
                kernel: kp.kernel.clone(),
                display_name: kp.display_name.clone(),
                steps: Vec::new(),
                kernelspec_dir: None,
                venv: Some(kp.venv.to_string_lossy().into_owned()),
                modules: Vec::new(),
                kernelspec: None,
                lmod_init: Some(opts.lmod_init.to_string_lossy().into_owned()),
                notes: Vec::new(),
            },
        }
    }

    fn run(mut self, on_event: &mut dyn FnMut(RunEvent)) -> KernelResult {
        let (partition, kernel) = (self.plan.partition.clone(), self.kp.kernel.clone());
        on_event(RunEvent::KernelStarted { partition: partition.clone(), kernel: kernel.clone(), stages: self.kp.steps.len() });
        let _ = fs::remove_dir_all(&self.log_dir);
        let _ = fs::create_dir_all(&self.log_dir);
        let mut blocked_by: Option<String> = None;
        let mut reused: Option<String> = None;
        // After this step the venv holds every pip group.
        let last_install_step = self
            .kp
            .steps
            .iter()
            .rposition(|s| matches!(s.action, Action::CreateVenv { .. } | Action::PipInstall { .. } | Action::SkipPip { .. }));
        let checks_from = last_install_step.map_or(0, |i| i + 1);
        let side_by_side = self.opts.check_jobs > 1 && checks::side_by_side(&self.kp.steps[checks_from..]);
        let mut ran: BTreeMap<usize, checks::Ran> = BTreeMap::new();
        let mut checks_started = false;
        for (i, step) in self.kp.steps.iter().enumerate() {
            let stage = step.stage.clone();
            if !(checks_started && i > checks_from) {
                on_event(RunEvent::StepStarted { partition: partition.clone(), kernel: kernel.clone(), stage: stage.clone() });
            }
            let started = Instant::now();
            let command = match &step.action {
                Action::WriteKernelspec { .. } | Action::LaunchKernel { .. } => None,
                other => Some(command_line(self.kp, other)),
            };
            if side_by_side && i == checks_from && blocked_by.is_none() && reused.is_none() {
                // Every check starts now; their results come in plan order.
                for later in &self.kp.steps[i + 1..] {
                    on_event(RunEvent::StepStarted { partition: partition.clone(), kernel: kernel.clone(), stage: later.stage.clone() });
                }
                checks_started = true;
                ran = self.run_checks_side_by_side(checks_from);
            }
            let mut seconds = None;
            let (outcome, log) = match (&blocked_by, &reused, ran.remove(&i)) {
                (Some(failed), _, Some(early)) => (checks::not_counted(failed, &early.outcome), early.log),
                (Some(failed), _, None) => (Outcome::Skipped { reason: format!("not run: {failed} did not pass") }, String::new()),
                (None, Some(why), _) => (Outcome::Skipped { reason: why.clone() }, String::new()),
                (None, None, Some(early)) => {
                    seconds = Some(early.seconds);
                    match &step.action {
                        Action::LaunchKernel { .. } if early.outcome.is_passed() => self.commit_ran_launch(i, early),
                        _ => (early.outcome, early.log),
                    }
                }
                (None, None, None) => match matches!(step.action, Action::CreateVenv { .. }).then(|| self.reuse()).flatten() {
                    Some((why, log)) => {
                        reused = Some(why);
                        (Outcome::Passed, log)
                    }
                    None => {
                        let log_path = self.log_path(i, &stage);
                        self.run_step(&step.action, &log_path)
                    }
                },
            };
            if outcome.is_problem() && blocked_by.is_none() {
                blocked_by = Some(stage.clone());
            }
            if Some(i) == last_install_step && blocked_by.is_none() && reused.is_none() && self.pip_reused.is_none() {
                self.mark_installed();
            }
            let seconds = seconds.unwrap_or_else(|| started.elapsed().as_secs_f64());
            let result = StepResult { stage, outcome, seconds, command, log };
            on_event(RunEvent::StepFinished { partition: partition.clone(), kernel: kernel.clone(), result: result.clone() });
            self.result.steps.push(result);
        }
        if let Some((staged, _)) = self.staged.take() {
            kernelspec::discard(&staged);
        }
        on_event(RunEvent::KernelFinished { partition, kernel, passed: self.result.passed(), skipped: self.result.skipped() });
        self.result
    }

    fn log_path(&self, index: usize, stage: &str) -> PathBuf {
        self.log_dir.join(format!("{:02}-{}.log", index + 1, sanitize(stage)))
    }

    fn run_step(&mut self, action: &Action, log_path: &Path) -> (Outcome, String) {
        let mut log = LogSink::open(log_path);
        let outcome = match self.dispatch(action, &mut log) {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Error { message: e },
        };
        (outcome, log.into_text())
    }

    /// The checks from step `from` on, side by side: the kernelspec is staged
    /// first (the launch check needs it), then `check_jobs` checks at a time,
    /// the launch first as it takes longest; a check after a failed one is
    /// not started. Nothing is committed here.
    fn run_checks_side_by_side(&mut self, from: usize) -> BTreeMap<usize, checks::Ran> {
        let steps = &self.kp.steps;
        let mut ran = BTreeMap::new();
        let mut staged = true;
        if let Some(i) = (from..steps.len()).find(|&i| matches!(steps[i].action, Action::WriteKernelspec { .. })) {
            let started = Instant::now();
            let (outcome, log) = self.run_step(&steps[i].action, &self.log_path(i, &steps[i].stage));
            staged = outcome.is_passed();
            ran.insert(i, checks::Ran { outcome, log, seconds: started.elapsed().as_secs_f64() });
        }
        let mut jobs: Vec<usize> = (from..steps.len())
            .filter(|i| !ran.contains_key(i))
            .filter(|&i| staged || !matches!(steps[i].action, Action::LaunchKernel { .. }))
            .collect();
        jobs.sort_by_key(|&i| !matches!(steps[i].action, Action::LaunchKernel { .. }));
        // A check after a step that already failed cannot count: it is not started.
        let first_problem = AtomicUsize::new(usize::MAX);
        let this = &*self;
        let work = |&i: &usize, _: &Sender<()>| {
            if i > first_problem.load(Ordering::SeqCst) {
                return None;
            }
            let started = Instant::now();
            let mut log = LogSink::open(&this.log_path(i, &steps[i].stage));
            let outcome = this.check(&steps[i].action, &mut log).unwrap_or_else(|message| Outcome::Error { message });
            if outcome.is_problem() {
                first_problem.fetch_min(i, Ordering::SeqCst);
            }
            Some(checks::Ran { outcome, log: log.into_text(), seconds: started.elapsed().as_secs_f64() })
        };
        let results = crate::pool::run_all(jobs.clone(), this.opts.check_jobs, work, |()| {});
        for (i, result) in jobs.into_iter().zip(results) {
            let result = result.unwrap_or_else(|panic| {
                let outcome = Outcome::Error { message: format!("the worker running this check panicked: {panic}") };
                Some(checks::Ran { outcome, log: String::new(), seconds: 0.0 })
            });
            if let Some(r) = result {
                ran.insert(i, r);
            }
        }
        ran
    }

    fn dispatch(&mut self, action: &Action, log: &mut LogSink) -> Result<Outcome, String> {
        let t = self.opts.timeouts.clone();
        match action {
            Action::LoadModules { modules } => self.load_modules(modules, log),
            Action::CreateVenv { python, path } => self.create_venv(python, path, log),
            Action::PipInstall { .. } if self.pip_reused.is_some() => {
                writeln!(log, "not rerun: {}", self.pip_reused.as_deref().unwrap_or_default()).ok();
                Ok(Outcome::Passed)
            }
            Action::PipInstall { args, .. } if self.kp.installer == Installer::Uv => {
                let uv = self.uv()?;
                let python = self.kp.venv_python();
                let mut run = |program: PathBuf, argv: Vec<String>, what: &str, log: &mut dyn Write| self.run_in_env(program, argv, t.pip, log, what);
                super::uv::install_group(&uv, &python, args, log, &mut run)
            }
            Action::PipInstall { args, .. } => {
                let mut argv = vec!["-m".into(), "pip".into(), "install".into(), "--disable-pip-version-check".into(), "--no-input".into()];
                argv.extend(args.iter().cloned());
                self.run_in_env(self.kp.venv_python(), argv, t.pip, log, "pip install")
            }
            Action::SkipPip { reason, .. } => Ok(Outcome::Skipped { reason: reason.clone() }),
            Action::CheckConsistency | Action::CheckImport { .. } | Action::TestScript { .. } => self.check(action, log),
            Action::WriteKernelspec { name, display_name } => self.write_kernelspec(name, display_name, log),
            Action::LaunchKernel { imports } => {
                let outcome = self.launch_check(imports, log)?;
                if !outcome.is_passed() {
                    return Ok(outcome);
                }
                self.commit_kernelspec(log)
            }
        }
    }

    /// The steps that only read the venv and the staged kernelspec, which may
    /// run side by side (see `checks`).
    fn check(&self, action: &Action, log: &mut LogSink) -> Result<Outcome, String> {
        let t = &self.opts.timeouts;
        match action {
            Action::CheckConsistency => {
                self.run_in_env(self.kp.venv_python(), super::consistency::argv(), t.import, log, "consistency check")
            }
            Action::CheckImport { module } => {
                let argv = vec!["-c".into(), "import importlib, sys; importlib.import_module(sys.argv[1])".into(), module.clone()];
                self.run_in_env(self.kp.venv_python(), argv, t.import, log, &format!("import {module}"))
            }
            Action::TestScript { script } => {
                let argv = vec!["-eo".into(), "pipefail".into(), "-c".into(), script.clone()];
                self.run_in_env(PathBuf::from("/bin/bash"), argv, t.test_script, log, "test_script")
            }
            Action::LaunchKernel { imports } => self.launch_check(imports, log),
            other => Err(format!("`{}` is not a check", command_line(self.kp, other))),
        }
    }

    fn load_modules(&mut self, modules: &[String], log: &mut LogSink) -> Result<Outcome, String> {
        let loaded = lmod::load(&self.opts.lmod_init, modules, &self.opts.base_env, self.opts.timeouts.modules, log)
            .map_err(|e| format!("cannot start bash for Lmod: {e}"))?;
        if let Some(outcome) = failure("module load", &loaded.finished, self.opts.timeouts.modules) {
            return Ok(outcome);
        }
        self.modulepath = base_modulepath(&loaded.finished.output);
        self.env = loaded.env;
        for var in ["PYTHONNOUSERSITE", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT"] {
            self.env.insert(var.into(), "1".into());
        }
        if let Some(cache) = &self.opts.cache_dir {
            self.env.insert("PIP_CACHE_DIR".into(), cache.join("pip").to_string_lossy().into_owned());
            self.env.insert("UV_CACHE_DIR".into(), cache.join("uv").to_string_lossy().into_owned());
        }
        if self.kp.installer == Installer::Uv {
            super::uv::defaults(&mut self.env);
        }
        self.loaded = loaded.loaded;
        self.result.modules = self.loaded.clone();
        Ok(Outcome::Passed)
    }

    fn create_venv(&mut self, python: &str, path: &Path, log: &mut LogSink) -> Result<Outcome, String> {
        if let Some(installed) = self.installed_venv(path) {
            writeln!(log, "{VENV_REUSED} {}: {installed}", path.display()).ok();
            self.result.notes.push(format!("pip was not rerun (--reuse-venv): {installed}"));
            self.pip_reused = Some(installed);
        } else if path.join(COMPLETE_MARKER).is_file() || path.join(INSTALLED_MARKER).is_file() {
            writeln!(log, "reusing {} (built earlier from the same modules and pip groups)", path.display()).ok();
        } else {
            if path.exists() {
                writeln!(log, "removing incomplete venv {}", path.display()).ok();
                fs::remove_dir_all(path).map_err(|e| format!("cannot remove incomplete venv {}: {e}", path.display()))?;
            }
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            let Some(exe) = process::which_in(python, &self.env) else {
                return Ok(Outcome::Failed {
                    message: format!("{python} is not on the PATH of the module environment; load a Python module"),
                });
            };
            let outcome = if self.kp.installer == Installer::Uv {
                let argv = super::uv::venv_argv(&exe, path);
                self.run_in_env(self.uv()?, argv, self.opts.timeouts.venv, log, "uv venv")?
            } else {
                let argv = vec!["-m".into(), "venv".into(), "--without-pip".into(), "--system-site-packages".into(), path.to_string_lossy().into_owned()];
                self.run_in_env(exe, argv, self.opts.timeouts.venv, log, "venv creation")?
            };
            if !outcome.is_passed() {
                return Ok(outcome);
            }
            let outcome = self.provide_pip(path, log)?;
            if !outcome.is_passed() {
                return Ok(outcome);
            }
        }
        let bin = path.join("bin");
        let old_path = self.env.get("PATH").cloned().unwrap_or_default();
        self.env.insert("PATH".into(), format!("{}:{old_path}", bin.display()));
        self.env.insert("VIRTUAL_ENV".into(), path.to_string_lossy().into_owned());
        Ok(Outcome::Passed)
    }

    /// Gives a new venv its pip: the module's (see `venv_pip`) or ensurepip's.
    fn provide_pip(&mut self, venv: &Path, log: &mut LogSink) -> Result<Outcome, String> {
        let python = venv.join("bin").join("python");
        let argv = vec!["-c".to_string(), venv_pip::PROBE_PY.to_string()];
        let mut probe_log = Vec::new();
        let finished = self.capture_in_env(python.clone(), argv, self.opts.timeouts.venv, &mut probe_log)?;
        let Some(probe) = Probe::parse(&finished.output).filter(|_| finished.code == Some(0)) else {
            log.write_all(&probe_log).ok();
            return Ok(failure("the pip probe", &finished, self.opts.timeouts.venv)
                .unwrap_or_else(|| Outcome::Failed { message: "the pip probe printed no HPCK_PIP line".into() }));
        };
        match (probe.source(), self.kp.installer) {
            (PipSource::Module { version }, _) => {
                writeln!(log, "pip {version} of the module's Python serves this venv (it has no pip of its own)").ok();
            }
            (PipSource::Ensurepip { why }, Installer::Pip) => {
                writeln!(log, "{why}: installing ensurepip's pip into the venv").ok();
                let argv = vec!["-m".into(), "ensurepip".into(), "--default-pip".into()];
                let outcome = self.run_in_env(python, argv, self.opts.timeouts.venv, log, "ensurepip")?;
                if !outcome.is_passed() {
                    return Ok(outcome);
                }
            }
            (PipSource::None, Installer::Pip) => {
                let message = "the module's Python has neither pip nor ensurepip; load a Python module that has pip".to_string();
                return Ok(Outcome::Failed { message });
            }
            // uv installs without pip; its venv gets pip commands only where the module's pip serves it.
            (PipSource::Ensurepip { why }, Installer::Uv) => {
                writeln!(log, "{why}: the venv gets no pip commands (uv installs without pip)").ok();
                return Ok(Outcome::Passed);
            }
            (PipSource::None, Installer::Uv) => {
                writeln!(log, "the module's Python has no pip: the venv gets no pip commands (uv installs without pip)").ok();
                return Ok(Outcome::Passed);
            }
        }
        let written = venv_pip::write_commands(venv, &probe.python).map_err(|e| format!("cannot write pip commands into {}: {e}", venv.display()))?;
        if !written.is_empty() {
            writeln!(log, "wrote bin/{}", written.join(", bin/")).ok();
        }
        Ok(Outcome::Passed)
    }

    fn uv(&self) -> Result<PathBuf, String> {
        self.opts.uv.clone().ok_or_else(|| "the plan's installer is uv, but no uv binary was given".to_string())
    }

    fn run_in_env(&self, program: PathBuf, args: Vec<String>, timeout: Duration, log: &mut dyn Write, what: &str) -> Result<Outcome, String> {
        let finished = self.capture_in_env(program, args, timeout, log)?;
        Ok(failure(what, &finished, timeout).unwrap_or(Outcome::Passed))
    }

    fn capture_in_env(&self, program: PathBuf, args: Vec<String>, timeout: Duration, log: &mut dyn Write) -> Result<process::Finished, String> {
        let cwd = Some(self.kp.venv.clone()).filter(|p| p.is_dir()).or_else(|| Some(self.plan.workspace.clone()));
        let spec = CommandSpec { program: program.clone(), args, env: self.env.clone(), cwd };
        process::run(&spec, timeout, log).map_err(|e| format!("cannot start {}: {e}", program.display()))
    }

    /// When the installed kernel is what this run would install and its venv
    /// is as it was: the reason the remaining steps are skipped, and the venv
    /// step's log. Records the kernelspec in the result.
    fn reuse(&mut self) -> Option<(String, String)> {
        // `reuse_venv` asks for every check after pip, so not for a no-op.
        if self.opts.recheck || self.opts.reuse_venv {
            return None;
        }
        let recorded = fs::read_to_string(self.kp.venv.join(COMPLETE_MARKER)).ok()?;
        let fingerprint = super::reuse::venv_fingerprint(&self.kp.venv)?;
        if recorded.trim() != fingerprint {
            return None;
        }
        let (name, display_name) = self.kp.steps.iter().find_map(|s| match &s.action {
            Action::WriteKernelspec { name, display_name } => Some((name.clone(), display_name.clone())),
            _ => None,
        })?;
        let dir = self.plan.kernels_dir.join(&name);
        let installed = kernelspec::read_installed(&dir)?;
        let installed_at = installed.spec?.partitions.get(&self.plan.partition)?.installed_at.clone();
        let rendered = self.render_kernelspec(&name, &display_name, &installed_at);
        if super::reuse::kernelspec_difference(&dir, &rendered).is_some() {
            return None;
        }
        self.result.kernelspec_dir = Some(dir.to_string_lossy().into_owned());
        let mut files = rendered.files();
        // What is installed, every partition's entry included.
        files.kernel_json = fs::read_to_string(dir.join("kernel.json")).unwrap_or(files.kernel_json);
        self.result.kernelspec = Some(files);
        let why = format!(
            "reused: unchanged since the install of {installed_at} (spec, modules, venv and kernelspec verified); --recheck runs it again"
        );
        let log = format!("reusing {} ({fingerprint}, as recorded) and the kernelspec in {}\n", self.kp.venv.display(), dir.display());
        Some((why, log))
    }

    /// With `reuse_venv`: what says that the venv at `path` holds every pip
    /// group of this plan, installed by an earlier run and unchanged since.
    fn installed_venv(&self, path: &Path) -> Option<String> {
        if !self.opts.reuse_venv {
            return None;
        }
        let recorded = fs::read_to_string(path.join(INSTALLED_MARKER)).ok()?;
        let mut lines = recorded.lines();
        let (fingerprint, installed_at) = (lines.next()?, lines.next().unwrap_or("an earlier run"));
        let now = super::reuse::venv_fingerprint(path)?;
        (fingerprint == now).then(|| format!("its pip groups were installed at {installed_at} by the same plan, and it is unchanged since ({now})"))
    }

    fn mark_installed(&self) {
        if let Some(fingerprint) = super::reuse::venv_fingerprint(&self.kp.venv) {
            let installed_at = crate::report::junit::rfc3339_utc(std::time::SystemTime::now());
            let _ = fs::write(self.kp.venv.join(INSTALLED_MARKER), format!("{fingerprint}\n{installed_at}\n"));
        }
    }

    fn render_kernelspec(&self, name: &str, display_name: &str, installed_at: &str) -> kernelspec::Rendered {
        let pinned = lmod::pin(&self.kp.modules, &self.loaded);
        let venv = self.kp.venv.to_string_lossy().into_owned();
        let init = self.opts.lmod_init.to_string_lossy().into_owned();
        let layout = if name == self.kp.kernel { Layout::Shared } else { Layout::PerPartition };
        let mut install_command = self.opts.install_command.clone();
        install_command.extend(["--kernel".to_string(), self.kp.kernel.clone()]);
        kernelspec::render(&KernelspecInput {
            dir_name: name,
            kernel: &self.kp.kernel,
            display_name,
            layout,
            launcher: LauncherInput {
                kernel: name,
                partition: &self.plan.partition,
                spec_sha256: &self.plan.spec_sha256,
                lmod_init: &init,
                modulepath: &self.modulepath,
                modules: &pinned,
                venv: &venv,
                argv_prefix: &self.kp.argv_prefix,
            },
            loaded_modules: &self.loaded,
            check_libs: &self.check_libs,
            spec_file: &self.opts.spec_file,
            installed_at,
            install_command: &install_command,
        })
    }

    fn write_kernelspec(&mut self, name: &str, display_name: &str, log: &mut LogSink) -> Result<Outcome, String> {
        let fingerprint = super::reuse::venv_fingerprint(&self.kp.venv).unwrap_or_default();
        let _ = fs::write(self.kp.venv.join(COMPLETE_MARKER), fingerprint);
        let installed_at = crate::report::junit::rfc3339_utc(std::time::SystemTime::now());
        let rendered = self.render_kernelspec(name, display_name, &installed_at);
        let staged = kernelspec::stage(&self.plan.kernels_dir, &rendered, &self.kp.venv)
            .map_err(|e| format!("cannot write the kernelspec into {}: {e}", kernelspec::staging_root(&self.plan.kernels_dir).display()))?;
        let files = rendered.files();
        writeln!(
            log,
            "staged {}\n--- kernel.json\n{}--- {}\n{}--- {}\n{}",
            staged.display(),
            files.kernel_json,
            rendered.launcher_name(),
            files.launcher,
            kernelspec::LAUNCHER,
            rendered.dispatcher
        )
        .ok();
        self.staged = Some((staged, name.to_string()));
        self.result.kernelspec = Some(files);
        Ok(Outcome::Passed)
    }

    /// Starts the staged kernelspec's kernel (unless the check is turned off).
    fn launch_check(&self, imports: &[String], log: &mut LogSink) -> Result<Outcome, String> {
        let Some((staged, name)) = &self.staged else {
            return Err("no staged kernelspec to launch".into());
        };
        if self.opts.skip_launch_check {
            return Ok(Outcome::Passed);
        }
        let python = self.opts.launch_python.clone().unwrap_or_else(|| self.kp.venv_python());
        let home = self.opts.base_env.get("HOME").cloned().unwrap_or_else(|| "/tmp".into());
        let target = super::launch::Target { dir: staged, name, partition: Some(&self.plan.partition) };
        let expected = super::launch::Expected {
            venv: Some(self.kp.venv.to_string_lossy().into_owned()),
            modules: lmod::pin(&self.kp.modules, &self.loaded),
        };
        super::launch::check(&python, &target, imports, &expected, &home, self.opts.timeouts.launch, log)
            .map_err(|e| format!("cannot run the launch check with {}: {e}", python.display()))
    }

    /// Moves the staged kernelspec into place once its launch check passed.
    fn commit_kernelspec(&mut self, log: &mut dyn Write) -> Result<Outcome, String> {
        let Some((staged, name)) = self.staged.clone() else {
            return Err("no staged kernelspec to install".into());
        };
        let partition = self.plan.partition.clone();
        let target = kernelspec::commit(&staged, &self.plan.kernels_dir, &name, &partition)
            .map_err(|e| format!("cannot move the kernelspec into {}: {e}", self.plan.kernels_dir.display()))?;
        self.staged = None;
        writeln!(log, "installed {} for partition {partition}", target.display()).ok();
        self.result.kernelspec_dir = Some(target.to_string_lossy().into_owned());
        remove_other_venvs(&self.kp.venv, log);
        Ok(Outcome::Passed)
    }

    /// Commits after a launch check (step `index`) that ran side by side; the
    /// commit's lines go to the end of the check's log.
    fn commit_ran_launch(&mut self, index: usize, ran: checks::Ran) -> (Outcome, String) {
        let mut lines = Vec::new();
        let outcome = self.commit_kernelspec(&mut lines).unwrap_or_else(|message| Outcome::Error { message });
        let lines = String::from_utf8_lossy(&lines).into_owned();
        let path = self.log_path(index, &self.kp.steps[index].stage);
        if let Ok(mut f) = fs::OpenOptions::new().append(true).open(&path) {
            let _ = f.write_all(lines.as_bytes());
        }
        (outcome, ran.log + &lines)
    }
}

/// After a successful swap, venvs of earlier builds of this kernel are unused.
fn remove_other_venvs(current: &Path, log: &mut dyn Write) {
    let (Some(dir), Some(keep)) = (current.parent(), current.file_name()) else { return };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        if name != keep && name.to_string_lossy().starts_with("venv-") && fs::remove_dir_all(e.path()).is_ok() {
            writeln!(log, "removed unused {}", e.path().display()).ok();
        }
    }
}

/// Maps a finished command to a failure outcome, or `None` when it passed.
pub(crate) fn failure(what: &str, f: &process::Finished, timeout: Duration) -> Option<Outcome> {
    if f.timed_out {
        return Some(Outcome::TimedOut {
            message: format!("{what} did not finish within {}s; its process group was killed", timeout.as_secs()),
            after_secs: timeout.as_secs(),
        });
    }
    match f.code {
        Some(0) => None,
        code => {
            let summary = lmod_error(&f.output);
            let last = summary.as_deref().unwrap_or_else(|| f.output.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim());
            let status = code.map_or("was killed".to_string(), |c| format!("exited with status {c}"));
            Some(Outcome::Failed { message: format!("{what} {status}: {last}") })
        }
    }
}

/// Lmod's own error, in one line: the text after "Lmod has detected the
/// following error:" up to the next blank line.
fn lmod_error(output: &str) -> Option<String> {
    let start = output.find("Lmod has detected the following error:")?;
    let rest = &output[start + "Lmod has detected the following error:".len()..];
    let text: Vec<&str> = rest.lines().map(str::trim).skip_while(|l| l.is_empty()).take_while(|l| !l.is_empty()).collect();
    (!text.is_empty()).then(|| text.join(" "))
}

fn base_modulepath(output: &str) -> String {
    output.lines().find_map(|l| l.strip_prefix("MODULEPATH=")).unwrap_or("").to_string()
}

fn sanitize(stage: &str) -> String {
    stage.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' }).collect()
}

/// The step log: written to its file as it comes; its tail is kept for the report.
enum LogSink {
    File(fs::File, process::Tail),
    Memory(process::Tail),
}

impl LogSink {
    /// A step's log file; kept in memory only when the file cannot be created.
    fn open(path: &Path) -> LogSink {
        match fs::File::create(path) {
            Ok(f) => LogSink::File(f, process::Tail::default()),
            Err(_) => LogSink::Memory(process::Tail::default()),
        }
    }

    fn into_text(self) -> String {
        match self {
            LogSink::File(_, tail) | LogSink::Memory(tail) => tail.into_text(),
        }
    }
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LogSink::File(f, tail) => {
                tail.push(buf);
                let _ = f.write_all(buf);
            }
            LogSink::Memory(tail) => tail.push(buf),
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_messages_name_the_step_and_last_line() {
        let f = process::Finished { code: Some(1), timed_out: false, output: "a\nModuleNotFoundError: No module named 'x'\n\n".into(), elapsed: Duration::ZERO };
        match failure("import x", &f, Duration::from_secs(5)) {
            Some(Outcome::Failed { message }) => {
                assert_eq!(message, "import x exited with status 1: ModuleNotFoundError: No module named 'x'")
            }
            other => panic!("{other:?}"),
        }
        let t = process::Finished { code: None, timed_out: true, output: String::new(), elapsed: Duration::ZERO };
        assert!(matches!(failure("pip install", &t, Duration::from_secs(5)), Some(Outcome::TimedOut { after_secs: 5, .. })));
    }

    #[test]
    fn lmod_errors_are_summarised_in_lmods_words() {
        let out = "Lmod has detected the following error: These module(s) or extension(s) exist\nbut cannot be loaded as requested: \"PyTorch/1.13.1\"\n   Try: \"module spider PyTorch/1.13.1\" to see how to load the module(s).\n\n\n";
        let f = process::Finished { code: Some(1), timed_out: false, output: out.into(), elapsed: Duration::ZERO };
        match failure("module load", &f, Duration::from_secs(5)) {
            Some(Outcome::Failed { message }) => assert_eq!(
                message,
                "module load exited with status 1: These module(s) or extension(s) exist but cannot be loaded as requested: \"PyTorch/1.13.1\" Try: \"module spider PyTorch/1.13.1\" to see how to load the module(s)."
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stage_names_become_safe_file_names() {
        assert_eq!(sanitize("pip:base_pks"), "pip_base_pks");
        assert_eq!(sanitize("import:../x"), "import_.._x");
    }
}
