//! Every route of the registry through its handler: a route added to
//! `lock_wire::Route` without a case here does not compile, and the error
//! names it.

use lambda_http::http::StatusCode;
use lock_service::keys::ApiKey;
use lock_service::lock_wire::Route;
use lock_service::types::UserId;
use serde_json::{json, Value};

use super::{api, event, event_json, request_of, Api};

/// A user signed up through the handler: its id and key.
async fn signed_up(api: &Api) -> (UserId, String) {
    let created = api
        .call(event("POST", "/v0/users/anonymous", None, None, &[]))
        .await;
    let user = UserId::parse(created.body["userId"].as_str().unwrap()).unwrap();
    (user, created.body["apiKey"].as_str().unwrap().to_owned())
}

/// `route` as the gateway sends it for `key`, which the authorizer
/// validated: its user and key hash in the context, the key in the header.
fn as_key(
    route: Route,
    (user, key): &(UserId, String),
    body: Option<Value>,
    query: &[(&str, &str)],
) -> lambda_http::Request {
    let body = body.map(|body| body.to_string());
    let mut event = event_json(
        route.method(),
        route.path(),
        Some(user),
        body.as_deref(),
        query,
    );
    let bearer = format!("Bearer {key}");
    let hash = ApiKey::from_authorization(&bearer).unwrap().hash();
    event["requestContext"]["authorizer"]["keyHash"] = json!(hash.as_str());
    event["headers"]["Authorization"] = json!(bearer);
    event["multiValueHeaders"]["Authorization"] = json!([bearer]);
    request_of(&event)
}

/// A valid request of each route answers `200` with what the contract
/// says; each key route with a user of its own, so none sees another's
/// rotation.
#[tokio::test]
async fn every_route_answers_through_its_handler() {
    let api = api().await;
    let owner = signed_up(&api).await;
    let lease = |answer: &super::Answer| answer.body["leaseId"].as_str().unwrap().to_owned();
    let held = lease(&api.acquire(&owner.0, "held", "r").await);
    let renewed = lease(&api.acquire(&owner.0, "renewed", "r").await);
    let freed = lease(&api.acquire(&owner.0, "freed", "r").await);
    assert_eq!(
        api.unlock(&owner.0, "freed", &freed).await.body["unlocked"],
        true
    );

    for route in Route::ALL {
        let request = match route {
            Route::SignUp => event(route.method(), route.path(), None, None, &[]),
            Route::RotateKey | Route::RevokeKey | Route::RevokeOtherKeys => {
                as_key(route, &signed_up(&api).await, None, &[])
            }
            Route::Acquire => {
                let body = json!({ "lockName": "new", "requester": "r" });
                as_key(route, &owner, Some(body), &[])
            }
            Route::GetLock => as_key(route, &owner, None, &[("lockName", "held")]),
            Route::Unlock => {
                let body = json!({ "lockName": "held", "leaseId": held });
                as_key(route, &owner, Some(body), &[])
            }
            Route::Renew => {
                let body = json!({ "lockName": "renewed", "leaseId": renewed, "ttlSeconds": 60 });
                as_key(route, &owner, Some(body), &[])
            }
            Route::DeleteLock => as_key(route, &owner, Some(json!({ "lockName": "freed" })), &[]),
            Route::ListLocks => as_key(route, &owner, None, &[("limit", "10")]),
        };
        let answer = api.call(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{route:?}: {answer:?}");
        let (field, expected) = match route {
            Route::SignUp | Route::RotateKey => ("apiKey", None),
            Route::RevokeKey => ("revoked", Some(json!(true))),
            Route::RevokeOtherKeys => ("revokedKeys", Some(json!(0))),
            Route::Acquire => ("locked", Some(json!(true))),
            Route::GetLock => ("lockName", Some(json!("held"))),
            Route::Unlock => ("unlocked", Some(json!(true))),
            Route::Renew => ("renewed", Some(json!(true))),
            Route::DeleteLock => ("deleted", Some(json!(true))),
            Route::ListLocks => ("locks", None),
        };
        let value = &answer.body[field];
        assert!(!value.is_null(), "{route:?} answers no {field}: {answer:?}");
        if let Some(expected) = expected {
            assert_eq!(value, &expected, "{route:?}: {answer:?}");
        }
    }
}
