//! `list`, `check` and `remove`: the kernels installed on this host.
//! Kernels we did not install are shown as foreign and never touched.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::error::{Error, Result};
use crate::exec::launch;
use crate::kernelspec::{self, InstalledKernel};
use crate::paths;
use crate::report::Outcome;
use crate::ExitCode;

use super::args::{CheckArgs, KernelsDirArgs, ListArgs, RemoveArgs};

fn kernels_dir(a: &KernelsDirArgs) -> PathBuf {
    match &a.prefix {
        Some(prefix) => paths::prefix_kernels_dir(prefix),
        None => paths::user_kernels_dir(&paths::from_process),
    }
}

fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

pub fn list(a: &ListArgs) -> Result<ExitCode> {
    let dir = kernels_dir(&a.dir);
    let kernels = kernelspec::installed(&dir);
    let mut out = std::io::stdout().lock();
    let io = |e| Error::environment("cannot write to stdout").with_source(e);
    if a.json {
        let rows: Vec<_> = kernels
            .iter()
            .map(|k| {
                let partitions: Vec<_> = k
                    .partitions()
                    .map(|(p, e)| {
                        json!({
                            "partition": p, "spec_sha256": e.spec_sha256, "spec_file": e.spec_file,
                            "installed_at": e.installed_at, "modules": e.modules, "venv": e.venv,
                            "launcher": e.launcher, "problems": kernelspec::health(k, e),
                        })
                    })
                    .collect();
                json!({
                    "name": k.name, "dir": k.dir, "display_name": k.display_name, "ours": k.is_ours(),
                    "kernel": k.spec.as_ref().map(|s| s.kernel.clone()),
                    "layout": k.spec.as_ref().map(|s| s.layout),
                    "partitions": partitions,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows).map_err(std::io::Error::from).map_err(io)?;
        writeln!(out).map_err(io)?;
        return Ok(ExitCode::Success);
    }
    writeln!(out, "kernels in {}", dir.display()).map_err(io)?;
    if kernels.is_empty() {
        writeln!(out, "  (none)").map_err(io)?;
    }
    for k in &kernels {
        if !k.is_ours() {
            writeln!(out, "  {:<20} foreign   {}", k.name, k.display_name).map_err(io)?;
            continue;
        }
        writeln!(out, "  {:<20} {}", k.name, k.display_name).map_err(io)?;
        for (p, e) in k.partitions() {
            let problems = kernelspec::health(k, e);
            let health = if problems.is_empty() { "ok".to_string() } else { format!("BROKEN: {}", problems.join("; ")) };
            writeln!(out, "    {:<18} spec {}  [{}]  {health}", p, short_sha(&e.spec_sha256), e.modules.join(" ")).map_err(io)?;
        }
    }
    Ok(ExitCode::Success)
}

pub fn check(a: &CheckArgs) -> Result<ExitCode> {
    let dir = kernels_dir(&a.dir);
    let all = kernelspec::installed(&dir);
    let selected: Vec<&InstalledKernel> = if a.names.is_empty() {
        all.iter().filter(|k| k.is_ours()).collect()
    } else {
        a.names.iter().map(|n| find_ours(&all, n, &dir)).collect::<Result<_>>()?
    };
    for p in &a.partitions {
        if !selected.iter().any(|k| k.partitions().any(|(q, _)| q == p)) {
            let have: Vec<String> = selected.iter().flat_map(|k| k.partitions().map(|(q, _)| q.clone())).collect();
            return Err(Error::usage(format!("--partition {p}: none of the selected kernels is installed for it"))
                .with_hint(format!("installed partitions: {}", have.join(", "))));
        }
    }
    let here = if a.here { Some(this_partition()?) } else { None };
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let mut failed = 0;
    for k in &selected {
        if let Some(p) = &here {
            if !k.partitions().any(|(q, _)| q == p) {
                failed += 1;
                let have: Vec<&str> = k.partitions().map(|(q, _)| q.as_str()).collect();
                println!("✘ {} on {p}: not installed for this partition (installed for {})", k.name, have.join(", "));
            }
        }
        for (partition, entry) in k.partitions() {
            if (!a.partitions.is_empty() && !a.partitions.contains(partition)) || here.as_ref().is_some_and(|h| h != partition) {
                continue;
            }
            let python = match &a.launch_python {
                Some(p) => p.clone(),
                None if !entry.venv.is_empty() => PathBuf::from(&entry.venv).join("bin/python"),
                None => PathBuf::from("python3"),
            };
            let imports = &entry.check_libs;
            let mut log = Vec::new();
            // An earlier version's kernelspec has no dispatcher to pass the partition to.
            // With --here the launcher finds the partition itself.
            let override_partition = (!k.legacy && here.is_none()).then_some(partition.as_str());
            let target = launch::Target { dir: &k.dir, name: &k.name, partition: override_partition };
            // The recorded venv and modules are what the kernel must start with.
            let expected = launch::Expected {
                venv: Some(entry.venv.clone()).filter(|v| !v.is_empty()),
                modules: entry.modules.clone(),
            };
            let outcome = launch::check(&python, &target, imports, &expected, &home, Duration::from_secs(a.timeout), &mut log)
                .unwrap_or_else(|e| Outcome::Error { message: format!("cannot run the check with {}: {e}", python.display()) });
            match &outcome {
                Outcome::Passed => println!("✔ {} on {partition}: started, imported {} check_libs", k.name, imports.len()),
                Outcome::Failed { message } | Outcome::TimedOut { message, .. } | Outcome::Error { message } => {
                    failed += 1;
                    println!("✘ {} on {partition}: {message}", k.name);
                    let text = String::from_utf8_lossy(&log);
                    for line in text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev() {
                        println!("    {line}");
                    }
                }
                Outcome::Skipped { reason } => println!("– {} on {partition}: {reason}", k.name),
            }
        }
    }
    if selected.is_empty() {
        println!("no kernels installed by hpc-kernels in {}", dir.display());
    }
    Ok(if failed == 0 { ExitCode::Success } else { ExitCode::CheckFailed })
}

/// The partition this host's domain names, as the launcher will find it.
fn this_partition() -> Result<String> {
    let domain = crate::exec::host::domain();
    domain.as_deref().and_then(crate::partition::partition_from_domain).ok_or_else(|| {
        Error::environment(format!(
            "cannot tell this host's partition: its domain is {}",
            domain.as_deref().map_or("unknown".to_string(), |d| format!("\"{d}\""))
        ))
        .with_hint(format!("--here needs a host in <partition>.{}; use --partition P instead", crate::partition::SITE_DOMAIN))
    })
}

fn find_ours<'a>(all: &'a [InstalledKernel], name: &str, dir: &Path) -> Result<&'a InstalledKernel> {
    let k = all.iter().find(|k| k.name == name).ok_or_else(|| {
        Error::usage(format!("no kernel named \"{name}\" in {}", dir.display()))
            .with_hint("`hpc-kernels list` shows the installed kernels")
    })?;
    if !k.is_ours() {
        return Err(Error::usage(format!("kernel \"{name}\" was not installed by hpc-kernels; it is left alone"))
            .with_hint("use `jupyter kernelspec` for kernels other tools installed"));
    }
    Ok(k)
}

/// `remove NAME --partition P` also finds the kernelspec `NAME-P` of
/// `--kernelspec-per-partition` installs.
fn find_for_removal<'a>(all: &'a [InstalledKernel], a: &RemoveArgs, dir: &Path) -> Result<&'a InstalledKernel> {
    if let Some(p) = &a.partition {
        let per_partition = format!("{}-{p}", a.name);
        let shared = all.iter().find(|k| k.name == a.name && k.partitions().any(|(q, _)| q == p));
        if shared.is_none() {
            if let Some(k) = all.iter().find(|k| k.name == per_partition && k.is_ours()) {
                return Ok(k);
            }
        }
    }
    find_ours(all, &a.name, dir)
}

