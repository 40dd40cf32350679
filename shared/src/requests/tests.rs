//! One line per bad input: each endpoint's parser refuses it with a message
//! that names the field (the handler tests show that a refused request
//! reaches neither the store nor DynamoDB).
use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::json;

use lambda_http::Request;

use super::*;
use crate::error::ApiError;
use crate::types::{LeaseTtl, LockName, UserId};

const LEASE: &str = "550e8400-e29b-41d4-a716-446655440000";

/// A request from a known tenant with `body` and `query`.
fn request(body: Option<&str>, query: &[(&str, &str)]) -> Request {
    with_key(body, query, None)
}

/// [`request`], with `Authorization: Bearer <key>` if given.
fn with_key(body: Option<&str>, query: &[(&str, &str)], key: Option<&str>) -> Request {
    let mut context = aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
    let user = UserId::generate();
    context
        .authorizer
        .fields
        .insert("userId".into(), json!(user));
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
    if let Some(key) = key {
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

const ACQUIRE: fn(&Request) -> Result<AcquireRequest, ApiError> =
    |request| AcquireRequest::parse(request, None);

#[test]
fn every_body_must_be_one_json_object() {
    let parse = |body| {
        AcquireRequest::parse(&request(body, &[]), None)
            .unwrap_err()
            .to_string()
    };
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

#[test]
fn acquire_refuses_bad_fields_naming_them() {
    let long = "a".repeat(256);
    let cases = [
        (
            r#"{"lockName":"a","requester":"r","lockName":"b"}"#.to_owned(),
            "lockName is given more than once",
        ),
        ("{}".into(), "lockName is required"),
        (r#"{"lockName":"x"}"#.into(), "requester is required"),
        (
            r#"{"lockName":null,"requester":"r"}"#.into(),
            "lockName is required",
        ),
        (
            r#"{"lockName":7,"requester":"r"}"#.into(),
            "lockName must be a string",
        ),
        (
            r#"{"lockName":"x","requester":["r"]}"#.into(),
            "requester must be a string",
        ),
        (
            r#"{"lockName":"","requester":"r"}"#.into(),
            "lockName must not be blank",
        ),
        (
            r#"{"lockName":"x","requester":"  "}"#.into(),
            "requester must not be blank",
        ),
        (
            format!(r#"{{"lockName":"{long}","requester":"r"}}"#),
            "lockName must be at most 255 bytes",
        ),
        (
            format!(r#"{{"lockName":"x","requester":"{long}"}}"#),
            "requester must be at most 255 bytes",
        ),
        (
            r#"{"lockName":"a\u0000b","requester":"r"}"#.into(),
            "lockName must not contain control characters",
        ),
        (
            r#"{"lockName":"x","requester":"r\n"}"#.into(),
            "requester must not contain control characters",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(ACQUIRE, &body), message, "{body}");
    }
}

#[test]
fn acquire_refuses_durations_out_of_range_naming_them() {
    let cases: [(String, &str); 7] = [
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":0}"#.into(),
            "ttlSeconds must be from 1 to 86400",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":86401}"#.into(),
            "ttlSeconds must be from 1 to 86400",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":-5}"#.into(),
            "ttlSeconds must be a whole number of seconds",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":1.5}"#.into(),
            "ttlSeconds must be a whole number of seconds",
        ),
        (
            r#"{"lockName":"x","requester":"r","ttlSeconds":"10"}"#.into(),
            "ttlSeconds must be a number",
        ),
        (
            r#"{"lockName":"x","requester":"r","waitSeconds":21}"#.into(),
            "waitSeconds must be from 0 to 20",
        ),
        (
            r#"{"lockName":"x","requester":"r","waitSeconds":true}"#.into(),
            "waitSeconds must be a number",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(ACQUIRE, &body), message, "{body}");
    }
}

#[test]
fn unlock_refuses_bad_fields_naming_them() {
    let cases = [
        (
            format!(r#"{{"leaseId":"{LEASE}"}}"#),
            "lockName is required",
        ),
        (r#"{"lockName":"x"}"#.into(), "leaseId is required"),
        (
            r#"{"lockName":"x","leaseId":"abc"}"#.into(),
            "leaseId must be a UUID",
        ),
        (
            r#"{"lockName":"x","leaseId":42}"#.into(),
            "leaseId must be a string",
        ),
        (
            format!(r#"{{"lockName":"","leaseId":"{LEASE}"}}"#),
            "lockName must not be blank",
        ),
        (
            r#"{"lockName":"a","force":false,"force":true}"#.into(),
            "force is given more than once",
        ),
        (
            r#"{"lockName":"x","force":"yes"}"#.into(),
            "force must be true or false",
        ),
        (
            format!(r#"{{"lockName":"x","force":true,"leaseId":"{LEASE}"}}"#),
            "leaseId must not be given with force",
        ),
        (
            r#"{"lockName":"x","force":false}"#.into(),
            "leaseId is required",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(UnlockRequest::parse, &body), message, "{body}");
    }
}

#[test]
fn renew_refuses_bad_fields_naming_them() {
    let cases = [
        (r#"{"lockName":"x"}"#.to_owned(), "leaseId is required"),
        (
            format!(r#"{{"leaseId":"{LEASE}"}}"#),
            "lockName is required",
        ),
        (
            r#"{"lockName":"x","leaseId":"nope"}"#.into(),
            "leaseId must be a UUID",
        ),
        (
            format!(r#"{{"lockName":"x","leaseId":"{LEASE}","ttlSeconds":0}}"#),
            "ttlSeconds must be from 1 to 86400",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(RenewRequest::parse, &body), message, "{body}");
    }
}

#[test]
fn get_refuses_a_missing_repeated_or_bad_lock_name() {
    let long = "a".repeat(256);
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[], "lockName query parameter is required"),
        (&[("other", "x")], "lockName query parameter is required"),
        (
            &[("lockName", "a"), ("lockName", "b")],
            "lockName query parameter is given more than once",
        ),
        (&[("lockName", "")], "lockName must not be blank"),
        (&[("lockName", &long)], "lockName must be at most 255 bytes"),
        (
            &[("lockName", "a\u{1}")],
            "lockName must not contain control characters",
        ),
    ];
    for (query, message) in cases {
        let err = GetRequest::parse(&request(None, query)).unwrap_err();
        assert_eq!(err.to_string(), message, "{query:?}");
    }
}

#[test]
fn valid_requests_parse_into_checked_values() {
    let body = r#"{"lockName":"job","requester":"r","ttlSeconds":30,"waitSeconds":2,"extra":1}"#;
    let parsed = ACQUIRE(&request(Some(body), &[])).unwrap();
    assert_eq!(parsed.name.as_str(), "job");
    assert_eq!(parsed.ttl.map(LeaseTtl::millis), Some(30_000));
    assert_eq!(parsed.wait.duration().as_secs(), 2);
    let get = GetRequest::parse(&request(None, &[("lockName", "job")])).unwrap();
    assert_eq!(get.name.as_str(), "job");
    let force = UnlockRequest::parse(&request(Some(r#"{"lockName":"job","force":true}"#), &[]));
    assert_eq!(force.unwrap().by, UnlockBy::Force);
}

#[test]
fn delete_needs_a_valid_lock_name() {
    let cases = [
        ("{}", "lockName is required"),
        (r#"{"lockName":7}"#, "lockName must be a string"),
        (r#"{"lockName":" "}"#, "lockName must not be blank"),
        (
            r#"{"lockName":"a\u202eb"}"#,
            "lockName must not contain bidirectional controls or zero-width characters",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(refusal(DeleteRequest::parse, body), message, "{body}");
    }
    let parsed = DeleteRequest::parse(&request(Some(r#"{"lockName":"job"}"#), &[])).unwrap();
    assert_eq!(parsed.name.as_str(), "job");
}

#[test]
fn rotate_and_revoke_need_the_calling_key_and_a_grace_in_range() {
    let key = LEASE; // any UUID is a well-formed key
    let rotate = |body: Option<&str>| RotateRequest::parse(&with_key(body, &[], Some(key)));
    assert_eq!(rotate(None).unwrap().grace.millis(), 0);
    assert_eq!(rotate(Some(" ")).unwrap().grace.millis(), 0);
    let grace = rotate(Some(r#"{"oldKeyValidForSeconds":60}"#))
        .unwrap()
        .grace;
    assert_eq!(grace.millis(), 60_000);
    let cases = [
        (
            r#"{"oldKeyValidForSeconds":86401}"#,
            "oldKeyValidForSeconds must be from 0 to 86400",
        ),
        (
            r#"{"oldKeyValidForSeconds":-1}"#,
            "oldKeyValidForSeconds must be a whole number of seconds",
        ),
        (
            r#"{"oldKeyValidForSeconds":"1"}"#,
            "oldKeyValidForSeconds must be a number",
        ),
        ("[]", "request body must be a JSON object"),
    ];
    for (body, message) in cases {
        assert_eq!(
            rotate(Some(body)).unwrap_err().to_string(),
            message,
            "{body}"
        );
    }
    let keyless = RotateRequest::parse(&request(None, &[])).unwrap_err();
    assert_eq!(keyless.to_string(), "Unauthorized");
    assert!(RevokeRequest::parse(&with_key(None, &[], Some(key))).is_ok());
    assert!(RevokeRequest::parse(&request(None, &[])).is_err());
}

#[test]
fn list_takes_a_limit_from_1_to_1000_and_well_formed_cursors() {
    let list = |query: &[(&str, &str)]| ListRequest::parse(&request(None, query));
    let all = list(&[]).unwrap();
    assert_eq!((all.limit, all.after), (None, None));
    assert_eq!(list(&[("limit", "1000")]).unwrap().limit, Some(1000));
    for bad in ["0", "1001", "-1", "1.5", "ten", ""] {
        let err = list(&[("limit", bad)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "limit must be a whole number from 1 to 1000",
            "{bad}"
        );
    }
    let name = LockName::parse("job-é").unwrap();
    let cursor = cursor_after(&name);
    let after = list(&[("cursor", &cursor)]).unwrap().after;
    assert_eq!(after.as_deref(), Some("job-é"));
    // Well-formed but not given out: just another position.
    let position = list(&[("cursor", "c100")]).unwrap().after;
    assert_eq!(position.as_deref(), Some("\0"));
    let too_long = format!("c1{}", "61".repeat(256));
    let upper = format!("c1{}", cursor[2..].to_uppercase());
    let odd = format!("{cursor}0");
    for bad in [
        "",
        "c1",
        "c1z0",
        "c17",
        &cursor[2..],
        &odd,
        "c1+1",
        &too_long,
        &upper,
    ] {
        let err = list(&[("cursor", bad)]).unwrap_err();
        let message = "cursor must be a nextCursor from an earlier page";
        assert_eq!(err.to_string(), message, "{bad:?}");
    }
    let twice = list(&[("limit", "1"), ("limit", "2")]).unwrap_err();
    assert_eq!(
        twice.to_string(),
        "limit query parameter is given more than once"
    );
}

/// The client sends `lock_wire` request types: each, with and without its
/// optional fields, parses to the same values here (the two cannot drift).
#[test]
fn every_wire_request_parses_to_what_it_says() {
    let body = |value: &dyn erased::Json| Some(value.json());
    let name = LockName::parse("reports").unwrap();
    for (ttl, wait) in [(None, None), (Some(30), Some(5))] {
        let wire = lock_wire::AcquireRequest {
            lock_name: "reports".into(),
            requester: "cron@host".into(),
            ttl_seconds: ttl,
            wait_seconds: wait,
        };
        let parsed = AcquireRequest::parse(&request(body(&wire).as_deref(), &[]), None).unwrap();
        assert_eq!(parsed.name, name);
        assert_eq!(parsed.requester.as_str(), "cron@host");
        assert_eq!(parsed.ttl, ttl.map(|s| LeaseTtl::from_seconds(s).unwrap()));
        assert_eq!(parsed.wait.duration().as_secs(), wait.unwrap_or(0));
    }
    let unlock = |lease_id: Option<&str>, force| lock_wire::UnlockRequest {
        lock_name: "reports".into(),
        lease_id: lease_id.map(str::to_owned),
        force,
    };
    let by = |wire: &lock_wire::UnlockRequest| {
        UnlockRequest::parse(&request(body(wire).as_deref(), &[]))
            .unwrap()
            .by
    };
    assert!(matches!(by(&unlock(Some(LEASE), None)), UnlockBy::Lease(l) if l.as_str() == LEASE));
    assert_eq!(by(&unlock(None, Some(true))), UnlockBy::Force);
    for ttl in [None, Some(60)] {
        let wire = lock_wire::RenewRequest {
            lock_name: "reports".into(),
            lease_id: LEASE.into(),
            ttl_seconds: ttl,
        };
        let parsed = RenewRequest::parse(&request(body(&wire).as_deref(), &[])).unwrap();
        assert_eq!((parsed.name, parsed.lease.as_str()), (name.clone(), LEASE));
        assert_eq!(parsed.ttl, ttl.map(|s| LeaseTtl::from_seconds(s).unwrap()));
    }
    let wire = lock_wire::DeleteRequest {
        lock_name: "reports".into(),
    };
    let parsed = DeleteRequest::parse(&request(body(&wire).as_deref(), &[])).unwrap();
    assert_eq!(parsed.name, name);
    let key = "550e8400-e29b-41d4-a716-446655440001";
    for seconds in [None, Some(600)] {
        let wire = lock_wire::RotateRequest {
            old_key_valid_for_seconds: seconds,
        };
        let parsed =
            RotateRequest::parse(&with_key(body(&wire).as_deref(), &[], Some(key))).unwrap();
        assert_eq!(parsed.grace.millis(), seconds.unwrap_or(0) * 1000);
    }
}

/// Serialises any wire request (object-safe, for the table above).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}
