//! The pure install plan: spec × partition → ordered steps per kernel.
//!
//! Nothing here touches the file system or spawns a process: the same spec,
//! partition and options always give the same plan, which can be printed as a
//! table, as JSON or as a bash script (see [`render`]).

pub mod index;
pub mod render;
pub mod uv;

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use index::IndexMapping;

/// The check behind [`Action::CheckConsistency`], run by the venv's python.
pub const CONSISTENCY_PY: &str = include_str!("consistency.py");

use crate::spec::Spec;

/// The JUnit-facing stage names (DESIGN.md §7).
pub mod stage {
    pub const MODULES: &str = "modules";
    pub const VENV: &str = "venv";
    pub const CONSISTENCY: &str = "consistency";
    pub const TEST_SCRIPT: &str = "test_script";
    pub const KERNELSPEC: &str = "kernelspec";
    pub const LAUNCH: &str = "launch";
    pub fn pip(group: &str) -> String {
        format!("pip:{group}")
    }
    pub fn import(lib: &str) -> String {
        format!("import:{lib}")
    }
}

/// Which tool makes the venv and installs the pip groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Installer {
    /// `python -m venv` and `python -m pip install`.
    #[default]
    Pip,
    /// `uv venv` and `uv pip install`, keeping the distributions the modules
    /// provide as pip does (see `exec::uv`).
    Uv,
}

impl Installer {
    pub fn name(self) -> &'static str {
        match self {
            Installer::Pip => "pip",
            Installer::Uv => "uv",
        }
    }
}

/// Inputs besides the spec that shape a plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Root of the venvs: `<workspace>/<partition>/<kernel>/venv-<hash>`.
    pub workspace: PathBuf,
    /// Where kernelspec directories go (`…/share/jupyter/kernels`).
    pub kernels_dir: PathBuf,
    /// Only these kernels (all when empty).
    pub only_kernels: Vec<String>,
    /// Interpreter used to create the venv, looked up in the module environment.
    pub python: String,
    pub index: IndexMapping,
    /// Command put in front of the kernel's python in the launcher (e.g. `flux start`).
    pub argv_prefix: Vec<String>,
    /// One kernelspec `KEY-PARTITION` per partition instead of one shared `KEY`.
    pub kernelspec_per_partition: bool,
    pub installer: Installer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub partition: String,
    pub installer: Installer,
    pub spec_sha256: String,
    pub workspace: PathBuf,
    pub kernels_dir: PathBuf,
    pub kernels: Vec<KernelPlan>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KernelPlan {
    pub kernel: String,
    pub display_name: String,
    /// Partition modules, then `module_load`, then `module_load_cluster[partition]`.
    pub modules: Vec<String>,
    pub venv: PathBuf,
    pub kernelspec_dir: PathBuf,
    pub argv_prefix: Vec<String>,
    pub installer: Installer,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// JUnit case name: `modules`, `venv`, `pip:<group>`, `import:<lib>`, …
    pub stage: String,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `module purge`, then `module load` of these, in order, in one Lmod session.
    LoadModules { modules: Vec<String> },
    /// `<python> -m venv --without-pip --system-site-packages <path>` (or `uv venv`); pip: see `exec::venv_pip`.
    CreateVenv { python: String, path: PathBuf },
    /// `<venv>/bin/python -m pip install <args>` (or `uv pip install`); `args` go to pip as argv.
    PipInstall { group: String, args: Vec<String>, index_rewrites: Vec<(String, String)> },
    /// A `pip_complex` group that has no entry for this partition.
    SkipPip { group: String, reason: String },
    /// [`CONSISTENCY_PY`] in the venv's python with the modules loaded:
    /// `pip check` over what is imported first, and venv packages next to
    /// module-provided ones at another version.
    CheckConsistency,
    /// `import <module>` in the venv's python.
    CheckImport { module: String },
    /// `bash -eo pipefail -c <script>` in the kernel's environment.
    TestScript { script: String },
    /// Write kernel.json + launcher into a staging directory next to the final one.
    WriteKernelspec { name: String, display_name: String },
    /// Start the staged kernel through jupyter_client, run the check_libs imports,
    /// then move it into place.
    LaunchKernel { imports: Vec<String> },
}

/// Builds the plan. Kernels not in `only_kernels` are left out; unknown names
/// in `only_kernels` are reported by the caller before planning.
pub fn plan(spec: &Spec, partition: &str, opts: &PlanOptions) -> Plan {
    let kernels = spec
        .kernels
        .iter()
        .filter(|(key, _)| opts.only_kernels.is_empty() || opts.only_kernels.contains(key))
        .map(|(key, _)| plan_kernel(spec, partition, key, opts))
        .collect();
    Plan {
        partition: partition.to_string(),
        installer: opts.installer,
        spec_sha256: spec.source_sha256.clone(),
        workspace: opts.workspace.clone(),
        kernels_dir: opts.kernels_dir.clone(),
        kernels,
    }
}

