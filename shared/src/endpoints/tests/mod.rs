//! One line per bad input: each endpoint's parser refuses it with a message
//! that names the field (the handler tests show that a refused request
//! reaches neither the store nor DynamoDB). Shared helpers here; the cases
//! by endpoint in `locks`, `keys` and `list`; `wire` checks that what the
//! client sends parses back to what it says.

mod keys;
mod list;
mod locks;
mod wire;
use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::json;

use lambda_http::Request;

use super::*;
use crate::error::ApiError;
use crate::input::{Json, Query};
use crate::types::{LeaseTtl, LockName, UserId};
use lock_wire::{Cursor, PageLimit, MAX_PAGE_LIMIT};

const LEASE: &str = "550e8400-e29b-41d4-a716-446655440000";

/// A request from a known tenant with `body` and `query`.
fn request(body: Option<&str>, query: &[(&str, &str)]) -> Request {
    with_key(body, query, None)
}

/// [`request`], with `Authorization: Bearer <key>` if given, and that key's
/// hash in the authorizer's context, as the authorizer puts it.
fn with_key(body: Option<&str>, query: &[(&str, &str)], key: Option<&str>) -> Request {
    let validated =
        key.and_then(|key| crate::keys::ApiKey::from_authorization(&format!("Bearer {key}")));
    with_keys(body, query, key, validated.map(|key| key.hash()))
}

/// [`request`] with `Authorization: Bearer <header>` if given, and the
/// authorizer's context naming `validated` as the key it checked.
fn with_keys(
    body: Option<&str>,
    query: &[(&str, &str)],
    header: Option<&str>,
    validated: Option<crate::keys::KeyHash>,
) -> Request {
    let mut context = aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
    let user = UserId::generate();
    context
        .authorizer
        .fields
        .insert("userId".into(), json!(user));
    if let Some(hash) = validated {
        context
            .authorizer
            .fields
            .insert("keyHash".into(), json!(hash.as_str()));
    }
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in query {
        params
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
    }
    let mut builder = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v0/lock");
    if let Some(key) = header {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    builder
        .body(body.map_or(Body::Empty, |text| Body::Text(text.to_owned())))
        .unwrap()
        .with_query_string_parameters(params)
        .with_request_context(RequestContext::ApiGatewayV1(context))
}

/// The message `parse` refuses `body` with.
fn refusal<T: std::fmt::Debug>(parse: fn(&Request) -> Result<T, ApiError>, body: &str) -> String {
    parse(&request(Some(body), &[])).unwrap_err().to_string()
}

const ACQUIRE: fn(&Request) -> Result<AcquireInput, ApiError> = Acquire::parse;

#[test]
fn every_body_must_be_one_json_object() {
    let parse = |body| Acquire::parse(&request(body, &[])).unwrap_err().to_string();
    assert_eq!(parse(None), "request body is required");
    assert_eq!(parse(Some("  ")), "request body is required");
    assert!(parse(Some("{not json")).starts_with("request body is not valid JSON"));
    assert_eq!(parse(Some("[1,2]")), "request body must be a JSON object");
    assert_eq!(parse(Some("\"x\"")), "request body must be a JSON object");
    let big = format!(
        r#"{{"lockName":"x","requester":"{}"}}"#,
        "a".repeat(16 * 1024)
    );
    assert_eq!(
        parse(Some(&big)),
        "request body must be at most 16384 bytes"
    );
}

/// Each route of the registry is served by the endpoint that says it serves it.
#[test]
fn every_route_is_served_by_its_own_endpoint() {
    for route in lock_wire::Route::ALL {
        assert_eq!(endpoint_of(route).route, route, "{route:?}");
    }
}
