//! The test cluster's configuration, as text: `slurm.conf`, the daemons'
//! start script, and the Slurm layer over a partition image.

use crate::harness::docker::LABEL;
use crate::harness::images::recipe::{LABEL_HASH, LABEL_KIND, LABEL_PARTITION, LABEL_RELEASE};

/// Host name (and network alias) of the controller.
pub const CONTROLLER: &str = "slurmctld";
/// Where every container of the cluster sees the configuration (read-only).
pub const CONFIG_MOUNT: &str = "/etc/hpc-kernels-slurm";
/// Debian bookworm's Slurm 22.05 and munge.
pub const PACKAGES: &[&str] = &["munge", "slurm-client", "slurmctld", "slurmd"];

/// One slurmd node: its Slurm node name and the Slurm partition it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    pub name: String,
    pub partition: String,
}

/// `slurm.conf` for containers: no cgroups (proctrack/linuxproc, task/none),
/// daemons as root, no accounting (`scontrol` reports job states), and short
/// timeouts so that a stopped node fails its job within a minute, and a
/// scheduler that looks at pending jobs every 2 s (not 60).
pub fn slurm_conf(cluster: &str, nodes: &[NodeEntry]) -> String {
    let mut text = format!(
        "# Test cluster of hpc-kernels (src/harness/slurm).\n\
         ClusterName={cluster}\n\
         SlurmctldHost={CONTROLLER}\n\
         SlurmUser=root\n\
         SlurmdUser=root\n\
         AuthType=auth/munge\n\
         ProctrackType=proctrack/linuxproc\n\
         TaskPlugin=task/none\n\
         MpiDefault=none\n\
         SchedulerType=sched/backfill\n\
         SchedulerParameters=sched_interval=2\n\
         SelectType=select/cons_tres\n\
         SelectTypeParameters=CR_Core\n\
         SlurmdParameters=config_overrides\n\
         ReturnToService=2\n\
         SlurmdTimeout=10\n\
         SlurmctldTimeout=10\n\
         MinJobAge=600\n\
         KillWait=5\n\
         InactiveLimit=0\n\
         AccountingStorageType=accounting_storage/none\n\
         JobAcctGatherType=jobacct_gather/none\n\
         JobCompType=jobcomp/none\n\
         StateSaveLocation=/var/lib/slurm/slurmctld\n\
         SlurmdSpoolDir=/var/lib/slurm/slurmd\n\
         SlurmctldPidFile=/run/slurmctld.pid\n\
         SlurmdPidFile=/run/slurmd.pid\n"
    );
    for n in nodes {
        text.push_str(&format!("NodeName={} CPUs=1 State=UNKNOWN\n", n.name));
    }
    let mut partitions: Vec<&str> = nodes.iter().map(|n| n.partition.as_str()).collect();
    partitions.dedup();
    for p in partitions {
        let members: Vec<&str> = nodes.iter().filter(|n| n.partition == p).map(|n| n.name.as_str()).collect();
        text.push_str(&format!("PartitionName={p} Nodes={} MaxTime=INFINITE State=UP\n", members.join(",")));
    }
    text
}

/// Starts munged with the cluster's key, then `slurmctld` or `slurmd -N NAME`
/// in the foreground (the container lives as long as the daemon).
pub const START_SCRIPT: &str = r#"#!/bin/bash
set -euo pipefail
cfg=/etc/hpc-kernels-slurm
install -o munge -g munge -m 0400 "$cfg/munge.key" /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
runuser -u munge -- /usr/sbin/munged
install -m 0644 "$cfg/slurm.conf" /etc/slurm/slurm.conf
mkdir -p /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
case "$1" in
  slurmctld) exec /usr/sbin/slurmctld -D ;;
  slurmd) exec /usr/sbin/slurmd -D -N "$2" ;;
  *) echo "usage: start.sh slurmctld | slurmd NODENAME" >&2; exit 2 ;;
esac
"#;

/// A login shell on a node has the site's module defaults, as on a real
/// cluster: a batch job with `--export=NONE` starts from exactly that.
pub fn site_profile(release: &str) -> String {
    format!(
        "# Site defaults of a login shell (hpc-kernels test cluster).\n\
         export MODULEPATH_ROOT=/sw/modules\n\
         export LMOD_SYSTEM_DEFAULT_MODULES=release/{release}\n\
         export BASH_ENV=/etc/profile.d/lmod.sh\n"
    )
}

/// The Slurm layer over a partition image; the context holds `root/`.
pub fn dockerfile(partition_tag: &str, partition: &str, release: &str, hash: &str) -> String {
    format!(
        "FROM {partition_tag}\n\
         RUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \\\n \
         && apt-get update \\\n \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {} \\\n \
         && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d\n\
         COPY root/ /\n\
         LABEL {LABEL}=true {LABEL_KIND}=slurm {LABEL_PARTITION}={partition} {LABEL_RELEASE}={release} {LABEL_HASH}={hash}\n",
        PACKAGES.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slurm_partition_per_partition_with_its_nodes() {
        let nodes = [
            NodeEntry { name: "login1".into(), partition: "alpha".into() },
            NodeEntry { name: "n1001".into(), partition: "barnard".into() },
        ];
        let conf = slurm_conf("hk", &nodes);
        assert!(conf.contains("SlurmctldHost=slurmctld\n"), "{conf}");
        assert!(conf.contains("NodeName=login1 CPUs=1 State=UNKNOWN\n"), "{conf}");
        assert!(conf.contains("PartitionName=alpha Nodes=login1 MaxTime=INFINITE State=UP\n"), "{conf}");
        assert!(conf.contains("PartitionName=barnard Nodes=n1001 MaxTime=INFINITE State=UP\n"), "{conf}");
        assert!(conf.contains("ProctrackType=proctrack/linuxproc"));
    }

    #[test]
    fn the_layer_installs_slurm_and_is_labelled() {
        let text = dockerfile("hpc-kernels/alpha:23.10-abc", "alpha", "23.10", "HASH");
        assert!(text.starts_with("FROM hpc-kernels/alpha:23.10-abc\n"), "{text}");
        assert!(text.contains("apt-get install -y --no-install-recommends munge slurm-client slurmctld slurmd"), "{text}");
        assert!(text.contains("org.hpc-kernels.kind=slurm"), "{text}");
    }
}
