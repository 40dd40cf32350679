//! No secret reaches any log, at any level: the functions run with
//! `RUST_LOG=trace` (at which the Lambda runtime would log every raw event,
//! `Authorization` header and authorizer token included, and the AWS SDK
//! every DynamoDB request and answer), a user signs up, uses its key,
//! rotates it, uses the new one, revokes the others and then its own; then
//! neither key, neither key's SHA-256 (what the key table stores and the
//! authorizer passes on) nor the sealed successor appears anywhere in what
//! the functions, cargo-lambda and the local gateway printed — their audit
//! lines and metrics records included.

use std::time::Duration;

use local_stack::{Stack, StackOptions};
use lock_service::keys::ApiKey;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn no_key_is_logged_even_at_trace_level() {
    let options = StackOptions {
        function_env: vec![("RUST_LOG".into(), "trace".into())],
        auth_cache_ttl: Some(Duration::ZERO),
        ..StackOptions::default()
    };
    let stack = Stack::start(options)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let http = reqwest::Client::new();
    let base = stack.base_url.clone();
    let first = stack.new_api_key().await.unwrap();
    let post = |path: &str, key: &str| {
        http.post(format!("{base}{path}"))
            .bearer_auth(key)
            .header("content-type", "application/json")
    };
    let acquired = post("/v0/lock", &first)
        .body(r#"{"lockName":"logged","requester":"r"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(acquired.status(), 200);
    let rotated: Value = post("/v0/keys/rotate", &first)
        .header("Idempotency-Key", "rotation-logged")
        .body(r#"{"oldKeyValidForSeconds":600}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = rotated["apiKey"].as_str().expect("a new key").to_owned();
    let listed = http
        .get(format!("{base}/v0/locks"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let others = post("/v0/keys/revoke-others", &second)
        .send()
        .await
        .unwrap();
    assert_eq!(others.status(), 200);
    let revoked = post("/v0/keys/revoke", &second).send().await.unwrap();
    assert_eq!(revoked.status(), 200);

    let log_path = stack.log_path.clone().expect("a log file");
    drop(stack);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains(r#""level":"TRACE""#),
        "the functions did log at trace level ({})",
        log_path.display()
    );
    // The audit trail and the metrics records are among what is checked.
    for act in ["rotateKey", "revokeOtherKeys", "revokeKey"] {
        let line = format!(r#""audit":true,"what":"{act}""#);
        assert!(
            log.contains(&line),
            "no audit line {line} in {}",
            log_path.display()
        );
    }
    assert!(
        log.contains(r#""AuthAllowed":1.0"#) && log.contains(r#""AcquireGranted":1.0"#),
        "no metrics records in {}",
        log_path.display()
    );
    let key = |text: &str| ApiKey::from_authorization(&format!("Bearer {text}")).unwrap();
    let (old, new) = (key(&first), key(&second));
    assert!(
        log.contains("DynamoDB") || log.contains("dynamodb"),
        "the SDK's own lines are in the log"
    );
    for (what, form) in [
        ("the first key", first.to_lowercase()),
        ("the first key", first.to_uppercase()),
        ("the first key", first.replace('-', "")),
        ("the second key", second.to_lowercase()),
        ("the second key", second.to_uppercase()),
        ("the second key", second.replace('-', "")),
        ("a key hash", old.hash().as_str().to_owned()),
        ("a key hash", new.hash().as_str().to_owned()),
        ("the sealed successor", old.seal_successor(&new)),
    ] {
        assert!(!log.contains(&form), "{what} is in {}", log_path.display());
    }
}
