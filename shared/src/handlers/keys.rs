//! The key endpoints: sign up, rotate the calling key, revoke it. Every
//! answer that carries a key is `Cache-Control: no-store`.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use lock_wire::{KeyAnswer, RevokeAnswer};

use super::respond;
use crate::error::ApiError;
use crate::http::{self, json};
use crate::keys::ApiKey;
use crate::requests::{RevokeRequest, RotateRequest};
use crate::store::keys::Rotated;
use crate::store::KeyStore;
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
            keys.register(&key.hash(), &user_id, Timestamp::now())
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

/// `POST /v0/keys/rotate` with an optional `{"oldKeyValidForSeconds"}`: a new
/// key for the caller; the calling key stops working at once or then. A
/// retry with the old key gets the same new key.
pub async fn rotate_key(keys: &KeyStore, request: Request) -> Response<Body> {
    respond(
        async {
            let input = RotateRequest::parse(&request)?;
            let now = Timestamp::now();
            let rotated = keys
                .rotate(&input.key, &input.user, input.grace.millis(), now)
                .await?;
            let Rotated::To {
                key,
                old_key_expires_at,
            } = rotated
            else {
                return Err(ApiError::Unauthorized);
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
            if !keys.revoke(&input.key.hash(), Timestamp::now()).await? {
                return Err(ApiError::Unauthorized);
            }
            Ok(json(StatusCode::OK, &RevokeAnswer { revoked: true }))
        }
        .await,
    )
}
