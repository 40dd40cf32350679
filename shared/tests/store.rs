//! The store suite: the same DynamoDB semantics checked against every engine
//! (moto and dynalite, each started on a free port for each test).

use shared::keys::ApiKey;
use shared::store::{Acquired, KeyStore, LockStore, Released};
use shared::types::{LeaseId, Lock, LockName, Requester, Timestamp, UserId};
use testkit::{CallCounter, Engine, EngineKind, API_KEYS_TABLE, LOCKS_TABLE};

struct Fixture {
    kind: EngineKind,
    locks: LockStore,
    keys: KeyStore,
    calls: CallCounter,
    _engine: Engine,
}

async fn fixture(kind: EngineKind) -> Fixture {
    let (engine, client, calls) = testkit::engine_with_tables(kind).await;
    Fixture {
        kind,
        locks: LockStore::new(client.clone(), LOCKS_TABLE),
        keys: KeyStore::new(client, API_KEYS_TABLE),
        calls,
        _engine: engine,
    }
}

impl Fixture {
    /// Calls a lost race costs: one write, plus one read where the engine
    /// does not return the old item.
    fn calls_for_lost_race(&self) -> usize {
        if self.kind.returns_old_item_on_failed_condition() {
            1
        } else {
            2
        }
    }
}

fn name(s: &str) -> LockName {
    LockName::parse(s).unwrap()
}

fn who(s: &str) -> Requester {
    Requester::parse(s).unwrap()
}

fn granted(outcome: Acquired) -> Lock {
    match outcome {
        Acquired::Granted(lock) => lock,
        Acquired::Held => panic!("expected the lock to be granted"),
    }
}

const T0: u64 = 1_795_678_800_000;

pub async fn a_free_lock_is_granted_in_one_write(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let (outcome, calls) = f
        .calls
        .during(f.locks.acquire(
            &user,
            &name("resource-123"),
            &who("service-a"),
            &lease,
            Timestamp::from_millis(T0),
        ))
        .await;
    let lock = granted(outcome.unwrap());
    assert_eq!(calls, 1, "acquire must be one DynamoDB call");
    assert_eq!(lock.lock_name.as_str(), "resource-123");
    assert!(lock.locked);
    assert_eq!(lock.lease_id, lease);
    assert_eq!(lock.leased_by.as_str(), "service-a");
    assert_eq!(lock.created_at, Timestamp::from_millis(T0));
    assert_eq!(lock.updated_at, Timestamp::from_millis(T0));
    assert_eq!(lock.fencing_token, 1);
    assert_eq!(
        f.locks.get(&user, &name("resource-123")).await.unwrap(),
        Some(lock)
    );
}

pub async fn a_held_lock_is_refused_and_left_unchanged(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let first = granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("service-a"),
                &LeaseId::generate(),
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    // Same requester label, new lease: still refused (requester is only a label).
    for requester in ["service-a", "service-b"] {
        let (outcome, calls) = f
            .calls
            .during(f.locks.acquire(
                &user,
                &name("l"),
                &who(requester),
                &LeaseId::generate(),
                Timestamp::from_millis(T0 + 5),
            ))
            .await;
        assert_eq!(outcome.unwrap(), Acquired::Held);
        assert_eq!(calls, f.calls_for_lost_race());
    }
    assert_eq!(f.locks.get(&user, &name("l")).await.unwrap(), Some(first));
}

