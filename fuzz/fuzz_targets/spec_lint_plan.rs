//! Lint → plan → render on arbitrary bytes: nothing on the way may panic, and
//! every JSON view must be valid JSON.
#![no_main]

use std::path::{Path, PathBuf};

use hpc_kernels::plan::{self, render, IndexMapping, Installer, PlanOptions};
use hpc_kernels::spec::{self, Spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let report = spec::lint_bytes(Path::new("fuzz/spec.json"), bytes);
    assert_eq!(report.spec.is_some(), report.errors() == 0, "a spec comes out exactly when there are no errors");

    let mut out = Vec::new();
    spec::render_human(&report.diagnostics, &mut out, false).expect("writing to a Vec");
    spec::render_human(&report.diagnostics, &mut out, true).expect("writing to a Vec");
    out.clear();
    spec::render_json(&report.diagnostics, &mut out).expect("writing to a Vec");
    assert_valid_json(&out, "render_json");

    if let Some(spec) = &report.spec {
        plan_every_partition(spec, &default_options());
        plan_every_partition(spec, &mapped_options(spec));
    }
});

fn default_options() -> PlanOptions {
    PlanOptions {
        workspace: PathBuf::from("/ws"),
        kernels_dir: PathBuf::from("/k"),
        only_kernels: Vec::new(),
        python: "python3".into(),
        index: IndexMapping::default(),
        argv_prefix: Vec::new(),
        kernelspec_per_partition: false,
        installer: Installer::Pip,
    }
}

/// A second pass through the index rewriting, the kernel filter and the uv
/// views, which the defaults leave idle.
fn mapped_options(spec: &Spec) -> PlanOptions {
    PlanOptions {
        only_kernels: spec.kernels.keys().take(1).cloned().collect(),
        index: IndexMapping {
            default_index: Some("http://wheelhouse.invalid/simple".into()),
            rules: vec![("*".into(), "http://mirror.invalid/simple/".into())],
        },
        argv_prefix: vec!["flux".into(), "start".into()],
        kernelspec_per_partition: false,
        installer: Installer::Uv,
        ..default_options()
    }
}

fn plan_every_partition(spec: &Spec, opts: &PlanOptions) {
    for partition in spec.partitions() {
        let plan = plan::plan(spec, &partition, opts);
        let mut out = Vec::new();
        render::write_table(&plan, &mut out).expect("writing to a Vec");
        out.clear();
        render::write_script(&plan, &mut out).expect("writing to a Vec");
        out.clear();
        render::write_json(&plan, &mut out).expect("writing to a Vec");
        assert_valid_json(&out, "write_json");
    }
}

fn assert_valid_json(bytes: &[u8], view: &str) {
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(bytes) {
        panic!("{view} wrote invalid JSON: {e}");
    }
}
