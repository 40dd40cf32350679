//! API keys: random UUID v4 secrets shown once; only their SHA-256 is stored.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Longest `Authorization` header the parser looks at; anything longer is refused unread.
const MAX_HEADER_BYTES: usize = 512;

/// An API key in its canonical form (lower-case hyphenated UUID).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Uuid);

/// The SHA-256 of an API key, hex-encoded: the only form that is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHash(String);

impl ApiKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Reads the key out of an `Authorization` header value: `Bearer <uuid>`,
    /// the scheme in any case. `None` for anything else; never panics.
    pub fn from_authorization(header: &str) -> Option<Self> {
        if header.len() > MAX_HEADER_BYTES {
            return None;
        }
        let (scheme, token) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim_start();
        (token.len() == 36)
            .then(|| Uuid::try_parse(token).ok())
            .flatten()
            .map(Self)
    }

    /// The key as shown to its owner, once.
    pub fn reveal(&self) -> String {
        self.0.to_string()
    }

    /// The stored form of the key.
    pub fn hash(&self) -> KeyHash {
        let digest = Sha256::digest(self.0.hyphenated().to_string().as_bytes());
        KeyHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl KeyHash {
    /// The hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_v4_uuids_and_distinct() {
        let key = ApiKey::generate();
        let shown = key.reveal();
        assert_eq!(Uuid::parse_str(&shown).unwrap().get_version_num(), 4);
        assert_ne!(shown, ApiKey::generate().reveal());
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_canonical_key() {
        let key =
            ApiKey::from_authorization("Bearer 550e8400-e29b-41d4-a716-446655440000").unwrap();
        // printf %s 550e8400-e29b-41d4-a716-446655440000 | sha256sum
        assert_eq!(
            key.hash().as_str(),
            "a3a9e1ed9732cab28868127be00f1ce921acaefdd5c3b23a6e9e0072bd9c1a34"
        );
        let upper =
            ApiKey::from_authorization("Bearer 550E8400-E29B-41D4-A716-446655440000").unwrap();
        assert_eq!(upper.hash(), key.hash());
    }

    #[test]
    fn only_bearer_uuid_headers_carry_a_key() {
        let id = "550e8400-e29b-41d4-a716-446655440000";
        for good in [
            format!("Bearer {id}"),
            format!("bearer {id}"),
            format!("BEARER  {id} "),
        ] {
            assert!(ApiKey::from_authorization(&good).is_some(), "{good}");
        }
        for bad in [
            String::new(),
            "Bearer".into(),
            "Bearer ".into(),
            id.into(),
            format!("Basic {id}"),
            format!("Bearer {id}x"),
            format!("Bearer {{{id}}}"),
            "Bearer not-a-uuid".into(),
            format!("Bearer {}", "a".repeat(10_000)),
            "Bearer \u{0}\u{ffff}".into(),
        ] {
            assert!(ApiKey::from_authorization(&bad).is_none(), "{bad:?}");
        }
    }
}
