use super::*;
use crate::report::{KernelResult, KernelspecFiles, PartitionResult, RunReport};

const LAUNCHER: &str = "#!/bin/bash\n# hpc-kernels 0.1.0\nset -euo pipefail\nmodule purge\nmodule load GCC/11.3.0\nsource /ws/alpha/share/pytorch/bin/activate\nexec python -m ipykernel_launcher \"$@\"\n";

fn report(venv: &str, launcher: &str) -> RunReport {
    let kernel_json = format!(
        r#"{{"argv": ["{venv}/share/jupyter/kernels/pytorch/launcher.sh", "-f", "{{connection_file}}"], "display_name": "PyTorch", "language": "python", "metadata": {{"hpc_kernels": {{"spec_sha256": "{}", "tool_version": "0.1.0"}}}}}}"#,
        "c".repeat(64)
    );
    RunReport {
        tool_version: "0.1.0".into(),
        spec_file: "kernels.json".into(),
        spec_sha256: "c".repeat(64),
        partitions: vec![PartitionResult {
            partition: "alpha".into(),
            kernels: vec![KernelResult {
                kernel: "pytorch".into(),
                display_name: "PyTorch".into(),
                steps: vec![],
                kernelspec_dir: None,
                venv: Some(venv.into()),
                modules: vec![],
                kernelspec: Some(KernelspecFiles {
                    kernel_json,
                    launcher: launcher.replace("/ws/alpha/share/pytorch", venv),
                }),
                lmod_init: None,
                notes: Vec::new(),
            }],
            error: None,
        }],
        notes: vec![],
    }
}

fn opts(dir: &Path, accept: bool) -> SnapshotOptions {
    SnapshotOptions { dir: dir.to_path_buf(), accept, workspace: Some("/ws".into()) }
}

fn statuses(results: &[SnapshotResult]) -> Vec<(&str, &SnapshotStatus)> {
    results.iter().map(|r| (r.file.as_str(), &r.status)).collect()
}

#[test]
fn new_then_accept_then_match_even_with_another_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let first = report("/ws/alpha/share/pytorch", LAUNCHER);

    let results = check_snapshots(&first, &opts(tmp.path(), false)).unwrap();
    assert_eq!(
        statuses(&results),
        vec![("kernel.json", &SnapshotStatus::New), ("launcher.sh", &SnapshotStatus::New)]
    );
    assert!(results.iter().all(SnapshotResult::is_failure));
    assert!(!tmp.path().join("alpha").exists(), "never writes without accept");

    let results = check_snapshots(&first, &opts(tmp.path(), true)).unwrap();
    assert!(results.iter().all(|r| r.status == SnapshotStatus::Written));
    let stored = std::fs::read_to_string(tmp.path().join("alpha/pytorch/launcher.sh")).unwrap();
    assert!(stored.contains("source {venv}/bin/activate"), "{stored}");
    assert!(stored.contains("# hpc-kernels <version>"), "{stored}");
    let stored_json =
        std::fs::read_to_string(tmp.path().join("alpha/pytorch/kernel.json")).unwrap();
    assert!(stored_json.contains("\"<sha256>\""), "{stored_json}");
    assert!(stored_json.contains("{venv}/share/jupyter"), "{stored_json}");

    // Another run in another workspace with the same kernelspec matches.
    let mut second = report("/scratch/u/run2/alpha/share/pytorch", LAUNCHER);
    second.tool_version = "0.2.0".into();
    let results = check_snapshots(&second, &opts(tmp.path(), false)).unwrap();
    assert!(results.iter().all(|r| r.status == SnapshotStatus::Matched), "{results:?}");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("alpha/pytorch")).unwrap().collect();
    assert_eq!(leftovers.len(), 2, "no temporary files left behind");
}

#[test]
fn changed_launcher_line_shows_a_diff_and_accept_updates_it() {
    let tmp = tempfile::tempdir().unwrap();
    check_snapshots(&report("/ws/alpha/share/pytorch", LAUNCHER), &opts(tmp.path(), true)).unwrap();

    let changed = LAUNCHER.replace("module load GCC/11.3.0", "module load GCC/12.2.0");
    let results =
        check_snapshots(&report("/ws/alpha/share/pytorch", &changed), &opts(tmp.path(), false))
            .unwrap();
    assert_eq!(results[0].status, SnapshotStatus::Matched);
    let SnapshotStatus::Changed { diff } = &results[1].status else {
        panic!("launcher should have changed: {results:?}");
    };
    assert!(diff.contains("-module load GCC/11.3.0\n"), "{diff}");
    assert!(diff.contains("+module load GCC/12.2.0\n"), "{diff}");
    assert!(diff.contains("@@ "), "{diff}");

    let mut plain = Vec::new();
    write_diffs(&results, &mut plain, false).unwrap();
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.starts_with("changed alpha/pytorch/launcher.sh:\n"), "{plain}");
    assert!(plain.contains("re-run the same command with --accept-snapshots"), "{plain}");
    assert!(!plain.contains('\u{1b}'));

    let mut colored = Vec::new();
    write_diffs_with(
        &results,
        &mut colored,
        true,
        Some("hpc-kernels validate k.json --accept-snapshots"),
    )
    .unwrap();
    let colored = String::from_utf8(colored).unwrap();
    assert!(colored.contains("\u{1b}[31m-module load GCC/11.3.0"), "{colored}");
    assert!(colored.contains("\u{1b}[32m+module load GCC/12.2.0"), "{colored}");
    assert!(
        colored.ends_with("run: hpc-kernels validate k.json --accept-snapshots\n"),
        "{colored}"
    );

    let results =
        check_snapshots(&report("/ws/alpha/share/pytorch", &changed), &opts(tmp.path(), true))
            .unwrap();
    assert_eq!(results[1].status, SnapshotStatus::Written);
    let stored = std::fs::read_to_string(tmp.path().join("alpha/pytorch/launcher.sh")).unwrap();
    assert!(stored.contains("GCC/12.2.0"));
}

#[test]
fn nothing_to_report_prints_nothing() {
    let results = vec![SnapshotResult {
        partition: "alpha".into(),
        kernel: "k".into(),
        file: "kernel.json".into(),
        status: SnapshotStatus::Matched,
    }];
    let mut out = Vec::new();
    write_diffs(&results, &mut out, true).unwrap();
    assert!(out.is_empty());
}

#[test]
fn names_that_would_escape_the_snapshot_dir_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bad = report("/ws/alpha/share/pytorch", LAUNCHER);
    bad.partitions[0].kernels[0].kernel = "../../etc".into();
    let err = check_snapshots(&bad, &opts(tmp.path(), true)).unwrap_err();
    assert!(err.message.contains("../../etc"), "{}", err.message);
    assert!(err.hint.is_some());
}

#[test]
fn unreadable_snapshot_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as a snapshot.
    std::fs::create_dir_all(tmp.path().join("alpha/pytorch/kernel.json")).unwrap();
    let err =
        check_snapshots(&report("/ws/alpha/share/pytorch", LAUNCHER), &opts(tmp.path(), false))
            .unwrap_err();
    assert!(err.message.contains("kernel.json"), "{}", err.message);
}
