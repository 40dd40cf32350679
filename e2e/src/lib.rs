//! Checkers over recorded histories, for the stress and soak harnesses
//! (`e2e/stress/`, `e2e/soak/`): mutual exclusion, fencing-token order,
//! linearizability against a mutex model, and a semaphore's permit bounds.
//! (The fault proxy they put between the functions and the DynamoDB engine
//! is `testkit::proxy`.)

pub mod history;
pub mod permits;
pub mod soak;
