//! Every read that decides something is strongly consistent. An eventually
//! consistent read may show an item as it was up to a second before (on a
//! multi-Region table, as another Region last replicated it): a lease that
//! was released, a key that was revoked. Listed here by what each decides,
//! each driven through its store call and checked at the wire (the
//! `ConsistentRead` of every read request the client sent), on both engines.

use lock_service::keys::ApiKey;
use lock_service::store::{Acquired, PermitAcquired, Released};
use lock_service::types::{LeaseId, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, lock_name, try_take, user, Read, Stores};

use super::at;
use super::semaphores::{self, permits, take};

/// Runs `op` and asserts that it read (`reads` requests of `operation`)
/// and that every read was strongly consistent.
async fn consistent<T>(
    f: &Stores,
    what: &str,
    operation: &str,
    reads: usize,
    op: impl std::future::Future<Output = T>,
) -> T {
    let (outcome, sent) = f.calls.reads_during(op).await;
    let expected = vec![
        Read {
            operation: operation.to_owned(),
            consistent: true,
        };
        reads
    ];
    assert_eq!(sent, expected, "{what}");
    outcome
}

/// The deciding reads, each by the answer it decides.
#[apply(engines)]
async fn every_deciding_read_is_strongly_consistent(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    let held = try_take(&f.locks, &user, "l", "a", &lease, at(0))
        .await
        .unwrap();
    assert!(matches!(held, Acquired::Granted(_)));
    let name = lock_name("l");

    // GET /v0/lock: held or free, by whom, until when.
    let got = consistent(&f, "get a lock", "GetItem", 1, f.locks.get(&user, &name)).await;
    assert!(got.unwrap().unwrap().locked);
    // GET /v0/locks: what is held.
    let page = consistent(
        &f,
        "a page of locks",
        "Query",
        1,
        f.locks.list_page(&user, None, Some(10)),
    )
    .await;
    assert_eq!(page.unwrap().locks.len(), 1);
    // A refused acquire: held by whom, or this request's own earlier grant
    // (an engine that returns no old item with a failed condition is read).
    let reads = usize::from(!f.kind.returns_old_item_on_failed_condition());
    let other = LeaseId::generate();
    let refused = consistent(
        &f,
        "a lost race's item",
        "GetItem",
        reads,
        try_take(&f.locks, &user, "l", "b", &other, at(1)),
    )
    .await;
    assert!(matches!(refused.unwrap(), Acquired::Held { .. }));
    // A waiting acquire's look: free, held, or reserved for a longer waiter.
    let sight = f.locks.look_at_lock(&user, &name, &other, at(2));
    consistent(&f, "a waiter's look at a lock", "GetItem", 1, sight)
        .await
        .unwrap();

    // A semaphore: its permits, their holders; a refused permit.
    let (granted, _) = take(&f, &user, "pool", 1, &lease, None, 3).await;
    let permit = semaphores::granted(granted);
    let pool = semaphores::name("pool");
    let refused = consistent(
        &f,
        "a refused permit's slots",
        "Query",
        1,
        take(&f, &user, "pool", 1, &other, None, 4),
    )
    .await;
    assert!(matches!(refused.0, PermitAcquired::Held { .. }));
    let shown = consistent(
        &f,
        "get a semaphore",
        "Query",
        1,
        f.locks.semaphore(&user, &pool, at(5)),
    )
    .await;
    assert_eq!(shown.unwrap().unwrap().holders.len(), 1);
    let page = consistent(
        &f,
        "a page of semaphores",
        "Query",
        1,
        f.locks.semaphore_page(&user, None, 10, at(5)),
    )
    .await;
    assert_eq!(page.unwrap().semaphores.len(), 1);
    let sight = f
        .locks
        .look_at_semaphore(&user, &pool, permits(1), &other, at(6));
    consistent(&f, "a waiter's look at a semaphore", "Query", 1, sight)
        .await
        .unwrap();
    // A release without its slot: where the lease's permit is.
    let release = f.locks.release_permit(&user, &pool, &lease, None, at(7));
    assert_eq!(
        consistent(&f, "a permit's slot", "Query", 1, release)
            .await
            .unwrap(),
        Released::Freed
    );
    assert_eq!(permit.lease_id, lease);
    // A delete: whether a live lease holds a permit.
    let delete = f.locks.delete_semaphore(&user, &pool, at(8));
    consistent(&f, "a semaphore before its delete", "Query", 1, delete)
        .await
        .unwrap();

    // The authorizer: whether a key is live, and whose.
    let (owner, key) = (UserId::generate(), ApiKey::generate());
    let hash = key.hash();
    f.keys.sign_up(&hash, &owner, at(9)).await.unwrap();
    let record = consistent(&f, "a key's record", "GetItem", 1, f.keys.record(&hash)).await;
    assert_eq!(record.unwrap().unwrap().user, owner);
    // Rotation and revoke-others: which keys are the user's.
    let keys = consistent(&f, "a user's keys", "GetItem", 1, f.keys.keys_of(&owner)).await;
    assert!(keys.is_ok());
}
