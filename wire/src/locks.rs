//! The JSON of the lock routes' requests and answers (`POST /v0/lock`,
//! `GET /v0/lock`, `POST /v0/unlock`, renew, delete and `GET /v0/locks`).

use serde::{Deserialize, Serialize};

use crate::{Cursor, LeaseId, LeaseTtl, LockName, PageLimit, Requester, Timestamp, WaitTime};

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
    /// When the current (or last) lease was granted (`updatedAt` also moves
    /// on renew and release); absent on locks last granted before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquired_at: Option<Timestamp>,
    /// When it was last acquired, renewed or released.
    pub updated_at: Timestamp,
    /// Grows with every grant of this name.
    pub fencing_token: u64,
    /// When the lease expires, if it has a TTL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// While the longest-waiting acquire has reserved the lock: until when
    /// (only that acquire may be granted before then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_until: Option<Timestamp>,
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
    /// Granted: when this lease expires. Refused: when the holder's does,
    /// or, for a free lock reserved for a waiting acquire, when that ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Refused while a waiting acquire's reservation stands: until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_until: Option<Timestamp>,
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
    }
}
