//! End-to-end tests: the real function binaries under `cargo lambda watch`,
//! dynalite, and the local gateway, all started here on free ports, driven
//! over HTTP exactly as a client of the deployed API would.
//!
//! A custom harness (one stack for every scenario, stopped at the end); run
//! one scenario with `cargo test -p e2e --test e2e -- NAME`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_stack::{harness, Stack, StackOptions};
use lock_client::{AcquireOptions, Client, Error};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A client of the API under test.
#[derive(Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

/// An answer: status and JSON body (its `Content-Type` is checked on arrival).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.expect("a body");
        let body =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text:?}"));
        assert_eq!(content_type, "application/json", "{status} {body}");
        Answer { status, body }
    }

    fn post(&self, path: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.post(format!("{}{path}", self.base));
        match key {
            Some(key) => request.header("Authorization", format!("Bearer {key}")),
            None => request,
        }
    }

    fn get(&self, path: &str, key: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.get(format!("{}{path}", self.base));
        match key {
            Some(key) => request.header("Authorization", format!("Bearer {key}")),
            None => request,
        }
    }

    /// A new user: (userId, apiKey).
    async fn new_user(&self) -> (String, String) {
        let answer = self.send(self.post("/v0/users/anonymous", None)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let field = |name: &str| answer.body[name].as_str().unwrap().to_owned();
        (field("userId"), field("apiKey"))
    }

    async fn acquire(&self, key: &str, lock: &str, requester: &str) -> Answer {
        let body = json!({ "lockName": lock, "requester": requester });
        self.send(self.post("/v0/lock", Some(key)).json(&body))
            .await
    }

    async fn unlock(&self, key: &str, lock: &str, lease: &str) -> Answer {
        let body = json!({ "lockName": lock, "leaseId": lease });
        self.send(self.post("/v0/unlock", Some(key)).json(&body))
            .await
    }

    async fn lock(&self, key: &str, lock: &str) -> Answer {
        self.send(self.get("/v0/lock", Some(key)).query(&[("lockName", lock)]))
            .await
    }

    async fn locks(&self, key: &str) -> Answer {
        self.send(self.get("/v0/locks", Some(key))).await
    }

    /// A new user's client (`lock_client`), for scenarios about behaviour
    /// rather than the wire.
    async fn new_client(&self) -> Client {
        let (_, key) = self.new_user().await;
        Client::new(&self.base, &key).unwrap()
    }
}

/// Acquire options with `requester` (and no wait).
fn as_requester(requester: String) -> AcquireOptions {
    AcquireOptions {
        requester,
        ..AcquireOptions::default()
    }
}

fn lease_of(answer: &Answer) -> String {
    assert_eq!(answer.body["locked"], true, "{answer:?}");
    answer.body["leaseId"].as_str().unwrap().to_owned()
}

// ------------------------------------------------------------------ scenarios

/// The reference's curl flow: create user → acquire → get → list → unlock.
async fn reference_flow(api: Api) {
    let (user_id, key) = api.new_user().await;
    uuid::Uuid::parse_str(&user_id).unwrap();
    assert_eq!(uuid::Uuid::parse_str(&key).unwrap().get_version_num(), 4);

    let acquired = api.acquire(&key, "resource-123", "service-a").await;
    assert_eq!(acquired.status, StatusCode::OK);
    assert_eq!(acquired.body["message"], "lock acquired");
    let lease = lease_of(&acquired);

    let got = api.lock(&key, "resource-123").await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["lockName"], "resource-123");
    assert_eq!(got.body["locked"], true);
    assert_eq!(got.body["leaseId"], lease.as_str());
    assert_eq!(got.body["leasedBy"], "service-a");
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
async fn contract_cases(api: Api) {
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

/// Missing, malformed, unknown and wrongly-schemed keys get a JSON 401 on every protected route.
async fn authentication(api: Api) {
    let (_, key) = api.new_user().await;
    let bad_headers = [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer garbage".to_owned()),
        Some(format!("Bearer {}", uuid::Uuid::new_v4())),
        Some(format!("Basic {key}")),
        Some(key.clone()),
        Some(format!("Bearer {key} extra")),
    ];
    let body =
        json!({ "lockName": "x", "requester": "r", "leaseId": uuid::Uuid::new_v4().to_string() });
    for header in &bad_headers {
        for (method, path) in [
            ("POST", "/v0/lock"),
            ("GET", "/v0/lock?lockName=x"),
            ("POST", "/v0/unlock"),
            ("GET", "/v0/locks"),
        ] {
            let url = format!("{}{path}", api.base);
            let mut request = match method {
                "POST" => api.http.post(url).json(&body),
                _ => api.http.get(url),
            };
            if let Some(header) = header {
                request = request.header("Authorization", header);
            }
            let answer = api.send(request).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {header:?}"
            );
            assert_eq!(answer.body["message"], "Unauthorized");
        }
    }
    // The scheme is case-insensitive, and the refusals above wrote nothing.
    let lower = api
        .send(
            api.http
                .get(format!("{}/v0/locks", api.base))
                .header("Authorization", format!("bearer {key}")),
        )
        .await;
    assert_eq!(lower.body, json!({ "locks": [] }));
}

