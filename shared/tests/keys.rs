//! The key store on every engine (moto and dynalite, each started on a free
//! port for each test): rotation that a thief holding an old key cannot
//! repeat, revocation of the calling key and of all the others, and the
//! per-user record that says which keys are a user's.

use lock_service::keys::ApiKey;
use lock_service::store::keys::ROTATION_RETRY_MILLIS;
use lock_service::store::users::MAX_KEYS_PER_USER;
use lock_service::store::{KeyStanding, KeyStore, RevokedOthers, Rotated};
use lock_service::types::{IdempotencyKey, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{at, engines, Stores};

fn idem(key: &str) -> IdempotencyKey {
    IdempotencyKey::parse(key).unwrap()
}

/// A new user and its key, signed up at `testkit::T0`.
async fn new_user(keys: &KeyStore) -> (UserId, ApiKey) {
    let (user, key) = (UserId::generate(), ApiKey::generate());
    keys.sign_up(&key.hash(), &user, at(0)).await.unwrap();
    (user, key)
}

/// Rotates `old` with `grace` ms and `key`; the new key, or the outcome.
async fn rotate(
    keys: &KeyStore,
    old: &ApiKey,
    user: &UserId,
    grace: u64,
    key: Option<&str>,
    now: Timestamp,
) -> Result<ApiKey, Rotated> {
    let key = key.map(idem);
    match keys
        .rotate(old, user, grace, key.as_ref(), now)
        .await
        .unwrap()
    {
        Rotated::To { key, .. } => Ok(key),
        other => Err(other),
    }
}

/// A rotation gives a new key for the same user; the old one stops at once
/// (then may only retry for 15 minutes); only a retry with the rotation's own
/// `Idempotency-Key`, within those 15 minutes, gets the new key back: another
/// key, none, or later is `AlreadyRotated`; a rotation without a key cannot
/// be retried at all.
#[apply(engines)]
async fn only_a_retry_of_the_rotation_gets_its_new_key(f: Stores) {
    let (user, old) = new_user(&f.keys).await;
    let (rotated, calls) = f
        .calls
        .during(rotate(&f.keys, &old, &user, 0, Some("rotation-1"), at(0)))
        .await;
    let new = rotated.unwrap();
    assert_eq!(
        calls, 5,
        "read key and record, put the new key, add it, mark the old"
    );
    let record = f.keys.record(&old.hash()).await.unwrap().unwrap();
    assert_eq!(record.standing(at(0)), KeyStanding::RotationRetry);
    assert_eq!(f.live_user(&new.hash(), at(0)).await, Some(user.clone()));
    assert_eq!(f.live_user(&old.hash(), at(0)).await, None);

    let soon = at(5);
    let (retried, calls) = f
        .calls
        .during(rotate(&f.keys, &old, &user, 0, Some("rotation-1"), soon))
        .await;
    assert_eq!(retried.unwrap(), new, "the same new key");
    assert_eq!(calls, 1, "a retry only reads");
    for other in [Some("rotation-2"), None] {
        let again = rotate(&f.keys, &old, &user, 0, other, soon).await;
        assert_eq!(again.unwrap_err(), Rotated::AlreadyRotated, "{other:?}");
    }
    let late = at(ROTATION_RETRY_MILLIS);
    let too_late = rotate(&f.keys, &old, &user, 0, Some("rotation-1"), late).await;
    assert_eq!(too_late.unwrap_err(), Rotated::AlreadyRotated);
    let stranger = rotate(&f.keys, &new, &UserId::generate(), 0, None, at(0)).await;
    assert_eq!(stranger.unwrap_err(), Rotated::Refused);

    // Without an Idempotency-Key, no call of the old key gets the new one.
    let third = rotate(&f.keys, &new, &user, 0, None, at(0)).await.unwrap();
    let retry = rotate(&f.keys, &new, &user, 0, None, soon).await;
    assert_eq!(retry.unwrap_err(), Rotated::AlreadyRotated);
    assert_eq!(f.live_user(&third.hash(), at(0)).await, Some(user));
}

/// A grace period keeps the old key working, but it cannot rotate again
/// (with any key); of 8 concurrent rotations of one key with one
/// `Idempotency-Key`, all get the same new key; with 8 different ones,
/// exactly one does.
#[apply(engines)]
async fn a_key_rotates_once_whatever_its_grace(f: Stores) {
    let (user, old) = new_user(&f.keys).await;
    let day = 86_400_000;
    let new = rotate(&f.keys, &old, &user, day, Some("r"), at(0))
        .await
        .unwrap();
    assert_eq!(
        f.live_user(&old.hash(), at(day - 1)).await,
        Some(user.clone())
    );
    assert_eq!(f.live_user(&old.hash(), at(day)).await, None);
    let during_grace = at(ROTATION_RETRY_MILLIS + 1);
    for key in [Some("r"), Some("thief"), None] {
        let again = rotate(&f.keys, &old, &user, day, key, during_grace).await;
        assert_eq!(again.unwrap_err(), Rotated::AlreadyRotated, "{key:?}");
    }

    let mut current = new;
    for same_key in [true, false] {
        let rotations: Vec<_> = (0..8)
            .map(|n| {
                let (keys, current, user) = (f.keys.clone(), current.clone(), user.clone());
                let key = if same_key {
                    "one".to_owned()
                } else {
                    format!("k-{n}")
                };
                tokio::spawn(
                    async move { rotate(&keys, &current, &user, 0, Some(&key), at(0)).await },
                )
            })
            .collect();
        let mut successors = Vec::new();
        for rotation in rotations {
            match rotation.await.unwrap() {
                Ok(key) => successors.push(key),
                Err(other) => assert_eq!(other, Rotated::AlreadyRotated, "same key: {same_key}"),
            }
        }
        if same_key {
            assert_eq!(successors.len(), 8, "all get an answer");
            assert!(
                successors.windows(2).all(|pair| pair[0] == pair[1]),
                "one successor"
            );
        } else {
            assert_eq!(successors.len(), 1, "exactly one rotation");
        }
        assert_eq!(
            f.live_user(&successors[0].hash(), at(0)).await,
            Some(user.clone())
        );
        current = successors.swap_remove(0);
    }
}

/// Revoking the others: every other key of the user that could still work
/// stops (the old one in its grace included), the caller's stays, another
/// user's keys are untouched; a retry revokes none; a rotated-out key may not
/// (a thief with it cannot lock the owner out). Revoking one key: two
/// writes, final, repeatable, and only a key of the caller's user.
#[apply(engines)]
async fn revoking_the_others_spares_only_the_caller(f: Stores) {
    let (user, first) = new_user(&f.keys).await;
    let (neighbour, theirs) = new_user(&f.keys).await;
    let day = 86_400_000;
    let second = rotate(&f.keys, &first, &user, day, Some("a"), at(0))
        .await
        .unwrap();
    let third = rotate(&f.keys, &second, &user, day, Some("b"), at(0))
        .await
        .unwrap();
    let thief = f
        .keys
        .revoke_others(&first.hash(), &user, at(0))
        .await
        .unwrap();
    assert_eq!(thief, RevokedOthers::CallerRotated);
    assert_eq!(f.live_user(&third.hash(), at(0)).await, Some(user.clone()));

    let (revoked, calls) = f
        .calls
        .during(f.keys.revoke_others(&third.hash(), &user, at(0)))
        .await;
    assert_eq!(revoked.unwrap(), RevokedOthers::Revoked(2));
    assert_eq!(
        calls, 5,
        "read key and record, revoke two, update the record"
    );
    for gone in [&first, &second] {
        assert_eq!(f.live_user(&gone.hash(), at(0)).await, None);
        let rotation = rotate(&f.keys, gone, &user, 0, Some("x"), at(0)).await;
        assert_eq!(rotation.unwrap_err(), Rotated::Refused, "revoked");
    }
    assert_eq!(f.live_user(&third.hash(), at(0)).await, Some(user.clone()));
    assert_eq!(
        f.live_user(&theirs.hash(), at(0)).await,
        Some(neighbour.clone())
    );
    let retry = f
        .keys
        .revoke_others(&third.hash(), &user, at(0))
        .await
        .unwrap();
    assert_eq!(retry, RevokedOthers::Revoked(0));
    let forged = f
        .keys
        .revoke_others(&theirs.hash(), &user, at(0))
        .await
        .unwrap();
    assert_eq!(forged, RevokedOthers::Refused, "another user's key");

    revoking_one_key_is_final_and_only_the_users(&f, &user, &third, (&neighbour, &theirs)).await;
}

/// Revoking `key` of `user`: two writes, final, repeatable, and only a key
/// of the caller's user (`neighbour`'s `theirs` is not).
async fn revoking_one_key_is_final_and_only_the_users(
    f: &Stores,
    user: &UserId,
    third: &ApiKey,
    (neighbour, theirs): (&UserId, &ApiKey),
) {
    let (revoked, calls) = f
        .calls
        .during(f.keys.revoke(&third.hash(), user, at(0)))
        .await;
    assert!(revoked.unwrap());
    assert_eq!(calls, 2, "the key and the user's record");
    assert!(
        f.keys.revoke(&third.hash(), user, at(0)).await.unwrap(),
        "repeatable"
    );
    assert_eq!(f.live_user(&third.hash(), at(0)).await, None);
    assert!(!f
        .keys
        .revoke(&ApiKey::generate().hash(), user, at(0))
        .await
        .unwrap());
    assert!(
        !f.keys.revoke(&theirs.hash(), user, at(0)).await.unwrap(),
        "not this user's"
    );
    assert_eq!(
        f.live_user(&theirs.hash(), at(0)).await,
        Some(neighbour.clone())
    );
}

/// A user has at most 20 keys that may work: a rotation beyond is refused
/// and writes nothing; keys past their retry window leave the record at the
/// next rotation; revoking the others makes room. A user from before
/// records (key registered alone) gets one at its first rotation.
#[apply(engines)]
async fn a_user_has_a_bounded_number_of_keys(f: Stores) {
    let (user, mut current) = new_user(&f.keys).await;
    let day = 86_400_000;
    for n in 1..MAX_KEYS_PER_USER {
        current = rotate(&f.keys, &current, &user, day, Some(&format!("r{n}")), at(0))
            .await
            .unwrap();
    }
    let working = f.keys.keys_of(&user).await.unwrap();
    assert_eq!(working.working(at(0)).count(), MAX_KEYS_PER_USER);
    let refused = rotate(&f.keys, &current, &user, day, Some("one-more"), at(0)).await;
    assert_eq!(refused.unwrap_err(), Rotated::TooManyKeys);
    assert_eq!(
        f.live_user(&current.hash(), at(0)).await,
        Some(user.clone()),
        "unchanged"
    );
    // A day and the retry window later, the old ones no longer count, and go.
    let later = at(day + ROTATION_RETRY_MILLIS);
    current = rotate(&f.keys, &current, &user, 0, Some("later"), later)
        .await
        .unwrap();
    let working = f.keys.keys_of(&user).await.unwrap();
    assert_eq!(
        working.working(later).count(),
        2,
        "the new key and the one it replaced"
    );
    assert_eq!(
        working.working(at(0)).count(),
        2,
        "the dead ones left the record"
    );
    assert_eq!(
        f.keys
            .revoke_others(&current.hash(), &user, later)
            .await
            .unwrap(),
        RevokedOthers::Revoked(1)
    );

    let (legacy, key) = (UserId::generate(), ApiKey::generate());
    f.keys.register(&key.hash(), &legacy, at(0)).await.unwrap();
    assert_eq!(
        f.keys
            .keys_of(&legacy)
            .await
            .unwrap()
            .working(at(0))
            .count(),
        0
    );
    let next = rotate(&f.keys, &key, &legacy, day, Some("first"), at(0))
        .await
        .unwrap();
    let working = f.keys.keys_of(&legacy).await.unwrap();
    assert_eq!(working.working(at(0)).count(), 2);
    let revoked = f
        .keys
        .revoke_others(&next.hash(), &legacy, at(0))
        .await
        .unwrap();
    assert_eq!(
        revoked,
        RevokedOthers::Revoked(1),
        "the old key, in its grace"
    );
    assert_eq!(f.live_user(&key.hash(), at(0)).await, None);
}
