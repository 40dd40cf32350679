//! What a call can end in, typed, from the answer's status and `code`.

use std::time::Duration;

use lock_wire::{codes, ErrorAnswer, Timestamp, ValidationError};
use reqwest::StatusCode;

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A live lease holds the lock: it was not granted (within the wait,
    /// if there was one), or not deleted.
    #[error("lock is held by a live lease{}", until(.expires_at))]
    Held {
        /// When the holder's lease expires, if it has a TTL.
        expires_at: Option<Timestamp>,
    },
    /// The lease is no longer the lock's live lease: released, expired or
    /// replaced (a renewal answered "not live", or the lock is gone).
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// No lock (or semaphore) of that name.
    #[error("not found")]
    NotFound,
    /// A new lock name beyond the user's quota.
    #[error("lock quota exceeded: {0}")]
    QuotaExceeded(String),
    /// No key, or a key that is unknown, revoked or expired.
    #[error("unauthorized: the API key is missing, unknown, revoked or expired")]
    Unauthorized,
    /// The request is malformed.
    #[error("bad request: {message}")]
    BadRequest {
        /// The field at fault, if the service named one.
        field: Option<String>,
        /// The service's message (it names the field).
        message: String,
    },
    /// A throttle or rate limit refused the call (after the retries).
    #[error("throttled: {message}")]
    Throttled {
        /// The service's message.
        message: String,
        /// How long the service asked to wait before the next call
        /// (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// The semaphore has another number of permits than asked (the
    /// message names its count).
    #[error("permits mismatch: {0}")]
    PermitsMismatch(String),
    /// The `Idempotency-Key` was already used for a different request.
    #[error("idempotency key reused: {0}")]
    IdempotencyKeyReused(String),
    /// The key was rotated, and this is not a retry of that rotation (or
    /// a rotated key tried to revoke the others).
    #[error("key rotated: {0}")]
    KeyRotated(String),
    /// The user has as many keys that may work as it may (20): no rotation now.
    #[error("too many keys: {0}")]
    TooManyKeys(String),
    /// The service failed (5xx, after the retries) or answered something
    /// this client does not understand.
    #[error("server error {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The answer's `code`, if any.
        code: String,
        /// The answer's message, or what was wrong with the answer.
        message: String,
    },
    /// The service could not be reached, or the connection broke or timed
    /// out (after the retries).
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// The client is not configured: no URL or no key.
    #[error("configuration: {0}")]
    Config(String),
}

/// A request value the service would refuse, refused before it is sent,
/// with the message the service would give.
impl From<ValidationError> for Error {
    fn from(err: ValidationError) -> Self {
        Self::BadRequest {
            field: Some(err.field.to_owned()),
            message: err.to_string(),
        }
    }
}

fn until(expires_at: &Option<Timestamp>) -> String {
    expires_at.map_or_else(String::new, |t| format!(" until {t}"))
}

impl Error {
    /// Whether the same call may be sent again: the service did not answer,
    /// failed, or throttled. Every call this client retries is safe to
    /// repeat (an acquire carries the same `Idempotency-Key`).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Throttled { .. } => true,
            Self::Server { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The error an answer with `status`, body `text` and `Retry-After`
    /// header `retry_after` (whole seconds) stands for.
    pub(crate) fn from_answer(status: StatusCode, text: &str, retry_after: Option<&str>) -> Self {
        let answer: ErrorAnswer = serde_json::from_str(text).unwrap_or_else(|_| ErrorAnswer {
            message: text.chars().take(200).collect(),
            code: String::new(),
            field: None,
        });
        match (status.as_u16(), answer.code.as_str()) {
            (400, _) => Self::BadRequest {
                field: answer.field,
                message: answer.message,
            },
            (401, _) => Self::Unauthorized,
            (403, codes::LOCK_QUOTA_EXCEEDED) => Self::QuotaExceeded(answer.message),
            (404, codes::LOCK_NOT_FOUND | codes::SEMAPHORE_NOT_FOUND) => Self::NotFound,
            (409, codes::LOCK_HELD | codes::SEMAPHORE_HELD) => Self::Held { expires_at: None },
            (409, codes::PERMITS_MISMATCH) => Self::PermitsMismatch(answer.message),
            (409, codes::IDEMPOTENCY_KEY_REUSED) => Self::IdempotencyKeyReused(answer.message),
            (409, codes::KEY_ROTATED) => Self::KeyRotated(answer.message),
            (409, codes::TOO_MANY_KEYS) => Self::TooManyKeys(answer.message),
            (429, _) => Self::Throttled {
                message: answer.message,
                retry_after: retry_after
                    .and_then(|seconds| seconds.trim().parse().ok())
                    .map(Duration::from_secs),
            },
            (status, _) => Self::Server {
                status,
                code: answer.code,
                message: answer.message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_their_errors() {
        let error = |status: u16, body: &str| {
            Error::from_answer(StatusCode::from_u16(status).unwrap(), body, None)
        };
        let bad = error(
            400,
            r#"{"message":"lockName must not be blank","code":"BAD_REQUEST","field":"lockName"}"#,
        );
        assert!(matches!(bad, Error::BadRequest { field: Some(f), .. } if f == "lockName"));
        assert!(matches!(
            error(401, r#"{"message":"Unauthorized"}"#),
            Error::Unauthorized
        ));
        let quota = error(403, r#"{"message":"q","code":"LOCK_QUOTA_EXCEEDED"}"#);
        assert!(matches!(quota, Error::QuotaExceeded(_)));
        assert!(matches!(
            error(
                404,
                r#"{"message":"lock not found","code":"LOCK_NOT_FOUND"}"#
            ),
            Error::NotFound
        ));
        // A route the gateway does not know is not a missing lock.
        let route = error(404, r#"{"message":"Not Found","code":"NOT_FOUND"}"#);
        assert!(matches!(route, Error::Server { status: 404, .. }));
        assert!(!route.is_transient());
        assert!(error(429, r#"{"message":"Too Many Requests","code":"THROTTLED"}"#).is_transient());
        assert!(error(502, "<html>bad gateway</html>").is_transient());
        assert!(error(500, "{}").is_transient());
        assert!(!error(400, "{}").is_transient());
        assert!(matches!(
            error(409, r#"{"message":"m","code":"LOCK_HELD"}"#),
            Error::Held { expires_at: None }
        ));
        let reused = error(409, r#"{"message":"m","code":"IDEMPOTENCY_KEY_REUSED"}"#);
        assert!(matches!(reused, Error::IdempotencyKeyReused(_)));
        let rotated = error(409, r#"{"message":"m","code":"KEY_ROTATED"}"#);
        assert!(matches!(rotated, Error::KeyRotated(_)));
        let mismatch = error(409, r#"{"message":"m","code":"PERMITS_MISMATCH"}"#);
        assert!(matches!(mismatch, Error::PermitsMismatch(_)));
        assert!(matches!(
            error(404, r#"{"message":"m","code":"SEMAPHORE_NOT_FOUND"}"#),
            Error::NotFound
        ));
        let many = error(409, r#"{"message":"m","code":"TOO_MANY_KEYS"}"#);
        assert!(matches!(many, Error::TooManyKeys(_)));
        let waiting = Error::from_answer(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"message":"too many waiting","code":"THROTTLED"}"#,
            Some("3"),
        );
        assert!(matches!(
            waiting,
            Error::Throttled { retry_after: Some(after), .. } if after == Duration::from_secs(3)
        ));
    }
}
