//! The executor: the only place that spawns processes.

pub mod lmod;
pub mod process;
pub mod signals;
