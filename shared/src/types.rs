//! Validated domain values. Each newtype can only hold a valid value, so code
//! that receives one never checks it again ("parse, don't validate").

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::error::ApiError;

/// Longest `lockName` or `requester`, in UTF-8 bytes.
pub const MAX_LABEL_BYTES: usize = 255;

/// Checks a free-text label: not blank, at most [`MAX_LABEL_BYTES`], no control characters.
fn label(field: &'static str, value: &str) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be blank"));
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(ApiError::invalid(
            field,
            &format!("must be at most {MAX_LABEL_BYTES} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Parses a UUID in its hyphenated form and returns it lower-cased.
fn uuid(value: &str) -> Option<Uuid> {
    // `Uuid::try_parse` also takes the simple, braced and URN forms; the API
    // speaks only the hyphenated one, so anything else is refused.
    (value.len() == 36)
        .then(|| Uuid::try_parse(value).ok())
        .flatten()
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value as sent and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from the store, which only holds values
            /// that were validated when they were written.
            #[allow(dead_code)] // not every type is read back unchecked
            pub(crate) fn from_stored(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A lock's name: 1 to 255 bytes, not blank, no control characters.
    LockName
);
string_newtype!(
    /// Who asked for a lease: a free label with the same rules as [`LockName`].
    Requester
);
string_newtype!(
    /// A lease identifier: a UUID, lower-case hyphenated.
    LeaseId
);
string_newtype!(
    /// A tenant: a UUID, lower-case hyphenated. Comes only from the authorizer.
    UserId
);

impl LockName {
    /// Validates the `lockName` field.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        label("lockName", value).map(Self)
    }
}

impl Requester {
    /// Validates the `requester` field.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        label("requester", value).map(Self)
    }
}

impl LeaseId {
    /// Validates the `leaseId` field.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        uuid(value)
            .map(|id| Self(id.to_string()))
            .ok_or_else(|| ApiError::invalid("leaseId", "must be a UUID"))
    }

    /// A fresh random lease id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }
}

impl UserId {
    /// Accepts a user id only if it is a UUID; `None` otherwise.
    pub fn parse(value: &str) -> Option<Self> {
        uuid(value).map(|id| Self(id.to_string()))
    }

    /// A fresh random user id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }
}

/// A point in time with millisecond precision, stored as epoch milliseconds
/// and shown as RFC 3339 UTC (`2026-11-26T07:40:00.123Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time of this machine.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    /// The timestamp `millis` milliseconds after the Unix epoch.
    pub fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// The timestamp `millis` milliseconds later.
    pub fn plus_millis(self, millis: u64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = UNIX_EPOCH + Duration::from_millis(self.0);
        write!(f, "{}", humantime::format_rfc3339_millis(time))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
    /// When the lock was last acquired, renewed or released.
    pub updated_at: Timestamp,
    /// When the lease ends, if it was granted with a TTL and is not released.
    pub expires_at: Option<Timestamp>,
    /// The lease's fencing token: larger for every grant of this lock, ever.
    pub fencing_token: u64,
}

impl Lock {
    /// Whether a lease holds the lock at `now`: granted, not released, not expired.
    pub fn is_held(&self, now: Timestamp) -> bool {
        self.locked && self.expires_at.is_none_or(|end| end > now)
    }
}

/// A lease's time to live: 1 to 86 400 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTtl(u64);

impl LeaseTtl {
    /// Longest lease, in seconds (one day).
    pub const MAX_SECONDS: u64 = 86_400;

    /// Validates a `ttlSeconds` value.
    pub fn from_seconds(seconds: u64) -> Result<Self, ApiError> {
        if (1..=Self::MAX_SECONDS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ApiError::invalid(
                "ttlSeconds",
                &format!("must be from 1 to {}", Self::MAX_SECONDS),
            ))
        }
    }

    /// The TTL in milliseconds.
    pub fn millis(self) -> u64 {
        self.0 * 1000
    }
}

/// How long an acquire may wait for a held lock: 0 to 20 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WaitTime(u64);

impl WaitTime {
    /// Longest wait, in seconds.
    pub const MAX_SECONDS: u64 = 20;

    /// Validates a `waitSeconds` value.
    pub fn from_seconds(seconds: u64) -> Result<Self, ApiError> {
        if seconds <= Self::MAX_SECONDS {
            Ok(Self(seconds))
        } else {
            Err(ApiError::invalid(
                "waitSeconds",
                &format!("must be from 0 to {}", Self::MAX_SECONDS),
            ))
        }
    }

    /// The wait as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

string_newtype!(
    /// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey
);

impl IdempotencyKey {
    /// Validates an `Idempotency-Key` header value.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        let visible = value.bytes().all(|b| b.is_ascii_graphic());
        if value.is_empty() || value.len() > MAX_LABEL_BYTES || !visible {
            return Err(ApiError::invalid(
                "Idempotency-Key header",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_accept_up_to_255_bytes_of_printable_text() {
        assert_eq!(
            LockName::parse("resource-123").unwrap().as_str(),
            "resource-123"
        );
        assert!(LockName::parse(&"é".repeat(127)).is_ok()); // 254 bytes
        assert!(Requester::parse(&"a".repeat(255)).is_ok());
        assert!(LockName::parse("  spaces inside are fine ").is_ok());
    }

    #[test]
    fn labels_refuse_blank_long_and_control_text_naming_the_field() {
        for bad in ["", "   ", "\t"] {
            let err = LockName::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), "lockName must not be blank");
        }
        let err = Requester::parse(&"a".repeat(256)).unwrap_err();
        assert_eq!(err.to_string(), "requester must be at most 255 bytes");
        let err = LockName::parse(&"é".repeat(128)).unwrap_err(); // 256 bytes, 128 chars
        assert_eq!(err.to_string(), "lockName must be at most 255 bytes");
        for bad in ["a\nb", "a\u{0}b", "a\u{7f}", "x\u{9b}"] {
            let err = LockName::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "lockName must not contain control characters"
            );
        }
    }

    #[test]
    fn lease_ids_are_hyphenated_uuids_normalised_to_lower_case() {
        let id = LeaseId::parse("550E8400-E29B-41D4-A716-446655440000").unwrap();
        assert_eq!(id.as_str(), "550e8400-e29b-41d4-a716-446655440000");
        for bad in [
            "",
            "not-a-uuid",
            "550e8400e29b41d4a716446655440000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
            "550e8400-e29b-41d4-a716-44665544000g",
        ] {
            assert_eq!(
                LeaseId::parse(bad).unwrap_err().to_string(),
                "leaseId must be a UUID"
            );
        }
        assert_ne!(LeaseId::generate(), LeaseId::generate());
    }

    #[test]
    fn user_ids_must_be_uuids() {
        assert!(UserId::parse(UserId::generate().as_str()).is_some());
        assert!(UserId::parse("someone-else").is_none());
    }

    #[test]
    fn ttl_wait_and_idempotency_keys_have_bounds() {
        assert_eq!(LeaseTtl::from_seconds(1).unwrap().millis(), 1000);
        assert!(LeaseTtl::from_seconds(86_400).is_ok());
        for bad in [0, 86_401, u64::MAX] {
            assert_eq!(
                LeaseTtl::from_seconds(bad).unwrap_err().to_string(),
                "ttlSeconds must be from 1 to 86400"
            );
        }
        assert_eq!(
            WaitTime::from_seconds(0).unwrap().duration(),
            Duration::ZERO
        );
        assert_eq!(
            WaitTime::from_seconds(20).unwrap().duration(),
            Duration::from_secs(20)
        );
        assert_eq!(
            WaitTime::from_seconds(21).unwrap_err().to_string(),
            "waitSeconds must be from 0 to 20"
        );
        assert!(IdempotencyKey::parse("retry-7f3a").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_lock_is_held_while_locked_and_not_expired() {
        let lock = Lock {
            lock_name: LockName::parse("l").unwrap(),
            locked: true,
            lease_id: LeaseId::generate(),
            leased_by: Requester::parse("r").unwrap(),
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            expires_at: Some(Timestamp::from_millis(1000)),
            fencing_token: 1,
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
