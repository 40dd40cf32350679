//! Validated domain values. Each newtype can only hold a valid value, so code
//! that receives one never checks it again ("parse, don't validate"). The
//! values a request carries are the wire crate's ([`lock_wire`]), shared
//! with the client; the tenant and the stored lock are the service's own.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

pub use lock_wire::{
    IdempotencyKey, KeyGrace, LeaseId, LeaseTtl, LockName, Requester, SemaphoreName, Timestamp,
    ValidationError, WaitTime, MAX_LABEL_BYTES,
};

/// A tenant: a UUID, lower-case hyphenated. Comes only from the authorizer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Validates a user id: a hyphenated UUID.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        lock_wire::hyphenated_uuid(value)
            .map(|id| Self(id.to_string()))
            .ok_or_else(|| ValidationError::new("userId", "must be a UUID"))
    }

    /// A fresh random user id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// The id as sent and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<UserId> for String {
    fn from(value: UserId) -> String {
        value.0
    }
}

/// A lock as stored: its current (or last) lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// The lock's name.
    pub lock_name: LockName,
    /// Whether the last lease was granted and not released. An expired lease
    /// is still `locked` here; [`Lock::is_held`] tells whether it holds now.
    pub locked: bool,
    /// The current lease, or the last one if the lock is free.
    pub lease_id: LeaseId,
    /// The requester of that lease.
    pub leased_by: Requester,
    /// When the lock was first acquired.
    pub created_at: Timestamp,
    /// When the current (or last) lease was granted; absent on an item
    /// written before grants recorded it.
    pub acquired_at: Option<Timestamp>,
    /// When the lock was last acquired, renewed or released.
    pub updated_at: Timestamp,
    /// When the lease ends, if it was granted with a TTL and is not released.
    pub expires_at: Option<Timestamp>,
    /// The lease's fencing token: larger for every grant of this lock, ever.
    pub fencing_token: u64,
    /// Until when a waiting acquire has reserved the lock, as stored (it
    /// stands only while in the future).
    pub reserved_until: Option<Timestamp>,
}

impl Lock {
    /// Whether a lease holds the lock at `now`: granted, not released, not expired.
    pub fn is_held(&self, now: Timestamp) -> bool {
        self.locked && self.expires_at.is_none_or(|end| end > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_must_be_uuids() {
        assert!(UserId::parse(UserId::generate().as_str()).is_ok());
        let err = UserId::parse("someone-else").unwrap_err();
        assert_eq!(err, ValidationError::new("userId", "must be a UUID"));
    }

    #[test]
    fn a_lock_is_held_while_locked_and_not_expired() {
        let lock = Lock {
            lock_name: LockName::parse("l").unwrap(),
            locked: true,
            lease_id: LeaseId::generate(),
            leased_by: Requester::parse("r").unwrap(),
            created_at: Timestamp::from_millis(0),
            acquired_at: None,
            updated_at: Timestamp::from_millis(0),
            expires_at: Some(Timestamp::from_millis(1000)),
            fencing_token: 1,
            reserved_until: None,
        };
        assert!(lock.is_held(Timestamp::from_millis(999)));
        assert!(
            !lock.is_held(Timestamp::from_millis(1000)),
            "expired at expiresAt exactly"
        );
        let forever = Lock {
            expires_at: None,
            ..lock.clone()
        };
        assert!(forever.is_held(Timestamp::from_millis(u64::MAX)));
        let released = Lock {
            locked: false,
            ..lock
        };
        assert!(!released.is_held(Timestamp::from_millis(0)));
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(
            Timestamp::from_millis(0).to_string(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(1_795_678_800_123).to_string(),
            "2026-11-26T07:40:00.123Z"
        );
        assert!(Timestamp::now() > Timestamp::from_millis(1_700_000_000_000));
    }
}
