//! DynamoDB calls per operation, counted at the wire: each operation is one
//! invocation of a function's real binary, and the counting proxy between it
//! and the engine says what it cost. Each step also checks that the
//! operation did what its label says, so a count is never of the wrong path.

use std::collections::BTreeMap;
use std::time::Duration;

use local_stack::template::Template;
use lock_service::lock_wire::Route;
use lock_service::types::UserId;
use serde::Serialize;
use serde_json::{json, Value};

use crate::functions::{rest_event, token_event, Process};
use crate::setup::Store;
use crate::wire::{describe, total, Calls, CountingProxy};

/// One warm process per function binary.
pub struct Functions {
    pub template: Template,
    pub processes: BTreeMap<String, Process>,
}

impl Functions {
    fn process(&self, function: &str) -> &Process {
        &self.processes[function]
    }

    /// Invokes `function` with `event`; (status, body).
    pub async fn call(&self, function: &str, event: &Value) -> (u16, Value) {
        let (status, body, _) = self.process(function).call(event).await;
        (status, body)
    }

    /// A REST event of `route`, with `query` (`""` or `?name=value…`).
    pub fn event(
        &self,
        route: Route,
        query: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
        user: Option<&str>,
    ) -> Value {
        let path = format!("{}{query}", route.path());
        rest_event(
            &self.template,
            route.method(),
            &path,
            body.as_ref(),
            headers,
            user,
        )
    }
}

/// The calls one operation made.
#[derive(Clone, Debug, Serialize)]
pub struct Counted {
    pub operation: String,
    pub function: String,
    pub calls: Calls,
}

impl Counted {
    /// The total number of calls.
    pub fn total(&self) -> u64 {
        total(&self.calls)
    }

    /// e.g. `UpdateItem + GetItem`.
    pub fn describe(&self) -> String {
        describe(&self.calls)
    }
}

/// Counts what each operation costs.
struct Counter<'a> {
    functions: &'a Functions,
    proxy: &'a CountingProxy,
    counted: Vec<Counted>,
}

impl Counter<'_> {
    /// Invokes and records the calls under `operation`; the answer.
    async fn count(&mut self, operation: &str, function: &str, event: Value) -> (u16, Value) {
        let before = self.proxy.calls();
        let answer = self.functions.call(function, &event).await;
        self.counted.push(Counted {
            operation: operation.into(),
            function: function.into(),
            calls: self.proxy.since(&before),
        });
        answer
    }
}

