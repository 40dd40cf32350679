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

/// A lock as stored: its current (or last) lease and whether it is held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// The lock's name.
    pub lock_name: LockName,
    /// Whether a lease holds the lock now.
    pub locked: bool,
    /// The current lease, or the last one if the lock is free.
    pub lease_id: LeaseId,
    /// The requester of that lease.
    pub leased_by: Requester,
    /// When the lock was first acquired.
    pub created_at: Timestamp,
    /// When the lock was last acquired or released.
    pub updated_at: Timestamp,
    /// Grows by one with every grant of this lock (the basis of fencing tokens).
    #[serde(skip)]
    pub fencing_token: u64,
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
