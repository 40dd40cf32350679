//! The key endpoints: sign up, rotate and revoke.

use std::time::Duration;

use lock_wire::{routes, KeyAnswer, RevokeAnswer, RotateRequest};
use reqwest::Method;

use super::{whole_seconds, Call, Client};
use crate::{Error, RetryPolicy};

impl Client {
    /// `POST /v0/users/anonymous`: a new user and its key (needs no key).
    /// Not retried: a retry after a lost answer would make a second user.
    pub async fn sign_up(&self) -> Result<KeyAnswer, Error> {
        let call = Call::new(Method::POST, routes::SIGN_UP, self.timeout);
        self.clone()
            .with_retry(RetryPolicy::never())
            .send(call)
            .await
    }

    /// `POST /v0/keys/rotate`: a new key for this user; this client's key
    /// keeps working for `old_key_valid_for` (default: stops at once). A
    /// retry with the old key gets the same new key.
    pub async fn rotate_key(
        &self,
        old_key_valid_for: Option<Duration>,
    ) -> Result<KeyAnswer, Error> {
        let body = RotateRequest {
            old_key_valid_for_seconds: old_key_valid_for.map(whole_seconds),
        };
        let call = Call::new(Method::POST, routes::ROTATE_KEY, self.timeout).json(&body);
        self.send(call).await
    }

    /// `POST /v0/keys/revoke`: this client's key stops working. A retry
    /// after an attempt whose answer was lost may find the key already
    /// revoked (`401`): that is the success it was retrying for.
    pub async fn revoke_key(&self) -> Result<(), Error> {
        let call = Call::new(Method::POST, routes::REVOKE_KEY, self.timeout);
        match self.send_counting::<RevokeAnswer>(call).await {
            Ok(_) => Ok(()),
            Err((Error::Unauthorized, attempts)) if attempts > 1 => Ok(()),
            Err((err, _)) => Err(err),
        }
    }
}
