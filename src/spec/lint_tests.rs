use std::path::Path;

use rstest::rstest;

use crate::spec::{lint_bytes, Severity};

/// A valid spec with one partition, two groups and one kernel; `{K}` is
/// replaced by extra kernel keys, `{G}` by extra groups, `{T}` by extra top-level keys.
const BASE: &str = r#"{
  "modules_by_cluster": {"barnard": "release/23.10 GCC/11.3.0", "alpha": ["release/23.10", "CUDA/11.7.0"]},
  "pip_module_groups": {"base": "numpy scipy", "gpu": {"pip_complex": {"alpha": "torch"}} {G}},
  "kernels": {"k": {"name": "K", "module_load": "PyTorch/1.13.1", "pip_dependencies": ["base", "gpu"] {K}}}
  {T}
}"#;

fn spec(kernel: &str, groups: &str, top: &str) -> String {
    BASE.replace("{K}", kernel).replace("{G}", groups).replace("{T}", top)
}

fn findings(text: &str) -> Vec<(Severity, &'static str, String)> {
    lint_bytes(Path::new("t.json"), text.as_bytes()).diagnostics.into_iter().map(|d| (d.severity, d.code, d.path)).collect()
}

#[test]
fn base_spec_is_clean() {
    let report = lint_bytes(Path::new("t.json"), spec("", "", "").as_bytes());
    assert_eq!(report.diagnostics, vec![]);
    let spec = report.spec.expect("spec");
    assert_eq!(spec.modules_by_cluster["alpha"], vec!["release/23.10", "CUDA/11.7.0"]);
    assert_eq!(spec.kernels["k"].module_load, vec!["PyTorch/1.13.1"]);
}