/// Only a directory that looks like a venv we built is removed with the kernel.
fn our_venv(path: &str) -> Option<PathBuf> {
    let v = PathBuf::from(path);
    (v.join("pyvenv.cfg").is_file() && v.file_name().is_some_and(|n| n.to_string_lossy().starts_with("venv-"))).then_some(v)
}

pub fn remove(a: &RemoveArgs) -> Result<ExitCode> {
    let dir = kernels_dir(&a.dir);
    let all = kernelspec::installed(&dir);
    let k = find_for_removal(&all, a, &dir)?;
    let partitions: Vec<(&String, &kernelspec::PartitionEntry)> = match &a.partition {
        Some(p) => {
            let found: Vec<_> = k.partitions().filter(|(q, _)| *q == p).collect();
            if found.is_empty() {
                let have: Vec<&str> = k.partitions().map(|(q, _)| q.as_str()).collect();
                return Err(Error::usage(format!("kernel \"{}\" is not installed for partition {p}", k.name))
                    .with_hint(format!("it is installed for: {}", have.join(", "))));
            }
            found
        }
        None => k.partitions().collect(),
    };
    let remaining = k.partitions().count() - partitions.len();
    let mut venvs = Vec::new();
    for (_, e) in &partitions {
        let Some(v) = our_venv(&e.venv) else { continue };
        // Another kernelspec (e.g. `--kernelspec-per-partition` beside the shared one) may use it.
        let user = all.iter().find(|o| o.name != k.name && o.partitions().any(|(_, oe)| oe.venv == e.venv));
        match user {
            Some(o) => println!("keeping venv {} (kernel {} uses it)", v.display(), o.name),
            None => venvs.push(v),
        }
    }
    if remaining == 0 {
        println!("will remove kernelspec {}", k.dir.display());
    } else {
        let names: Vec<&str> = partitions.iter().map(|(p, _)| p.as_str()).collect();
        println!("will remove partition {} from kernelspec {} ({remaining} other partition(s) stay)", names.join(", "), k.dir.display());
    }
    for v in &venvs {
        println!("will remove venv       {}", v.display());
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Error::usage("refusing to remove without confirmation").with_hint("pass --yes to confirm non-interactively"));
        }
        print!("remove? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing removed");
            return Ok(ExitCode::Success);
        }
    }
    let only = if remaining == 0 { None } else { a.partition.as_deref() };
    kernelspec::remove_partition(&dir, &k.name, only).map_err(|e| Error::io("update the kernelspec", &k.dir, e))?;
    for v in venvs {
        std::fs::remove_dir_all(&v).map_err(|e| Error::io("remove", &v, e))?;
    }
    match (&a.partition, remaining) {
        (Some(p), n) if n > 0 => println!("removed {} from {}", p, k.name),
        _ => println!("removed {}", k.name),
    }
    Ok(ExitCode::Success)
}
