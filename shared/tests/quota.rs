//! The quota of lock names on every engine (moto and dynalite, each started
//! on a free port for each test): no interleaving can exceed or wear it down.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lock_service::store::quota::{Slot, HEAL_INTERVAL_MILLIS, IN_FLIGHT_MILLIS, NAMES_KEY};
use lock_service::store::{Acquired, Deleted, Grant, LockStore};
use lock_service::types::{LeaseId, LeaseTtl, Requester, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{at, engines, lock_name as name, Stores, LOCKS_TABLE};

/// Acquires `lock` for a new lease, with an optional TTL in seconds.
async fn take(
    locks: &LockStore,
    user: &UserId,
    lock: &str,
    ttl: Option<u64>,
    now: Timestamp,
) -> Acquired {
    let requester = Requester::parse("r").unwrap();
    let grant = Grant {
        requester: &requester,
        lease: &LeaseId::generate(),
        ttl: ttl.map(|seconds| LeaseTtl::from_seconds(seconds).unwrap()),
        idempotency_key: None,
    };
    locks.acquire(user, &name(lock), &grant, now).await.unwrap()
}

/// Releases `lock` whatever holds it, then deletes it.
async fn release_and_delete(locks: &LockStore, user: &UserId, lock: &str, now: Timestamp) {
    locks.force_release(user, &name(lock), now).await.unwrap();
    assert_eq!(
        locks.delete(user, &name(lock), now).await.unwrap(),
        Deleted::Done
    );
}

/// Adds `slot` to `user`'s names by hand, as a reservation whose acquire
/// then crashed before creating its lock.
async fn reserve_by_hand(f: &Stores, user: &UserId, slot: &Slot) {
    use aws_sdk_dynamodb::primitives::Blob;
    let slot = AttributeValue::Bs(vec![Blob::new(slot.bytes().to_vec())]);
    update_names_by_hand(f, user, "ADD slots :slot", slot).await;
}

/// Applies `update` (with `:slot`) to `user`'s names item, bypassing the store.
async fn update_names_by_hand(f: &Stores, user: &UserId, update: &str, slot: AttributeValue) {
    f.client
        .update_item()
        .table_name(LOCKS_TABLE)
        .key("userId", AttributeValue::S(user.to_string()))
        .key("lockName", AttributeValue::S(NAMES_KEY.into()))
        .update_expression(update)
        .expression_attribute_values(":slot", slot)
        .send()
        .await
        .unwrap();
}

/// The quota of lock names: exactly one of 16 simultaneous new names is
/// admitted at quota - 1; at the quota a new name is refused and writes
/// nothing while existing names take one write; a delete frees a place at
/// once; a lock that vanishes behind the store's back (DynamoDB TTL) or a
/// reservation abandoned by a crash comes back at the first heal, at most
/// one per tenant per five minutes, never while it may still be in flight.
#[apply(engines)]
async fn the_quota_admits_exactly_its_names_and_heals(f: Stores) {
    let locks = f.locks.clone().with_quota(Some(QUOTA));
    let user = UserId::generate();
    exactly_one_of_sixteen_new_names_fits(&locks, &user).await;
    at_the_quota_only_existing_names_are_granted(&f, &locks, &user).await;
    a_delete_frees_a_place_at_once(&f, &locks, &user).await;
    vanished_names_come_back_at_a_heal(&f, &locks, &user).await;
}

/// The quota of the suite's tests.
const QUOTA: u32 = 5;

/// At quota - 1, 16 simultaneous new names: one is admitted.
async fn exactly_one_of_sixteen_new_names_fits(locks: &LockStore, user: &UserId) {
    for n in 0..QUOTA - 1 {
        let outcome = take(locks, user, &format!("q-{n}"), None, at(0)).await;
        assert!(matches!(outcome, Acquired::Granted(_)), "{outcome:?}");
    }
    let racers: Vec<_> = (0..16)
        .map(|n| {
            let (locks, user) = (locks.clone(), user.clone());
            tokio::spawn(
                async move { take(&locks, &user, &format!("new-{n:02}"), None, at(0)).await },
            )
        })
        .collect();
    let mut admitted = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Acquired::Granted(_) => admitted += 1,
            Acquired::QuotaExceeded => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(admitted, 1, "exactly one new name at quota - 1");
    assert_eq!(
        locks.list(user).await.unwrap().len(),
        QUOTA as usize,
        "the names item is not listed"
    );
}

/// At the quota: a new name is refused and writes nothing; an existing
/// (released) name is acquired in one write.
async fn at_the_quota_only_existing_names_are_granted(
    f: &Stores,
    locks: &LockStore,
    user: &UserId,
) {
    let (refused, calls) = f
        .calls
        .during(take(locks, user, "one-too-many", None, at(0)))
        .await;
    assert_eq!(refused, Acquired::QuotaExceeded);
    assert!(calls <= 4, "refused at the quota in {calls} calls");
    assert_eq!(locks.get(user, &name("one-too-many")).await.unwrap(), None);
    locks
        .force_release(user, &name("q-0"), at(0))
        .await
        .unwrap();
    let (again, calls) = f.calls.during(take(locks, user, "q-0", None, at(0))).await;
    assert!(matches!(again, Acquired::Granted(_)));
    assert_eq!(calls, 1, "an existing name: one write");
}

/// Delete: a held lock is refused; a free one frees its place at once.
async fn a_delete_frees_a_place_at_once(f: &Stores, locks: &LockStore, user: &UserId) {
    assert_eq!(
        locks.delete(user, &name("q-0"), at(0)).await.unwrap(),
        Deleted::Held
    );
    let (_, before) = locks
        .force_release(user, &name("q-0"), at(0))
        .await
        .unwrap();
    let deleted_token = before.unwrap().fencing_token;
    let (deleted, calls) = f
        .calls
        .during(locks.delete(user, &name("q-0"), at(0)))
        .await;
    assert_eq!(deleted.unwrap(), Deleted::Done);
    assert_eq!(calls, 2, "the delete and the element taken out");
    assert_eq!(
        locks.delete(user, &name("q-0"), at(0)).await.unwrap(),
        Deleted::NotFound
    );
    let (created, calls) = f.calls.during(take(locks, user, "q-0", None, at(1))).await;
    let Acquired::Granted(created) = created else {
        panic!("{created:?}")
    };
    // The deleted lock's tombstone comes back with the refused write where
    // the engine returns the old item; elsewhere a read finds it.
    let expected = if f.kind.returns_old_item_on_failed_condition() {
        3
    } else {
        4
    };
    assert_eq!(
        calls, expected,
        "a new name: refused write, (the read that finds no lock), reserve, create"
    );
    assert!(
        created.fencing_token > deleted_token,
        "tokens go on across the delete"
    );
}

/// A lock that vanishes behind the store's back (TTL) or a crashed
/// reservation comes back at the next heal, never while it may still be in
/// flight.
async fn vanished_names_come_back_at_a_heal(f: &Stores, locks: &LockStore, user: &UserId) {
    // TTL deletes a lock: its place stays taken until a heal is due (five
    // minutes after the names item was started), then comes back.
    testkit::delete_behind_the_store(&f.client, user, "q-1").await;
    let early = at(HEAL_INTERVAL_MILLIS - 1);
    assert_eq!(
        take(locks, user, "after-ttl", None, early).await,
        Acquired::QuotaExceeded
    );
    let due = at(HEAL_INTERVAL_MILLIS);
    assert!(matches!(
        take(locks, user, "after-ttl", None, due).await,
        Acquired::Granted(_)
    ));
    assert_eq!(
        take(locks, user, "still-full", None, due).await,
        Acquired::QuotaExceeded
    );

    // A crashed reservation: not taken out while it may be in flight, taken
    // out at the next heal once older than that.
    release_and_delete(locks, user, "after-ttl", due).await;
    let next_heal = due.millis() + HEAL_INTERVAL_MILLIS;
    reserve_by_hand(
        f,
        user,
        &Slot::new(Timestamp::from_millis(next_heal - IN_FLIGHT_MILLIS + 1)),
    )
    .await;
    assert_eq!(
        take(
            locks,
            user,
            "in-flight",
            None,
            Timestamp::from_millis(next_heal)
        )
        .await,
        Acquired::QuotaExceeded
    );
    reserve_by_hand(f, user, &Slot::new(Timestamp::from_millis(next_heal))).await; // a second one, young
    let later = next_heal + HEAL_INTERVAL_MILLIS;
    let healed = take(locks, user, "healed", None, Timestamp::from_millis(later)).await;
    assert!(
        matches!(healed, Acquired::Granted(_)),
        "the old crashed reservation went: {healed:?}"
    );
    assert_eq!(
        take(locks, user, "no-room", None, Timestamp::from_millis(later)).await,
        Acquired::QuotaExceeded
    );
}

/// A tenant's first locks, all at once: 16 new names are all admitted, and
/// 16 acquires of one new name grant it once (the others see it held),
/// while the names item is being started under them.
#[apply(engines)]
async fn a_new_tenants_first_names_race_without_refusals(f: Stores) {
    let locks = f.locks.clone().with_quota(Some(100));
    for same_name in [false, true] {
        let user = UserId::generate();
        let racers: Vec<_> = (0..16)
            .map(|n| {
                let (locks, user) = (locks.clone(), user.clone());
                let lock = if same_name {
                    "shared".to_owned()
                } else {
                    format!("own-{n:02}")
                };
                tokio::spawn(async move { take(&locks, &user, &lock, None, at(0)).await })
            })
            .collect();
        let mut granted = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Acquired::Granted(_) => granted += 1,
                Acquired::Held { .. } => assert!(same_name, "a distinct name was held"),
                other => panic!("{other:?} far below the quota"),
            }
        }
        assert_eq!(
            granted,
            if same_name { 1 } else { 16 },
            "same name: {same_name}"
        );
        let listed = locks.list(&user).await.unwrap().len();
        assert_eq!(listed, if same_name { 1 } else { 16 });
    }
}

