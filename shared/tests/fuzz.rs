//! Property tests over everything a client controls: request bodies, query
//! strings and headers of every endpoint, and the authorizer's header
//! parsing. Whatever arrives, parsing never panics, refuses with a 4xx, and
//! whatever it accepts is valid. 10 000 cases per property.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use lock_service::endpoints::{
    Acquire, DeleteLock, Endpoint, GetLock, ListLocks, Renew, RevokeKey, RevokeOtherKeys,
    RotateKey, SignUp, Unlock,
};
use lock_service::error::ApiError;
use lock_service::input::{Json, Query};
use lock_service::keys::ApiKey;
use lock_service::types::{LeaseTtl, MAX_LABEL_BYTES};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const CASES: u32 = 10_000;
const FIELDS: &[&str] = &[
    "lockName",
    "requester",
    "leaseId",
    "ttlSeconds",
    "waitSeconds",
    "force",
    "userId",
];

/// Any JSON value, shallow and biased towards the shapes fields take.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (0u64..100_000).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,300}".prop_map(Value::String),
        "[a-z0-9-]{1,40}".prop_map(Value::String),
        Just(json!(uuid::Uuid::new_v4().to_string())),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request body: a JSON object over the known fields, any JSON, any text, or any bytes.
fn body() -> impl Strategy<Value = Body> {
    let object = prop::collection::btree_map(prop::sample::select(FIELDS), json_value(), 0..7)
        .prop_map(|fields| {
            let object: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            Body::Text(Value::Object(object).to_string())
        });
    prop_oneof![
        4 => object,
        1 => json_value().prop_map(|v| Body::Text(v.to_string())),
        1 => ".{0,200}".prop_map(Body::Text),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Binary),
        1 => (16_300usize..16_500).prop_map(|n| Body::Text(format!("{{\"lockName\":\"{}\"}}", "x".repeat(n)))),
        1 => Just(Body::Empty),
    ]
}

/// A REST proxy request with `body`, a query, an optional `Idempotency-Key`,
/// and the authorizer's `userId` (or anything else in its place).
fn request(
    body: Body,
    query: Vec<(String, String)>,
    key: Option<Vec<u8>>,
    user: Option<String>,
) -> Request {
    let mut context = aws_lambda_events::apigw::ApiGatewayProxyRequestContext::default();
    if let Some(user) = user {
        context
            .authorizer
            .fields
            .insert("userId".into(), json!(user));
    }
    let mut request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v0/lock");
    if let Some(key) = key {
        if let Ok(value) = lambda_http::http::HeaderValue::from_bytes(&key) {
            request = request.header("idempotency-key", value);
        }
    }
    let query: std::collections::HashMap<String, Vec<String>> =
        query
            .into_iter()
            .fold(Default::default(), |mut map, (k, v)| {
                map.entry(k).or_default().push(v);
                map
            });
    request
        .body(body)
        .unwrap()
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV1(context))
}

fn user() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(Some(uuid::Uuid::new_v4().to_string())),
        1 => Just(None),
        1 => ".{0,40}".prop_map(Some),
    ]
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("lockName".to_owned()),
                Just("limit".to_owned()),
                Just("cursor".to_owned()),
                ".{0,10}"
            ],
            ".{0,300}",
        ),
        0..3,
    )
}

fn refused_with_4xx(err: &ApiError) -> bool {
    matches!(err.status().as_u16(), 400 | 401 | 413) && !err.to_string().is_empty()
}

