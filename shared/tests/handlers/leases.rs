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

/// A waiting acquire looks with reads and writes only to reserve or take
/// the lock: a 2 s wait on a lock held throughout is its first refused
/// write (and, on dynalite, the read of the old item), the waiting place's
/// two writes, a read every 50–70 ms, a reservation renewed about every
/// second, and its withdrawal at the end: which leaves the lock as it was.
#[tokio::test]
async fn a_waiting_acquire_reads_and_reserves_a_bounded_number_of_times() {
    let api = api().await;
    let user = UserId::generate();
    let held = api.acquire(&user, "busy", "holder").await.body;
    assert_eq!(held["locked"], true);
    let body = r#"{"lockName":"busy","requester":"waiter","waitSeconds":2}"#;
    let started = std::time::Instant::now();
    let (answer, calls) = api.calls.during(api.post(&user, "/v0/lock", body)).await;
    let waited = started.elapsed();
    assert_eq!(answer.body["locked"], false);
    assert_eq!(answer.body["message"], "lock is held by another lease");
    assert!(waited >= std::time::Duration::from_secs(2), "{waited:?}");
    eprintln!("waitSeconds=2 on a held lock: {calls} DynamoDB calls");
    // 2 + 2 + (2 s / 70 ms .. 2 s / 50 ms reads) + 2..3 reservations + 1.
    assert!((30..=50).contains(&calls), "{calls} calls in 2 s");
    assert!(calls <= endpoints::MAX_LOOKS as usize);
    let after = api.get(&user, "busy").await.body;
    assert_eq!(after["leaseId"], held["leaseId"]);
    assert_eq!(
        after.get("reservedUntil"),
        None,
        "the reservation was withdrawn"
    );
}

/// A free lock that a waiting acquire reserved refuses a try-acquire with
/// the reservation's end (as `expiresAt` and `reservedUntil`), and
/// `GET /v0/lock` shows it while it stands; a waiter that vanished delays
/// the next acquire by the reservation's life at most.
#[tokio::test]
async fn a_reservation_refuses_a_try_acquire_and_shows_until_it_lapses() {
    let api = api().await;
    let user = UserId::generate();
    let held = api.acquire(&user, "job", "holder").await.body;
    let lease = held["leaseId"].as_str().unwrap().to_owned();
    let name = lock_service::types::LockName::parse("job").unwrap();
    let vanished = lock_service::types::LeaseId::generate();
    let now = lock_service::types::Timestamp::now();
    let booking = lock_service::store::Booking {
        lease: &vanished,
        since: now,
        now,
    };
    let locks = &api.states.locks;
    assert!(locks.reserve_lock(&user, &name, &booking).await.unwrap());
    assert_eq!(
        api.unlock(&user, "job", &lease).await.body["unlocked"],
        true
    );

    let refused = api.acquire(&user, "job", "other").await;
    assert_eq!(refused.status, StatusCode::OK);
    let until = booking.until().to_string();
    assert_eq!(
        refused.body,
        json!({
            "locked": false,
            "message": "lock is reserved for a client that has waited longer",
            "expiresAt": until,
            "reservedUntil": until,
        })
    );
    let shown = api.get(&user, "job").await.body;
    assert_eq!(
        (shown["locked"].clone(), shown["reservedUntil"].clone()),
        (json!(false), json!(until))
    );

    tokio::time::sleep(lock_service::store::reservations::RESERVATION).await;
    let taken = api.acquire(&user, "job", "other").await.body;
    assert_eq!(
        taken["locked"], true,
        "the reservation lapsed by itself: {taken}"
    );
    assert_eq!(api.get(&user, "job").await.body.get("reservedUntil"), None);
}