/// Every route, with another tenant's identifiers forged into the request
/// (her `userId` in the body, the query and headers; her lock names, lease
/// ids and idempotency key): each request stays in the caller's own
/// namespace or is refused, no answer carries anything of hers, and her
/// locks are exactly as they were after every request.
async fn tenant_isolation(api: Api) {
    let (alice_id, alice) = api.new_user().await;
    let (bob_id, bob) = api.new_user().await;
    let alice_key_id = "alice-retry-1";
    let shared_lease = {
        let body = json!({ "lockName": "payroll", "requester": "alice", "ttlSeconds": 3600 });
        let request = api
            .post("/v0/lock", Some(&alice))
            .header("Idempotency-Key", alice_key_id)
            .json(&body);
        lease_of(&api.send(request).await)
    };
    let private_lease = lease_of(&api.acquire(&alice, "alice-only", "alice").await);
    let freed_lease = lease_of(&api.acquire(&alice, "alice-freed", "alice").await);
    assert_eq!(
        api.unlock(&alice, "alice-freed", &freed_lease).await.body["unlocked"],
        true
    );
    let alice_before = api.locks(&alice).await.body;
    let secrets = [&alice_id, &shared_lease, &private_lease, &freed_lease];

    // Her userId everywhere a confused service might look for one.
    let forge = |request: reqwest::RequestBuilder| {
        request
            .query(&[
                ("userId", alice_id.as_str()),
                ("user_id", alice_id.as_str()),
            ])
            .header("X-User-Id", &alice_id)
            .header("X-Amz-User-Id", &alice_id)
            .header("userId", &alice_id)
    };
    let forged_body = |mut body: Value| {
        body["userId"] = json!(alice_id);
        body["requestContext"] = json!({ "authorizer": { "userId": alice_id } });
        body
    };
    let lock_body = |name: &str| forged_body(json!({ "lockName": name, "requester": "bob" }));
    let lease_body = |name: &str, lease: &str| {
        forged_body(json!({ "lockName": name, "leaseId": lease, "ttlSeconds": 60 }))
    };
    let force_body = |name: &str| forged_body(json!({ "lockName": name, "force": true }));
    let get = |name: &str| api.get("/v0/lock", Some(&bob)).query(&[("lockName", name)]);

    let ok = StatusCode::OK;
    let not_found = StatusCode::NOT_FOUND;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, Value)> = vec![
        // Reads: her lock names are unknown to him, her list is not his.
        ("get her lock", get("alice-only"), not_found, json!(null)),
        (
            "get her freed lock",
            get("alice-freed"),
            not_found,
            json!(null),
        ),
        (
            "list",
            api.get("/v0/locks", Some(&bob)),
            ok,
            json!({ "locks": [] }),
        ),
        // Writes naming her locks and leases.
        (
            "unlock her lease",
            api.post("/v0/unlock", Some(&bob))
                .json(&lease_body("alice-only", &private_lease)),
            not_found,
            json!(null),
        ),
        (
            "force her lock",
            api.post("/v0/unlock", Some(&bob))
                .json(&force_body("alice-only")),
            not_found,
            json!(null),
        ),
        (
            "renew her lease",
            api.post("/v0/lock/renew", Some(&bob))
                .json(&lease_body("alice-only", &private_lease)),
            not_found,
            json!(null),
        ),
        (
            "delete her freed lock",
            api.post("/v0/lock/delete", Some(&bob))
                .json(&forged_body(json!({ "lockName": "alice-freed" }))),
            not_found,
            json!(null),
        ),
        (
            "renew her freed lease",
            api.post("/v0/lock/renew", Some(&bob))
                .json(&lease_body("alice-freed", &freed_lease)),
            not_found,
            json!(null),
        ),
        // The same name in his namespace is his own lock, even with her idempotency key.
        (
            "acquire her lock name",
            api.post("/v0/lock", Some(&bob))
                .header("Idempotency-Key", alice_key_id)
                .json(&lock_body("payroll")),
            ok,
            json!({ "locked": true }),
        ),
        (
            "unlock his lock with her lease",
            api.post("/v0/unlock", Some(&bob))
                .json(&lease_body("payroll", &shared_lease)),
            ok,
            json!({ "unlocked": false }),
        ),
        (
            "renew his lock with her lease",
            api.post("/v0/lock/renew", Some(&bob))
                .json(&lease_body("payroll", &shared_lease)),
            ok,
            json!({ "renewed": false }),
        ),
        (
            "force his lock",
            api.post("/v0/unlock", Some(&bob))
                .json(&force_body("payroll")),
            ok,
            json!({ "unlocked": true }),
        ),
        (
            "get his lock",
            get("payroll"),
            ok,
            json!({ "locked": false }),
        ),
        ("list", api.get("/v0/locks", Some(&bob)), ok, json!(null)),
        // Signing up "as her" makes a new user; her id is no key.
        (
            "sign up as her",
            api.post("/v0/users/anonymous", None)
                .json(&forged_body(json!({}))),
            ok,
            json!(null),
        ),
        (
            "her userId as a key",
            api.get("/v0/locks", Some(&alice_id)),
            unauthorized,
            json!(null),
        ),
        (
            "her lease id as a key",
            api.get("/v0/locks", Some(&private_lease)),
            unauthorized,
            json!(null),
        ),
        // A page that starts before her lock names lists only his.
        (
            "list",
            api.get("/v0/locks", Some(&bob))
                .query(&[("limit", "10"), ("cursor", "c161")]),
            ok,
            json!(null),
        ),
        // Rotating and revoking touch only the calling key, his; revoking
        // the others touches only his user's other keys (he has none).
        (
            "revoke the others as her",
            api.post("/v0/keys/revoke-others", Some(&bob))
                .json(&forged_body(json!({}))),
            ok,
            json!({ "revokedKeys": 0 }),
        ),
        (
            "rotate as her",
            api.post("/v0/keys/rotate", Some(&bob))
                .json(&forged_body(json!({ "oldKeyValidForSeconds": 3600 }))),
            ok,
            json!({ "userId": bob_id }),
        ),
        (
            "revoke as her",
            api.post("/v0/keys/revoke", Some(&bob))
                .json(&forged_body(json!({}))),
            ok,
            json!({ "revoked": true }),
        ),
    ];
    for (case, request, status, expected) in cases {
        let answer = api.send(forge(request)).await;
        assert_eq!(answer.status, status, "{case}: {answer:?}");
        if let Some(fields) = expected.as_object() {
            for (field, value) in fields {
                assert_eq!(&answer.body[field], value, "{case}: {answer:?}");
            }
        }
        let text = answer.body.to_string();
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{case} leaked {secret}: {text}"
            );
        }
        if case == "sign up as her" {
            assert_ne!(answer.body["userId"], json!(alice_id));
            assert_ne!(answer.body["userId"], json!(bob_id));
        }
        if case == "list" {
            let names: Vec<_> = answer.body["locks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["lockName"].clone())
                .collect();
            assert!(names.iter().all(|n| n == "payroll"), "{case}: {names:?}");
        }
        assert_eq!(
            api.locks(&alice).await.body,
            alice_before,
            "{case} changed her locks"
        );
    }
    // Her own retry with her key still finds her lease.
    let body = json!({ "lockName": "payroll", "requester": "alice", "ttlSeconds": 3600 });
    let request = api
        .post("/v0/lock", Some(&alice))
        .header("Idempotency-Key", alice_key_id)
        .json(&body);
    assert_eq!(lease_of(&api.send(request).await), shared_lease);
}

