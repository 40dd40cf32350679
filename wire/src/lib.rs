//! The Lock API on the wire: the route registry ([`Route`]), headers, the
//! validated values requests carry, the JSON of every request and answer,
//! and the error codes. The service (`lock-service`) parses requests into
//! these types and answers with them; the client (`lock-client`) sends and
//! reads them, so the two cannot drift.
//!
//! Field names are the reference contract's (`../shared/seed/lock-api.md`),
//! camelCase; what we add is optional. Every optional field is left out of
//! the JSON when absent.

mod backoff;
mod list;
mod routes;
mod time;
mod values;

pub use backoff::{jittered, Backoff};
pub use list::{Cursor, PageLimit, MAX_PAGE_LIMIT};
pub use routes::{Access, Route, RouteSpec, AUTHORIZER_FUNCTION};
pub use time::Timestamp;
pub use values::{
    hyphenated_uuid, IdempotencyKey, KeyGrace, LeaseId, LeaseTtl, LockName, Requester,
    ValidationError, WaitTime, MAX_LABEL_BYTES,
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
}

/// Body of `POST /v0/lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcquireRequest {
    /// The lock.
    pub lock_name: LockName,
    /// Who asks (shown as `leasedBy`).
    pub requester: Requester,
    /// Lease time to live; absent: the server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<LeaseTtl>,
    /// How long the server may wait for the lock (at most its longest wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<WaitTime>,
}

/// Body of `POST /v0/unlock`: a lease, or `force: true`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockRequest {
    /// The lock.
    pub lock_name: LockName,
    /// The lease to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<LeaseId>,
    /// End whatever lease holds the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
}

/// Body of `POST /v0/lock/renew`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewRequest {
    /// The lock.
    pub lock_name: LockName,
    /// The live lease to extend.
    pub lease_id: LeaseId,
    /// New time to live from now; absent: the lease's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<LeaseTtl>,
}

/// Body of `POST /v0/lock/delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRequest {
    /// The lock.
    pub lock_name: LockName,
}

/// Body of `POST /v0/keys/rotate` (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateRequest {
    /// How long the calling key keeps working (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key_valid_for_seconds: Option<KeyGrace>,
}

/// Query of `GET /v0/lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLockQuery {
    /// The lock.
    pub lock_name: LockName,
}

/// Query of `GET /v0/locks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// At most this many locks; absent: [`MAX_PAGE_LIMIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<PageLimit>,
    /// Where the page starts: a previous page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
}

/// A lock as `GET /v0/lock` and `GET /v0/locks` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockView {
    /// The lock.
    pub lock_name: String,
    /// Whether a live lease holds it now.
    pub locked: bool,
    /// The current (or last) lease.
    pub lease_id: String,
    /// Its requester.
    pub leased_by: String,
    /// When the lock was first created.
    pub created_at: Timestamp,
    /// When it was last acquired, renewed or released.
    pub updated_at: Timestamp,
    /// Grows with every grant of this name.
    pub fencing_token: u64,
    /// When the lease expires, if it has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// Answer of `POST /v0/lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcquireAnswer {
    /// Whether the lease was granted.
    pub locked: bool,
    /// The new lease, when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_id: Option<String>,
    /// What happened, for people.
    pub message: String,
    /// The grant's fencing token, when granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing_token: Option<u64>,
    /// Granted: when this lease expires. Refused: when the holder's does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

/// Answer of `POST /v0/unlock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockAnswer {
    /// Whether this call ended the lease.
    pub unlocked: bool,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer of `POST /v0/lock/renew`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewAnswer {
    /// Whether the lease was extended.
    pub renewed: bool,
    /// Its new expiry, when extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Answer of `POST /v0/lock/delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteAnswer {
    /// Always true (a refusal is an error answer).
    pub deleted: bool,
}

/// Answer of `GET /v0/locks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockList {
    /// The locks, in name order.
    pub locks: Vec<LockView>,
    /// The cursor of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Cursor>,
}

/// Answer of `POST /v0/users/anonymous` and `POST /v0/keys/rotate`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAnswer {
    /// The user the key belongs to.
    pub user_id: String,
    /// The secret key: shown only in this answer.
    pub api_key: String,
    /// Rotation with a grace period: when the old key stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key_expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for KeyAnswer {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAnswer")
            .field("user_id", &self.user_id)
            .field("api_key", &"<redacted>")
            .field("old_key_expires_at", &self.old_key_expires_at)
            .finish()
    }
}

/// Answer of `POST /v0/keys/revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeAnswer {
    /// Always true (an unknown key is a `401`).
    pub revoked: bool,
}

/// Answer of `POST /v0/keys/revoke-others`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeOthersAnswer {
    /// How many keys of the caller this call revoked.
    pub revoked_keys: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_left_out_and_names_are_the_contracts() {
        let request = AcquireRequest {
            lock_name: LockName::parse("a").unwrap(),
            requester: Requester::parse("r").unwrap(),
            ttl_seconds: None,
            wait_seconds: Some(WaitTime::from_seconds(3).unwrap()),
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"lockName":"a","requester":"r","waitSeconds":3}"#
        );
        let answer: AcquireAnswer = serde_json::from_str(
            r#"{"locked":false,"message":"held","expiresAt":"2026-11-26T07:40:00.123Z"}"#,
        )
        .unwrap();
        assert_eq!(
            answer.expires_at.unwrap().to_string(),
            "2026-11-26T07:40:00.123Z"
        );
        let key = KeyAnswer {
            user_id: "u".into(),
            api_key: "secret".into(),
            old_key_expires_at: None,
        };
        assert!(!format!("{key:?}").contains("secret"));
    }
}
