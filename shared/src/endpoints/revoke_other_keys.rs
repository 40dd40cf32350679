//! `POST /v0/keys/revoke-others`: every other key of the caller's user stops
//! working (once the authorizer's cache for each expires); the calling key
//! stays. A rotated key may not (`409 KEY_ROTATED`). Any body is ignored,
//! but not an oversized one.

use lock_wire::{RevokeOthersAnswer, Route};
use serde_json::json;

use super::{Endpoint, Example, Permissions, Scene};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::keys::KeyHash;
use crate::store::{KeyStore, RevokedOthers};
use crate::types::{Timestamp, UserId};

/// `POST /v0/keys/revoke-others`.
pub struct RevokeOtherKeys;

impl Endpoint for RevokeOtherKeys {
    const ROUTE: Route = Route::RevokeOtherKeys;
    /// Reading the caller's key and record, revoking each other key, the record.
    const PERMISSIONS: Permissions =
        Permissions::api_keys(&["dynamodb:GetItem", "dynamodb:UpdateItem"]);
    type State = KeyStore;
    type Input = (UserId, KeyHash);
    type Answer = RevokeOthersAnswer;

    fn example(_: &Scene) -> Example {
        Example::own_key().shows("revokedKeys", json!(0))
    }

    async fn handle(
        keys: &KeyStore,
        (user, key): Self::Input,
    ) -> Result<RevokeOthersAnswer, ApiError> {
        let now = Timestamp::now();
        match keys.revoke_others(&key, &user, now).await? {
            RevokedOthers::Revoked(revoked_keys) => {
                let mut entry = Entry::new(Act::RevokeOtherKeys, &user, now);
                entry.count = Some(revoked_keys);
                entry.write();
                Ok(RevokeOthersAnswer { revoked_keys })
            }
            RevokedOthers::CallerRotated => Err(ApiError::KeyRotated),
            RevokedOthers::Refused => Err(ApiError::Unauthorized),
        }
    }
}
