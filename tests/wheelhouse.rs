//! The wheelhouse for the example spec, used for real: Debian's python3 makes
//! a venv, its pip installs every pip group from the `file://` index with
//! every network attempt sent to a dead proxy, and every check_lib imports.
//!
//! Real Jupyter-stack wheels are cached in `$HPC_KERNELS_CACHE` (default
//! `~/.cache/hpc-kernels`); the first run downloads them from PyPI.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hpc_kernels::harness::wheelhouse::Wheelhouse;
use hpc_kernels::paths::default_cache_dir;
use hpc_kernels::plan::IndexMapping;
use hpc_kernels::spec::PipGroup;

/// Debian's interpreter: the containers run the same one.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// Imports the kernels get from their Lmod modules, not from pip.
const MODULE_PROVIDED: &[&str] = &["torch", "tensorflow"];
/// Nothing listens on port 9 (discard): any network attempt fails at once.
const DEAD_PROXY: &str = "http://127.0.0.1:9";

fn example_spec() -> hpc_kernels::spec::Spec {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/example.json");
    hpc_kernels::spec::load(&file).expect("example spec loads").0
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A command that cannot reach any network and ignores the host's pip configuration.
fn offline(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    for var in ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PYTHONPATH", "PYTHONHOME", "NO_PROXY", "no_proxy"] {
        cmd.env_remove(var);
    }
    for var in ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"] {
        cmd.env(var, DEAD_PROXY);
    }
    cmd.env("PIP_CONFIG_FILE", "/dev/null").env("PIP_DISABLE_PIP_VERSION_CHECK", "1").env("PIP_NO_INPUT", "1").env("PYTHONNOUSERSITE", "1");
    cmd
}

/// Every distinct argument list of every group on every partition.
fn pip_arg_lists(spec: &hpc_kernels::spec::Spec) -> Vec<(String, Vec<String>)> {
    let mut lists: Vec<(String, Vec<String>)> = Vec::new();
    for (group, pip) in &spec.pip_module_groups {
        let variants: Vec<(String, &Vec<String>)> = match pip {
            PipGroup::Common { args } => vec![(group.clone(), args)],
            PipGroup::PerPartition { args } => args.iter().map(|(p, a)| (format!("{group}@{p}"), a)).collect(),
        };
        for (label, args) in variants {
            if !lists.iter().any(|(_, a)| a == args) {
                lists.push((label, args.clone()));
            }
        }
    }
    lists
}

#[test]
fn example_spec_installs_offline_from_the_wheelhouse() {
    if !Path::new(SYSTEM_PYTHON).is_file() {
        panic!("{SYSTEM_PYTHON} is missing: apt-get install python3 python3-venv");
    }
    let spec = example_spec();
    let cache = default_cache_dir();
    let started = std::time::Instant::now();
    let house = Wheelhouse::prepare(&spec, &cache, &mut |line| eprintln!("{line}")).expect("wheelhouse prepared");
    eprintln!("prepared {} in {:.1?}", house.dir.display(), started.elapsed());

    let served = |name: &str| house.packages.iter().find(|p| p.name.eq_ignore_ascii_case(name));
    assert!(!served("ipykernel").expect("ipykernel served").emulated);
    assert!(!served("pyzmq").expect("pyzmq served").emulated);
    assert_eq!(served("nbformat").expect("nbformat served").version, "5.0.2");
    let emulated: Vec<&str> = house.emulated().iter().map(|p| p.name.as_str()).collect();
    for name in ["beautifulsoup4", "tensorflow", "nvidia-cudnn-cu12", "xarray", "torchvision", "pybrain"] {
        assert!(emulated.contains(&name), "{name} should be emulated: {emulated:?}");
    }
    assert!(!emulated.contains(&"setuptools") && !emulated.contains(&"wheel"), "{emulated:?}");

    let work = tempfile::tempdir().expect("temp dir");
    let venv = work.path().join("venv");
    let made = Command::new(SYSTEM_PYTHON).args(["-m", "venv"]).arg(&venv).output().expect("python3 runs");
    assert!(made.status.success(), "python3 -m venv failed (apt-get install python3-venv?):\n{}", text(&made));
    let python: PathBuf = venv.join("bin/python");

    let index = house.index_url();
    let mapping = IndexMapping { default_index: Some(index.clone()), rules: vec![("*".to_string(), index.clone())] };
    for (label, args) in pip_arg_lists(&spec) {
        let (args, _) = mapping.apply(&args);
        let out = offline(&python).args(["-m", "pip", "install", "--no-cache-dir"]).args(&args).output().expect("pip runs");
        assert!(out.status.success(), "pip install for {label} ({args:?}) failed:\n{}", text(&out));
    }

    let mut imports: Vec<&str> = vec!["ipykernel", "zmq", "tornado", "debugpy", "psutil"];
    for kernel in spec.kernels.values() {
        for lib in &kernel.check_libs {
            if !MODULE_PROVIDED.contains(&lib.as_str()) && !imports.contains(&lib.as_str()) {
                imports.push(lib);
            }
        }
    }
    let failed: Vec<String> = imports
        .iter()
        .filter_map(|module| {
            let out = offline(&python).args(["-c", "import importlib, sys; importlib.import_module(sys.argv[1])", module]).output().expect("python runs");
            (!out.status.success()).then(|| format!("{module}: {}", text(&out)))
        })
        .collect();
    assert!(failed.is_empty(), "imports failed:\n{}", failed.join("\n"));

    let marker = "import bs4, ipykernel, netCDF4, sklearn; print(bs4.__hpc_kernels_emulated__, getattr(ipykernel, '__hpc_kernels_emulated__', False), netCDF4.__version__, sklearn.__version__)";
    let out = offline(&python).args(["-c", marker]).output().expect("python runs");
    assert_eq!(text(&out).trim(), "True False 1.0.0 1.0.0");

    // Reuse: the same spec gives the same directory without rebuilding.
    let again = Wheelhouse::prepare(&spec, &cache, &mut |_| {}).expect("wheelhouse reused");
    assert_eq!(again.dir, house.dir);
}

