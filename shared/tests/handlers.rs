//! Handler tests: real API Gateway REST proxy events (payload 1.0, with the
//! authorizer's context) through each endpoint's handler, against dynalite.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use lock_service::endpoints::{self, dispatch, Acquirer, States};
use lock_service::lock_wire::Route;
use lock_service::store::{KeyStore, LockStore};
use lock_service::types::UserId;
use serde_json::{json, Value};
use testkit::{CallCounter, Engine, EngineKind, API_KEYS_TABLE, LOCKS_TABLE};

const FIXTURE: &str = include_str!("fixtures/rest-proxy-event.json");

struct Api {
    states: States,
    calls: CallCounter,
    _engine: Engine,
}

/// An answer: status, `Content-Type`, and the body as JSON.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn api() -> Api {
    let (engine, client, calls) = testkit::engine_with_tables(EngineKind::Dynalite).await;
    let locks = LockStore::new(client.clone(), LOCKS_TABLE);
    let acquirer = Acquirer {
        locks: locks.clone(),
        settings: Default::default(),
    };
    Api {
        states: States {
            acquirer,
            locks,
            keys: KeyStore::new(client, API_KEYS_TABLE),
        },
        calls,
        _engine: engine,
    }
}

/// The fixture event, re-aimed at `method path` for `user` with `body` and `query`.
fn event(
    method: &str,
    path: &str,
    user: Option<&UserId>,
    body: Option<&str>,
    query: &[(&str, &str)],
) -> Request {
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["resource"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["resourcePath"] = json!(path);
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    match user {
        Some(user) => {
            event["requestContext"]["authorizer"]["userId"] = json!(user);
            event["requestContext"]["authorizer"]["principalId"] = json!(user);
        }
        None => {
            event["requestContext"]
                .as_object_mut()
                .unwrap()
                .remove("authorizer");
        }
    }
    event["body"] = json!(body);
    if !query.is_empty() {
        let single: serde_json::Map<_, _> = query
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let mut multi = serde_json::Map::new();
        for (k, v) in query {
            multi
                .entry(k.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        event["queryStringParameters"] = Value::Object(single);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    lambda_http::request::from_str(&event.to_string()).expect("fixture is a valid REST proxy event")
}

impl Api {
    async fn call(&self, request: Request) -> Answer {
        // API Gateway routes on the raw path; the URI also carries the stage.
        let (method, path) = (
            request.method().to_string(),
            request.raw_http_path().to_owned(),
        );
        let route = Route::find(&method, &path)
            .unwrap_or_else(|| panic!("no route {method} {path} in the registry"));
        let response = dispatch(route, &self.states, request).await;
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let text = match response.body() {
            Body::Text(text) => text.clone(),
            other => panic!("expected a text body, got {other:?}"),
        };
        Answer {
            status: response.status(),
            content_type,
            body: serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
        }
    }

    async fn acquire(&self, user: &UserId, lock: &str, requester: &str) -> Answer {
        let body = json!({ "lockName": lock, "requester": requester }).to_string();
        self.call(event("POST", "/v0/lock", Some(user), Some(&body), &[]))
            .await
    }

    async fn unlock(&self, user: &UserId, lock: &str, lease: &str) -> Answer {
        let body = json!({ "lockName": lock, "leaseId": lease }).to_string();
        self.call(event("POST", "/v0/unlock", Some(user), Some(&body), &[]))
            .await
    }

    async fn get(&self, user: &UserId, lock: &str) -> Answer {
        self.call(event(
            "GET",
            "/v0/lock",
            Some(user),
            None,
            &[("lockName", lock)],
        ))
        .await
    }

    async fn list(&self, user: &UserId) -> Answer {
        self.call(event("GET", "/v0/locks", Some(user), None, &[]))
            .await
    }
}

fn assert_rfc3339_millis(value: &Value) {
    let text = value.as_str().expect("timestamp is a string");
    assert_eq!(text.len(), 24, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[19] == b'.', "{text}");
    humantime::parse_rfc3339(text).expect("valid RFC 3339");
}

#[tokio::test]
async fn the_reference_flow_answers_exactly_the_contract() {
    let api = api().await;

    let created = api
        .call(event("POST", "/v0/users/anonymous", None, None, &[]))
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.content_type, "application/json");
    let user_id = created.body["userId"].as_str().unwrap();
    let api_key = created.body["apiKey"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(api_key).unwrap().get_version_num(), 4);
    let user = UserId::parse(user_id).unwrap();

    let acquired = api.acquire(&user, "resource-123", "service-a").await;
    assert_eq!(acquired.status, StatusCode::OK);
    assert_eq!(acquired.content_type, "application/json");
    assert_eq!(acquired.body["locked"], true);
    assert_eq!(acquired.body["message"], "lock acquired");
    let lease = acquired.body["leaseId"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&lease).unwrap();

    let got = api.get(&user, "resource-123").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["lockName"], "resource-123");
    assert_eq!(got.body["locked"], true);
    assert_eq!(got.body["leaseId"], lease.as_str());
    assert_eq!(got.body["leasedBy"], "service-a");
    assert_rfc3339_millis(&got.body["createdAt"]);
    assert_rfc3339_millis(&got.body["updatedAt"]);
    let fields: Vec<_> = got.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields,
        [
            "createdAt",
            "fencingToken", // additive; no TTL was asked, so no expiresAt
            "leaseId",
            "leasedBy",
            "lockName",
            "locked",
            "updatedAt"
        ]
    );
    assert_eq!(got.body["fencingToken"], acquired.body["fencingToken"]);

    let listed = api.list(&user).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body, json!({ "locks": [got.body] }));

    let unlocked = api.unlock(&user, "resource-123", &lease).await;
    assert_eq!(unlocked.status, StatusCode::OK);
    assert_eq!(unlocked.body, json!({ "unlocked": true }));

    let after = api.get(&user, "resource-123").await;
    assert_eq!(after.body["locked"], false);
    assert_eq!(
        after.body["leaseId"],
        lease.as_str(),
        "a released lock shows its last lease"
    );
    assert_eq!(after.body["leasedBy"], "service-a");
}

