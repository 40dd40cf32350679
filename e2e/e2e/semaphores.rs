//! Semaphores over HTTP: N holders at most, each a lease of its own; the
//! count fixed at creation; release, renew, force, list and delete; bad
//! input refused with nothing written.

use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::api::{Answer, Api};

/// `POST /v0/semaphore` for one of `permits` permits of `name`.
async fn take(api: &Api, key: &str, name: &str, permits: Value, extra: Value) -> Answer {
    let mut body = json!({ "semaphoreName": name, "requester": "e2e", "permits": permits });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    api.post_json("/v0/semaphore", key, body).await
}

async fn view(api: &Api, key: &str, name: &str) -> Answer {
    let url = format!("/v0/semaphore?semaphoreName={name}");
    api.send(api.get(&url, Some(key))).await
}

/// The whole life of a semaphore of two permits, as the issue writes it.
pub async fn semaphore_flow(api: Api) {
    let (_, key) = api.new_user().await;
    let first = take(&api, &key, "pool", json!(2), json!({ "ttlSeconds": 60 })).await;
    let second = take(&api, &key, "pool", json!(2), json!({})).await;
    for answer in [&first, &second] {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["acquired"], true);
        assert_eq!(answer.body["permits"], 2);
        assert!(answer.body["fencingToken"].as_u64().unwrap() > 0);
    }
    assert_ne!(first.body["permit"], second.body["permit"]);
    let third = take(&api, &key, "pool", json!(2), json!({})).await;
    assert_eq!(third.body["acquired"], false, "{third:?}");
    assert_eq!(
        third.body["expiresAt"], first.body["expiresAt"],
        "the first to end"
    );
    // The count is the semaphore's.
    let mismatch = take(&api, &key, "pool", json!(3), json!({})).await;
    assert_eq!(mismatch.status, StatusCode::CONFLICT);
    assert_eq!(mismatch.body["code"], "PERMITS_MISMATCH");
    assert!(mismatch.body["message"]
        .as_str()
        .unwrap()
        .contains("has 2 permits"));
    // A lock of the same name is another name.
    assert_eq!(api.acquire(&key, "pool", "e2e").await.body["locked"], true);

    let seen = view(&api, &key, "pool").await;
    assert_eq!(
        (seen.body["permits"].clone(), seen.body["available"].clone()),
        (json!(2), json!(0))
    );
    let holders = seen.body["holders"].as_array().unwrap();
    assert_eq!(holders.len(), 2);
    for field in [
        "leaseId",
        "leasedBy",
        "permit",
        "acquiredAt",
        "expiresAt",
        "fencingToken",
    ] {
        assert!(!holders[0][field].is_null(), "{field}: {seen:?}");
    }

    release_and_renew(&api, &key, &first).await;
    delete_and_recreate(&api, &key).await;
}

/// The first grant's lease renewed, released (and again), then dead.
async fn release_and_renew(api: &Api, key: &str, first: &Answer) {
    let (lease, permit) = (&first.body["leaseId"], &first.body["permit"]);
    let renew =
        json!({ "semaphoreName": "pool", "leaseId": lease, "permit": permit, "ttlSeconds": 120 });
    let renewed = api.post_json("/v0/semaphore/renew", key, renew).await;
    assert_eq!(renewed.body["renewed"], true, "{renewed:?}");
    let release = json!({ "semaphoreName": "pool", "leaseId": lease, "permit": permit });
    let released = api.post_json("/v0/semaphore/release", key, release.clone());
    assert_eq!(released.await.body, json!({ "released": true }));
    let again = api.post_json("/v0/semaphore/release", key, release).await;
    assert_eq!(again.body, json!({ "released": true }), "a retried release");
    let renew = json!({ "semaphoreName": "pool", "leaseId": lease });
    let dead = api.post_json("/v0/semaphore/renew", key, renew).await;
    assert_eq!(dead.body["renewed"], false);
}

