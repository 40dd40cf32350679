//! Waiting acquires on the local stack (debug builds under `cargo lambda
//! watch`, the local gateway), with a counting proxy before the engine:
//! how soon a released lock reaches a waiter (1, 4 and 8 waiters), whether
//! one waiter gets the lock against four clients looping acquire/release,
//! and what a waiting second costs on AWS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use local_stack::{EngineChoice, EngineKind, Stack, StackOptions};
use lock_client::{AcquireOptions, Client, Error, RetryPolicy};
use serde::Serialize;
use testkit::proxy::{Calls, Proxy};

use crate::stats::Spread;

/// The acquire function's memory size in template.yaml (a test checks it).
pub const ACQUIRE_MEMORY_MB: u64 = 256;
/// us-east-1 list prices (PERFORMANCE.md, "Cost per million…").
const LAMBDA_PER_GB_SECOND: f64 = 0.000_016_666_7;
const LAMBDA_PER_REQUEST: f64 = 0.2e-6;
const PER_WRITE_UNIT: f64 = 0.625e-6;
const PER_READ_UNIT: f64 = 0.125e-6;
/// What a waiting acquire (wait seconds, dollars) cost when it polled by
/// conditional writes (commit 160cc53), measured by this same part.
pub const TODAY_COST: &[(u64, f64)] = &[(1, 8.271e-6), (5, 32.231e-6), (20, 120.251e-6)];
/// Waiting places enough for the busiest case (the template's default is 4).
const WAITING_PLACES: &str = "16";

/// What to measure.
pub struct WaitPlan {
    /// Waiters per handoff case.
    pub waiters: Vec<usize>,
    /// Handoffs measured per case.
    pub handoffs: usize,
    /// Tries of one waiter against four looping clients.
    pub starvation_tries: usize,
    /// Waits (seconds) whose cost is counted.
    pub cost_waits: Vec<u64>,
}

/// Handoffs with `waiters` clients waiting while one holds.
#[derive(Clone, Debug, Serialize)]
pub struct Handoffs {
    pub waiters: usize,
    /// From the release's answer to the next holder's grant answer.
    pub handoff: Spread,
    pub max_ms: f64,
    /// Grants that went back to the client that had just released (not
    /// handoffs, so not in the spread).
    pub regrabbed: usize,
}

/// One waiter against clients looping acquire/release as fast as they can.
#[derive(Clone, Debug, Serialize)]
pub struct Starvation {
    pub loopers: usize,
    /// Seconds from each try's start to its grant (`None`: not granted in 20 s).
    pub grants_s: Vec<Option<f64>>,
}

impl Starvation {
    /// Tries granted within `seconds`.
    pub fn within(&self, seconds: f64) -> usize {
        self.grants_s
            .iter()
            .filter(|s| s.is_some_and(|s| s <= seconds))
            .count()
    }
}

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

/// Everything this part measured.
#[derive(Clone, Debug, Serialize)]
pub struct Waiting {
    pub handoffs: Vec<Handoffs>,
    pub starvation: Starvation,
    pub costs: Vec<WaitCost>,
}

/// Starts a stack of its own (enough waiting places, calls counted) and
/// measures every part of `plan`.
pub async fn measure(plan: &WaitPlan) -> Waiting {
    eprintln!("bench: waiting (a local stack of its own, calls counted)...");
    let engine = local_stack::Engine::start(EngineKind::Dynalite, 0, None).expect("dynalite");
    let proxy = Proxy::start(&engine.endpoint).await.expect("a proxy");
    let options = StackOptions {
        engine: EngineChoice::Endpoint(proxy.endpoint.clone()),
        function_env: vec![("MAX_WAITING_PER_USER".into(), WAITING_PLACES.into())],
        ..StackOptions::default()
    };
    let stack = Stack::start(options).await.expect("the local stack starts");
    let key = stack.new_api_key().await.expect("a key");
    let client = Client::new(&stack.base_url, &key)
        .expect("a client")
        .with_retry(RetryPolicy::never());
    warm_up(&client).await;
    let mut handoffs = Vec::new();
    for waiters in &plan.waiters {
        eprintln!("bench: handoffs with {waiters} waiters...");
        handoffs.push(handoffs_with(&client, *waiters, plan.handoffs).await);
    }
    eprintln!("bench: one waiter against 4 looping clients...");
    let starvation = starvation(&client, 4, plan.starvation_tries).await;
    let mut costs = Vec::new();
    for wait in &plan.cost_waits {
        eprintln!("bench: cost of a {wait} s wait...");
        costs.push(wait_cost(&client, &proxy, *wait).await);
    }
    Waiting {
        handoffs,
        starvation,
        costs,
    }
}

/// Starts as many acquire and unlock instances as the busiest case uses, so
/// no figure includes a `cargo run` of a new instance.
async fn warm_up(client: &Client) {
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let lease = client
                    .acquire(&format!("warm-{i}"), &options(Duration::ZERO))
                    .await
                    .expect("a warm-up grant");
                tokio::time::sleep(Duration::from_millis(300)).await;
                lease.release().await.expect("a warm-up release");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a warm-up task");
    }
}

fn options(wait: Duration) -> AcquireOptions {
    AcquireOptions {
        requester: "bench".into(),
        ttl: Some(Duration::from_secs(30)),
        wait,
        idempotency_key: None,
    }
}

/// One grant or release, as its client saw it answered.
#[derive(Clone, Copy, Debug)]
struct Event {
    client: usize,
    token: u64,
    at: Instant,
}

