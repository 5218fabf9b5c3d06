//! Kernelspecs: one `kernel.json` for every partition a kernel is installed
//! on (`$HOME` is shared between partitions), a dispatching launcher that
//! picks the partition it starts on, and one launcher per partition that
//! restores that partition's modules and venv. Updates never show Jupyter a
//! half-written kernelspec (see `update`).

mod files;
pub mod launcher;
mod metadata;
mod update;

pub use files::{discard, health, installed, read as read_installed, stage, staging_root, InstalledKernel};
pub use metadata::{Kernelspec, Layout, PartitionEntry};
pub use update::{commit, lock_path, remove_partition, Removed};

use crate::report::KernelspecFiles;

/// The launcher Jupyter starts (`argv[0]`): it dispatches to a partition's launcher.
pub const LAUNCHER: &str = "launch-kernel.sh";
/// Our namespace inside `kernel.json`'s `metadata`.
pub const METADATA_KEY: &str = "hpc_kernels";
/// The launch-check program run by a Jupyter client's Python.
pub const LAUNCH_CHECK_PY: &str = include_str!("launch_check.py");
/// Overrides the partition the launcher detects from the host's domain.
pub const PARTITION_ENV: &str = "HPC_KERNELS_PARTITION";

/// Everything one install of one kernel on one partition records.
pub struct KernelspecInput<'a> {
    /// The kernelspec directory's name (the kernel key, or `KEY-PARTITION`).
    pub dir_name: &'a str,
    /// The spec's kernel key.
    pub kernel: &'a str,
    pub display_name: &'a str,
    pub layout: Layout,
    pub launcher: launcher::LauncherInput<'a>,
    /// `module -t list` at install time, for provenance.
    pub loaded_modules: &'a [String],
    /// Imports `hpc-kernels check` runs in the started kernel.
    pub check_libs: &'a [String],
    /// The spec file, as the command that adds a partition names it.
    pub spec_file: &'a str,
    pub installed_at: &'a str,
    /// `hpc-kernels install …` without `--partition`: how to add a partition.
    pub install_command: &'a [String],
}

/// A rendered install: the kernelspec with this one partition, its launcher
/// and the dispatcher.
pub struct Rendered {
    pub spec: Kernelspec,
    pub partition: String,
    pub partition_launcher: String,
    pub dispatcher: String,
}

impl Rendered {
    pub fn launcher_name(&self) -> &str {
        &self.spec.partitions[&self.partition].launcher
    }
    /// What reports and snapshots show: `kernel.json` and the partition's launcher.
    pub fn files(&self) -> KernelspecFiles {
        KernelspecFiles { kernel_json: self.spec.kernel_json(), launcher: self.partition_launcher.clone() }
    }
}

/// Renders one partition's kernelspec. Pure.
pub fn render(i: &KernelspecInput) -> Rendered {
    let partition_launcher = launcher::render(&i.launcher);
    let entry = PartitionEntry {
        launcher: launcher::partition_file_name(i.launcher.partition, &partition_launcher),
        tool_version: crate::VERSION.to_string(),
        spec_file: i.spec_file.to_string(),
        spec_sha256: i.launcher.spec_sha256.to_string(),
        installed_at: i.installed_at.to_string(),
        modules: i.launcher.modules.to_vec(),
        loaded_modules: i.loaded_modules.to_vec(),
        venv: i.launcher.venv.to_string(),
        lmod_init: i.launcher.lmod_init.to_string(),
        modulepath: i.launcher.modulepath.to_string(),
        argv_prefix: i.launcher.argv_prefix.to_vec(),
        check_libs: i.check_libs.to_vec(),
    };
    let spec = Kernelspec {
        dir_name: i.dir_name.to_string(),
        kernel: i.kernel.to_string(),
        display_name: i.display_name.to_string(),
        layout: i.layout,
        partitions: [(i.launcher.partition.to_string(), entry)].into_iter().collect(),
    };
    Rendered {
        spec,
        partition: i.launcher.partition.to_string(),
        partition_launcher,
        dispatcher: launcher::render_dispatcher(i.kernel, i.install_command),
    }
}

#[cfg(test)]
mod tests;