#[rstest]
#[case::module_semicolon(r#", "module_load": "a; rm -rf ~""#, "bad-module-name", "kernels.k.module_load")]
#[case::module_subshell(r#", "module_load_cluster": {"barnard": ["x $(id)"]}"#, "bad-module-name", "kernels.k.module_load_cluster.barnard[0]")]
#[case::module_cluster_type(r#", "module_load_cluster": ["x"]"#, "wrong-type", "kernels.k.module_load_cluster")]
#[case::module_cluster_value_type(r#", "module_load_cluster": {"alpha": 3}"#, "wrong-type", "kernels.k.module_load_cluster.alpha")]
#[case::module_cluster_bad_partition(r#", "module_load_cluster": {"Alpha": "x"}"#, "bad-partition-name", "kernels.k.module_load_cluster.Alpha")]
#[case::unknown_group(r#", "pip_dependencies": ["bsae"]"#, "unknown-group", "kernels.k.pip_dependencies[0]")]
#[case::duplicate_group(r#", "pip_dependencies": ["base", "base"]"#, "duplicate-group", "kernels.k.pip_dependencies[1]")]
#[case::deps_type(r#", "pip_dependencies": "base""#, "wrong-type", "kernels.k.pip_dependencies")]
#[case::deps_item_type(r#", "pip_dependencies": [1]"#, "wrong-type", "kernels.k.pip_dependencies[0]")]
#[case::check_libs_bad(r#", "check_libs": "numpy scikit-learn""#, "bad-import-name", "kernels.k.check_libs")]
#[case::check_libs_array_bad(r#", "check_libs": ["numpy", 4]"#, "wrong-type", "kernels.k.check_libs[1]")]
#[case::empty_test_script(r#", "test_script": "  ""#, "empty-test-script", "kernels.k.test_script")]
#[case::test_script_type(r#", "test_script": true"#, "wrong-type", "kernels.k.test_script")]
#[case::name_type(r#", "name": ["K"]"#, "wrong-type", "kernels.k.name")]
#[case::unknown_kernel_key(r#", "check_lib": "numpy""#, "unknown-key", "kernels.k.check_lib")]
fn kernel_errors(#[case] kernel: &str, #[case] code: &str, #[case] path: &str) {
    // Duplicate keys in a kernel are reported too, so replace rather than add when needed.
    let text = spec(kernel, "", "").replacen(r#""name": "K", "#, "", usize::from(kernel.contains("\"name\"")));
    let text = text.replacen(r#""module_load": "PyTorch/1.13.1", "#, "", usize::from(kernel.contains("\"module_load\"")));
    let text = text.replacen(r#", "pip_dependencies": ["base", "gpu"] "#, " ", usize::from(kernel.contains("pip_dependencies")));
    let report = lint_bytes(Path::new("t.json"), text.as_bytes());
    let got: Vec<_> = report.diagnostics.iter().map(|d| (d.severity, d.code, d.path.as_str())).collect();
    assert!(got.contains(&(Severity::Error, code, path)), "{got:?}\n{text}");
    assert!(report.spec.is_none());
}

#[rstest]
#[case::group_shell(r#", "evil": "numpy; rm -rf ~""#, "pip-shell-syntax", "pip_module_groups.evil")]
#[case::group_target(r#", "t": "--target /tmp/x numpy""#, "pip-forbidden-option", "pip_module_groups.t")]
#[case::group_quote(r#", "q": "numpy 'scipy""#, "pip-bad-quoting", "pip_module_groups.q")]
#[case::group_type(r#", "n": 5"#, "wrong-type", "pip_module_groups.n")]
#[case::group_no_complex(r#", "o": {"alpha": "x"}"#, "missing-pip-complex", "pip_module_groups.o")]
#[case::group_complex_type(r#", "o": {"pip_complex": "x"}"#, "wrong-type", "pip_module_groups.o.pip_complex")]
#[case::group_complex_value(r#", "o": {"pip_complex": {"alpha": ["x"]}}"#, "wrong-type", "pip_module_groups.o.pip_complex.alpha")]
#[case::group_complex_extra_key(r#", "o": {"pip_complex": {"alpha": "x"}, "pip_complx": 1}"#, "unknown-key", "pip_module_groups.o.pip_complx")]
#[case::group_name(r#", "my group": "x""#, "bad-group-name", "pip_module_groups[\"my group\"]")]
fn group_errors(#[case] groups: &str, #[case] code: &str, #[case] path: &str) {
    let got = findings(&spec("", groups, ""));
    assert!(got.contains(&(Severity::Error, code, path.to_string())), "{got:?}");
}

#[rstest]
#[case::unused(r#", "spare": "x""#, "unused-group", "pip_module_groups.spare")]
#[case::empty_args(r#", "e": {"pip_complex": {"alpha": "  "}}"#, "empty-pip-args", "pip_module_groups.e.pip_complex.alpha")]
#[case::empty_complex(r#", "e": {"pip_complex": {}}"#, "empty-pip-complex", "pip_module_groups.e.pip_complex")]
#[case::unknown_partition(r#", "e": {"pip_complex": {"romeo": "x"}}"#, "unknown-partition", "pip_module_groups.e.pip_complex.romeo")]
fn group_warnings(#[case] groups: &str, #[case] code: &str, #[case] path: &str) {
    let got = findings(&spec("", groups, ""));
    assert!(got.contains(&(Severity::Warning, code, path.to_string())), "{got:?}");
}

#[rstest]
#[case::dup_import(r#", "check_libs": "numpy numpy""#, "duplicate-import", "kernels.k.check_libs")]
#[case::cluster_partition(r#", "module_load_cluster": {"romeo": "x"}"#, "unknown-partition", "kernels.k.module_load_cluster.romeo")]
fn kernel_warnings_keep_the_spec(#[case] kernel: &str, #[case] code: &str, #[case] path: &str) {
    let report = lint_bytes(Path::new("t.json"), spec(kernel, "", "").as_bytes());
    let got: Vec<_> = report.diagnostics.iter().map(|d| (d.severity, d.code, d.path.as_str())).collect();
    assert_eq!(got, vec![(Severity::Warning, code, path)]);
    assert!(report.spec.is_some(), "warnings alone keep the spec");
}

#[rstest]
#[case::unknown_top(r#", "kernel": {}"#, "unknown-key", "kernel")]
#[case::duplicate_top(r#", "kernels": {}"#, "duplicate-key", "kernels")]
fn top_level_errors(#[case] top: &str, #[case] code: &str, #[case] path: &str) {
    let got = findings(&spec("", "", top));
    assert!(got.contains(&(Severity::Error, code, path.to_string())), "{got:?}");
}

#[rstest]
#[case::not_object("[1]", "not-an-object", "")]
#[case::missing_kernels(r#"{"modules_by_cluster": {"a": "x"}}"#, "missing-key", "kernels")]
#[case::missing_modules(r#"{"kernels": {"k": {}}}"#, "missing-key", "modules_by_cluster")]
#[case::empty_modules(r#"{"modules_by_cluster": {"_c": "comment"}, "kernels": {"k": {}}}"#, "empty-map", "modules_by_cluster")]
#[case::empty_kernels(r#"{"modules_by_cluster": {"a": "x"}, "kernels": {}}"#, "empty-map", "kernels")]
#[case::kernels_type(r#"{"modules_by_cluster": {"a": "x"}, "kernels": []}"#, "wrong-type", "kernels")]
#[case::kernel_type(r#"{"modules_by_cluster": {"a": "x"}, "kernels": {"k": "x"}}"#, "wrong-type", "kernels.k")]
#[case::kernel_upper(r#"{"modules_by_cluster": {"a": "x"}, "kernels": {"PyTorch": {}}}"#, "bad-kernel-name", "kernels.PyTorch")]
#[case::kernel_traversal(r#"{"modules_by_cluster": {"a": "x"}, "kernels": {"../x": {}}}"#, "bad-kernel-name", "kernels[\"../x\"]")]
#[case::modules_type(r#"{"modules_by_cluster": "x", "kernels": {"k": {}}}"#, "wrong-type", "modules_by_cluster")]
#[case::modules_value(r#"{"modules_by_cluster": {"a": null}, "kernels": {"k": {}}}"#, "wrong-type", "modules_by_cluster.a")]
#[case::groups_type(r#"{"modules_by_cluster": {"a": "x"}, "pip_module_groups": [], "kernels": {"k": {}}}"#, "wrong-type", "pip_module_groups")]
fn document_errors(#[case] text: &str, #[case] code: &str, #[case] path: &str) {
    let got = findings(text);
    assert!(got.contains(&(Severity::Error, code, path.to_string())), "{got:?}");
}

#[test]
fn comments_are_ignored_everywhere() {
    let text = r#"{"_c": 1, "modules_by_cluster": {"_c": 1, "a": "x"}, "pip_module_groups": {"_c": 1, "g": {"_c": 1, "pip_complex": {"_c": 1, "a": "y"}}},
      "kernels": {"_c": 1, "k": {"_c": 1, "name": "K", "pip_dependencies": ["g"], "module_load_cluster": {"_c": 1}}}}"#;
    assert_eq!(findings(text), vec![]);
}

#[test]
fn missing_name_warns_and_uses_the_key() {
    let report = lint_bytes(Path::new("t.json"), br#"{"modules_by_cluster": {"a": "x"}, "kernels": {"k": {}}}"#);
    assert_eq!(report.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), vec!["missing-display-name"]);
    assert_eq!(report.spec.expect("spec").kernels["k"].display_name, "k");
}

#[test]
fn did_you_mean_names_the_closest_group() {
    let report = lint_bytes(Path::new("t.json"), spec(r#", "check_libs": "x""#, "", "").replace(r#"["base", "gpu"]"#, r#"["base", "gpus"]"#).as_bytes());
    let d = report.diagnostics.iter().find(|d| d.code == "unknown-group").expect("unknown-group");
    assert_eq!(d.hint.as_deref(), Some("did you mean \"gpu\"? groups: base, gpu"));
}

#[test]
fn token_positions_point_into_the_string() {
    let text = "{\"modules_by_cluster\": {\"a\": \"GCC/1 x;y\"}, \"kernels\": {\"k\": {\"name\": \"K\"}}}";
    let report = lint_bytes(Path::new("t.json"), text.as_bytes());
    let d = &report.diagnostics[0];
    assert_eq!((d.code, d.line, d.column), ("bad-module-name", Some(1), Some(37)));
    assert_eq!(&text[36..39], "x;y");
}

#[test]
fn diagnostics_are_sorted_by_position() {
    let text = "{\"kernels\": {\"K\": {\"x\": 1}},\n \"modules_by_cluster\": {\"a\": \"b;c\"}}";
    let report = lint_bytes(Path::new("t.json"), text.as_bytes());
    let positions: Vec<_> = report.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert!(report.diagnostics.len() >= 3);
}
