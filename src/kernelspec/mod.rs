//! Kernelspecs: `kernel.json` + launcher, written to a staging directory,
//! verified, then swapped into place so Jupyter never sees a half-written one.

mod files;
pub mod launcher;

use serde_json::json;

pub use files::{commit, discard, health, installed, stage, staging_root, InstalledKernel};

use crate::report::KernelspecFiles;

/// The launcher's file name inside the kernelspec directory.
pub const LAUNCHER: &str = "launch-kernel.sh";
/// Our namespace inside `kernel.json`'s `metadata`.
pub const METADATA_KEY: &str = "hpc_kernels";
/// The launch-check program run by a Jupyter client's Python.
pub const LAUNCH_CHECK_PY: &str = include_str!("launch_check.py");

/// Everything a kernelspec records.
pub struct KernelspecInput<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub launcher: launcher::LauncherInput<'a>,
    /// `module -t list` at install time, for provenance.
    pub loaded_modules: &'a [String],
    /// Imports `hpc-kernels check` runs in the started kernel.
    pub check_libs: &'a [String],
}

/// Renders `kernel.json` and the launcher. Pure.
pub fn render(i: &KernelspecInput) -> KernelspecFiles {
    let kernel_json = json!({
        "argv": [format!("{{resource_dir}}/{LAUNCHER}"), "-f", "{connection_file}"],
        "display_name": i.display_name,
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {
            "debugger": true,
            METADATA_KEY: {
                "installed_by": "hpc-kernels",
                "tool_version": crate::VERSION,
                "kernel": i.name,
                "partition": i.launcher.partition,
                "spec_sha256": i.launcher.spec_sha256,
                "modules": i.launcher.modules,
                "loaded_modules": i.loaded_modules,
                "venv": i.launcher.venv,
                "lmod_init": i.launcher.lmod_init,
                "modulepath": i.launcher.modulepath,
                "argv_prefix": i.launcher.argv_prefix,
                "check_libs": i.check_libs,
            }
        }
    });
    let mut text = serde_json::to_string_pretty(&kernel_json).unwrap_or_default();
    text.push('\n');
    KernelspecFiles { kernel_json: text, launcher: launcher::render(&i.launcher) }
}

#[cfg(test)]
mod tests;
