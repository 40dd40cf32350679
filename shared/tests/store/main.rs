//! The store suite: the same DynamoDB semantics checked against every engine
//! (moto and dynalite, each started on a free port for each test), through
//! `testkit::Stores` and its calls.

mod clocks;
mod conflicts;
mod grants;
mod leases;
mod listing;
mod reads;
mod reservations;
mod retries;
mod semaphores;
mod tenants;

use testkit::at;
