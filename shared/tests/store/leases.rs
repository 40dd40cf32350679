//! Leases: they end exactly at `expiresAt`, renew only while live, and every
//! grant's fencing token is greater than all before it.

use lock_service::metrics::{gather, Metric};
use lock_service::store::{Acquired, Deleted, Released, Renewed};
use lock_service::types::{LeaseId, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, granted, lock_name as name, ttl, user, Stores};

use super::at;

#[apply(engines)]
async fn a_lease_expires_exactly_at_expires_at_and_can_be_taken_over(f: Stores, user: UserId) {
    let first = LeaseId::generate();
    let held = granted(f.take_leased(&user, "l", &first, 10, None, at(0)).await);
    assert_eq!(held.expires_at, Some(at(10_000)));

    let second = LeaseId::generate();
    assert_eq!(
        f.take_leased(&user, "l", &second, 5, None, at(9_999)).await,
        Acquired::Held {
            expires_at: Some(at(10_000))
        },
        "one millisecond before expiry the lease still holds"
    );
    let stored = f.stored(&user, "l").await.unwrap();
    assert!(stored.is_held(at(9_999)));
    assert!(
        !stored.is_held(at(10_000)),
        "an expired lease reads as free"
    );

    let ((outcome, calls), record) =
        gather(
            f.calls
                .during(f.take_leased(&user, "l", &second, 5, None, at(10_250))),
        )
        .await;
    let taken = granted(outcome);
    assert_eq!(calls, 1, "taking over an expired lease is one write");
    assert_eq!(taken.lease_id, second);
    assert!(taken.fencing_token > held.fencing_token);
    assert_eq!(taken.expires_at, Some(at(15_250)));
    assert_eq!(
        f.stored(&user, "l").await,
        Some(taken.clone()),
        "the grant's answer is the lock as stored"
    );
    assert_eq!(record.total(Metric::Takeover), 1.0);
    assert_eq!(
        record.total(Metric::TakeoverExpiredFor),
        250.0,
        "expired for"
    );

    // Freed and granted again: no lease was taken over.
    let released = f
        .locks
        .release(&user, &name("l"), &second, at(11_000))
        .await;
    assert_eq!(released.unwrap(), Released::Freed);
    let third = LeaseId::generate();
    let (again, record) = gather(f.take_leased(&user, "l", &third, 5, None, at(12_000))).await;
    assert_eq!(granted(again).fencing_token, taken.fencing_token + 1);
    assert_eq!(record.total(Metric::Takeover), 0.0);
}

#[apply(engines)]
async fn an_expired_lease_cannot_unlock_or_renew(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    granted(f.take_leased(&user, "l", &lease, 1, None, at(0)).await);
    let after = at(1_000);
    assert_eq!(
        f.release(&user, "l", &lease, after).await,
        Released::Expired
    );
    assert_eq!(
        f.renew(&user, "l", &lease, ttl(60), after).await,
        Renewed::NotLive
    );
    let stored = f.stored(&user, "l").await.unwrap();
    assert_eq!(stored.expires_at, Some(after), "nothing was written");
}

#[apply(engines)]
async fn renew_extends_only_the_live_lease(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    granted(f.take_leased(&user, "l", &lease, 10, None, at(0)).await);

    let (renewed, calls) = f
        .calls
        .during(f.renew(&user, "l", &lease, ttl(20), at(5_000)))
        .await;
    assert_eq!(
        renewed,
        Renewed::Extended {
            expires_at: Some(at(25_000))
        }
    );
    assert_eq!(calls, 1, "renew is one write");
    let stored = f.stored(&user, "l").await.unwrap();
    assert_eq!(
        (stored.acquired_at, stored.updated_at),
        (Some(at(0)), at(5_000)),
        "a renew moves updatedAt, not acquiredAt"
    );
    // Without ttlSeconds, the lease's own (latest) TTL again.
    assert_eq!(
        f.renew(&user, "l", &lease, None, at(6_000)).await,
        Renewed::Extended {
            expires_at: Some(at(26_000))
        }
    );
    let other = LeaseId::generate();
    assert!(matches!(
        f.take_leased(&user, "l", &other, 5, None, at(25_999)).await,
        Acquired::Held { .. }
    ));
    assert_eq!(
        f.renew(&user, "l", &other, ttl(5), at(7_000)).await,
        Renewed::NotLive
    );
    assert_eq!(
        f.renew(&user, "l", &lease, ttl(5), at(26_000)).await,
        Renewed::NotLive,
        "renewing after expiry is refused"
    );
    assert_eq!(
        f.renew(&user, "nope", &lease, ttl(5), at(0)).await,
        Renewed::NotFound
    );
}

