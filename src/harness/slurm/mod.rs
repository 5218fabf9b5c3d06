//! A real Slurm cluster in containers for testing `certify --slurm`: the
//! partition images with Debian's Slurm daemons as one more layer
//! (`image`), its configuration as text (`config`), and the running
//! cluster on a private network (`cluster`).

pub mod cluster;
pub mod config;
pub mod image;

pub use cluster::{ClusterOptions, LoginOutput, SlurmCluster, SHARED_MOUNT};
pub use image::{build, SlurmImage};
