//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const LMOD_INIT: &str = "/usr/share/lmod/lmod/init/bash";

/// Real-environment tests run everywhere Lmod is installed; in CI a missing
/// Lmod is a failure, on a developer machine a loud skip.
pub fn require_lmod() -> bool {
    if Path::new(LMOD_INIT).is_file() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "Lmod ({LMOD_INIT}) is required in CI: .ci/run installs Debian's lmod");
    eprintln!("\n*** SKIP: Lmod is not installed ({LMOD_INIT}); host install tests did NOT run ***\n");
    false
}

pub fn bin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("hpc-kernels").expect("binary built")
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(rel)
}

/// A small hierarchical module tree: a sticky release, and `Demo/1.0`, whose
/// Python package `demo_pkg` imports only while the module is loaded.
pub fn module_tree(root: &Path) -> PathBuf {
    let mods = root.join("modules");
    let pkgs = root.join("software/Demo/1.0/site-packages");
    std::fs::create_dir_all(mods.join("release")).unwrap();
    std::fs::create_dir_all(mods.join("Demo")).unwrap();
    std::fs::create_dir_all(pkgs.join("demo_pkg")).unwrap();
    std::fs::write(mods.join("release/23.10.lua"), "add_property(\"lmod\",\"sticky\")\n").unwrap();
    std::fs::write(
        mods.join("Demo/1.0.lua"),
        format!(
            "setenv(\"EBROOTDEMO\", \"{0}\")\nsetenv(\"EBVERSIONDEMO\", \"1.0\")\nprepend_path(\"PYTHONPATH\", \"{0}\")\n",
            pkgs.display()
        ),
    )
    .unwrap();
    std::fs::write(pkgs.join("demo_pkg/__init__.py"), "__version__ = '1.0'\n").unwrap();
    mods
}

/// A PYTHONPATH entry whose `ipykernel` breaks any kernel it reaches.
pub fn poison_dir(root: &Path) -> PathBuf {
    let dir = root.join("poison");
    std::fs::create_dir_all(dir.join("ipykernel")).unwrap();
    std::fs::write(dir.join("ipykernel/__init__.py"), "raise ImportError('poisoned PYTHONPATH reached the kernel')\n").unwrap();
    dir
}