fn spec_with_group(dir: &Path, group: &str) -> hpc_kernels::spec::Spec {
    let file = dir.join("spec.json");
    let json = serde_json::json!({
        "modules_by_cluster": {"barnard": "release/23.10"},
        "pip_module_groups": {"base": group},
        "kernels": {"k": {"name": "K", "module_load": [], "pip_dependencies": ["base"], "check_libs": "ipykernel", "test_script": "true"}}
    });
    std::fs::write(&file, json.to_string()).expect("spec written");
    hpc_kernels::spec::load(&file).expect("spec loads").0
}

#[test]
fn a_different_pin_of_a_locked_package_is_served_for_real() {
    let work = tempfile::tempdir().expect("temp dir");
    let spec = spec_with_group(work.path(), "ipykernel==6.0.0 traitlets>=5");
    let cache = default_cache_dir();
    let house = Wheelhouse::prepare(&spec, &cache, &mut |line| eprintln!("{line}")).expect("wheelhouse prepared");
    let mut kernels: Vec<(&str, bool)> =
        house.packages.iter().filter(|p| p.name == "ipykernel").map(|p| (p.version.as_str(), p.emulated)).collect();
    kernels.sort();
    let locked = hpc_kernels::harness::wheelhouse::JUPYTER_STACK_LOCK
        .lines()
        .find_map(|l| l.strip_prefix("ipykernel=="))
        .expect("ipykernel is locked");
    assert_eq!(kernels, vec![("6.0.0", false), (locked, false)]);
    assert!(house.emulated().is_empty(), "{:?}", house.emulated());
    let page = std::fs::read_to_string(house.dir.join("simple/ipykernel/index.html")).expect("project page");
    assert!(page.contains("ipykernel-6.0.0-py3-none-any.whl#sha256="), "{page}");
}

#[test]
fn a_pin_pypi_cannot_serve_is_an_environment_error() {
    let work = tempfile::tempdir().expect("temp dir");
    let spec = spec_with_group(work.path(), "ipykernel==0.0.0.1");
    let cache = default_cache_dir();
    let err = Wheelhouse::prepare(&spec, &cache, &mut |_| {}).expect_err("no such ipykernel");
    eprintln!("{}\nhint: {:?}", err.message, err.hint);
    assert_eq!(err.exit_code(), hpc_kernels::ExitCode::Environment);
    assert!(err.message.contains("pip download of ipykernel==0.0.0.1"), "{}", err.message);
    // Only a reached index that lacks the version passes; an unreachable one
    // is a different failure, and this test says so instead of passing.
    assert!(
        !err.message.contains("could not be reached"),
        "PyPI was not reachable, so this test proves nothing about the pin: {}",
        err.message
    );
    assert!(err.message.contains("the package index has no matching distribution"), "{}", err.message);
    assert!(err.hint.as_deref().unwrap_or("").contains("the index was reached"), "{:?}", err.hint);
}
