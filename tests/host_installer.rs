//! The two installer backends on this host (Debian's Lmod, a module tree made
//! here, real pip and uv): the same distributions and the same kernelspec;
//! and a rerun with nothing changed that runs nothing.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// uv from the tools venv, where scripts/setup-host.sh installs it.
fn uv_dir() -> PathBuf {
    let bin = hpc_kernels::harness::wheelhouse::tools::tools_venv(&hpc_kernels::paths::default_cache_dir()).join("bin");
    let ok = std::process::Command::new(bin.join("uv")).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs uv in {}: run scripts/setup-host.sh", bin.display());
    bin
}

/// A site whose `Demo/1.0` module also provides the distribution tomli 2.0.1,
/// which a pip group asks for: pip keeps it, and so must uv.
fn site() -> (Site, PathBuf) {
    let site = Site::new();
    let pkgs = site.path("software/Demo/1.0/site-packages");
    std::fs::create_dir_all(pkgs.join("tomli")).unwrap();
    std::fs::create_dir_all(pkgs.join("tomli-2.0.1.dist-info")).unwrap();
    std::fs::write(pkgs.join("tomli/__init__.py"), "").unwrap();
    std::fs::write(pkgs.join("tomli-2.0.1.dist-info/METADATA"), "Metadata-Version: 2.1\nName: tomli\nVersion: 2.0.1\n").unwrap();
    let spec = site.spec_with(
        r#"{ "jupyter": "ipykernel", "extra": "tomli" }"#,
        r#"{ "demo": { "name": "Demo", "module_load": ["Demo/1.0"], "pip_dependencies": ["jupyter", "extra"],
             "check_libs": "demo_pkg ipykernel tomli", "test_script": "python -c 'import tomli, demo_pkg'" } }"#,
    );
    (site, spec)
}

fn install(site: &Site, spec: &Path, extra: &[&str]) -> (bool, serde_json::Value) {
    let path = format!("{}:{}", uv_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = site.install_command(spec, &args).env("PATH", path).output().unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

fn steps(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["partitions"][0]["kernels"][0]["steps"].as_array().unwrap().clone()
}

fn step<'a>(steps: &'a [serde_json::Value], stage: &str) -> &'a serde_json::Value {
    steps.iter().find(|s| s["stage"] == stage).unwrap_or_else(|| panic!("no step {stage}: {steps:?}"))
}

/// The venv's `lib/pythonX.Y/site-packages`.
fn site_packages(venv: &Path) -> PathBuf {
    std::fs::read_dir(venv.join("lib")).unwrap().flatten().next().unwrap().path().join("site-packages")
}

/// `name-version.dist-info` in the venv, without the tools a venv is made with.
fn venv_distributions(venv: &Path) -> Vec<String> {
    let site = site_packages(venv);
    let mut names: Vec<String> = std::fs::read_dir(site)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dist-info") && !["pip-", "setuptools-", "wheel-"].iter().any(|t| n.starts_with(t)))
        .collect();
    names.sort();
    names
}

/// kernel.json and the partition's launcher with the site's paths, the venv's
/// and launcher's hashes and the install time taken out.
fn normalised_kernelspec(site: &Site) -> String {
    let kj = site.kernel_json();
    let entry = &kj["metadata"]["hpc_kernels"]["partitions"]["testpart"];
    let venv = entry["venv"].as_str().unwrap().to_string();
    let launcher_name = entry["launcher"].as_str().unwrap().to_string();
    let dir = site.path("prefix/share/jupyter/kernels/demo");
    let text = format!(
        "{}\n{}",
        std::fs::read_to_string(dir.join("kernel.json")).unwrap(),
        std::fs::read_to_string(dir.join(&launcher_name)).unwrap()
    );
    text.replace(&venv, "VENV")
        .replace(&launcher_name, "LAUNCHER")
        .replace(entry["installed_at"].as_str().unwrap(), "TIME")
        .replace(&site.root.path().to_string_lossy().into_owned(), "SITE")
}

#[test]
fn pip_and_uv_install_the_same_distributions_and_the_same_kernelspec() {
    require_lmod();
    let (pip_site, pip_spec) = site();
    let (uv_site, uv_spec) = site();
    let (ok, pip) = install(&pip_site, &pip_spec, &["--installer", "pip"]);
    assert!(ok, "{pip:#}");
    let (ok, uv) = install(&uv_site, &uv_spec, &["--installer", "uv"]);
    assert!(ok, "{uv:#}");

    let uv_steps = steps(&uv);
    assert!(step(&uv_steps, "venv")["command"].as_str().unwrap().starts_with("uv venv "), "{uv_steps:?}");
    assert!(step(&uv_steps, "pip:jupyter")["command"].as_str().unwrap().starts_with("uv pip install "), "{uv_steps:?}");
    let extra_log = step(&uv_steps, "pip:extra")["log"].as_str().unwrap();
    let counted = extra_log.lines().find(|l| l.starts_with("installed outside the venv, counted as installed")).unwrap_or("");
    assert!(counted.split_whitespace().any(|w| w == "tomli==2.0.1"), "{extra_log}");
    assert!(step(&steps(&pip), "pip:jupyter")["command"].as_str().unwrap().contains(" -m pip install "));

    let pip_dists = venv_distributions(pip_site.venv_python().parent().unwrap().parent().unwrap());
    let uv_dists = venv_distributions(uv_site.venv_python().parent().unwrap().parent().unwrap());
    assert!(pip_dists.iter().any(|d| d.starts_with("ipykernel-")), "{pip_dists:?}");
    assert!(!pip_dists.iter().any(|d| d.starts_with("tomli-")), "pip kept the module's tomli: {pip_dists:?}");
    assert_eq!(pip_dists, uv_dists);
    assert_eq!(normalised_kernelspec(&pip_site), normalised_kernelspec(&uv_site));
    // Both venvs have a `pip` that lists (so would install into) the venv.
    for site in [&pip_site, &uv_site] {
        let pip = site.venv_python().with_file_name("pip");
        let out = std::process::Command::new(&pip).args(["list", "--disable-pip-version-check"]).output().unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && listed.contains("ipykernel"), "{}: {listed}{}", pip.display(), String::from_utf8_lossy(&out.stderr));
    }
    let venv_log = step(&steps(&pip), "venv")["log"].as_str().unwrap().to_string();
    assert!(venv_log.contains("of the module's Python serves this venv") || venv_log.contains("installing ensurepip's pip"), "{venv_log}");
    assert!(uv_site.run_cell("import tomli, demo_pkg; print('OK')").contains("STATUS ok"));
}