/// The modules kernel `key` loads on `partition`, in load order.
pub fn kernel_modules(spec: &Spec, partition: &str, key: &str) -> Vec<String> {
    let mut modules: Vec<String> = spec.modules_by_cluster.get(partition).cloned().unwrap_or_default();
    if let Some(kernel) = spec.kernels.get(key) {
        modules.extend(kernel.module_load.iter().cloned());
        if let Some(extra) = kernel.module_load_cluster.get(partition) {
            modules.extend(extra.iter().cloned());
        }
    }
    modules
}

fn plan_kernel(spec: &Spec, partition: &str, key: &str, opts: &PlanOptions) -> KernelPlan {
    let kernel = &spec.kernels[key];
    let modules = kernel_modules(spec, partition, key);

    let mut steps = vec![Step {
        stage: stage::MODULES.into(),
        action: Action::LoadModules { modules: modules.clone() },
    }];
    let mut pip_steps = Vec::new();
    for group in &kernel.pip_dependencies {
        let stage = stage::pip(group);
        let action = match spec.pip_module_groups.get(group).map(|g| g.args_for(partition)) {
            Some(Some(args)) => {
                let (args, index_rewrites) = opts.index.apply(args);
                Action::PipInstall { group: group.clone(), args, index_rewrites }
            }
            Some(None) => Action::SkipPip {
                group: group.clone(),
                reason: format!("pip_complex of group \"{group}\" has no entry for partition \"{partition}\""),
            },
            // Lint rejects unknown groups; a hand-built Spec could still carry one.
            None => Action::SkipPip { group: group.clone(), reason: format!("no pip group named \"{group}\"") },
        };
        pip_steps.push(Step { stage, action });
    }

    let venv_hash = venv_hash(partition, &modules, &pip_steps, &opts.python, opts.installer);
    let venv = opts.workspace.join(partition).join(key).join(format!("venv-{venv_hash}"));
    steps.push(Step {
        stage: stage::VENV.into(),
        action: Action::CreateVenv { python: opts.python.clone(), path: venv.clone() },
    });
    steps.extend(pip_steps);
    steps.push(Step { stage: stage::CONSISTENCY.into(), action: Action::CheckConsistency });
    steps.extend(kernel.check_libs.iter().map(|lib| Step {
        stage: stage::import(lib),
        action: Action::CheckImport { module: lib.clone() },
    }));
    if let Some(script) = &kernel.test_script {
        steps.push(Step { stage: stage::TEST_SCRIPT.into(), action: Action::TestScript { script: script.clone() } });
    }
    let (kernelspec_name, display_name) = if opts.kernelspec_per_partition {
        (format!("{key}-{partition}"), format!("{} ({partition})", kernel.display_name))
    } else {
        (key.to_string(), kernel.display_name.clone())
    };
    steps.push(Step {
        stage: stage::KERNELSPEC.into(),
        action: Action::WriteKernelspec { name: kernelspec_name.clone(), display_name },
    });
    steps.push(Step {
        stage: stage::LAUNCH.into(),
        action: Action::LaunchKernel { imports: kernel.check_libs.clone() },
    });

    KernelPlan {
        kernel: key.to_string(),
        display_name: kernel.display_name.clone(),
        modules,
        venv,
        kernelspec_dir: opts.kernels_dir.join(kernelspec_name),
        argv_prefix: opts.argv_prefix.clone(),
        installer: opts.installer,
        steps,
    }
}

/// Venvs are named by what goes into them, so an unchanged kernel reuses its
/// venv and a changed one is built beside the working one. A uv venv has no
/// pip of its own, so the pip backend never reuses one (pip venvs keep the
/// names they had before uv existed).
fn venv_hash(partition: &str, modules: &[String], pip_steps: &[Step], python: &str, installer: Installer) -> String {
    let mut h = Sha256::new();
    let mut feed = |s: &str| {
        h.update(s.as_bytes());
        h.update([0]);
    };
    feed(partition);
    feed(python);
    if installer != Installer::Pip {
        feed(installer.name());
    }
    modules.iter().for_each(|m| feed(m));
    for step in pip_steps {
        if let Action::PipInstall { args, .. } = &step.action {
            feed("pip");
            args.iter().for_each(|a| feed(a));
        }
    }
    hex::encode(&h.finalize()[..6])
}

impl KernelPlan {
    pub fn venv_python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }
}

#[cfg(test)]
mod tests;
