//! The per-user limits over HTTP, through a local stack of its own whose
//! acquire function runs with `MAX_LOCKS_PER_USER=5` and
//! `MAX_WAITING_PER_USER=2`.
//!
//! - The quota: 16 simultaneous new names at quota - 1 admit exactly one;
//!   beyond the quota a new name is a 403 that writes nothing, an existing
//!   name is still granted; `POST /v0/lock/delete` frees a slot (409 while
//!   held, 404 if never created); the quota is per tenant.
//! - Waiting: with two acquires of a user waiting, a third is a 429 at once
//!   with `Retry-After`; a try-acquire is never refused by it; another user
//!   waits as usual; once the waits end, their places are free again.

use std::time::{Duration, Instant};

use std::sync::Arc;

use local_stack::{Stack, StackOptions};
use serde_json::{json, Value};

const QUOTA: usize = 5;
const WAITING: usize = 2;

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let (status, body, _) = self.post_with_headers(path, key, body).await;
        (status, body)
    }

    async fn post_with_headers(
        &self,
        path: &str,
        key: &str,
        body: Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, response.json().await.unwrap(), headers)
    }

    /// An acquire of `lock` that may wait `seconds`.
    async fn wait_for(
        &self,
        key: &str,
        lock: &str,
        seconds: u64,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let body = json!({ "lockName": lock, "requester": "waiter", "waitSeconds": seconds });
        self.post_with_headers("/v0/lock", key, body).await
    }

    async fn acquire(&self, key: &str, lock: &str) -> (u16, Value) {
        let body = json!({ "lockName": lock, "requester": "quota-test" });
        self.post("/v0/lock", key, body).await
    }

    async fn names(&self, key: &str) -> Vec<String> {
        let response = self
            .http
            .get(format!("{}/v0/locks", self.base))
            .bearer_auth(key);
        let list: Value = response.send().await.unwrap().json().await.unwrap();
        let locks = list["locks"].as_array().unwrap();
        locks
            .iter()
            .map(|l| l["lockName"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Both limits on one stack, one after the other (a stack's gateway lives
/// on the runtime of the test that started it).
#[tokio::test(flavor = "multi_thread")]
async fn the_limits_hold_over_http() {
    let options = StackOptions {
        function_env: vec![
            ("MAX_LOCKS_PER_USER".into(), QUOTA.to_string()),
            ("MAX_WAITING_PER_USER".into(), WAITING.to_string()),
        ],
        ..StackOptions::default()
    };
    let stack = Stack::start(options)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let api = Arc::new(Api {
        base: stack.base_url.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    });
    the_quota_holds(&stack, &api).await;
    waiting_is_limited_per_user(&stack, &api).await;
}

async fn the_quota_holds(stack: &Stack, api: &Arc<Api>) {
    let key = stack.new_api_key().await.unwrap();
    for n in 0..QUOTA - 1 {
        assert_eq!(api.acquire(&key, &format!("held-{n}")).await.0, 200);
    }

    let racers: Vec<_> = (0..16)
        .map(|n| {
            let (api, key) = (api.clone(), key.clone());
            tokio::spawn(async move { api.acquire(&key, &format!("racer-{n:02}")).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        let (status, body) = racer.await.unwrap();
        if status == 403 {
            assert_eq!(body["code"], "LOCK_QUOTA_EXCEEDED", "{body}");
        }
        statuses.push(status);
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [[200].as_slice(), &[403; 15]].concat(),
        "exactly one admitted"
    );
    assert_eq!(api.names(&key).await.len(), QUOTA);

    // At the quota: a new name writes nothing; an existing one is granted.
    let (status, body) = api.acquire(&key, "one-too-many").await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("LOCK_QUOTA_EXCEEDED"))
    );
    assert!(!api.names(&key).await.contains(&"one-too-many".to_owned()));
    let (status, held) = api.acquire(&key, "held-0").await;
    assert_eq!(
        (status, &held["locked"]),
        (200, &json!(false)),
        "held, not refused"
    );

    // Delete: 409 while held, 404 when never created, then a free slot.
    let delete = |lock: &str| json!({ "lockName": lock });
    let (status, body) = api.post("/v0/lock/delete", &key, delete("held-0")).await;
    assert_eq!((status, &body["code"]), (409, &json!("LOCK_HELD")));
    let (status, _) = api.post("/v0/lock/delete", &key, delete("never")).await;
    assert_eq!(status, 404);
    let lock = api
        .http
        .get(format!("{}/v0/lock?lockName=held-0", api.base))
        .bearer_auth(&key);
    let lease: Value = lock.send().await.unwrap().json().await.unwrap();
    let unlock = json!({ "lockName": "held-0", "leaseId": lease["leaseId"] });
    assert_eq!(api.post("/v0/unlock", &key, unlock).await.0, 200);
    let (status, body) = api.post("/v0/lock/delete", &key, delete("held-0")).await;
    assert_eq!((status, body), (200, json!({ "deleted": true })));
    let (status, granted) = api.acquire(&key, "one-more").await;
    assert_eq!(
        (status, &granted["locked"]),
        (200, &json!(true)),
        "the slot is free"
    );
    let (status, recreated) = api.acquire(&key, "held-0").await;
    assert_eq!(status, 403, "full again: {recreated}");

    // Another tenant has a quota of its own.
    let other = stack.new_api_key().await.unwrap();
    assert_eq!(api.acquire(&other, "held-0").await.0, 200);
    assert_eq!(api.names(&other).await, ["held-0"]);
}

async fn waiting_is_limited_per_user(stack: &Stack, api: &Arc<Api>) {
    let key = stack.new_api_key().await.unwrap();
    assert_eq!(api.acquire(&key, "busy").await.1["locked"], true);
    let waiters: Vec<_> = (0..WAITING)
        .map(|_| {
            let (api, key) = (api.clone(), key.clone());
            tokio::spawn(async move { api.wait_for(&key, "busy", 5).await })
        })
        .collect();
    // Each takes its place right after its first refused attempt.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let (status, body, headers) = api.wait_for(&key, "busy", 5).await;
    let answered_in = started.elapsed();
    assert_eq!(
        (status, &body["code"]),
        (429, &json!("THROTTLED")),
        "{body}"
    );
    assert!(
        answered_in < Duration::from_secs(1),
        "answered in {answered_in:?}"
    );
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&format!("{WAITING} waiting")), "{message}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    // A try-acquire is never refused for waiting.
    let (status, tried) = api.acquire(&key, "busy").await;
    assert_eq!((status, &tried["locked"]), (200, &json!(false)));
    // Another user waits as usual, and its free lock is granted at once.
    let other = stack.new_api_key().await.unwrap();
    assert_eq!(api.acquire(&other, "its-own").await.1["locked"], true);
    let (status, waited, _) = api.wait_for(&other, "its-own", 1).await;
    assert_eq!(
        (status, &waited["locked"]),
        (200, &json!(false)),
        "{waited}"
    );
    assert_eq!(api.acquire(&other, "free").await.1["locked"], true);
    // The waits end (held all along): the places are free again.
    for waiter in waiters {
        let (status, body, _) = waiter.await.unwrap();
        assert_eq!((status, &body["locked"]), (200, &json!(false)), "{body}");
    }
    let (status, body, _) = api.wait_for(&key, "busy", 1).await;
    assert_eq!((status, &body["locked"]), (200, &json!(false)), "{body}");
}
