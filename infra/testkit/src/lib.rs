//! Test support for the lock service: a DynamoDB-API engine (from
//! `local-stack`) with the service's tables, SDK clients that count every
//! HTTP attempt they send (so tests can assert calls per operation), and
//! the one TCP proxy ([`proxy`]) that counts DynamoDB calls at the wire and
//! injects faults, the one HTTP client of the API ([`api`]), and the harness
//! ([`harness`]) of the test binaries that drive one local stack through
//! many scenarios.

pub mod api;
mod calls;
pub mod harness;
pub mod proxy;
mod stores;

pub use calls::{CallCounter, Read};
pub use stores::{granted, requester, try_take, ttl, Stores};

use aws_sdk_dynamodb::Client;
use local_stack::dynamodb::{create_table, local_config};
pub use local_stack::engine::{free_port, Engine, EngineKind};
use lock_service::schema::{API_KEYS_SPEC, LOCKS_SPEC};
use lock_service::types::{LockName, Timestamp, UserId};

/// Name of the lock table in test engines.
pub const LOCKS_TABLE: &str = "Locks";
/// Name of the API-key table in test engines.
pub const API_KEYS_TABLE: &str = "ApiKeys";

/// Starts `kind` in memory on a free port, creates both tables, and returns
/// the engine (stopped on drop) with a client that counts its calls.
pub async fn engine_with_tables(kind: EngineKind) -> (Engine, Client, CallCounter) {
    let engine = Engine::start(kind, 0, None).unwrap_or_else(|e| panic!("{e}"));
    let calls = CallCounter::default();
    let client = client_for(&engine.endpoint, &calls);
    create_table(&client, LOCKS_TABLE, &LOCKS_SPEC)
        .await
        .expect("create lock table");
    create_table(&client, API_KEYS_TABLE, &API_KEYS_SPEC)
        .await
        .expect("create key table");
    calls.reset();
    (engine, client, calls)
}

/// The store suites' clock starts here (2026-11-26T07:40:00Z).
pub const T0: u64 = 1_795_678_800_000;

/// The suites' clock: `offset` milliseconds after [`T0`].
pub fn at(offset: u64) -> Timestamp {
    Timestamp::from_millis(T0 + offset)
}

/// `s` as a lock name (which it must be).
pub fn lock_name(s: &str) -> LockName {
    LockName::parse(s).unwrap()
}

/// The engine matrix: a test of DynamoDB semantics written once runs on
/// each engine, with fresh stores, as
/// `#[apply(engines)] async fn name(f: Stores)` (with `rstest::rstest` and
/// `rstest_reuse::apply` in scope).
#[rstest_reuse::template]
#[export]
#[rstest]
#[case::moto(testkit::Stores::start(testkit::EngineKind::Moto))]
#[case::dynalite(testkit::Stores::start(testkit::EngineKind::Dynalite))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub fn engines(
    #[future(awt)]
    #[case]
    f: Stores,
) {
}

/// A test's own user (a fixture: name an argument `user: UserId`).
#[rstest::fixture]
pub fn user() -> UserId {
    UserId::generate()
}

/// A DynamoDB client for the local engine at `endpoint` that counts its calls in `calls`.
pub fn client_for(endpoint: &str, calls: &CallCounter) -> Client {
    Client::from_conf(local_config(endpoint).interceptor(calls.clone()).build())
}

/// Deletes item `sort_key` of `user` straight from the lock table, as
/// DynamoDB TTL deletes an idle item: none of the store's code runs.
pub async fn delete_behind_the_store(
    client: &Client,
    user: &lock_service::types::UserId,
    sort_key: &str,
) {
    use aws_sdk_dynamodb::types::AttributeValue::S;
    client
        .delete_item()
        .table_name(LOCKS_TABLE)
        .key(
            lock_service::schema::LOCKS_PARTITION_KEY,
            S(user.to_string()),
        )
        .key(lock_service::schema::LOCKS_SORT_KEY, S(sort_key.into()))
        .send()
        .await
        .expect("delete the item");
}

/// `Authorization` headers around key `id` (a UUID): `(carrying, malformed)`,
/// those the authorizer reads a key from and those it must refuse unread.
pub fn authorization_headers(id: &str) -> (Vec<String>, Vec<String>) {
    let carrying = vec![
        format!("Bearer {id}"),
        format!("bearer {id}"),
        format!("BEARER  {id} "),
    ];
    let malformed = vec![
        String::new(),
        "Bearer".into(),
        "Bearer ".into(),
        id.into(),
        format!("Basic {id}"),
        format!("Bearer {id}x"),
        format!("Bearer {{{id}}}"),
        format!("Bearer\t{id}"),
        format!("Bearer {}", id.replace('-', "")),
        "Bearer not-a-uuid".into(),
        format!("Bearer {}", "a".repeat(10_000)),
        "Bearer \u{0}\u{ffff}".into(),
    ];
    (carrying, malformed)
}

/// Asserts that `view` (a `GET /v0/lock` answer) shows `lock` held by
/// `lease` of `requester`.
pub fn assert_held(view: &serde_json::Value, lock: &str, lease: &str, requester: &str) {
    let shown = (&view["lockName"], &view["locked"], &view["leaseId"]);
    let held = serde_json::json!([lock, true, lease, requester]);
    assert_eq!(
        serde_json::json!([shown.0, shown.1, shown.2, view["leasedBy"]]),
        held,
        "{view}"
    );
}
