//! Leases over HTTP: renew, force release, Idempotency-Key, and waiting.

use lambda_http::http::StatusCode;
use lock_service::types::UserId;
use serde_json::json;

use super::{api, event};
use lock_service::endpoints;

use super::assert_rfc3339_millis;

/// An acquire with `Idempotency-Key: key` for `user`.
fn keyed_acquire(user: &UserId, body: &str, key: &str) -> lambda_http::Request {
    let mut request = event("POST", "/v0/lock", Some(user), Some(body), &[]);
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

#[tokio::test]
async fn leases_renew_and_idempotency_keys_over_http() {
    let api = api().await;
    let user = UserId::generate();
    let body = r#"{"lockName":"job","requester":"a","ttlSeconds":30}"#;
    let first = api.call(keyed_acquire(&user, body, "run-1")).await;
    assert_eq!(first.body["locked"], true);
    assert_rfc3339_millis(&first.body["expiresAt"]);
    assert!(first.body["fencingToken"].is_u64());

    // The same Idempotency-Key while that lease is live: the same lease back.
    let retry = api.call(keyed_acquire(&user, body, "run-1")).await;
    assert_eq!(retry.body, first.body);
    let refused = api.call(keyed_acquire(&user, body, "has space")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Idempotency-Key header"));

    let lease = first.body["leaseId"].as_str().unwrap();
    let renew = json!({ "lockName": "job", "leaseId": lease, "ttlSeconds": 60 }).to_string();
    let renewed = api.post(&user, "/v0/lock/renew", &renew).await;
    assert_eq!(renewed.body["renewed"], true);
    assert!(
        renewed.body["expiresAt"].as_str().unwrap() > first.body["expiresAt"].as_str().unwrap()
    );
    let got = api.get(&user, "job").await;
    assert_eq!(got.body["expiresAt"], renewed.body["expiresAt"]);
    assert_eq!(got.body["locked"], true);

    let stranger =
        json!({ "lockName": "job", "leaseId": uuid::Uuid::new_v4().to_string() }).to_string();
    let answer = api.post(&user, "/v0/lock/renew", &stranger).await;
    assert_eq!(answer.body["renewed"], false);
    assert!(answer.body["message"].is_string());
    let unknown = json!({ "lockName": "nope", "leaseId": lease }).to_string();
    let answer = api.post(&user, "/v0/lock/renew", &unknown).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn force_release_over_http_fences_the_old_lease() {
    let api = api().await;
    let user = UserId::generate();
    let body = r#"{"lockName":"job","requester":"a","ttlSeconds":30}"#;
    let first = api.post(&user, "/v0/lock", body).await;
    let lease = first.body["leaseId"].as_str().unwrap();

    let force = r#"{"lockName":"job","force":true}"#;
    assert_eq!(
        api.post(&user, "/v0/unlock", force).await.body,
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
    let missing = r#"{"lockName":"none","force":true}"#;
    let answer = api.post(&user, "/v0/unlock", missing).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
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
    let (answer, calls) = api.calls.during(api.post(&user, "/v0/lock", body)).await;
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