fn valid_label(label: &str) -> bool {
    !label.trim().is_empty()
        && label.len() <= MAX_LABEL_BYTES
        && !label.chars().any(char::is_control)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn acquire_parsing_accepts_only_valid_requests(
        body in body(), key in prop::option::of(prop::collection::vec(any::<u8>(), 0..300)), user in user()
    ) {
        match Acquire::parse(&request(body, vec![], key, user)) {
            Ok(parsed) => {
                let parsed = parsed.request;
                prop_assert!(valid_label(parsed.lock_name.as_str()));
                prop_assert!(valid_label(parsed.requester.as_str()));
                prop_assert!(parsed.wait_seconds.is_none_or(|w| w.duration().as_secs() <= 20));
                prop_assert!(parsed.ttl_seconds.is_none_or(|t| (1000..=LeaseTtl::MAX_SECONDS * 1000).contains(&t.millis())));
            }
            Err(err) => prop_assert!(refused_with_4xx(&err), "{err:?}"),
        }
    }

    #[test]
    fn unlock_and_renew_parsing_accept_only_valid_requests(body in body(), user in user()) {
        let unlock = Unlock::parse(&request(body.clone(), vec![], None, user.clone()));
        match unlock {
            Ok((_, name, _)) => prop_assert!(valid_label(name.as_str())),
            Err(err) => prop_assert!(refused_with_4xx(&err), "{err:?}"),
        }
        match Renew::parse(&request(body, vec![], None, user)) {
            Ok((_, Json(parsed))) => {
                prop_assert!(valid_label(parsed.lock_name.as_str()));
                prop_assert!(uuid::Uuid::parse_str(parsed.lease_id.as_str()).is_ok());
            }
            Err(err) => prop_assert!(refused_with_4xx(&err), "{err:?}"),
        }
    }

    #[test]
    fn get_parsing_accepts_only_valid_requests(query in query(), user in user()) {
        match GetLock::parse(&request(Body::Empty, query, None, user)) {
            Ok((_, Query(parsed))) => prop_assert!(valid_label(parsed.lock_name.as_str())),
            Err(err) => prop_assert!(refused_with_4xx(&err), "{err:?}"),
        }
    }

    #[test]
    fn every_endpoints_parsing_refuses_with_a_4xx_or_accepts(
        body in body(), query in query(), user in user()
    ) {
        fn check<E: Endpoint>(request: &Request) -> Result<(), TestCaseError> {
            if let Err(err) = E::parse(request) {
                prop_assert!(refused_with_4xx(&err), "{}: {err:?}", E::ROUTE.path());
            }
            Ok(())
        }
        let request = request(body, query, None, user);
        check::<SignUp>(&request)?;
        check::<RotateKey>(&request)?;
        check::<RevokeKey>(&request)?;
        check::<RevokeOtherKeys>(&request)?;
        check::<Acquire>(&request)?;
        check::<GetLock>(&request)?;
        check::<Unlock>(&request)?;
        check::<Renew>(&request)?;
        check::<DeleteLock>(&request)?;
        check::<ListLocks>(&request)?;
    }

    #[test]
    fn every_error_answer_is_json_with_a_message(body in body(), user in user()) {
        if let Err(err) = Acquire::parse(&request(body, vec![], None, user)) {
            let response = lock_service::http::error(&err);
            prop_assert_eq!(response.status(), err.status());
            prop_assert_eq!(&response.headers()["content-type"], "application/json");
            let Body::Text(text) = response.body() else { panic!("text body") };
            let answer: Value = serde_json::from_str(text).unwrap();
            prop_assert!(answer["message"].is_string() && answer["code"].is_string());
        }
    }

    #[test]
    fn the_authorizer_reads_keys_only_from_bearer_uuids(header in prop_oneof![
        ".{0,600}",
        "(?i:bearer) {1,3}[0-9a-fA-F-]{30,40}",
        Just(format!("Bearer {}", uuid::Uuid::new_v4())),
    ]) {
        if let Some(key) = ApiKey::from_authorization(&header) {
            let (scheme, token) = header.trim().split_once(' ').unwrap();
            prop_assert!(scheme.eq_ignore_ascii_case("bearer"));
            prop_assert!(uuid::Uuid::parse_str(token.trim()).is_ok());
            prop_assert_eq!(key.hash().as_str().len(), 64);
        }
    }
}
