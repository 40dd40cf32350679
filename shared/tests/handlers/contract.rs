//! The reference contract through the handlers: the flow, contention, stale
//! leases, retries, unknown locks, and what a body may carry.

use lambda_http::http::StatusCode;
use lock_service::types::UserId;
use serde_json::{json, Value};

use super::assert_rfc3339_millis;
use super::{api, event, FIXTURE};

#[tokio::test]
async fn the_reference_flow_answers_exactly_the_contract() {
    let api = api().await;

    let created = api
        .call(event("POST", "/v0/users/anonymous", None, None, &[]))
        .await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.content_type, "application/json");
    let user_id = created.body["userId"].as_str().unwrap();
    let api_key = created.body["apiKey"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(api_key).unwrap().get_version_num(), 4);
    let user = UserId::parse(user_id).unwrap();

    let acquired = api.acquire(&user, "resource-123", "service-a").await;
    assert_eq!(acquired.status, StatusCode::OK);
    assert_eq!(acquired.content_type, "application/json");
    assert_eq!(acquired.body["locked"], true);
    assert_eq!(acquired.body["message"], "lock acquired");
    let lease = acquired.body["leaseId"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&lease).unwrap();

    let got = api.get(&user, "resource-123").await;
    assert_eq!(got.status, StatusCode::OK);
    testkit::assert_held(&got.body, "resource-123", &lease, "service-a");
    assert_rfc3339_millis(&got.body["createdAt"]);
    assert_rfc3339_millis(&got.body["updatedAt"]);
    assert_rfc3339_millis(&got.body["acquiredAt"]);
    let fields: Vec<_> = got.body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields,
        [
            "acquiredAt", // additive, as are fencingToken and (with a TTL) expiresAt
            "createdAt",
            "fencingToken", // no TTL was asked, so no expiresAt
            "leaseId",
            "leasedBy",
            "lockName",
            "locked",
            "updatedAt"
        ]
    );
    assert_eq!(got.body["fencingToken"], acquired.body["fencingToken"]);

    let listed = api.list(&user).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body, json!({ "locks": [got.body] }));

    let unlocked = api.unlock(&user, "resource-123", &lease).await;
    assert_eq!(unlocked.status, StatusCode::OK);
    assert_eq!(unlocked.body, json!({ "unlocked": true }));

    let after = api.get(&user, "resource-123").await;
    assert_eq!(after.body["locked"], false);
    assert_eq!(
        after.body["leaseId"],
        lease.as_str(),
        "a released lock shows its last lease"
    );
    assert_eq!(after.body["leasedBy"], "service-a");
}

#[tokio::test]
async fn contention_stale_leases_retries_and_unknown_locks() {
    let api = api().await;
    let user = UserId::generate();
    let first = api.acquire(&user, "l", "service-a").await;
    let first_lease = first.body["leaseId"].as_str().unwrap().to_owned();

    let refused = api.acquire(&user, "l", "service-a").await;
    assert_eq!(refused.status, StatusCode::OK);
    assert_eq!(
        refused.body,
        json!({ "locked": false, "message": "lock is held by another lease" })
    );

    let stale = api
        .unlock(&user, "l", &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body["unlocked"], false);
    assert!(stale.body["message"].as_str().unwrap().contains("lease"));

    assert_eq!(
        api.unlock(&user, "l", &first_lease).await.body,
        json!({ "unlocked": true })
    );
    let retried = api.unlock(&user, "l", &first_lease).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(
        retried.body,
        json!({ "unlocked": true }),
        "retrying an unlock is safe"
    );

    let second = api.acquire(&user, "l", "service-b").await;
    assert_eq!(second.body["locked"], true);
    let late = api.unlock(&user, "l", &first_lease).await;
    assert_eq!(
        late.body["unlocked"], false,
        "an old lease cannot free the new holder's lock"
    );
    assert_eq!(
        api.get(&user, "l").await.body["leaseId"],
        second.body["leaseId"]
    );

    for answer in [
        api.get(&user, "never-created").await,
        api.unlock(&user, "never-created", &first_lease).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.body["message"], "lock not found");
        assert_eq!(answer.body["code"], "LOCK_NOT_FOUND");
    }
    assert_eq!(
        api.list(&UserId::generate()).await.body,
        json!({ "locks": [] })
    );
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_base64_bodies_are_read() {
    let api = api().await;
    let user = UserId::generate();
    let body = r#"{"lockName":"x","requester":"r","futureField":{"a":[1,2]},"ttl":5}"#;
    let answer = api.post(&user, "/v0/lock", body).await;
    assert_eq!(answer.body["locked"], true);

    let mut raw: Value = serde_json::from_str(FIXTURE).unwrap();
    raw["requestContext"]["authorizer"]["userId"] = json!(user);
    raw["body"] = json!("eyJsb2NrTmFtZSI6InkiLCJyZXF1ZXN0ZXIiOiJyIn0="); // {"lockName":"y","requester":"r"}
    raw["isBase64Encoded"] = json!(true);
    let answer = api
        .call(lambda_http::request::from_str(&raw.to_string()).unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["locked"], true);
    assert_eq!(api.get(&user, "y").await.body["leasedBy"], "r");
}
