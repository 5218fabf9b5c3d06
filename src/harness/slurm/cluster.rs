//! A small real Slurm cluster in containers, on a private Docker network of
//! its own: `slurmctld` (also the login node, where `certify --slurm` runs
//! and `sbatch` reaches the controller as on a real cluster) and one
//! `slurmd` node per partition, each a container of that partition's image
//! with its FQDN, so the job's install detects the partition as on the
//! real system. A host directory is shared by all at `/shared` (spec,
//! results, venvs, kernelspecs), the hpc-kernels binary is mounted at the
//! same path everywhere, and the wheelhouse on the nodes as in `validate`.
//! Everything is labelled and removed on drop.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::config::{self, NodeEntry, CONFIG_MOUNT, CONTROLLER};
use super::image::SlurmImage;
use crate::error::{Error, Result};
use crate::harness::docker::{self, LABEL};
use crate::harness::images;
use crate::harness::validate::{BIN_IN_CONTAINER, RUN_LABEL};
use crate::harness::wheelhouse::CONTAINER_MOUNT;

/// Where the shared host directory appears in every container.
pub const SHARED_MOUNT: &str = "/shared";

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Identifies this cluster's network and containers (label value).
    pub run_id: String,
    /// The hpc-kernels binary to mount in every container.
    pub binary: PathBuf,
    /// Host directory shared by all containers at [`SHARED_MOUNT`].
    pub shared_dir: PathBuf,
    /// The wheelhouse to mount read-only on the nodes, as `validate` does.
    pub wheelhouse_dir: Option<PathBuf>,
    /// How long the nodes may take to register with the controller.
    pub ready_timeout: Duration,
}

/// One slurmd container.
#[derive(Clone, Debug)]
pub struct Node {
    pub partition: String,
    /// Slurm node name (the short host name).
    pub name: String,
    pub container: String,
}

/// What an exec on the login node printed.
#[derive(Clone, Debug)]
pub struct LoginOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct SlurmCluster {
    pub network: String,
    pub controller: String,
    pub nodes: Vec<Node>,
    /// slurm.conf, munge key and start script; removed on drop.
    config_dir: tempfile::TempDir,
    containers: Vec<String>,
}

impl SlurmCluster {
    /// Starts the network, controller and one node per image, and waits until every node is idle.
    pub fn start(slurm_images: &[SlurmImage], opts: &ClusterOptions) -> Result<SlurmCluster> {
        let Some(login_image) = slurm_images.first() else {
            return Err(Error::usage("a Slurm test cluster needs at least one partition").with_hint("name a partition, e.g. alpha"));
        };
        let config_dir = tempfile::tempdir().map_err(|e| Error::io("create a directory in", &std::env::temp_dir(), e))?;
        let network = format!("hpc-kernels-slurm-{}", opts.run_id);
        let mut cluster = SlurmCluster { network: network.clone(), controller: format!("{network}-ctl"), nodes: Vec::new(), config_dir, containers: Vec::new() };
        for image in slurm_images {
            let id = images::identity(&image.partition).ok_or_else(|| {
                Error::environment(format!("unknown partition \"{}\"", image.partition)).with_hint("partitions: containers/partitions.json")
            })?;
            cluster.nodes.push(Node { partition: image.partition.clone(), name: id.hostname.clone(), container: format!("{network}-{}", image.partition) });
        }
        let entries: Vec<NodeEntry> = cluster.nodes.iter().map(|n| NodeEntry { name: n.name.clone(), partition: n.partition.clone() }).collect();
        cluster.write_config(&config::slurm_conf("hpckernels", &entries))?;

        let labels = [format!("{LABEL}=true"), format!("{RUN_LABEL}={}", opts.run_id)];
        let mut create = vec!["network".to_string(), "create".into(), "--internal".into()];
        for l in &labels {
            create.extend(["--label".to_string(), l.clone()]);
        }
        create.push(network.clone());
        docker::output("create the Slurm test network", &create)?;

        let controller_args = cluster.run_args(&cluster.controller.clone(), CONTROLLER, CONTROLLER, &labels, opts, false);
        cluster.run_container(controller_args, &login_image.tag, &["slurmctld"])?;
        for (node, image) in cluster.nodes.clone().iter().zip(slurm_images) {
            let fqdn = images::identity(&node.partition).map(|i| i.fqdn).unwrap_or_else(|| node.name.clone());
            let args = cluster.run_args(&node.container, &fqdn, &node.name, &labels, opts, true);
            cluster.run_container(args, &image.tag, &["slurmd", &node.name])?;
        }
        cluster.wait_until_idle(opts.ready_timeout)?;
        Ok(cluster)
    }

