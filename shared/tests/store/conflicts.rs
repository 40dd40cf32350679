//! Multi-Region write conflicts: DynamoDB's multi-Region strongly
//! consistent tables refuse a write to an item that another Region is
//! writing with `ReplicatedWriteConflictException`, applying none of it.
//! The fault proxy answers so, on both engines. Each write path retries it
//! (the SDK's attempts) by the rules of a lost answer, so it lands once;
//! when every attempt is refused, the store says so and nothing changed;
//! racing acquires under conflicts grant the lock to one lease only.

use lock_service::error::StoreError;
use lock_service::keys::ApiKey;
use lock_service::store::{Acquired, Deleted, Place, Released, Renewed};
use lock_service::types::{IdempotencyKey, LeaseId, UserId};
use rstest::rstest;
use testkit::proxy::{Faults, Proxy};
use testkit::{granted, try_take, EngineKind, Stores};

use super::at;
use super::semaphores::{self, take};

/// Attempts the SDK makes of one request (its standard retry mode).
const ATTEMPTS: u64 = 3;

/// Runs `op` with the first two attempts of its next write refused as
/// conflicting: it must still land (the third attempt), and both refusals
/// must have struck.
async fn through_two_conflicts<T>(proxy: &Proxy, op: impl std::future::Future<Output = T>) -> T {
    let before = proxy.injected().conflicts;
    proxy.conflict_next_writes(ATTEMPTS - 1);
    let outcome = op.await;
    assert_eq!(proxy.injected().conflicts - before, ATTEMPTS - 1);
    proxy.conflict_next_writes(0);
    outcome
}

/// Every write of a lock's life (grant, keyed grant and its replay, renew,
/// unlock, force release, delete) lands once through two conflicts in a
/// row, with the outcome it has without them.
#[rstest]
#[case::moto(EngineKind::Moto)]
#[case::dynalite(EngineKind::Dynalite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lock_write_lands_once_through_conflicts(#[case] kind: EngineKind) {
    let (f, proxy) = Stores::behind_proxy(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let lock = granted(
        through_two_conflicts(&proxy, try_take(&f.locks, &user, "l", "a", &lease, at(0)))
            .await
            .unwrap(),
    );
    assert_eq!(f.stored(&user, "l").await.unwrap(), lock);
    let other_lease = LeaseId::generate();
    let other = try_take(&f.locks, &user, "l", "b", &other_lease, at(1));
    assert_eq!(
        through_two_conflicts(&proxy, other).await.unwrap(),
        Acquired::Held { expires_at: None },
        "a conflict retried is not a second grant"
    );
    let renewed = through_two_conflicts(&proxy, f.renew(&user, "l", &lease, None, at(2))).await;
    assert_eq!(renewed, Renewed::Extended { expires_at: None });
    let released = through_two_conflicts(&proxy, f.release(&user, "l", &lease, at(3))).await;
    assert_eq!(released, Released::Freed);

    let key = IdempotencyKey::parse("order-1").unwrap();
    let keyed = LeaseId::generate();
    let first = through_two_conflicts(
        &proxy,
        f.take_leased(&user, "l", &keyed, 60, Some(&key), at(4)),
    );
    let first = granted(first.await);
    assert!(first.fencing_token > lock.fencing_token);
    let fresh = LeaseId::generate();
    let replay = f.take_leased(&user, "l", &fresh, 60, Some(&key), at(5));
    assert_eq!(granted(through_two_conflicts(&proxy, replay).await), first);

    let (forced, _) = through_two_conflicts(&proxy, f.forced(&user, "l", at(6))).await;
    assert_eq!(forced, Released::Freed);
    f.assert_dead(&user, "l", &keyed, at(7)).await;
    let name = testkit::lock_name("l");
    let deleted = through_two_conflicts(&proxy, f.locks.delete(&user, &name, at(8))).await;
    assert_eq!(deleted.unwrap(), Deleted::Done);
    assert_eq!(f.stored(&user, "l").await, None);
}

