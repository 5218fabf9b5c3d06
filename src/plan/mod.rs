//! The pure install plan.
