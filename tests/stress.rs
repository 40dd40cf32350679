//! Stress harness: N clients loop acquire → critical section → unlock on one
//! lock through the whole local stack (gateway, real function binaries under
//! `cargo lambda watch`, dynalite), and the recorded history is checked:
//!
//! - no two clients ever hold the lock at once (intervals on one monotonic clock);
//! - fencing tokens strictly increase in grant order, and a fenced resource
//!   never sees a stale token;
//! - a counter guarded by the lock (read, pause, write) loses no update;
//! - the history is linearizable against a mutex model (Wing & Gong search
//!   with memoisation, `e2e::history`).
//!
//! `cargo test -p e2e --test stress -- --clients 2,8 --cycles 10` (the short
//! run inside `make test`); `make stress` runs 2, 8, 32 and 128 clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::history::{is_linearizable, overlapping_holds, token_regressions, Hold, Op, Outcome};
use local_stack::{Stack, StackOptions};
use serde_json::{json, Value};

/// The protected resource: a counter updated without atomicity (only the
/// lock keeps it right) and a fence that refuses stale tokens.
#[derive(Default)]
struct Resource {
    counter: AtomicU64,
    highest_token: AtomicU64,
    stale_writes: AtomicU64,
}

impl Resource {
    async fn write(&self, token: u64) {
        if self.highest_token.fetch_max(token, Ordering::SeqCst) >= token {
            self.stale_writes.fetch_add(1, Ordering::SeqCst);
        }
        let value = self.counter.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await;
        self.counter.store(value + 1, Ordering::SeqCst);
    }
}

/// Everything one run recorded.
#[derive(Default)]
struct Record {
    ops: Vec<Op>,
    holds: Vec<Hold>,
    errors: Vec<String>,
}

struct Run {
    base: String,
    http: reqwest::Client,
    key: String,
    lock: String,
    epoch: Instant,
    resource: Resource,
    record: Mutex<Record>,
}

impl Run {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| format!("{path}: {e}"))?;
        if status != 200 {
            return Err(format!("{path}: {status} {body}"));
        }
        Ok(body)
    }

    fn note(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap());
    }

    async fn client(self: Arc<Self>, id: usize, clients: usize, cycles: usize) {
        let mut done = 0;
        let mut backoff = 5u64;
        // Refused clients back off further the more of them there are, so the
        // offered load stays within what one small machine serves.
        let max_backoff = (20 * clients as u64).max(200);
        while done < cycles {
            let call = self.now();
            let body = json!({ "lockName": self.lock, "requester": format!("client-{id}"), "ttlSeconds": 120 });
            let answer = match self.post("/v0/lock", body).await {
                Ok(answer) => answer,
                Err(err) => return self.note(|r| r.errors.push(err)),
            };
            let ret = self.now();
            if answer["locked"] != true {
                self.note(|r| {
                    r.ops.push(Op {
                        client: id,
                        call,
                        ret,
                        outcome: Outcome::Refused,
                    })
                });
                let jitter = (uuid::Uuid::new_v4().as_u128() % backoff as u128) as u64;
                tokio::time::sleep(Duration::from_millis(backoff + jitter)).await;
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
            backoff = 5;
            let token = answer["fencingToken"].as_u64().unwrap_or_default();
            let lease = answer["leaseId"].as_str().unwrap_or_default().to_owned();
            self.note(|r| {
                r.ops.push(Op {
                    client: id,
                    call,
                    ret,
                    outcome: Outcome::Granted(token),
                })
            });
            self.resource.write(token).await;
            let end = self.now();
            self.note(|r| {
                r.holds.push(Hold {
                    client: id,
                    start: ret,
                    end,
                    token,
                })
            });
            let released = match self
                .post(
                    "/v0/unlock",
                    json!({ "lockName": self.lock, "leaseId": lease }),
                )
                .await
            {
                Ok(answer) => answer["unlocked"] == true,
                Err(err) => return self.note(|r| r.errors.push(err)),
            };
            let outcome = if released {
                Outcome::Released
            } else {
                Outcome::NotReleased
            };
            let ret = self.now();
            self.note(|r| {
                r.ops.push(Op {
                    client: id,
                    call: end,
                    ret,
                    outcome,
                })
            });
            done += 1;
        }
    }
}

