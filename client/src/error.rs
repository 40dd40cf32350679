//! What a call can end in, typed, from the answer's status and `code`.

use lock_wire::{codes, ErrorAnswer, Timestamp};
use reqwest::StatusCode;

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lock is held by another live lease and was not granted (within
    /// the wait, if there was one).
    #[error("lock is held by another lease{}", until(.expires_at))]
    Held {
        /// When the holder's lease expires, if it has a TTL.
        expires_at: Option<Timestamp>,
    },
    /// The lease is no longer the lock's live lease: released, expired or
    /// replaced (a renewal answered "not live", or the lock is gone).
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// No lock of that name.
    #[error("lock not found")]
    NotFound,
    /// The lock cannot be deleted while a live lease holds it.
    #[error("lock is held by a live lease; unlock it first")]
    LockHeld,
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
    #[error("throttled: {0}")]
    Throttled(String),
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

fn until(expires_at: &Option<Timestamp>) -> String {
    expires_at.map_or_else(String::new, |t| format!(" until {t}"))
}

impl Error {
    /// Whether the same call may be sent again: the service did not answer,
    /// failed, or throttled. Every call this client retries is safe to
    /// repeat (an acquire carries the same `Idempotency-Key`).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::Throttled(_) => true,
            Self::Server { status, .. } => matches!(status, 500 | 502 | 503 | 504),
            _ => false,
        }
    }

    /// The error an answer with `status` and body `text` stands for.
    pub(crate) fn from_answer(status: StatusCode, text: &str) -> Self {
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
            (404, codes::LOCK_NOT_FOUND) => Self::NotFound,
            (409, codes::LOCK_HELD) => Self::LockHeld,
            (429, _) => Self::Throttled(answer.message),
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
            Error::from_answer(StatusCode::from_u16(status).unwrap(), body)
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
            Error::LockHeld
        ));
    }
}
