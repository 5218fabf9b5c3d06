//! The executor: the only place that spawns processes.
