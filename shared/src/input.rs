//! Reading a request into the wire types: the body or the query string into
//! a serde struct of validated values, refusing with a `400` that names the
//! field (the message the type itself gives, or one of a few for JSON's own
//! mistakes: missing, `null`, wrong type, given twice).

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::http::{tenant, validated_key};
use crate::keys::KeyHash;
use crate::types::{IdempotencyKey, UserId};

/// What an endpoint reads from a request, or the refusal (which changes
/// nothing). An endpoint's input is one of these, or a pair of them.
pub trait FromRequest: Sized {
    /// Reads `request`.
    fn from_request(request: &Request) -> Result<Self, ApiError>;
}

/// The body as `T`, which must be given.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// The query string as `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Json<T> {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        body(request).map(Json)
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        query(request).map(Query)
    }
}

/// The tenant, from the authorizer's context.
impl FromRequest for UserId {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        tenant(request)
    }
}

/// The key the authorizer validated, by its hash.
impl FromRequest for KeyHash {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        validated_key(request)
    }
}

/// The `Idempotency-Key` header, if given.
impl FromRequest for Option<IdempotencyKey> {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        let header = optional_header(request.headers(), lock_wire::IDEMPOTENCY_KEY_HEADER)?;
        Ok(header.map(IdempotencyKey::parse).transpose()?)
    }
}

/// Nothing (the body's size is still checked, as for every endpoint).
impl FromRequest for () {
    fn from_request(_: &Request) -> Result<Self, ApiError> {
        Ok(())
    }
}

/// Both, read and refused in this order.
impl<A: FromRequest, B: FromRequest> FromRequest for (A, B) {
    fn from_request(request: &Request) -> Result<Self, ApiError> {
        Ok((A::from_request(request)?, B::from_request(request)?))
    }
}

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The raw body, refused if it is over [`MAX_BODY_BYTES`].
pub fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    Ok(bytes)
}

/// The body as `T`, which must be given.
pub fn body<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request)?;
    if is_blank(bytes) {
        return Err(ApiError::malformed("request body is required"));
    }
    from_json(bytes)
}

/// The body as `T`, or `T::default()` when there is none.
pub fn optional_body<T: DeserializeOwned + Default>(request: &Request) -> Result<T, ApiError> {
    let bytes = body_bytes(request)?;
    if is_blank(bytes) {
        return Ok(T::default());
    }
    from_json(bytes)
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// `bytes` as `T`, from a JSON object only (serde would also read a struct
/// from an array). A field given twice is refused, since which one counts
/// would be a guess (unknown fields are ignored, so theirs do not matter).
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => ApiError::malformed("request body must be a JSON object"),
                Err(err) => ApiError::malformed(format!("request body is not valid JSON: {err}")),
            },
        );
    }
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            refusal(&field, &without_position(&inner), "is required")
        } else {
            ApiError::malformed(format!("request body is not valid JSON: {inner}"))
        }
    })?;
    json.end()
        .map_err(|err| ApiError::malformed(format!("request body is not valid JSON: {err}")))?;
    Ok(value)
}

/// A serde_json data error's message without its ` at line L column C`.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The query string as `T`: each parameter given at most once (like a field
/// given twice, a repeated parameter is refused, since which one counts
/// would be a guess).
pub fn query<T: DeserializeOwned>(request: &Request) -> Result<T, ApiError> {
    let mut fields = Map::new();
    if let Some(query) = request.query_string_parameters_ref() {
        for (name, _) in query.iter() {
            let values = query.all(name).unwrap_or_default();
            if values.len() > 1 {
                return Err(ApiError::invalid(
                    name,
                    "query parameter is given more than once",
                ));
            }
            fields.insert(name.to_owned(), Value::String(values[0].to_owned()));
        }
    }
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|err| {
        let field = err.path().to_string();
        refusal(
            &field,
            &err.into_inner().to_string(),
            "query parameter is required",
        )
    })
}

/// The `400` for serde's `message` about `field` (`.` for the whole
/// document); `missing` says what a missing field is.
fn refusal(field: &str, message: &str, missing: &str) -> ApiError {
    if let Some(name) = quoted(message, "missing field `") {
        return ApiError::invalid(name, missing);
    }
    if let Some(name) = quoted(message, "duplicate field `") {
        return ApiError::invalid(name, "is given more than once");
    }
    if field == "." {
        return ApiError::malformed("request body must be a JSON object");
    }
    let problem = if message.starts_with("invalid type: null") {
        "is required"
    } else if message.ends_with("expected a string") {
        "must be a string"
    } else if message.ends_with("expected a boolean") {
        "must be true or false"
    } else if message.ends_with("expected u64") {
        // A negative or fractional number, or no number at all.
        let whole = message.starts_with("invalid value: integer")
            || message.starts_with("invalid type: floating point");
        if whole {
            "must be a whole number of seconds"
        } else {
            "must be a number"
        }
    } else {
        // The value's own refusal, which already names the field.
        return ApiError::BadRequest {
            field: Some(field.to_owned()),
            message: message.to_owned(),
        };
    };
    ApiError::invalid(field, problem)
}

/// The text between `prefix` and the next backtick, if `message` starts so.
fn quoted<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// An optional request header, which must be text if present.
pub fn optional_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid(&format!("{name} header"), "must be ASCII text"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_the_services_own() {
        let refused = |message: &str| refusal("ttlSeconds", message, "is required").to_string();
        assert_eq!(
            refused("invalid type: null, expected u64"),
            "ttlSeconds is required"
        );
        assert_eq!(
            refused("invalid value: integer `-5`, expected u64"),
            "ttlSeconds must be a whole number of seconds"
        );
        assert_eq!(
            refused("invalid type: string \"10\", expected u64"),
            "ttlSeconds must be a number"
        );
        assert_eq!(
            refusal(
                ".",
                "missing field `lockName`",
                "query parameter is required"
            )
            .to_string(),
            "lockName query parameter is required"
        );
        assert_eq!(
            refusal(".", "invalid type: sequence, expected struct X", "").to_string(),
            "request body must be a JSON object"
        );
        let own = refusal("lockName", "lockName must not be blank", "is required");
        assert_eq!(
            (own.to_string(), own.field()),
            ("lockName must not be blank".into(), Some("lockName"))
        );
    }
}
