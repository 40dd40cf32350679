//! The one test client of the API over HTTP: raw enough to send anything
//! (forged headers, bad bodies), typed enough that a scenario reads as the
//! contract (`acquire`, `unlock`, `lock`, `locks`). Every answer must be
//! JSON, as every answer of the service and its gateway is.

use std::time::Duration;

use local_stack::Stack;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// A client of the API at `base`.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// An answer: status, headers, and the JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Api {
    /// A client of the API at `base`, giving up on a request after 60 s.
    pub fn new(base: &str) -> Self {
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// A client of the stack's gateway.
    pub fn of(stack: &Stack) -> Self {
        Self::new(&stack.base_url)
    }

    /// Sends `request`; the answer must be JSON with a JSON `Content-Type`.
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a body");
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text:?}"));
        assert_eq!(content_type, "application/json", "{status} {body}");
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `POST path`, with `key` as the bearer token if given.
    pub fn post(&self, path: &str, key: Option<&str>) -> RequestBuilder {
        self.with_key(self.http.post(format!("{}{path}", self.base)), key)
    }

    /// `GET path`, with `key` as the bearer token if given.
    pub fn get(&self, path: &str, key: Option<&str>) -> RequestBuilder {
        self.with_key(self.http.get(format!("{}{path}", self.base)), key)
    }

    fn with_key(&self, request: RequestBuilder, key: Option<&str>) -> RequestBuilder {
        match key {
            Some(key) => request.header("Authorization", format!("Bearer {key}")),
            None => request,
        }
    }

    /// `POST path` of `body` with `key`.
    pub async fn post_json(&self, path: &str, key: &str, body: Value) -> Answer {
        self.send(self.post(path, Some(key)).json(&body)).await
    }

    /// A new user: (userId, apiKey).
    pub async fn new_user(&self) -> (String, String) {
        let answer = self.send(self.post("/v0/users/anonymous", None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let field = |name: &str| answer.body[name].as_str().unwrap().to_owned();
        (field("userId"), field("apiKey"))
    }

    /// A try-acquire of `lock` for `requester`.
    pub async fn acquire(&self, key: &str, lock: &str, requester: &str) -> Answer {
        let body = json!({ "lockName": lock, "requester": requester });
        self.post_json("/v0/lock", key, body).await
    }

    /// An acquire with extra fields (`ttlSeconds`, `waitSeconds`, ...).
    pub async fn acquire_with(&self, key: &str, body: Value) -> Answer {
        self.post_json("/v0/lock", key, body).await
    }

    /// An acquire of `lock` for `key` that may wait `seconds`.
    pub async fn wait_for(&self, key: &str, lock: &str, seconds: u64) -> Answer {
        let body = json!({ "lockName": lock, "requester": "waiter", "waitSeconds": seconds });
        self.acquire_with(key, body).await
    }

    pub async fn unlock(&self, key: &str, lock: &str, lease: &str) -> Answer {
        let body = json!({ "lockName": lock, "leaseId": lease });
        self.post_json("/v0/unlock", key, body).await
    }

    /// `GET /v0/lock?lockName=lock`.
    pub async fn lock(&self, key: &str, lock: &str) -> Answer {
        self.send(self.get("/v0/lock", Some(key)).query(&[("lockName", lock)]))
            .await
    }

    /// `GET /v0/locks` (the first page).
    pub async fn locks(&self, key: &str) -> Answer {
        self.send(self.get("/v0/locks", Some(key))).await
    }

    /// The names on the first page of the user's locks.
    pub async fn names(&self, key: &str) -> Vec<String> {
        let list = self.locks(key).await.body;
        let locks = list["locks"].as_array().expect("a list of locks");
        locks
            .iter()
            .map(|l| l["lockName"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Sends `per_route` requests at once to every route, so that many
    /// processes of each function have started before a scenario times
    /// anything (a first `cargo run` takes seconds on a cold machine).
    pub async fn warm_up(&self, stack: &Stack, per_route: usize) {
        for route in &stack.template.routes {
            // A user per route: warming rotate or revoke ends the key it used.
            let (_, key) = self.new_user().await;
            let url = format!("{}{}", self.base, route.path);
            let started: Vec<_> = (0..per_route)
                .map(|_| {
                    let request = self.http.request(route.method.parse().unwrap(), &url);
                    tokio::spawn(request.bearer_auth(&key).send())
                })
                .collect();
            for request in started {
                // Whatever it answers: it only starts a function.
                let _ = request.await;
            }
        }
    }
}

/// The lease of a granted acquire.
pub fn lease_of(answer: &Answer) -> String {
    assert_eq!(answer.body["locked"], true, "{answer:?}");
    answer.body["leaseId"].as_str().unwrap().to_owned()
}
