//! What a waiting acquire costs on AWS: its DynamoDB calls, counted at the
//! proxy, and the function's duration at the template's memory size.

use std::time::{Duration, Instant};

use lock_client::{AcquireOptions, Client, Error};
use serde::Serialize;
use testkit::proxy::{Calls, Proxy};

use super::options;

/// The acquire function's memory size in template.yaml (a test checks it).
const ACQUIRE_MEMORY_MB: u64 = 256;
/// us-east-1 list prices (PERFORMANCE.md, "Cost per million…").
const LAMBDA_PER_GB_SECOND: f64 = 0.000_016_666_7;
const LAMBDA_PER_REQUEST: f64 = 0.2e-6;
const PER_WRITE_UNIT: f64 = 0.625e-6;
const PER_READ_UNIT: f64 = 0.125e-6;
/// What a waiting acquire (wait seconds, dollars) cost when it polled by
/// conditional writes (commit 160cc53), measured by this same part.
pub const TODAY_COST: &[(u64, f64)] = &[(1, 8.271e-6), (5, 32.231e-6), (20, 120.251e-6)];
/// What one waiting acquire that is never granted costs.
#[derive(Clone, Debug, Serialize)]
pub struct WaitCost {
    pub wait_seconds: u64,
    pub elapsed_s: f64,
    pub reads: u64,
    pub writes: u64,
    pub dollars: f64,
}

impl WaitCost {
    fn of(wait_seconds: u64, elapsed: Duration, calls: &Calls) -> Self {
        let count = |ops: &[&str]| ops.iter().map(|op| calls.get(*op).unwrap_or(&0)).sum();
        let reads: u64 = count(&["GetItem", "Query"]);
        let writes: u64 = count(&["UpdateItem", "PutItem", "DeleteItem"]);
        let gb_seconds = ACQUIRE_MEMORY_MB as f64 / 1024.0 * elapsed.as_secs_f64();
        let dollars = gb_seconds * LAMBDA_PER_GB_SECOND
            + LAMBDA_PER_REQUEST
            + writes as f64 * PER_WRITE_UNIT
            + reads as f64 * PER_READ_UNIT;
        Self {
            wait_seconds,
            elapsed_s: elapsed.as_secs_f64(),
            reads,
            writes,
            dollars,
        }
    }
}

/// One acquire waiting `wait` seconds for a lock held throughout: its
/// DynamoDB calls (counted at the proxy, nothing else running) and cost.
pub(super) async fn wait_cost(client: &Client, proxy: &Proxy, wait: u64) -> WaitCost {
    let name = format!("cost-{wait}");
    let holder = AcquireOptions {
        ttl: Some(Duration::from_secs(wait + 60)),
        ..options(Duration::ZERO)
    };
    let held = client
        .acquire(&name, &holder)
        .await
        .expect("the holder's grant");
    let before = proxy.calls();
    let started = Instant::now();
    let refused = client
        .acquire(&name, &options(Duration::from_secs(wait)))
        .await;
    let elapsed = started.elapsed();
    let calls = proxy.calls_since(&before);
    assert!(matches!(refused, Err(Error::Held { .. })), "{refused:?}");
    held.release().await.expect("the holder's release");
    WaitCost::of(wait, elapsed, &calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_second_costs_its_memory_time_and_units() {
        let calls = Calls::from([("GetItem".into(), 8), ("UpdateItem".into(), 2)]);
        let cost = WaitCost::of(1, Duration::from_secs(4), &calls);
        assert_eq!((cost.reads, cost.writes), (8, 2));
        let expected = 0.25 * 4.0 * LAMBDA_PER_GB_SECOND
            + LAMBDA_PER_REQUEST
            + 2.0 * PER_WRITE_UNIT
            + 8.0 * PER_READ_UNIT;
        assert!((cost.dollars - expected).abs() < 1e-12);
    }

    #[test]
    fn the_memory_size_is_the_templates() {
        let template =
            std::fs::read_to_string(local_stack::engine::repo_root().join("template.yaml"))
                .expect("template.yaml");
        let after_acquire = template
            .split("Binary: acquire\n")
            .nth(1)
            .expect("the acquire function");
        let memory = after_acquire
            .lines()
            .find_map(|l| l.trim().strip_prefix("MemorySize: "))
            .expect("its MemorySize");
        assert_eq!(memory, ACQUIRE_MEMORY_MB.to_string());
    }
}
