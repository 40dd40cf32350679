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

/// Domain separation of the pad that seals a successor key.
const SEAL_CONTEXT: &[u8] = b"lock-service/rotated-to/v1\0";

impl ApiKey {
    /// The key `successor`, sealed so that only a holder of `self` can read
    /// it back ([`ApiKey::open_successor`]): XOR with a pad derived from
    /// `self` by SHA-256. Stored with the old key when it is rotated, so a
    /// retried rotation returns the same new key. Each key is rotated once,
    /// so each pad seals one value; the stored hash of `self` (SHA-256 of
    /// the key alone) reveals nothing of the pad.
    pub fn seal_successor(&self, successor: &ApiKey) -> String {
        let pad = self.pad();
        successor
            .0
            .as_bytes()
            .iter()
            .zip(pad)
            .map(|(byte, mask)| format!("{:02x}", byte ^ mask))
            .collect()
    }

    /// The successor sealed by [`ApiKey::seal_successor`] with this key;
    /// `None` if `sealed` is not such a value.
    pub fn open_successor(&self, sealed: &str) -> Option<ApiKey> {
        if sealed.len() != 32 || !sealed.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let pad = self.pad();
        let mut bytes = [0u8; 16];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let hex = &sealed[index * 2..index * 2 + 2];
            *byte = u8::from_str_radix(hex, 16).ok()? ^ pad[index];
        }
        Some(Self(Uuid::from_bytes(bytes)))
    }

    fn pad(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        hasher.update(SEAL_CONTEXT);
        hasher.update(self.0.hyphenated().to_string().as_bytes());
        let digest = hasher.finalize();
        let mut pad = [0u8; 16];
        pad.copy_from_slice(&digest[..16]);
        pad
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

    /// A hash as [`KeyHash::as_str`] writes it (64 lower-case hex digits,
    /// e.g. from the authorizer's context); `None` for anything else.
    pub fn parse(hex: &str) -> Option<Self> {
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| Self(hex.to_owned()))
    }
}

/// The stored form of an `Idempotency-Key` a rotation was made with: its
/// SHA-256, hex-encoded, so the key table never holds what a client sent.
pub fn rotation_fingerprint(idempotency_key: &str) -> String {
    Sha256::digest(idempotency_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    fn a_hash_parses_back_only_from_its_own_form() {
        let hash = ApiKey::generate().hash();
        assert_eq!(KeyHash::parse(hash.as_str()), Some(hash.clone()));
        for bad in [
            String::new(),
            hash.as_str().to_uppercase(),
            format!("{}0", hash.as_str()),
            "g".repeat(64),
        ] {
            assert_eq!(KeyHash::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_old_key() {
        let (old, new) = (ApiKey::generate(), ApiKey::generate());
        let sealed = old.seal_successor(&new);
        assert_eq!(sealed.len(), 32);
        assert!(!sealed.contains(&new.reveal().replace('-', "")));
        assert_eq!(old.open_successor(&sealed), Some(new.clone()));
        assert_ne!(ApiKey::generate().open_successor(&sealed), Some(new));
        for bad in ["", "zz", &"g".repeat(32), &"é".repeat(16)] {
            assert_eq!(old.open_successor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn only_bearer_uuid_headers_carry_a_key() {
        let (carrying, malformed) =
            testkit::authorization_headers("550e8400-e29b-41d4-a716-446655440000");
        for good in carrying {
            assert!(ApiKey::from_authorization(&good).is_some(), "{good}");
        }
        for bad in malformed {
            assert!(ApiKey::from_authorization(&bad).is_none(), "{bad:?}");
        }
    }
}
