//! Real code for the Python packages that modules provide, wherever PyPI has
//! a pure-Python wheel of the exact version the module ships (`decorator`,
//! `requests`, `mpmath` …): unpacked over the emulated package at image
//! build time, so a venv package that imports it gets the real thing, as on
//! the cluster. Binary packages (numpy, torch …) stay emulated: a dist-info
//! with the real metadata and an `__init__` that only carries the version.

use std::collections::BTreeMap;
use std::path::Path;

use super::generate::{dist_info_name, install_root, Content, LayerFile};
use super::overlay::Overlay;
use super::spider::Tree;
use crate::error::{Error, Result};
use crate::harness::index::{self, PureWheel};

/// Where the layer's install script lives, and where the wheels are copied.
pub const SCRIPT: &str = "/opt/hpc-kernels/module-wheels.sh";
pub const WHEEL_DIR: &str = "/opt/hpc-kernels/module-wheels";

/// One package of one module, with its real wheel.
#[derive(Clone, Debug)]
pub struct ModuleWheel {
    pub site: String,
    pub dist: String,
    pub version: String,
    pub import_top: String,
    pub wheel: PureWheel,
}

/// What a partition's modules provide: real code, and what stays emulated.
#[derive(Clone, Debug, Default)]
pub struct ModulePackages {
    pub wheels: Vec<ModuleWheel>,
    /// Module → `name version` of each package emulated without its code.
    pub emulated: BTreeMap<String, Vec<String>>,
}

/// The module packages of `tree` that have a pure-Python wheel; `found`
/// memoises lookups across partitions.
pub fn collect(
    tree: &Tree,
    overlay: &Overlay,
    cache_dir: &Path,
    found: &mut BTreeMap<(String, String), Option<PureWheel>>,
) -> Result<ModulePackages> {
    let mut out = Vec::new();
    let mut emulated: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for module in tree.modules.values() {
        let extra = overlay.for_module(&module.name, &module.full);
        let site = format!("{}/{}", install_root(overlay, module), overlay.site_packages.trim_matches('/'));
        for package in extra.python_packages.iter().flatten() {
            let version = package.version.as_deref().or(module.version.as_deref()).unwrap_or("0").to_string();
            let key = (package.name.clone(), version.clone());
            if !found.contains_key(&key) {
                let wheel = index::pure_python_wheel(&cache_dir.join("index"), &package.name, &version).map_err(|why| {
                    Error::environment(format!("fetch the real code of {} {version} (module {}) from PyPI", package.name, module.full))
                        .with_hint(format!("{why}; the images need PyPI once, later builds use the cache"))
                })?;
                found.insert(key.clone(), wheel);
            }
            match found[&key].clone() {
                Some(wheel) => {
                    let import_top = package.import_name().split('.').next().unwrap_or_default().to_string();
                    out.push(ModuleWheel { site: site.clone(), dist: package.name.clone(), version, import_top, wheel });
                }
                None => emulated.entry(module.full.clone()).or_default().push(format!("{} {version}", package.name)),
            }
        }
    }
    out.sort_by(|a, b| (&a.site, &a.dist).cmp(&(&b.site, &b.dist)));
    out.dedup_by(|a, b| a.site == b.site && a.dist == b.dist);
    Ok(ModulePackages { wheels: out, emulated })
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The layer's script that replaces each emulated package by its wheel's
/// files; it names every wheel's sha256, so the image hash covers them.
pub fn install_script(wheels: &[ModuleWheel]) -> LayerFile {
    let mut text = String::from("#!/bin/sh\n# Real code of module-provided packages (pure-Python wheels from PyPI).\nset -eu\n");
    for w in wheels {
        let site = quote(&w.site);
        text.push_str(&format!("# {} sha256={}\n", w.wheel.file_name, w.wheel.sha256));
        text.push_str(&format!(
            "rm -rf {site}/{} {site}/{}-{}.dist-info\n",
            quote(&w.import_top),
            quote(&dist_info_name(&w.dist)),
            quote(&w.version)
        ));
        text.push_str(&format!("python3 -m zipfile -e {} {site}\n", quote(&format!("{WHEEL_DIR}/{}", w.wheel.file_name))));
    }
    LayerFile { path: SCRIPT.to_string(), content: Content::File { text, executable: true } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_replaces_the_emulated_package_and_names_the_hash() {
        let wheel = ModuleWheel {
            site: "/sw/installed/Python/3.10.4/lib/python3.10/site-packages".into(),
            dist: "decorator".into(),
            version: "5.1.1".into(),
            import_top: "decorator".into(),
            wheel: PureWheel { path: "/c/x".into(), file_name: "decorator-5.1.1-py3-none-any.whl".into(), sha256: "ab".repeat(32) },
        };
        let LayerFile { path, content: Content::File { text, executable: true } } = install_script(&[wheel]) else { panic!("not an executable file") };
        assert_eq!(path, SCRIPT);
        let site = "'/sw/installed/Python/3.10.4/lib/python3.10/site-packages'";
        assert!(text.contains(&format!("rm -rf {site}/'decorator' {site}/'decorator'-'5.1.1'.dist-info\n")), "{text}");
        assert!(text.contains(&format!("python3 -m zipfile -e '/opt/hpc-kernels/module-wheels/decorator-5.1.1-py3-none-any.whl' {site}\n")), "{text}");
        assert!(text.contains(&"ab".repeat(32)), "{text}");
    }
}