/// Bad input through the gateway: a clear 4xx in JSON, and nothing written.
async fn bad_input_changes_nothing(api: Api) {
    let (_, key) = api.new_user().await;
    let lease = uuid::Uuid::new_v4().to_string();
    let huge = "a".repeat(17 * 1024);
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "/v0/lock",
            String::new(),
            StatusCode::BAD_REQUEST,
            "request body is required",
        ),
        (
            "/v0/lock",
            "{oops".into(),
            StatusCode::BAD_REQUEST,
            "request body is not valid JSON",
        ),
        (
            "/v0/lock",
            "[]".into(),
            StatusCode::BAD_REQUEST,
            "request body must be a JSON object",
        ),
        (
            "/v0/lock",
            r#"{"requester":"r"}"#.into(),
            StatusCode::BAD_REQUEST,
            "lockName is required",
        ),
        (
            "/v0/lock",
            r#"{"lockName":"x"}"#.into(),
            StatusCode::BAD_REQUEST,
            "requester is required",
        ),
        (
            "/v0/lock",
            r#"{"lockName":1,"requester":"r"}"#.into(),
            StatusCode::BAD_REQUEST,
            "lockName must be a string",
        ),
        (
            "/v0/lock",
            r#"{"lockName":" ","requester":"r"}"#.into(),
            StatusCode::BAD_REQUEST,
            "lockName must not be blank",
        ),
        (
            "/v0/lock",
            format!(r#"{{"lockName":"{}","requester":"r"}}"#, "n".repeat(256)),
            StatusCode::BAD_REQUEST,
            "lockName must be at most 255 bytes",
        ),
        (
            "/v0/lock",
            r#"{"lockName":"x","requester":"a\tb"}"#.into(),
            StatusCode::BAD_REQUEST,
            "requester must not contain control characters",
        ),
        (
            "/v0/lock",
            format!(r#"{{"lockName":"x","requester":"{huge}"}}"#),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body must be at most 16384 bytes",
        ),
        (
            "/v0/unlock",
            r#"{"lockName":"x"}"#.into(),
            StatusCode::BAD_REQUEST,
            "leaseId is required",
        ),
        (
            "/v0/unlock",
            r#"{"lockName":"x","leaseId":"not-a-uuid"}"#.into(),
            StatusCode::BAD_REQUEST,
            "leaseId must be a UUID",
        ),
        (
            "/v0/unlock",
            format!(r#"{{"lockName":null,"leaseId":"{lease}"}}"#),
            StatusCode::BAD_REQUEST,
            "lockName is required",
        ),
    ];
    for (path, body, status, message) in cases {
        let answer = api
            .send(
                api.post(path, Some(&key))
                    .header("Content-Type", "application/json")
                    .body(body.clone()),
            )
            .await;
        assert_eq!(answer.status, status, "{path} {body:.80}");
        assert!(
            answer.body["message"]
                .as_str()
                .unwrap()
                .starts_with(message),
            "{path}: {answer:?}"
        );
    }
    for query in [vec![], vec![("lockName", "")], vec![("name", "x")]] {
        let answer = api
            .send(api.get("/v0/lock", Some(&key)).query(&query))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query:?}");
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .contains("lockName"));
    }
    // Over API Gateway's own 10 MiB limit, the gateway refuses before any function runs.
    let enormous = vec![b'x'; 10 * 1024 * 1024 + 1];
    let answer = api
        .send(api.post("/v0/lock", Some(&key)).body(enormous))
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        api.locks(&key).await.body,
        json!({ "locks": [] }),
        "nothing was written"
    );
}