/// A lease without TTL is live until released: renewing it without a TTL
/// changes nothing, with one gives it an end.
#[apply(engines)]
async fn a_lease_without_ttl_gets_an_end_only_from_a_renew_with_one(f: Stores, user: UserId) {
    let forever = LeaseId::generate();
    f.grant(&user, "forever", "a", &forever, at(0)).await;
    assert_eq!(
        f.renew(&user, "forever", &forever, None, at(1)).await,
        Renewed::Extended { expires_at: None }
    );
    assert_eq!(
        f.renew(&user, "forever", &forever, ttl(3), at(2)).await,
        Renewed::Extended {
            expires_at: Some(at(3_002))
        }
    );
}

#[apply(engines)]
async fn a_thousand_cycles_give_strictly_increasing_fencing_tokens(f: Stores, user: UserId) {
    let mut last = 0;
    for i in 0..1000 {
        let lease = LeaseId::generate();
        let lock = f
            .grant(&user, "counter", "a", &lease, Timestamp::now())
            .await;
        assert!(
            lock.fencing_token > last,
            "cycle {i}: {} after {last}",
            lock.fencing_token
        );
        last = lock.fencing_token;
        assert_eq!(
            f.release(&user, "counter", &lease, Timestamp::now()).await,
            Released::Freed
        );
    }
}

#[apply(engines)]
async fn fencing_tokens_keep_increasing_after_the_item_is_deleted(f: Stores, user: UserId) {
    let mut last = 0;
    for round in 0..3 {
        for _ in 0..5 {
            let lease = LeaseId::generate();
            let lock = f.grant(&user, "gc", "a", &lease, Timestamp::now()).await;
            assert!(lock.fencing_token > last, "round {round}");
            last = lock.fencing_token;
            f.release(&user, "gc", &lease, Timestamp::now()).await;
        }
        // What DynamoDB TTL does to an idle item.
        testkit::delete_behind_the_store(&f.client, &user, "gc").await;
        assert_eq!(f.stored(&user, "gc").await, None);
    }
}

#[apply(engines)]
async fn force_release_frees_the_lock_and_fences_the_old_holder(f: Stores, user: UserId) {
    let old = LeaseId::generate();
    let held = f.grant(&user, "l", "a", &old, at(0)).await;
    let (forced, calls) = f.forced(&user, "l", at(1)).await;
    assert_eq!(forced, Released::Freed);
    assert_eq!(calls, 1);
    assert!(!f.stored(&user, "l").await.unwrap().locked);

    // The old lease is dead: it can neither unlock, renew, nor count as a retry.
    f.assert_dead(&user, "l", &old, at(2)).await;
    let next = f.grant(&user, "l", "b", &LeaseId::generate(), at(2)).await;
    assert!(next.fencing_token > held.fencing_token);

    let (missing, calls) = f.forced(&user, "never", at(2)).await;
    assert_eq!(missing, Released::NotFound);
    assert_eq!(calls, 1, "force release of an unknown lock needs no read");
    assert_eq!(f.stored(&user, "never").await, None);
}

#[apply(engines)]
async fn a_grant_landing_after_a_delete_counts_on_from_the_deleted_lock(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    let first = f.grant(&user, "d", "a", &lease, at(10_000)).await;
    f.release(&user, "d", &lease, at(10_001)).await;
    let deleted = f.locks.delete(&user, &name("d"), at(10_002)).await;
    assert_eq!(deleted.unwrap(), Deleted::Done);

    // Gone for every read and every write but a grant.
    assert_eq!(f.stored(&user, "d").await, None);
    assert!(f.locks.list(&user).await.unwrap().is_empty());
    let again = f.locks.delete(&user, &name("d"), at(10_003)).await;
    assert_eq!(again.unwrap(), Deleted::NotFound);
    assert_eq!(f.forced(&user, "d", at(10_003)).await.0, Released::NotFound);
    assert_eq!(
        f.release(&user, "d", &lease, at(10_003)).await,
        Released::NotFound
    );
    assert_eq!(
        f.renew(&user, "d", &lease, ttl(5), at(10_003)).await,
        Renewed::NotFound
    );

    // A grant sent before the delete, its clock at 5 s, lands after it: the
    // name is new again, but its token still follows the deleted lock's.
    let late = f
        .grant(&user, "d", "b", &LeaseId::generate(), at(5_000))
        .await;
    assert!(
        late.fencing_token > first.fencing_token,
        "{} after {}",
        late.fencing_token,
        first.fencing_token
    );
    assert_eq!(late.created_at, at(5_000), "created anew");
    assert_eq!(f.stored(&user, "d").await, Some(late));
}
