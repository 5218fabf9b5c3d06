//! A small wrapper over the `docker` CLI: the harness's only door to Docker.
//!
//! Every call names the step it serves, so a failure reads
//! "docker build (image alpha 23.10) failed" with Docker's own stderr as the cause.

use std::ffi::OsStr;
use std::fmt;
use std::process::{Command, Output, Stdio};

use crate::error::{Error, Result};

/// Label carried by every image and container the project creates (value `true`).
pub const LABEL: &str = "org.hpc-kernels.managed";

/// Docker's stderr (trimmed), used as the `caused by` of a failed call.
#[derive(Debug)]
pub struct DockerStderr(pub String);

impl fmt::Display for DockerStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.trim())
    }
}

impl std::error::Error for DockerStderr {}

/// A `docker` command with the given arguments (not yet run).
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(docker_program());
    cmd.args(args);
    cmd
}

/// `$HPC_KERNELS_DOCKER` (e.g. a wrapper script) or `docker`.
fn docker_program() -> String {
    std::env::var("HPC_KERNELS_DOCKER").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "docker".into())
}

fn spawn_error(step: &str, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::NotFound {
        Error::environment(format!("{step}: the `docker` command was not found"))
            .with_source(source)
            .with_hint("install Docker Engine (Debian: `apt-get install docker.io`) or set HPC_KERNELS_DOCKER")
    } else {
        Error::environment(format!("{step}: cannot run `docker`"))
            .with_source(source)
            .with_hint("check that the docker CLI is executable by this user")
    }
}

fn failed(step: &str, out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().map_or_else(|| "a signal".to_string(), |c| format!("exit status {c}"));
    let hint = if daemon_unreachable(&stderr) {
        "start the Docker daemon (`systemctl start docker`) or set DOCKER_HOST"
    } else {
        "run the same docker command by hand to see the full output"
    };
    Error::environment(format!("{step}: docker failed with {code}"))
        .with_source(DockerStderr(stderr))
        .with_hint(hint)
}

fn daemon_unreachable(stderr: &str) -> bool {
    stderr.contains("Cannot connect to the Docker daemon") || stderr.contains("Is the docker daemon running")
}

/// Runs docker with captured output; non-zero exit is an error naming `step`.
pub fn output<I, S>(step: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = command(args).stdin(Stdio::null()).output().map_err(|e| spawn_error(step, e))?;
    if !out.status.success() {
        return Err(failed(step, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs docker with captured output and returns it whatever the exit status
/// (for probes such as `image inspect` where "absent" is a normal answer).
pub fn probe<I, S>(step: &str, args: I) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    command(args).stdin(Stdio::null()).output().map_err(|e| spawn_error(step, e))
}

/// Runs a prepared docker command with inherited stdio; returns its exit status
/// (128 + signal number when killed by a signal, as a shell reports it).
pub fn run_interactive(step: &str, mut cmd: Command) -> Result<i32> {
    let status = cmd.status().map_err(|e| spawn_error(step, e))?;
    if let Some(code) = status.code() {
        return Ok(code);
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(128 + status.signal().unwrap_or(0))
}

/// Checks that the CLI exists and the daemon answers: `Error::environment` (exit 3) otherwise.
pub fn ensure_available() -> Result<()> {
    let step = "checking Docker (docker info)";
    let out = probe(step, ["info", "--format", "{{.ServerVersion}}"])?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Err(Error::environment("the Docker daemon is not reachable")
        .with_source(DockerStderr(stderr))
        .with_hint("start it (`systemctl start docker`), check DOCKER_HOST, or add this user to the docker group"))
}

/// The id of a local image, or `None` when no image has that reference.
pub fn image_id(reference: &str) -> Result<Option<String>> {
    let step = format!("looking up image {reference}");
    let out = probe(&step, ["image", "inspect", "--format", "{{.Id}}", reference])?;
    if out.status.success() {
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return Ok((!id.is_empty()).then_some(id));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No such image") || stderr.contains("No such object") {
        return Ok(None);
    }
    Err(failed(&step, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_down_is_recognised() {
        assert!(daemon_unreachable(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
        ));
        assert!(!daemon_unreachable("Error: No such image: x"));
    }

    #[test]
    fn failed_call_names_step_and_keeps_stderr() {
        use std::os::unix::process::ExitStatusExt;
        let out = Output {
            status: std::process::ExitStatus::from_raw(1 << 8),
            stdout: Vec::new(),
            stderr: b"boom\n".to_vec(),
        };
        let err = failed("docker build (image alpha)", &out);
        assert_eq!(err.message, "docker build (image alpha): docker failed with exit status 1");
        assert_eq!(err.source.map(|s| s.to_string()).as_deref(), Some("boom"));
    }
}