/// What the gateway answers itself: JSON 404 for unknown routes and methods.
async fn gateway_answers(api: Api) {
    let (_, key) = api.new_user().await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/v0/nothing"),
        ("DELETE", "/v0/lock"),
        ("GET", "/v0/unlock"),
        ("GET", "/v0/users/anonymous"),
        ("POST", "/v0/locks"),
    ] {
        let request = api
            .http
            .request(method.parse().unwrap(), format!("{}{path}", api.base))
            .header("Authorization", format!("Bearer {key}"));
        let answer = api.send(request).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.body["message"], "Not Found");
    }
}

/// 16 simultaneous acquirers of one free lock: exactly one wins (three rounds).
async fn sixteen_acquirers_one_winner(api: Api) {
    let client = api.new_client().await;
    for round in 0..3 {
        let lock = format!("contended-{round}");
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let (client, lock) = (client.clone(), lock.clone());
                let options = as_requester(format!("worker-{i}"));
                tokio::spawn(async move { client.acquire(&lock, &options).await })
            })
            .collect();
        let mut winners = Vec::new();
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(lease) => winners.push(lease.lease_id().to_owned()),
                Err(Error::Held { .. }) => {}
                Err(err) => panic!("round {round}: {err}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(client.get(&lock).await.unwrap().lease_id, winners[0]);
    }
}

