//! The kernel launcher script: restores the pinned module environment from a
//! bare Jupyter server environment, then execs ipykernel.

use std::fmt::Write as _;

use crate::plan::render::quote;

pub struct LauncherInput<'a> {
    pub kernel: &'a str,
    pub partition: &'a str,
    pub spec_sha256: &'a str,
    pub lmod_init: &'a str,
    /// MODULEPATH after `module purge` at install time; used when the server has none.
    pub modulepath: &'a str,
    pub modules: &'a [String],
    pub venv: &'a str,
    pub argv_prefix: &'a [String],
}

pub fn render(i: &LauncherInput) -> String {
    let mut s = String::new();
    let modules = i.modules.iter().map(|m| quote(m)).collect::<Vec<_>>().join(" ");
    let prefix: String = i.argv_prefix.iter().map(|a| format!("{} ", quote(a))).collect();
    let _ = write!(
        s,
        r#"#!/bin/bash
# Jupyter kernel launcher written by hpc-kernels {version}. Reinstall instead of editing.
# kernel {kernel} on partition {partition}; spec sha256 {sha}
set -euo pipefail

readonly LMOD_INIT={init}
readonly INSTALL_MODULEPATH={modulepath}
readonly VENV={venv}
readonly MODULES=({modules})

die() {{
  echo "hpc-kernels launcher ({kernel}): $*" >&2
  exit 1
}}

# The server's own Python and loader settings must not reach the kernel:
# module loads prepend to these variables instead of replacing them.
unset {scrubbed}
export MODULEPATH="${{MODULEPATH:-$INSTALL_MODULEPATH}}"

set +u  # Lmod's shell functions read unset variables.
if ! declare -F module >/dev/null; then
  [[ -r $LMOD_INIT ]] || die "Lmod init script $LMOD_INIT not found"
  # shellcheck source=/dev/null
  source "$LMOD_INIT" || die "cannot initialise Lmod from $LMOD_INIT"
fi
module purge || die "module purge failed"
module load "${{MODULES[@]}}" || die "module load ${{MODULES[*]}} failed"
set -u

[[ -x $VENV/bin/python ]] || die "virtual environment $VENV is missing"
export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export PYTHONNOUSERSITE=1
exec {prefix}"$VENV/bin/python" -m ipykernel_launcher "$@"
"#,
        version = crate::VERSION,
        kernel = i.kernel,
        partition = i.partition,
        sha = i.spec_sha256,
        init = quote(i.lmod_init),
        modulepath = quote(i.modulepath),
        venv = quote(i.venv),
        scrubbed = crate::exec::lmod::SCRUBBED_VARS.join(" "),
    );
    s
}
