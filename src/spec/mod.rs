//! Spec parsing and lint. Input: the JSON file format of
//! `installer-json-format.md` (plus `module_load_cluster`). Output: a typed
//! [`Spec`] when there are no errors, and every diagnostic found in one pass.

mod diagnostic;
mod model;

pub use diagnostic::{Diagnostic, Severity};
pub use model::{Kernel, PipGroup, Spec};

mod interim;
pub use interim::{load, render_human};
