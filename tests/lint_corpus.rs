//! `hpc-kernels lint` over the broken-spec corpus (`fixtures/specs/bad/NAME.json`
//! with `NAME.expect`: the expected error code, then its JSON path), the good
//! specs, and inputs too large or too odd to commit.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `hpc-kernels lint ARGS` with cwd and HOME in a fresh directory, and
/// checks that lint left that directory empty.
fn lint(args: &[&str]) -> Run {
    let sandbox = tempfile::tempdir().expect("tempdir");
    let output = Command::cargo_bin("hpc-kernels")
        .expect("binary")
        .arg("lint")
        .args(args)
        .current_dir(sandbox.path())
        .env("HOME", sandbox.path())
        .env("XDG_DATA_HOME", sandbox.path().join("data"))
        .env("XDG_CACHE_HOME", sandbox.path().join("cache"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run hpc-kernels");
    let left: Vec<_> = std::fs::read_dir(sandbox.path()).expect("read sandbox").filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    assert!(left.is_empty(), "lint {args:?} wrote {left:?}");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn json_errors(run: &Run) -> Vec<(String, String)> {
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("--json output is not JSON ({e}):\n{}", run.stdout));
    let diagnostics = report["diagnostics"].as_array().cloned().unwrap_or_default();
    assert_eq!(report["errors"].as_u64(), Some(diagnostics.iter().filter(|d| d["severity"] == "error").count() as u64));
    assert!(report["file"].is_string());
    diagnostics
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| (d["code"].as_str().unwrap_or_default().to_string(), d["path"].as_str().unwrap_or_default().to_string()))
        .collect()
}

fn corpus() -> Vec<(PathBuf, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures().join("bad")).expect("fixtures/specs/bad") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let expect = std::fs::read_to_string(path.with_extension("expect")).unwrap_or_else(|_| panic!("{} has no .expect", path.display()));
            let mut lines = expect.lines();
            let code = lines.next().unwrap_or_default().to_string();
            let json_path = lines.next().unwrap_or_default().to_string();
            out.push((path, code, json_path));
        }
    }
    out.sort();
    out
}

#[test]
fn every_broken_spec_is_refused_with_the_expected_error() {
    let corpus = corpus();
    assert!(corpus.len() >= 60, "the corpus has only {} specs", corpus.len());
    let mut failures = Vec::new();
    for (file, code, json_path) in &corpus {
        let file_arg = file.to_str().expect("utf-8 path");
        let human = lint(&[file_arg]);
        let heading = if json_path.is_empty() { format!("error[{code}]: ") } else { format!("error[{code}]: {json_path}: ") };
        if human.code != 2 || !human.stdout.contains(&heading) || !human.stdout.contains(file_arg) {
            failures.push(format!("{}: exit {}, wanted a line starting {heading:?}\n{}{}", file.display(), human.code, human.stdout, human.stderr));
            continue;
        }
        let json = lint(&[file_arg, "--json"]);
        let errors = json_errors(&json);
        if json.code != 2 || !errors.contains(&(code.clone(), json_path.clone())) {
            failures.push(format!("{}: --json exit {}, errors {errors:?}, wanted ({code}, {json_path})", file.display(), json.code));
        }
    }
    assert!(failures.is_empty(), "{} of {} corpus specs failed:\n{}", failures.len(), corpus.len(), failures.join("\n"));
}

#[test]
fn good_specs_and_the_example_pass() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join("good")).expect("good").filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.push(fixtures().join("example.json"));
    assert!(files.len() >= 3);
    for file in files {
        let run = lint(&[file.to_str().expect("utf-8 path")]);
        assert_eq!(run.code, 0, "{}:\n{}{}", file.display(), run.stdout, run.stderr);
        assert!(run.stdout.trim_end().ends_with("(spec ok)"), "{}", run.stdout);
        assert!(!run.stdout.contains("error["), "{}", run.stdout);
    }
}

#[test]
fn example_json_report_lists_only_warnings() {
    let example = fixtures().join("example.json");
    let run = lint(&[example.to_str().expect("utf-8 path"), "--json"]);
    assert_eq!(run.code, 0);
    assert_eq!(json_errors(&run), vec![]);
}

/// Inputs generated here rather than committed: huge, non-UTF-8, absurdly deep.
#[test]
fn generated_inputs_are_refused_without_crashing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, Vec<u8>, &str, &str); 4] = [
        ("huge.json", {
            let mut v = b"{\"_pad\": \"".to_vec();
            v.resize(5 * 1024 * 1024, b'x');
            v.extend_from_slice(b"\"}");
            v
        }, "file-too-large", "4 MiB"),
        ("latin1.json", b"{\"modules_by_cluster\": {\"barnard\": \"Gr\xfc\xdfe\"}}".to_vec(), "not-utf8", "byte offset 38"),
        ("deep.json", "[".repeat(200_000).into_bytes(), "too-deep", "nested more than 64"),
        ("nul.json", b"{\"kernels\": \0}".to_vec(), "json-syntax", "1:13"),
    ];
    for (name, bytes, code, detail) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).expect("write");
        let run = lint(&[file.to_str().expect("utf-8 path")]);
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(&format!("error[{code}]")), "{name}: {}", run.stdout);
        assert!(run.stdout.contains(detail), "{name}: wanted {detail:?} in {}", run.stdout);
        let json = lint(&[file.to_str().expect("utf-8 path"), "--json"]);
        assert_eq!(json_errors(&json).first().map(|e| e.0.as_str()), Some(code));
    }
}

#[test]
fn missing_spec_file_is_a_usage_error_with_a_hint() {
    let run = lint(&["/nonexistent/spec.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read the spec /nonexistent/spec.json"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}
