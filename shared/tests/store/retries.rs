//! Retries: a repeated write that already succeeded reports success, and an
//! idempotency key returns the lease it was granted, for that lease only.

use lock_service::store::{Acquired, Grant, Released, Renewed};
use lock_service::types::{IdempotencyKey, LeaseId, Lock, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, granted, lock_name as name, requester as who, try_take, ttl, user, Stores};

use super::at;

#[apply(engines)]
async fn retries_of_writes_that_succeeded_report_success(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    let first = f.grant(&user, "l", "a", &lease, at(0)).await;
    // The same request again, as an SDK retry after a lost response sends it.
    let (outcome, calls) = f
        .calls
        .during(try_take(&f.locks, &user, "l", "a", &lease, at(0)))
        .await;
    assert_eq!(
        granted(outcome.unwrap()),
        first,
        "the retry sees its own grant, and nothing was written twice"
    );
    assert_eq!(calls, f.calls_for_lost_race());

    assert_eq!(f.release(&user, "l", &lease, at(1)).await, Released::Freed);
    let (outcome, calls) = f.calls.during(f.release(&user, "l", &lease, at(1))).await;
    assert_eq!(
        outcome,
        Released::Freed,
        "a retried unlock is still a success"
    );
    assert_eq!(calls, f.calls_for_lost_race());
    let freed = f.stored(&user, "l").await.unwrap();
    assert_eq!(freed.updated_at, at(1));

    // Once another lease holds the lock, the old lease's retries are refused.
    f.grant(&user, "l", "b", &LeaseId::generate(), at(2)).await;
    assert_eq!(
        f.release(&user, "l", &lease, at(3)).await,
        Released::NotHolder
    );
    assert_eq!(
        try_take(&f.locks, &user, "l", "a", &lease, at(3))
            .await
            .unwrap(),
        Acquired::Held { expires_at: None }
    );
}

#[apply(engines)]
async fn an_idempotent_retry_gets_the_same_lease_and_token(f: Stores, user: UserId) {
    let (key, first) = first_keyed_grant(&f, &user).await;
    let fresh = LeaseId::generate;
    let (retry, calls) = f
        .calls
        .during(f.take_leased(&user, "l", &fresh(), 30, Some(&key), at(100)))
        .await;
    assert_eq!(
        granted(retry),
        first,
        "same lease, same token, nothing written"
    );
    assert_eq!(calls, f.calls_for_lost_race());

    let other = IdempotencyKey::parse("order-43").unwrap();
    assert!(matches!(
        f.take_leased(&user, "l", &fresh(), 30, Some(&other), at(200))
            .await,
        Acquired::Held { .. }
    ));
    // Once that lease is over, the same key asks for a new one.
    assert!(matches!(
        f.take_leased(&user, "l", &fresh(), 30, Some(&key), at(30_000)).await,
        Acquired::Granted(lock) if lock.lease_id != first.lease_id && lock.fencing_token > first.fencing_token
    ));
}

#[apply(engines)]
async fn an_idempotency_key_is_bound_to_what_it_was_granted_for(f: Stores, user: UserId) {
    let (key, first) = first_keyed_grant(&f, &user).await;
    let fresh = LeaseId::generate;

    // Another TTL or another requester is refused, and nothing changes.
    let other_ttl = f
        .take_leased(&user, "l", &fresh(), 31, Some(&key), at(150))
        .await;
    assert_eq!(other_ttl, Acquired::KeyReused);
    let stranger = who("someone-else");
    let grant = Grant {
        requester: &stranger,
        lease: &fresh(),
        ttl: ttl(30),
        idempotency_key: Some(&key),
    };
    let other_requester = f.locks.acquire(&user, &name("l"), &grant, at(150)).await;
    assert_eq!(other_requester.unwrap(), Acquired::KeyReused);
    assert_eq!(f.stored(&user, "l").await, Some(first.clone()));

    // A renew with another TTL does not change what the key was granted for.
    let renewed = f.renew(&user, "l", &first.lease_id, ttl(60), at(160)).await;
    assert!(matches!(renewed, Renewed::Extended { .. }));
    let retry = f
        .take_leased(&user, "l", &fresh(), 30, Some(&key), at(170))
        .await;
    assert_eq!(granted(retry).lease_id, first.lease_id);
    let renewed_ttl = f
        .take_leased(&user, "l", &fresh(), 60, Some(&key), at(170))
        .await;
    assert_eq!(renewed_ttl, Acquired::KeyReused);
}

/// The first grant of `l` for 30 s under idempotency key `order-42`.
async fn first_keyed_grant(f: &Stores, user: &UserId) -> (IdempotencyKey, Lock) {
    let key = IdempotencyKey::parse("order-42").unwrap();
    let lease = LeaseId::generate();
    let outcome = f.take_leased(user, "l", &lease, 30, Some(&key), at(0));
    (key.clone(), granted(outcome.await))
}
