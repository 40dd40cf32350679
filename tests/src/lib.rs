//! Checkers over a recorded lock history, for the stress harness
//! (`tests/stress.rs`): mutual exclusion, fencing-token order, and
//! linearizability against a mutex model.

pub mod history;
