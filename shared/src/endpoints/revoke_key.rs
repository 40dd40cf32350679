//! `POST /v0/keys/revoke`: the key the authorizer validated stops working
//! (once the authorizer's cache for it expires). Any body is ignored, but
//! not an oversized one. Two writes.

use lock_wire::{RevokeAnswer, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::keys::KeyHash;
use crate::store::KeyStore;
use crate::types::{Timestamp, UserId};

/// `POST /v0/keys/revoke`.
pub struct RevokeKey;

impl Endpoint for RevokeKey {
    const ROUTE: Route = Route::RevokeKey;
    /// The key and the user's record.
    const PERMISSIONS: Permissions = Permissions::api_keys(&["dynamodb:UpdateItem"]);
    type State = KeyStore;
    type Input = (UserId, KeyHash);
    type Answer = RevokeAnswer;

    fn example(_: &Scene) -> Example {
        Example::own_key().shows("revoked", json!(true))
    }

    async fn handle(keys: &KeyStore, (user, key): Self::Input) -> Result<RevokeAnswer, ApiError> {
        let now = Timestamp::now();
        if !keys.revoke(&key, &user, now).await? {
            return Err(ApiError::Unauthorized);
        }
        Entry::new(Act::RevokeKey, &user, now).write();
        Ok(RevokeAnswer { revoked: true })
    }
}
