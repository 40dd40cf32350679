//! Checkers over a recorded lock history, for the stress harness
//! (`tests/stress.rs`): mutual exclusion, fencing-token order, and
//! linearizability against a mutex model; and the fault proxy it puts
//! between the functions and the DynamoDB engine.

pub mod fault_proxy;

pub mod history;
