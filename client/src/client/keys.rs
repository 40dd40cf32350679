//! The key endpoints: sign up, rotate, revoke, revoke the others.

use std::time::Duration;

use lock_wire::{KeyAnswer, KeyGrace, RevokeAnswer, RevokeOthersAnswer, RotateRequest, Route};

use super::{whole_seconds, Call, Client};
use crate::{Error, RetryPolicy};

impl Client {
    /// `POST /v0/users/anonymous`: a new user and its key (needs no key).
    /// Not retried: a retry after a lost answer would make a second user.
    pub async fn sign_up(&self) -> Result<KeyAnswer, Error> {
        let call = Call::new(Route::SignUp, self.timeout);
        self.clone()
            .with_retry(RetryPolicy::never())
            .send(call)
            .await
    }

    /// `POST /v0/keys/rotate`: a new key for this user; this client's key
    /// keeps working for `old_key_valid_for` (default: stops at once). Every
    /// attempt carries one `Idempotency-Key`, so a retry after a lost answer
    /// gets the same new key; the service answers any other call of a
    /// rotated key with [`Error::KeyRotated`].
    pub async fn rotate_key(
        &self,
        old_key_valid_for: Option<Duration>,
    ) -> Result<KeyAnswer, Error> {
        let grace = old_key_valid_for.map(|grace| KeyGrace::from_seconds(whole_seconds(grace)));
        let body = RotateRequest {
            old_key_valid_for_seconds: grace.transpose()?,
        };
        let key = uuid::Uuid::new_v4().to_string();
        let mut call = Call::new(Route::RotateKey, self.timeout).json(&body);
        call.idempotency_key = Some(&key);
        self.send(call).await
    }

    /// `POST /v0/keys/revoke-others`: every other key of this user stops
    /// working; this client's key stays. How many were revoked (a retry
    /// after a lost answer finds none left: 0).
    pub async fn revoke_other_keys(&self) -> Result<u64, Error> {
        let call = Call::new(Route::RevokeOtherKeys, self.timeout);
        let answer: RevokeOthersAnswer = self.send(call).await?;
        Ok(answer.revoked_keys)
    }

    /// `POST /v0/keys/revoke`: this client's key stops working. A retry
    /// after an attempt whose answer was lost may find the key already
    /// revoked (`401`): that is the success it was retrying for.
    pub async fn revoke_key(&self) -> Result<(), Error> {
        let call = Call::new(Route::RevokeKey, self.timeout);
        match self.send_counting::<RevokeAnswer>(call).await {
            Ok(_) => Ok(()),
            Err((Error::Unauthorized, attempts)) if attempts > 1 => Ok(()),
            Err((err, _)) => Err(err),
        }
    }
}
