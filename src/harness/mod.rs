//! The container-backed validation harness: the only module that talks to Docker.

pub mod container;
pub mod docker;
pub mod emulation;
pub mod images;
pub mod interrupt;
pub mod network;
pub mod packages;
pub mod reproduce;
pub mod rootfs;
pub mod shared_home;
pub mod slurm;
pub mod uv;
pub mod validate;
pub mod venv_cache;
pub mod index;
pub mod wheelhouse;
