//! Waiting acquires on the local stack (debug builds under `cargo lambda
//! watch`, the local gateway), with a counting proxy before the engine:
//! how soon a released lock reaches a waiter (1, 4 and 8 waiters), whether
//! one waiter gets the lock against four clients looping acquire/release,
//! and what a waiting second costs on AWS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_stack::{EngineChoice, EngineKind, Stack, StackOptions};
use lock_client::{AcquireOptions, Client, Error, RetryPolicy};
use serde::Serialize;
use testkit::proxy::Proxy;

mod cost;
mod handoff;

pub use cost::{WaitCost, TODAY_COST};
pub use handoff::Handoffs;

use cost::wait_cost;
use handoff::handoffs_with;

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
