//! `hpc-kernels plan`: and the spec → plan preparation `install` shares.

use crate::error::{Error, Result};
use crate::partition;
use crate::paths;
use crate::plan::{self, render, IndexMapping, Plan, PlanOptions};
use crate::spec::{self, Spec};
use crate::ExitCode;

use super::args::{PlanArgs, TargetArgs};

pub fn run(args: &PlanArgs) -> Result<ExitCode> {
    let (_, plan) = prepare(&args.target, true)?;
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
/// and builds the plan.
pub fn prepare(t: &TargetArgs, print_warnings: bool) -> Result<(Spec, Plan)> {
    let (spec, warnings) = spec::load(&t.spec)?;
    if print_warnings && !warnings.is_empty() {
        let _ = spec::render_human(&warnings, &mut std::io::stderr().lock(), false);
    }
    super::common::check_kernels(&spec, &t.spec, &t.kernels)?;
    let domain = if t.partition.is_none() { crate::exec::host::domain() } else { None };
    let (partition, _) = partition::resolve(&spec, t.partition.as_deref(), domain.as_deref())?;
    let opts = plan_options(t)?;
    let plan = plan::plan(&spec, &partition, &opts);
    Ok((spec, plan))
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
    })
}

fn absolute(p: std::path::PathBuf) -> Result<std::path::PathBuf> {
    std::path::absolute(&p).map_err(|e| Error::io_arg("resolve", &p, e))
}
