//! Semaphores on both engines: the one-write grant, at most `permits`
//! live leases, reclaim of an expired permit, the count fixed at creation,
//! idempotent retries, the quota; release, renew, force and delete in
//! `leases`.

mod leases;

use lock_service::lock_wire::{PermitSlot, Permits};
use lock_service::store::Permit;
use lock_service::store::{Grant, PermitAcquired, Released, Renewed};
use lock_service::types::{IdempotencyKey, LeaseId, SemaphoreName, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, requester, ttl, user, Stores};

use super::at;

pub(super) fn name(text: &str) -> SemaphoreName {
    SemaphoreName::parse(text).unwrap()
}

pub(super) fn slot(number: u8) -> PermitSlot {
    PermitSlot::new(u64::from(number)).unwrap()
}

pub(super) fn permits(count: u8) -> Permits {
    Permits::new(u64::from(count)).unwrap()
}

/// Acquires one of `count` permits of `semaphore` for `lease` (TTL 10 s),
/// with `key` if given: the outcome and the calls it made.
pub(super) async fn take(
    f: &Stores,
    user: &UserId,
    semaphore: &str,
    count: u8,
    lease: &LeaseId,
    key: Option<&str>,
    now_offset: u64,
) -> (PermitAcquired, usize) {
    let key = key.map(|key| IdempotencyKey::parse(key).unwrap());
    let asker = requester("worker");
    let grant = Grant {
        requester: &asker,
        lease,
        ttl: ttl(10),
        idempotency_key: key.as_ref(),
    };
    let (outcome, calls) = f
        .calls
        .during(f.locks.acquire_permit(
            user,
            &name(semaphore),
            permits(count),
            &grant,
            at(now_offset),
        ))
        .await;
    (outcome.unwrap(), calls)
}

pub(super) fn granted(outcome: PermitAcquired) -> Permit {
    match outcome {
        PermitAcquired::Granted { permit, .. } => permit,
        other => panic!("not granted: {other:?}"),
    }
}

