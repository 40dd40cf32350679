//! Each endpoint's request, parsed into validated values before anything is
//! read or written. A request that does not parse changes nothing.

use lambda_http::Request;

use crate::error::ApiError;
use crate::http::{
    json_object, optional_bool, optional_header, optional_u64, required_query, required_str, tenant,
};
use crate::types::{IdempotencyKey, LeaseId, LeaseTtl, LockName, Requester, UserId, WaitTime};

/// `POST /v0/lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcquireRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// Who asks.
    pub requester: Requester,
    /// `ttlSeconds`, or the server's default.
    pub ttl: Option<LeaseTtl>,
    /// `waitSeconds` (0 if absent).
    pub wait: WaitTime,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl AcquireRequest {
    /// Parses an acquire; `default_ttl` applies when `ttlSeconds` is absent.
    pub fn parse(request: &Request, default_ttl: Option<LeaseTtl>) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let body = json_object(request)?;
        Ok(Self {
            user,
            name: LockName::parse(required_str(&body, "lockName")?)?,
            requester: Requester::parse(required_str(&body, "requester")?)?,
            ttl: optional_u64(&body, "ttlSeconds")?
                .map(LeaseTtl::from_seconds)
                .transpose()?
                .or(default_ttl),
            wait: optional_u64(&body, "waitSeconds")?
                .map(WaitTime::from_seconds)
                .transpose()?
                .unwrap_or_default(),
            idempotency_key: optional_header(request, "idempotency-key")?
                .map(IdempotencyKey::parse)
                .transpose()?,
        })
    }
}

/// `GET /v0/lock?lockName=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
}

impl GetRequest {
    /// Parses a get.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        Ok(Self {
            user: tenant(request)?,
            name: LockName::parse(&required_query(request, "lockName")?)?,
        })
    }
}

/// Whose lease an unlock ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlockBy {
    /// Only this lease, if it is live.
    Lease(LeaseId),
    /// Whatever lease holds the lock (`force: true`).
    Force,
}

/// `POST /v0/unlock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlockRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// Whose lease ends.
    pub by: UnlockBy,
}

impl UnlockRequest {
    /// Parses an unlock: `{lockName, leaseId}` or `{lockName, force: true}`.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let body = json_object(request)?;
        let name = LockName::parse(required_str(&body, "lockName")?)?;
        let by = if optional_bool(&body, "force")?.unwrap_or(false) {
            if body.get("leaseId").is_some_and(|v| !v.is_null()) {
                return Err(ApiError::invalid("leaseId", "must not be given with force"));
            }
            UnlockBy::Force
        } else {
            UnlockBy::Lease(LeaseId::parse(required_str(&body, "leaseId")?)?)
        };
        Ok(Self { user, name, by })
    }
}

/// `POST /v0/lock/renew`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewRequest {
    /// The tenant, from the authorizer.
    pub user: UserId,
    /// The lock.
    pub name: LockName,
    /// The lease to extend.
    pub lease: LeaseId,
    /// New TTL from now; `None`: the lease's own.
    pub ttl: Option<LeaseTtl>,
}

impl RenewRequest {
    /// Parses a renew.
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let user = tenant(request)?;
        let body = json_object(request)?;
        Ok(Self {
            user,
            name: LockName::parse(required_str(&body, "lockName")?)?,
            lease: LeaseId::parse(required_str(&body, "leaseId")?)?,
            ttl: optional_u64(&body, "ttlSeconds")?
                .map(LeaseTtl::from_seconds)
                .transpose()?,
        })
    }
}

/// One line per bad input: each endpoint's parser refuses it with a message
/// that names the field (the handler tests show that a refused request
/// reaches neither the store nor DynamoDB).
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_http::request::RequestContext;
    use lambda_http::{Body, RequestExt};
    use serde_json::json;

    use super::*;

    const LEASE: &str = "550e8400-e29b-41d4-a716-446655440000";

    /// A request from a known tenant with `body` and `query`.
    fn request(body: Option<&str>, query: &[(&str, &str)]) -> Request {
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
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("/v0/lock")
            .body(body.map_or(Body::Empty, |text| Body::Text(text.to_owned())))
            .unwrap()
            .with_query_string_parameters(params)
            .with_request_context(RequestContext::ApiGatewayV1(context))
    }

    /// The message `parse` refuses `body` with.
    fn refusal<T: std::fmt::Debug>(
        parse: fn(&Request) -> Result<T, ApiError>,
        body: &str,
    ) -> String {
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
        let body =
            r#"{"lockName":"job","requester":"r","ttlSeconds":30,"waitSeconds":2,"extra":1}"#;
        let parsed = ACQUIRE(&request(Some(body), &[])).unwrap();
        assert_eq!(parsed.name.as_str(), "job");
        assert_eq!(parsed.ttl.map(LeaseTtl::millis), Some(30_000));
        assert_eq!(parsed.wait.duration().as_secs(), 2);
        let get = GetRequest::parse(&request(None, &[("lockName", "job")])).unwrap();
        assert_eq!(get.name.as_str(), "job");
        let force = UnlockRequest::parse(&request(Some(r#"{"lockName":"job","force":true}"#), &[]));
        assert_eq!(force.unwrap().by, UnlockBy::Force);
    }
}
