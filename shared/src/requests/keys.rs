//! The key endpoints' requests: rotate and revoke the calling key, revoke
//! the others. The key they act on is the one the authorizer validated.

use lambda_http::Request;

use crate::error::ApiError;
use crate::http::{body_bytes, json_object, optional_header, optional_u64, tenant, validated_key};
use crate::keys::{ApiKey, KeyHash};
use crate::types::{IdempotencyKey, KeyGrace, UserId};

/// `POST /v0/keys/rotate` with an optional `{"oldKeyValidForSeconds"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotateRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The calling key, from the `Authorization` header (it seals the new
    /// key); it must be the key the authorizer validated.
    pub key: ApiKey,
    /// How long the calling key keeps working.
    pub grace: KeyGrace,
    /// The `Idempotency-Key` header: only a retry with it gets the new key back.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl RotateRequest {
    /// Parses a rotation; an empty body means no grace period.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let key = calling_key(request)?;
        if key.hash() != validated_key(request)? {
            return Err(ApiError::Unauthorized);
        }
        let grace = if body_bytes(request)?.iter().all(u8::is_ascii_whitespace) {
            KeyGrace::default()
        } else {
            let body = json_object(request)?;
            optional_u64(&body, "oldKeyValidForSeconds")?
                .map(KeyGrace::from_seconds)
                .transpose()?
                .unwrap_or_default()
        };
        let idempotency_key = optional_header(request, "idempotency-key")?
            .map(IdempotencyKey::parse)
            .transpose()?;
        Ok(Self {
            user,
            key,
            grace,
            idempotency_key,
        })
    }
}

/// `POST /v0/keys/revoke` and `POST /v0/keys/revoke-others` (no body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokeRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The calling key, as the authorizer validated it.
    pub key: KeyHash,
}

impl RevokeRequest {
    /// Parses a revocation; any body is ignored, but not an oversized one.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        body_bytes(request)?;
        Ok(Self {
            user: tenant(request)?,
            key: validated_key(request)?,
        })
    }
}

/// The key in the `Authorization` header (the one the authorizer checked).
fn calling_key(request: &Request) -> Result<ApiKey, ApiError> {
    optional_header(request, "authorization")
        .ok()
        .flatten()
        .and_then(ApiKey::from_authorization)
        .ok_or(ApiError::Unauthorized)
}
