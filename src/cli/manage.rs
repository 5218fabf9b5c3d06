//! `list`, `check` and `remove`: the kernels installed on this host.
//! Kernels we did not install are shown as foreign and never touched.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
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

fn field(k: &InstalledKernel, key: &str) -> String {
    k.provenance.as_ref().and_then(|p| p.get(key)).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

fn modules(k: &InstalledKernel) -> Vec<String> {
    k.provenance
        .as_ref()
        .and_then(|p| p.get("modules"))
        .and_then(|m| m.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default()
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
                json!({
                    "name": k.name, "dir": k.dir, "display_name": k.display_name, "ours": k.is_ours(),
                    "partition": field(k, "partition"), "spec_sha256": field(k, "spec_sha256"),
                    "modules": modules(k), "venv": field(k, "venv"),
                    "problems": if k.is_ours() { kernelspec::health(k) } else { vec![] },
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
        let problems = kernelspec::health(k);
        let health = if problems.is_empty() { "ok".to_string() } else { format!("BROKEN: {}", problems.join("; ")) };
        let sha = field(k, "spec_sha256");
        writeln!(
            out,
            "  {:<20} {:<9} spec {}  {}  [{}]  {health}",
            k.name,
            field(k, "partition"),
            sha.get(..12).unwrap_or(&sha),
            k.display_name,
            modules(k).join(" ")
        )
        .map_err(io)?;
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
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let mut failed = 0;
    for k in &selected {
        let python = match (&a.launch_python, k.venv()) {
            (Some(p), _) => p.clone(),
            (None, Some(venv)) => venv.join("bin/python"),
            (None, None) => PathBuf::from("python3"),
        };
        let imports: Vec<String> = k
            .provenance
            .as_ref()
            .and_then(|p| p.get("check_libs"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let mut log = Vec::new();
        // The recorded venv and modules are what the kernel must start with.
        let expected = launch::Expected {
            venv: k.venv().map(|v| v.to_string_lossy().into_owned()),
            modules: modules(k),
        };
        let outcome = launch::check(&python, &k.dir, &k.name, &imports, &expected, &home, Duration::from_secs(a.timeout), &mut log)
            .unwrap_or_else(|e| Outcome::Error { message: format!("cannot run the check with {}: {e}", python.display()) });
        match &outcome {
            Outcome::Passed => println!("✔ {}: started, imported {} check_libs", k.name, imports.len()),
            Outcome::Failed { message } | Outcome::TimedOut { message, .. } | Outcome::Error { message } => {
                failed += 1;
                println!("✘ {}: {message}", k.name);
                let text = String::from_utf8_lossy(&log);
                for line in text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev() {
                    println!("    {line}");
                }
            }
            Outcome::Skipped { reason } => println!("– {}: {reason}", k.name),
        }
    }
    if selected.is_empty() {
        println!("no kernels installed by hpc-kernels in {}", dir.display());
    }
    Ok(if failed == 0 { ExitCode::Success } else { ExitCode::CheckFailed })
}

fn find_ours<'a>(all: &'a [InstalledKernel], name: &str, dir: &std::path::Path) -> Result<&'a InstalledKernel> {
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

pub fn remove(a: &RemoveArgs) -> Result<ExitCode> {
    let dir = kernels_dir(&a.dir);
    let all = kernelspec::installed(&dir);
    let k = find_ours(&all, &a.name, &dir)?;
    // Only a directory that looks like a venv we built is removed with the kernel.
    let venv = k.venv().filter(|v| {
        v.join("pyvenv.cfg").is_file() && v.file_name().is_some_and(|n| n.to_string_lossy().starts_with("venv-"))
    });
    println!("will remove kernelspec {}", k.dir.display());
    if let Some(v) = &venv {
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
    std::fs::remove_dir_all(&k.dir).map_err(|e| Error::io("remove", &k.dir, e))?;
    if let Some(v) = venv {
        std::fs::remove_dir_all(&v).map_err(|e| Error::io("remove", &v, e))?;
    }
    println!("removed {}", a.name);
    Ok(ExitCode::Success)
}
