//! Waiting places on every engine (moto and dynalite, each started on a
//! free port for each test): at most a set number of one user's acquires
//! wait at once.

use std::collections::BTreeSet;

use lock_service::store::{Place, Released};
use lock_service::types::{LeaseId, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{at, engines, lock_name as name, user, Stores};

/// `owner` asks for one of `limit` waiting places of `user` until `until`,
/// at `now`.
async fn place(
    f: &Stores,
    user: &UserId,
    limit: u32,
    owner: &str,
    until: Timestamp,
    now: Timestamp,
) -> Place {
    f.locks
        .take_waiting_place(user, limit, owner, until, now)
        .await
        .unwrap()
}

/// Waiting places: each one taken in one write while places are free, none
/// beyond the limit (the answer says when the first lapses), one given back
/// is free again, one whose holder died lapses at its time, and one that
/// lapsed cannot be given back by its old owner over its new one.
#[apply(engines)]
async fn waiting_places_are_limited_given_back_and_lapse(f: Stores, user: UserId) {
    let now = at(0);
    let mut taken = BTreeSet::new();
    for (owner, until) in [("a", 7_000), ("b", 6_000), ("c", 9_000)] {
        let (place, calls) = f
            .calls
            .during(place(&f, &user, 3, owner, at(until), now))
            .await;
        let Place::Taken(place) = place else {
            panic!("{owner}: no place with places free")
        };
        assert!(calls <= 5, "{owner}: {calls} calls");
        taken.insert((place, owner));
    }
    assert_eq!(
        taken.iter().map(|(p, _)| *p).collect::<BTreeSet<_>>(),
        BTreeSet::from([0, 1, 2])
    );
    let full = place(&f, &user, 3, "d", at(9_000), now).await;
    assert_eq!(
        full,
        Place::Full {
            next_lapse: at(6_000)
        }
    );
    // Another tenant's places are its own.
    let other = place(&f, &UserId::generate(), 3, "x", at(1), now).await;
    assert!(matches!(other, Place::Taken(_)));

    let (a_place, _) = *taken.iter().find(|(_, owner)| *owner == "a").unwrap();
    f.locks
        .give_back_waiting_place(&user, a_place, "a")
        .await
        .unwrap();
    let d = place(&f, &user, 3, "d", at(9_000), now).await;
    assert_eq!(d, Place::Taken(a_place), "the place given back");
    // b's place lapses at its time (its waiter died): free from just after.
    let lapsed = place(&f, &user, 3, "e", at(20_000), at(6_000)).await;
    assert!(matches!(lapsed, Place::Full { .. }), "not before its time");
    let e = place(&f, &user, 3, "e", at(20_000), at(6_001)).await;
    let (b_place, _) = *taken.iter().find(|(_, owner)| *owner == "b").unwrap();
    assert_eq!(e, Place::Taken(b_place));
    // b comes back late: its give-back leaves e's place alone.
    f.locks
        .give_back_waiting_place(&user, b_place, "b")
        .await
        .unwrap();
    let after = place(&f, &user, 3, "f", at(20_000), at(6_002)).await;
    assert!(matches!(after, Place::Full { .. }), "e still has it");
    // The limit can be lowered under taken places: only the first ones count.
    let one = place(&f, &UserId::generate(), 1, "g", at(1), now).await;
    assert_eq!(one, Place::Taken(0));
    let released = f
        .locks
        .release(&user, &name("none"), &LeaseId::generate(), now)
        .await;
    assert_eq!(
        released.unwrap(),
        Released::NotFound,
        "places are not locks"
    );
}
