//! The key endpoints: sign up, rotate the calling key, revoke it, revoke
//! the others. Every answer that carries a key is `Cache-Control: no-store`.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use lock_wire::{KeyAnswer, RevokeAnswer, RevokeOthersAnswer};

use super::respond;
use crate::error::ApiError;
use crate::http::{self, json};
use crate::keys::ApiKey;
use crate::requests::{RevokeRequest, RotateRequest};
use crate::store::keys::Rotated;
use crate::store::{KeyStore, RevokedOthers};
use crate::types::{Timestamp, UserId};

/// A JSON answer carrying a secret key: no cache along the way may keep it.
fn secret(answer: &KeyAnswer) -> Response<Body> {
    let mut response = json(StatusCode::OK, answer);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /v0/users/anonymous`: a new user and its API key, shown only here.
pub async fn create_user(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            http::body_bytes(&request)?; // any body is ignored, but not an oversized one
            let user_id = UserId::generate();
            let key = ApiKey::generate();
            keys.sign_up(&key.hash(), &user_id, Timestamp::now())
                .await?;
            Ok(secret(&KeyAnswer {
                user_id: user_id.into(),
                api_key: key.reveal(),
                old_key_expires_at: None,
            }))
        }
        .await,
    )
}

/// `POST /v0/keys/rotate` with an optional `{"oldKeyValidForSeconds"}` and
/// `Idempotency-Key` header: a new key for the caller; the calling key stops
/// working at once or then. Only a retry with the same `Idempotency-Key`
/// (within 15 minutes) gets the same new key; any other call of a rotated
/// key is a `409 KEY_ROTATED`.
pub async fn rotate_key(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = RotateRequest::parse(&request)?;
            let now = Timestamp::now();
            let rotated = keys
                .rotate(
                    &input.key,
                    &input.user,
                    input.grace.millis(),
                    input.idempotency_key.as_ref(),
                    now,
                )
                .await?;
            let (key, old_key_expires_at) = match rotated {
                Rotated::To {
                    key,
                    old_key_expires_at,
                } => (key, old_key_expires_at),
                Rotated::AlreadyRotated => return Err(ApiError::KeyRotated),
                Rotated::TooManyKeys => return Err(ApiError::TooManyKeys),
                Rotated::Refused => return Err(ApiError::Unauthorized),
            };
            Ok(secret(&KeyAnswer {
                user_id: input.user.into(),
                api_key: key.reveal(),
                // Only while the old key still works.
                old_key_expires_at: (old_key_expires_at > now).then_some(old_key_expires_at),
            }))
        }
        .await,
    )
}

/// `POST /v0/keys/revoke`: the calling key stops working (once the
/// authorizer's cache for it expires).
pub async fn revoke_key(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = RevokeRequest::parse(&request)?;
            if !keys
                .revoke(&input.key, &input.user, Timestamp::now())
                .await?
            {
                return Err(ApiError::Unauthorized);
            }
            Ok(json(StatusCode::OK, &RevokeAnswer { revoked: true }))
        }
        .await,
    )
}

/// `POST /v0/keys/revoke-others`: every other key of the caller's user
/// stops working (once the authorizer's cache for each expires); the
/// calling key stays. A rotated key may not (`409 KEY_ROTATED`).
pub async fn revoke_other_keys(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = RevokeRequest::parse(&request)?;
            match keys
                .revoke_others(&input.key, &input.user, Timestamp::now())
                .await?
            {
                RevokedOthers::Revoked(revoked_keys) => {
                    Ok(json(StatusCode::OK, &RevokeOthersAnswer { revoked_keys }))
                }
                RevokedOthers::CallerRotated => Err(ApiError::KeyRotated),
                RevokedOthers::Refused => Err(ApiError::Unauthorized),
            }
        }
        .await,
    )
}