#[apply(engines)]
async fn a_new_semaphore_grants_then_each_free_permit_in_one_write(f: Stores, user: UserId) {
    let (first, _) = take(&f, &user, "pool", 3, &LeaseId::generate(), None, 0).await;
    let first = granted(first);
    let mut slots = vec![first.slot];
    for _ in 0..2 {
        let (outcome, _) = take(&f, &user, "pool", 3, &LeaseId::generate(), None, 10).await;
        slots.push(granted(outcome).slot);
    }
    slots.sort();
    assert_eq!(slots, [0, 1, 2], "three leases, three permits");
    let (refused, _) = take(&f, &user, "pool", 3, &LeaseId::generate(), None, 20).await;
    assert_eq!(
        refused,
        PermitAcquired::Held {
            permits: 3,
            expires_at: Some(at(10_000)),
        }
    );
    let semaphore = f
        .locks
        .semaphore(&user, &name("pool"), at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((semaphore.permits, semaphore.holders.len()), (3, 3));
    assert_eq!(semaphore.created_at, at(0));
}

#[apply(engines)]
async fn a_semaphore_is_one_name_of_the_quota(mut f: Stores, user: UserId) {
    f.locks = f.locks.clone().with_quota(Some(2));
    let (first, _) = take(&f, &user, "pool", 5, &LeaseId::generate(), None, 0).await;
    granted(first);
    let (second, _) = take(&f, &user, "pool", 5, &LeaseId::generate(), None, 0).await;
    granted(second);
    testkit::granted(
        testkit::try_take(&f.locks, &user, "pool", "r", &LeaseId::generate(), at(0))
            .await
            .unwrap(),
    );
    let (over, _) = take(&f, &user, "other", 5, &LeaseId::generate(), None, 0).await;
    assert_eq!(over, PermitAcquired::QuotaExceeded);
}

#[apply(engines)]
async fn a_free_permit_of_a_standing_semaphore_is_one_write_keyed_or_not(f: Stores, user: UserId) {
    granted(
        take(&f, &user, "pool", 64, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    // Every other slot is free: the first write lands unless it drew the one
    // slot taken (1 in 64), which costs one read and one write more.
    let (outcome, calls) = take(&f, &user, "pool", 64, &LeaseId::generate(), None, 1).await;
    granted(outcome);
    assert!(calls == 1 || calls == 3, "{calls} calls");
    let (outcome, calls) = take(&f, &user, "pool", 64, &LeaseId::generate(), Some("k-1"), 2).await;
    let keyed = granted(outcome);
    // The key's home slot could have been one of the two taken (2 in 64):
    // then one read, the guard's write on the home slot and the grant.
    assert!(calls == 1 || calls == 4, "{calls} calls");
    // Its retry lands on its own grant first.
    let (retry, calls) = take(&f, &user, "pool", 64, &LeaseId::generate(), Some("k-1"), 3).await;
    assert_eq!(granted(retry), keyed);
    assert!(calls <= f.calls_for_lost_race() + 1, "{calls} calls");
}

#[apply(engines)]
async fn an_expired_permit_is_reclaimed_at_once_and_its_token_rises(f: Stores, user: UserId) {
    let old = granted(
        take(&f, &user, "one", 1, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let (refused, _) = take(&f, &user, "one", 1, &LeaseId::generate(), None, 9_999).await;
    assert!(
        matches!(refused, PermitAcquired::Held { .. }),
        "{refused:?}"
    );
    let lease = LeaseId::generate();
    let (outcome, calls) = take(&f, &user, "one", 1, &lease, None, 10_000).await;
    let new = granted(outcome);
    assert_eq!(calls, 1, "reclaiming is the grant's one write");
    assert_eq!((new.slot, new.lease_id.clone()), (0, lease));
    assert!(new.fencing_token > old.fencing_token);
    // The old lease can neither release nor renew.
    let released = f
        .locks
        .release_permit(
            &user,
            &name("one"),
            &old.lease_id,
            Some(slot(0)),
            at(10_001),
        )
        .await;
    assert_eq!(released.unwrap(), Released::NotHolder);
    let renewed = f
        .locks
        .renew_permit(&user, &name("one"), &old.lease_id, None, None, at(10_001))
        .await;
    assert_eq!(renewed.unwrap(), Renewed::NotLive);
}

#[apply(engines)]
async fn the_count_is_fixed_and_a_reused_key_is_told_before_it(f: Stores, user: UserId) {
    let first = granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), Some("k"), 0)
            .await
            .0,
    );
    let (other, _) = take(&f, &user, "pool", 3, &LeaseId::generate(), None, 1).await;
    assert_eq!(other, PermitAcquired::PermitsMismatch { permits: 2 });
    // The same key with another count: a reused key, not a mismatch.
    let (reused, _) = take(&f, &user, "pool", 3, &LeaseId::generate(), Some("k"), 1).await;
    assert_eq!(reused, PermitAcquired::KeyReused);
    let semaphore = f
        .locks
        .semaphore(&user, &name("pool"), at(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(semaphore.holders, vec![first]);
}

#[apply(engines)]
async fn a_keyed_retry_after_its_grant_moved_never_holds_two_permits(f: Stores, user: UserId) {
    // One permit of two held: a keyed acquire lands on the other, whichever
    // its home. Then the first is freed, so that a retry whose first write
    // tries there could take it: it must find its own grant instead.
    let mut other = granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    for key in ["k-0", "k-1", "k-2", "k-3", "k-4", "k-5", "k-6", "k-7"] {
        let mine = granted(
            take(&f, &user, "pool", 2, &LeaseId::generate(), Some(key), 1)
                .await
                .0,
        );
        assert_ne!(mine.slot, other.slot, "{key}");
        let freed = f
            .locks
            .release_permit(
                &user,
                &name("pool"),
                &other.lease_id,
                Some(slot(other.slot)),
                at(2),
            )
            .await;
        assert_eq!(freed.unwrap(), Released::Freed);
        let retry = granted(
            take(&f, &user, "pool", 2, &LeaseId::generate(), Some(key), 3)
                .await
                .0,
        );
        assert_eq!(retry, mine, "{key}");
        let semaphore = f
            .locks
            .semaphore(&user, &name("pool"), at(4))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(semaphore.holders, vec![mine.clone()], "{key}");
        other = mine;
    }
}

#[apply(engines)]
async fn the_quotas_heal_counts_a_semaphore_as_the_name_it_is(mut f: Stores, user: UserId) {
    f.locks = f.locks.clone().with_quota(Some(2));
    granted(
        take(&f, &user, "pool", 3, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let lock = testkit::try_take(&f.locks, &user, "lock", "r", &LeaseId::generate(), at(0)).await;
    testkit::granted(lock.unwrap());
    // Long after, a new name finds the quota full and heals: the
    // semaphore's element is no orphan, so the name is still refused.
    let later = lock_service::store::quota::HEAL_INTERVAL_MILLIS + 120_000;
    let lock =
        testkit::try_take(&f.locks, &user, "new", "r", &LeaseId::generate(), at(later)).await;
    assert_eq!(lock.unwrap(), lock_service::store::Acquired::QuotaExceeded);
    let (semaphore, _) = take(
        &f,
        &user,
        "new-pool",
        2,
        &LeaseId::generate(),
        None,
        later + 1,
    )
    .await;
    assert_eq!(semaphore, PermitAcquired::QuotaExceeded);
}

#[apply(engines)]
async fn concurrent_attempts_of_one_key_agree_on_one_permit(f: Stores, user: UserId) {
    // Three of four permits held; attempts of one key race each other and a
    // release, so their first writes and reads see different states.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(granted(
            take(&f, &user, "pool", 4, &LeaseId::generate(), None, 0)
                .await
                .0,
        ));
    }
    for (round, freed) in held.iter().enumerate() {
        let key = format!("racing-{round}");
        let leases: Vec<_> = (0..6).map(|_| LeaseId::generate()).collect();
        let attempts = leases
            .iter()
            .map(|lease| take(&f, &user, "pool", 4, lease, Some(&key), 1));
        let pool = name("pool");
        let release =
            f.locks
                .release_permit(&user, &pool, &freed.lease_id, Some(slot(freed.slot)), at(1));
        let (outcomes, released) = tokio::join!(futures_util::future::join_all(attempts), release);
        assert_eq!(released.unwrap(), Released::Freed);
        let leases: std::collections::HashSet<_> = outcomes
            .into_iter()
            .filter_map(|(outcome, _)| match outcome {
                PermitAcquired::Granted { permit, .. } => Some(permit.lease_id),
                _ => None,
            })
            .collect();
        assert_eq!(leases.len(), 1, "{key}: one lease for one key, {leases:?}");
        let semaphore = f
            .locks
            .semaphore(&user, &name("pool"), at(2))
            .await
            .unwrap()
            .unwrap();
        let mine = semaphore
            .holders
            .iter()
            .filter(|h| leases.contains(&h.lease_id))
            .count();
        assert_eq!(mine, 1, "{key}: {semaphore:?}");
    }
}
