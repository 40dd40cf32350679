//! The HTTP edge shared by every handler: reading the tenant, the body and the
//! query string of an API Gateway REST proxy event, and writing JSON answers.

use lambda_http::http::{header, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::keys::KeyHash;
use crate::types::UserId;

/// Largest accepted request body, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Key of the user id in the authorizer context.
pub const CONTEXT_USER_ID: &str = "userId";
/// Key of the SHA-256 of the key the authorizer validated, in its context
/// (never logged: the access log names only the user).
pub const CONTEXT_KEY_HASH: &str = "keyHash";

/// The tenant, as the authorizer put it in the request context. The request
/// itself (body, query, headers) can never name it.
pub fn tenant(request: &Request) -> Result<UserId, ApiError> {
    authorizer_field(request, CONTEXT_USER_ID)
        .and_then(|user| UserId::parse(user).ok())
        .ok_or(ApiError::Unauthorized)
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

/// The raw body, refused if it is over [`MAX_BODY_BYTES`].
pub fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
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

/// The body as a JSON object. Unknown fields are kept (and ignored by callers);
/// a field named twice is refused, since which one counts would be a guess.
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(request)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::malformed("request body is required"));
    }
    match serde_json::from_slice(bytes) {
        Ok(TopLevel::Object {
            fields,
            repeated: None,
        }) => Ok(fields),
        Ok(TopLevel::Object {
            repeated: Some(field),
            ..
        }) => Err(ApiError::invalid(&field, "is given more than once")),
        Ok(TopLevel::NotAnObject) => Err(ApiError::malformed("request body must be a JSON object")),
        Err(err) => Err(ApiError::malformed(format!(
            "request body is not valid JSON: {err}"
        ))),
    }
}

/// A JSON body, read in one pass: its fields if it is an object, with the
/// first field name it repeats.
enum TopLevel {
    Object {
        fields: Map<String, Value>,
        repeated: Option<String>,
    },
    NotAnObject,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let (mut fields, mut repeated) = (Map::new(), None);
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value()?;
            if fields.insert(name.clone(), value).is_some() && repeated.is_none() {
                repeated = Some(name);
            }
        }
        Ok(TopLevel::Object { fields, repeated })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }

    fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }

    fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }

    fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }

    fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }

    fn visit_unit<E>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::NotAnObject)
    }
}

/// A required string field of a JSON object.
pub fn required_str<'a>(object: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Err(ApiError::invalid(field, "is required")),
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(ApiError::invalid(field, "must be a string")),
    }
}

/// An optional whole-number field of a JSON object (`null` counts as absent).
pub fn optional_u64(object: &Map<String, Value>, field: &str) -> Result<Option<u64>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_u64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, "must be a whole number of seconds")),
        Some(_) => Err(ApiError::invalid(field, "must be a number")),
    }
}

/// An optional boolean field of a JSON object (`null` counts as absent).
pub fn optional_bool(object: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(ApiError::invalid(field, "must be true or false")),
    }
}

/// An optional request header, which must be text if present.
pub fn optional_header<'a>(request: &'a Request, name: &str) -> Result<Option<&'a str>, ApiError> {
    request
        .headers()
        .get(name)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::invalid(&format!("{name} header"), "must be ASCII text"))
        })
        .transpose()
}

/// A required query string parameter, given once.
pub fn required_query(request: &Request, name: &str) -> Result<String, ApiError> {
    optional_query(request, name)?
        .ok_or_else(|| ApiError::invalid(name, "query parameter is required"))
}

/// An optional query string parameter, given at most once: like a field
/// named twice in a body, a repeated parameter is refused, since which one
/// counts would be a guess.
pub fn optional_query(request: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let values = request
        .query_string_parameters_ref()
        .and_then(|query| query.all(name))
        .unwrap_or_default();
    match values.as_slice() {
        [] => Ok(None),
        [value] => Ok(Some((*value).to_owned())),
        _ => Err(ApiError::invalid(
            name,
            "query parameter is given more than once",
        )),
    }
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
    if let ApiError::Store(cause) = err {
        tracing::error!(error = ?cause, "store failure");
    }
    let mut response = json(
        err.status(),
        &lock_wire::ErrorAnswer {
            message: err.to_string(),
            code: err.code().to_owned(),
            field: err.field().map(str::to_owned),
        },
    );
    if let ApiError::TooManyWaiting { retry_after, .. } = err {
        response.headers_mut().insert(
            lock_wire::RETRY_AFTER_HEADER,
            header::HeaderValue::from(*retry_after),
        );
    }
    response
}
