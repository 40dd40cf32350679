//! Acquire and release: one grant at a time, refusals change nothing.

use lock_service::store::{Acquired, Released};
use lock_service::types::{LeaseId, Timestamp, UserId};
use rstest::rstest;
use rstest_reuse::apply;
use testkit::{engines, lock_name as name, try_take, user, Stores, T0};

use super::at;

#[apply(engines)]
async fn a_free_lock_is_granted_in_one_write(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    let (outcome, calls) = f
        .calls
        .during(try_take(
            &f.locks,
            &user,
            "resource-123",
            "service-a",
            &lease,
            at(0),
        ))
        .await;
    let lock = testkit::granted(outcome.unwrap());
    assert_eq!(calls, 1, "acquire must be one DynamoDB call");
    assert_eq!(lock.lock_name.as_str(), "resource-123");
    assert!(lock.locked);
    assert_eq!(lock.lease_id, lease);
    assert_eq!(lock.leased_by.as_str(), "service-a");
    assert_eq!(lock.created_at, at(0));
    assert_eq!(lock.acquired_at, Some(at(0)));
    assert_eq!(lock.updated_at, at(0));
    assert_eq!(lock.expires_at, None);
    // A new lock's first token is the clock in microseconds, plus one.
    assert_eq!(lock.fencing_token, T0 * 1000 + 1);
    assert_eq!(f.stored(&user, "resource-123").await, Some(lock));
}

#[apply(engines)]
async fn a_held_lock_is_refused_and_left_unchanged(f: Stores, user: UserId) {
    let first = f
        .grant(&user, "l", "service-a", &LeaseId::generate(), at(0))
        .await;
    // Same requester label, new lease: still refused (requester is only a label).
    for requester in ["service-a", "service-b"] {
        let (outcome, calls) = f
            .calls
            .during(try_take(
                &f.locks,
                &user,
                "l",
                requester,
                &LeaseId::generate(),
                at(5),
            ))
            .await;
        assert_eq!(outcome.unwrap(), Acquired::Held { expires_at: None });
        assert_eq!(calls, f.calls_for_lost_race());
    }
    assert_eq!(f.stored(&user, "l").await, Some(first));
}

#[apply(engines)]
async fn sixteen_simultaneous_acquirers_get_exactly_one_grant(f: Stores, user: UserId) {
    for round in 0..5 {
        let lock_name = format!("contended-{round}");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (locks, user, lock_name) = (f.locks.clone(), user.clone(), lock_name.clone());
                tokio::spawn(async move {
                    let lease = LeaseId::generate();
                    let requester = format!("worker-{i}");
                    let outcome = try_take(
                        &locks,
                        &user,
                        &lock_name,
                        &requester,
                        &lease,
                        Timestamp::now(),
                    )
                    .await;
                    (lease, outcome.unwrap())
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
        let stored = f.stored(&user, &lock_name).await.unwrap();
        assert_eq!(stored, winners[0], "the one grant is what is stored");
    }
}

#[apply(engines)]
async fn release_frees_the_lock_and_the_next_grant_counts_up(f: Stores, user: UserId) {
    let lease = LeaseId::generate();
    let first = f.grant(&user, "l", "a", &lease, at(0)).await;
    let (outcome, calls) = f.calls.during(f.release(&user, "l", &lease, at(10))).await;
    assert_eq!(outcome, Released::Freed);
    assert_eq!(calls, 1, "unlock must be one DynamoDB call");

    let freed = f.stored(&user, "l").await.unwrap();
    assert!(!freed.locked);
    assert_eq!(
        freed.lease_id, lease,
        "a free lock still reports its last lease"
    );
    assert_eq!(freed.leased_by.as_str(), "a");
    assert_eq!(freed.updated_at, at(10));
    assert_eq!(
        freed.acquired_at,
        Some(at(0)),
        "a release keeps the grant's time"
    );
    assert_eq!(freed.created_at, first.created_at);

    let next = LeaseId::generate();
    let second = f.grant(&user, "l", "b", &next, at(20)).await;
    assert_eq!(second.lease_id, next);
    assert_eq!(second.fencing_token, first.fencing_token + 1);
    assert_eq!(
        second.created_at, first.created_at,
        "createdAt is set by the first grant only"
    );
    assert_eq!(second.updated_at, at(20));
    assert_eq!(second.acquired_at, Some(at(20)));
}

#[apply(engines)]
async fn a_stale_or_foreign_lease_cannot_release(f: Stores, user: UserId) {
    let old = LeaseId::generate();
    f.grant(&user, "l", "a", &old, at(0)).await;
    f.release(&user, "l", &old, at(1)).await;
    let held = f.grant(&user, "l", "b", &LeaseId::generate(), at(2)).await;

    for stale in [old, LeaseId::generate()] {
        let (outcome, calls) = f.calls.during(f.release(&user, "l", &stale, at(3))).await;
        assert_eq!(outcome, Released::NotHolder);
        assert_eq!(calls, f.calls_for_lost_race());
    }
    assert_eq!(f.stored(&user, "l").await, Some(held));
}

#[apply(engines)]
async fn an_unknown_lock_is_not_found_and_not_created(f: Stores, user: UserId) {
    assert_eq!(f.stored(&user, "never").await, None);
    let (outcome, calls) = f
        .calls
        .during(f.release(&user, "never", &LeaseId::generate(), at(0)))
        .await;
    assert_eq!(outcome, Released::NotFound);
    // No engine tells "no item" from "no old item returned": one read decides.
    assert_eq!(calls, 2);
    assert_eq!(f.locks.get(&user, &name("never")).await.unwrap(), None);
    assert!(f.locks.list(&user).await.unwrap().is_empty());
}