fn lock(name: &str, extra: Value) -> Value {
    let mut body = json!({ "lockName": name, "requester": "bench" });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// Every operation once, in an order that sets up what the next needs.
pub async fn count_all(functions: &Functions, proxy: &CountingProxy) -> Vec<Counted> {
    let f = functions;
    let mut c = Counter {
        functions,
        proxy,
        counted: Vec::new(),
    };
    let (status, user) = c
        .count(
            "sign up",
            "create-user",
            f.event(Route::SignUp, "", None, &[], None),
        )
        .await;
    assert_eq!(status, 200, "sign up: {user}");
    let key = user["apiKey"].as_str().expect("a key").to_owned();
    let user_id = user["userId"].as_str().expect("a user id");
    let me = Some(user_id);
    let (_, policy) = c
        .count("authorize (cache miss)", "authorizer", token_event(&key))
        .await;
    assert!(policy["policyDocument"].is_object(), "authorize: {policy}");

    let acquire = |body: Value, headers: &[(&str, &str)]| {
        f.event(Route::Acquire, "", Some(body), headers, me)
    };
    let (_, new) = c
        .count(
            "acquire, new name",
            "acquire",
            acquire(lock("a", json!({})), &[]),
        )
        .await;
    let lease_a = granted(&new, "acquire, new name");
    let unlock = |name: &str, lease: &str| {
        f.event(
            Route::Unlock,
            "",
            Some(json!({"lockName": name, "leaseId": lease})),
            &[],
            me,
        )
    };
    let (_, answer) = c.count("unlock", "unlock", unlock("a", &lease_a)).await;
    assert_eq!(answer["unlocked"], true, "unlock: {answer}");
    let (_, again) = c
        .count(
            "acquire, existing free name",
            "acquire",
            acquire(lock("a", json!({})), &[]),
        )
        .await;
    let lease_a = granted(&again, "acquire, existing name");
    let (_, refused) = c
        .count(
            "acquire, refused (held)",
            "acquire",
            acquire(lock("a", json!({})), &[]),
        )
        .await;
    assert_eq!(refused["locked"], false, "refused: {refused}");
    let waiting = acquire(lock("a", json!({"waitSeconds": 1})), &[]);
    let (_, waited) = c
        .count("acquire, waiting 1 s on a held lock", "acquire", waiting)
        .await;
    assert_eq!(waited["locked"], false, "waiting: {waited}");
    let store = Store::new(&proxy.endpoint, &f.template);
    let user = UserId::parse(user_id).expect("a user id");
    store.fill_waiting_places(&user).await;
    let waiting = acquire(lock("a", json!({"waitSeconds": 1})), &[]);
    let (status, throttled) = c
        .count(
            "acquire, waiting, every place taken (429)",
            "acquire",
            waiting,
        )
        .await;
    assert_eq!(
        (status, &throttled["code"]),
        (429, &json!("THROTTLED")),
        "{throttled}"
    );

    let keyed = [("Idempotency-Key", "bench-retry")];
    let (_, first) = c
        .count(
            "acquire with Idempotency-Key, new name",
            "acquire",
            acquire(lock("b", json!({})), &keyed),
        )
        .await;
    let (_, retry) = c
        .count(
            "acquire, idempotent retry",
            "acquire",
            acquire(lock("b", json!({})), &keyed),
        )
        .await;
    assert_eq!(
        granted(&retry, "retry"),
        granted(&first, "first"),
        "the retry got another lease"
    );

    let (_, short) = c
        .count(
            "acquire, 1 s TTL, new name",
            "acquire",
            acquire(lock("c", json!({"ttlSeconds": 1})), &[]),
        )
        .await;
    granted(&short, "short lease");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, takeover) = c
        .count(
            "acquire, expired lease taken over",
            "acquire",
            acquire(lock("c", json!({})), &[]),
        )
        .await;
    granted(&takeover, "takeover");

    let (status, shown) = c
        .count(
            "get",
            "get-lock",
            f.event(Route::GetLock, "?lockName=a", None, &[], me),
        )
        .await;
    assert_eq!(
        (status, shown["leaseId"].as_str()),
        (200, Some(lease_a.as_str())),
        "get: {shown}"
    );
    let renew =
        json!({"lockName": "c", "leaseId": granted(&takeover, "takeover"), "ttlSeconds": 60});
    let (_, renewed) = c
        .count(
            "renew",
            "renew",
            f.event(Route::Renew, "", Some(renew), &[], me),
        )
        .await;
    assert_eq!(renewed["renewed"], true, "renew: {renewed}");
    let force = json!({"lockName": "c", "force": true});
    let (_, forced) = c
        .count(
            "force unlock",
            "unlock",
            f.event(Route::Unlock, "", Some(force), &[], me),
        )
        .await;
    assert_eq!(forced["unlocked"], true, "force: {forced}");
    let (_, listed) = c
        .count(
            "list, one page (limit 100)",
            "list-locks",
            f.event(Route::ListLocks, "?limit=100", None, &[], me),
        )
        .await;
    assert_eq!(
        listed["locks"].as_array().map(Vec::len),
        Some(3),
        "list: {listed}"
    );
    let delete = json!({"lockName": "c"});
    let (status, deleted) = c
        .count(
            "delete",
            "delete-lock",
            f.event(Route::DeleteLock, "", Some(delete), &[], me),
        )
        .await;
    assert_eq!(status, 200, "delete: {deleted}");

    // A tenant at the default quota: a new name is refused, reading the
    // whole partition only when a heal is due (once per five minutes).
    store.fill_names(&user).await;
    store.make_heal_due(&user).await;
    let (status, refused) = c
        .count(
            "acquire, new name at the quota (heal due)",
            "acquire",
            acquire(lock("one-too-many", json!({})), &[]),
        )
        .await;
    assert_eq!(
        (status, &refused["code"]),
        (403, &json!("LOCK_QUOTA_EXCEEDED")),
        "{refused}"
    );
    let (status, refused) = c
        .count(
            "acquire, new name at the quota (healed < 5 min ago)",
            "acquire",
            acquire(lock("one-too-many", json!({})), &[]),
        )
        .await;
    assert_eq!(status, 403, "{refused}");

    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let (status, rotated) = c
        .count(
            "rotate key",
            "rotate-key",
            f.event(Route::RotateKey, "", None, &auth, me),
        )
        .await;
    assert_eq!(status, 200, "rotate: {rotated}");
    let new_bearer = format!("Bearer {}", rotated["apiKey"].as_str().expect("a new key"));
    let auth = [("Authorization", new_bearer.as_str())];
    let (status, others) = c
        .count(
            "revoke the other keys (one)",
            "revoke-other-keys",
            f.event(Route::RevokeOtherKeys, "", None, &auth, me),
        )
        .await;
    assert_eq!(
        (status, &others["revokedKeys"]),
        (200, &json!(1)),
        "revoke-others: {others}"
    );
    let (status, revoked) = c
        .count(
            "revoke key",
            "revoke-key",
            f.event(Route::RevokeKey, "", None, &auth, me),
        )
        .await;
    assert_eq!(status, 200, "revoke: {revoked}");
    for route in Route::ALL {
        let counted = c.counted.iter().any(|row| row.function == route.function());
        assert!(
            counted,
            "bench/src/operations.rs counts no call of {route:?}"
        );
    }
    c.counted
}

/// The lease id of a granted acquire; panics (naming `what`) otherwise.
pub fn granted(answer: &Value, what: &str) -> String {
    assert_eq!(answer["locked"], true, "{what}: {answer}");
    answer["leaseId"].as_str().expect("a lease").to_owned()
}
