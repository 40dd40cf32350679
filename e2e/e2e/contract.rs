//! The contract over HTTP: the reference flow, every case of its table
//! that is not bad input, Idempotency-Key and force release, and the
//! README's walk-through run verbatim.

use reqwest::StatusCode;
use serde_json::json;
use testkit::api::{lease_of, Api};

/// The reference's curl flow: create user → acquire → get → list → unlock.
pub async fn reference_flow(api: Api) {
    let (user_id, key) = api.new_user().await;
    uuid::Uuid::parse_str(&user_id).unwrap();
    assert_eq!(uuid::Uuid::parse_str(&key).unwrap().get_version_num(), 4);

    let acquired = api.acquire(&key, "resource-123", "service-a").await;
    assert_eq!(acquired.status, StatusCode::OK);
    assert_eq!(acquired.body["message"], "lock acquired");
    let lease = lease_of(&acquired);

    let got = api.lock(&key, "resource-123").await;
    assert_eq!(got.status, StatusCode::OK);
    testkit::assert_held(&got.body, "resource-123", &lease, "service-a");
    assert!(got.body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(got.body["updatedAt"].as_str().unwrap().ends_with('Z'));

    let listed = api.locks(&key).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body, json!({ "locks": [got.body] }));

    let unlocked = api.unlock(&key, "resource-123", &lease).await;
    assert_eq!(
        (unlocked.status, unlocked.body),
        (StatusCode::OK, json!({ "unlocked": true }))
    );
    let after = api.lock(&key, "resource-123").await;
    assert_eq!(after.body["locked"], false);
    assert_eq!(after.body["leaseId"], lease.as_str());
}

/// Every case of the contract table that is not about bad input.
pub async fn contract_cases(api: Api) {
    let (_, key) = api.new_user().await;
    let first = lease_of(&api.acquire(&key, "job", "service-a").await);

    let same_requester = api.acquire(&key, "job", "service-a").await;
    assert_eq!(same_requester.status, StatusCode::OK);
    assert_eq!(same_requester.body["locked"], false);
    assert!(same_requester.body["message"].is_string());
    assert!(same_requester.body.get("leaseId").is_none());

    let stale = api
        .unlock(&key, "job", &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body["unlocked"], false);
    assert!(stale.body["message"].is_string());

    assert_eq!(
        api.unlock(&key, "job", &first).await.body,
        json!({ "unlocked": true })
    );
    assert_eq!(
        api.unlock(&key, "job", &first).await.body,
        json!({ "unlocked": true }),
        "a retried unlock is safe"
    );
    let second = lease_of(&api.acquire(&key, "job", "service-b").await);
    assert_ne!(second, first);
    assert_eq!(
        api.unlock(&key, "job", &first).await.body["unlocked"],
        false
    );
    assert_eq!(api.lock(&key, "job").await.body["leasedBy"], "service-b");

    for answer in [
        api.lock(&key, "never").await,
        api.unlock(&key, "never", &first).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert!(answer.body["message"].is_string());
    }
    let (_, fresh) = api.new_user().await;
    assert_eq!(api.locks(&fresh).await.body, json!({ "locks": [] }));
}

/// An Idempotency-Key retry gets the same lease; force release fences it.
pub async fn idempotent_retry_and_force_release(api: Api) {
    let (_, key) = api.new_user().await;
    let body = json!({ "lockName": "deploy", "requester": "ci", "ttlSeconds": 60 });
    let acquire = |idempotency_key: &'static str| {
        let request = api.post("/v0/lock", Some(&key));
        api.send(
            request
                .header("Idempotency-Key", idempotency_key)
                .json(&body),
        )
    };
    let first = acquire("build-17").await;
    let again = acquire("build-17").await;
    assert_eq!(
        again.body, first.body,
        "a retry with the same key gets the same lease and token"
    );
    let other = acquire("build-18").await;
    assert_eq!(other.body["locked"], false);

    let forced = api
        .send(
            api.post("/v0/unlock", Some(&key))
                .json(&json!({ "lockName": "deploy", "force": true })),
        )
        .await;
    assert_eq!(forced.body, json!({ "unlocked": true }));
    let old = lease_of(&first);
    assert_eq!(
        api.unlock(&key, "deploy", &old).await.body["unlocked"],
        false
    );
    let next = api.acquire(&key, "deploy", "ci").await;
    assert!(next.body["fencingToken"].as_u64() > first.body["fencingToken"].as_u64());
}

/// The README's curl walk-through, run verbatim with bash against this stack.
pub async fn readme_walkthrough(api: Api) {
    let readme =
        std::fs::read_to_string(local_stack::engine::repo_root().join("README.md")).unwrap();
    let section = &readme[readme
        .find("### Try it")
        .expect("README has a \"Try it\" section")..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let block = &section[start..start + section[start..].find("```").unwrap()];
    let default = "API=http://127.0.0.1:3000\n";
    assert!(
        block.starts_with(default),
        "the walk-through starts by naming make dev's URL"
    );
    let script = block.replacen(default, &format!("API={}\n", api.base), 1);
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        r#"{"locked":true,"leaseId":""#,
        r#"{"locked":false,"message":"lock is held by another lease"}"#,
        r#""leasedBy":"service-a""#,
        r#"{"unlocked":true}"#,
        r#"{"code":"UNAUTHORIZED","message":"Unauthorized"}"#,
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected} in:\n{stdout}"
        );
    }
}
