//! Waiting acquires: granted when the holder unlocks or its lease ends,
//! refused when the wait ends, each on its own clock.

use std::time::{Duration, Instant};

use lock_client::AcquireOptions;
use reqwest::StatusCode;
use serde_json::json;
use testkit::api::{lease_of, Api};

use super::{as_requester, new_client};

/// A waiter is granted as soon as the holder unlocks mid-wait.
pub async fn waiter_granted_when_holder_unlocks(api: Api) {
    let client = new_client(&api).await;
    let holder = client
        .acquire("queue", &as_requester("holder".into()))
        .await
        .unwrap();
    let holder_token = holder.fencing_token();
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let options = AcquireOptions {
                wait: Duration::from_secs(15),
                ..as_requester("waiter".into())
            };
            (client.acquire("queue", &options).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(holder.release().await.unwrap());
    let (granted, waited) = waiter.await.unwrap();
    assert!(granted.unwrap().fencing_token() > holder_token);
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

/// A waiter is granted when the holder's lease expires mid-wait; a renewed
/// lease keeps it out until then.
pub async fn waiter_granted_when_lease_expires(api: Api) {
    let (_, key) = api.new_user().await;
    // The first call of a function starts its process (seconds on a cold
    // machine); start renew's now, so the lease timings below are the lock's.
    let unknown = json!({ "lockName": "nothing-yet", "leaseId": uuid::Uuid::new_v4().to_string() });
    let warm = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&unknown))
        .await;
    assert_eq!(warm.status, StatusCode::NOT_FOUND);

    let holder = api
        .acquire_with(
            &key,
            json!({ "lockName": "lease", "requester": "h", "ttlSeconds": 2 }),
        )
        .await;
    let lease = lease_of(&holder);
    assert!(holder.body["expiresAt"].is_string());
    let renew = json!({ "lockName": "lease", "leaseId": lease, "ttlSeconds": 3 });
    let renewed = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&renew))
        .await;
    let renewed_at = Instant::now();
    assert_eq!(renewed.body["renewed"], true, "{renewed:?}");
    assert!(renewed.body["expiresAt"].as_str() > holder.body["expiresAt"].as_str());
    let answer = api.wait_for(&key, "lease", 15).await;
    let waited = renewed_at.elapsed();
    assert_eq!(answer.body["locked"], true, "{answer:?}");
    // Granted only once the renewed lease (3 s from the renew) ran out,
    // and the 1 s clock-skew margin after it.
    assert!(
        waited >= Duration::from_millis(3500) && waited < Duration::from_secs(12),
        "granted {waited:?} after the renew"
    );
    let late = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&renew))
        .await;
    assert_eq!(
        late.body["renewed"], false,
        "the expired lease cannot renew"
    );
    assert_eq!(
        api.unlock(&key, "lease", &lease).await.body["unlocked"],
        false,
        "nor unlock"
    );
}

/// A waiter gives up when its wait ends, with the usual answer.
pub async fn waiter_gives_up(api: Api) {
    let (_, key) = api.new_user().await;
    lease_of(&api.acquire(&key, "busy", "holder").await);
    let started = Instant::now();
    let answer = api.wait_for(&key, "busy", 2).await;
    let waited = started.elapsed();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["locked"], false);
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

/// Several waiting acquires at once, each on a held lock: every one answers
/// when its own wait is over (plus at most 1 s), never behind the others'
/// waits and never with a 504. Twice as many as the functions' instances
/// that run at first, so instances start while others wait.
pub async fn concurrent_waiters_each_answer_after_their_own_wait(api: Api) {
    const WAITERS: usize = 6;
    const WAIT_SECONDS: u64 = 4;
    let (_, key) = api.new_user().await;
    for waiter in 0..WAITERS {
        lease_of(&api.acquire(&key, &format!("held-{waiter}"), "holder").await);
    }
    let waiters: Vec<_> = (0..WAITERS)
        .map(|waiter| {
            let (api, key) = (api.clone(), key.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let lock = format!("held-{waiter}");
                let answer = api.wait_for(&key, &lock, WAIT_SECONDS).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    for waiter in waiters {
        let (answer, took) = waiter.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["locked"], false, "{answer:?}");
        let wait = Duration::from_secs(WAIT_SECONDS);
        assert!(
            took >= wait && took <= wait + Duration::from_secs(1),
            "answered after {took:?}"
        );
    }
}

/// The waiter reserves a held lock (`GET` shows `reservedUntil`); a client
/// that releases it and at once tries again, in a loop, is refused until the
/// waiter is granted: because of the reservation (told until when) or, once
/// the waiter has it, because the waiter holds it.
pub async fn a_reserved_lock_goes_to_its_waiter_not_to_a_looping_client(api: Api) {
    let (_, key) = api.new_user().await;
    let holder = lease_of(&api.acquire(&key, "fair", "looper").await);
    let waiter = {
        let (api, key) = (api.clone(), key.clone());
        let body = json!({ "lockName": "fair", "requester": "waiter", "ttlSeconds": 60, "waitSeconds": 15 });
        tokio::spawn(async move { api.acquire_with(&key, body).await })
    };
    let started = Instant::now();
    let reserved_until = loop {
        let view = api.lock(&key, "fair").await;
        if let Some(until) = view.body["reservedUntil"].as_str() {
            break until.to_owned();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the waiter never reserved: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        api.unlock(&key, "fair", &holder).await.body["unlocked"],
        true
    );
    let mut refusals = Vec::new();
    while !waiter.is_finished() {
        let again = api.acquire(&key, "fair", "looper").await;
        assert_eq!(again.body["locked"], false, "the looper won: {again:?}");
        refusals.push(again.body);
    }
    let granted = waiter.await.unwrap();
    assert_eq!(granted.body["locked"], true, "{granted:?}");
    for refusal in &refusals {
        match refusal["reservedUntil"].as_str() {
            Some(until) => {
                assert_eq!(refusal["expiresAt"].as_str(), Some(until), "{refusal}");
                assert!(until >= reserved_until.as_str(), "{refusal}");
                let message = refusal["message"].as_str().unwrap();
                assert!(message.contains("reserved"), "{refusal}");
            }
            None => assert_eq!(refusal["expiresAt"], granted.body["expiresAt"], "{refusal}"),
        }
    }
    let view = api.lock(&key, "fair").await;
    assert_eq!(view.body["leaseId"], granted.body["leaseId"], "{view:?}");
    assert!(view.body.get("reservedUntil").is_none(), "{view:?}");
}
