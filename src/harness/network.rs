//! The run's private Docker network: `--internal`, so its containers have no
//! route out; the only thing they reach besides each other is what listens on
//! the network's gateway address of this host (the run's package index).

use std::net::IpAddr;

use super::docker::{self, LABEL};
use super::validate::RUN_LABEL;
use crate::error::{Error, Result};

pub struct RunNetwork {
    pub name: String,
    /// This host's address on the network.
    pub gateway: IpAddr,
}

pub fn network_name(run_id: &str) -> String {
    format!("hpc-kernels-net-{run_id}")
}

impl RunNetwork {
    pub fn create(run_id: &str) -> Result<RunNetwork> {
        let name = network_name(run_id);
        docker::output(
            "create the run's private network",
            ["network", "create", "--internal", "--label", &format!("{LABEL}=true"), "--label", &format!("{RUN_LABEL}={run_id}"), &name],
        )?;
        let mut network = RunNetwork { name, gateway: IpAddr::from([0, 0, 0, 0]) };
        let text = docker::output(
            "inspect the run's private network",
            ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", &network.name],
        )?;
        network.gateway = text.split_whitespace().find_map(|g| g.parse::<IpAddr>().ok()).ok_or_else(|| {
            Error::environment(format!("the run's network {} has no IPv4 gateway (docker said: {:?})", network.name, text.trim()))
                .with_hint("check the Docker daemon's default address pools (`docker network inspect bridge`)")
        })?;
        Ok(network)
    }
}

impl Drop for RunNetwork {
    fn drop(&mut self) {
        // Fails while a kept container is still attached; `reproduce --cleanup` removes it later.
        let _ = docker::output("remove the run's private network", ["network", "rm", &self.name]);
    }
}

/// Removes the networks matching a label filter (after their containers are gone).
pub fn remove_labelled(filter: &str) -> Result<usize> {
    let ids = docker::output("list networks", ["network", "ls", "--quiet", "--filter", &format!("label={filter}")])?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["network", "rm"];
        args.extend(ids.iter().copied());
        docker::output("remove networks", args)?;
    }
    Ok(ids.len())
}
