//! The store suite: the same DynamoDB semantics checked against every engine
//! (moto and dynalite, each started on a free port for each test).

use lock_service::error::StoreError;
use lock_service::keys::ApiKey;
use lock_service::store::{Acquired, Grant, KeyStanding, KeyStore, LockStore, Released, Renewed};
use lock_service::types::{
    IdempotencyKey, LeaseId, LeaseTtl, Lock, LockName, Requester, Timestamp, UserId,
};
use testkit::{CallCounter, Engine, EngineKind, API_KEYS_TABLE, LOCKS_TABLE};

struct Fixture {
    kind: EngineKind,
    client: aws_sdk_dynamodb::Client,
    locks: LockStore,
    keys: KeyStore,
    calls: CallCounter,
    _engine: Engine,
}

async fn fixture(kind: EngineKind) -> Fixture {
    let (engine, client, calls) = testkit::engine_with_tables(kind).await;
    Fixture {
        kind,
        client: client.clone(),
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
        other => panic!("expected the lock to be granted, got {other:?}"),
    }
}

/// Acquires without TTL or idempotency key.
async fn take(
    locks: &LockStore,
    user: &UserId,
    lock: &str,
    requester: &str,
    lease: &LeaseId,
    now: Timestamp,
) -> Result<Acquired, StoreError> {
    let requester = who(requester);
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: None,
        idempotency_key: None,
    };
    locks.acquire(user, &name(lock), &grant, now).await
}

const T0: u64 = 1_795_678_800_000;

