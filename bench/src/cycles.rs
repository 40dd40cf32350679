//! Sequential acquire + release cycles on one lock: ours in-process
//! through the store crate, ours through the local stack (HTTP, gateway,
//! authorizer cache, functions under `cargo lambda watch`), and the peer
//! library on the same engine. Calls per cycle are counted at the wire.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use local_stack::dynamodb::local_config;
use lock_client::AcquireOptions;
use lock_service::config::DEFAULT_MAX_LOCKS;
use lock_service::store::{Acquired, Grant, LockStore};
use lock_service::types::{LeaseId, LockName, Requester, Timestamp, UserId};
use serde::Serialize;

use testkit::proxy::{total, Proxy};

/// Cycles of one contender, and what one cycle costs.
#[derive(Clone, Debug, Serialize)]
pub struct Cycles {
    pub who: String,
    pub cycles_per_second: f64,
    /// DynamoDB calls per cycle (`None` where not counted at the wire).
    pub calls_per_cycle: Option<f64>,
}

/// Cycles through [`LockStore`] in this process.
pub async fn in_process(engine: &str, proxy: &Proxy, table: &str, cycles: usize) -> Cycles {
    let direct = store(engine, table);
    let started = Instant::now();
    store_cycles(&direct, cycles).await;
    let rate = cycles as f64 / started.elapsed().as_secs_f64();
    let counted = store(&proxy.endpoint, table);
    let before = proxy.calls();
    store_cycles(&counted, 10).await;
    Cycles {
        who: "ours, in-process (store crate)".into(),
        cycles_per_second: rate,
        calls_per_cycle: Some(total(&proxy.calls_since(&before)) as f64 / 10.0),
    }
}

fn store(endpoint: &str, table: &str) -> LockStore {
    let client = Client::from_conf(local_config(endpoint).build());
    LockStore::new(client, table).with_quota(Some(DEFAULT_MAX_LOCKS))
}

async fn store_cycles(locks: &LockStore, cycles: usize) {
    let user = UserId::parse("00000000-0000-4000-8000-0000000000c1").expect("valid");
    let name = LockName::parse("cycle").expect("valid");
    let requester = Requester::parse("bench").expect("valid");
    for _ in 0..cycles {
        let lease = LeaseId::generate();
        let grant = Grant {
            requester: &requester,
            lease: &lease,
            ttl: None,
            idempotency_key: None,
        };
        let acquired = locks.acquire(&user, &name, &grant, Timestamp::now()).await;
        assert!(matches!(acquired, Ok(Acquired::Granted(_))), "{acquired:?}");
        locks
            .release(&user, &name, &lease, Timestamp::now())
            .await
            .expect("released");
    }
}

/// Cycles through the local stack with the client library.
pub async fn through_stack(client: &lock_client::Client, cycles: usize) -> Cycles {
    let options = AcquireOptions::default();
    client
        .acquire("stack-cycle", &options)
        .await
        .expect("granted")
        .release()
        .await
        .expect("released");
    let started = Instant::now();
    for _ in 0..cycles {
        let lease = client
            .acquire("stack-cycle", &options)
            .await
            .expect("granted");
        assert!(lease.release().await.expect("released"));
    }
    Cycles {
        who: "ours, through the local stack (lock-client)".into(),
        cycles_per_second: cycles as f64 / started.elapsed().as_secs_f64(),
        calls_per_cycle: None,
    }
}

/// The peer library's cycles: its table created here (dynalite has no
/// `UpdateTimeToLive`, which its own table helper calls).
pub async fn peer(python: &Path, engine: &str, proxy: &Proxy, cycles: usize) -> Cycles {
    let table = "PeerLocks";
    create_peer_table(engine, table).await;
    let run = |endpoint: &str, cycles: usize| -> f64 {
        let script = local_stack::engine::repo_root().join("bench/peer.py");
        let output = Command::new(python)
            .arg(script)
            .args([
                "--endpoint",
                endpoint,
                "--table",
                table,
                "--cycles",
                &cycles.to_string(),
            ])
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "peer.py: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let result: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("peer.py prints JSON");
        result["cycles"].as_f64().unwrap_or(0.0) / result["seconds"].as_f64().unwrap_or(f64::NAN)
    };
    let rate = run(engine, cycles);
    let before = proxy.calls();
    run(&proxy.endpoint, 10);
    // Less the warm-up cycle every run makes.
    let calls = total(&proxy.calls_since(&before)) as f64 / 11.0;
    Cycles {
        who: "python-dynamodb-lock 0.9.1, in-process".into(),
        cycles_per_second: rate,
        calls_per_cycle: Some(calls),
    }
}

async fn create_peer_table(engine: &str, table: &str) {
    let client = Client::from_conf(local_config(engine).build());
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("an attribute")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("a key")
    };
    let created = client
        .create_table()
        .table_name(table)
        .attribute_definitions(attribute("lock_key"))
        .attribute_definitions(attribute("sort_key"))
        .key_schema(key("lock_key", KeyType::Hash))
        .key_schema(key("sort_key", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(err) = created {
        let text = format!("{err:?}");
        assert!(text.contains("ResourceInUse"), "create {table}: {text}");
    }
}