#[tokio::test]
async fn contention_stale_leases_retries_and_unknown_locks() {
    let api = api().await;
    let user = UserId::generate();
    let first = api.acquire(&user, "l", "service-a").await;
    let first_lease = first.body["leaseId"].as_str().unwrap().to_owned();

    let refused = api.acquire(&user, "l", "service-a").await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(
        refused.body,
        json!({ "locked": false, "message": "lock is held by another lease" })
    );

    let stale = api
        .unlock(&user, "l", &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body["unlocked"], false);
    assert!(stale.body["message"].as_str().unwrap().contains("lease"));

    assert_eq!(
        api.unlock(&user, "l", &first_lease).await.body,
        json!({ "unlocked": true })
    );
    let retried = api.unlock(&user, "l", &first_lease).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(
        retried.body,
        json!({ "unlocked": true }),
        "retrying an unlock is safe"
    );

    let second = api.acquire(&user, "l", "service-b").await;
    assert_eq!(second.body["locked"], true);
    let late = api.unlock(&user, "l", &first_lease).await;
    assert_eq!(
        late.body["unlocked"], false,
        "an old lease cannot free the new holder's lock"
    );
    assert_eq!(
        api.get(&user, "l").await.body["leaseId"],
        second.body["leaseId"]
    );

    for answer in [
        api.get(&user, "never-created").await,
        api.unlock(&user, "never-created", &first_lease).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.body["message"], "lock not found");
        assert_eq!(answer.body["code"], "LOCK_NOT_FOUND");
    }
    assert_eq!(
        api.list(&UserId::generate()).await.body,
        json!({ "locks": [] })
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_base64_bodies_are_read() {
    let api = api().await;
    let user = UserId::generate();
    let body = r#"{"lockName":"x","requester":"r","futureField":{"a":[1,2]},"ttl":5}"#;
    let answer = api
        .call(event("POST", "/v0/lock", Some(&user), Some(body), &[]))
        .await;
    assert_eq!(answer.body["locked"], true);

    let mut raw: Value = serde_json::from_str(FIXTURE).unwrap();
    raw["requestContext"]["authorizer"]["userId"] = json!(user);
    raw["body"] = json!("eyJsb2NrTmFtZSI6InkiLCJyZXF1ZXN0ZXIiOiJyIn0="); // {"lockName":"y","requester":"r"}
    raw["isBase64Encoded"] = json!(true);
    let answer = api
        .call(lambda_http::request::from_str(&raw.to_string()).unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["locked"], true);
    assert_eq!(api.get(&user, "y").await.body["leasedBy"], "r");
}

/// Bad input on every route: a 4xx JSON error naming the problem, no
/// DynamoDB call, nothing written. (Every bad-input case of each parser has
/// its own line in `shared/src/requests.rs`; these prove the handlers refuse
/// before they touch the store.)
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let api = api().await;
    let user = UserId::generate();
    let big = format!(
        r#"{{"lockName":"x","requester":"{}"}}"#,
        "a".repeat(16 * 1024)
    );
    let (who, big) = (Some(&user), big.as_str());
    let cases = [
        (
            event("POST", "/v0/lock", who, Some("{not json"), &[]),
            400,
            "request body is not valid JSON",
        ),
        (
            event("POST", "/v0/lock", who, Some(big), &[]),
            413,
            "request body must be at most 16384 bytes",
        ),
        (
            event("POST", "/v0/users/anonymous", None, Some(big), &[]),
            413,
            "request body must be at most 16384 bytes",
        ),
        (
            event(
                "POST",
                "/v0/unlock",
                who,
                Some(r#"{"lockName":"x","leaseId":"abc"}"#),
                &[],
            ),
            400,
            "leaseId must be a UUID",
        ),
        (
            event(
                "POST",
                "/v0/lock/renew",
                who,
                Some(r#"{"lockName":"x"}"#),
                &[],
            ),
            400,
            "leaseId is required",
        ),
        (
            event("GET", "/v0/lock", who, None, &[("lockName", "")]),
            400,
            "lockName must not be blank",
        ),
        (
            event(
                "GET",
                "/v0/lock",
                who,
                None,
                &[("lockName", "a"), ("lockName", "b")],
            ),
            400,
            "lockName query parameter is given more than once",
        ),
    ];
    for (request, status, message) in cases {
        let route = format!("{} {}", request.method(), request.raw_http_path());
        let (answer, calls) = api.calls.during(api.call(request)).await;
        assert_eq!(answer.status.as_u16(), status, "{route}");
        assert_eq!(answer.content_type, "application/json");
        let text = answer.body["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{route}: {text:?}");
        assert!(answer.body["code"].is_string());
        assert_eq!(calls, 0, "bad input must not reach DynamoDB: {route}");
    }
    assert_eq!(
        api.list(&user).await.body,
        json!({ "locks": [] }),
        "nothing was written"
    );
}

#[tokio::test]
async fn leases_renew_force_release_and_idempotency_keys_over_http() {
    let api = api().await;
    let user = UserId::generate();
    let body = r#"{"lockName":"job","requester":"a","ttlSeconds":30}"#;
    let mut request = event("POST", "/v0/lock", Some(&user), Some(body), &[]);
    request
        .headers_mut()
        .insert("idempotency-key", "run-1".parse().unwrap());
    let first = api.call(request).await;
    assert_eq!(first.body["locked"], true);
    assert_rfc3339_millis(&first.body["expiresAt"]);
    assert!(first.body["fencingToken"].is_u64());

    // The same Idempotency-Key while that lease is live: the same lease back.
    let mut retry = event("POST", "/v0/lock", Some(&user), Some(body), &[]);
    retry
        .headers_mut()
        .insert("idempotency-key", "run-1".parse().unwrap());
    assert_eq!(api.call(retry).await.body, first.body);
    let mut bad_key = event("POST", "/v0/lock", Some(&user), Some(body), &[]);
    bad_key
        .headers_mut()
        .insert("idempotency-key", "has space".parse().unwrap());
    let refused = api.call(bad_key).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Idempotency-Key header"));

    let lease = first.body["leaseId"].as_str().unwrap();
    let renew = json!({ "lockName": "job", "leaseId": lease, "ttlSeconds": 60 }).to_string();
    let renewed = api
        .call(event(
            "POST",
            "/v0/lock/renew",
            Some(&user),
            Some(&renew),
            &[],
        ))
        .await;
    assert_eq!(renewed.body["renewed"], true);
    assert!(
        renewed.body["expiresAt"].as_str().unwrap() > first.body["expiresAt"].as_str().unwrap()
    );
    let got = api.get(&user, "job").await;
    assert_eq!(got.body["expiresAt"], renewed.body["expiresAt"]);
    assert_eq!(got.body["locked"], true);

    let stranger =
        json!({ "lockName": "job", "leaseId": uuid::Uuid::new_v4().to_string() }).to_string();
    let answer = api
        .call(event(
            "POST",
            "/v0/lock/renew",
            Some(&user),
            Some(&stranger),
            &[],
        ))
        .await;
    assert_eq!(answer.body["renewed"], false);
    assert!(answer.body["message"].is_string());
    let unknown = json!({ "lockName": "nope", "leaseId": lease }).to_string();
    assert_eq!(
        api.call(event(
            "POST",
            "/v0/lock/renew",
            Some(&user),
            Some(&unknown),
            &[]
        ))
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let force = r#"{"lockName":"job","force":true}"#;
    assert_eq!(
        api.call(event("POST", "/v0/unlock", Some(&user), Some(force), &[]))
            .await
            .body,
        json!({ "unlocked": true })
    );
    let after = api.get(&user, "job").await;
    assert_eq!(after.body["locked"], false);
    assert!(after.body.get("expiresAt").is_none());
    assert_eq!(
        api.unlock(&user, "job", lease).await.body["unlocked"],
        false,
        "the old lease is dead"
    );
    let next = api.acquire(&user, "job", "b").await;
    assert!(next.body["fencingToken"].as_u64() > first.body["fencingToken"].as_u64());
    let missing = api
        .call(event(
            "POST",
            "/v0/unlock",
            Some(&user),
            Some(r#"{"lockName":"none","force":true}"#),
            &[],
        ))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// A waiting acquire retries its one conditional write with backoff: the
/// number of writes is bounded, and each lost race costs what it costs on the
/// engine (here dynalite: a write plus one read, as it returns no old item);
/// waiting adds two writes, taking a waiting place and giving it back.
#[tokio::test]
async fn a_waiting_acquire_makes_a_bounded_number_of_calls() {
    let api = api().await;
    let user = UserId::generate();
    assert_eq!(
        api.acquire(&user, "busy", "holder").await.body["locked"],
        true
    );
    let body = r#"{"lockName":"busy","requester":"waiter","waitSeconds":2}"#;
    let started = std::time::Instant::now();
    let (answer, calls) = api
        .calls
        .during(api.call(event("POST", "/v0/lock", Some(&user), Some(body), &[])))
        .await;
    let waited = started.elapsed();
    assert_eq!(answer.body["locked"], false);
    assert!(waited >= std::time::Duration::from_secs(2), "{waited:?}");
    let attempts = (calls - 2) / 2;
    eprintln!("waitSeconds=2 on a held lock: {attempts} attempts, {calls} DynamoDB calls");
    assert_eq!(
        calls % 2,
        0,
        "each attempt is a write and a read on dynalite, plus the place's two writes"
    );
    assert!((3..=10).contains(&attempts), "{attempts} attempts in 2 s");
    assert!(attempts <= endpoints::MAX_WAIT_ATTEMPTS as usize);
}

#[tokio::test]
async fn requests_without_the_authorizers_user_are_refused() {
    let api = api().await;
    let body = r#"{"lockName":"x","requester":"r"}"#;
    let mut forged: Value = serde_json::from_str(FIXTURE).unwrap();
    forged["requestContext"]["authorizer"]["userId"] = json!("not-a-uuid");
    let requests = [
        event("POST", "/v0/lock", None, Some(body), &[]),
        event("GET", "/v0/lock", None, None, &[("lockName", "x")]),
        event("POST", "/v0/unlock", None, Some(body), &[]),
        event("GET", "/v0/locks", None, None, &[]),
        lambda_http::request::from_str(&forged.to_string()).unwrap(),
    ];
    for request in requests {
        let (answer, calls) = api.calls.during(api.call(request)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["message"], "Unauthorized");
        assert_eq!(calls, 0);
    }
}

#[tokio::test]
async fn the_tenant_comes_from_the_authorizer_never_from_the_request() {
    let api = api().await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let lease = api.acquire(&alice, "payroll", "a").await.body["leaseId"].clone();

    // Bob names Alice in the body, the query and a header: he still only sees his own partition.
    let body = json!({ "lockName": "payroll", "requester": "b", "userId": alice }).to_string();
    let mut request = event(
        "POST",
        "/v0/lock",
        Some(&bob),
        Some(&body),
        &[("userId", alice.as_str())],
    );
    request
        .headers_mut()
        .insert("x-user-id", alice.as_str().parse().unwrap());
    assert_eq!(
        api.call(request).await.body["locked"],
        true,
        "bob got his own lock of that name"
    );
    let steal = json!({ "lockName": "payroll", "leaseId": lease, "userId": alice }).to_string();
    let answer = api
        .call(event("POST", "/v0/unlock", Some(&bob), Some(&steal), &[]))
        .await;
    assert_eq!(answer.body["unlocked"], false);
    let alices = api.get(&alice, "payroll").await;
    assert_eq!(alices.body["locked"], true);
    assert_eq!(alices.body["leaseId"], lease);
    assert_eq!(
        api.list(&alice).await.body["locks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