/// 8 workers loop acquire → critical section → unlock; no two are ever inside at once.
async fn critical_section_never_overlaps(api: Api) {
    let client = api.new_client().await;
    let inside = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let entries = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let client = client.clone();
            let (inside, overlaps, entries) = (inside.clone(), overlaps.clone(), entries.clone());
            tokio::spawn(async move {
                let options = as_requester(format!("worker-{w}"));
                for _ in 0..5 {
                    let lease = loop {
                        match client.acquire("critical", &options).await {
                            Ok(lease) => break lease,
                            Err(Error::Held { .. }) => {}
                            Err(err) => panic!("worker {w}: {err}"),
                        }
                        tokio::time::sleep(Duration::from_millis(5 + (w as u64 * 3) % 11)).await;
                    };
                    if inside.swap(true, Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    entries.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    inside.store(false, Ordering::SeqCst);
                    assert!(lease.release().await.unwrap(), "worker {w}: not released");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "two holders were inside at once"
    );
    assert_eq!(entries.load(Ordering::SeqCst), 40);
}

/// Acquires with extra fields (`ttlSeconds`, `waitSeconds`, ...).
async fn acquire_with(api: &Api, key: &str, body: Value) -> Answer {
    api.send(api.post("/v0/lock", Some(key)).json(&body)).await
}

/// A waiter is granted as soon as the holder unlocks mid-wait.
async fn waiter_granted_when_holder_unlocks(api: Api) {
    let client = api.new_client().await;
    let holder = client
        .acquire("queue", &as_requester("holder".into()))
        .await
        .unwrap();
    let holder_token = holder.fencing_token();
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let options = AcquireOptions {
                wait: Duration::from_secs(15),
                ..as_requester("waiter".into())
            };
            (client.acquire("queue", &options).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(holder.release().await.unwrap());
    let (granted, waited) = waiter.await.unwrap();
    assert!(granted.unwrap().fencing_token() > holder_token);
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
}

/// A waiter is granted when the holder's lease expires mid-wait; a renewed
/// lease keeps it out until then.
async fn waiter_granted_when_lease_expires(api: Api) {
    let (_, key) = api.new_user().await;
    // The first call of a function starts its process (seconds on a cold
    // machine); start renew's now, so the lease timings below are the lock's.
    let unknown = json!({ "lockName": "nothing-yet", "leaseId": uuid::Uuid::new_v4().to_string() });
    let warm = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&unknown))
        .await;
    assert_eq!(warm.status, StatusCode::NOT_FOUND);

    let holder = acquire_with(
        &api,
        &key,
        json!({ "lockName": "lease", "requester": "h", "ttlSeconds": 2 }),
    )
    .await;
    let lease = lease_of(&holder);
    assert!(holder.body["expiresAt"].is_string());
    let renew = json!({ "lockName": "lease", "leaseId": lease, "ttlSeconds": 3 });
    let renewed = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&renew))
        .await;
    let renewed_at = Instant::now();
    assert_eq!(renewed.body["renewed"], true, "{renewed:?}");
    assert!(renewed.body["expiresAt"].as_str() > holder.body["expiresAt"].as_str());
    let answer = acquire_with(
        &api,
        &key,
        json!({ "lockName": "lease", "requester": "w", "waitSeconds": 15 }),
    )
    .await;
    let waited = renewed_at.elapsed();
    assert_eq!(answer.body["locked"], true, "{answer:?}");
    // Granted only once the renewed lease (3 s from the renew) ran out.
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_secs(12),
        "granted {waited:?} after the renew"
    );
    let late = api
        .send(api.post("/v0/lock/renew", Some(&key)).json(&renew))
        .await;
    assert_eq!(
        late.body["renewed"], false,
        "the expired lease cannot renew"
    );
    assert_eq!(
        api.unlock(&key, "lease", &lease).await.body["unlocked"],
        false,
        "nor unlock"
    );
}

