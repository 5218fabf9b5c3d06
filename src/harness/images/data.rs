//! The module tree data from `containers/`, embedded so the binary works outside
//! the repository. `HPC_KERNELS_CONTAINERS=DIR` reads a directory of the same
//! layout instead (e.g. after `images import-spider` added a partition).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::overlay::Overlay;
use super::spider::{self, Tree};
use crate::error::{Error, Result};

const OVERLAY: &str = include_str!("../../../containers/overlay.json");
const PARTITIONS: &str = include_str!("../../../containers/partitions.json");
const SPIDER: &[(&str, &str)] = &[
    ("alpha", include_str!("../../../containers/alpha/spider.json")),
    ("barnard", include_str!("../../../containers/barnard/spider.json")),
    ("romeo", include_str!("../../../containers/romeo/spider.json")),
];

/// Environment variable naming a directory that replaces the embedded data.
pub const CONTAINERS_ENV: &str = "HPC_KERNELS_CONTAINERS";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionInfo {
    /// Short host name of the emulated node (`login1`).
    pub host: String,
    #[serde(default)]
    pub description: String,
    /// The release a login shell starts with (`LMOD_SYSTEM_DEFAULT_MODULES`),
    /// when `--release` does not choose one; [`super::DEFAULT_RELEASE`] if unset.
    #[serde(default)]
    pub login_release: Option<String>,
}

impl PartitionInfo {
    pub fn login_release(&self) -> &str {
        self.login_release.as_deref().unwrap_or(super::recipe::DEFAULT_RELEASE)
    }
}

/// Where the data comes from.
#[derive(Clone, Debug)]
pub enum Source {
    Embedded,
    Dir(PathBuf),
}

impl Source {
    pub fn from_env() -> Source {
        match std::env::var_os(CONTAINERS_ENV) {
            Some(dir) if !dir.is_empty() => Source::Dir(PathBuf::from(dir)),
            _ => Source::Embedded,
        }
    }

    fn read(&self, relative: &str) -> Result<(String, String)> {
        match self {
            Source::Embedded => {
                let text = match relative {
                    "overlay.json" => Some(OVERLAY),
                    "partitions.json" => Some(PARTITIONS),
                    other => SPIDER
                        .iter()
                        .find(|(p, _)| other.strip_prefix(p).is_some_and(|rest| rest == "/spider.json"))
                        .map(|(_, text)| *text),
                };
                let text = text.ok_or_else(|| {
                    Error::environment(format!("containers/{relative} is not part of this binary"))
                        .with_hint(format!("point {CONTAINERS_ENV} at a containers/ directory that has it"))
                })?;
                Ok((format!("containers/{relative}"), text.to_string()))
            }
            Source::Dir(dir) => {
                let path = dir.join(relative);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::io("read", &path, e).with_hint(format!("{CONTAINERS_ENV} must name a directory laid out like containers/"))
                })?;
                Ok((path.display().to_string(), text))
            }
        }
    }

    pub fn partitions(&self) -> Result<BTreeMap<String, PartitionInfo>> {
        let (origin, text) = self.read("partitions.json")?;
        serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!("{origin}: invalid partition list (line {}, column {})", e.line(), e.column()))
                .with_source(e)
                .with_hint("expected {\"PARTITION\": {\"host\": \"login1\", \"description\": \"…\"}, …}")
        })
    }

    pub fn overlay(&self) -> Result<Overlay> {
        let (origin, text) = self.read("overlay.json")?;
        Overlay::parse(&origin, &text)
    }

    /// The partition's tree and the name of the file it came from.
    pub fn tree(&self, partition: &str) -> Result<(Tree, String)> {
        let (origin, text) = self.read(&format!("{partition}/spider.json"))?;
        Ok((spider::parse(&origin, &text)?, origin))
    }
}

/// Relative origin used in generated file headers (stable across machines).
pub fn origin_label(partition: &str) -> String {
    format!("containers/{partition}/spider.json and containers/overlay.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_is_valid_and_consistent() {
        let source = Source::Embedded;
        let partitions = source.partitions().expect("partitions.json");
        assert_eq!(partitions.keys().map(String::as_str).collect::<Vec<_>>(), ["alpha", "barnard", "romeo"]);
        source.overlay().expect("overlay.json");
        for name in partitions.keys() {
            let (tree, _) = source.tree(name).expect("spider.json");
            // barnard has 24.10 too (CUDA there is a Core module).
            let expected: &[&str] = if name == "barnard" { &["23.04", "23.10", "24.04", "24.10"] } else { &["23.04", "23.10", "24.04"] };
            assert_eq!(tree.releases(), expected, "{name}");
            let login = partitions[name].login_release();
            assert!(tree.releases().iter().any(|r| r == login), "{name}: login release {login} is not in its tree");
            // Every overlay dependency of this partition's modules exists on it.
            let overlay = source.overlay().expect("overlay.json");
            super::super::generate::generate(&tree, &overlay, name).unwrap_or_else(|e| panic!("{name}: {}", e.message));
        }
    }

    /// Module packages are import-only stand-ins: one that pip counts as
    /// installed for a Jupyter-stack requirement would be imported instead of
    /// the real package and break the kernel itself.
    #[test]
    fn module_packages_stay_clear_of_the_jupyter_stack() {
        use crate::harness::wheelhouse::{normalize, JUPYTER_STACK_LOCK};
        let stack: Vec<String> = JUPYTER_STACK_LOCK
            .lines()
            .filter_map(|l| l.split_once("=="))
            .map(|(name, _)| normalize(name.trim()))
            .collect();
        assert!(stack.contains(&"ipykernel".to_string()));
        let overlay = Source::Embedded.overlay().expect("overlay.json");
        for (key, entry) in &overlay.modules {
            for package in entry.python_packages.iter().flatten() {
                assert!(!stack.contains(&normalize(&package.name)), "{key} provides {}, part of the Jupyter stack", package.name);
            }
        }
    }
}
