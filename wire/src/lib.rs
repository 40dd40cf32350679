//! The Lock API on the wire: the routes (the registry, [`Route`], in
//! `routes.rs`; the JSON of every request and answer in `locks.rs`,
//! `keys.rs` and `semaphores.rs`), headers, the
//! validated values requests carry, and the error codes. The service (`lock-service`) parses requests into
//! these types and answers with them; the client (`lock-client`) sends and
//! reads them, so the two cannot drift.
//!
//! Field names are the reference contract's (`../shared/seed/lock-api.md`),
//! camelCase; what we add is optional. Every optional field is left out of
//! the JSON when absent.

mod backoff;
mod keys;
mod list;
mod locks;
mod routes;
mod seconds;
mod semaphores;
mod time;
mod values;

pub use backoff::{jittered, Backoff};
pub use list::{Cursor, PageLimit, MAX_PAGE_LIMIT};
// Every route's row and its JSON types: a new route is one file's edit.
pub use keys::*;
pub use locks::*;
pub use routes::*;
pub use seconds::{KeyGrace, LeaseTtl, WaitTime};
pub use semaphores::*;
pub use time::Timestamp;
pub use values::{
    hyphenated_uuid, IdempotencyKey, LeaseId, LockName, Requester, SemaphoreName, ValidationError,
    MAX_LABEL_BYTES,
};

use serde::{Deserialize, Serialize};

/// Header that makes an acquire safe to retry (the same key within the same
/// lease answers with the same lease), and a rotation: only a retry with the
/// rotation's own key gets its new key back.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Header of a `429` from the service: whole seconds (1 to 20) to wait
/// before asking again.
pub const RETRY_AFTER_HEADER: &str = "Retry-After";

/// The `code` of every error answer.
pub mod codes {
    /// `400`: the message names the field (also in `field`).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// `401`: no key, or a key that is unknown, revoked or expired.
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    /// `403`: a new lock name beyond the user's quota.
    pub const LOCK_QUOTA_EXCEEDED: &str = "LOCK_QUOTA_EXCEEDED";
    /// `404`: no such lock (or, from the gateway, no such route).
    pub const LOCK_NOT_FOUND: &str = "LOCK_NOT_FOUND";
    /// `409`: the lock is held by a live lease (delete).
    pub const LOCK_HELD: &str = "LOCK_HELD";
    /// `404`: no such semaphore.
    pub const SEMAPHORE_NOT_FOUND: &str = "SEMAPHORE_NOT_FOUND";
    /// `409`: a live lease holds one of the semaphore's permits (delete).
    pub const SEMAPHORE_HELD: &str = "SEMAPHORE_HELD";
    /// `409`: the semaphore has another number of permits than asked.
    pub const PERMITS_MISMATCH: &str = "PERMITS_MISMATCH";
    /// `409`: the `Idempotency-Key` was granted for another requester or TTL.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    /// `409`: the calling key was rotated; only a retry of that rotation
    /// (its `Idempotency-Key`, within 15 minutes) gets an answer.
    pub const KEY_ROTATED: &str = "KEY_ROTATED";
    /// `409`: the user has as many keys that may work as it may (20), so
    /// it cannot rotate now.
    pub const TOO_MANY_KEYS: &str = "TOO_MANY_KEYS";
    /// `413`: the body is too large.
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    /// `429`: a throttle, a WAF rate limit, or as many waiting acquires as
    /// the user may have (with `Retry-After`).
    pub const THROTTLED: &str = "THROTTLED";
    /// `500`: the service failed; the cause is in its logs.
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    /// `503`: a write met a concurrent write to the same item from another
    /// Region (multi-Region tables) and changed nothing; retry after
    /// `Retry-After`, with the same `Idempotency-Key` or lease.
    pub const WRITE_CONFLICT: &str = "WRITE_CONFLICT";
}

/// Every error answer, the gateway's own included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// What went wrong, for people.
    pub message: String,
    /// One of [`codes`] (the gateway may add its own, e.g. `NOT_FOUND`).
    #[serde(default)]
    pub code: String,
    /// The request field a `400` is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
