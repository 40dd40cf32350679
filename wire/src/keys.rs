//! The JSON of the key routes: rotate's body and the answers of sign-up,
//! rotate, revoke and revoke-others.

use serde::{Deserialize, Serialize};

use crate::{KeyGrace, Timestamp};

/// Body of `POST /v0/keys/rotate` (optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateRequest {
    /// How long the calling key keeps working (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_key_valid_for_seconds: Option<KeyGrace>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_answer_never_prints_its_key() {
        let key = KeyAnswer {
            user_id: "u".into(),
            api_key: "secret".into(),
            old_key_expires_at: None,
        };
        assert!(!format!("{key:?}").contains("secret"));
    }
}
