//! One throw-away container per kernel × partition: started detached with no
//! network, labelled, removed when dropped unless kept for a person to enter.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::Stdio;

use super::docker::{self, LABEL};
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub image: String,
    /// Fully qualified host name, e.g. `login1.alpha.hpc.tu-dresden.de`.
    pub fqdn: String,
    /// Read-only bind mounts: host path → container path.
    pub mounts: Vec<(PathBuf, String)>,
    /// Extra labels besides the managed label.
    pub labels: Vec<(String, String)>,
}

pub struct Container {
    pub id: String,
    keep: bool,
}

#[derive(Debug)]
pub struct ExecOutput {
    pub code: i32,
    pub stderr: String,
}

impl Container {
    pub fn start(spec: &ContainerSpec) -> Result<Container> {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--detach".into(),
            "--network".into(),
            "none".into(),
            "--hostname".into(),
            spec.fqdn.clone(),
            // Nothing resolves the FQDN without a network; /etc/hosts does.
            "--add-host".into(),
            format!("{}:127.0.1.1", spec.fqdn),
            "--label".into(),
            format!("{LABEL}=true"),
        ];
        for (k, v) in &spec.labels {
            args.push("--label".into());
            args.push(format!("{k}={v}"));
        }
        for (host, inside) in &spec.mounts {
            args.push("--mount".into());
            args.push(format!("type=bind,source={},target={inside},readonly", host.display()));
        }
        args.extend([spec.image.clone(), "sleep".into(), "infinity".into()]);
        let id = docker::output(&format!("start a container of {}", spec.image), &args)?.trim().to_string();
        Ok(Container { id, keep: false })
    }

    /// Runs `argv` in the container as a login-less bash would; calls `on_line`
    /// for every stdout line as it arrives. stderr is collected.
    pub fn exec(&self, argv: &[String], on_line: &mut dyn FnMut(&str)) -> Result<ExecOutput> {
        let mut args = vec!["exec".to_string(), self.id.clone()];
        args.extend(argv.iter().cloned());
        let step = format!("docker exec in {}", short(&self.id));
        let mut child = docker::command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::environment(format!("{step}: cannot run docker")).with_source(e))?;
        let mut stderr = child.stderr.take();
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(std::result::Result::ok) {
                on_line(&line);
            }
        }
        let status = child.wait().map_err(|e| Error::environment(format!("{step}: wait failed")).with_source(e))?;
        let stderr = err_thread.join().unwrap_or_default();
        Ok(ExecOutput { code: status.code().unwrap_or(-1), stderr })
    }

    /// Leaves the container running after drop; returns the command to enter it.
    pub fn keep(&mut self) -> String {
        self.keep = true;
        format!("docker exec -it {} bash -l", short(&self.id))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if !self.keep {
            let _ = docker::command(["rm", "--force", "--volumes", self.id.as_str()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Removes every container the harness created (by label), e.g. after an
/// interrupted run. Returns how many were removed.
pub fn remove_all_managed() -> Result<usize> {
    let ids = docker::output("list managed containers", ["ps", "--all", "--quiet", "--filter", &format!("label={LABEL}")])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "--force", "--volumes"];
        args.extend(ids.iter().copied());
        docker::output("remove managed containers", args)?;
    }
    Ok(ids.len())
}
