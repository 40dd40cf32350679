//! Tenants: each user's locks live in their own partition, and an API key
//! belongs to one user for good.

use lock_service::keys::ApiKey;
use lock_service::store::Released;
use lock_service::types::{LeaseId, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, Stores, T0};

use super::at;

#[apply(engines)]
async fn tenants_with_the_same_lock_names_stay_independent(f: Stores) {
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let (alice_lease, bob_lease) = (LeaseId::generate(), LeaseId::generate());
    let alice_lock = f
        .grant(&alice, "shared-name", "a", &alice_lease, at(0))
        .await;
    let bob_lock = f.grant(&bob, "shared-name", "b", &bob_lease, at(0)).await;
    assert_eq!(
        bob_lock.fencing_token,
        T0 * 1000 + 1,
        "bob's lock is his own, not alice's"
    );

    // Alice's lease means nothing in Bob's partition, and the reverse.
    assert_eq!(
        f.release(&bob, "shared-name", &alice_lease, at(1)).await,
        Released::NotHolder
    );
    assert_eq!(
        f.release(&alice, "shared-name", &bob_lease, at(1)).await,
        Released::NotHolder
    );
    f.grant(&bob, "only-bob", "b", &LeaseId::generate(), at(0))
        .await;

    assert_eq!(f.locks.list(&alice).await.unwrap(), vec![alice_lock]);
    let bob_names: Vec<_> = f
        .locks
        .list(&bob)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.lock_name.to_string())
        .collect();
    assert_eq!(bob_names, ["only-bob", "shared-name"]);
    assert_eq!(f.stored(&alice, "only-bob").await, None);
}

#[apply(engines)]
async fn api_keys_resolve_to_their_user_and_are_never_overwritten(f: Stores) {
    let key = ApiKey::generate();
    let user = UserId::generate();
    let (stored, calls) = f
        .calls
        .during(f.keys.register(&key.hash(), &user, at(0)))
        .await;
    stored.unwrap();
    assert_eq!(calls, 1);
    let (found, calls) = f
        .calls
        .during(f.live_user(&key.hash(), Timestamp::now()))
        .await;
    assert_eq!(found, Some(user.clone()));
    assert_eq!(calls, 1);
    let unknown = ApiKey::generate().hash();
    assert_eq!(f.live_user(&unknown, Timestamp::now()).await, None);

    let thief = UserId::generate();
    assert!(f.keys.register(&key.hash(), &thief, at(0)).await.is_err());
    assert_eq!(f.live_user(&key.hash(), Timestamp::now()).await, Some(user));
}
