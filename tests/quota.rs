//! The lock quota over HTTP, through a local stack of its own whose acquire
//! function runs with `MAX_LOCKS_PER_USER=5`: 16 simultaneous new names at
//! quota - 1 admit exactly one; beyond the quota a new name is a 403 that
//! writes nothing, an existing name is still granted; `POST /v0/lock/delete`
//! frees a slot (409 while held, 404 if never created); the quota is per
//! tenant.

use std::time::Duration;

use local_stack::{Stack, StackOptions};
use serde_json::{json, Value};

const QUOTA: usize = 5;

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
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

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_holds_over_http() {
    let options = StackOptions {
        function_env: vec![("MAX_LOCKS_PER_USER".into(), QUOTA.to_string())],
        ..StackOptions::default()
    };
    let stack = Stack::start(options)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let api = std::sync::Arc::new(Api {
        base: stack.base_url.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    });
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
