//! `list`, `check` and `remove` on a host install.

mod common;

use common::*;
use predicates::prelude::*;

fn manage(site: &Site, args: &[&str]) -> assert_cmd::assert::Assert {
    bin().args(args).arg("--prefix").arg(site.path("prefix")).env("HOME", site.path("home")).write_stdin("").assert()
}

#[test]
fn list_check_and_remove_touch_only_our_kernels() {
    require_lmod();
    let site = Site::new();
    let spec = site.spec("\"true\"", "");
    site.install(&spec).success();
    let foreign = site.path("prefix/share/jupyter/kernels/python3");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("kernel.json"), r#"{"argv":["python3","-m","ipykernel_launcher","-f","{connection_file}"],"display_name":"Python 3","language":"python"}"#).unwrap();

    manage(&site, &["list"])
        .success()
        .stdout(predicate::str::contains("demo").and(predicate::str::contains("testpart")))
        .stdout(predicate::str::contains("release/23.10 Demo/1.0"))
        .stdout(predicate::str::is_match("python3 +foreign").unwrap());
    let json = manage(&site, &["list", "--json"]).success().get_output().stdout.clone();
    let rows: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["name"], "demo");
    assert_eq!(rows[0]["ours"], true);
    assert_eq!(rows[1]["ours"], false);

    manage(&site, &["check"]).success().stdout(predicate::str::contains("✔ demo"));

    manage(&site, &["remove", "python3", "--yes"]).code(2).stderr(predicate::str::contains("not installed by hpc-kernels"));
    assert!(foreign.join("kernel.json").exists());
    manage(&site, &["remove", "demo"]).code(2).stderr(predicate::str::contains("--yes"));
    let venv = site.venv_python().parent().unwrap().parent().unwrap().to_path_buf();
    assert!(venv.is_dir());

    // A kernel whose venv vanished is reported broken, and its check fails.
    let moved = venv.with_file_name("moved-away");
    std::fs::rename(&venv, &moved).unwrap();
    manage(&site, &["list"]).success().stdout(predicate::str::contains("BROKEN"));
    manage(&site, &["check", "demo"]).code(1).stdout(predicate::str::contains("✘ demo"));
    std::fs::rename(&moved, &venv).unwrap();

    manage(&site, &["remove", "demo", "--yes"]).success();
    assert!(!site.path("prefix/share/jupyter/kernels/demo").exists());
    assert!(!venv.exists());
    assert!(foreign.join("kernel.json").exists());
}
