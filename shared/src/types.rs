//! Validated domain values. Each newtype can only hold a valid value, so code
//! that receives one never checks it again ("parse, don't validate").

use std::fmt;

use serde::{Serialize, Serializer};
use uuid::Uuid;

pub use crate::time::{KeyGrace, LeaseTtl, Timestamp, WaitTime};

/// Longest `lockName` or `requester`, in UTF-8 bytes.
pub const MAX_LABEL_BYTES: usize = 255;

/// Why a value is not valid for its field: `"{field} {problem}"`, e.g.
/// `lockName must not be blank`. Knows nothing of HTTP; the API maps it to a
/// `400` in one place ([`crate::error::ApiError`]'s `From`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ValidationError {
    /// The field, as the client names it.
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl ValidationError {
    /// `field` fails because of `problem`.
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Checks a free-text label: not blank, at most [`MAX_LABEL_BYTES`], no control characters.
fn label(field: &'static str, value: &str) -> Result<String, ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be blank"));
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_LABEL_BYTES} bytes"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    if value.chars().any(is_invisible) {
        return Err(ValidationError::new(
            field,
            "must not contain bidirectional controls or zero-width characters",
        ));
    }
    Ok(value.to_owned())
}

/// Characters that change how text is shown without being seen: bidi
/// controls (a name can then read as another) and zero-width characters
/// (two names then look the same).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
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

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
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
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        label("lockName", value).map(Self)
    }
}

impl Requester {
    /// Validates the `requester` field.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        label("requester", value).map(Self)
    }
}

impl LeaseId {
    /// Validates the `leaseId` field.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        uuid(value)
            .map(|id| Self(id.to_string()))
            .ok_or_else(|| ValidationError::new("leaseId", "must be a UUID"))
    }

    /// A fresh random lease id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }
}

impl UserId {
    /// Validates a user id: a hyphenated UUID.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        uuid(value)
            .map(|id| Self(id.to_string()))
            .ok_or_else(|| ValidationError::new("userId", "must be a UUID"))
    }

    /// A fresh random user id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
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

string_newtype!(
    /// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey
);

impl IdempotencyKey {
    /// Validates an `Idempotency-Key` header value.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let visible = value.bytes().all(|b| b.is_ascii_graphic());
        if value.is_empty() || value.len() > MAX_LABEL_BYTES || !visible {
            return Err(ValidationError::new(
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
    fn labels_refuse_bidi_controls_and_zero_width_characters() {
        for bad in [
            "admin\u{202E}nimda",
            "a\u{200B}b",
            "\u{FEFF}x",
            "x\u{2066}y",
            "z\u{200D}",
        ] {
            let err = LockName::parse(bad).unwrap_err();
            assert_eq!(
                err.to_string(),
                "lockName must not contain bidirectional controls or zero-width characters",
                "{bad:?}"
            );
        }
        assert!(Requester::parse("\u{200C}").is_err());
        assert!(LockName::parse("naïve-日本-🔒").is_ok());
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
        assert!(UserId::parse(UserId::generate().as_str()).is_ok());
        let err = UserId::parse("someone-else").unwrap_err();
        assert_eq!(err, ValidationError::new("userId", "must be a UUID"));
    }

    #[test]
    fn idempotency_keys_are_1_to_255_visible_ascii_characters() {
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
}
