//! `POST /v0/keys/rotate` with an optional `{"oldKeyValidForSeconds"}` and
//! `Idempotency-Key` header: a new key for the caller; the calling key stops
//! working at once or then. Only a retry with the same `Idempotency-Key`
//! (within 15 minutes) gets the same new key; any other call of a rotated
//! key is a `409 KEY_ROTATED`.

use lambda_http::Request;
use lock_wire::{IdempotencyKey, KeyAnswer, RotateRequest, Route};

use super::{Endpoint, Example, Permissions, Scene};
use crate::audit::{Act, Entry};
use crate::error::ApiError;
use crate::http::{tenant, validated_key};
use crate::input::{optional_body, optional_header, FromRequest};
use crate::keys::ApiKey;
use crate::store::keys::Rotated;
use crate::store::KeyStore;
use crate::types::{Timestamp, UserId};

/// `POST /v0/keys/rotate`.
pub struct RotateKey;

/// A rotation, parsed.
#[derive(Debug)]
pub struct RotateInput {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The calling key itself (it seals the new one); the one the authorizer validated.
    pub key: ApiKey,
    /// The body (empty: no grace).
    pub request: RotateRequest,
    /// The `Idempotency-Key` header: only a retry with it gets the new key back.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl FromRequest for RotateInput {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let key = optional_header(request.headers(), "authorization")
            .ok()
            .flatten()
            .and_then(ApiKey::from_authorization)
            .filter(|key| validated_key(request).is_ok_and(|valid| key.hash() == valid))
            .ok_or(ApiError::Unauthorized)?;
        let body = optional_body(request)?;
        let idempotency_key = FromRequest::from_request(request)?;
        Ok(RotateInput {
            user,
            key,
            request: body,
            idempotency_key,
        })
    }
}

impl Endpoint for RotateKey {
    const ROUTE: Route = Route::RotateKey;
    const SECRET: bool = true;
    /// Reading the key and the user's record, putting the new key (and a record), marking the old key, deleting the new one if a concurrent rotation won.
    const PERMISSIONS: Permissions = Permissions::api_keys(&[
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ]);
    type State = KeyStore;
    type Input = RotateInput;
    type Answer = KeyAnswer;

    fn example(_: &Scene) -> Example {
        Example::own_key().shows("apiKey", None)
    }

    async fn handle(keys: &KeyStore, input: RotateInput) -> Result<KeyAnswer, ApiError> {
        let now = Timestamp::now();
        let grace = input.request.old_key_valid_for_seconds.unwrap_or_default();
        let rotated = keys
            .rotate(
                &input.key,
                &input.user,
                grace.millis(),
                input.idempotency_key.as_ref(),
                now,
            )
            .await?;
        match rotated {
            Rotated::To {
                key,
                old_key_expires_at,
            } => Ok({
                Entry::new(Act::RotateKey, &input.user, now).write();
                KeyAnswer {
                    user_id: input.user.into(),
                    api_key: key.reveal(),
                    // Only while the old key still works.
                    old_key_expires_at: (old_key_expires_at > now).then_some(old_key_expires_at),
                }
            }),
            Rotated::AlreadyRotated => Err(ApiError::KeyRotated),
            Rotated::TooManyKeys => Err(ApiError::TooManyKeys),
            Rotated::Refused => Err(ApiError::Unauthorized),
        }
    }
}