pub async fn sixteen_simultaneous_acquirers_get_exactly_one_grant(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    for round in 0..5 {
        let lock_name = name(&format!("contended-{round}"));
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (locks, user, lock_name) = (f.locks.clone(), user.clone(), lock_name.clone());
                tokio::spawn(async move {
                    let lease = LeaseId::generate();
                    let outcome = locks
                        .acquire(
                            &user,
                            &lock_name,
                            &who(&format!("worker-{i}")),
                            &lease,
                            Timestamp::now(),
                        )
                        .await
                        .unwrap();
                    (lease, outcome)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (lease, outcome) = task.await.unwrap();
            if let Acquired::Granted(lock) = outcome {
                assert_eq!(lock.lease_id, lease);
                winners.push(lease);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of 16 acquirers may win"
        );
        let stored = f.locks.get(&user, &lock_name).await.unwrap().unwrap();
        assert_eq!(stored.lease_id, winners[0]);
        assert_eq!(stored.fencing_token, 1);
    }
}

pub async fn release_frees_the_lock_and_the_next_grant_counts_up(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let first = granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("a"),
                &lease,
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    let (outcome, calls) = f
        .calls
        .during(
            f.locks
                .release(&user, &name("l"), &lease, Timestamp::from_millis(T0 + 10)),
        )
        .await;
    assert_eq!(outcome.unwrap(), Released::Released);
    assert_eq!(calls, 1, "unlock must be one DynamoDB call");

    let freed = f.locks.get(&user, &name("l")).await.unwrap().unwrap();
    assert!(!freed.locked);
    assert_eq!(
        freed.lease_id, lease,
        "a free lock still reports its last lease"
    );
    assert_eq!(freed.leased_by.as_str(), "a");
    assert_eq!(freed.updated_at, Timestamp::from_millis(T0 + 10));
    assert_eq!(freed.created_at, first.created_at);

    let next = LeaseId::generate();
    let second = granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("b"),
                &next,
                Timestamp::from_millis(T0 + 20),
            )
            .await
            .unwrap(),
    );
    assert_eq!(second.lease_id, next);
    assert_eq!(second.fencing_token, first.fencing_token + 1);
    assert_eq!(
        second.created_at, first.created_at,
        "createdAt is set by the first grant only"
    );
    assert_eq!(second.updated_at, Timestamp::from_millis(T0 + 20));
}

pub async fn a_stale_or_foreign_lease_cannot_release(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let old = LeaseId::generate();
    granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("a"),
                &old,
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    f.locks
        .release(&user, &name("l"), &old, Timestamp::from_millis(T0 + 1))
        .await
        .unwrap();
    let current = LeaseId::generate();
    let held = granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("b"),
                &current,
                Timestamp::from_millis(T0 + 2),
            )
            .await
            .unwrap(),
    );

    for stale in [old, LeaseId::generate()] {
        let (outcome, calls) = f
            .calls
            .during(
                f.locks
                    .release(&user, &name("l"), &stale, Timestamp::from_millis(T0 + 3)),
            )
            .await;
        assert_eq!(outcome.unwrap(), Released::NotHolder);
        assert_eq!(calls, f.calls_for_lost_race());
    }
    assert_eq!(f.locks.get(&user, &name("l")).await.unwrap(), Some(held));
}

pub async fn an_unknown_lock_is_not_found_and_not_created(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    assert_eq!(f.locks.get(&user, &name("never")).await.unwrap(), None);
    let (outcome, calls) = f
        .calls
        .during(f.locks.release(
            &user,
            &name("never"),
            &LeaseId::generate(),
            Timestamp::from_millis(T0),
        ))
        .await;
    assert_eq!(outcome.unwrap(), Released::NotFound);
    // No engine tells "no item" from "no old item returned": one read decides.
    assert_eq!(calls, 2);
    assert_eq!(f.locks.get(&user, &name("never")).await.unwrap(), None);
    assert!(f.locks.list(&user).await.unwrap().is_empty());
}

pub async fn retries_of_writes_that_succeeded_report_success(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let first = granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("a"),
                &lease,
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    // The same request again, as an SDK retry after a lost response sends it.
    let (outcome, calls) = f
        .calls
        .during(f.locks.acquire(
            &user,
            &name("l"),
            &who("a"),
            &lease,
            Timestamp::from_millis(T0),
        ))
        .await;
    let retried = granted(outcome.unwrap());
    assert_eq!(
        retried, first,
        "the retry sees its own grant, and nothing was written twice"
    );
    assert_eq!(calls, f.calls_for_lost_race());

    assert_eq!(
        f.locks
            .release(&user, &name("l"), &lease, Timestamp::from_millis(T0 + 1))
            .await
            .unwrap(),
        Released::Released
    );
    let (outcome, calls) = f
        .calls
        .during(
            f.locks
                .release(&user, &name("l"), &lease, Timestamp::from_millis(T0 + 1)),
        )
        .await;
    assert_eq!(
        outcome.unwrap(),
        Released::Released,
        "a retried unlock is still a success"
    );
    assert_eq!(calls, f.calls_for_lost_race());
    let freed = f.locks.get(&user, &name("l")).await.unwrap().unwrap();
    assert_eq!(freed.updated_at, Timestamp::from_millis(T0 + 1));

    // Once another lease holds the lock, the old lease's retries are refused.
    let next = LeaseId::generate();
    granted(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("b"),
                &next,
                Timestamp::from_millis(T0 + 2),
            )
            .await
            .unwrap(),
    );
    assert_eq!(
        f.locks
            .release(&user, &name("l"), &lease, Timestamp::from_millis(T0 + 3))
            .await
            .unwrap(),
        Released::NotHolder
    );
    assert_eq!(
        f.locks
            .acquire(
                &user,
                &name("l"),
                &who("a"),
                &lease,
                Timestamp::from_millis(T0 + 3)
            )
            .await
            .unwrap(),
        Acquired::Held
    );
}