/// Delete refused while a permit is live, done once forced free; the name
/// comes back with another count.
async fn delete_and_recreate(api: &Api, key: &str) {
    let pool = json!({ "semaphoreName": "pool" });
    let held = api
        .post_json("/v0/semaphore/delete", key, pool.clone())
        .await;
    assert_eq!(
        (held.status, held.body["code"].clone()),
        (StatusCode::CONFLICT, json!("SEMAPHORE_HELD"))
    );
    let listed = api.send(api.get("/v0/semaphores", Some(key))).await;
    assert_eq!(listed.body["semaphores"][0]["available"], 1, "{listed:?}");
    assert!(listed.body.get("nextCursor").is_none());
    let force = json!({ "semaphoreName": "pool", "force": true });
    let forced = api.post_json("/v0/semaphore/release", key, force).await;
    assert_eq!(forced.body["released"], true);
    let deleted = api.post_json("/v0/semaphore/delete", key, pool).await;
    assert_eq!(deleted.body, json!({ "deleted": true }));
    let gone = view(api, key, "pool").await;
    assert_eq!(gone.body["code"], "SEMAPHORE_NOT_FOUND");
    let again = take(api, key, "pool", json!(3), json!({})).await;
    assert_eq!(again.body["permits"], 3, "{again:?}");
}

/// Twelve acquirers at once on three permits: exactly three are granted,
/// each a permit of its own.
pub async fn twelve_acquirers_three_permits(api: Api) {
    let (_, key) = api.new_user().await;
    let tasks = (0..12).map(|_| {
        let (api, key) = (api.clone(), key.clone());
        tokio::spawn(async move { take(&api, &key, "three", json!(3), json!({})).await })
    });
    let mut permits = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        if answer.body["acquired"] == true {
            permits.push(answer.body["permit"].as_u64().unwrap());
        }
    }
    permits.sort();
    assert_eq!(permits, [0, 1, 2]);
}

/// Bad input on every semaphore route: a 400 naming the field, nothing written.
pub async fn semaphore_bad_input(api: Api) {
    let (_, key) = api.new_user().await;
    for (path, body, field) in bad_bodies() {
        let answer = api.post_json(path, &key, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {answer:?}"
        );
        assert_eq!(answer.body["field"], field, "{path} {body}: {answer:?}");
    }
    let malformed = api
        .send(
            api.post("/v0/semaphore", Some(&key))
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    for query in [
        "/v0/semaphore",
        "/v0/semaphores?limit=51",
        "/v0/semaphores?cursor=zz",
    ] {
        let answer = api.send(api.get(query, Some(&key))).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {answer:?}"
        );
    }
    let listed = api.send(api.get("/v0/semaphores", Some(&key))).await;
    assert_eq!(
        listed.body,
        json!({ "semaphores": [] }),
        "nothing was written"
    );
    assert_eq!(view(&api, &key, "s").await.status, StatusCode::NOT_FOUND);
}

/// Bodies each route refuses, and the field each refusal names.
fn bad_bodies() -> Vec<(&'static str, Value, &'static str)> {
    let (acquire, release) = ("/v0/semaphore", "/v0/semaphore/release");
    let lease = uuid::Uuid::new_v4().to_string();
    let with = |fields: Value| {
        let mut body = json!({ "semaphoreName": "s", "requester": "r", "permits": 2 });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        body
    };
    vec![
        (acquire, with(json!({ "permits": 0 })), "permits"),
        (acquire, with(json!({ "permits": 65 })), "permits"),
        (acquire, with(json!({ "permits": "3" })), "permits"),
        (
            acquire,
            json!({ "semaphoreName": "s", "requester": "r" }),
            "permits",
        ),
        (
            acquire,
            with(json!({ "semaphoreName": " " })),
            "semaphoreName",
        ),
        (
            acquire,
            with(json!({ "semaphoreName": "x".repeat(256) })),
            "semaphoreName",
        ),
        (acquire, with(json!({ "ttlSeconds": 0 })), "ttlSeconds"),
        (
            acquire,
            json!({ "requester": "r", "permits": 2 }),
            "semaphoreName",
        ),
        (
            release,
            json!({ "semaphoreName": "s", "leaseId": "nope" }),
            "leaseId",
        ),
        (
            release,
            json!({ "semaphoreName": "s", "leaseId": lease, "permit": 64 }),
            "permit",
        ),
        (release, json!({ "semaphoreName": "s" }), "leaseId"),
        (
            "/v0/semaphore/renew",
            json!({ "semaphoreName": "s", "leaseId": lease, "permit": -1 }),
            "permit",
        ),
        (
            "/v0/semaphore/delete",
            json!({ "semaphoreName": "s\u{7}" }),
            "semaphoreName",
        ),
    ]
}
