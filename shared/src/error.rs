//! The errors a request can end in, and their one mapping to HTTP.

use lambda_http::http::StatusCode;
use lock_wire::codes;

use crate::types::ValidationError;

/// Why a request failed. Each variant maps to one HTTP status in
/// [`ApiError::status`]; the `Display` text is what the client reads.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: the message names the field, if there is one.
    #[error("{message}")]
    BadRequest {
        /// The field at fault, as the client names it.
        field: Option<String>,
        /// What is wrong, for people (starts with the field's name).
        message: String,
    },
    /// The body is over [`crate::http::MAX_BODY_BYTES`].
    #[error("request body must be at most {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// No lock of that name exists for this user.
    #[error("lock not found")]
    LockNotFound,
    /// The name is new and the tenant has as many lock names as it may.
    #[error("lock quota exceeded: this key's user has as many lock names as it may; delete unused ones with POST /v0/lock/delete")]
    LockQuotaExceeded,
    /// The lock cannot be deleted while a live lease holds it.
    #[error("lock is held by a live lease; unlock it first")]
    LockHeld,
    /// No semaphore of that name exists for this user.
    #[error("semaphore not found")]
    SemaphoreNotFound,
    /// The semaphore cannot be deleted while a live lease holds a permit.
    #[error("semaphore has permits held by live leases; release them first")]
    SemaphoreHeld,
    /// The semaphore was created with another number of permits.
    #[error("this semaphore has {permits} permits, not the number asked (delete it, once free, to change them)")]
    PermitsMismatch {
        /// The semaphore's own count.
        permits: u8,
    },
    /// The `Idempotency-Key` of an acquire was granted for another request.
    #[error("Idempotency-Key was already used for an acquire with another requester, ttlSeconds or permits; use a new key for a new request")]
    IdempotencyKeyReused,
    /// The calling key was rotated and this is not a retry of that rotation.
    #[error("this key was rotated; only a retry of that rotation (its Idempotency-Key, within 15 minutes) gets the new key, and a rotated key cannot revoke others")]
    KeyRotated,
    /// The user has as many keys that may work as it may: no rotation now.
    #[error("this key's user has as many keys in their grace period as it may (20); wait for one to expire, or revoke the others")]
    TooManyKeys,
    /// The user has as many waiting acquires as it may; ask again after `retry_after`.
    #[error("too many waiting acquires: this key's user may have {limit} waiting at once; retry after {retry_after} s, or acquire without waitSeconds")]
    TooManyWaiting {
        /// The user's limit of waiting acquires.
        limit: u32,
        /// Whole seconds to wait (1 to 20), also in the `Retry-After` header.
        retry_after: u64,
    },
    /// The caller has no valid identity.
    #[error("Unauthorized")]
    Unauthorized,
    /// The store failed; the cause is logged, never shown to the client
    /// (but for a write conflict, which is contention and says so).
    #[error("{}", store_message(.0))]
    Store(#[from] StoreError),
}

/// Most characters of a field name a `400` echoes: a client may name any
/// field (one given twice, say), and the answer stays small.
pub const MAX_FIELD_CHARS: usize = 64;

impl ApiError {
    /// A `400` for `field`, e.g. `invalid("lockName", "must not be blank")`;
    /// the field's name is cut to [`MAX_FIELD_CHARS`] characters.
    pub fn invalid(field: &str, problem: &str) -> Self {
        let field = match field.char_indices().nth(MAX_FIELD_CHARS) {
            Some((end, _)) => &field[..end],
            None => field,
        };
        Self::BadRequest {
            field: Some(field.to_owned()),
            message: format!("{field} {problem}"),
        }
    }

    /// A `400` about the request as a whole (no one field).
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: None,
            message: message.into(),
        }
    }

    /// The field a `400` is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::BadRequest { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::LockNotFound | Self::SemaphoreNotFound => StatusCode::NOT_FOUND,
            Self::LockQuotaExceeded => StatusCode::FORBIDDEN,
            Self::LockHeld
            | Self::SemaphoreHeld
            | Self::PermitsMismatch { .. }
            | Self::IdempotencyKeyReused
            | Self::KeyRotated
            | Self::TooManyKeys => StatusCode::CONFLICT,
            Self::TooManyWaiting { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Store(StoreError::WriteConflict) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code for the `code` field of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => codes::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => codes::PAYLOAD_TOO_LARGE,
            Self::LockNotFound => codes::LOCK_NOT_FOUND,
            Self::LockQuotaExceeded => codes::LOCK_QUOTA_EXCEEDED,
            Self::LockHeld => codes::LOCK_HELD,
            Self::SemaphoreNotFound => codes::SEMAPHORE_NOT_FOUND,
            Self::SemaphoreHeld => codes::SEMAPHORE_HELD,
            Self::PermitsMismatch { .. } => codes::PERMITS_MISMATCH,
            Self::IdempotencyKeyReused => codes::IDEMPOTENCY_KEY_REUSED,
            Self::KeyRotated => codes::KEY_ROTATED,
            Self::TooManyKeys => codes::TOO_MANY_KEYS,
            Self::TooManyWaiting { .. } => codes::THROTTLED,
            Self::Unauthorized => codes::UNAUTHORIZED,
            Self::Store(StoreError::WriteConflict) => codes::WRITE_CONFLICT,
            Self::Store(_) => codes::INTERNAL_ERROR,
        }
    }
}