pub async fn tenants_with_the_same_lock_names_stay_independent(kind: EngineKind) {
    let f = fixture(kind).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let alice_lease = LeaseId::generate();
    let bob_lease = LeaseId::generate();
    let alice_lock = granted(
        f.locks
            .acquire(
                &alice,
                &name("shared-name"),
                &who("a"),
                &alice_lease,
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    let bob_lock = granted(
        f.locks
            .acquire(
                &bob,
                &name("shared-name"),
                &who("b"),
                &bob_lease,
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );
    assert_eq!(
        bob_lock.fencing_token, 1,
        "bob's lock is his own, not alice's"
    );

    // Alice's lease means nothing in Bob's partition, and the reverse.
    assert_eq!(
        f.locks
            .release(
                &bob,
                &name("shared-name"),
                &alice_lease,
                Timestamp::from_millis(T0 + 1)
            )
            .await
            .unwrap(),
        Released::NotHolder
    );
    assert_eq!(
        f.locks
            .release(
                &alice,
                &name("shared-name"),
                &bob_lease,
                Timestamp::from_millis(T0 + 1)
            )
            .await
            .unwrap(),
        Released::NotHolder
    );
    granted(
        f.locks
            .acquire(
                &bob,
                &name("only-bob"),
                &who("b"),
                &LeaseId::generate(),
                Timestamp::from_millis(T0),
            )
            .await
            .unwrap(),
    );

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
    assert_eq!(f.locks.get(&alice, &name("only-bob")).await.unwrap(), None);
}

pub async fn list_reads_every_page_of_the_users_partition(kind: EngineKind) {
    let f = fixture(kind).await;
    let locks = f.locks.clone().with_page_size(2);
    let user = UserId::generate();
    let mut expected = Vec::new();
    for i in [3, 0, 4, 1, 2] {
        let lock_name = name(&format!("lock-{i}"));
        expected.push(granted(
            locks
                .acquire(
                    &user,
                    &lock_name,
                    &who("a"),
                    &LeaseId::generate(),
                    Timestamp::from_millis(T0),
                )
                .await
                .unwrap(),
        ));
    }
    expected.sort_by(|a, b| a.lock_name.cmp(&b.lock_name));
    let (listed, calls) = f.calls.during(locks.list(&user)).await;
    assert_eq!(listed.unwrap(), expected);
    assert_eq!(calls, 3, "5 locks in pages of 2 take 3 queries");
    assert!(locks.list(&UserId::generate()).await.unwrap().is_empty());
}

pub async fn api_keys_resolve_to_their_user_and_are_never_overwritten(kind: EngineKind) {
    let f = fixture(kind).await;
    let key = ApiKey::generate();
    let user = UserId::generate();
    let (stored, calls) = f
        .calls
        .during(
            f.keys
                .register(&key.hash(), &user, Timestamp::from_millis(T0)),
        )
        .await;
    stored.unwrap();
    assert_eq!(calls, 1);
    let (found, calls) = f.calls.during(f.keys.user_for(&key.hash())).await;
    assert_eq!(found.unwrap(), Some(user.clone()));
    assert_eq!(calls, 1);
    assert_eq!(
        f.keys.user_for(&ApiKey::generate().hash()).await.unwrap(),
        None
    );

    let thief = UserId::generate();
    assert!(f
        .keys
        .register(&key.hash(), &thief, Timestamp::from_millis(T0))
        .await
        .is_err());
    assert_eq!(f.keys.user_for(&key.hash()).await.unwrap(), Some(user));
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod moto {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(testkit::EngineKind::Moto).await }
            )*
        }
        mod dynalite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() { super::$test(testkit::EngineKind::Dynalite).await }
            )*
        }
    };
}

suite!(
    a_free_lock_is_granted_in_one_write,
    a_held_lock_is_refused_and_left_unchanged,
    sixteen_simultaneous_acquirers_get_exactly_one_grant,
    release_frees_the_lock_and_the_next_grant_counts_up,
    a_stale_or_foreign_lease_cannot_release,
    an_unknown_lock_is_not_found_and_not_created,
    retries_of_writes_that_succeeded_report_success,
    tenants_with_the_same_lock_names_stay_independent,
    list_reads_every_page_of_the_users_partition,
    api_keys_resolve_to_their_user_and_are_never_overwritten,
);
