//! The local stack (what `make dev` runs) under 1, 8 and 32 concurrent
//! clients: each loops acquire → get → unlock on a lock of its own, for a
//! fixed time. Latency per operation and operations per second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lock_client::{AcquireOptions, Client, RetryPolicy};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::stats::Spread;

/// One level of concurrency.
#[derive(Clone, Debug, Serialize)]
pub struct Load {
    pub clients: usize,
    pub operations_per_second: f64,
    pub acquire: Spread,
    pub get: Spread,
    pub unlock: Spread,
    pub errors: usize,
}

/// Runs `clients` concurrent loops for `duration` against `url`.
pub async fn run(url: &str, keys: &[String], clients: usize, duration: Duration) -> Load {
    let samples: Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>> = Arc::default();
    let errors = Arc::new(Mutex::new(0usize));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let client = Client::new(url, &keys[i % keys.len()])
                .expect("a client")
                .with_retry(RetryPolicy::never());
            let (samples, errors) = (samples.clone(), errors.clone());
            tokio::spawn(async move {
                let name = format!("load-{clients}-{i}");
                let options = AcquireOptions::default();
                while started.elapsed() < duration {
                    let t = Instant::now();
                    let Ok(lease) = client.acquire(&name, &options).await else {
                        *errors.lock().await += 1;
                        continue;
                    };
                    let acquired = t.elapsed();
                    let t = Instant::now();
                    let got = client.get(&name).await.is_ok();
                    let gotten = t.elapsed();
                    let t = Instant::now();
                    let released = lease.release().await.unwrap_or(false);
                    let unlocked = t.elapsed();
                    if !(got && released) {
                        *errors.lock().await += 1;
                    }
                    let mut samples = samples.lock().await;
                    samples.entry("acquire").or_default().push(acquired);
                    samples.entry("get").or_default().push(gotten);
                    samples.entry("unlock").or_default().push(unlocked);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a load task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = samples.lock().await;
    let spread = |op: &str| Spread::of(samples.get(op).map(Vec::as_slice).unwrap_or_default());
    let operations: usize = samples.values().map(Vec::len).sum();
    let errors = *errors.lock().await;
    Load {
        clients,
        operations_per_second: operations as f64 / elapsed,
        acquire: spread("acquire"),
        get: spread("get"),
        unlock: spread("unlock"),
        errors,
    }
}
