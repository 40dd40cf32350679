//! The store suite: the same DynamoDB semantics checked against every engine
//! (moto and dynalite, each started on a free port for each test), through
//! `testkit::Stores` and its calls.

mod grants;
mod leases;
mod listing;
mod retries;
mod tenants;

use lock_service::types::Timestamp;
use testkit::T0;

/// The suite's clock: `offset` milliseconds after a fixed start.
fn at(offset: u64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}
