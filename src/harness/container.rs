//! One throw-away container per kernel × partition, through testcontainers:
//! no network or only the run's private one, the partition's FQDN, labelled, read-only mounts, removed on
//! drop (also on panic) unless kept for a person to enter.

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use testcontainers::core::{AccessMode, ExecCommand, Host, Mount};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container as TcContainer, GenericImage, ImageExt};

use super::docker::{self, LABEL};
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct ContainerSpec {
    /// `repository:tag` of a local image.
    pub image: String,
    /// Fully qualified host name, e.g. `login1.alpha.hpc.tu-dresden.de`.
    pub fqdn: String,
    /// Read-only bind mounts: host path → container path.
    pub mounts: Vec<(PathBuf, String)>,
    /// Writable bind mounts: host path → container path (the download cache).
    pub writable: Vec<(PathBuf, String)>,
    /// Writable named volumes: volume → container path (the run's shared home).
    pub volumes: Vec<(String, String)>,
    /// Read-only named volumes: volume → container path (the image's own
    /// directories, see `rootfs`).
    pub readonly_volumes: Vec<(String, String)>,
    /// Extra labels besides the managed label.
    pub labels: Vec<(String, String)>,
    /// The Docker network to join; `None`: no network at all.
    pub network: Option<String>,
    /// Extra `/etc/hosts` entries (the run's package index).
    pub hosts: Vec<(String, IpAddr)>,
}

pub struct Container {
    inner: Option<TcContainer<GenericImage>>,
    pub id: String,
}

#[derive(Debug)]
pub struct ExecOutput {
    pub code: i64,
}

fn tc_error(step: String) -> impl FnOnce(testcontainers::TestcontainersError) -> Error {
    move |e| {
        Error::environment(step)
            .with_source(e)
            .with_hint("check that the Docker daemon is running (`docker info`) and the image exists (`hpc-kernels images list`)")
    }
}

impl Container {
    pub fn start(spec: &ContainerSpec) -> Result<Container> {
        let (repo, tag) = spec.image.rsplit_once(':').unwrap_or((spec.image.as_str(), "latest"));
        let mut request = GenericImage::new(repo, tag)
            .with_cmd(["sleep", "infinity"])
            .with_hostname(spec.fqdn.clone())
            .with_network(spec.network.clone().unwrap_or_else(|| "none".into()))
            // Nothing resolves the FQDN without a network; /etc/hosts does, so `hostname -d` works.
            .with_host(spec.fqdn.clone(), Host::Addr(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1))))
            .with_label(LABEL, "true");
        for (name, addr) in &spec.hosts {
            request = request.with_host(name.clone(), Host::Addr(*addr));
        }
        for (k, v) in &spec.labels {
            request = request.with_label(k.clone(), v.clone());
        }
        for (host, inside) in &spec.mounts {
            request = request.with_mount(
                Mount::bind_mount(host.to_string_lossy().into_owned(), inside.clone()).with_access_mode(AccessMode::ReadOnly),
            );
        }
        for (host, inside) in &spec.writable {
            request = request.with_mount(
                Mount::bind_mount(host.to_string_lossy().into_owned(), inside.clone()).with_access_mode(AccessMode::ReadWrite),
            );
        }
        for (volume, inside) in &spec.volumes {
            request = request.with_mount(Mount::volume_mount(volume.clone(), inside.clone()).with_access_mode(AccessMode::ReadWrite));
        }
        for (volume, inside) in &spec.readonly_volumes {
            request = request.with_mount(Mount::volume_mount(volume.clone(), inside.clone()).with_access_mode(AccessMode::ReadOnly));
        }
        let inner = request.start().map_err(tc_error(format!("start a container of {}", spec.image)))?;
        let id = inner.id().to_string();
        Ok(Container { inner: Some(inner), id })
    }

    /// Runs `argv` in the container with stderr merged into stdout; calls
    /// `on_line` for every line as it arrives.
    pub fn exec(&self, argv: &[String], on_line: &mut dyn FnMut(&str)) -> Result<ExecOutput> {
        let Some(inner) = &self.inner else { return Err(Error::internal("container already released")) };
        let mut wrapped = vec!["/bin/bash".to_string(), "-c".into(), "exec \"$@\" 2>&1".into(), "exec".into()];
        wrapped.extend(argv.iter().cloned());
        let step = format!("exec in container {}", short(&self.id));
        let mut result = inner.exec(ExecCommand::new(wrapped)).map_err(tc_error(step.clone()))?;
        {
            let mut stdout = result.stdout();
            let mut line = String::new();
            loop {
                line.clear();
                match stdout.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => on_line(line.trim_end_matches('\n')),
                }
            }
        }
        // The stream ends just before Docker records the exit code.
        for _ in 0..100 {
            if let Some(code) = result.exit_code().map_err(tc_error(step.clone()))? {
                return Ok(ExecOutput { code });
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Err(Error::environment(format!("{step}: Docker reported no exit code")))
    }

    /// Leaves the container running after this process; returns the command to enter it.
    pub fn keep(&mut self) -> String {
        if let Some(inner) = self.inner.take() {
            // testcontainers removes containers on drop; a kept one must outlive us.
            std::mem::forget(inner);
        }
        format!("docker exec -it {} bash -l", short(&self.id))
    }
}

