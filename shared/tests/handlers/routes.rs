//! Every route of the registry through its handler, with its endpoint's
//! example: a route without an endpoint (and so without an example) does
//! not compile.

use lambda_http::http::StatusCode;
use lock_service::endpoints::{
    endpoint_of, Scene, FREED, HELD, POOL, POOL_PERMITS, RENEWED, SPENT,
};
use lock_service::keys::ApiKey;
use lock_service::lock_wire::{Access, Route};
use lock_service::types::UserId;
use serde_json::json;

use super::{api, event, event_json, request_of, Api};

/// A user signed up through the handler: its id and key.
async fn signed_up(api: &Api) -> (UserId, String) {
    let created = api
        .call(event("POST", "/v0/users/anonymous", None, None, &[]))
        .await;
    let user = UserId::parse(created.body["userId"].as_str().unwrap()).unwrap();
    (user, created.body["apiKey"].as_str().unwrap().to_owned())
}

/// The scene's locks and semaphores, for `user`.
async fn scene(api: &Api, user: &UserId) -> Scene {
    let lease = |answer: super::Answer| answer.body["leaseId"].as_str().unwrap().to_owned();
    let held = lease(api.acquire(user, HELD, "r").await);
    let renewed = lease(api.acquire(user, RENEWED, "r").await);
    let freed = lease(api.acquire(user, FREED, "r").await);
    assert_eq!(api.unlock(user, FREED, &freed).await.body["unlocked"], true);
    let permit = |answer: super::Answer| {
        assert_eq!(answer.body["acquired"], true, "{answer:?}");
        let slot = answer.body["permit"].as_u64().unwrap() as u8;
        (answer.body["leaseId"].as_str().unwrap().to_owned(), slot)
    };
    let pool_held = permit(api.acquire_permit(user, POOL, POOL_PERMITS).await);
    let pool_renewed = permit(api.acquire_permit(user, POOL, POOL_PERMITS).await);
    let (spent, _) = permit(api.acquire_permit(user, SPENT, 1).await);
    let release = json!({ "semaphoreName": SPENT, "leaseId": spent }).to_string();
    let released = api.post(user, "/v0/semaphore/release", &release).await;
    assert_eq!(released.body["released"], true, "{released:?}");
    Scene {
        held,
        renewed,
        pool_held,
        pool_renewed,
    }
}

/// Each route's example answers `200` with what the example says; the key
/// routes' each with a user of its own, so none sees another's rotation.
#[tokio::test]
async fn every_route_answers_its_example_through_its_handler() {
    let api = api().await;
    let owner = signed_up(&api).await;
    let scene = scene(&api, &owner.0).await;
    for route in Route::ALL {
        let example = (endpoint_of(route).example)(&scene);
        let body = example.body.as_ref().map(|body| body.to_string());
        let query: Vec<_> = example
            .query
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let caller = match (route.spec().access, example.own_key) {
            (Access::SignUp | Access::Public, _) => None,
            (Access::ApiKey, true) => Some(signed_up(&api).await),
            (Access::ApiKey, false) => Some(owner.clone()),
        };
        let mut event = event_json(
            route.method(),
            route.path(),
            caller.as_ref().map(|(user, _)| user),
            body.as_deref(),
            &query,
        );
        if let Some((_, key)) = &caller {
            // As the gateway passes on a key the authorizer validated.
            let bearer = format!("Bearer {key}");
            let hash = ApiKey::from_authorization(&bearer).unwrap().hash();
            event["requestContext"]["authorizer"]["keyHash"] = json!(hash.as_str());
            event["headers"]["Authorization"] = json!(bearer);
            event["multiValueHeaders"]["Authorization"] = json!([bearer]);
        }
        let answer = api.call(request_of(&event)).await;
        assert_eq!(answer.status, StatusCode::OK, "{route:?}: {answer:?}");
        let (field, expected) = &example.answer;
        let value = &answer.body[field];
        assert!(!value.is_null(), "{route:?} answers no {field}: {answer:?}");
        if let Some(expected) = expected {
            assert_eq!(value, expected, "{route:?}: {answer:?}");
        }
    }
}
