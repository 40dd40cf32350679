//! Clock skew: a lease's `expiresAt` is written by the granting instance's
//! clock and judged by whichever instance reads it. Two stores on one
//! engine stand for two function instances: A's clock is true, B's runs
//! ahead by exactly the clock-skew margin (1 s, the default). B never takes over a lease (of a
//! lock, or of a permit) before it has expired by A's clock; with no margin
//! the same schedule grants an overlapping lease. On both engines.

use std::time::Duration;

use lock_service::store::{Acquired, Grant, LockStore, PermitAcquired};
use lock_service::types::{LeaseId, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, lock_name, requester, ttl, user, Stores};

use super::at;
use super::semaphores::{name as semaphore, permits};

/// The margin under test (the template's default).
const MARGIN: u64 = 1_000;
/// The leases' TTL (seconds).
const TTL_SECONDS: u64 = 10;

/// Instance A (true clock) and B (ahead by [`MARGIN`]), with `margin`.
fn instances(f: &Stores, margin: u64) -> (LockStore, LockStore) {
    let store = f
        .locks
        .clone()
        .with_clock_margin(Duration::from_millis(margin));
    (store.clone(), store)
}

/// B's clock at true time `true_time`.
fn ahead(true_time: Timestamp) -> Timestamp {
    true_time.plus_millis(MARGIN)
}

async fn take(
    locks: &LockStore,
    user: &UserId,
    who: &str,
    lease: &LeaseId,
    now: Timestamp,
) -> Acquired {
    let requester = requester(who);
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: ttl(TTL_SECONDS),
        idempotency_key: None,
    };
    locks
        .acquire(user, &lock_name("l"), &grant, now)
        .await
        .unwrap()
}

async fn take_permit(
    locks: &LockStore,
    user: &UserId,
    pool: &str,
    lease: &LeaseId,
    now: Timestamp,
) -> PermitAcquired {
    let requester = requester("worker");
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: ttl(TTL_SECONDS),
        idempotency_key: None,
    };
    let name = semaphore(pool);
    locks
        .acquire_permit(user, &name, permits(1), &grant, now)
        .await
        .unwrap()
}

/// A lock: B, a margin ahead, is refused until the lease has expired by
/// A's clock, and told so with the holder's `expiresAt`; a waiter's look
/// sees it held until `expiresAt` plus the margin.
#[apply(engines)]
async fn a_clock_ahead_by_the_margin_never_takes_a_live_lease(f: Stores, user: UserId) {
    let (a, b) = instances(&f, MARGIN);
    let first = LeaseId::generate();
    let Acquired::Granted(lock) = take(&a, &user, "a", &first, at(0)).await else {
        panic!("A's first grant")
    };
    let expires_at = lock.expires_at.unwrap();
    assert_eq!(expires_at, at(TTL_SECONDS * 1000));

    // One millisecond before the lease ends by A's clock: B (reading
    // expiresAt + margin - 1) must not take it.
    let just_before = Timestamp::from_millis(expires_at.millis() - 1);
    let second = LeaseId::generate();
    let refused = take(&b, &user, "b", &second, ahead(just_before)).await;
    assert_eq!(
        refused,
        Acquired::Held {
            expires_at: Some(expires_at)
        }
    );
    let sight = b
        .look_at_lock(&user, &lock_name("l"), &second, ahead(just_before))
        .await
        .unwrap();
    assert!(sight.held && !sight.open, "{sight:?}");
    assert_eq!(sight.expires_at, Some(expires_at.plus_millis(MARGIN)));
    assert!(f.stored(&user, "l").await.unwrap().lease_id == first);

    // Once it has ended by A's clock, B takes it over.
    let granted = take(&b, &user, "b", &second, ahead(expires_at)).await;
    assert!(
        matches!(granted, Acquired::Granted(ref lock) if lock.lease_id == second),
        "{granted:?}"
    );
}

/// The same schedule without a margin: B grants a second lease while the
/// first is still live by A's clock. This is what the margin prevents.
#[apply(engines)]
async fn without_a_margin_the_clock_ahead_overlaps(f: Stores, user: UserId) {
    let (a, b) = instances(&f, 0);
    let first = LeaseId::generate();
    let Acquired::Granted(lock) = take(&a, &user, "a", &first, at(0)).await else {
        panic!("A's first grant")
    };
    let just_before = Timestamp::from_millis(lock.expires_at.unwrap().millis() - 1);
    let overlapping = take(&b, &user, "b", &LeaseId::generate(), ahead(just_before)).await;
    assert!(
        matches!(overlapping, Acquired::Granted(_)),
        "{overlapping:?}"
    );
}

/// A semaphore's permit: B, a margin ahead, cannot take the one permit
/// before its lease has expired by A's clock (and sees it held), then can;
/// without a margin it could.
#[apply(engines)]
async fn a_clock_ahead_by_the_margin_never_takes_a_live_permit(f: Stores, user: UserId) {
    for (pool, margin) in [("guarded", MARGIN), ("unguarded", 0)] {
        let (a, b) = instances(&f, margin);
        let first = LeaseId::generate();
        let PermitAcquired::Granted { permit, .. } =
            take_permit(&a, &user, pool, &first, at(0)).await
        else {
            panic!("A's first permit of {pool}")
        };
        let just_before = Timestamp::from_millis(permit.expires_at.millis() - 1);
        let second = LeaseId::generate();
        let early = take_permit(&b, &user, pool, &second, ahead(just_before)).await;
        if margin == 0 {
            assert!(
                matches!(early, PermitAcquired::Granted { .. }),
                "no margin: {early:?}"
            );
            continue;
        }
        assert!(matches!(early, PermitAcquired::Held { .. }), "{early:?}");
        let shown = b
            .semaphore(&user, &semaphore(pool), ahead(just_before))
            .await
            .unwrap();
        assert_eq!(shown.unwrap().holders.len(), 1, "still held for others");
        let granted = take_permit(&b, &user, pool, &second, ahead(permit.expires_at)).await;
        assert!(
            matches!(granted, PermitAcquired::Granted { .. }),
            "{granted:?}"
        );
    }
}
