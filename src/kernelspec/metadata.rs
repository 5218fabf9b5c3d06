//! `kernel.json` with one provenance entry per partition, and reading it back
//! (including kernelspecs of earlier versions, which had one partition).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{LAUNCHER, METADATA_KEY};

/// How kernelspecs map to partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One kernelspec (the kernel key) for every partition.
    #[default]
    Shared,
    /// One kernelspec `KEY-PARTITION` per partition.
    PerPartition,
}

/// What one install on one partition recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PartitionEntry {
    /// The partition's launcher, a file in the kernelspec directory.
    pub launcher: String,
    pub tool_version: String,
    pub spec_file: String,
    pub spec_sha256: String,
    pub installed_at: String,
    pub modules: Vec<String>,
    pub loaded_modules: Vec<String>,
    pub venv: String,
    pub lmod_init: String,
    pub modulepath: String,
    pub argv_prefix: Vec<String>,
    pub check_libs: Vec<String>,
}

/// A kernelspec of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernelspec {
    pub dir_name: String,
    pub kernel: String,
    pub display_name: String,
    pub layout: Layout,
    pub partitions: BTreeMap<String, PartitionEntry>,
}

impl Kernelspec {
    /// `partition=launcher,…`: the dispatcher's table, passed in `argv` so that
    /// `kernel.json` alone (replaced in one rename) decides what starts.
    pub fn launcher_table(&self) -> String {
        self.partitions.iter().map(|(p, e)| format!("{p}={}", e.launcher)).collect::<Vec<_>>().join(",")
    }

    pub fn kernel_json(&self) -> String {
        let value = json!({
            "argv": [format!("{{resource_dir}}/{LAUNCHER}"), "--partitions", self.launcher_table(), "-f", "{connection_file}"],
            "display_name": self.display_name,
            "language": "python",
            "interrupt_mode": "signal",
            "metadata": {
                "debugger": true,
                METADATA_KEY: {
                    "installed_by": "hpc-kernels",
                    "kernel": self.kernel,
                    "layout": self.layout,
                    "partitions": self.partitions,
                }
            }
        });
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads our kernelspec from `kernel.json` text. `Ok(None)` for a foreign
    /// kernel; a kernelspec written before partitions were shared comes back
    /// with `legacy` set (its one launcher is `launch-kernel.sh` itself).
    pub fn parse(dir_name: &str, text: &str) -> Option<Parsed> {
        let json: Value = serde_json::from_str(text).ok()?;
        let display_name = json.get("display_name").and_then(Value::as_str).unwrap_or("").to_string();
        let Some(ours) = json.get("metadata").and_then(|m| m.get(METADATA_KEY)) else {
            return Some(Parsed::Foreign { display_name });
        };
        let kernel = ours.get("kernel").and_then(Value::as_str).unwrap_or(dir_name).to_string();
        if let Some(partitions) = ours.get("partitions") {
            let partitions: BTreeMap<String, PartitionEntry> = serde_json::from_value(partitions.clone()).unwrap_or_default();
            let layout = ours.get("layout").and_then(|l| serde_json::from_value(l.clone()).ok()).unwrap_or_default();
            let spec = Kernelspec { dir_name: dir_name.to_string(), kernel, display_name, layout, partitions };
            return Some(Parsed::Ours { spec, legacy: false });
        }
        let partition = ours.get("partition").and_then(Value::as_str).unwrap_or("").to_string();
        let mut entry: PartitionEntry = serde_json::from_value(ours.clone()).unwrap_or_default();
        entry.launcher = LAUNCHER.to_string();
        let spec = Kernelspec {
            dir_name: dir_name.to_string(),
            kernel,
            display_name,
            layout: Layout::Shared,
            partitions: [(partition, entry)].into_iter().collect(),
        };
        Some(Parsed::Ours { spec, legacy: true })
    }
}

pub enum Parsed {
    Ours { spec: Kernelspec, legacy: bool },
    Foreign { display_name: String },
}
