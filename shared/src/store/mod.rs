//! The DynamoDB store. Acquire, release, force release and renew are each one
//! conditional write; a lost race is an outcome, not an error. Expiry is
//! decided in the condition expressions with the caller's clock.
//!
//! - [`locks`]: [`LockStore`], the lock operations and their outcomes;
//! - [`keys`]: [`KeyStore`], API keys by hash;
//! - [`users`]: which keys are a user's;
//! - `expressions`: every expression the stores send, whole and named;
//! - `outcomes`: [`Grant`] and what each operation ends in;
//! - [`quota`]: the per-tenant quota of lock names, without transactions;
//! - `reads`: get and list;
//! - [`reservations`]: the longest waiter's claim on what it waits for;
//! - `settings`: [`LockStore`] itself, its table and settings;
//! - `table`: the one place requests name their table;
//! - `takeover`: a grant over an expired lease, counted and audited;
//! - [`semaphores`]: N leases of one name, a slot item each;
//! - [`waiting`]: places for waiting acquires, a set number per tenant;
//! - `item`: attribute names, expression placeholders, and the item ↔ [`Lock`](crate::types::Lock) codec.

mod expressions;
mod item;
pub mod keys;
pub mod locks;
mod outcomes;
pub mod quota;
mod reads;
pub mod reservations;
pub mod semaphores;
mod settings;
mod table;
mod takeover;
pub mod users;
pub mod waiting;

pub use keys::{KeyRecord, KeyStanding, KeyStore, Rotated};
pub use locks::{Acquired, Deleted, Grant, LockPage, Released, Renewed};
pub use reservations::{Booking, Reservation, Sight};
pub use semaphores::{Permit, PermitAcquired, Semaphore, SemaphorePage};
pub use settings::LockStore;
pub use users::RevokedOthers;
pub use waiting::Place;
