//! What changed between two runs (e.g. two module releases): cells that
//! flipped, module versions that moved, kernelspecs that differ.

use similar::TextDiff;

use super::model::{KernelResult, RunReport};
use super::redact::normalise;
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
    /// `(before, after)` per module name; `None` where it is absent on that side.
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
        let changes = module_changes(&b.modules, &a.modules);
        if !changes.is_empty() && !b.modules.is_empty() && !a.modules.is_empty() {
            c.module_changes.push(ModuleChange { partition: partition.clone(), kernel: kernel.clone(), changes });
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
    use super::*;
    use crate::report::{KernelspecFiles, Outcome, PartitionResult, StepResult};

    fn kernel(name: &str, failed_at: Option<&str>, modules: &[&str], launcher: &str) -> KernelResult {
        let mut steps = vec![StepResult { stage: "modules".into(), outcome: Outcome::Passed, seconds: 0.1, command: None, log: String::new() }];
        if let Some(stage) = failed_at {
            steps.push(StepResult { stage: stage.into(), outcome: Outcome::Failed { message: "x".into() }, seconds: 0.1, command: None, log: String::new() });
        }
        KernelResult {
            kernel: name.into(),
            display_name: name.into(),
            steps,
            kernelspec_dir: None,
            venv: Some("/ws/v".into()),
            modules: modules.iter().map(|m| m.to_string()).collect(),
            kernelspec: Some(KernelspecFiles { kernel_json: "{}\n".into(), launcher: launcher.into() }),
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
        assert_eq!(
            c.flipped,
            vec![FlippedCell { partition: "alpha".into(), kernel: "pinned".into(), before: "passed".into(), after: "modules:load".into() }]
        );
        let latest = c.module_changes.iter().find(|m| m.kernel == "latest").unwrap();
        assert!(latest.changes.contains(&(Some("PyTorch/1.13.1".into()), Some("PyTorch/2.1.2".into()))));
        assert!(latest.changes.contains(&(Some("release/23.10".into()), Some("release/24.04".into()))));
        let diff = c.kernelspec_diffs.iter().find(|d| d.kernel == "latest" && d.file == "launcher.sh").unwrap();
        assert!(diff.diff.contains("-load release/23.10 PyTorch") && diff.diff.contains("+load release/24.04 PyTorch"), "{}", diff.diff);
        assert!(!c.kernelspec_diffs.iter().any(|d| d.kernel == "same"));
    }

    #[test]
    fn a_cell_missing_on_one_side_counts_as_flipped() {
        let before = report(vec![kernel("a", None, &[], "")]);
        let after = report(vec![]);
        let c = compare(&before, &after, "x", "y");
        assert_eq!(c.flipped[0].after, "not run");
    }
}
