//! Retries: a repeated write that already succeeded reports success, and an
//! idempotency key returns the lease it was granted, for that lease only.

use lock_service::store::{Acquired, Grant, Released, Renewed};
use lock_service::types::{IdempotencyKey, LeaseId, UserId};
use rstest::rstest;
use testkit::EngineKind::{self, Dynalite, Moto};

use super::{at, fixture, granted, name, ttl, who};

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_writes_that_succeeded_report_success(
    #[values(Moto, Dynalite)] kind: EngineKind,
) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let first = f.grant(&user, "l", "a", &lease, at(0)).await;
    // The same request again, as an SDK retry after a lost response sends it.
    let (outcome, calls) = f.calls.during(f.take(&user, "l", "a", &lease, at(0))).await;
    assert_eq!(
        granted(outcome),
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
        f.take(&user, "l", "a", &lease, at(3)).await,
        Acquired::Held { expires_at: None }
    );
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_gets_the_same_lease_and_token(
    #[values(Moto, Dynalite)] kind: EngineKind,
) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let key = IdempotencyKey::parse("order-42").unwrap();
    let fresh = LeaseId::generate;
    let first = granted(
        f.take_leased(&user, "l", &fresh(), 30, Some(&key), at(0))
            .await,
    );
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

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_is_bound_to_what_it_was_granted_for(
    #[values(Moto, Dynalite)] kind: EngineKind,
) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let key = IdempotencyKey::parse("order-42").unwrap();
    let fresh = LeaseId::generate;
    let first = granted(
        f.take_leased(&user, "l", &fresh(), 30, Some(&key), at(0))
            .await,
    );

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
