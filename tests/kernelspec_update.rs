//! The kernelspec update under fire: a writer process reinstalls one
//! partition over and over and is killed (SIGKILL) at random moments, while
//! a reader keeps reading. Whatever the moment, `kernel.json` is the old or
//! the new one, every launcher it names is complete, the other partition is
//! untouched, and the next writer takes over the dead one's lock file.
//!
//! The update is made of single-file renames (what NFS and Lustre do
//! atomically) and never uses `renameat2(RENAME_EXCHANGE)`, so this is the
//! path a file system without it takes.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hpc_kernels::kernelspec::{self, launcher::LauncherInput, KernelspecInput, Layout, Rendered};
use sha2::{Digest, Sha256};


fn modules(version: &str) -> Vec<String> {
    vec!["release/23.10".to_string(), format!("Demo/{version}")]
}

fn render(partition: &str, version: &str) -> Rendered {
    let mods = modules(version);
    let venv = format!("/ws/{partition}/demo/venv-{version}");
    let install = ["hpc-kernels", "install", "/spec.json", "--kernel", "demo"].map(String::from);
    kernelspec::render(&KernelspecInput {
        dir_name: "demo",
        kernel: "demo",
        display_name: "Demo",
        layout: Layout::Shared,
        launcher: LauncherInput {
            kernel: "demo",
            partition,
            spec_sha256: "00",
            lmod_init: "/usr/share/lmod/lmod/init/bash",
            modulepath: "/modules",
            modules: &mods,
            venv: &venv,
            argv_prefix: &[],
        },
        loaded_modules: &mods,
        check_libs: &[],
        spec_file: "/spec.json",
        installed_at: "2026-11-30T06:00:00Z",
        install_command: &install,
    })
}

fn kernels(root: &Path) -> PathBuf {
    root.join("share/jupyter/kernels")
}

fn install(root: &Path, r: &Rendered) {
    let k = kernels(root);
    let staged = kernelspec::stage(&k, r, Path::new("/nonexistent")).unwrap();
    kernelspec::commit(&staged, &k, "demo", &r.partition).unwrap();
}

/// Forks a writer that reinstalls partition `parta` with alternating modules
/// forever, reporting each commit on a pipe; returns its pid and that pipe.
fn spawn_writer(root: &Path) -> (nix::unistd::Pid, std::io::PipeReader) {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let versions = [render("parta", "1.0"), render("parta", "2.0")];
    // SAFETY: the child only renders, writes files and exits; glibc's malloc is fork-safe.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            drop(reader);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for i in 0.. {
                    install(root, &versions[i % 2]);
                    let _ = writeln!(writer, "committed {i}");
                }
            }));
            // Never return into the test harness from the child.
            unsafe { nix::libc::_exit(if outcome.is_ok() { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => (child, reader),
    }
}

/// What a reader may see: `kernel.json` with partb as installed and parta in
/// one of its two versions; every launcher complete (its name is its hash).
fn check_consistent(root: &Path, partb: &kernelspec::PartitionEntry) -> Result<String, String> {
    // A launcher that went between reading kernel.json and opening it: the
    // kernel.json read was two updates old by then; read again.
    for _ in 0..3 {
        match check_once(root, partb) {
            Err(e) if e.contains("missing") => continue,
            other => return other,
        }
    }
    check_once(root, partb)
}

fn check_once(root: &Path, partb: &kernelspec::PartitionEntry) -> Result<String, String> {
    let dir = kernels(root).join("demo");
    let text = std::fs::read_to_string(dir.join("kernel.json")).map_err(|e| format!("kernel.json unreadable: {e}"))?;
    let k = kernelspec::read_installed(&dir).ok_or_else(|| format!("kernel.json does not parse: {text}"))?;
    let spec = k.spec.ok_or("kernel.json is not ours")?;
    if spec.partitions.get("partb") != Some(partb) {
        return Err(format!("partb changed: {text}"));
    }
    let parta = spec.partitions.get("parta").ok_or_else(|| format!("parta missing: {text}"))?;
    let version = match parta.modules.last().map(String::as_str) {
        Some("Demo/1.0") => "1.0",
        Some("Demo/2.0") => "2.0",
        other => return Err(format!("parta has modules {other:?}")),
    };
    for (p, e) in &spec.partitions {
        let content = std::fs::read(dir.join(&e.launcher)).map_err(|err| format!("{p}: launcher {} missing: {err}", e.launcher))?;
        let digest = hex::encode(Sha256::digest(&content));
        if !e.launcher.contains(&digest[..12]) {
            return Err(format!("{p}: launcher {} is not complete", e.launcher));
        }
        if !String::from_utf8_lossy(&content).contains(&format!("venv-{}", if p == "parta" { version } else { "1.0" })) {
            return Err(format!("{p}: launcher {} does not match kernel.json", e.launcher));
        }
    }
    let dispatcher = std::fs::read_to_string(dir.join(kernelspec::LAUNCHER)).map_err(|e| format!("dispatcher: {e}"))?;
    if !dispatcher.ends_with("exec \"$here/$launcher\" \"$@\"\n") {
        return Err("the dispatcher is incomplete".into());
    }
    Ok(version.to_string())
}

fn jitter(max_ms: u64) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    Duration::from_micros(nanos % (max_ms * 1000))
}