/// A waiter gives up when its wait ends, with the usual answer.
async fn waiter_gives_up(api: Api) {
    let (_, key) = api.new_user().await;
    lease_of(&api.acquire(&key, "busy", "holder").await);
    let started = Instant::now();
    let answer = acquire_with(
        &api,
        &key,
        json!({ "lockName": "busy", "requester": "w", "waitSeconds": 2 }),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["locked"], false);
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
}

/// Several waiting acquires at once, each on a held lock: every one answers
/// when its own wait is over (plus at most 1 s), never behind the others'
/// waits and never with a 504. Twice as many as the functions' instances
/// that run at first, so instances start while others wait.
async fn concurrent_waiters_each_answer_after_their_own_wait(api: Api) {
    const WAITERS: usize = 6;
    const WAIT_SECONDS: u64 = 4;
    let (_, key) = api.new_user().await;
    for waiter in 0..WAITERS {
        lease_of(&api.acquire(&key, &format!("held-{waiter}"), "holder").await);
    }
    let waiters: Vec<_> = (0..WAITERS)
        .map(|waiter| {
            let (api, key) = (api.clone(), key.clone());
            tokio::spawn(async move {
                let body = json!({
                    "lockName": format!("held-{waiter}"), "requester": "w", "waitSeconds": WAIT_SECONDS
                });
                let started = Instant::now();
                (acquire_with(&api, &key, body).await, started.elapsed())
            })
        })
        .collect();
    for waiter in waiters {
        let (answer, took) = waiter.await.unwrap();
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["locked"], false, "{answer:?}");
        let wait = Duration::from_secs(WAIT_SECONDS);
        assert!(
            took >= wait && took <= wait + Duration::from_secs(1),
            "answered after {took:?}"
        );
    }
}