    fn write_config(&self, slurm_conf: &str) -> Result<()> {
        let dir = self.config_dir.path();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|e| Error::io("write", &path, e))
        };
        write("slurm.conf", slurm_conf.as_bytes())?;
        write("start.sh", config::START_SCRIPT.as_bytes())?;
        let mut key = vec![0u8; 1024];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(|e| Error::io("read", Path::new("/dev/urandom"), e))?;
        write("munge.key", &key)
    }

    fn run_args(&self, name: &str, hostname: &str, alias: &str, labels: &[String], opts: &ClusterOptions, node: bool) -> Vec<String> {
        let mut args: Vec<String> = ["run", "--detach", "--name", name, "--hostname", hostname, "--network", &self.network, "--network-alias", alias]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for l in labels {
            args.extend(["--label".to_string(), l.clone()]);
        }
        let mut mounts = vec![
            format!("{}:{CONFIG_MOUNT}:ro", self.config_dir.path().display()),
            format!("{}:{SHARED_MOUNT}", opts.shared_dir.display()),
            format!("{}:{BIN_IN_CONTAINER}:ro", opts.binary.display()),
        ];
        if let (true, Some(w)) = (node, &opts.wheelhouse_dir) {
            mounts.push(format!("{}:{CONTAINER_MOUNT}:ro", w.display()));
        }
        for m in mounts {
            args.extend(["--volume".to_string(), m]);
        }
        args
    }

    fn run_container(&mut self, mut args: Vec<String>, image: &str, daemon: &[&str]) -> Result<()> {
        args.push(image.to_string());
        args.extend(["bash".to_string(), format!("{CONFIG_MOUNT}/start.sh")]);
        args.extend(daemon.iter().map(|s| s.to_string()));
        let id = docker::output(&format!("start the Slurm container for {}", daemon.join(" ")), &args)?;
        self.containers.push(id.trim().to_string());
        Ok(())
    }

    /// Waits until `sinfo` shows every node idle.
    fn wait_until_idle(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(out) = self.login(&["sinfo", "--noheader", "--Node", "--format=%N %t"]) {
                last = format!("{}{}", out.stdout, out.stderr);
                let idle = out.stdout.lines().filter(|l| l.ends_with(" idle")).count();
                if out.code == 0 && idle == self.nodes.len() {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Err(Error::environment(format!("the Slurm test cluster did not become ready in {}s", timeout.as_secs()))
            .with_source(docker::DockerStderr(format!("sinfo: {last}\n{}", self.daemon_logs())))
            .with_hint("the daemons' logs above say why; `docker logs` of the cluster's containers has them all"))
    }

    /// The last lines each daemon printed (they log to stderr in the foreground).
    pub fn daemon_logs(&self) -> String {
        let mut text = String::new();
        for c in &self.containers {
            if let Ok(out) = docker::probe("read a Slurm daemon's log", ["logs", "--tail", "15", c]) {
                text.push_str(&format!("--- {}\n{}{}", &c[..12.min(c.len())], String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
            }
        }
        text
    }

    /// Runs `argv` on the login node (the controller), in [`SHARED_MOUNT`].
    pub fn login(&self, argv: &[&str]) -> Result<LoginOutput> {
        let mut args = vec!["exec", "--workdir", SHARED_MOUNT, self.controller.as_str()];
        args.extend_from_slice(argv);
        let out = docker::probe("exec on the Slurm login node", &args)?;
        Ok(LoginOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Stops a node's container at once, as a node that loses power.
    pub fn stop_node(&self, partition: &str) -> Result<()> {
        let node = self
            .nodes
            .iter()
            .find(|n| n.partition == partition)
            .ok_or_else(|| Error::usage(format!("the Slurm test cluster has no node of partition {partition}")))?;
        docker::output(&format!("stop Slurm node {}", node.name), ["kill", &node.container]).map(drop)
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let mut args = vec!["rm".to_string(), "--force".into(), "--volumes".into()];
            args.extend(self.containers.iter().cloned());
            let _ = docker::output("remove the Slurm test cluster", &args);
        }
        let _ = docker::probe("remove the Slurm test network", ["network", "rm", &self.network]);
    }
}
