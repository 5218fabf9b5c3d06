//! The executor: the only place that spawns processes.

mod checks;
pub mod consistency;
pub mod host;
pub mod install;
pub mod launch;
pub mod lmod;
pub mod lock;
pub mod process;
mod reuse;
pub mod signals;
pub mod slurm;
pub mod uv;
mod venv_pip;

pub use install::{install, ExecOptions, Timeouts, VENV_REUSED};
