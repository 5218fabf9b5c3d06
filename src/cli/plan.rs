//! `hpc-kernels plan`: and the spec → plan preparation `install` shares.

use crate::error::{Error, Result};
use crate::partition;
use crate::paths;
use std::path::PathBuf;

use crate::exec;
use crate::plan::{self, render, IndexMapping, Installer, Plan, PlanOptions};
use crate::spec::{self, Spec};
use crate::ExitCode;

use super::args::{InstallerChoice, PlanArgs, TargetArgs};

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let (_, plan, _) = prepare(&args.target, true)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        render::write_json(&plan, &mut out)
    } else if args.script {
        render::write_script(&plan, &mut out)
    } else {
        render::write_table(&plan, &mut out)
    };
    written.map_err(|e| Error::environment("cannot write the plan to stdout").with_source(e))?;
    Ok(ExitCode::Success)
}

/// Loads and lints the spec (warnings go to stderr), resolves the partition
/// and the installer (uv, when asked for and found) and builds the plan.
pub fn prepare(t: &TargetArgs, print_warnings: bool) -> Result<(Spec, Plan, Option<PathBuf>)> {
    let (spec, warnings) = spec::load(&t.spec)?;
    if print_warnings && !warnings.is_empty() {
        let _ = spec::render_human(&warnings, &mut std::io::stderr().lock(), false);
    }
    super::common::check_kernels(&spec, &t.spec, &t.kernels)?;
    let domain = if t.partition.is_none() { crate::exec::host::domain() } else { None };
    let (partition, _) = partition::resolve(&spec, t.partition.as_deref(), domain.as_deref())?;
    let mut opts = plan_options(t)?;
    let uv = match t.installer {
        InstallerChoice::Pip => None,
        InstallerChoice::Uv => {
            let found = exec::uv::find(std::env::var("PATH").ok().as_deref(), std::env::current_exe().ok().as_deref());
            match &found {
                Some(_) => opts.installer = Installer::Uv,
                None => eprintln!(
                    "notice: --installer uv: uv is not on PATH, installing with pip instead; \
                     get uv with `pip install --user uv` (or `python3 -m pip install --user uv`) and make sure ~/.local/bin is on PATH"
                ),
            }
            found
        }
    };
    let plan = plan::plan(&spec, &partition, &opts);
    Ok((spec, plan, uv))
}

fn plan_options(t: &TargetArgs) -> Result<PlanOptions> {
    let get = &paths::from_process;
    let workspace = absolute(t.workspace.clone().unwrap_or_else(|| paths::default_workspace(get)))?;
    let kernels_dir = match &t.prefix {
        Some(prefix) => paths::prefix_kernels_dir(&absolute(prefix.clone())?),
        None => paths::user_kernels_dir(get),
    };
    let mut rules = Vec::new();
    for r in &t.index_map {
        rules.push(IndexMapping::parse_rule(r).ok_or_else(|| {
            Error::usage(format!("--index-map {r}: expected FROM=TO")).with_hint("e.g. --index-map '*=file:///opt/wheels/simple'")
        })?);
    }
    let argv_prefix = match &t.argv_prefix {
        Some(p) => shlex::split(p).filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::usage(format!("--argv-prefix {p}: not a command line")).with_hint("e.g. --argv-prefix 'flux start'")
        })?,
        None => Vec::new(),
    };
    Ok(PlanOptions {
        workspace,
        kernels_dir,
        only_kernels: t.kernels.clone(),
        python: t.python.clone(),
        index: IndexMapping { default_index: t.index_url.clone(), rules },
        argv_prefix,
        kernelspec_per_partition: t.kernelspec_per_partition,
        installer: Installer::Pip,
    })
}

/// `hpc-kernels install SPEC` with the options that decide where and how it
/// installs, as the launcher shows it for a partition the kernel lacks
/// (`--kernel` and `--partition` are added per kernel and partition).
pub fn install_command(t: &TargetArgs) -> Result<Vec<String>> {
    let mut cmd = vec!["hpc-kernels".to_string(), "install".to_string(), absolute(t.spec.clone())?.to_string_lossy().into_owned()];
    let get = &paths::from_process;
    if let Some(ws) = &t.workspace {
        let ws = absolute(ws.clone())?;
        if ws != paths::default_workspace(get) {
            cmd.extend(["--workspace".to_string(), ws.to_string_lossy().into_owned()]);
        }
    }
    if let Some(prefix) = &t.prefix {
        cmd.extend(["--prefix".to_string(), absolute(prefix.clone())?.to_string_lossy().into_owned()]);
    }
    if t.python != "python3" {
        cmd.extend(["--python".to_string(), t.python.clone()]);
    }
    if let Some(url) = &t.index_url {
        cmd.extend(["--index-url".to_string(), url.clone()]);
    }
    for rule in &t.index_map {
        cmd.extend(["--index-map".to_string(), rule.clone()]);
    }
    if let Some(prefix) = &t.argv_prefix {
        cmd.extend(["--argv-prefix".to_string(), prefix.clone()]);
    }
    if t.kernelspec_per_partition {
        cmd.push("--kernelspec-per-partition".to_string());
    }
    if t.installer != InstallerChoice::Pip {
        cmd.extend(["--installer".to_string(), t.installer.name().to_string()]);
    }
    Ok(cmd)
}

fn absolute(p: std::path::PathBuf) -> Result<std::path::PathBuf> {
    std::path::absolute(&p).map_err(|e| Error::io_arg("resolve", &p, e))
}
