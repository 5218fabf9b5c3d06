//! What changed between two runs (e.g. two module releases): cells that
//! flipped, module versions that moved, kernelspecs that differ.

use similar::TextDiff;

use super::model::{KernelResult, RunReport};
use super::snapshot::normalise;
use super::text::{verdict, KernelVerdict};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    pub baseline_label: String,
    pub current_label: String,
    pub flipped: Vec<FlippedCell>,
    pub module_changes: Vec<ModuleChange>,
    pub kernelspec_diffs: Vec<KernelspecDiff>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlippedCell {
    pub partition: String,
    pub kernel: String,
    /// `passed`, the failing stage, `skipped` or `not run`.
    pub before: String,
    pub after: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleChange {
    pub partition: String,
    pub kernel: String,
    /// The loaded modules of the baseline run, as `module -t list` reported them.
    pub before: Vec<String>,
    /// The loaded modules of the current run.
    pub after: Vec<String>,
    /// `(before, after)` per module name (the part before the last `/`);
    /// `None` where it is absent on that side. Modules equal on both sides are left out.
    pub changes: Vec<(Option<String>, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelspecDiff {
    pub partition: String,
    pub kernel: String,
    pub file: String,
    /// Unified diff of the normalised files.
    pub diff: String,
}

/// The cell text of a kernel: `passed`, its failing stage, or `skipped`.
pub fn cell(kernel: Option<&KernelResult>) -> String {
    match kernel.map(verdict) {
        None => "not run".into(),
        Some(KernelVerdict::Passed) => "passed".into(),
        Some(KernelVerdict::Problem(step)) => step.stage.clone(),
        Some(KernelVerdict::Skipped) => "skipped".into(),
    }
}

fn find<'a>(r: &'a RunReport, partition: &str, kernel: &str) -> Option<&'a KernelResult> {
    r.partitions.iter().find(|p| p.partition == partition)?.kernels.iter().find(|k| k.kernel == kernel)
}

/// Every (partition, kernel) of either run, current run's order first.
fn cells(baseline: &RunReport, current: &RunReport) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in [current, baseline] {
        for p in &r.partitions {
            for k in &p.kernels {
                let key = (p.partition.clone(), k.kernel.clone());
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
    }
    out
}

fn module_name(full: &str) -> &str {
    full.rsplit_once('/').map_or(full, |(name, _)| name)
}

fn module_changes(before: &[String], after: &[String]) -> Vec<(Option<String>, Option<String>)> {
    let names: Vec<&str> = before.iter().chain(after).map(|m| module_name(m)).collect();
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for name in names {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let b = before.iter().find(|m| module_name(m) == name).cloned();
        let a = after.iter().find(|m| module_name(m) == name).cloned();
        if b != a {
            out.push((b, a));
        }
    }
    out
}

/// What changed from `baseline` to `current`, cell by cell. A cell present on
/// one side only counts as flipped (`not run` on the other side).
pub fn compare(baseline: &RunReport, current: &RunReport, baseline_label: &str, current_label: &str) -> Comparison {
    let mut c = Comparison {
        baseline_label: baseline_label.to_string(),
        current_label: current_label.to_string(),
        flipped: Vec::new(),
        module_changes: Vec::new(),
        kernelspec_diffs: Vec::new(),
    };
    for (partition, kernel) in cells(baseline, current) {
        let (b, a) = (find(baseline, &partition, &kernel), find(current, &partition, &kernel));
        let (before, after) = (cell(b), cell(a));
        if before != after {
            c.flipped.push(FlippedCell { partition: partition.clone(), kernel: kernel.clone(), before, after });
        }
        let (Some(b), Some(a)) = (b, a) else { continue };
        // An empty list means the modules stage never got to list them (it
        // failed, or the kernel was not run there): the flipped cell already
        // says so, and "every module removed" would only be noise.
        let changes = module_changes(&b.modules, &a.modules);
        if !changes.is_empty() && !b.modules.is_empty() && !a.modules.is_empty() {
            c.module_changes.push(ModuleChange {
                partition: partition.clone(),
                kernel: kernel.clone(),
                before: b.modules.clone(),
                after: a.modules.clone(),
                changes,
            });
        }
        if let (Some(bk), Some(ak)) = (&b.kernelspec, &a.kernelspec) {
            let (bk, ak) = (normalise(bk, b.venv.as_deref(), None), normalise(ak, a.venv.as_deref(), None));
            for (file, old, new) in [("kernel.json", &bk.kernel_json, &ak.kernel_json), ("launcher.sh", &bk.launcher, &ak.launcher)] {
                if old != new {
                    let diff = TextDiff::from_lines(old.as_str(), new.as_str())
                        .unified_diff()
                        .context_radius(2)
                        .header(&format!("{file} ({baseline_label})"), &format!("{file} ({current_label})"))
                        .to_string();
                    c.kernelspec_diffs.push(KernelspecDiff { partition: partition.clone(), kernel: kernel.clone(), file: file.into(), diff });
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::report::{KernelspecFiles, Outcome, PartitionResult, StepResult};

    fn step(stage: &str, outcome: Outcome) -> StepResult {
        StepResult { stage: stage.into(), outcome, seconds: 0.1, command: None, log: String::new() }
    }

    fn kernel(name: &str, failed_at: Option<&str>, modules: &[&str], launcher: &str) -> KernelResult {
        let mut steps = vec![step("modules", Outcome::Passed)];
        if let Some(stage) = failed_at {
            steps.push(step(stage, Outcome::Failed { message: "x".into() }));
        }
        KernelResult {
            kernel: name.into(),
            display_name: name.into(),
            steps,
            kernelspec_dir: None,
            venv: Some("/ws/v".into()),
            modules: modules.iter().map(|m| m.to_string()).collect(),
            kernelspec: Some(KernelspecFiles { kernel_json: "{}\n".into(), launcher: launcher.into() }),
            lmod_init: None,
            notes: Vec::new(),
        }
    }

    fn report(kernels: Vec<KernelResult>) -> RunReport {
        RunReport {
            tool_version: "0".into(),
            spec_file: "s.json".into(),
            spec_sha256: "0".into(),
            partitions: vec![PartitionResult { partition: "alpha".into(), kernels, error: None }],
            notes: vec![],
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flips_module_bumps_and_launcher_diffs_are_found() {
        let before = report(vec![
            kernel("pinned", None, &["release/23.10", "PyTorch/1.13.1"], "load release/23.10 PyTorch/1.13.1\n"),
            kernel("latest", None, &["release/23.10", "PyTorch/1.13.1"], "load release/23.10 PyTorch\n"),
            kernel("same", None, &["release/23.10"], "same\n"),
        ]);
        let after = report(vec![
            kernel("pinned", Some("modules:load"), &[], "load release/24.04 PyTorch/1.13.1\n"),
            kernel("latest", None, &["release/24.04", "PyTorch/2.1.2"], "load release/24.04 PyTorch\n"),
            kernel("same", None, &["release/24.04"], "same\n"),
        ]);
        let c = compare(&before, &after, "release/23.10", "release/24.04");
        assert_eq!((c.baseline_label.as_str(), c.current_label.as_str()), ("release/23.10", "release/24.04"));
        assert_eq!(
            c.flipped,
            vec![FlippedCell { partition: "alpha".into(), kernel: "pinned".into(), before: "passed".into(), after: "modules:load".into() }]
        );

        let latest = c.module_changes.iter().find(|m| m.kernel == "latest").expect("module change of latest");
        assert_eq!(latest.before, strings(&["release/23.10", "PyTorch/1.13.1"]));
        assert_eq!(latest.after, strings(&["release/24.04", "PyTorch/2.1.2"]));
        assert_eq!(
            latest.changes,
            vec![
                (Some("release/23.10".into()), Some("release/24.04".into())),
                (Some("PyTorch/1.13.1".into()), Some("PyTorch/2.1.2".into())),
            ]
        );
        // `pinned` listed no modules after failing to load them: its flip says it all.
        assert!(!c.module_changes.iter().any(|m| m.kernel == "pinned"));

        let diff = c.kernelspec_diffs.iter().find(|d| d.kernel == "latest" && d.file == "launcher.sh").expect("launcher diff");
        insta::assert_snapshot!(diff.diff, @r"
        --- launcher.sh (release/23.10)
        +++ launcher.sh (release/24.04)
        @@ -1 +1 @@
        -load release/23.10 PyTorch
        +load release/24.04 PyTorch
        ");
        assert!(!c.kernelspec_diffs.iter().any(|d| d.kernel == "same" || d.file == "kernel.json"));
    }

    #[rstest]
    #[case::version_bump(&["release/23.10", "PyTorch/1.13.1"], &["release/23.10", "PyTorch/2.1.2"],
        &[(Some("PyTorch/1.13.1"), Some("PyTorch/2.1.2"))])]
    #[case::module_added(&["GCC/11.3.0"], &["GCC/11.3.0", "CUDA/12.1.1"], &[(None, Some("CUDA/12.1.1"))])]
    #[case::module_removed(&["GCC/11.3.0", "CUDA/11.7.0"], &["GCC/11.3.0"], &[(Some("CUDA/11.7.0"), None)])]
    #[case::order_does_not_matter(&["A/1", "B/2"], &["B/2", "A/1"], &[])]
    #[case::nested_names_keep_their_path(&["lang/Python/3.10.4"], &["lang/Python/3.11.3"],
        &[(Some("lang/Python/3.10.4"), Some("lang/Python/3.11.3"))])]
    #[case::version_appears(&["dummy"], &["dummy/1"], &[(Some("dummy"), Some("dummy/1"))])]
    fn module_changes_are_matched_by_name(
        #[case] before: &[&str],
        #[case] after: &[&str],
        #[case] expected: &[(Option<&str>, Option<&str>)],
    ) {
        let expected: Vec<(Option<String>, Option<String>)> =
            expected.iter().map(|(b, a)| (b.map(String::from), a.map(String::from))).collect();
        assert_eq!(module_changes(&strings(before), &strings(after)), expected);
    }

    #[test]
    fn kernelspecs_are_compared_after_normalising_the_venv_path() {
        let mut before = kernel("k", None, &["A/1"], "source /ws/old/bin/activate\n");
        before.venv = Some("/ws/old".into());
        let mut after = kernel("k", None, &["A/1"], "source /ws/new/bin/activate\n");
        after.venv = Some("/ws/new".into());
        let c = compare(&report(vec![before]), &report(vec![after]), "a", "b");
        assert_eq!(c, Comparison { baseline_label: "a".into(), current_label: "b".into(), flipped: vec![], module_changes: vec![], kernelspec_diffs: vec![] });
    }

    #[rstest]
    #[case::dropped(true, false, "passed", "not run")]
    #[case::added(false, true, "not run", "passed")]
    fn a_cell_missing_on_one_side_counts_as_flipped(#[case] in_before: bool, #[case] in_after: bool, #[case] was: &str, #[case] is: &str) {
        let side = |present: bool| report(if present { vec![kernel("a", None, &["A/1"], "")] } else { vec![] });
        let c = compare(&side(in_before), &side(in_after), "x", "y");
        assert_eq!(c.flipped, vec![FlippedCell { partition: "alpha".into(), kernel: "a".into(), before: was.into(), after: is.into() }]);
        assert!(c.module_changes.is_empty() && c.kernelspec_diffs.is_empty());
    }

    #[test]
    fn a_failure_at_another_stage_is_a_flip_and_skipped_kernels_are_named() {
        let before = report(vec![kernel("a", Some("pip:base"), &["A/1"], ""), { let mut k = kernel("s", None, &[], ""); k.steps = vec![step("modules", Outcome::Skipped { reason: "r".into() })]; k }]);
        let after = report(vec![kernel("a", Some("launch"), &["A/1"], ""), kernel("s", None, &[], "")]);
        let c = compare(&before, &after, "x", "y");
        let flips: Vec<(&str, &str)> = c.flipped.iter().map(|f| (f.before.as_str(), f.after.as_str())).collect();
        assert_eq!(flips, vec![("pip:base", "launch"), ("skipped", "passed")]);
    }
}

/// `fixtures/report/mixed.json` as the current run and a baseline it differs
/// from: barnard/pytorch flipped, alpha/pytorch's PyTorch bumped, and
/// barnard/minimal's launcher switched to another release.
#[cfg(test)]
pub(crate) mod samples {
    use crate::report::{read_json, KernelspecFiles, Outcome, RunReport};

    const LAUNCHER: &str = "#!/bin/bash\nmodule purge\nmodule load release/23.10 GCCcore/11.3.0 Python/3.10.4\nexec /ws/minimal/bin/python -m ipykernel_launcher \"$@\"\n";
    const KERNEL_JSON: &str = "{\"argv\": [\"/ws/minimal/launcher.sh\", \"-f\", \"{connection_file}\"], \"display_name\": \"Minimal\", \"language\": \"python\"}";

    pub(crate) fn current() -> RunReport {
        let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/report/mixed.json")).expect("fixture mixed.json");
        let mut r = read_json(&text).expect("mixed.json parses");
        let minimal = &mut r.partitions[0].kernels[1];
        minimal.venv = Some("/ws/minimal".into());
        minimal.kernelspec = Some(KernelspecFiles { kernel_json: KERNEL_JSON.into(), launcher: LAUNCHER.into() });
        r
    }

    pub(crate) fn baseline() -> RunReport {
        let mut r = current();
        let old = |m: &String| m.replace("release/23.10", "release/23.04").replace("PyTorch/1.13.1", "PyTorch/1.12.0");
        let pytorch = &mut r.partitions[0].kernels[0];
        for s in &mut pytorch.steps {
            s.outcome = Outcome::Passed;
        }
        pytorch.modules = ["release/23.04", "GCC/11.3.0", "OpenMPI/4.1.4", "PyTorch/1.12.0"].map(String::from).to_vec();
        let minimal = &mut r.partitions[0].kernels[1];
        minimal.modules = minimal.modules.iter().map(old).collect();
        if let Some(k) = &mut minimal.kernelspec {
            k.launcher = k.launcher.replace("release/23.10", "release/23.04");
        }
        let alpha_pytorch = &mut r.partitions[1].kernels[0];
        alpha_pytorch.modules = alpha_pytorch.modules.iter().map(old).collect();
        r
    }
}