#[test]
fn a_rerun_with_nothing_changed_runs_nothing_until_asked() {
    require_lmod();
    let (site, spec) = site();
    let (ok, first) = install(&site, &spec, &["--installer", "uv"]);
    assert!(ok, "{first:#}");
    let kernel_json = std::fs::read(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap();

    let (ok, again) = install(&site, &spec, &["--installer", "uv"]);
    assert!(ok, "{again:#}");
    let s = steps(&again);
    assert_eq!(step(&s, "modules")["status"], "passed");
    assert_eq!(step(&s, "venv")["status"], "passed");
    assert!(step(&s, "venv")["log"].as_str().unwrap().starts_with("reusing "), "{s:?}");
    for later in &s[2..] {
        assert_eq!(later["status"], "skipped", "{later}");
        assert!(later["reason"].as_str().unwrap().starts_with("reused: unchanged since the install of "), "{later}");
    }
    assert!(again["partitions"][0]["kernels"][0]["kernelspec_dir"].as_str().unwrap().ends_with("kernels/demo"));
    assert_eq!(std::fs::read(site.path("prefix/share/jupyter/kernels/demo/kernel.json")).unwrap(), kernel_json);
    let logs: Vec<String> = std::fs::read_dir(site.path("ws/logs/testpart/demo"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(logs, ["01-modules.log"], "only the module load ran");

    let (ok, rechecked) = install(&site, &spec, &["--installer", "uv", "--recheck"]);
    assert!(ok, "{rechecked:#}");
    assert!(steps(&rechecked).iter().all(|s| s["status"] == "passed"), "{rechecked:#}");

    // A venv changed behind our back is not reused.
    let venv = site.venv_python().parent().unwrap().parent().unwrap().to_path_buf();
    let site_packages = site_packages(&venv);
    std::fs::create_dir_all(site_packages.join("stray-1.0.dist-info")).unwrap();
    let (ok, changed) = install(&site, &spec, &["--installer", "uv"]);
    assert!(ok, "{changed:#}");
    assert_eq!(step(&steps(&changed), "launch")["status"], "passed");
}

/// `--reuse-venv`: pip is not rerun in a venv whose groups passed and that is
/// unchanged, every check after pip is; a changed venv gets pip again.
#[test]
fn reuse_venv_skips_pip_and_runs_every_check() {
    require_lmod();
    let (site, spec) = site();
    let (ok, first) = install(&site, &spec, &["--installer", "uv"]);
    assert!(ok, "{first:#}");

    let (ok, again) = install(&site, &spec, &["--installer", "uv", "--reuse-venv"]);
    assert!(ok, "{again:#}");
    let s = steps(&again);
    assert!(step(&s, "venv")["log"].as_str().unwrap().starts_with("reusing the installed venv "), "{s:?}");
    for group in ["pip:jupyter", "pip:extra"] {
        assert_eq!(step(&s, group)["status"], "passed");
        assert!(step(&s, group)["log"].as_str().unwrap().starts_with("not rerun: its pip groups were installed at "), "{s:?}");
    }
    for check in ["consistency", "import:tomli", "test_script", "kernelspec", "launch"] {
        assert_eq!(step(&s, check)["status"], "passed", "{check} ran: {s:?}");
        assert!(step(&s, check).get("reason").is_none_or(|r| r.is_null()), "{check} ran: {s:?}");
    }
    let notes = again["partitions"][0]["kernels"][0]["notes"].to_string();
    assert!(notes.contains("pip was not rerun (--reuse-venv)"), "{notes}");

    // A distribution added behind our back: the fingerprint differs, pip runs.
    let venv = site.venv_python().parent().unwrap().parent().unwrap().to_path_buf();
    let site_packages = site_packages(&venv);
    std::fs::create_dir_all(site_packages.join("stray-1.0.dist-info")).unwrap();
    let (ok, changed) = install(&site, &spec, &["--installer", "uv", "--reuse-venv"]);
    assert!(ok, "{changed:#}");
    let log = step(&steps(&changed), "pip:jupyter")["log"].as_str().unwrap().to_string();
    assert!(!log.starts_with("not rerun"), "{log}");
}
