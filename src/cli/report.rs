//! `hpc-kernels report merge`: the shards of a validation back into one report.

use std::path::Path;

use crate::error::{Error, Result};
use crate::report;
use crate::ExitCode;

use super::args::MergeArgs;
use super::common;

pub fn merge(a: &MergeArgs, color: bool) -> Result<ExitCode> {
    for out in [&a.junit, &a.json].into_iter().flatten() {
        if let Some(input) = a.files.iter().find(|f| same_file(f, out)) {
            return Err(Error::usage(format!("{} is both an input and an output", input.display()))
                .with_hint("write the merged report to a new file, e.g. --junit merged.xml"));
        }
    }
    let inputs = a.files.iter().map(|f| report::read_merge_input(f)).collect::<Result<Vec<_>>>()?;
    let merged = report::merge(inputs)?;
    if a.json.is_some() && !merged.has_full_results() {
        return Err(Error::usage("--json: JUnit inputs hold no full results (modules, kernelspecs)")
            .with_hint("merge the shards' JSON results (validate --json) to get merged JSON results"));
    }
    if let Some(path) = &a.junit {
        common::write_report_file(path, |w| merged.write_junit(w))?;
    }
    if let Some(path) = &a.json {
        common::write_report_file(path, |w| report::write_json(&merged.report, w))?;
    }
    let mut out = std::io::stdout().lock();
    report::write_matrix(&merged.report, &mut out, report::MatrixStyle { color, unicode: true })
        .map_err(|e| Error::environment("cannot write to stdout").with_source(e))?;
    for path in [&a.junit, &a.json].into_iter().flatten() {
        eprintln!("merged {} file(s) into {}", a.files.len(), path.display());
    }
    Ok(merged.report.exit_code(false))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
