//! Checkers over a recorded lock history, for the stress harness
//! (`e2e/stress.rs`): mutual exclusion, fencing-token order, and
//! linearizability against a mutex model. (The fault proxy it puts between
//! the functions and the DynamoDB engine is `testkit::proxy`.)

pub mod history;
