//! Results model and its views: terminal matrix, JUnit XML, JSON, snapshots.

mod model;

pub use model::{
    KernelResult, KernelspecFiles, Outcome, PartitionResult, RunEvent, RunReport, StepResult,
};

mod interim_summary;
pub use interim_summary::write_install_summary;
