//! The container-backed validation harness: the only module that talks to Docker.

pub mod docker;
pub mod images;
pub mod wheelhouse;
