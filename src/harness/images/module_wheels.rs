//! Real code for the Python packages that modules provide, unpacked over the
//! emulated package at image build, so a venv package that imports one gets
//! working code, as on the cluster:
//!
//! * a pure-Python wheel of the exact version the module ships (`decorator`,
//!   `requests`, `mpmath` …): the real thing, dist-info and all;
//! * for a binary package built for the module's Python (numpy 1.22.3 has no
//!   build for the images' CPython 3.11), the code of the nearest later
//!   release of the same major version that has one (numpy 1.23.x), under
//!   the module's own dist-info, whose version and metadata stay those of the
//!   module. Each cell that loads such a module says so.
//!
//! What has neither (torch, tensorflow: far over the size limit) keeps an
//! `__init__` that only carries the version.

use std::collections::BTreeMap;
use std::path::Path;

use super::generate::{dist_info_name, install_root, Content, LayerFile};
use super::overlay::Overlay;
use super::spider::Tree;
use crate::error::{Error, Result};
use crate::harness::index::{self, CodeWheel};

/// Larger builds (torch, tensorflow) are not worth their download: their
/// module packages stay import-only.
const CODE_LIMIT: u64 = 64 * 1024 * 1024;

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
    pub code: CodeWheel,
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
    found: &mut BTreeMap<(String, String), Option<CodeWheel>>,
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
                let python = crate::harness::emulation::image_python();
                let wheel = index::module_code_wheel(&cache_dir.join("index"), &package.name, &version, python, CODE_LIMIT).map_err(|why| {
                    Error::environment(format!("fetch the real code of {} {version} (module {}) from PyPI", package.name, module.full))
                        .with_hint(format!("{why}; the images need PyPI once, later builds use the cache"))
                })?;
                found.insert(key.clone(), wheel);
            }
            match found[&key].clone() {
                Some(code) => {
                    if !code.exact {
                        let what = format!("{} {version} (runs the code of {})", package.name, code.code_version);
                        emulated.entry(module.full.clone()).or_default().push(what);
                    }
                    let import_top = package.import_name().split('.').next().unwrap_or_default().to_string();
                    out.push(ModuleWheel { site: site.clone(), dist: package.name.clone(), version, import_top, code });
                }
                None => emulated.entry(module.full.clone()).or_default().push(format!("{} {version} (import only)", package.name)),
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
    let mut text = String::from("#!/bin/sh\n# Code of module-provided packages, from wheels on PyPI (see module_wheels.rs).\nset -eu\n");
    for w in wheels {
        let site = quote(&w.site);
        let wheel = &w.code.wheel;
        let dist_info = |version: &str| format!("{site}/{}-{}.dist-info", quote(&dist_info_name(&w.dist)), quote(version));
        text.push_str(&format!("# {} sha256={}\n", wheel.file_name, wheel.sha256));
        if w.code.exact {
            text.push_str(&format!("rm -rf {site}/{} {}\n", quote(&w.import_top), dist_info(&w.version)));
        } else {
            text.push_str(&format!("rm -rf {site}/{}\n", quote(&w.import_top)));
        }
        text.push_str(&format!("python3 -m zipfile -e {} {site}\n", quote(&format!("{WHEEL_DIR}/{}", wheel.file_name))));
        if !w.code.exact {
            // The module's dist-info (its version, its metadata) stays; the wheel's goes.
            text.push_str(&format!("rm -rf {}\n", dist_info(&w.code.code_version)));
        }
    }
    LayerFile { path: SCRIPT.to_string(), content: Content::File { text, executable: true } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::index::PureWheel;

    #[test]
    fn the_script_replaces_the_emulated_package_and_names_the_hash() {
        let wheel = ModuleWheel {
            site: "/sw/installed/Python/3.10.4/lib/python3.10/site-packages".into(),
            dist: "decorator".into(),
            version: "5.1.1".into(),
            import_top: "decorator".into(),
            code: CodeWheel {
                wheel: PureWheel { path: "/c/x".into(), file_name: "decorator-5.1.1-py3-none-any.whl".into(), sha256: "ab".repeat(32) },
                code_version: "5.1.1".into(),
                exact: true,
            },
        };
        let LayerFile { path, content: Content::File { text, executable: true } } = install_script(&[wheel]) else { panic!("not an executable file") };
        assert_eq!(path, SCRIPT);
        let site = "'/sw/installed/Python/3.10.4/lib/python3.10/site-packages'";
        assert!(text.contains(&format!("rm -rf {site}/'decorator' {site}/'decorator'-'5.1.1'.dist-info\n")), "{text}");
        assert!(text.contains(&format!("python3 -m zipfile -e '/opt/hpc-kernels/module-wheels/decorator-5.1.1-py3-none-any.whl' {site}\n")), "{text}");
        assert!(text.contains(&"ab".repeat(32)), "{text}");
    }

    #[test]
    fn nearer_code_keeps_the_modules_dist_info() {
        let wheel = ModuleWheel {
            site: "/s".into(),
            dist: "numpy".into(),
            version: "1.22.3".into(),
            import_top: "numpy".into(),
            code: CodeWheel {
                wheel: PureWheel { path: "/c/y".into(), file_name: "numpy-1.23.2-cp311-cp311-manylinux_2_17_x86_64.whl".into(), sha256: "cd".repeat(32) },
                code_version: "1.23.2".into(),
                exact: false,
            },
        };
        let LayerFile { content: Content::File { text, .. }, .. } = install_script(&[wheel]) else { panic!("not a file") };
        assert!(text.contains("rm -rf '/s'/'numpy'\n"), "{text}");
        assert!(!text.contains("'1.22.3'"), "the module's dist-info stays: {text}");
        assert!(text.ends_with("rm -rf '/s'/'numpy'-'1.23.2'.dist-info\n"), "{text}");
    }
}
