//! DynamoDB calls per operation, counted at the wire: each operation is one
//! invocation of a function's real binary, and the counting proxy between it
//! and the engine says what it cost. Each step also checks that the
//! operation did what its label says, so a count is never of the wrong path.

mod examples;
mod semaphores;

use std::collections::BTreeMap;
use std::time::Duration;

use local_stack::template::Template;
use lock_service::lock_wire::{Route, AUTHORIZER_FUNCTION};
use lock_service::types::UserId;
use serde::Serialize;
use serde_json::{json, Value};

use crate::functions::{rest_event, token_event, Process};
use crate::setup::Store;
use testkit::proxy::{describe, total, Calls, Proxy};

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

/// Counts what each operation costs, as one user.
struct Counter<'a> {
    functions: &'a Functions,
    proxy: &'a Proxy,
    counted: Vec<Counted>,
    /// The user the authorizer would name, once signed up.
    user: Option<String>,
}

impl Counter<'_> {
    /// Invokes and records the calls under `operation`; the answer.
    async fn count(&mut self, operation: &str, function: &str, event: Value) -> (u16, Value) {
        let before = self.proxy.calls();
        let answer = self.functions.call(function, &event).await;
        self.counted.push(Counted {
            operation: operation.into(),
            function: function.into(),
            calls: self.proxy.calls_since(&before),
        });
        answer
    }

    /// [`Counter::count`] of `route` with `query` (`""` or `?name=value…`),
    /// `body` and `headers`, as the user.
    async fn route(
        &mut self,
        operation: &str,
        route: Route,
        query: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let user = self.user.as_deref();
        let event = self.functions.event(route, query, body, headers, user);
        self.count(operation, route.function(), event).await
    }

    /// An acquire of `body` with `headers`.
    async fn acquire(&mut self, operation: &str, body: Value, headers: &[(&str, &str)]) -> Value {
        self.route(operation, Route::Acquire, "", Some(body), headers)
            .await
            .1
    }

    /// An acquire of `body` that must be refused with `status` and `code`.
    async fn refused_acquire(&mut self, operation: &str, body: Value, status: u16, code: &str) {
        let answer = self
            .route(operation, Route::Acquire, "", Some(body), &[])
            .await;
        assert_eq!(
            (answer.0, &answer.1["code"]),
            (status, &json!(code)),
            "{answer:?}"
        );
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
pub async fn count_all(functions: &Functions, proxy: &Proxy) -> Vec<Counted> {
    let mut c = Counter {
        functions,
        proxy,
        counted: Vec::new(),
        user: None,
    };
    let key = sign_up_and_authorize(&mut c).await;
    let user = UserId::parse(c.user.as_deref().unwrap()).expect("a user id");
    let store = Store::new(&proxy.endpoint, &functions.template);
    let lease_a = acquires(&mut c, &store, &user).await;
    let lease_c = retries_and_expiry(&mut c).await;
    reads_and_other_writes(&mut c, &lease_a, &lease_c).await;
    semaphores::semaphores(&mut c).await;
    at_the_quota(&mut c, &store, &user).await;
    keys(&mut c, &key).await;
    examples::examples(&mut c).await;
    c.counted
}

/// Signs up, and authorizes the new key once; the key.
async fn sign_up_and_authorize(c: &mut Counter<'_>) -> String {
    let (status, user) = c.route("sign up", Route::SignUp, "", None, &[]).await;
    assert_eq!(status, 200, "sign up: {user}");
    let key = user["apiKey"].as_str().expect("a key").to_owned();
    c.user = Some(user["userId"].as_str().expect("a user id").to_owned());
    let (_, policy) = c
        .count(
            "authorize (cache miss)",
            AUTHORIZER_FUNCTION,
            token_event(&key),
        )
        .await;
    assert!(policy["policyDocument"].is_object(), "authorize: {policy}");
    key
}

/// Acquires of a new, a free, a held lock, waiting, and waiting with every
/// place taken; the lease of lock `a`, held.
async fn acquires(c: &mut Counter<'_>, store: &Store, user: &UserId) -> String {
    let new = c
        .acquire("acquire, new name", lock("a", json!({})), &[])
        .await;
    let lease_a = granted(&new, "acquire, new name");
    let unlock = json!({"lockName": "a", "leaseId": lease_a});
    let (_, answer) = c
        .route("unlock", Route::Unlock, "", Some(unlock), &[])
        .await;
    assert_eq!(answer["unlocked"], true, "unlock: {answer}");
    let again = c
        .acquire("acquire, existing free name", lock("a", json!({})), &[])
        .await;
    let lease_a = granted(&again, "acquire, existing name");
    let refused = c
        .acquire("acquire, refused (held)", lock("a", json!({})), &[])
        .await;
    assert_eq!(refused["locked"], false, "refused: {refused}");
    let waiting = lock("a", json!({"waitSeconds": 1}));
    let waited = c
        .acquire("acquire, waiting 1 s on a held lock", waiting.clone(), &[])
        .await;
    assert_eq!(waited["locked"], false, "waiting: {waited}");
    store.fill_waiting_places(user).await;
    let operation = "acquire, waiting, every place taken (429)";
    c.refused_acquire(operation, waiting, 429, "THROTTLED")
        .await;
    lease_a
}

/// An idempotent retry, and a 1 s lease taken over once expired; the lease
/// of lock `c`, held.
async fn retries_and_expiry(c: &mut Counter<'_>) -> String {
    let keyed = [("Idempotency-Key", "bench-retry")];
    let first = c
        .acquire(
            "acquire with Idempotency-Key, new name",
            lock("b", json!({})),
            &keyed,
        )
        .await;
    let retry = c
        .acquire("acquire, idempotent retry", lock("b", json!({})), &keyed)
        .await;
    assert_eq!(
        granted(&retry, "retry"),
        granted(&first, "first"),
        "the retry got another lease"
    );
    let short = lock("c", json!({"ttlSeconds": 1}));
    let short = c.acquire("acquire, 1 s TTL, new name", short, &[]).await;
    granted(&short, "short lease");
    // Past its end and the 1 s clock-skew margin after it.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let takeover = c
        .acquire(
            "acquire, expired lease taken over",
            lock("c", json!({})),
            &[],
        )
        .await;
    granted(&takeover, "takeover")
}

/// Get, renew, force unlock, list and delete.
async fn reads_and_other_writes(c: &mut Counter<'_>, lease_a: &str, lease_c: &str) {
    let (status, shown) = c
        .route("get", Route::GetLock, "?lockName=a", None, &[])
        .await;
    assert_eq!(
        (status, shown["leaseId"].as_str()),
        (200, Some(lease_a)),
        "get: {shown}"
    );
    let renew = json!({"lockName": "c", "leaseId": lease_c, "ttlSeconds": 60});
    let (_, renewed) = c.route("renew", Route::Renew, "", Some(renew), &[]).await;
    assert_eq!(renewed["renewed"], true, "renew: {renewed}");
    let force = json!({"lockName": "c", "force": true});
    let (_, forced) = c
        .route("force unlock", Route::Unlock, "", Some(force), &[])
        .await;
    assert_eq!(forced["unlocked"], true, "force: {forced}");
    let (_, listed) = c
        .route(
            "list, one page (limit 100)",
            Route::ListLocks,
            "?limit=100",
            None,
            &[],
        )
        .await;
    assert_eq!(
        listed["locks"].as_array().map(Vec::len),
        Some(3),
        "list: {listed}"
    );
    let delete = json!({"lockName": "c"});
    let (status, deleted) = c
        .route("delete", Route::DeleteLock, "", Some(delete), &[])
        .await;
    assert_eq!(status, 200, "delete: {deleted}");
}

/// A tenant at the default quota: a new name is refused, reading the whole
/// partition only when a heal is due (once per five minutes).
async fn at_the_quota(c: &mut Counter<'_>, store: &Store, user: &UserId) {
    store.fill_names(user).await;
    store.make_heal_due(user).await;
    let new_name = || lock("one-too-many", json!({}));
    for operation in [
        "acquire, new name at the quota (heal due)",
        "acquire, new name at the quota (healed < 5 min ago)",
    ] {
        c.refused_acquire(operation, new_name(), 403, "LOCK_QUOTA_EXCEEDED")
            .await;
    }
}

/// Rotates `key`, then revokes the other keys (the old one) and the new key.
async fn keys(c: &mut Counter<'_>, key: &str) {
    let bearer = format!("Bearer {key}");
    let auth = [("Authorization", bearer.as_str())];
    let (status, rotated) = c
        .route("rotate key", Route::RotateKey, "", None, &auth)
        .await;
    assert_eq!(status, 200, "rotate: {rotated}");
    let new_bearer = format!("Bearer {}", rotated["apiKey"].as_str().expect("a new key"));
    let auth = [("Authorization", new_bearer.as_str())];
    let (status, others) = c
        .route(
            "revoke the other keys (one)",
            Route::RevokeOtherKeys,
            "",
            None,
            &auth,
        )
        .await;
    assert_eq!(
        (status, &others["revokedKeys"]),
        (200, &json!(1)),
        "revoke-others: {others}"
    );
    let (status, revoked) = c
        .route("revoke key", Route::RevokeKey, "", None, &auth)
        .await;
    assert_eq!(status, 200, "revoke: {revoked}");
}

/// The lease id of a granted acquire; panics (naming `what`) otherwise.
pub fn granted(answer: &Value, what: &str) -> String {
    assert_eq!(answer["locked"], true, "{what}: {answer}");
    answer["leaseId"].as_str().expect("a lease").to_owned()
}
