//! The typed kernel spec, produced only from a spec that passed lint.

use indexmap::IndexMap;
use serde::Serialize;

/// A linted kernel spec. Maps keep the order of the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Spec {
    /// `modules_by_cluster`: partition → modules, split on whitespace.
    pub modules_by_cluster: IndexMap<String, Vec<String>>,
    /// `pip_module_groups`: group name → arguments for one `pip install`.
    pub pip_module_groups: IndexMap<String, PipGroup>,
    /// `kernels`: kernel key (a valid kernelspec name) → kernel.
    pub kernels: IndexMap<String, Kernel>,
    /// sha256 of the spec file's bytes, hex.
    pub source_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PipGroup {
    /// A plain string: the same pip arguments on every partition.
    Common { args: Vec<String> },
    /// `{"pip_complex": {partition: "args"}}`; a partition missing here skips the group.
    PerPartition { args: IndexMap<String, Vec<String>> },
}

impl PipGroup {
    /// The pip arguments on `partition`, or `None` when the group skips it.
    pub fn args_for(&self, partition: &str) -> Option<&[String]> {
        match self {
            PipGroup::Common { args } => Some(args),
            PipGroup::PerPartition { args } => args.get(partition).map(Vec::as_slice),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kernel {
    /// `name`: the display name shown in JupyterLab.
    pub display_name: String,
    /// `module_load`: modules loaded after the partition's, on every partition.
    pub module_load: Vec<String>,
    /// `module_load_cluster`: extra modules per partition, loaded after `module_load`.
    pub module_load_cluster: IndexMap<String, Vec<String>>,
    /// `pip_dependencies`: group names, installed in this order.
    pub pip_dependencies: Vec<String>,
    /// `check_libs`: Python import names.
    pub check_libs: Vec<String>,
    /// `test_script`: run under `bash -eo pipefail` in the kernel's environment.
    pub test_script: Option<String>,
}

impl Spec {
    /// Partitions this spec names anywhere, in first-seen order.
    pub fn partitions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |p: &String| {
            if !out.contains(p) {
                out.push(p.clone());
            }
        };
        self.modules_by_cluster.keys().for_each(&mut add);
        for group in self.pip_module_groups.values() {
            if let PipGroup::PerPartition { args } = group {
                args.keys().for_each(&mut add);
            }
        }
        for kernel in self.kernels.values() {
            kernel.module_load_cluster.keys().for_each(&mut add);
        }
        out
    }
}