/// Seconds a client should wait before retrying after a write conflict
/// (the `Retry-After` header): another Region's write is in flight.
pub const WRITE_CONFLICT_RETRY_AFTER: u64 = 1;

/// What a client reads of a store failure: nothing of its cause, but for a
/// write conflict, what to do about it.
fn store_message(err: &StoreError) -> &'static str {
    match err {
        StoreError::WriteConflict => "a write from another Region to the same item was in progress and nothing was changed; retry after Retry-After seconds (with the same Idempotency-Key or lease)",
        _ => "internal error",
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::BadRequest {
            field: Some(err.field.to_owned()),
            message: err.to_string(),
        }
    }
}

/// A failure of the DynamoDB store. Lost races are not errors: they are
/// outcomes of the store's operations.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB (or the network to it) failed.
    #[error("dynamodb request failed")]
    Dynamo(#[source] Box<aws_sdk_dynamodb::Error>),
    /// An item in the table does not have the shape this code writes.
    #[error("malformed item in table: attribute {0} is missing or has the wrong type")]
    MalformedItem(&'static str),
    /// A write asked for the item it wrote (`ReturnValues`) and got none.
    #[error("dynamodb answered a write without the item it wrote")]
    NoAttributes,
    /// A write to an item that a request in another Region was writing at
    /// the same time (`ReplicatedWriteConflictException`, multi-Region
    /// strongly consistent tables), still refused after the SDK's retries.
    /// DynamoDB applied none of it: contention, not failure.
    #[error("dynamodb refused a write that conflicted with one from another Region")]
    WriteConflict,
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for StoreError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    fn from(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        aws_sdk_dynamodb::Error::from(err).into()
    }
}

impl From<aws_sdk_dynamodb::Error> for StoreError {
    fn from(err: aws_sdk_dynamodb::Error) -> Self {
        match err {
            aws_sdk_dynamodb::Error::ReplicatedWriteConflictException(_) => Self::WriteConflict,
            other => Self::Dynamo(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status_and_code() {
        let cases = [
            (
                ApiError::invalid("lockName", "is required"),
                400,
                "BAD_REQUEST",
            ),
            (
                ApiError::PayloadTooLarge { limit: 16384 },
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (ApiError::LockNotFound, 404, "LOCK_NOT_FOUND"),
            (ApiError::LockQuotaExceeded, 403, "LOCK_QUOTA_EXCEEDED"),
            (ApiError::LockHeld, 409, "LOCK_HELD"),
            (
                ApiError::IdempotencyKeyReused,
                409,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (ApiError::KeyRotated, 409, "KEY_ROTATED"),
            (ApiError::TooManyKeys, 409, "TOO_MANY_KEYS"),
            (
                ApiError::TooManyWaiting {
                    limit: 10,
                    retry_after: 3,
                },
                429,
                "THROTTLED",
            ),
            (ApiError::Unauthorized, 401, "UNAUTHORIZED"),
            (
                ApiError::Store(StoreError::MalformedItem("leaseId")),
                500,
                "INTERNAL_ERROR",
            ),
            (
                ApiError::Store(StoreError::WriteConflict),
                503,
                "WRITE_CONFLICT",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status, "{err:?}");
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn a_replicated_write_conflict_is_contention_and_other_failures_are_not() {
        use aws_sdk_dynamodb::types::error::{
            InternalServerError, ReplicatedWriteConflictException,
        };
        let conflict = ReplicatedWriteConflictException::builder().build();
        let conflict = aws_sdk_dynamodb::Error::ReplicatedWriteConflictException(conflict);
        assert!(matches!(
            StoreError::from(conflict),
            StoreError::WriteConflict
        ));
        let internal =
            aws_sdk_dynamodb::Error::InternalServerError(InternalServerError::builder().build());
        assert!(matches!(StoreError::from(internal), StoreError::Dynamo(_)));
    }

    #[test]
    fn messages_name_the_field_and_never_leak_store_details() {
        assert_eq!(
            ApiError::invalid("requester", "must be a string").to_string(),
            "requester must be a string"
        );
        assert_eq!(ApiError::Unauthorized.to_string(), "Unauthorized");
        let validation = ApiError::from(ValidationError::new("lockName", "must not be blank"));
        assert_eq!(validation.status(), StatusCode::BAD_REQUEST);
        assert_eq!(validation.to_string(), "lockName must not be blank");
        assert_eq!(validation.field(), Some("lockName"));
        assert_eq!(ApiError::malformed("body is not JSON").field(), None);
        let store = ApiError::Store(StoreError::MalformedItem("leaseId"));
        assert_eq!(store.to_string(), "internal error");
        let conflict = ApiError::Store(StoreError::WriteConflict);
        assert!(conflict.to_string().contains("retry"), "{conflict}");
        let long = "é".repeat(1000);
        let echoed = ApiError::invalid(&long, "is given more than once");
        assert_eq!(echoed.field().unwrap().chars().count(), MAX_FIELD_CHARS);
        assert_eq!(
            echoed.to_string(),
            format!("{} is given more than once", "é".repeat(MAX_FIELD_CHARS))
        );
    }
}
