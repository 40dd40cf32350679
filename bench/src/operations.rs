//! DynamoDB calls per operation, counted at the wire: each operation is one
//! invocation of a function's real binary, and the counting proxy between it
//! and the engine says what it cost. Each step also checks that the
//! operation did what its label says, so a count is never of the wrong path.

use std::collections::BTreeMap;
use std::time::Duration;

use local_stack::dynamodb::local_config;
use local_stack::template::Template;
use serde::Serialize;
use serde_json::{json, Value};
use shared::config::{DEFAULT_MAX_LOCKS, DEFAULT_MAX_WAITING, LOCKS_TABLE_ENV};
use shared::requests::MAX_PAGE_LIMIT;
use shared::schema::{LOCKS_PARTITION_KEY, LOCKS_SORT_KEY};
use shared::store::quota::NAMES_KEY;
use shared::store::{Acquired, Grant, LockStore, Place};
use shared::types::{LeaseId, LockName, Requester, Timestamp, UserId};

use crate::functions::{rest_event, token_event, Process};
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

    /// A REST event of the template's route `method path`.
    pub fn event(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
        user: Option<&str>,
    ) -> Value {
        rest_event(&self.template, method, path, body.as_ref(), headers, user)
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
            f.event("POST", "/v0/users/anonymous", None, &[], None),
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
        f.event("POST", "/v0/lock", Some(body), headers, me)
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
            "POST",
            "/v0/unlock",
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
            f.event("GET", "/v0/lock?lockName=a", None, &[], me),
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
            f.event("POST", "/v0/lock/renew", Some(renew), &[], me),
        )
        .await;
    assert_eq!(renewed["renewed"], true, "renew: {renewed}");
    let force = json!({"lockName": "c", "force": true});
    let (_, forced) = c
        .count(
            "force unlock",
            "unlock",
            f.event("POST", "/v0/unlock", Some(force), &[], me),
        )
        .await;
    assert_eq!(forced["unlocked"], true, "force: {forced}");
    let (_, listed) = c
        .count(
            "list, one page (limit 100)",
            "list-locks",
            f.event("GET", "/v0/locks?limit=100", None, &[], me),
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
            f.event("POST", "/v0/lock/delete", Some(delete), &[], me),
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
            f.event("POST", "/v0/keys/rotate", None, &auth, me),
        )
        .await;
    assert_eq!(status, 200, "rotate: {rotated}");
    let new_bearer = format!("Bearer {}", rotated["apiKey"].as_str().expect("a new key"));
    let auth = [("Authorization", new_bearer.as_str())];
    let (status, others) = c
        .count(
            "revoke the other keys (one)",
            "revoke-other-keys",
            f.event("POST", "/v0/keys/revoke-others", None, &auth, me),
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
            f.event("POST", "/v0/keys/revoke", None, &auth, me),
        )
        .await;
    assert_eq!(status, 200, "revoke: {revoked}");
    c.counted
}

/// The lock table, written directly to set up what a count needs (these
/// calls go through the counting proxy, but outside any count).
struct Store {
    locks: LockStore,
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Store {
    fn new(endpoint: &str, template: &Template) -> Self {
        let client = aws_sdk_dynamodb::Client::from_conf(local_config(endpoint).build());
        let table = template.table_env[LOCKS_TABLE_ENV].clone();
        let locks = LockStore::new(client.clone(), &table).with_quota(Some(DEFAULT_MAX_LOCKS));
        Self {
            locks,
            client,
            table,
        }
    }

    /// Takes every waiting place of `user` for a minute.
    async fn fill_waiting_places(&self, user: &UserId) {
        let now = Timestamp::now();
        for n in 0..DEFAULT_MAX_WAITING {
            let owner = format!("bench-{n}");
            let until = now.plus_millis(60_000);
            let place =
                self.locks
                    .take_waiting_place(user, DEFAULT_MAX_WAITING, &owner, until, now);
            assert!(matches!(place.await, Ok(Place::Taken(_))), "place {n}");
        }
    }

    /// Acquires new names for `user` up to the default quota.
    async fn fill_names(&self, user: &UserId) {
        let requester = Requester::parse("bench").expect("a requester");
        let listed = self.locks.list_page(user, None, Some(MAX_PAGE_LIMIT)).await;
        let existing = listed.expect("a list").locks.len();
        for n in existing..DEFAULT_MAX_LOCKS as usize {
            let grant = Grant {
                requester: &requester,
                lease: &LeaseId::generate(),
                ttl: None,
                idempotency_key: None,
            };
            let name = LockName::parse(&format!("fill-{n:04}")).expect("a name");
            let outcome = self
                .locks
                .acquire(user, &name, &grant, Timestamp::now())
                .await;
            assert!(
                matches!(outcome, Ok(Acquired::Granted(_))),
                "{name}: {outcome:?}"
            );
        }
    }

    /// Dates `user`'s last heal back, as if it were five minutes ago.
    async fn make_heal_due(&self, user: &UserId) {
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        self.client
            .update_item()
            .table_name(&self.table)
            .key(LOCKS_PARTITION_KEY, S(user.to_string()))
            .key(LOCKS_SORT_KEY, S(NAMES_KEY.into()))
            .update_expression("SET healedAt = :long_ago")
            .expression_attribute_values(":long_ago", N("0".into()))
            .send()
            .await
            .expect("healedAt set");
    }
}

/// The lease id of a granted acquire; panics (naming `what`) otherwise.
pub fn granted(answer: &Value, what: &str) -> String {
    assert_eq!(answer["locked"], true, "{what}: {answer}");
    answer["leaseId"].as_str().expect("a lease").to_owned()
}
