//! API keys: rotation, revocation, and a leaked key during its grace.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use testkit::api::{lease_of, Api};

/// Rotation with and without a grace period, a retried rotation, revocation:
/// each old key answers 401 (the stack's authorizer cache is off), the new
/// ones work, and sign-up and rotation answers are never cached.
pub async fn keys_rotate_and_revoke(api: Api) {
    let second = rotate_at_once(&api).await;
    let third = rotate_with_a_grace(&api, &second).await;
    revoke(&api, &third).await;
}

/// `POST /v0/keys/rotate` with `key`, and `body` if given.
fn rotate(api: &Api, key: &str, body: Option<Value>) -> RequestBuilder {
    let request = api.post("/v0/keys/rotate", Some(key));
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
}

/// A new user's key rotated at once: the first key is dead for everything
/// but a retry of that rotation (its Idempotency-Key), which gets the same
/// new key back. The new key.
async fn rotate_at_once(api: &Api) -> String {
    let created = api.send(api.post("/v0/users/anonymous", None)).await;
    assert_eq!(created.headers["cache-control"], "no-store");
    let (user, first) = (
        created.body["userId"].clone(),
        created.body["apiKey"].as_str().unwrap().to_owned(),
    );
    lease_of(&api.acquire(&first, "kept", "r").await);

    let request = rotate(api, &first, None).header("Idempotency-Key", "rotation-1");
    let rotated = api.send(request).await;
    assert_eq!(rotated.headers["cache-control"], "no-store");
    let rotated = rotated.body;
    let second = rotated["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(rotated["userId"], user);
    assert!(rotated.get("oldKeyExpiresAt").is_none(), "{rotated}");
    assert_ne!(second, first);
    assert_eq!(api.locks(&first).await.status, StatusCode::UNAUTHORIZED);
    let again = api
        .send(rotate(api, &first, None).header("Idempotency-Key", "rotation-1"))
        .await;
    assert_eq!(
        again.body["apiKey"],
        json!(second),
        "a retry gets the same key"
    );
    let other = api.send(rotate(api, &first, None)).await;
    assert_eq!(
        (other.status, &other.body["code"]),
        (StatusCode::CONFLICT, &json!("KEY_ROTATED")),
        "not a retry: {other:?}"
    );
    let locks = api.locks(&second).await;
    assert_eq!(
        locks.body["locks"][0]["lockName"], "kept",
        "same user, same locks"
    );
    second
}

/// `key` rotated with a grace period: both keys work until it ends. The
/// new key.
async fn rotate_with_a_grace(api: &Api, second: &str) -> String {
    let grace = json!({ "oldKeyValidForSeconds": 2 });
    let graceful = api.send(rotate(api, second, Some(grace))).await;
    assert_eq!(graceful.status, StatusCode::OK, "{graceful:?}");
    let third = graceful.body["apiKey"].as_str().unwrap().to_owned();
    assert!(graceful.body["oldKeyExpiresAt"].is_string(), "{graceful:?}");
    assert_eq!(api.locks(second).await.status, StatusCode::OK);
    assert_eq!(api.locks(&third).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(api.locks(second).await.status, StatusCode::UNAUTHORIZED);
    third
}

/// Bad input changes nothing; revocation ends `third` for good.
async fn revoke(api: &Api, third: &str) {
    let too_long = json!({ "oldKeyValidForSeconds": 86401 });
    let bad = api.send(rotate(api, third, Some(too_long))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    let revoked = api.send(api.post("/v0/keys/revoke", Some(third))).await;
    assert_eq!(revoked.body, json!({ "revoked": true }));
    for (method, path) in [
        ("GET", "/v0/locks"),
        ("POST", "/v0/keys/rotate"),
        ("POST", "/v0/keys/revoke"),
    ] {
        let request = match method {
            "GET" => api.get(path, Some(third)),
            _ => api.post(path, Some(third)),
        };
        assert_eq!(
            api.send(request).await.status,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
}

/// A key that leaked is rotated out with a long grace: during the grace the
/// old key still works, but it can neither get the new key (another or no
/// `Idempotency-Key`: `409 KEY_ROTATED`) nor revoke it (`revoke-others`:
/// `409`); the new key revokes the old one at once with `revoke-others`.
pub async fn a_leaked_key_cannot_follow_or_lock_out_its_rotation(api: Api) {
    let (_, old) = api.new_user().await;
    let rotation = api
        .post("/v0/keys/rotate", Some(&old))
        .header("Idempotency-Key", "owner-rotation")
        .json(&json!({ "oldKeyValidForSeconds": 3600 }));
    let rotated = api.send(rotation).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let new = rotated.body["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(api.locks(&old).await.status, StatusCode::OK, "in its grace");
    for idempotency_key in [Some("thief-1"), None] {
        let mut again = api.post("/v0/keys/rotate", Some(&old));
        if let Some(key) = idempotency_key {
            again = again.header("Idempotency-Key", key);
        }
        let answer = api.send(again).await;
        assert_eq!(
            (answer.status, &answer.body["code"]),
            (StatusCode::CONFLICT, &json!("KEY_ROTATED")),
            "{idempotency_key:?}: {answer:?}"
        );
        assert!(answer.body.get("apiKey").is_none());
    }
    let lockout = api
        .send(api.post("/v0/keys/revoke-others", Some(&old)))
        .await;
    assert_eq!(
        (lockout.status, &lockout.body["code"]),
        (StatusCode::CONFLICT, &json!("KEY_ROTATED")),
        "{lockout:?}"
    );
    assert_eq!(
        api.locks(&new).await.status,
        StatusCode::OK,
        "the new key still works"
    );
    let evicted = api
        .send(api.post("/v0/keys/revoke-others", Some(&new)))
        .await;
    assert_eq!(evicted.body, json!({ "revokedKeys": 1 }), "{evicted:?}");
    assert_eq!(
        api.locks(&old).await.status,
        StatusCode::UNAUTHORIZED,
        "the old key is out"
    );
    assert_eq!(api.locks(&new).await.status, StatusCode::OK);
}
