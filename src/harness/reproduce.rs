//! Reproducing one kernel's failure in its partition's image: run the same
//! install, stop at the failing step, keep the container in that state, and
//! hand the person a shell and a replay script.

use std::path::Path;

use super::validate::{self, HarnessEvent, KernelTarget, Mounts, ValidateOptions};
use crate::error::{Error, Result};
use crate::plan::{self, render, IndexMapping, Installer, PlanOptions};
use crate::report::{KernelResult, RunEvent};
use crate::spec::Spec;

/// Label on containers `reproduce` keeps, so `reproduce --cleanup` finds them.
pub const REPRODUCE_LABEL: &str = "org.hpc-kernels.reproduce";
/// Inside the container: the shell setup and the replay script.
const RC_FILE: &str = "/root/.hpc-kernels/reproduce.rc";
const REPLAY_FILE: &str = "/root/.hpc-kernels/replay.sh";
/// `install` inside the container uses root's defaults.
const CONTAINER_WORKSPACE: &str = "/root/.local/share/hpc-kernels";
const CONTAINER_KERNELS: &str = "/root/.local/share/jupyter/kernels";

pub struct Reproduction {
    pub result: KernelResult,
    pub container_id: String,
    /// `docker exec -it … bash --rcfile … -i`: a shell in the failing state.
    pub shell_command: String,
    /// Bash replay of every step that ran, in order.
    pub replay_script: String,
}

pub fn reproduce(
    spec_path: &Path,
    spec: &Spec,
    kernel: &str,
    opts: &ValidateOptions,
    on_event: &mut dyn FnMut(HarnessEvent),
) -> Result<Reproduction> {
    let partition = opts.partitions.first().cloned().ok_or_else(|| Error::usage("reproduce needs --partition"))?;
    validate::check_partitions(std::slice::from_ref(&partition))?;
    if !spec.modules_by_cluster.contains_key(&partition) {
        return Err(Error::environment(format!("the spec's modules_by_cluster has no entry for {partition}"))
            .with_hint("on the cluster this kernel could not be installed there either"));
    }
    let (built, wheelhouse) = validate::prepare(spec, opts, on_event)?;
    let image = built
        .iter()
        .find(|b| b.partition == partition)
        .map(|b| b.tag.clone())
        .ok_or_else(|| Error::internal(format!("no image was built for {partition}")))?;
    let mut mounts = Mounts::new(opts.binary.clone(), spec_path)?;
    mounts.add_installer(opts, on_event)?;
    // The kept container must go on installing after this process ends, so
    // it gets the generated wheelhouse (a mounted file:// index), not the proxy.
    let packages = super::packages::Packages::Synthetic(wheelhouse).for_cell("reproduce");
    let target = KernelTarget { partition: &partition, kernel, image: &image, venv_volume: None, modules: &[], check_jobs: None };
    let labels = vec![(REPRODUCE_LABEL.to_string(), "true".to_string())];
    let (container, result) =
        validate::run_kernel(&target, &mounts, &packages, (opts.pip_timeout, opts.step_timeout), labels, &mut |e: RunEvent| on_event(HarnessEvent::Run(e)));
    let Some(mut container) = container else {
        let why = result.first_problem().map(|s| s.outcome.label().to_string()).unwrap_or_default();
        return Err(Error::environment(format!("could not start a container of {image}: {why}")));
    };

    let kernel_plan = plan::plan(spec, &partition, &container_plan_options(kernel, opts.installer)).kernels.remove(0);
    let replay_script = replay(&partition, spec, kernel, &result, opts.installer)?;
    let rc = shell_rc(&kernel_plan.modules, &result, kernel);
    let write = |path: &str, text: &str| {
        let argv: Vec<String> = ["bash", "-c", "mkdir -p \"$(dirname \"$1\")\" && printf '%s' \"$2\" > \"$1\"", "write", path, text]
            .iter()
            .map(|s| s.to_string())
            .collect();
        container.exec(&argv, &mut |_| {})
    };
    write(RC_FILE, &rc)?;
    write(REPLAY_FILE, &replay_script)?;
    container.keep();
    let container_id = container.id.clone();
    Ok(Reproduction {
        shell_command: format!("docker exec -it {} bash --rcfile {RC_FILE} -i", &container_id[..12.min(container_id.len())]),
        container_id,
        result,
        replay_script,
    })
}