/// No interleaving wears the quota down or lets it be exceeded: 12 clients
/// race acquires of new and existing names (with and without a 1 s TTL, so
/// leases expire under them), unlocks, deletes and deletions behind the
/// store's back (DynamoDB TTL), for 60 rounds, while an observer lists the
/// tenant's locks; the list never holds more than the quota. Then, once
/// everything is deleted, exactly the quota of new names fits.
#[apply(engines)]
async fn racing_names_never_exceed_or_wear_down_the_quota(f: Stores) {
    const QUOTA: usize = 5;
    let locks = f.locks.clone().with_quota(Some(QUOTA as u32));
    let user = UserId::generate();
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let (locks, user, done) = (locks.clone(), user.clone(), done.clone());
        tokio::spawn(async move {
            let mut most = 0;
            while !done.load(Ordering::SeqCst) {
                let listed = locks.list(&user).await.unwrap().len();
                assert!(listed <= QUOTA, "{listed} names at a quota of {QUOTA}");
                most = most.max(listed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            most
        })
    };
    for round in 0..60 {
        let clients: Vec<_> = (0..12)
            .map(|client| {
                let (locks, user, db) = (locks.clone(), user.clone(), f.client.clone());
                tokio::spawn(async move {
                    // Eight names, so new and existing ones keep meeting.
                    let lock = format!("n-{}", (client * 7 + round * 3) % 8);
                    let now = Timestamp::now();
                    match (client + round) % 6 {
                        0 | 1 => drop(take(&locks, &user, &lock, None, now).await),
                        2 => drop(take(&locks, &user, &lock, Some(1), now).await),
                        3 => drop(locks.force_release(&user, &name(&lock), now).await.unwrap()),
                        4 => drop(locks.delete(&user, &name(&lock), now).await.unwrap()),
                        _ if client % 4 == 0 => {
                            testkit::delete_behind_the_store(&db, &user, &lock).await
                        }
                        _ => {
                            locks.force_release(&user, &name(&lock), now).await.unwrap();
                            locks.delete(&user, &name(&lock), now).await.unwrap();
                        }
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        let listed = locks.list(&user).await.unwrap().len();
        assert!(
            listed <= QUOTA,
            "round {round}: {listed} names at a quota of {QUOTA}"
        );
    }
    done.store(true, Ordering::SeqCst);
    let most = observer.await.unwrap();
    assert!(most > 0, "the observer saw the race");

    // Everything deleted; names that TTL removed come back at the next heal,
    // due five minutes later (the clock is moved on rather than waited for).
    let later =
        Timestamp::from_millis(Timestamp::now().millis() + HEAL_INTERVAL_MILLIS + IN_FLIGHT_MILLIS);
    for lock in locks.list(&user).await.unwrap() {
        release_and_delete(&locks, &user, lock.lock_name.as_str(), later).await;
    }
    let mut admitted = BTreeSet::new();
    for n in 0..QUOTA + 1 {
        if let Acquired::Granted(lock) =
            take(&locks, &user, &format!("fresh-{n}"), None, later).await
        {
            admitted.insert(lock.lock_name.to_string());
        }
    }
    assert_eq!(
        admitted.len(),
        QUOTA,
        "exactly the quota fits again: {admitted:?}"
    );
}

/// The two interleavings that let the old counter drift down, replayed
/// step by step: a heal between a delete's two writes, and two racing
/// reservations of one new name followed by a heal. The quota still holds.
#[apply(engines)]
async fn the_interleavings_that_wore_down_the_old_counter_do_not(f: Stores) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    let locks = f.locks.clone().with_quota(Some(3));
    let user = UserId::generate();
    for lock in ["a", "b", "c"] {
        assert!(matches!(
            take(&locks, &user, lock, None, at(0)).await,
            Acquired::Granted(_)
        ));
    }
    // A delete of `c` whose first write (the DeleteItem) lands ...
    let c = f
        .client
        .get_item()
        .table_name(LOCKS_TABLE)
        .key("userId", S(user.to_string()))
        .key("lockName", S("c".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let c_slot = c["slot"].clone();
    testkit::delete_behind_the_store(&f.client, &user, "c").await;
    // ... then a heal (due) runs before its second write ...
    let due = at(HEAL_INTERVAL_MILLIS);
    assert!(matches!(
        take(&locks, &user, "d", None, due).await,
        Acquired::Granted(_)
    ));
    // ... which then lands: it takes out what the heal already took out.
    update_names_by_hand(&f, &user, "DELETE slots :slot", c_slot).await;
    assert_eq!(
        take(&locks, &user, "e", None, due).await,
        Acquired::QuotaExceeded,
        "3 names: a, b, d"
    );

    // Two reservations of one new name race at quota - 1, then a heal.
    release_and_delete(&locks, &user, "d", due).await;
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (locks, user) = (locks.clone(), user.clone());
            tokio::spawn(async move { take(&locks, &user, "x", None, due).await })
        })
        .collect();
    let mut granted = 0;
    for racer in racers {
        granted += usize::from(matches!(racer.await.unwrap(), Acquired::Granted(_)));
    }
    assert_eq!(granted, 1);
    let next = Timestamp::from_millis(due.millis() + HEAL_INTERVAL_MILLIS + IN_FLIGHT_MILLIS);
    assert_eq!(
        take(&locks, &user, "y", None, next).await,
        Acquired::QuotaExceeded,
        "a, b, x"
    );
    assert_eq!(locks.list(&user).await.unwrap().len(), 3);
}