#[test]
fn writer_is_killed_mid_update_and_readers_see_old_or_new() {
    let root = tempfile::tempdir().unwrap();
    install(root.path(), &render("partb", "1.0"));
    install(root.path(), &render("parta", "1.0"));
    let partb = render("partb", "1.0").spec.partitions["partb"].clone();

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = std::thread::spawn({
        let (root, partb, stop, reads) = (root.path().to_path_buf(), partb.clone(), stop.clone(), reads.clone());
        move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                check_consistent(&root, &partb)?;
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }
    });

    let (mut kills, mut leftovers, mut seen) = (0, 0, std::collections::BTreeSet::new());
    let started = Instant::now();
    while kills < 30 && started.elapsed() < Duration::from_secs(240) {
        let (child, pipe) = spawn_writer(root.path());
        // The writer must get going: after a kill, it takes over the dead writer's lock.
        let mut lines = BufReader::new(pipe).lines();
        let progressed = lines.by_ref().map_while(Result::ok).any(|l| l.starts_with("committed"));
        assert!(progressed, "the writer committed nothing (lock not taken over?)");
        let drain = std::thread::spawn(move || for _ in lines {});
        std::thread::sleep(jitter(15));
        nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL).unwrap();
        nix::sys::wait::waitpid(child, None).unwrap();
        drain.join().unwrap();
        kills += 1;
        let dir = kernels(root.path()).join("demo");
        if std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with(".hpc-kernels-tmp-")) {
            leftovers += 1;
        }
        match check_consistent(root.path(), &partb) {
            Ok(v) => {
                seen.insert(v);
            }
            Err(e) => panic!("after kill {kills}: {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap().unwrap_or_else(|e| panic!("a reader saw a broken kernelspec: {e}"));
    eprintln!("{kills} kills, {leftovers} of them mid-write, {} consistent reads, versions seen {seen:?}", reads.load(Ordering::Relaxed));
    assert_eq!(kills, 30, "too slow to kill the writer 30 times");
    assert!(reads.load(Ordering::Relaxed) > 100, "the reader hardly ran");
    assert_eq!(seen.len(), 2, "the writer never got both versions in: {seen:?}");

    // A later install cleans what killed writers left, and the kernelspec still takes updates.
    install(root.path(), &render("parta", "2.0"));
    let dir = kernels(root.path()).join("demo");
    let names: Vec<String> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with(".hpc-kernels-tmp-")), "{names:?}");
    let launchers = names.iter().filter(|n| n.starts_with("launch-part")).count();
    assert!((2..=3).contains(&launchers), "the current launchers and at most one superseded one: {names:?}");
    assert_eq!(check_consistent(root.path(), &partb).unwrap(), "2.0");
}