/// Rotation with and without a grace period, a retried rotation, revocation:
/// each old key answers 401 (the stack's authorizer cache is off), the new
/// ones work, and sign-up and rotation answers are never cached.
async fn keys_rotate_and_revoke(api: Api) {
    let signup = api.http.post(format!("{}/v0/users/anonymous", api.base));
    let response = signup.send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    let (user, first) = (
        created["userId"].clone(),
        created["apiKey"].as_str().unwrap().to_owned(),
    );
    lease_of(&api.acquire(&first, "kept", "r").await);

    // Rotate at once: the first key is dead for everything but a retry of
    // that rotation (its Idempotency-Key), which gets the same new key back.
    let rotate = |key: &str, body: Option<Value>| {
        let request = api.post("/v0/keys/rotate", Some(key));
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
    };
    let response = rotate(&first, None)
        .header("Idempotency-Key", "rotation-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let rotated: Value = response.json().await.unwrap();
    let second = rotated["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(rotated["userId"], user);
    assert!(rotated.get("oldKeyExpiresAt").is_none(), "{rotated}");
    assert_ne!(second, first);
    assert_eq!(api.locks(&first).await.status, StatusCode::UNAUTHORIZED);
    let again = api
        .send(rotate(&first, None).header("Idempotency-Key", "rotation-1"))
        .await;
    assert_eq!(
        again.body["apiKey"],
        json!(second),
        "a retry gets the same key"
    );
    let other = api.send(rotate(&first, None)).await;
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

    // Rotate with a grace period: both keys work until it ends.
    let graceful = api
        .send(rotate(&second, Some(json!({ "oldKeyValidForSeconds": 2 }))))
        .await;
    assert_eq!(graceful.status, StatusCode::OK, "{graceful:?}");
    let third = graceful.body["apiKey"].as_str().unwrap().to_owned();
    assert!(graceful.body["oldKeyExpiresAt"].is_string(), "{graceful:?}");
    assert_eq!(api.locks(&second).await.status, StatusCode::OK);
    assert_eq!(api.locks(&third).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(api.locks(&second).await.status, StatusCode::UNAUTHORIZED);

    // Bad input changes nothing; revocation ends the third key for good.
    let bad = api
        .send(rotate(
            &third,
            Some(json!({ "oldKeyValidForSeconds": 86401 })),
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    let revoked = api.send(api.post("/v0/keys/revoke", Some(&third))).await;
    assert_eq!(revoked.body, json!({ "revoked": true }));
    for (method, path) in [
        ("GET", "/v0/locks"),
        ("POST", "/v0/keys/rotate"),
        ("POST", "/v0/keys/revoke"),
    ] {
        let request = match method {
            "GET" => api.get(path, Some(&third)),
            _ => api.post(path, Some(&third)),
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
async fn a_leaked_key_cannot_follow_or_lock_out_its_rotation(api: Api) {
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

/// 2 500 locks listed in pages of 100: every lock exactly once, in name
/// order; the last page has no cursor; without `limit`, the first 1 000 and
/// a cursor; a tampered cursor is a 400; a cursor
/// never reaches another tenant's locks.
async fn pagination_lists_every_lock_once_in_order(api: Api) {
    const LOCKS: usize = 2500;
    let (_, key) = api.new_user().await;
    let (_, other) = api.new_user().await;
    lease_of(&api.acquire(&other, "zzz-not-yours", "r").await);
    let names: Vec<String> = (0..LOCKS).map(|n| format!("lock-{n:05}")).collect();
    let created = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = names
        .chunks(LOCKS / 25)
        .map(|chunk| {
            let (api, key, chunk, created) =
                (api.clone(), key.clone(), chunk.to_vec(), created.clone());
            tokio::spawn(async move {
                for name in chunk {
                    lease_of(&api.acquire(&key, &name, "r").await);
                    created.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(created.load(Ordering::SeqCst), LOCKS);

    let (mut listed, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v0/locks?limit=100&cursor={cursor}"),
            None => "/v0/locks?limit=100".to_owned(),
        };
        let page = api.send(api.get(&path, Some(&key))).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        let locks = page.body["locks"].as_array().unwrap();
        assert!(locks.len() <= 100);
        listed.extend(
            locks
                .iter()
                .map(|lock| lock["lockName"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page.body.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, LOCKS / 100, "no empty last page");
    assert_eq!(
        listed, names,
        "every lock once, in name order, none of another tenant"
    );

    // Without limit: one page of the default size, and the way on.
    let first_page = api.locks(&key).await;
    let default_page: Vec<_> = first_page.body["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lock| lock["lockName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(default_page, names[..1000], "no limit: the first 1 000");
    let next = first_page.body["nextCursor"]
        .as_str()
        .expect("a cursor: more follow");
    let rest = api
        .send(api.get(&format!("/v0/locks?cursor={next}"), Some(&key)))
        .await;
    let rest = rest.body["locks"].as_array().unwrap();
    assert_eq!(rest[0]["lockName"], names[1000].as_str());
    let first = api.send(api.get("/v0/locks?limit=1", Some(&key))).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone();
    tampered.push('0');
    for bad in [tampered.as_str(), "zz", "c1zz", "", &cursor[2..]] {
        let path = format!("/v0/locks?limit=10&cursor={bad}");
        let answer = api.send(api.get(&path, Some(&key))).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{bad:?}: {answer:?}"
        );
    }
    for bad in ["0", "1001", "-1", "ten", ""] {
        let answer = api
            .send(api.get(&format!("/v0/locks?limit={bad}"), Some(&key)))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "limit={bad}");
    }
    // Her cursor past his own last lock shows her nothing of his.
    let after_his = api
        .send(api.get(&format!("/v0/locks?limit=10&cursor={cursor}"), Some(&other)))
        .await;
    let theirs: Vec<_> = after_his.body["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lockName"].clone())
        .collect();
    assert_eq!(theirs, vec![json!("zzz-not-yours")]);
}

/// An Idempotency-Key retry gets the same lease; force release fences it.
async fn idempotent_retry_and_force_release(api: Api) {
    let (_, key) = api.new_user().await;
    let body = json!({ "lockName": "deploy", "requester": "ci", "ttlSeconds": 60 });
    let first = api
        .send(
            api.post("/v0/lock", Some(&key))
                .header("Idempotency-Key", "build-17")
                .json(&body),
        )
        .await;
    let again = api
        .send(
            api.post("/v0/lock", Some(&key))
                .header("Idempotency-Key", "build-17")
                .json(&body),
        )
        .await;
    assert_eq!(
        again.body, first.body,
        "a retry with the same key gets the same lease and token"
    );
    let other = api
        .send(
            api.post("/v0/lock", Some(&key))
                .header("Idempotency-Key", "build-18")
                .json(&body),
        )
        .await;
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
async fn readme_walkthrough(api: Api) {
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

// ------------------------------------------------------------------ harness

type Scenario = fn(Api) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), (|api| Box::pin($name(api))) as Scenario)),*]
    };
}

/// The scenarios defined in this file (every top-level `async fn NAME(api: Api)`)
/// that `listed` lacks: a scenario someone forgot to list would never run.
fn unlisted_scenarios(listed: &[&str]) -> Vec<String> {
    include_str!("e2e.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("async fn "))
        .filter_map(|rest| rest.strip_suffix("(api: Api) {"))
        .filter(|name| !listed.contains(name))
        .map(str::to_owned)
        .collect()
}

fn main() -> std::process::ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let all = scenarios![
        reference_flow,
        contract_cases,
        authentication,
        tenant_isolation,
        bad_input_changes_nothing,
        gateway_answers,
        sixteen_acquirers_one_winner,
        critical_section_never_overlaps,
        readme_walkthrough,
        waiter_granted_when_holder_unlocks,
        waiter_granted_when_lease_expires,
        waiter_gives_up,
        concurrent_waiters_each_answer_after_their_own_wait,
        idempotent_retry_and_force_release,
        keys_rotate_and_revoke,
        a_leaked_key_cannot_follow_or_lock_out_its_rotation,
        pagination_lists_every_lock_once_in_order,
    ];
    let names: Vec<&str> = all.iter().map(|(name, _)| *name).collect();
    let unlisted = unlisted_scenarios(&names);
    if !unlisted.is_empty() {
        println!(
            "\ntest e2e::every_scenario_is_listed ... FAILED: add {unlisted:?} to scenarios![]"
        );
        println!(
            "\ntest result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n"
        );
        return std::process::ExitCode::FAILURE;
    }
    let selected: Vec<_> = all
        .into_iter()
        .filter(|(name, _)| filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    let filtered_out = all.len() - selected.len();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let started = Instant::now();
    let (passed, failed) = runtime.block_on(async {
        println!("\nstarting the local stack (dynalite, cargo lambda watch, gateway)...");
        let options = StackOptions {
            concurrency: 8,
            // Revoked and rotated-out keys answer 401 at once.
            auth_cache_ttl: Some(Duration::ZERO),
            // Pagination lists more locks than the default quota holds.
            function_env: vec![("MAX_LOCKS_PER_USER".into(), "3000".into())],
            ..StackOptions::default()
        };
        let stack = match Stack::start(options).await {
            Ok(stack) => stack,
            Err(err) => panic!("the local stack did not start: {err}"),
        };
        println!(
            "stack ready at {} ({:.1} s)\n\nrunning {} tests",
            stack.base_url,
            started.elapsed().as_secs_f64(),
            selected.len()
        );
        let api = Api {
            base: stack.base_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        // Start one process of every function now, so no scenario's timing
        // includes a first `cargo run` (seconds on a cold machine).
        let (_, key) = api.new_user().await;
        for route in &stack.template.routes {
            let url = format!("{}{}", api.base, route.path);
            let request = api
                .http
                .request(route.method.parse().unwrap(), url)
                .bearer_auth(&key);
            let _ = request.send().await;
        }
        let (mut passed, mut failed) = (Vec::new(), Vec::new());
        for (name, scenario) in selected {
            let task = tokio::spawn(scenario(api.clone()));
            if harness::outcome("e2e", name, task, Duration::from_secs(300)).await {
                passed.push(name);
            } else {
                failed.push(name);
            }
        }
        if !failed.is_empty() {
            if let Some(log) = &stack.log_path {
                println!("\nfunction and build output: {}", log.display());
            }
        }
        drop(stack);
        (passed.len(), failed)
    });
    if !failed.is_empty() {
        println!("\nfailures:\n    {}", failed.join("\n    "));
    }
    harness::finish(passed, failed.len(), filtered_out, started)
}
