//! The HTML report of `fixtures/report/mixed.json`, compared with a baseline,
//! opened in a real headless Chromium: it renders to a non-trivial
//! screenshot, the matrix cells are in the browser's DOM, and hostile text in
//! the report stays text.
//!
//! Needs Chromium (Debian package `chromium`). Without it the test skips
//! loudly on a developer machine and fails when `CI` is set. The rendered
//! page and its screenshot are kept in `target/tmp/report_html/` to look at.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hpc_kernels::report::{compare, read_json_file, write_html, KernelspecFiles, Outcome, RunReport};

const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
const HOSTILE_NOTE: &str = "<script>document.body.setAttribute('data-pwned','1')</script>\
                            <img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> & ]]>";

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

const LAUNCHER: &str = "#!/bin/bash\nmodule purge\nmodule load release/23.10 GCCcore/11.3.0 Python/3.10.4\n\
                        exec /ws/minimal/bin/python -m ipykernel_launcher \"$@\"\n";

/// The sample run, with a kernelspec for barnard/minimal and a hostile note.
fn current() -> RunReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/report/mixed.json");
    let mut r = read_json_file(&path).expect("fixtures/report/mixed.json parses");
    let minimal = &mut r.partitions[0].kernels[1];
    minimal.venv = Some("/ws/minimal".into());
    minimal.kernelspec = Some(KernelspecFiles { kernel_json: "{\"argv\": [\"/ws/minimal/launcher.sh\"]}".into(), launcher: LAUNCHER.into() });
    r.notes.push(HOSTILE_NOTE.into());
    r
}

/// An older release in which barnard/pytorch passed, PyTorch was 1.12.0 and
/// the launcher loaded release/23.04.
fn baseline() -> RunReport {
    let mut r = current();
    let pytorch = &mut r.partitions[0].kernels[0];
    for step in &mut pytorch.steps {
        step.outcome = Outcome::Passed;
    }
    pytorch.modules = ["release/23.04", "GCC/11.3.0", "OpenMPI/4.1.4", "PyTorch/1.12.0"].map(String::from).to_vec();
    let minimal = &mut r.partitions[0].kernels[1];
    minimal.modules = minimal.modules.iter().map(|m| m.replace("release/23.10", "release/23.04")).collect();
    if let Some(k) = &mut minimal.kernelspec {
        k.launcher = k.launcher.replace("release/23.10", "release/23.04");
    }
    let alpha_pytorch = &mut r.partitions[1].kernels[0];
    alpha_pytorch.modules = alpha_pytorch.modules.iter().map(|m| m.replace("PyTorch/1.13.1", "PyTorch/1.12.0")).collect();
    r
}

/// Runs the browser, killing it if it hangs.
fn run_browser(browser: &str, profile: &Path, args: &[String]) -> Output {
    let mut child = Command::new(browser)
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {browser}: {e}"));
    let started = Instant::now();
    while child.try_wait().expect("waiting for the browser").is_none() {
        if started.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("{browser} {args:?} did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.wait_with_output().expect("browser output")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || &png[..8] != b"\x89PNG\r\n\x1a\n" || &png[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_html");
    std::fs::create_dir_all(&dir).expect("create target/tmp/report_html");
    dir
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let (baseline, current) = (baseline(), current());
    let comparison = compare(&baseline, &current, "release/23.04", "release/23.10");
    assert_eq!(comparison.flipped.len(), 1, "{comparison:?}");
    let dir = output_dir();
    let html = dir.join("report.html");
    let mut page = Vec::new();
    write_html(&current, "Kernel certification: release/23.10", Some(&comparison), &mut page).expect("render");
    std::fs::write(&html, &page).expect("write report.html");

    let browser = chromium().expect("this test needs chromium: scripts/setup-host.sh installs the Debian package chromium");
    let profile = tempfile::tempdir().expect("browser profile dir");
    let url = format!("file://{}", html.display());

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = run_browser(browser, profile.path(), &[format!("--screenshot={}", shot.display()), "--window-size=1280,2000".into(), url.clone()]);
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {} ({e}): {}", shot.display(), String::from_utf8_lossy(&out.stderr)));
    assert_eq!(png_size(&png), Some((1280, 2000)), "not a 1280×2000 PNG");
    assert!(png.len() > 10_000, "screenshot of {} bytes is nearly empty", png.len());

    let out = run_browser(browser, profile.path(), &["--dump-dom".into(), url]);
    assert!(out.status.success(), "--dump-dom failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<table id=\"matrix\">"), "{dom}");
    assert_eq!(dom.matches("data-status=").count(), 12, "3 kernels × 4 partitions");
    for (partition, kernel, status, text) in [
        ("barnard", "pytorch", "failed", "✘ modules"),
        ("barnard", "minimal", "passed", "✔ passed"),
        ("alpha", "pytorch", "timed_out", "✘ pip:base_pks"),
        ("alpha", "tensorflow", "failed", "✘ import:bs4"),
        ("romeo", "minimal", "not_run", "– not run"),
    ] {
        let attrs = format!("data-partition=\"{partition}\" data-kernel=\"{kernel}\" data-status=\"{status}\"");
        let at = dom.find(&attrs).unwrap_or_else(|| panic!("no cell {attrs} in the DOM"));
        let cell_end = dom[at..].find("</td>").map_or(dom.len(), |e| at + e);
        assert!(dom[at..cell_end].contains(text), "{partition}/{kernel} does not say {text}: {}", &dom[at..cell_end]);
    }
    assert!(dom.contains("Changes since release/23.04"));
    assert!(dom.contains("<span class=\"add\">+module load release/23.10"));
    // The hostile note is shown as text and nothing in it ran.
    assert!(!dom.contains("data-pwned=\""), "a script from the report's data ran");
    assert!(dom.contains("&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;"), "hostile note not shown as text");
    eprintln!("rendered {} → {}", html.display(), shot.display());
}
