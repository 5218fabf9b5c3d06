//! The launcher scripts. Jupyter starts the dispatcher (`launch-kernel.sh`),
//! which finds the partition it runs on and execs that partition's launcher;
//! a partition's launcher restores its pinned module environment from a bare
//! Jupyter server environment, then execs ipykernel.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

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
# Partition launcher written by hpc-kernels {version}. Reinstall instead of editing.
# kernel {kernel} on partition {partition}; spec sha256 {sha}; started by launch-kernel.sh
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

/// `launch-<partition>-<content hash>.sh`: a changed launcher gets a new name,
/// so the `kernel.json` that names it is the one switch between old and new.
pub fn partition_file_name(partition: &str, content: &str) -> String {
    let digest = hex::encode(Sha256::digest(content.as_bytes()));
    format!("launch-{partition}-{}.sh", &digest[..12])
}

/// The dispatcher: `launch-kernel.sh --partitions P=FILE,… -f CONNECTION_FILE`.
/// `install_command` (without `--partition`) goes into the message for a
/// partition the kernel was not installed for.
pub fn render_dispatcher(kernel: &str, install_command: &[String]) -> String {
    let install = install_command.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
    format!(
        r#"#!/bin/bash
# Jupyter kernel launcher written by hpc-kernels {version}. Reinstall instead of editing.
# kernel {kernel}: one kernelspec for every partition ($HOME is shared); this
# script finds the partition it runs on and starts that partition's launcher,
# taken from the table kernel.json passes (--partitions P=FILE,...).
set -euo pipefail

readonly KERNEL={kernel_q}
readonly SITE_DOMAIN={site}
readonly INSTALL=({install})

die() {{
  echo "hpc-kernels launcher ($KERNEL): $*" >&2
  exit 1
}}

[[ ${{1-}} == --partitions && $# -ge 2 ]] || die "kernel.json passes no partition table; reinstall the kernel"
table=$2
shift 2

# The partition, found as install finds it: $HPC_KERNELS_PARTITION, else the
# host's domain <partition>.$SITE_DOMAIN (hostname -d, else the node name's).
partition=
if [[ -n ${{HPC_KERNELS_PARTITION-}} ]]; then
  partition=$HPC_KERNELS_PARTITION
  found_by="HPC_KERNELS_PARTITION=$partition"
else
  domain=$(hostname -d 2>/dev/null) || domain=
  if [[ -z $domain || $domain == *[[:space:]]* ]]; then
    node=$(uname -n)
    domain=${{node#*.}}
    if [[ $domain == "$node" ]]; then domain=; fi
  fi
  domain=${{domain,,}}
  domain=${{domain%.}}
  found_by="host domain '$domain'"
  if [[ $domain == *."$SITE_DOMAIN" ]]; then
    partition=${{domain%."$SITE_DOMAIN"}}
    partition=${{partition##*.}}
  fi
fi

installed=""
launcher=""
add_command="$(printf '%q ' "${{INSTALL[@]}}")--partition $partition"
IFS=, read -ra entries <<<"$table"
for entry in "${{entries[@]}}"; do
  installed+="${{installed:+, }}${{entry%%=*}}"
  if [[ -n $partition && ${{entry%%=*}} == "$partition" ]]; then launcher=${{entry#*=}}; fi
done

if [[ -z $partition ]]; then
  die "cannot tell which partition this is ($found_by is not <partition>.$SITE_DOMAIN); set HPC_KERNELS_PARTITION to one of: $installed"
fi
if [[ -z $launcher ]]; then
  die "installed for partition(s) $installed, not for $partition ($found_by); to add it, run on $partition: $add_command"
fi
here=${{BASH_SOURCE[0]%/*}}
if [[ $here == "${{BASH_SOURCE[0]}}" ]]; then here=.; fi
[[ $launcher != */* && -x $here/$launcher ]] || die "launcher $here/$launcher of partition $partition is missing; reinstall: $add_command"
export HPC_KERNELS_PARTITION=$partition
exec "$here/$launcher" "$@"
"#,
        version = crate::VERSION,
        kernel_q = quote(kernel),
        site = crate::partition::SITE_DOMAIN,
    )
}
