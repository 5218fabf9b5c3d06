//! `certify`: two releases that really differ, every output written, and the
//! HTML report checked in a real headless Chromium.

mod common;

use std::process::Command;

use common::*;
use predicates::prelude::*;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn certify_a_release_against_the_previous_one() {
    require_docker();
    let _serial = container_test_lock();
    let out = tempfile::tempdir().unwrap();
    bin()
        .args(["certify", "--release", "24.04", "--against", "23.10", "--partition", "alpha", "--out"])
        .arg(out.path())
        .arg(fixture("specs/certify-demo.json"))
        .timeout(std::time::Duration::from_secs(1200))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("modules_by_cluster.alpha: release/23.10 → release/24.04"))
        .stdout(predicate::str::contains("alpha/torch-pinned: passed → modules"));

    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("## Changes since release/23.10"), "{summary}");
    assert!(summary.contains("`PyTorch/1.13.1` → `PyTorch/2.1.2`"), "{summary}");
    assert!(summary.contains("+readonly MODULES=(release/24.04 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/2.1.2)"), "{summary}");
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap()).unwrap();
    assert!(results["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("release substituted")));
    let junit = out.path().join("junit.xml");
    let lint = Command::new("xmllint").arg("--noout").arg("--schema").arg(fixture("junit-10.xsd")).arg(&junit).output().unwrap();
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));

    let html = out.path().join("report.html");
    let browser = chromium().expect("this test needs chromium: scripts/setup-host.sh installs the Debian package chromium");
    let url = format!("file://{}", html.display());
    let shot = out.path().join("report.png");
    let flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
    let status = Command::new(browser).args(flags).arg(format!("--screenshot={}", shot.display())).arg("--window-size=1280,1600").arg(&url).output().unwrap();
    assert!(shot.is_file(), "no screenshot: {}", String::from_utf8_lossy(&status.stderr));
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "screenshot is nearly empty");
    let dom = Command::new(browser).args(flags).arg("--dump-dom").arg(&url).output().unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(r#"data-kernel="torch-pinned" data-status="failed""#), "{dom}");
    assert!(dom.contains(r#"data-kernel="torch-latest" data-status="passed""#), "{dom}");
    assert!(dom.contains("Changes since release/23.10"));
}
