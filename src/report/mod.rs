//! Results model and its views: terminal matrix, JUnit XML, JSON, snapshots.

pub mod compare;
mod html;
mod json;
pub(crate) mod junit;
mod junit_read;
mod markdown;
mod matrix;
mod merge;
mod model;
pub(crate) mod redact;
pub mod snapshot;
mod summary;
mod text;

pub(crate) use html::escape as html_escape;
pub use compare::{compare, Comparison, FlippedCell, KernelspecDiff, ModuleChange};
pub use html::write_html;
pub use json::{read_json, read_json_file, write_json};
pub use markdown::write_markdown;
pub use junit::{write_junit, write_junit_at, write_shard_junit};
pub use merge::{merge, read_merge_input, write_shard_json, MergeInput, Merged};
pub use matrix::{write_matrix, MatrixStyle};
pub use model::{
    KernelResult, KernelspecFiles, Outcome, PartitionResult, RunEvent, RunReport, StepResult,
};
pub use snapshot::{
    check_snapshots, normalise, write_diffs, write_diffs_with, SnapshotOptions, SnapshotResult,
    SnapshotStatus,
};
pub use summary::write_install_summary;
