use std::path::{Path, PathBuf};

use sha2::Digest;

use super::*;
use crate::error::ErrorKind;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/example.json")
}

/// One spec with problems of several kinds, used by the rendering snapshots.
const SEVERAL_PROBLEMS: &str = r#"{
  "modules_by_cluster": {"barnard": "release/23.10", "alpha": "release/23.10 CUDA/11.7.0; id"},
  "pip_module_groups": {
    "base_pks": "numpy scipy",
    "ml_libs": "scikit-learn --target /tmp/x",
    "spare": "requests"
  },
  "kernels": {
    "PyTorch": {
      "name": "PyTorch",
      "pip_dependencies": ["base_pks", "ml_lib"],
      "test_script": ""
    }
  }
}"#;

fn several_problems() -> LintReport {
    lint_bytes(Path::new("fixtures/specs/several.json"), SEVERAL_PROBLEMS.as_bytes())
}

#[test]
fn example_spec_has_no_errors_and_builds_the_spec() {
    let bytes = std::fs::read(example_path()).expect("example spec is committed");
    let report = lint_bytes(&example_path(), &bytes);
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    let spec = report.spec.expect("spec");
    assert_eq!(spec.kernels.keys().collect::<Vec<_>>(), ["tensorflow", "pytorch"]);
    assert_eq!(spec.modules_by_cluster["alpha"], ["release/23.10", "GCC/11.3.0", "OpenMPI/4.1.4", "Python/3.10.4"]);
    let torch = &spec.pip_module_groups["torchvision_torchaudio"];
    assert_eq!(
        torch.args_for("barnard").map(<[String]>::to_vec),
        Some(vec!["torchvision".into(), "torchaudio".into(), "--index-url".into(), "https://download.pytorch.org/whl/cpu".into()])
    );
    assert_eq!(torch.args_for("nowhere"), None);
    assert_eq!(spec.kernels["pytorch"].check_libs.len(), 17);
    assert_eq!(spec.kernels["pytorch"].test_script.as_deref(), Some("true"));
    assert_eq!(spec.source_sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    // Groups no kernel uses are warned about, not refused.
    let warned: Vec<_> = report.diagnostics.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(warned, ["pip_module_groups.tensorflow", "pip_module_groups[\"nvidia-cudnn-cu12\"]"]);
}

#[test]
fn load_returns_warnings_or_a_spec_error() {
    let (spec, warnings) = load(&example_path()).expect("example loads");
    assert_eq!(spec.kernels.len(), 2);
    assert!(warnings.iter().all(|d| !d.is_error()));

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, SEVERAL_PROBLEMS).expect("write");
    let err = load(&bad).expect_err("errors refuse the spec");
    let ErrorKind::Spec(diags) = &err.kind else { panic!("not a spec error: {err:?}") };
    assert!(diags.iter().any(|d| d.code == "unknown-group"));
    assert_eq!(err.exit_code(), crate::ExitCode::Usage);
}

#[test]
fn missing_file_is_an_io_error_naming_the_file() {
    let err = lint_file(Path::new("/nonexistent/spec.json")).expect_err("missing");
    assert!(err.message.contains("/nonexistent/spec.json"), "{}", err.message);
    assert!(err.hint.is_some());
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = vec![b' '; MAX_SPEC_BYTES as usize + 1];
    let report = lint_bytes(Path::new("big.json"), &big);
    assert_eq!(report.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), ["file-too-large"]);
}

#[test]
fn non_utf8_reports_the_byte_offset_and_position() {
    let report = lint_bytes(Path::new("l1.json"), b"{\n  \"a\": \"caf\xe9\"}");
    let d = &report.diagnostics[0];
    assert_eq!((d.code, d.line, d.column), ("not-utf8", Some(2), Some(12)));
    assert!(d.message.contains("byte offset 13"), "{}", d.message);
}

#[test]
fn never_panics_on_truncated_or_corrupted_input() {
    let bytes = std::fs::read(example_path()).expect("example");
    let complete = bytes.trim_ascii_end().len();
    for end in 0..complete {
        let report = lint_bytes(Path::new("t.json"), &bytes[..end]);
        assert!(report.errors() > 0, "truncated at {end} must be an error");
    }
    // Deterministic byte substitutions at every position (a cheap fuzzer).
    let replacements = [b'"', b'\\', b'{', b']', 0xff, 0xc3, b'\n', b'0', b'-', b'u'];
    for (i, r) in (0..bytes.len()).zip(replacements.iter().cycle()) {
        let mut mutated = bytes.clone();
        mutated[i] = *r;
        let report = lint_bytes(Path::new("t.json"), &mutated);
        assert_eq!(report.spec.is_some(), report.errors() == 0);
    }
}

#[test]
fn human_rendering() {
    let mut out = Vec::new();
    render_human(&several_problems().diagnostics, &mut out, false).expect("render");
    insta::assert_snapshot!(String::from_utf8_lossy(&out));
}

#[test]
fn human_rendering_in_colour_uses_escapes_only_when_asked() {
    let diags = several_problems().diagnostics;
    let mut plain = Vec::new();
    let mut colored = Vec::new();
    render_human(&diags, &mut plain, false).expect("render");
    render_human(&diags, &mut colored, true).expect("render");
    assert!(!plain.contains(&0x1b));
    assert!(colored.contains(&0x1b));
}

#[test]
fn json_rendering() {
    let mut out = Vec::new();
    render_json(&several_problems().diagnostics, &mut out).expect("render");
    let text = String::from_utf8_lossy(&out).to_string();
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(parsed.is_array());
    insta::assert_snapshot!(text);
}
