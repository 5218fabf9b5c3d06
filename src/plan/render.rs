//! Views of a plan: a table for people, JSON for machines, a bash script to run by hand.

use std::io::{self, Write};

use super::{Action, Installer, KernelPlan, Plan};

/// Shell-quotes one word for display and for scripts.
pub fn quote(word: &str) -> String {
    shlex::try_quote(word).map(|q| q.into_owned()).unwrap_or_else(|_| {
        // Only a NUL byte makes quoting fail; lint rejects those, so show it visibly.
        format!("'{}'", word.replace('\0', "\\0").replace('\'', "'\\''"))
    })
}

fn join(words: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    words.into_iter().map(|w| quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}

/// The command a step runs, as a user would type it.
pub fn command_line(kp: &KernelPlan, action: &Action) -> String {
    let python = kp.venv_python();
    let python = python.to_string_lossy();
    match action {
        Action::LoadModules { modules } => {
            format!("module purge && module load {}", join(modules))
        }
        Action::CreateVenv { python, path } if kp.installer == Installer::Uv => {
            format!("uv venv --python {} --system-site-packages --allow-existing {}", quote(python), quote(&path.to_string_lossy()))
        }
        Action::CreateVenv { python, path } => {
            format!(
                "{} -m venv --without-pip --system-site-packages {}   # pip: the module's, or ensurepip's when it has none or an older one",
                quote(python),
                quote(&path.to_string_lossy())
            )
        }
        Action::PipInstall { args, .. } if kp.installer == Installer::Uv => format!(
            "uv pip install --python {} {}   # with stand-ins for the distributions outside the venv; `plan --script` shows them",
            quote(&python),
            join(&super::uv::translate(args).args)
        ),
        Action::PipInstall { args, .. } => format!("{} -m pip install {}", quote(&python), join(args)),
        Action::SkipPip { reason, .. } => format!("# skipped: {reason}"),
        Action::CheckConsistency => {
            format!("{} - < consistency.py  # pip check over what is imported first; `plan --script` shows the script", quote(&python))
        }
        Action::CheckImport { module } => format!("{} -c {}", quote(&python), quote(&format!("import {module}"))),
        Action::TestScript { script } => format!("bash -eo pipefail -c {}", quote(script)),
        Action::WriteKernelspec { name, .. } => {
            format!("# write kernel.json and launcher for {name} into a staging directory")
        }
        Action::LaunchKernel { .. } => {
            format!("# start the staged kernel via jupyter_client, then move it to {}", kp.kernelspec_dir.display())
        }
    }
}

pub fn write_table(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    let short_hash = plan.spec_sha256.get(..12).unwrap_or(&plan.spec_sha256);
    writeln!(w, "partition {} · spec sha256 {short_hash}… · installer {}", plan.partition, plan.installer.name())?;
    if plan.kernels.is_empty() {
        writeln!(w, "(no kernels selected)")?;
    }
    for kp in &plan.kernels {
        writeln!(w)?;
        writeln!(w, "kernel {} — {}", kp.kernel, kp.display_name)?;
        writeln!(w, "  venv        {}", kp.venv.display())?;
        writeln!(w, "  kernelspec  {}", kp.kernelspec_dir.display())?;
        let width = kp.steps.iter().map(|s| s.stage.chars().count()).max().unwrap_or(0);
        for (i, step) in kp.steps.iter().enumerate() {
            let mut cmd = command_line(kp, &step.action);
            if let Action::PipInstall { index_rewrites, .. } = &step.action {
                for (from, to) in index_rewrites {
                    cmd.push_str(&format!("   (index {from} → {to})"));
                }
            }
            writeln!(w, "  {:>2} {:<width$}  {cmd}", i + 1, step.stage)?;
        }
    }
    Ok(())
}

pub fn write_json(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    writeln!(w)
}

const LMOD_INIT_SEARCH: &str = r#"if ! declare -F module >/dev/null; then
  for init in "${LMOD_PKG:-/nonexistent}/init/bash" /usr/share/lmod/lmod/init/bash \
              /opt/lmod/lmod/init/bash /usr/local/lmod/lmod/init/bash; do
    if [[ -r $init ]]; then
      # shellcheck source=/dev/null
      source "$init"
      break
    fi
  done
fi
declare -F module >/dev/null || { echo "Lmod not found" >&2; exit 3; }
"#;

/// A bash script doing what `install` does up to the kernelspec, one kernel
/// per subshell so module state never leaks from one kernel to the next.
pub fn write_script(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "#!/bin/bash")?;
    writeln!(w, "# Install plan by hpc-kernels {} for partition {}.", crate::VERSION, plan.partition)?;
    writeln!(w, "# spec sha256 {}", plan.spec_sha256)?;
    writeln!(w, "# Kernelspecs are written and verified by `hpc-kernels install`; this script")?;
    writeln!(w, "# reproduces every step before that.")?;
    writeln!(w, "set -eo pipefail")?;
    w.write_all(LMOD_INIT_SEARCH.as_bytes())?;
    for kp in &plan.kernels {
        writeln!(w)?;
        writeln!(w, "# ── kernel {} ({})", kp.kernel, kp.display_name.replace('\n', " "))?;
        writeln!(w, "(")?;
        for step in &kp.steps {
            writeln!(w, "  # {}", step.stage)?;
            let line = match &step.action {
                Action::LoadModules { modules } => format!("module purge\n  module load {}", join(modules)),
                Action::TestScript { script } => format!("(cd {} && bash -eo pipefail -c {})", quote(&kp.venv.to_string_lossy()), quote(script)),
                Action::CheckConsistency => format!(
                    "{} - <<'HPC_KERNELS_CONSISTENCY'\n{}HPC_KERNELS_CONSISTENCY",
                    quote(&kp.venv_python().to_string_lossy()),
                    super::CONSISTENCY_PY
                ),
                Action::PipInstall { args, .. } if kp.installer == Installer::Uv => uv_script(kp, args),
                create @ Action::CreateVenv { .. } if kp.installer == Installer::Pip => {
                    let venv_python = quote(&kp.venv_python().to_string_lossy());
                    format!(
                        "{}\n  {venv_python} -m pip --version >/dev/null 2>&1 || {venv_python} -m ensurepip --default-pip",
                        command_line(kp, create)
                    )
                }
                other => command_line(kp, other),
            };
            writeln!(w, "  {line}")?;
        }
        writeln!(w, ")")?;
    }
    Ok(())
}

/// A uv group as `install` runs it: stand-ins for what the venv's python
/// sees outside the venv, the install, then the stand-ins removed.
fn uv_script(kp: &KernelPlan, args: &[String]) -> String {
    let python = quote(&kp.venv_python().to_string_lossy());
    let stand_ins = |mode: &str| format!("{python} - {mode} <<'HPC_KERNELS_STAND_INS'\n{}HPC_KERNELS_STAND_INS", super::uv::STAND_INS_PY);
    format!(
        "{}\n  rc=0; uv pip install --python {python} {} || rc=$?\n  {}\n  [ \"$rc\" -eq 0 ] || exit \"$rc\"",
        stand_ins("add"),
        join(&super::uv::translate(args).args),
        stand_ins("remove")
    )
}
