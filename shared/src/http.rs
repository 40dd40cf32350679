//! The HTTP edge shared by every endpoint: who is asking (from the
//! authorizer's context, never from the request itself), and JSON answers
//! and errors. Reading the body and the query string is [`crate::input`].

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, StoreError, WRITE_CONFLICT_RETRY_AFTER};
use crate::keys::KeyHash;
use crate::types::UserId;

pub use crate::input::MAX_BODY_BYTES;

/// Key of the user id in the authorizer context.
pub const CONTEXT_USER_ID: &str = "userId";
/// Key of the SHA-256 of the key the authorizer validated, in its context
/// (never logged: the access log names only the user).
pub const CONTEXT_KEY_HASH: &str = "keyHash";

/// The tenant, as the authorizer put it in the request context. The request
/// itself (body, query, headers) can never name it.
pub fn tenant(request: &Request) -> Result<UserId, ApiError> {
    let user = authorizer_field(request, CONTEXT_USER_ID)
        .and_then(|user| UserId::parse(user).ok())
        .ok_or(ApiError::Unauthorized)?;
    crate::metrics::property("userId", user.as_str());
    Ok(user)
}

/// The key the authorizer validated for this request, by its hash: what the
/// key routes act on, never a header read again (a request may carry two).
pub fn validated_key(request: &Request) -> Result<KeyHash, ApiError> {
    authorizer_field(request, CONTEXT_KEY_HASH)
        .and_then(KeyHash::parse)
        .ok_or(ApiError::Unauthorized)
}

fn authorizer_field<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return None;
    };
    context.authorizer.fields.get(name).and_then(Value::as_str)
}

/// A JSON answer with `status`.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serialising our own response types cannot fail; fall back to a fixed 500
    // body rather than panic if it ever did.
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"message":"internal error","code":"INTERNAL_ERROR"}"#.to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The JSON answer for `err`: `{"message", "code"}` with its status. Store
/// failures are logged with their cause; the client sees only a fixed text.
pub fn error(err: &ApiError) -> Response<Body> {
    match err {
        ApiError::Store(StoreError::WriteConflict) => {
            tracing::warn!("write conflict, retries spent")
        }
        ApiError::Store(cause) => tracing::error!(error = ?cause, "store failure"),
        _ => {}
    }
    let mut response = json(
        err.status(),
        &lock_wire::ErrorAnswer {
            message: err.to_string(),
            code: err.code().to_owned(),
            field: err.field().map(str::to_owned),
        },
    );
    let retry_after = match err {
        ApiError::TooManyWaiting { retry_after, .. } => Some(*retry_after),
        ApiError::Store(StoreError::WriteConflict) => Some(WRITE_CONFLICT_RETRY_AFTER),
        _ => None,
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            lock_wire::RETRY_AFTER_HEADER,
            header::HeaderValue::from(seconds),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_conflict_is_a_503_with_retry_after_and_no_cause() {
        let answer = error(&ApiError::Store(StoreError::WriteConflict));
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let retry_after = &answer.headers()[lock_wire::RETRY_AFTER_HEADER];
        assert_eq!(retry_after, &WRITE_CONFLICT_RETRY_AFTER.to_string());
        let Body::Text(text) = answer.body() else {
            panic!("a JSON text body")
        };
        let body: lock_wire::ErrorAnswer = serde_json::from_str(text).unwrap();
        assert_eq!(body.code, lock_wire::codes::WRITE_CONFLICT);
        assert!(!body.message.contains("ReplicatedWriteConflictException"));

        let internal = error(&ApiError::Store(StoreError::NoAttributes));
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal
            .headers()
            .contains_key(lock_wire::RETRY_AFTER_HEADER));
    }
}
