//! The client library's retry rules and kept leases, through a proxy that
//! loses answers or answers 502.

use std::time::Duration;

use lock_client::{AcquireOptions, Client, Error, LeaseStatus, RetryPolicy};

use testkit::proxy::{Proxy, Scripted};

use crate::{eventually, Ctx};

/// A proxy in front of the stack at `url` whose first connection suffers `fault`.
async fn proxy_with(url: &str, fault: Scripted) -> Proxy {
    let proxy = Proxy::start(url).await.expect("a proxy");
    proxy.script(vec![fault]);
    proxy
}

/// A `502` the proxy answers itself, as API Gateway would: nothing reaches the service.
fn bad_gateway() -> Scripted {
    let body = r#"{"message":"Bad Gateway","code":"BAD_GATEWAY"}"#;
    let answer = format!(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    Scripted::Answer(answer.into_bytes())
}

fn options() -> AcquireOptions {
    AcquireOptions {
        ttl: Some(Duration::from_secs(60)),
        ..AcquireOptions::default()
    }
}

/// The `idempotency-key` header of each acquire the proxy saw.
fn acquire_keys(proxy: &Proxy) -> Vec<String> {
    proxy
        .requests()
        .iter()
        .filter(|head| head.starts_with("post /v0/lock "))
        .map(|head| {
            let line = head.lines().find(|l| l.starts_with("idempotency-key:"));
            line.expect("an idempotency key").to_owned()
        })
        .collect()
}

pub async fn lost_acquire_answer_gives_the_same_lease_on_retry(ctx: Ctx) {
    let proxy = proxy_with(&ctx.url, Scripted::LoseAnswer).await;
    let through_proxy = Client::new(&proxy.endpoint, &ctx.key).unwrap();
    let lease = through_proxy.acquire("ledger", &options()).await.unwrap();
    let keys = acquire_keys(&proxy);
    assert_eq!(
        keys.len(),
        2,
        "one lost answer, one retry: {:?}",
        proxy.requests()
    );
    assert_eq!(keys[0], keys[1], "the retry changed its Idempotency-Key");
    // The first attempt's grant, given back: the lock holds that lease.
    let lock = ctx.client().get("ledger").await.unwrap();
    assert_eq!(
        (lock.lease_id.as_str(), lock.fencing_token),
        (lease.lease_id(), lease.fencing_token())
    );

    // An unlock whose answer is lost is retried with the same lease and
    // reports the release its first attempt made.
    let proxy = proxy_with(&ctx.url, Scripted::LoseAnswer).await;
    let through_proxy = Client::new(&proxy.endpoint, &ctx.key).unwrap();
    let unlocked = through_proxy
        .unlock("ledger", lease.lease_id(), None)
        .await
        .unwrap();
    assert!(unlocked.unlocked, "{unlocked:?}");
    assert_eq!(proxy.requests().len(), 2, "{:?}", proxy.requests());
    assert!(!ctx.client().get("ledger").await.unwrap().locked);
}

pub async fn bad_gateway_is_retried_and_unlock_keeps_its_lease(ctx: Ctx) {
    // Without retries, a 502 is the caller's error...
    let proxy = proxy_with(&ctx.url, bad_gateway()).await;
    let no_retry = Client::new(&proxy.endpoint, &ctx.key)
        .unwrap()
        .with_retry(RetryPolicy::never());
    let failed = no_retry.acquire("queue", &options()).await;
    assert!(
        matches!(failed, Err(Error::Server { status: 502, .. })),
        "{failed:?}"
    );
    // ...with them, the next attempt is granted, and it is the only grant.
    let proxy = proxy_with(&ctx.url, bad_gateway()).await;
    let client = Client::new(&proxy.endpoint, &ctx.key).unwrap();
    let lease = client.acquire("queue", &options()).await.unwrap();
    assert_eq!(acquire_keys(&proxy).len(), 2);
    let lock = ctx.client().get("queue").await.unwrap();
    assert_eq!(
        (lock.lease_id.as_str(), lock.fencing_token),
        (lease.lease_id(), lease.fencing_token())
    );
    assert!(lease.release().await.unwrap());

    // A revoke whose answer is lost finds its key revoked on the retry: done.
    let other = ctx.other_user().await;
    let proxy = proxy_with(&ctx.url, Scripted::LoseAnswer).await;
    let through_proxy = Client::new(&proxy.endpoint, other.api_key().unwrap()).unwrap();
    through_proxy.revoke_key().await.unwrap();
    assert!(matches!(other.list().await, Err(Error::Unauthorized)));
}

pub async fn kept_lease_renews_and_reports_loss(ctx: Ctx) {
    let client = ctx.client();
    let short = AcquireOptions {
        ttl: Some(Duration::from_secs(2)),
        ..AcquireOptions::default()
    };
    let kept = client.acquire("worker", &short).await.unwrap().keep_alive();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        matches!(kept.status(), LeaseStatus::Live { .. }),
        "{:?}",
        kept.status()
    );
    let lock = client.get("worker").await.unwrap();
    assert!(
        lock.locked && lock.lease_id == kept.lease_id(),
        "not renewed: {lock:?}"
    );

    client.force_unlock("worker").await.unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(3), kept.lost())
        .await
        .expect("the loss is reported within the TTL");
    assert!(reason.contains("not the lock's live lease"), "{reason}");
    let thief = client.acquire("worker", &options()).await.unwrap();
    assert!(matches!(kept.release().await, Err(Error::LeaseLost(_))));
    assert_eq!(
        client.get("worker").await.unwrap().lease_id,
        thief.lease_id(),
        "a lost lease was unlocked"
    );

    // Dropped without release: released in the background.
    let dropped = client
        .acquire("dropped", &short)
        .await
        .unwrap()
        .keep_alive();
    drop(dropped);
    eventually(
        Duration::from_secs(5),
        "a dropped lease is released",
        || async { !client.get("dropped").await.unwrap().locked },
    )
    .await;
}

/// A kept permit renews itself past its TTL, reports its loss when forced
/// away, and is released in the background when dropped.
pub async fn kept_permit_renews_and_reports_loss(ctx: Ctx) {
    let client = ctx.client();
    let short = AcquireOptions {
        ttl: Some(Duration::from_secs(2)),
        ..AcquireOptions::default()
    };
    let kept = client
        .acquire_permit("pool", 2, &short)
        .await
        .unwrap()
        .keep_alive();
    let permit = kept.permit().expect("a permit");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        matches!(kept.status(), LeaseStatus::Live { .. }),
        "{:?}",
        kept.status()
    );
    let holders = client.get_semaphore("pool").await.unwrap().holders;
    assert_eq!(holders.len(), 1, "not renewed: {holders:?}");
    assert_eq!(
        (holders[0].lease_id.as_str(), holders[0].permit),
        (kept.lease_id(), permit)
    );

    client
        .force_release_permits("pool", Some(permit))
        .await
        .unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(3), kept.lost())
        .await
        .expect("the loss is reported within the TTL");
    assert!(reason.contains("holds no permit"), "{reason}");
    assert!(matches!(kept.release().await, Err(Error::LeaseLost(_))));

    let dropped = client
        .acquire_permit("pool", 2, &short)
        .await
        .unwrap()
        .keep_alive();
    drop(dropped);
    eventually(
        Duration::from_secs(5),
        "the dropped permit is released",
        || async {
            let semaphore = client.get_semaphore("pool").await.unwrap();
            semaphore.holders.is_empty()
        },
    )
    .await;
}
