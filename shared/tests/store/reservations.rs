//! Reservations on both engines: a standing one refuses every other lease's
//! grant (locks and permit slots), its own waiter takes the lock in one
//! write that removes it, an older waiter takes over a younger one's, it
//! lapses by itself and only its waiter withdraws it.

use lock_service::store::{Acquired, Booking, PermitAcquired};
use lock_service::types::{LeaseId, LockName, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, granted, lock_name, user, Stores};

use super::at;
use super::semaphores::{name as semaphore, permits, take};

/// A booking of `lease` waiting since `since` ms, written at `now` ms.
fn booking(lease: &LeaseId, since: u64, now: u64) -> Booking<'_> {
    Booking {
        lease,
        since: at(since),
        now: at(now),
    }
}

/// Whether `booking` reserved lock `name`.
async fn reserve(f: &Stores, user: &UserId, name: &LockName, booking: Booking<'_>) -> bool {
    f.locks.reserve_lock(user, name, &booking).await.unwrap()
}

#[apply(engines)]
async fn a_reservation_refuses_other_grants_until_its_waiter_takes_the_lock(
    f: Stores,
    user: UserId,
) {
    let (holder, waiter, other) = (
        LeaseId::generate(),
        LeaseId::generate(),
        LeaseId::generate(),
    );
    let name = lock_name("job");
    granted(f.take_leased(&user, "job", &holder, 10, None, at(0)).await);
    assert!(f
        .locks
        .reserve_lock(&user, &name, &booking(&waiter, 0, 100))
        .await
        .unwrap());
    let stored = f.stored(&user, "job").await.unwrap();
    assert_eq!(
        stored.reserved_until,
        Some(at(2_100)),
        "two seconds from its write"
    );
    assert_eq!(
        f.release(&user, "job", &holder, at(200)).await,
        lock_service::store::Released::Freed
    );

    assert_eq!(
        f.take_leased(&user, "job", &other, 10, None, at(300)).await,
        Acquired::Reserved { until: at(2_100) },
        "a free lock reserved for another waiter is refused"
    );
    let sight = f
        .locks
        .look_at_lock(&user, &name, &waiter, at(300))
        .await
        .unwrap();
    assert!(sight.open && !sight.held, "{sight:?}");
    let (outcome, calls) = f
        .calls
        .during(f.take_leased(&user, "job", &waiter, 10, None, at(400)))
        .await;
    assert_eq!(granted(outcome).lease_id, waiter);
    assert_eq!(calls, 1, "the reserved grant is one write");
    let stored = f.stored(&user, "job").await.unwrap();
    assert_eq!(
        stored.reserved_until, None,
        "the grant removed the reservation"
    );
}

#[apply(engines)]
async fn the_longer_waiter_takes_over_a_reservation_and_not_the_other_way(f: Stores, user: UserId) {
    let (holder, older, younger) = (
        LeaseId::generate(),
        LeaseId::generate(),
        LeaseId::generate(),
    );
    let name = lock_name("job");
    granted(f.take_leased(&user, "job", &holder, 10, None, at(0)).await);
    assert!(reserve(&f, &user, &name, booking(&younger, 500, 600)).await);
    assert!(
        reserve(&f, &user, &name, booking(&older, 100, 700)).await,
        "an older waiter takes it over"
    );
    assert!(
        !reserve(&f, &user, &name, booking(&younger, 500, 800)).await,
        "a younger one does not"
    );
    assert!(
        reserve(&f, &user, &name, booking(&older, 100, 900)).await,
        "its waiter renews it"
    );
    let sight = f
        .locks
        .look_at_lock(&user, &name, &younger, at(1_000))
        .await
        .unwrap();
    let standing = sight.reservation.expect("a reservation stands");
    assert!(standing.is_for(&older) && !sight.open && sight.held);
    assert_eq!((standing.until, standing.since), (at(2_900), at(100)));
}

#[apply(engines)]
async fn a_reservation_lapses_by_itself_and_only_its_waiter_withdraws_it(f: Stores, user: UserId) {
    let (waiter, other) = (LeaseId::generate(), LeaseId::generate());
    let name = lock_name("job");
    let first = LeaseId::generate();
    granted(f.take_leased(&user, "job", &first, 1, None, at(0)).await);
    assert!(f
        .locks
        .reserve_lock(&user, &name, &booking(&waiter, 0, 0))
        .await
        .unwrap());
    assert_eq!(
        f.take_leased(&user, "job", &other, 10, None, at(1_999))
            .await,
        Acquired::Reserved { until: at(2_000) },
        "an expired lease reserved for a waiter is refused too"
    );
    let taken = granted(
        f.take_leased(&user, "job", &other, 10, None, at(2_000))
            .await,
    );
    assert_eq!(
        taken.lease_id, other,
        "the reservation lapsed at reservedUntil"
    );

    let freed = at(2_100);
    assert!(f
        .locks
        .reserve_lock(&user, &name, &booking(&waiter, 0, 2_050))
        .await
        .unwrap());
    let withdraw = |lease| {
        f.locks
            .withdraw_lock_reservation(&user, &name, lease, freed)
    };
    assert!(
        !withdraw(&other).await.unwrap(),
        "only its waiter withdraws it"
    );
    assert!(withdraw(&waiter).await.unwrap());
    assert_eq!(f.stored(&user, "job").await.unwrap().reserved_until, None);
    let missing = lock_name("never");
    assert!(!f
        .locks
        .reserve_lock(&user, &missing, &booking(&waiter, 0, 0))
        .await
        .unwrap());
    assert_eq!(
        f.stored(&user, "never").await,
        None,
        "reserving creates nothing"
    );
}

#[apply(engines)]
async fn a_reserved_permit_slot_goes_to_its_waiter_and_the_others_stay_free(
    f: Stores,
    user: UserId,
) {
    let (a, b, waiter, other) = (
        LeaseId::generate(),
        LeaseId::generate(),
        LeaseId::generate(),
        LeaseId::generate(),
    );
    let pool = semaphore("pool");
    let held = |(outcome, _)| match outcome {
        PermitAcquired::Granted { permit, .. } => permit,
        other => panic!("not granted: {other:?}"),
    };
    let first = held(take(&f, &user, "pool", 2, &a, None, 0).await);
    let second = held(take(&f, &user, "pool", 2, &b, None, 0).await);
    let sight = f
        .locks
        .look_at_semaphore(&user, &pool, permits(2), &waiter, at(10))
        .await
        .unwrap();
    assert!(sight.held && !sight.open);
    let slot = sight.slot.expect("a slot to reserve");
    let booked = booking(&waiter, 0, 10);
    assert!(f
        .locks
        .reserve_permit(&user, &pool, permits(2), slot, &booked)
        .await
        .unwrap());
    let (reserved_holder, free_holder) = if slot == first.slot {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let release = |lease| f.locks.release_permit(&user, &pool, lease, None, at(20));
    release(reserved_holder).await.unwrap();
    let (outcome, _) = take(&f, &user, "pool", 2, &other, None, 30).await;
    assert!(
        matches!(outcome, PermitAcquired::Held { .. }),
        "{outcome:?}"
    );
    release(free_holder).await.unwrap();
    let (outcome, _) = take(&f, &user, "pool", 2, &other, None, 40).await;
    let granted_other = held((outcome, 0));
    assert_ne!(granted_other.slot, slot, "the unreserved slot is anyone's");
    let (outcome, _) = take(&f, &user, "pool", 2, &waiter, None, 50).await;
    assert_eq!(
        held((outcome, 0)).slot,
        slot,
        "the reserved slot is its waiter's"
    );
    assert_ne!(second.slot, first.slot);
}
