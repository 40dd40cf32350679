//! The functions under `cargo lambda watch` write their metrics records
//! (CloudWatch EMF) and audit lines where the stack keeps their output: a
//! scenario of grants, a refusal, a wait that times out, a force release, a
//! delete, a takeover of an expired lease and a bad key, then the records'
//! counts summed from the log.

use std::collections::BTreeMap;
use std::time::Duration;

use local_stack::{Stack, StackOptions};
use serde_json::{json, Value};

/// Every EMF record in `log`: its metric values summed by name.
fn metric_totals(log: &str) -> BTreeMap<String, f64> {
    let mut totals = BTreeMap::new();
    for record in log
        .lines()
        .filter_map(|line| line.find('{').map(|at| &line[at..]))
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .filter(|record| record.get("_aws").is_some())
    {
        let definitions = &record["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        for definition in definitions.as_array().expect("Metrics") {
            let name = definition["Name"].as_str().expect("a metric name");
            let sum = match &record[name] {
                Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
                value => value.as_f64().expect("a number"),
            };
            *totals.entry(name.to_owned()).or_default() += sum;
        }
    }
    totals
}

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_write_one_record_per_invocation_and_audit_lines() {
    let options = StackOptions {
        auth_cache_ttl: Some(Duration::ZERO),
        ..StackOptions::default()
    };
    let stack = Stack::start(options)
        .await
        .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
    let http = reqwest::Client::new();
    let base = stack.base_url.clone();
    let key = stack.new_api_key().await.unwrap();
    // What the stack's own start-up calls recorded (its readiness probe),
    // once their lines are out.
    let log_path = stack.log_path.clone().expect("a log file");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = metric_totals(&std::fs::read_to_string(&log_path).unwrap());
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        (status, body)
    };
    for name in ["a", "b"] {
        let (_, granted) = answer(
            post("/v0/lock", json!({"lockName": name, "requester": "r"}))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(granted["locked"], true, "{granted}");
    }
    let (_, refused) = answer(
        post("/v0/lock", json!({"lockName": "a", "requester": "r"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused["locked"], false, "{refused}");
    let wait = json!({"lockName": "a", "requester": "w", "waitSeconds": 1});
    let (_, waited) = answer(post("/v0/lock", wait).await.unwrap()).await;
    assert_eq!(waited["locked"], false, "{waited}");
    let (_, forced) = answer(
        post("/v0/unlock", json!({"lockName": "a", "force": true}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forced["unlocked"], true, "{forced}");
    let (_, deleted) = answer(
        post("/v0/lock/delete", json!({"lockName": "a"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deleted["deleted"], true, "{deleted}");
    // A one-second lease left to expire, then taken over once the 1 s
    // clock-skew margin after its end has passed.
    for requester in ["lapsing", "next"] {
        let body = json!({"lockName": "c", "requester": requester, "ttlSeconds": 1});
        let (_, granted) = answer(post("/v0/lock", body).await.unwrap()).await;
        assert_eq!(granted["locked"], true, "{granted}");
        tokio::time::sleep(Duration::from_millis(2_100)).await;
    }
    let bad = http
        .get(format!("{base}/v0/locks"))
        .bearer_auth(uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    drop(stack);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let totals = metric_totals(&log);
    let count = |name: &str| {
        let at = |totals: &BTreeMap<String, f64>| totals.get(name).copied().unwrap_or_default();
        at(&totals) - at(&before)
    };
    assert_eq!(count("AcquireGranted"), 4.0, "{totals:?}");
    assert_eq!(count("Takeover"), 1.0, "{totals:?}");
    assert!(
        (1_000.0..6_000.0).contains(&count("TakeoverExpiredFor")),
        "expired ~1.1 s before, the margin included: {totals:?}"
    );
    assert_eq!(
        count("AcquireRefused"),
        2.0,
        "the try and the wait: {totals:?}"
    );
    assert_eq!(count("WaitTimedOut"), 1.0, "{totals:?}");
    assert!((900.0..5_000.0).contains(&count("WaitTime")), "{totals:?}");
    assert_eq!(count("ForceRelease"), 1.0, "{totals:?}");
    assert_eq!(count("Delete"), 1.0, "{totals:?}");
    assert_eq!(count("AuthDenied"), 1.0, "{totals:?}");
    // Every authorized call, the sign-up's own excepted (it needs no key).
    assert_eq!(count("AuthAllowed"), 8.0, "{totals:?}");
    assert!(
        log.matches(r#""denyReason":"unknown""#).count() as f64 >= count("AuthDenied"),
        "the bad key's reason ({})",
        log_path.display()
    );
    let audit: Vec<Value> = log
        .lines()
        .filter_map(|line| line.find(r#"{"audit":true"#).map(|at| &line[at..]))
        .map(|text| serde_json::from_str(text).expect("an audit line is JSON"))
        .collect();
    let acts: Vec<_> = audit.iter().map(|a| a["what"].as_str().unwrap()).collect();
    assert_eq!(
        acts,
        ["forceRelease", "deleteLock", "takeover"],
        "{audit:?}"
    );
    assert_eq!(audit[0]["name"], "a");
    assert_eq!(audit[0]["displacedHolder"], "r", "{audit:?}");
    assert!(audit[0]["displacedLease"].is_string(), "{audit:?}");
    let takeover = &audit[2];
    assert_eq!(
        (
            &takeover["name"],
            &takeover["displacedHolder"],
            &takeover["holder"]
        ),
        (&json!("c"), &json!("lapsing"), &json!("next")),
        "{takeover}"
    );
    assert!(
        takeover["expiredForMs"].as_u64().unwrap() >= 1_000,
        "{takeover}"
    );
    assert_ne!(takeover["lease"], takeover["displacedLease"]);
}
