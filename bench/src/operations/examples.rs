//! Every route's example through its release binary.

use lock_service::endpoints::{
    endpoint_of, Scene, FREED, HELD, POOL, POOL_PERMITS, RENEWED, SPENT,
};
use lock_service::lock_wire::{Access, Route};
use serde_json::json;

use super::{granted, lock, Counter, Functions};

/// Every route's example (`lock_service::endpoints`) through its binary, as
/// a check that each answers it; counted, as "`<route>`: its example", for a
/// route that no operation above counts, so a new route is measured before
/// anyone writes rows of its own for it.
pub async fn examples(c: &mut Counter<'_>) {
    let f = c.functions;
    let owner = signed_up(f).await;
    let scene = scene(f, &owner.0).await;
    for route in Route::ALL {
        let example = (endpoint_of(route).example)(&scene);
        let caller = match (route.spec().access, example.own_key) {
            (Access::SignUp | Access::Public, _) => None,
            (Access::ApiKey, true) => Some(signed_up(f).await),
            (Access::ApiKey, false) => Some(owner.clone()),
        };
        let bearer = caller.as_ref().map(|(_, key)| format!("Bearer {key}"));
        let headers: Vec<_> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        let query: Vec<_> = example
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let user = caller.as_ref().map(|(user, _)| user.as_str());
        let event = f.event(route, &query, example.body.clone(), &headers, user);
        let counted = c.counted.iter().any(|row| row.function == route.function());
        let (status, answer) = if counted {
            f.call(route.function(), &event).await
        } else {
            let label = format!("{} {}: its example", route.method(), route.path());
            c.count(&label, route.function(), event).await
        };
        assert_eq!(status, 200, "{route:?}'s example: {answer}");
        let (field, expected) = &example.answer;
        assert!(!answer[field].is_null(), "{route:?}'s example: {answer}");
        if let Some(expected) = expected {
            assert_eq!(&answer[field], expected, "{route:?}'s example: {answer}");
        }
    }
}

/// A new user, signed up through its binary (not counted): id and key.
async fn signed_up(f: &Functions) -> (String, String) {
    let sign_up = f.event(Route::SignUp, "", None, &[], None);
    let (status, user) = f.call(Route::SignUp.function(), &sign_up).await;
    assert_eq!(status, 200, "sign up: {user}");
    let field = |name: &str| user[name].as_str().expect("a field").to_owned();
    (field("userId"), field("apiKey"))
}

/// The examples' locks and semaphores for `user` (not counted).
async fn scene(f: &Functions, user: &str) -> Scene {
    let mut leases = Vec::new();
    for name in [HELD, RENEWED, FREED] {
        let body = Some(lock(name, json!({})));
        let event = f.event(Route::Acquire, "", body, &[], Some(user));
        let (_, answer) = f.call(Route::Acquire.function(), &event).await;
        leases.push(granted(&answer, name));
    }
    let unlock = json!({"lockName": FREED, "leaseId": leases[2]});
    let event = f.event(Route::Unlock, "", Some(unlock), &[], Some(user));
    let (_, answer) = f.call(Route::Unlock.function(), &event).await;
    assert_eq!(answer["unlocked"], true, "unlock: {answer}");
    let mut permits = Vec::new();
    for (name, count) in [(POOL, POOL_PERMITS), (POOL, POOL_PERMITS), (SPENT, 1)] {
        let body = json!({"semaphoreName": name, "requester": "bench", "permits": count});
        let event = f.event(Route::AcquirePermit, "", Some(body), &[], Some(user));
        let (_, answer) = f.call(Route::AcquirePermit.function(), &event).await;
        assert_eq!(answer["acquired"], true, "acquire {name}: {answer}");
        let lease = answer["leaseId"].as_str().expect("a lease").to_owned();
        permits.push((lease, answer["permit"].as_u64().expect("a permit") as u8));
    }
    let release = json!({"semaphoreName": SPENT, "leaseId": permits[2].0});
    let event = f.event(Route::ReleasePermit, "", Some(release), &[], Some(user));
    let (_, answer) = f.call(Route::ReleasePermit.function(), &event).await;
    assert_eq!(answer["released"], true, "release: {answer}");
    Scene {
        held: leases[0].clone(),
        renewed: leases[1].clone(),
        pool_held: permits[0].clone(),
        pool_renewed: permits[1].clone(),
    }
}
