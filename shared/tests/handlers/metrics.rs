//! Each handler records what it did in its invocation's metrics record
//! (`lock_service::metrics`): the counts an operator's dashboard reads.

use lock_service::metrics::{gather, Metric, Record};
use lock_service::types::UserId;
use serde_json::json;

use super::{api, event, Answer, Api};

/// `POST path` with `body` for `user`, and what it recorded.
async fn recorded(
    api: &Api,
    user: &UserId,
    path: &str,
    body: serde_json::Value,
) -> (Answer, Record) {
    gather(api.post(user, path, &body.to_string())).await
}

/// Every metric of `record` that is not zero, with its total.
fn totals(record: &Record) -> Vec<(Metric, f64)> {
    let all = Metric::ALL.iter().map(|m| (*m, record.total(*m)));
    all.filter(|(_, total)| *total != 0.0).collect()
}

#[tokio::test]
async fn each_outcome_is_counted_once_with_the_user_and_the_name() {
    let api = api().await;
    let user = UserId::generate();
    let acquire = json!({ "lockName": "job", "requester": "a" });

    let (granted, record) = recorded(&api, &user, "/v0/lock", acquire.clone()).await;
    assert_eq!(granted.body["locked"], true);
    assert_eq!(totals(&record), [(Metric::AcquireGranted, 1.0)]);
    assert_eq!(record.property("userId"), Some(&json!(user.as_str())));
    assert_eq!(record.property("lockName"), Some(&json!("job")));

    let (refused, record) = recorded(&api, &user, "/v0/lock", acquire.clone()).await;
    assert_eq!(refused.body["locked"], false);
    assert_eq!(totals(&record), [(Metric::AcquireRefused, 1.0)]);

    let waiting = json!({ "lockName": "job", "requester": "w", "waitSeconds": 1 });
    let (timed_out, record) = recorded(&api, &user, "/v0/lock", waiting).await;
    assert_eq!(timed_out.body["locked"], false);
    let waited = record.total(Metric::WaitTime);
    assert!((900.0..3_000.0).contains(&waited), "waited {waited} ms");
    let counts: Vec<_> = totals(&record)
        .into_iter()
        .filter(|(m, _)| *m != Metric::WaitTime)
        .collect();
    assert_eq!(
        counts,
        [(Metric::AcquireRefused, 1.0), (Metric::WaitTimedOut, 1.0)]
    );

    let stale = json!({ "lockName": "job", "leaseId": uuid::Uuid::new_v4().to_string() });
    let (answer, record) = recorded(&api, &user, "/v0/unlock", stale.clone()).await;
    assert_eq!(answer.body["unlocked"], false);
    assert_eq!(totals(&record), [(Metric::StaleRelease, 1.0)]);
    let (answer, record) = recorded(&api, &user, "/v0/lock/renew", stale).await;
    assert_eq!(answer.body["renewed"], false);
    assert_eq!(totals(&record), [(Metric::RenewLost, 1.0)]);
    assert_eq!(record.property("lockName"), Some(&json!("job")));

    let force = json!({ "lockName": "job", "force": true });
    let (answer, record) = recorded(&api, &user, "/v0/unlock", force).await;
    assert_eq!(answer.body["unlocked"], true);
    assert_eq!(totals(&record), [(Metric::ForceRelease, 1.0)]);

    let (answer, record) =
        recorded(&api, &user, "/v0/lock/delete", json!({ "lockName": "job" })).await;
    assert_eq!(answer.body["deleted"], true);
    assert_eq!(totals(&record), [(Metric::Delete, 1.0)]);
    assert_eq!(record.property("lockName"), Some(&json!("job")));

    let permit = json!({ "semaphoreName": "pool", "requester": "r", "permits": 1 });
    let (answer, record) = recorded(&api, &user, "/v0/semaphore", permit.clone()).await;
    assert_eq!(answer.body["acquired"], true);
    assert_eq!(totals(&record), [(Metric::PermitGranted, 1.0)]);
    assert_eq!(record.property("semaphoreName"), Some(&json!("pool")));
    let (answer, record) = recorded(&api, &user, "/v0/semaphore", permit).await;
    assert_eq!(answer.body["acquired"], false);
    assert_eq!(totals(&record), [(Metric::PermitRefused, 1.0)]);
}

#[tokio::test]
async fn a_replay_of_an_idempotency_key_is_counted() {
    let api = api().await;
    let user = UserId::generate();
    let body = json!({ "lockName": "keyed", "requester": "a", "ttlSeconds": 60 }).to_string();
    let keyed = || {
        let mut request = event("POST", "/v0/lock", Some(&user), Some(&body), &[]);
        let key = "0f8e8c8e-1111-4222-8333-444455556666".parse().unwrap();
        request.headers_mut().insert("idempotency-key", key);
        request
    };
    let (first, record) = gather(api.call(keyed())).await;
    assert_eq!(first.body["locked"], true);
    assert_eq!(totals(&record), [(Metric::AcquireGranted, 1.0)]);
    let (again, record) = gather(api.call(keyed())).await;
    assert_eq!(again.body["leaseId"], first.body["leaseId"]);
    assert_eq!(
        totals(&record),
        [
            (Metric::AcquireGranted, 1.0),
            (Metric::IdempotentReplay, 1.0)
        ]
    );
    // The same key for another requester: a 409, counted as no refusal.
    let other = json!({ "lockName": "keyed", "requester": "b", "ttlSeconds": 60 }).to_string();
    let mut request = event("POST", "/v0/lock", Some(&user), Some(&other), &[]);
    let key = "0f8e8c8e-1111-4222-8333-444455556666".parse().unwrap();
    request.headers_mut().insert("idempotency-key", key);
    let (reused, record) = gather(api.call(request)).await;
    assert_eq!(reused.status, 409, "{reused:?}");
    assert_eq!(totals(&record), []);
}
