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
use serde_json::json;
use testkit::api::{Answer, Api};

const QUOTA: usize = 5;
const WAITING: usize = 2;

/// A try-acquire of `lock` for `key`.
async fn acquire(api: &Api, key: &str, lock: &str) -> Answer {
    api.acquire(key, lock, "quota-test").await
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
    let api = Arc::new(Api::of(&stack));
    the_quota_holds(&stack, &api).await;
    waiting_is_limited_per_user(&stack, &api).await;
}

async fn the_quota_holds(stack: &Stack, api: &Arc<Api>) {
    let key = stack.new_api_key().await.unwrap();
    for n in 0..QUOTA - 1 {
        assert_eq!(acquire(api, &key, &format!("held-{n}")).await.status, 200);
    }

    let racers: Vec<_> = (0..16)
        .map(|n| {
            let (api, key) = (api.clone(), key.clone());
            let lock = format!("racer-{n:02}");
            tokio::spawn(async move { acquire(&api, &key, &lock).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        let answer = racer.await.unwrap();
        if answer.status == 403 {
            assert_eq!(answer.body["code"], "LOCK_QUOTA_EXCEEDED", "{answer:?}");
        }
        statuses.push(answer.status.as_u16());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [[200].as_slice(), &[403; 15]].concat(),
        "exactly one admitted"
    );
    assert_eq!(api.names(&key).await.len(), QUOTA);

    // At the quota: a new name writes nothing; an existing one is granted.
    let refused = acquire(api, &key, "one-too-many").await;
    assert_eq!(
        (refused.status.as_u16(), &refused.body["code"]),
        (403, &json!("LOCK_QUOTA_EXCEEDED"))
    );
    assert!(!api.names(&key).await.contains(&"one-too-many".to_owned()));
    let held = acquire(api, &key, "held-0").await;
    assert_eq!(
        (held.status.as_u16(), &held.body["locked"]),
        (200, &json!(false)),
        "held, not refused"
    );
    deleting_frees_a_place(api, &key).await;

    // Another tenant has a quota of its own.
    let other = stack.new_api_key().await.unwrap();
    assert_eq!(acquire(api, &other, "held-0").await.status, 200);
    assert_eq!(api.names(&other).await, ["held-0"]);
}

/// Delete: 409 while held, 404 when never created, then a free place.
async fn deleting_frees_a_place(api: &Api, key: &str) {
    let delete = |lock: &str| json!({ "lockName": lock });
    let held = api
        .post_json("/v0/lock/delete", key, delete("held-0"))
        .await;
    assert_eq!(
        (held.status.as_u16(), &held.body["code"]),
        (409, &json!("LOCK_HELD"))
    );
    let never = api.post_json("/v0/lock/delete", key, delete("never")).await;
    assert_eq!(never.status, 404);
    let lease = api.lock(key, "held-0").await.body["leaseId"].clone();
    let unlock = json!({ "lockName": "held-0", "leaseId": lease });
    assert_eq!(api.post_json("/v0/unlock", key, unlock).await.status, 200);
    let deleted = api
        .post_json("/v0/lock/delete", key, delete("held-0"))
        .await;
    assert_eq!(
        (deleted.status.as_u16(), deleted.body),
        (200, json!({ "deleted": true }))
    );
    let granted = acquire(api, key, "one-more").await;
    assert_eq!(
        (granted.status.as_u16(), &granted.body["locked"]),
        (200, &json!(true)),
        "the slot is free"
    );
    let recreated = acquire(api, key, "held-0").await;
    assert_eq!(recreated.status, 403, "full again: {recreated:?}");
}

async fn waiting_is_limited_per_user(stack: &Stack, api: &Arc<Api>) {
    let key = stack.new_api_key().await.unwrap();
    assert_eq!(acquire(api, &key, "busy").await.body["locked"], true);
    let waiters: Vec<_> = (0..WAITING)
        .map(|_| {
            let (api, key) = (api.clone(), key.clone());
            tokio::spawn(async move { api.wait_for(&key, "busy", 5).await })
        })
        .collect();
    // Each takes its place right after its first refused attempt.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let Answer {
        status,
        headers,
        body,
    } = api.wait_for(&key, "busy", 5).await;
    let answered_in = started.elapsed();
    assert_eq!(
        (status.as_u16(), &body["code"]),
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
    let tried = acquire(api, &key, "busy").await;
    assert_eq!(
        (tried.status.as_u16(), &tried.body["locked"]),
        (200, &json!(false))
    );
    // Another user waits as usual, and its free lock is granted at once.
    let other = stack.new_api_key().await.unwrap();
    assert_eq!(acquire(api, &other, "its-own").await.body["locked"], true);
    let waited = api.wait_for(&other, "its-own", 1).await;
    assert_eq!(
        (waited.status.as_u16(), &waited.body["locked"]),
        (200, &json!(false)),
        "{waited:?}"
    );
    assert_eq!(acquire(api, &other, "free").await.body["locked"], true);
    // The waits end (held all along): the places are free again.
    for waiter in waiters {
        let answer = waiter.await.unwrap();
        assert_eq!(
            (answer.status.as_u16(), &answer.body["locked"]),
            (200, &json!(false)),
            "{answer:?}"
        );
    }
    let answer = api.wait_for(&key, "busy", 1).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body["locked"]),
        (200, &json!(false)),
        "{answer:?}"
    );
}
