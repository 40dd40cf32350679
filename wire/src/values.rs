//! The values a request carries, validated: each type can only hold a valid
//! value ("parse, don't validate"), deserialises only from one, and names
//! its field when it refuses ([`ValidationError`]). The service parses
//! requests into them; the client builds requests from them, so it refuses
//! what the service would before sending anything.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Longest `lockName` or `requester`, in UTF-8 bytes.
pub const MAX_LABEL_BYTES: usize = 255;

/// Why a value is not valid for its field: `"{field} {problem}"`, e.g.
/// `lockName must not be blank`. Knows nothing of HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

impl std::error::Error for ValidationError {}

/// Checks a free-text label: not blank, at most [`MAX_LABEL_BYTES`], no
/// control characters, no invisible ones.
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

/// A UUID in its hyphenated form (the simple, braced and URN forms that
/// `Uuid::try_parse` also takes are refused), lower-cased.
pub fn hyphenated_uuid(value: &str) -> Option<Uuid> {
    (value.len() == 36)
        .then(|| Uuid::try_parse(value).ok())
        .flatten()
}

/// A string-valued type: text in, text out, checked by `parse`.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value as sent and stored.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from the service's own store, which
            /// holds only values that were checked when they were written.
            #[doc(hidden)]
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_value!(
    /// A lock's name: 1 to 255 bytes, not blank, no control or invisible characters.
    LockName
);
text_value!(
    /// Who asked for a lease: a free label with the same rules as [`LockName`].
    Requester
);
text_value!(
    /// A semaphore's name: the rules of [`LockName`], in a name space of its own.
    SemaphoreName
);
text_value!(
    /// A lease identifier: a UUID, lower-case hyphenated.
    LeaseId
);
text_value!(
    /// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
    IdempotencyKey
);

impl LockName {
    /// Validates the `lockName` field.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        label("lockName", value).map(Self)
    }
}

impl SemaphoreName {
    /// Validates the `semaphoreName` field.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        label("semaphoreName", value).map(Self)
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
        hyphenated_uuid(value)
            .map(|id| Self(id.to_string()))
            .ok_or_else(|| ValidationError::new("leaseId", "must be a UUID"))
    }

    /// A fresh random lease id (UUID v4).
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }
}

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
    use crate::LeaseTtl;

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
    fn idempotency_keys_are_1_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("retry-7f3a").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_deserialise_only_when_valid_and_serialise_as_sent() {
        let name: LockName = serde_json::from_str(r#""job""#).unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), r#""job""#);
        let refused = serde_json::from_str::<LockName>(r#""""#).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("lockName must not be blank"),
            "{refused}"
        );
        let ttl: LeaseTtl = serde_json::from_str("30").unwrap();
        assert_eq!(serde_json::to_string(&ttl).unwrap(), "30");
        assert!(serde_json::from_str::<LeaseTtl>("0").is_err());
    }
}
