use indexmap::IndexMap;

use super::*;
use crate::spec::{Kernel, PipGroup, Spec};

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn spec() -> Spec {
    let mut modules_by_cluster = IndexMap::new();
    modules_by_cluster.insert("barnard".into(), words("release/23.10"));
    modules_by_cluster.insert("alpha".into(), words("release/23.10 GCC/11.3.0 OpenMPI/4.1.4"));
    let mut groups = IndexMap::new();
    groups.insert("base".into(), PipGroup::Common { args: words("ipykernel numpy") });
    let mut per = IndexMap::new();
    per.insert("alpha".into(), words("torchvision --index-url https://download.pytorch.org/whl/cpu"));
    groups.insert("tv".into(), PipGroup::PerPartition { args: per });
    let mut kernels = IndexMap::new();
    let mut mlc = IndexMap::new();
    mlc.insert("alpha".into(), words("CUDA/11.7.0"));
    kernels.insert(
        "pytorch".into(),
        Kernel {
            display_name: "PyTorch".into(),
            module_load: words("PyTorch/1.13.1"),
            module_load_cluster: mlc,
            pip_dependencies: words("base tv"),
            check_libs: words("numpy torch"),
            test_script: Some("true".into()),
        },
    );
    kernels.insert(
        "plain".into(),
        Kernel {
            display_name: "Plain".into(),
            module_load: vec![],
            module_load_cluster: IndexMap::new(),
            pip_dependencies: words("base"),
            check_libs: vec![],
            test_script: None,
        },
    );
    Spec { modules_by_cluster, pip_module_groups: groups, kernels, source_sha256: "ab".repeat(32) }
}

fn opts() -> PlanOptions {
    PlanOptions {
        workspace: "/ws".into(),
        kernels_dir: "/k".into(),
        only_kernels: vec![],
        python: "python3".into(),
        index: IndexMapping::default(),
        argv_prefix: vec![],
        kernelspec_per_partition: false,
        installer: Default::default(),
    }
}

fn stages(kp: &KernelPlan) -> Vec<&str> {
    kp.steps.iter().map(|s| s.stage.as_str()).collect()
}

#[test]
fn steps_are_in_install_order() {
    let p = plan(&spec(), "alpha", &opts());
    let kp = &p.kernels[0];
    assert_eq!(
        stages(kp),
        ["modules", "venv", "pip:base", "pip:tv", "consistency", "import:numpy", "import:torch", "test_script", "kernelspec", "launch"]
    );
    assert_eq!(kp.modules, words("release/23.10 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.13.1 CUDA/11.7.0"));
    assert!(kp.venv.starts_with("/ws/alpha/pytorch"));
    assert_eq!(kp.kernelspec_dir, std::path::Path::new("/k/pytorch"));
}

#[test]
fn missing_pip_complex_partition_is_a_visible_skip() {
    let p = plan(&spec(), "barnard", &opts());
    let skip = p.kernels[0].steps.iter().find(|s| s.stage == "pip:tv").unwrap();
    match &skip.action {
        Action::SkipPip { reason, .. } => assert!(reason.contains("barnard"), "{reason}"),
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn kernel_without_test_script_has_no_test_step() {
    let p = plan(&spec(), "alpha", &opts());
    assert!(!stages(&p.kernels[1]).contains(&"test_script"));
}

#[test]
fn plan_is_deterministic_and_venv_follows_content() {
    let a = plan(&spec(), "alpha", &opts());
    assert_eq!(a, plan(&spec(), "alpha", &opts()));
    let mut changed = spec();
    changed.pip_module_groups.insert("base".into(), PipGroup::Common { args: words("ipykernel numpy scipy") });
    let b = plan(&changed, "alpha", &opts());
    assert_ne!(a.kernels[0].venv, b.kernels[0].venv);
    // The test script does not go into the venv, so changing it keeps the venv.
    let mut script = spec();
    script.kernels[0].test_script = Some("python -c 1".into());
    assert_eq!(a.kernels[0].venv, plan(&script, "alpha", &opts()).kernels[0].venv);
}

#[test]
fn kernel_filter_keeps_only_named_kernels() {
    let mut o = opts();
    o.only_kernels = vec!["plain".into()];
    let p = plan(&spec(), "alpha", &o);
    assert_eq!(p.kernels.len(), 1);
    assert_eq!(p.kernels[0].kernel, "plain");
}

#[test]
fn index_mapping_is_applied_and_recorded() {
    let mut o = opts();
    o.index = IndexMapping { default_index: Some("file:///wh".into()), rules: vec![("*".into(), "file:///wh".into())] };
    let p = plan(&spec(), "alpha", &o);
    let tv = p.kernels[0].steps.iter().find(|s| s.stage == "pip:tv").unwrap();
    match &tv.action {
        Action::PipInstall { args, index_rewrites, .. } => {
            assert_eq!(args, &words("torchvision --index-url file:///wh"));
            assert_eq!(index_rewrites[0].0, "https://download.pytorch.org/whl/cpu");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn script_quotes_hostile_values() {
    let mut s = spec();
    s.kernels[0].test_script = Some("echo '$(rm -rf ~)'; exit 3".into());
    let p = plan(&s, "alpha", &opts());
    let mut out = Vec::new();
    render::write_script(&p, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let line = text.lines().find(|l| l.contains("bash -eo pipefail -c")).unwrap();
    let quoted = line.trim().trim_end_matches(')').split_once(" -c ").unwrap().1;
    assert_eq!(shlex::split(quoted).unwrap(), vec!["echo '$(rm -rf ~)'; exit 3".to_string()], "{line}");
    assert!(text.contains("module load release/23.10 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.13.1 CUDA/11.7.0"));
}
