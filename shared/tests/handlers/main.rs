//! Handler tests: real API Gateway REST proxy events (payload 1.0, with the
//! authorizer's context) through each endpoint's handler, against dynalite.

mod contract;
mod leases;
mod metrics;
mod refusals;
mod routes;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
use lock_service::endpoints::{dispatch, Acquirer, States};
use lock_service::lock_wire::Route;
use lock_service::store::{KeyStore, LockStore};
use lock_service::types::UserId;
use serde_json::{json, Value};
use testkit::{CallCounter, Engine, EngineKind, API_KEYS_TABLE, LOCKS_TABLE};

const FIXTURE: &str = include_str!("../fixtures/rest-proxy-event.json");

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
    request_of(&event_json(method, path, user, body, query))
}

/// A request of a REST proxy event.
fn request_of(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("fixture is a valid REST proxy event")
}

/// [`event`] as JSON, to change further.
fn event_json(
    method: &str,
    path: &str,
    user: Option<&UserId>,
    body: Option<&str>,
    query: &[(&str, &str)],
) -> Value {
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
    event
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

    /// `POST path` for `user` with `body`.
    async fn post(&self, user: &UserId, path: &str, body: &str) -> Answer {
        self.call(event("POST", path, Some(user), Some(body), &[]))
            .await
    }

    async fn acquire(&self, user: &UserId, lock: &str, requester: &str) -> Answer {
        let body = json!({ "lockName": lock, "requester": requester }).to_string();
        self.call(event("POST", "/v0/lock", Some(user), Some(&body), &[]))
            .await
    }

    /// `POST /v0/semaphore` for one of `permits` permits of `semaphore`.
    async fn acquire_permit(&self, user: &UserId, semaphore: &str, permits: u8) -> Answer {
        let body = json!({ "semaphoreName": semaphore, "requester": "r", "permits": permits });
        self.post(user, "/v0/semaphore", &body.to_string()).await
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