/// Removes containers beside what comes next: a removal is a few tenths of a
/// second of Docker work that nothing after it waits for, until `finish`
/// (before the volumes and networks they use are removed).
#[derive(Default)]
pub struct Reaper {
    removing: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Reaper {
    pub fn remove(&self, container: Container) {
        let handle = std::thread::spawn(move || drop(container));
        self.removing.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
    }

    /// Waits until every container handed over is removed.
    pub fn finish(&self) {
        let handles = std::mem::take(&mut *self.removing.lock().unwrap_or_else(|p| p.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.finish();
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Removes every container matching a label filter (`key` or `key=value`),
/// e.g. after an interrupted run or for `reproduce --cleanup`, then the
/// volumes with that label (a run's shared home). Returns how many containers.
pub fn remove_labelled(filter: &str) -> Result<usize> {
    let ids = docker::output("list containers", ["ps", "--all", "--quiet", "--filter", &format!("label={filter}")])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    // The runs these containers belong to: their shared homes go with them.
    let format = format!("{{{{.Label \"{}\"}}}}", super::validate::RUN_LABEL);
    let runs = docker::output("list runs", ["ps", "--all", "--filter", &format!("label={filter}"), "--format", &format])?;
    if !ids.is_empty() {
        let mut args = vec!["rm", "--force", "--volumes"];
        args.extend(ids.iter().copied());
        docker::output("remove containers", args)?;
    }
    let mut volumes: Vec<String> =
        docker::output("list volumes", ["volume", "ls", "--quiet", "--filter", &format!("label={filter}")])?
            .split_whitespace()
            .map(String::from)
            .collect();
    for run in runs.split_whitespace().filter(|r| !r.is_empty()) {
        let name = super::shared_home::volume_name(run);
        if !volumes.contains(&name) {
            volumes.push(name);
        }
    }
    // Only the volumes that exist: `volume rm` fails on a missing one.
    let existing = docker::output("list volumes", ["volume", "ls", "--quiet"])?;
    let existing: Vec<&str> = existing.split_whitespace().collect();
    volumes.retain(|v| existing.contains(&v.as_str()));
    if !volumes.is_empty() {
        let mut args = vec!["volume", "rm", "--force"];
        args.extend(volumes.iter().map(String::as_str));
        docker::output("remove volumes", args)?;
    }
    // And their private networks (the package index's way in).
    let existing = docker::output("list networks", ["network", "ls", "--format", "{{.Name}}"])?;
    let networks: Vec<String> = runs
        .split_whitespace()
        .map(super::network::network_name)
        .filter(|n| existing.split_whitespace().any(|e| e == n))
        .collect();
    if !networks.is_empty() {
        let mut args = vec!["network", "rm"];
        args.extend(networks.iter().map(String::as_str));
        docker::output("remove networks", args)?;
    }
    Ok(ids.len())
}