/// A new name under a quota (slot, lock, its clearing), a permit's grant,
/// renewal and release, a semaphore's delete, a waiting place, and a key's
/// sign-up and revocation: each lands through two conflicts in a row.
#[rstest]
#[case::moto(EngineKind::Moto)]
#[case::dynalite(EngineKind::Dynalite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_semaphore_waiting_and_key_writes_land_through_conflicts(#[case] kind: EngineKind) {
    let (mut f, proxy) = Stores::behind_proxy(kind).await;
    f.locks = f.locks.clone().with_quota(Some(5));
    let user = UserId::generate();
    let lease = LeaseId::generate();
    for (offset, name) in [(0, "new-1"), (1, "new-2")] {
        // A new name: its first write and that write's retry conflict.
        let fresh = LeaseId::generate();
        let outcome = try_take(&f.locks, &user, name, "a", &fresh, at(offset));
        granted(through_two_conflicts(&proxy, outcome).await.unwrap());
    }

    let (permit, _) =
        through_two_conflicts(&proxy, take(&f, &user, "pool", 2, &lease, None, 10)).await;
    let permit = semaphores::granted(permit);
    let name = semaphores::name("pool");
    let slot = Some(semaphores::slot(permit.slot));
    let renew = f
        .locks
        .renew_permit(&user, &name, &lease, slot, None, at(11));
    assert!(matches!(
        through_two_conflicts(&proxy, renew).await.unwrap(),
        Renewed::Extended { .. }
    ));
    let release = f.locks.release_permit(&user, &name, &lease, slot, at(12));
    assert_eq!(
        through_two_conflicts(&proxy, release).await.unwrap(),
        Released::Freed
    );
    let delete = f.locks.delete_semaphore(&user, &name, at(13));
    assert_eq!(
        through_two_conflicts(&proxy, delete).await.unwrap(),
        Deleted::Done
    );

    let take_place = f
        .locks
        .take_waiting_place(&user, 2, "waiter", at(30_000), at(14));
    let place = through_two_conflicts(&proxy, take_place).await.unwrap();
    let Place::Taken(number) = place else {
        panic!("no waiting place: {place:?}")
    };
    let give_back = f.locks.give_back_waiting_place(&user, number, "waiter");
    through_two_conflicts(&proxy, give_back).await.unwrap();

    let (owner, key) = (UserId::generate(), ApiKey::generate());
    let hash = key.hash();
    through_two_conflicts(&proxy, f.keys.sign_up(&key.hash(), &owner, at(15)))
        .await
        .unwrap();
    assert_eq!(f.live_user(&key.hash(), at(16)).await, Some(owner.clone()));
    let revoked = through_two_conflicts(&proxy, f.keys.revoke(&hash, &owner, at(17)));
    assert!(revoked.await.unwrap());
    assert_eq!(f.live_user(&key.hash(), at(18)).await, None);
}

/// A write refused on every attempt is a [`StoreError::WriteConflict`]
/// (the API's `503 WRITE_CONFLICT`) and changed nothing; the client's retry
/// with the same lease is then granted once.
#[rstest]
#[case::moto(EngineKind::Moto)]
#[case::dynalite(EngineKind::Dynalite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_refused_on_every_attempt_changes_nothing(#[case] kind: EngineKind) {
    let (f, proxy) = Stores::behind_proxy(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    proxy.conflict_next_writes(ATTEMPTS);
    let refused = try_take(&f.locks, &user, "l", "a", &lease, at(0)).await;
    assert!(
        matches!(refused, Err(StoreError::WriteConflict)),
        "{refused:?}"
    );
    assert_eq!(proxy.injected().conflicts, ATTEMPTS);
    assert_eq!(f.stored(&user, "l").await, None, "nothing was written");

    let lock = granted(
        try_take(&f.locks, &user, "l", "a", &lease, at(1))
            .await
            .unwrap(),
    );
    proxy.conflict_next_writes(ATTEMPTS);
    let unlock = f
        .locks
        .release(&user, &testkit::lock_name("l"), &lease, at(2))
        .await;
    assert!(
        matches!(unlock, Err(StoreError::WriteConflict)),
        "{unlock:?}"
    );
    assert_eq!(f.stored(&user, "l").await.unwrap(), lock, "still held");
}

/// Eight acquirers race for one lock while one write in three is refused
/// as conflicting, five rounds: each round grants exactly one lease, the
/// one stored, whatever the others were answered.
#[rstest]
#[case::moto(EngineKind::Moto)]
#[case::dynalite(EngineKind::Dynalite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_acquires_under_conflicts_grant_one_lease(#[case] kind: EngineKind) {
    let (f, proxy) = Stores::behind_proxy(kind).await;
    let user = UserId::generate();
    for round in 0..5u64 {
        proxy.set(Faults::conflicts(1.0 / 3.0));
        let mut racers = tokio::task::JoinSet::new();
        for racer in 0..8 {
            let (locks, user) = (f.locks.clone(), user.clone());
            racers.spawn(async move {
                let lease = LeaseId::generate();
                let name = format!("racer-{racer}");
                let outcome = try_take(&locks, &user, "l", &name, &lease, at(round)).await;
                (lease, outcome)
            });
        }
        let mut winners = Vec::new();
        while let Some(joined) = racers.join_next().await {
            match joined.unwrap() {
                (lease, Ok(Acquired::Granted(lock))) => {
                    assert_eq!(lock.lease_id, lease);
                    winners.push(lease);
                }
                (_, Ok(Acquired::Held { .. }) | Err(StoreError::WriteConflict)) => {}
                (_, other) => panic!("round {round}: {other:?}"),
            }
        }
        proxy.set(Faults::default());
        assert!(winners.len() <= 1, "round {round}: two grants {winners:?}");
        let stored = f.stored(&user, "l").await.filter(|lock| lock.locked);
        assert_eq!(
            stored.as_ref().map(|lock| &lock.lease_id),
            winners.first(),
            "round {round}: the stored lease is the one granted"
        );
        if let [winner] = winners.as_slice() {
            assert_eq!(
                f.release(&user, "l", winner, at(round)).await,
                Released::Freed
            );
        }
    }
    assert!(proxy.injected().conflicts > 0, "no conflict struck");
}
