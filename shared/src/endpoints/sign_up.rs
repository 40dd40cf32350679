//! `POST /v0/users/anonymous`: a new user and its API key, shown only here.
//! Any body is ignored, but not an oversized one. Two writes.

use lock_wire::{KeyAnswer, Route};

use super::{Endpoint, Example, Permissions, Scene};
use crate::error::ApiError;
use crate::keys::ApiKey;
use crate::store::KeyStore;
use crate::types::{Timestamp, UserId};

/// `POST /v0/users/anonymous`.
pub struct SignUp;

impl Endpoint for SignUp {
    const ROUTE: Route = Route::SignUp;
    const SECRET: bool = true;
    /// The key and the user's record.
    const PERMISSIONS: Permissions = Permissions::api_keys(&["dynamodb:PutItem"]);
    type State = KeyStore;
    type Input = ();
    type Answer = KeyAnswer;

    fn example(_: &Scene) -> Example {
        Example::default().shows("apiKey", None)
    }

    async fn handle(keys: &KeyStore, (): ()) -> Result<KeyAnswer, ApiError> {
        let user_id = UserId::generate();
        let key = ApiKey::generate();
        keys.sign_up(&key.hash(), &user_id, Timestamp::now())
            .await?;
        Ok(KeyAnswer {
            user_id: user_id.into(),
            api_key: key.reveal(),
            old_key_expires_at: None,
        })
    }
}
