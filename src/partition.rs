//! Partition detection.
