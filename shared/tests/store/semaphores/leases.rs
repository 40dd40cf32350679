//! A permit's lease after its grant, on both engines: release (one write,
//! retried, after expiry), renew, force release of one or every permit,
//! and delete.

use lock_service::metrics::{gather, Metric};
use lock_service::store::{Deleted, Released, Renewed};
use lock_service::types::{LeaseId, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, ttl, user, Stores};

use super::{granted, name, slot, take};
use crate::at;

#[apply(engines)]
async fn release_is_one_write_and_a_retry_of_it_is_true(f: Stores, user: UserId) {
    let permit = granted(
        take(&f, &user, "pool", 4, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let (released, calls) = f
        .calls
        .during(f.locks.release_permit(
            &user,
            &name("pool"),
            &permit.lease_id,
            Some(slot(permit.slot)),
            at(1),
        ))
        .await;
    assert_eq!((released.unwrap(), calls), (Released::Freed, 1));
    let again = f
        .locks
        .release_permit(&user, &name("pool"), &permit.lease_id, None, at(2))
        .await;
    assert_eq!(again.unwrap(), Released::Freed, "a retried release");
    let missing = f
        .locks
        .release_permit(&user, &name("none"), &permit.lease_id, None, at(2))
        .await;
    assert_eq!(missing.unwrap(), Released::NotFound);
}

#[apply(engines)]
async fn a_permit_released_after_it_expired_is_not_released(f: Stores, user: UserId) {
    let permit = granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let late = f
        .locks
        .release_permit(
            &user,
            &name("pool"),
            &permit.lease_id,
            Some(slot(permit.slot)),
            at(10_000),
        )
        .await;
    assert_eq!(late.unwrap(), Released::Expired);
    let renewed = f
        .locks
        .renew_permit(
            &user,
            &name("pool"),
            &permit.lease_id,
            Some(slot(permit.slot)),
            None,
            at(10_000),
        )
        .await;
    assert_eq!(renewed.unwrap(), Renewed::NotLive);
}

#[apply(engines)]
async fn an_expired_permit_is_taken_over_counted_and_answered_as_stored(f: Stores, user: UserId) {
    let (first, record) = gather(take(&f, &user, "pool", 1, &LeaseId::generate(), None, 0)).await;
    let first = granted(first.0);
    assert_eq!(
        record.total(Metric::Takeover),
        0.0,
        "a new semaphore took nothing over"
    );
    let second = LeaseId::generate();
    let (outcome, record) = gather(take(&f, &user, "pool", 1, &second, None, 10_400)).await;
    let taken = granted(outcome.0);
    assert_eq!((taken.slot, &taken.lease_id), (first.slot, &second));
    assert_eq!(taken.fencing_token, first.fencing_token + 1);
    assert_eq!(taken.expires_at, at(20_400));
    assert_eq!(record.total(Metric::Takeover), 1.0);
    assert_eq!(record.total(Metric::TakeoverExpiredFor), 400.0);
    let stored = f.locks.semaphore(&user, &name("pool"), at(10_401)).await;
    assert_eq!(
        stored.unwrap().unwrap().holders,
        vec![taken],
        "answered as stored"
    );
}

#[apply(engines)]
async fn renew_extends_one_permit_in_one_write(f: Stores, user: UserId) {
    let permit = granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let (renewed, calls) = f
        .calls
        .during(f.locks.renew_permit(
            &user,
            &name("pool"),
            &permit.lease_id,
            Some(slot(permit.slot)),
            ttl(60),
            at(5_000),
        ))
        .await;
    assert_eq!(
        renewed.unwrap(),
        Renewed::Extended {
            expires_at: Some(at(65_000))
        }
    );
    assert_eq!(calls, 1);
    // Its own TTL again (60 s now), found without the slot.
    let own = f
        .locks
        .renew_permit(
            &user,
            &name("pool"),
            &permit.lease_id,
            None,
            None,
            at(6_000),
        )
        .await;
    assert_eq!(
        own.unwrap(),
        Renewed::Extended {
            expires_at: Some(at(66_000))
        }
    );
}

#[apply(engines)]
async fn force_ends_one_permit_or_every_live_one(f: Stores, user: UserId) {
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(granted(
            take(&f, &user, "pool", 3, &LeaseId::generate(), None, 0)
                .await
                .0,
        ));
    }
    let (one, calls) = f
        .calls
        .during(f.locks.force_release_permits(
            &user,
            &name("pool"),
            Some(slot(held[0].slot)),
            at(1),
        ))
        .await;
    assert_eq!((one.unwrap(), calls), (Released::Freed, 1));
    let stale = f
        .locks
        .release_permit(&user, &name("pool"), &held[0].lease_id, None, at(2))
        .await;
    assert_eq!(
        stale.unwrap(),
        Released::NotHolder,
        "a forced lease is dead"
    );
    let all = f
        .locks
        .force_release_permits(&user, &name("pool"), None, at(2))
        .await;
    assert_eq!(all.unwrap(), Released::Freed);
    let semaphore = f
        .locks
        .semaphore(&user, &name("pool"), at(3))
        .await
        .unwrap()
        .unwrap();
    assert!(semaphore.holders.is_empty());
    let none = f
        .locks
        .force_release_permits(&user, &name("none"), None, at(3))
        .await;
    assert_eq!(none.unwrap(), Released::NotFound);
}

#[apply(engines)]
async fn delete_refuses_a_held_semaphore_and_frees_the_name(mut f: Stores, user: UserId) {
    f.locks = f.locks.clone().with_quota(Some(1));
    let permit = granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), None, 0)
            .await
            .0,
    );
    let held = f.locks.delete_semaphore(&user, &name("pool"), at(1)).await;
    assert_eq!(held.unwrap(), Deleted::Held);
    // Refused: every permit still grants.
    granted(
        take(&f, &user, "pool", 2, &LeaseId::generate(), None, 2)
            .await
            .0,
    );
    let deleted = f
        .locks
        .delete_semaphore(&user, &name("pool"), at(10_003))
        .await;
    assert_eq!(deleted.unwrap(), Deleted::Done);
    assert_eq!(
        f.locks
            .semaphore(&user, &name("pool"), at(10_001))
            .await
            .unwrap(),
        None
    );
    let again = f
        .locks
        .delete_semaphore(&user, &name("pool"), at(10_004))
        .await;
    assert_eq!(again.unwrap(), Deleted::NotFound);
    // The name is free again (quota 1) and may come back with another count;
    // its slots' tokens go on rising.
    let new = granted(
        take(&f, &user, "pool", 3, &LeaseId::generate(), None, 20_000)
            .await
            .0,
    );
    let semaphore = f
        .locks
        .semaphore(&user, &name("pool"), at(20_001))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(semaphore.permits, 3);
    if new.slot == permit.slot {
        assert!(new.fencing_token > permit.fencing_token);
    }
}