/// A new user's API key.
async fn new_api_key(http: &reqwest::Client, base: &str) -> Result<String, String> {
    let created: Value = http
        .post(format!("{base}/v0/users/anonymous"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    created["apiKey"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no apiKey in {created}"))
}

/// One run of `clients` clients doing `cycles` grants each; the violations found.
async fn run(base: &str, clients: usize, cycles: usize) -> Result<String, Vec<String>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let key = new_api_key(&http, base).await.map_err(|e| vec![e])?;
    // One request first, so the gateway caches the key's authorizer decision
    // instead of 128 first requests each starting an authorizer instance.
    http.get(format!("{base}/v0/locks"))
        .bearer_auth(&key)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| vec![e.to_string()])?;
    let run = Arc::new(Run {
        base: base.to_owned(),
        http,
        key,
        lock: format!("stress-{clients}"),
        epoch: Instant::now(),
        resource: Resource::default(),
        record: Mutex::new(Record::default()),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(run.clone().client(id, clients, cycles)))
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| vec![format!("client panicked: {e}")])?;
    }
    let elapsed = started.elapsed();
    let record = std::mem::take(&mut *run.record.lock().unwrap());
    let grants = record.holds.len() as u64;
    let refusals = record
        .ops
        .iter()
        .filter(|op| op.outcome == Outcome::Refused)
        .count();
    let mut violations = record.errors.clone();
    for (a, b) in overlapping_holds(&record.holds) {
        violations.push(format!("double grant: {a:?} overlaps {b:?}"));
    }
    for (a, b) in token_regressions(&record.holds) {
        violations.push(format!("fencing token did not increase: {a:?} then {b:?}"));
    }
    let counter = run.resource.counter.load(Ordering::SeqCst);
    if counter != grants {
        violations.push(format!(
            "guarded counter is {counter} after {grants} grants: updates were lost"
        ));
    }
    let stale = run.resource.stale_writes.load(Ordering::SeqCst);
    if stale > 0 {
        violations.push(format!(
            "{stale} writes reached the resource with a stale fencing token"
        ));
    }
    let check_started = Instant::now();
    if !is_linearizable(&record.ops) {
        violations.push("the history is not linearizable against a mutex".into());
    }
    if grants != (clients * cycles) as u64 && record.errors.is_empty() {
        violations.push(format!("{grants} grants, expected {}", clients * cycles));
    }
    let summary = format!(
        "{clients} clients: {grants} grants, {refusals} refusals, {} operations in {:.1} s; \
         linearizability checked in {:.2} s",
        record.ops.len(),
        elapsed.as_secs_f64(),
        check_started.elapsed().as_secs_f64()
    );
    if violations.is_empty() {
        Ok(summary)
    } else {
        violations.insert(0, summary);
        Err(violations)
    }
}

/// Starts every instance `cargo lambda watch` may run for acquire and unlock
/// (each start is a `cargo run`, seconds on a small machine), so the runs
/// measure the lock, not the emulator's cold starts. Bad requests suffice:
/// they reach the functions and change nothing.
async fn warm_up(base: &str, instances: usize) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let key = new_api_key(&http, base)
        .await
        .expect("a user for the warm-up");
    let calls = (0..instances)
        .flat_map(|_| ["/v0/lock", "/v0/unlock"])
        .map(|path| {
            let request = http
                .post(format!("{base}{path}"))
                .bearer_auth(&key)
                .body("{}");
            async move { request.send().await.map(|r| r.status().as_u16()) }
        });
    let statuses = futures_join_all(calls).await;
    let warm = statuses.iter().filter(|s| matches!(s, Ok(400))).count();
    println!(
        "warmed up: {warm} of {} requests answered 400",
        statuses.len()
    );
}

/// Runs every future at once and collects the results in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("warm-up request task"));
    }
    results
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> std::process::ExitCode {
    let clients: Vec<usize> = arg("--clients")
        .unwrap_or_else(|| "2,8".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let cycles: usize = arg("--cycles").and_then(|n| n.parse().ok()).unwrap_or(10);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let started = Instant::now();
    let (passed, failed) = runtime.block_on(async {
        println!("\nstarting the local stack for the stress runs...");
        let concurrency = 16;
        let options = StackOptions {
            concurrency,
            ..StackOptions::default()
        };
        let stack = Stack::start(options)
            .await
            .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
        if clients.iter().any(|&n| n > concurrency as usize) {
            warm_up(&stack.base_url, concurrency as usize).await;
        }
        println!("running {} tests", clients.len());
        let (mut passed, mut failed) = (0, 0);
        for &n in &clients {
            match run(&stack.base_url, n, cycles).await {
                Ok(summary) => {
                    println!("test stress::clients_{n} ... ok ({summary})");
                    passed += 1;
                }
                Err(violations) => {
                    println!("test stress::clients_{n} ... FAILED");
                    for violation in violations {
                        println!("    {violation}");
                    }
                    failed += 1;
                }
            }
        }
        (passed, failed)
    });
    let status = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
