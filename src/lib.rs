//! hpc-kernels: install, verify and validate Lmod-backed Jupyter kernels.
//!
//! Data flow (see README "Architecture"):
//! `spec` → `plan` (pure) → `exec` (the only place that spawns processes)
//! → `kernelspec` → `report`; `harness` is the only place that talks to Docker;
//! `slurm` runs the same installs as Slurm jobs (through `exec::slurm`).

pub mod cli;
pub mod error;
pub mod exec;
pub mod harness;
pub mod kernelspec;
pub mod partition;
pub mod paths;
pub mod plan;
pub mod pool;
pub mod report;
pub mod shard;
pub mod slurm;
pub mod spec;

pub use error::{Error, ExitCode};

/// Version recorded in kernelspec provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