fn container_plan_options(kernel: &str, installer: Installer) -> PlanOptions {
    let index = super::wheelhouse::Wheelhouse::container_index_url().to_string();
    PlanOptions {
        workspace: CONTAINER_WORKSPACE.into(),
        kernels_dir: CONTAINER_KERNELS.into(),
        only_kernels: vec![kernel.to_string()],
        python: "python3".into(),
        index: IndexMapping { default_index: Some(index.clone()), rules: vec![("*".into(), index)] },
        argv_prefix: Vec::new(),
        kernelspec_per_partition: false,
        installer,
    }
}

/// The plan's script, cut after the step that failed.
fn replay(partition: &str, spec: &Spec, kernel: &str, result: &KernelResult, installer: Installer) -> Result<String> {
    let mut p = plan::plan(spec, partition, &container_plan_options(kernel, installer));
    // The container ran this same plan, so its steps and the results line up.
    let keep = result.steps.iter().position(|s| s.outcome.is_problem()).map_or(result.steps.len(), |i| i + 1);
    if let Some(kp) = p.kernels.first_mut() {
        kp.steps.truncate(keep);
    }
    let mut out = Vec::new();
    render::write_script(&p, &mut out).map_err(|e| Error::internal("cannot render the replay script").with_source(e))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A bash rc file: Lmod, the kernel's modules, its venv, and a banner.
fn shell_rc(modules: &[String], result: &KernelResult, kernel: &str) -> String {
    let quoted: Vec<String> = modules.iter().map(|m| render::quote(m)).collect();
    let venv = result.venv.clone().unwrap_or_default();
    let failed = result
        .first_problem()
        .map(|s| format!("{} {}", s.stage, s.outcome.label()))
        .unwrap_or_else(|| "nothing failed".into());
    // The init the install itself used; without one (the install never
    // started), the places the install would have searched, in its order.
    let init = match &result.lmod_init {
        Some(init) => format!(". {}", render::quote(init)),
        None => {
            let candidates: Vec<String> = crate::exec::lmod::INIT_CANDIDATES.iter().map(|c| render::quote(c)).collect();
            format!("for f in ${{LMOD_PKG:+\"$LMOD_PKG/init/bash\"}} {}; do [ -f \"$f\" ] && {{ . \"$f\"; break; }}; done", candidates.join(" "))
        }
    };
    format!(
        r#"# hpc-kernels reproduce: the state of kernel {kernel} at its failing step
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
declare -F module >/dev/null || {{ {init}; }}
export PATH="$PATH:/opt/hpc-kernels/bin"
module purge
module load {mods} || echo "hpc-kernels: module load failed here too (the install's modules step)"
if [ -x {venv}/bin/python ]; then . {venv}/bin/activate; fi
cd {workspace} 2>/dev/null || true
echo "hpc-kernels reproduce: kernel {kernel}: {failed}"
echo "  modules: $(module -t list 2>&1 | tr '\n' ' ')"
echo "  venv:    ${{VIRTUAL_ENV:-none}}"
echo "  replay:  bash {replay}"
"#,
        mods = quoted.join(" "),
        venv = render::quote(&venv),
        workspace = CONTAINER_WORKSPACE,
        replay = REPLAY_FILE,
        init = init,
    )
}

/// Removes every container `reproduce` kept. Returns how many.
pub fn cleanup() -> Result<usize> {
    super::container::remove_labelled(&format!("{REPRODUCE_LABEL}=true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, StepResult};

    fn result(lmod_init: Option<&str>) -> KernelResult {
        KernelResult {
            kernel: "k".into(),
            display_name: "K".into(),
            steps: vec![StepResult { stage: "modules".into(), outcome: Outcome::Failed { message: "x".into() }, seconds: 0.0, command: None, log: String::new() }],
            kernelspec_dir: None,
            venv: Some("/ws/v".into()),
            modules: Vec::new(),
            kernelspec: None,
            lmod_init: lmod_init.map(String::from),
            notes: Vec::new(),
        }
    }

    #[test]
    fn the_shell_initialises_the_lmod_the_install_used() {
        let rc = shell_rc(&["Demo/1.0".into()], &result(Some("/opt/site lmod/init/bash")), "k");
        assert!(rc.contains("declare -F module >/dev/null || { . '/opt/site lmod/init/bash'; }"), "{rc}");
        assert!(!rc.contains("/usr/share/lmod"), "{rc}");
    }

    #[test]
    fn without_a_recorded_init_the_shell_searches_where_install_would() {
        let rc = shell_rc(&[], &result(None), "k");
        assert!(rc.contains("$LMOD_PKG/init/bash"), "{rc}");
        for candidate in crate::exec::lmod::INIT_CANDIDATES {
            assert!(rc.contains(candidate), "{candidate} missing: {rc}");
        }
    }
}