pub async fn a_free_lock_is_granted_in_one_write(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let (outcome, calls) = f
        .calls
        .during(take(
            &f.locks,
            &user,
            "resource-123",
            "service-a",
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
    assert_eq!(lock.expires_at, None);
    // A new lock's first token is the clock in microseconds, plus one.
    assert_eq!(lock.fencing_token, T0 * 1000 + 1);
    assert_eq!(
        f.locks.get(&user, &name("resource-123")).await.unwrap(),
        Some(lock)
    );
}

pub async fn a_held_lock_is_refused_and_left_unchanged(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let first = granted(
        take(
            &f.locks,
            &user,
            "l",
            "service-a",
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
            .during(take(
                &f.locks,
                &user,
                "l",
                requester,
                &LeaseId::generate(),
                Timestamp::from_millis(T0 + 5),
            ))
            .await;
        assert_eq!(outcome.unwrap(), Acquired::Held { expires_at: None });
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
                    let outcome = take(
                        &locks,
                        &user,
                        lock_name.as_str(),
                        &format!("worker-{i}"),
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
                winners.push(lock);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one of 16 acquirers may win"
        );
        let stored = f.locks.get(&user, &lock_name).await.unwrap().unwrap();
        assert_eq!(stored, winners[0], "the one grant is what is stored");
    }
}

pub async fn release_frees_the_lock_and_the_next_grant_counts_up(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    let first = granted(
        take(
            &f.locks,
            &user,
            "l",
            "a",
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
    assert_eq!(outcome.unwrap(), Released::Freed);
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
        take(
            &f.locks,
            &user,
            "l",
            "b",
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
        take(&f.locks, &user, "l", "a", &old, Timestamp::from_millis(T0))
            .await
            .unwrap(),
    );
    f.locks
        .release(&user, &name("l"), &old, Timestamp::from_millis(T0 + 1))
        .await
        .unwrap();
    let current = LeaseId::generate();
    let held = granted(
        take(
            &f.locks,
            &user,
            "l",
            "b",
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
        take(
            &f.locks,
            &user,
            "l",
            "a",
            &lease,
            Timestamp::from_millis(T0),
        )
        .await
        .unwrap(),
    );
    // The same request again, as an SDK retry after a lost response sends it.
    let (outcome, calls) = f
        .calls
        .during(take(
            &f.locks,
            &user,
            "l",
            "a",
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
        Released::Freed
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
        Released::Freed,
        "a retried unlock is still a success"
    );
    assert_eq!(calls, f.calls_for_lost_race());
    let freed = f.locks.get(&user, &name("l")).await.unwrap().unwrap();
    assert_eq!(freed.updated_at, Timestamp::from_millis(T0 + 1));

    // Once another lease holds the lock, the old lease's retries are refused.
    let next = LeaseId::generate();
    granted(
        take(
            &f.locks,
            &user,
            "l",
            "b",
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
        take(
            &f.locks,
            &user,
            "l",
            "a",
            &lease,
            Timestamp::from_millis(T0 + 3)
        )
        .await
        .unwrap(),
        Acquired::Held { expires_at: None }
    );
}

pub async fn tenants_with_the_same_lock_names_stay_independent(kind: EngineKind) {
    let f = fixture(kind).await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let alice_lease = LeaseId::generate();
    let bob_lease = LeaseId::generate();
    let alice_lock = granted(
        take(
            &f.locks,
            &alice,
            "shared-name",
            "a",
            &alice_lease,
            Timestamp::from_millis(T0),
        )
        .await
        .unwrap(),
    );
    let bob_lock = granted(
        take(
            &f.locks,
            &bob,
            "shared-name",
            "b",
            &bob_lease,
            Timestamp::from_millis(T0),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        bob_lock.fencing_token,
        T0 * 1000 + 1,
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
        take(
            &f.locks,
            &bob,
            "only-bob",
            "b",
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
            take(
                &locks,
                &user,
                lock_name.as_str(),
                "a",
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
    let (found, calls) = f
        .calls
        .during(live_user(&f.keys, &key.hash(), Timestamp::now()))
        .await;
    assert_eq!(found.unwrap(), Some(user.clone()));
    assert_eq!(calls, 1);
    assert_eq!(
        live_user(&f.keys, &ApiKey::generate().hash(), Timestamp::now())
            .await
            .unwrap(),
        None
    );

    let thief = UserId::generate();
    assert!(f
        .keys
        .register(&key.hash(), &thief, Timestamp::from_millis(T0))
        .await
        .is_err());
    assert_eq!(
        live_user(&f.keys, &key.hash(), Timestamp::now())
            .await
            .unwrap(),
        Some(user)
    );
}

/// Pages of a user's locks: each lock once, in name order, `more` exactly
/// when locks follow, one call per page, never another user's locks.
pub async fn pages_list_each_lock_once_in_order(kind: EngineKind) {
    let f = fixture(kind).await;
    let (user, neighbour) = (UserId::generate(), UserId::generate());
    let names: Vec<String> = (0..25).map(|n| format!("p-{n:02}")).collect();
    let now = Timestamp::from_millis(T0);
    for lock in names.iter().map(String::as_str).chain(["p-99"]) {
        let owner = if lock == "p-99" { &neighbour } else { &user };
        let lease = LeaseId::generate();
        granted(take(&f.locks, owner, lock, "r", &lease, now).await.unwrap());
    }
    let (mut listed, mut after) = (Vec::new(), None);
    loop {
        let (page, calls) = f
            .calls
            .during(f.locks.list_page(&user, after.as_deref(), Some(10)))
            .await;
        let page = page.unwrap();
        assert_eq!(calls, 1, "one Query per page");
        listed.extend(
            page.locks
                .iter()
                .map(|lock| lock.lock_name.as_str().to_owned()),
        );
        after = page
            .locks
            .last()
            .map(|lock| lock.lock_name.as_str().to_owned());
        if !page.more {
            assert_eq!(page.locks.len(), 5);
            break;
        }
    }
    assert_eq!(listed, names);
    let exact = f
        .locks
        .list_page(&user, Some("p-14"), Some(10))
        .await
        .unwrap();
    assert_eq!(
        (exact.locks.len(), exact.more),
        (10, false),
        "a full last page"
    );
    let rest = f.locks.list_page(&user, Some("p-20"), None).await.unwrap();
    assert_eq!(rest.locks.len(), 4);
}

/// The user of `key` if the key is live at `now` (what the authorizer allows).
async fn live_user(
    keys: &KeyStore,
    key: &lock_service::keys::KeyHash,
    now: Timestamp,
) -> Result<Option<UserId>, StoreError> {
    let record = keys.record(key).await?;
    Ok(record
        .filter(|record| record.standing(now) == KeyStanding::Live)
        .map(|record| record.user))
}

/// Acquires with a TTL (seconds) and an optional idempotency key.
async fn take_leased(
    f: &Fixture,
    user: &UserId,
    lock: &str,
    lease: &LeaseId,
    ttl_seconds: u64,
    key: Option<&IdempotencyKey>,
    now: u64,
) -> Acquired {
    let requester = who("leased");
    let grant = Grant {
        requester: &requester,
        lease,
        ttl: Some(LeaseTtl::from_seconds(ttl_seconds).unwrap()),
        idempotency_key: key,
    };
    f.locks
        .acquire(user, &name(lock), &grant, Timestamp::from_millis(now))
        .await
        .unwrap()
}

pub async fn a_lease_expires_exactly_at_expires_at_and_can_be_taken_over(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let first = LeaseId::generate();
    let held = granted(take_leased(&f, &user, "l", &first, 10, None, T0).await);
    assert_eq!(held.expires_at, Some(Timestamp::from_millis(T0 + 10_000)));

    let second = LeaseId::generate();
    assert_eq!(
        take_leased(&f, &user, "l", &second, 5, None, T0 + 9_999).await,
        Acquired::Held {
            expires_at: Some(Timestamp::from_millis(T0 + 10_000))
        },
        "one millisecond before expiry the lease still holds"
    );
    let stored = f.locks.get(&user, &name("l")).await.unwrap().unwrap();
    assert!(stored.is_held(Timestamp::from_millis(T0 + 9_999)));
    assert!(
        !stored.is_held(Timestamp::from_millis(T0 + 10_000)),
        "an expired lease reads as free"
    );

    let (outcome, calls) = f
        .calls
        .during(async { take_leased(&f, &user, "l", &second, 5, None, T0 + 10_000).await })
        .await;
    let taken = granted(outcome);
    assert_eq!(calls, 1, "taking over an expired lease is one write");
    assert_eq!(taken.lease_id, second);
    assert!(taken.fencing_token > held.fencing_token);
    assert_eq!(taken.expires_at, Some(Timestamp::from_millis(T0 + 15_000)));

    // The expired lease can neither unlock nor renew the new holder's lock.
    let at = Timestamp::from_millis(T0 + 10_001);
    assert_eq!(
        f.locks
            .release(&user, &name("l"), &first, at)
            .await
            .unwrap(),
        Released::NotHolder
    );
    assert_eq!(
        f.locks
            .renew(&user, &name("l"), &first, None, at)
            .await
            .unwrap(),
        Renewed::NotLive
    );
}

pub async fn an_expired_lease_cannot_unlock_or_renew(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    granted(take_leased(&f, &user, "l", &lease, 1, None, T0).await);
    let after = Timestamp::from_millis(T0 + 1_000);
    assert_eq!(
        f.locks
            .release(&user, &name("l"), &lease, after)
            .await
            .unwrap(),
        Released::Expired
    );
    let ttl = Some(LeaseTtl::from_seconds(60).unwrap());
    assert_eq!(
        f.locks
            .renew(&user, &name("l"), &lease, ttl, after)
            .await
            .unwrap(),
        Renewed::NotLive
    );
    let stored = f.locks.get(&user, &name("l")).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, Some(after), "nothing was written");
}

pub async fn renew_extends_only_the_live_lease(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let lease = LeaseId::generate();
    granted(take_leased(&f, &user, "l", &lease, 10, None, T0).await);
    let ttl = |s| Some(LeaseTtl::from_seconds(s).unwrap());

    let (renewed, calls) = f
        .calls
        .during(f.locks.renew(
            &user,
            &name("l"),
            &lease,
            ttl(20),
            Timestamp::from_millis(T0 + 5_000),
        ))
        .await;
    assert_eq!(
        renewed.unwrap(),
        Renewed::Extended {
            expires_at: Some(Timestamp::from_millis(T0 + 25_000))
        }
    );
    assert_eq!(calls, 1, "renew is one write");
    // Without ttlSeconds, the lease's own (latest) TTL again.
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("l"),
                &lease,
                None,
                Timestamp::from_millis(T0 + 6_000)
            )
            .await
            .unwrap(),
        Renewed::Extended {
            expires_at: Some(Timestamp::from_millis(T0 + 26_000))
        }
    );
    let other = LeaseId::generate();
    assert!(matches!(
        take_leased(&f, &user, "l", &other, 5, None, T0 + 25_999).await,
        Acquired::Held { .. }
    ));
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("l"),
                &other,
                ttl(5),
                Timestamp::from_millis(T0 + 7_000)
            )
            .await
            .unwrap(),
        Renewed::NotLive
    );
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("l"),
                &lease,
                ttl(5),
                Timestamp::from_millis(T0 + 26_000)
            )
            .await
            .unwrap(),
        Renewed::NotLive,
        "renewing after expiry is refused"
    );
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("nope"),
                &lease,
                ttl(5),
                Timestamp::from_millis(T0)
            )
            .await
            .unwrap(),
        Renewed::NotFound
    );

    // A lease without TTL is live until released: renewing it without a TTL
    // changes nothing, with one gives it an end.
    let forever = LeaseId::generate();
    granted(
        take(
            &f.locks,
            &user,
            "forever",
            "a",
            &forever,
            Timestamp::from_millis(T0),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("forever"),
                &forever,
                None,
                Timestamp::from_millis(T0 + 1)
            )
            .await
            .unwrap(),
        Renewed::Extended { expires_at: None }
    );
    assert_eq!(
        f.locks
            .renew(
                &user,
                &name("forever"),
                &forever,
                ttl(3),
                Timestamp::from_millis(T0 + 2)
            )
            .await
            .unwrap(),
        Renewed::Extended {
            expires_at: Some(Timestamp::from_millis(T0 + 3_002))
        }
    );
}

pub async fn a_thousand_cycles_give_strictly_increasing_fencing_tokens(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let mut last = 0;
    for i in 0..1000 {
        let lease = LeaseId::generate();
        let lock = granted(
            take(&f.locks, &user, "counter", "a", &lease, Timestamp::now())
                .await
                .unwrap(),
        );
        assert!(
            lock.fencing_token > last,
            "cycle {i}: {} after {last}",
            lock.fencing_token
        );
        last = lock.fencing_token;
        assert_eq!(
            f.locks
                .release(&user, &name("counter"), &lease, Timestamp::now())
                .await
                .unwrap(),
            Released::Freed
        );
    }
}

pub async fn fencing_tokens_keep_increasing_after_the_item_is_deleted(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let mut last = 0;
    for round in 0..3 {
        for _ in 0..5 {
            let lease = LeaseId::generate();
            let lock = granted(
                take(&f.locks, &user, "gc", "a", &lease, Timestamp::now())
                    .await
                    .unwrap(),
            );
            assert!(lock.fencing_token > last, "round {round}");
            last = lock.fencing_token;
            f.locks
                .release(&user, &name("gc"), &lease, Timestamp::now())
                .await
                .unwrap();
        }
        // What DynamoDB TTL does to an idle item.
        testkit::delete_behind_the_store(&f.client, &user, "gc").await;
        assert_eq!(f.locks.get(&user, &name("gc")).await.unwrap(), None);
    }
}

pub async fn an_idempotent_retry_gets_the_same_lease_and_token(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let key = IdempotencyKey::parse("order-42").unwrap();
    let first =
        granted(take_leased(&f, &user, "l", &LeaseId::generate(), 30, Some(&key), T0).await);
    let (retry, calls) = f
        .calls
        .during(async {
            take_leased(
                &f,
                &user,
                "l",
                &LeaseId::generate(),
                30,
                Some(&key),
                T0 + 100,
            )
            .await
        })
        .await;
    assert_eq!(
        granted(retry),
        first,
        "same lease, same token, nothing written"
    );
    assert_eq!(calls, f.calls_for_lost_race());

    // The key is bound to what it was granted for: another TTL or another
    // requester is refused, and nothing changes.
    let other_ttl = take_leased(
        &f,
        &user,
        "l",
        &LeaseId::generate(),
        31,
        Some(&key),
        T0 + 150,
    )
    .await;
    assert_eq!(other_ttl, Acquired::KeyReused);
    let stranger = who("someone-else");
    let grant = Grant {
        requester: &stranger,
        lease: &LeaseId::generate(),
        ttl: Some(LeaseTtl::from_seconds(30).unwrap()),
        idempotency_key: Some(&key),
    };
    let at = Timestamp::from_millis(T0 + 150);
    let other_requester = f.locks.acquire(&user, &name("l"), &grant, at).await;
    assert_eq!(other_requester.unwrap(), Acquired::KeyReused);
    assert_eq!(
        f.locks.get(&user, &name("l")).await.unwrap(),
        Some(first.clone())
    );
    // A renew with another TTL does not change what the key was granted for.
    let renewed = f
        .locks
        .renew(
            &user,
            &name("l"),
            &first.lease_id,
            Some(LeaseTtl::from_seconds(60).unwrap()),
            Timestamp::from_millis(T0 + 160),
        )
        .await;
    assert!(matches!(renewed.unwrap(), Renewed::Extended { .. }));
    let retry = take_leased(
        &f,
        &user,
        "l",
        &LeaseId::generate(),
        30,
        Some(&key),
        T0 + 170,
    )
    .await;
    assert_eq!(granted(retry).lease_id, first.lease_id);
    let renewed_ttl = take_leased(
        &f,
        &user,
        "l",
        &LeaseId::generate(),
        60,
        Some(&key),
        T0 + 170,
    )
    .await;
    assert_eq!(renewed_ttl, Acquired::KeyReused);

    let other = IdempotencyKey::parse("order-43").unwrap();
    assert!(matches!(
        take_leased(
            &f,
            &user,
            "l",
            &LeaseId::generate(),
            30,
            Some(&other),
            T0 + 200
        )
        .await,
        Acquired::Held { .. }
    ));
    // Once that lease is over, the same key asks for a new one.
    assert!(matches!(
        take_leased(&f, &user, "l", &LeaseId::generate(), 30, Some(&key), T0 + 60_160).await,
        Acquired::Granted(lock) if lock.lease_id != first.lease_id && lock.fencing_token > first.fencing_token
    ));
}

pub async fn force_release_frees_the_lock_and_fences_the_old_holder(kind: EngineKind) {
    let f = fixture(kind).await;
    let user = UserId::generate();
    let old = LeaseId::generate();
    let held = granted(
        take(&f.locks, &user, "l", "a", &old, Timestamp::from_millis(T0))
            .await
            .unwrap(),
    );
    let (forced, calls) = f
        .calls
        .during(
            f.locks
                .force_release(&user, &name("l"), Timestamp::from_millis(T0 + 1)),
        )
        .await;
    assert_eq!(forced.unwrap(), Released::Freed);
    assert_eq!(calls, 1);
    assert!(
        !f.locks
            .get(&user, &name("l"))
            .await
            .unwrap()
            .unwrap()
            .locked
    );

    // The old lease is dead: it can neither unlock, renew, nor count as a retry.
    let at = Timestamp::from_millis(T0 + 2);
    assert_eq!(
        f.locks.release(&user, &name("l"), &old, at).await.unwrap(),
        Released::NotHolder
    );
    assert_eq!(
        f.locks
            .renew(&user, &name("l"), &old, None, at)
            .await
            .unwrap(),
        Renewed::NotLive
    );
    let next = granted(
        take(&f.locks, &user, "l", "b", &LeaseId::generate(), at)
            .await
            .unwrap(),
    );
    assert!(next.fencing_token > held.fencing_token);

    let (missing, calls) = f
        .calls
        .during(f.locks.force_release(&user, &name("never"), at))
        .await;
    assert_eq!(missing.unwrap(), Released::NotFound);
    assert_eq!(calls, 1, "force release of an unknown lock needs no read");
    assert_eq!(f.locks.get(&user, &name("never")).await.unwrap(), None);
}

use testkit::suite;

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
    a_lease_expires_exactly_at_expires_at_and_can_be_taken_over,
    an_expired_lease_cannot_unlock_or_renew,
    renew_extends_only_the_live_lease,
    a_thousand_cycles_give_strictly_increasing_fencing_tokens,
    fencing_tokens_keep_increasing_after_the_item_is_deleted,
    an_idempotent_retry_gets_the_same_lease_and_token,
    force_release_frees_the_lock_and_fences_the_old_holder,
    pages_list_each_lock_once_in_order,
);

/// Every test of the suite is listed in `suite!` above.
#[test]
fn every_suite_test_is_listed() {
    testkit::assert_suite_lists_every_test(include_str!("store.rs"));
}