/// `waiters + 1` clients loop acquire (waiting up to 20 s) → hold 50–250 ms
/// → release on one name, a releaser asking again only once another client
/// holds, so one holds while `waiters` wait, until `handoffs` grants have
/// been made. A grant of token t + 1 follows the release of token t: the
/// handoff is the time between their answers.
async fn handoffs_with(client: &Client, waiters: usize, handoffs: usize) -> Handoffs {
    let name = format!("handoff-{waiters}");
    let grants: Arc<Mutex<Vec<Event>>> = Arc::default();
    let releases: Arc<Mutex<Vec<Event>>> = Arc::default();
    let granted = Arc::new(tokio::sync::watch::channel(0usize).0);
    let tasks: Vec<_> = (0..=waiters)
        .map(|id| {
            let (client, name) = (client.clone(), name.clone());
            let (grants, releases) = (grants.clone(), releases.clone());
            let granted = granted.clone();
            tokio::spawn(async move {
                let mut seen = granted.subscribe();
                // The first holder starts alone, the others once it holds.
                if id > 0 {
                    let _ = seen.wait_for(|n| *n > 0).await;
                }
                while grants.lock().expect("grants").len() < handoffs + 1 {
                    let wait = options(Duration::from_secs(20));
                    let lease = match client.acquire(&name, &wait).await {
                        Ok(lease) => lease,
                        Err(Error::Held { .. }) => continue,
                        Err(e) => panic!("a waiting acquire failed: {e}"),
                    };
                    let (token, at) = (lease.fencing_token(), Instant::now());
                    let grant = Event {
                        client: id,
                        token,
                        at,
                    };
                    grants.lock().expect("grants").push(grant);
                    granted.send_modify(|n| *n += 1);
                    let mine = *granted.borrow();
                    tokio::time::sleep(Duration::from_millis(50 + random_below(200))).await;
                    assert!(lease.release().await.expect("a release"), "released");
                    let at = Instant::now();
                    let release = Event {
                        client: id,
                        token,
                        at,
                    };
                    releases.lock().expect("releases").push(release);
                    if grants.lock().expect("grants").len() > handoffs {
                        break;
                    }
                    // Back in the queue once another client holds the lock.
                    let handed = seen.wait_for(|n| *n > mine);
                    let _ = tokio::time::timeout(Duration::from_secs(25), handed).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a handoff task");
    }
    let grants = grants.lock().expect("grants").clone();
    let releases = releases.lock().expect("releases").clone();
    let (times, regrabbed) = pair_handoffs(&grants, &releases);
    let max_ms = times
        .iter()
        .map(|d| d.as_secs_f64() * 1e3)
        .fold(0.0, f64::max);
    Handoffs {
        waiters,
        handoff: Spread::of(&times),
        max_ms,
        regrabbed,
    }
}

/// Each grant after a release of the token before it by another client: the
/// time from that release's answer to the grant's (zero if the grant was
/// answered first); and how many grants went back to the releaser.
fn pair_handoffs(grants: &[Event], releases: &[Event]) -> (Vec<Duration>, usize) {
    let mut times = Vec::new();
    let mut regrabbed = 0;
    for grant in grants {
        let Some(release) = releases.iter().find(|r| r.token + 1 == grant.token) else {
            continue;
        };
        if release.client == grant.client {
            regrabbed += 1;
        } else {
            times.push(grant.at.saturating_duration_since(release.at));
        }
    }
    (times, regrabbed)
}

/// A number in `0..n`, from a random UUID.
fn random_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() % u128::from(n)) as u64
}

/// `loopers` clients try-acquire and at once release one name in a tight
/// loop while one waiter, `tries` times, acquires it waiting up to 20 s:
/// the time each try took to be granted.
async fn starvation(client: &Client, loopers: usize, tries: usize) -> Starvation {
    let name = "starved";
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..loopers)
        .map(|_| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match client.acquire(name, &options(Duration::ZERO)).await {
                        Ok(lease) => {
                            lease.release().await.expect("a looper's release");
                        }
                        Err(Error::Held { .. }) => {}
                        Err(e) => panic!("a looper's acquire failed: {e}"),
                    }
                }
            })
        })
        .collect();
    // Let the loop start before the first try.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut grants_s = Vec::new();
    for _ in 0..tries {
        let started = Instant::now();
        match client
            .acquire(name, &options(Duration::from_secs(20)))
            .await
        {
            Ok(lease) => {
                grants_s.push(Some(started.elapsed().as_secs_f64()));
                lease.release().await.expect("the waiter's release");
            }
            Err(Error::Held { .. }) => grants_s.push(None),
            Err(e) => panic!("the waiter's acquire failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100 + random_below(200))).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a looper");
    }
    Starvation { loopers, grants_s }
}

/// One acquire waiting `wait` seconds for a lock held throughout: its
/// DynamoDB calls (counted at the proxy, nothing else running) and cost.
async fn wait_cost(client: &Client, proxy: &Proxy, wait: u64) -> WaitCost {
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
    fn handoffs_pair_a_grant_with_the_release_before_it() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let grants = [
            Event {
                client: 0,
                token: 1,
                at: at(0),
            },
            Event {
                client: 1,
                token: 2,
                at: at(130),
            },
            Event {
                client: 1,
                token: 3,
                at: at(300),
            },
            Event {
                client: 2,
                token: 4,
                at: at(395),
            },
        ];
        let releases = [
            Event {
                client: 0,
                token: 1,
                at: at(100),
            },
            Event {
                client: 1,
                token: 2,
                at: at(290),
            },
            Event {
                client: 1,
                token: 3,
                at: at(400),
            },
        ];
        let (times, regrabbed) = pair_handoffs(&grants, &releases);
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        assert_eq!((ms, regrabbed), (vec![30, 0], 1));
    }

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
