//! The semaphore's property run: many more tasks than permits acquire
//! (waiting a little), renew, release or walk away ("crash") with 1–2 s
//! TTLs, while the fault proxy drops answers after dynalite applied them.
//! Each task retries an unclear answer with the same `Idempotency-Key` or
//! lease, as a careful client does. From the answers alone it checks that
//! no more than `permits` leases are ever live at once, that each slot's
//! leases never overlap and their tokens rise, and that at the end every
//! live holder is a lease some task was told of (a retry never held two).
//!
//! A lease's interval here is inside its true life: from its grant's answer
//! to the moment its release was sent, or, if it was not, its expiry at the
//! earliest (the TTL from when its grant or last renewal was first sent,
//! since the service's clock, on this machine, reads later than that).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::permits::{permit_overlaps, slot_order, PermitHold as Held};
use local_stack::Stack;
use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::proxy::Faults;

use super::faults::Backend;
use super::CLEAR_ANSWER_DEADLINE;

/// What the tasks share.
struct Tasks {
    base: String,
    http: reqwest::Client,
    key: String,
    name: String,
    permits: u64,
    held: Mutex<Vec<Held>>,
    unclear: Mutex<u64>,
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

impl Tasks {
    /// POSTs `body` to `path` until a clear answer (a 2xx, 4xx): its status
    /// and body, and when the first attempt was sent.
    async fn clear(&self, path: &str, body: &Value, key: Option<&str>) -> (StatusCode, Value, u64) {
        let (first, started) = (wall_ms(), Instant::now());
        loop {
            let mut request = self
                .http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.key);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            let answer = request.json(body).send().await;
            if let Ok(answer) = answer {
                let status = answer.status();
                if !status.is_server_error() {
                    let text = answer.text().await.unwrap_or_default();
                    return (
                        status,
                        serde_json::from_str(&text).unwrap_or(Value::Null),
                        first,
                    );
                }
            }
            *self.unclear.lock().unwrap() += 1;
            assert!(
                started.elapsed() < CLEAR_ANSWER_DEADLINE,
                "no clear answer from {path}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One task: `cycles` acquires, each then released, renewed and
    /// released, or walked away from.
    async fn task(self: Arc<Self>, id: usize, cycles: usize) {
        for cycle in 0..cycles {
            let ttl = 1 + fastrand::u64(..2);
            let body = json!({
                "semaphoreName": self.name, "requester": format!("task-{id}"),
                "permits": self.permits, "ttlSeconds": ttl, "waitSeconds": 2,
            });
            let key = format!("task-{id}-{cycle}-{}", uuid::Uuid::new_v4());
            let (status, answer, sent) = self.clear("/v0/semaphore", &body, Some(&key)).await;
            if status == StatusCode::TOO_MANY_REQUESTS || answer["acquired"] != true {
                assert!(
                    status.is_success() || status == StatusCode::TOO_MANY_REQUESTS,
                    "{answer}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let from = wall_ms();
            let mut until = sent + ttl * 1000;
            let lease = answer["leaseId"].as_str().unwrap().to_owned();
            let permit = answer["permit"].as_u64().unwrap();
            let token = answer["fencingToken"].as_u64().unwrap();
            let lease_body =
                json!({ "semaphoreName": self.name, "leaseId": lease, "permit": permit });
            match fastrand::u8(..4) {
                0 => {} // walks away: the permit comes back at its expiry
                choice => {
                    tokio::time::sleep(Duration::from_millis(fastrand::u64(50..300))).await;
                    if choice == 1 {
                        let (_, renewed, renew_sent) =
                            self.clear("/v0/semaphore/renew", &lease_body, None).await;
                        if renewed["renewed"] == true {
                            until = until.max(renew_sent + ttl * 1000);
                        }
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(50..300))).await;
                    }
                    until = until.min(wall_ms());
                    self.clear("/v0/semaphore/release", &lease_body, None).await;
                }
            }
            let held = Held {
                lease,
                permit,
                token,
                from,
                until,
            };
            self.held.lock().unwrap().push(held);
        }
    }
}

/// `clients` tasks on one semaphore of `permits` permits, `cycles` acquires
/// each, with one answer in ten dropped; the summary, or the violations.
pub async fn run_permits(
    stack: &Stack,
    backend: &Backend,
    clients: usize,
    cycles: usize,
    permits: u64,
) -> Result<String, Vec<String>> {
    let key = stack.new_api_key().await.map_err(|e| vec![e])?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let tasks = Arc::new(Tasks {
        base: stack.base_url.clone(),
        http,
        key,
        name: format!("permits-{clients}"),
        permits,
        held: Mutex::new(Vec::new()),
        unclear: Mutex::new(0),
    });
    let injected_before = backend.proxy.injected();
    backend.proxy.set(Faults::drops(0.1));
    let started = Instant::now();
    let running: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(tasks.clone().task(id, cycles)))
        .collect();
    let mut violations = Vec::new();
    for task in running {
        if let Err(e) = task.await {
            violations.push(format!("task panicked: {e}"));
        }
    }
    backend.proxy.set(Faults::default());
    let injected = backend.proxy.injected().since(injected_before);
    let held = tasks.held.lock().unwrap().clone();
    violations.extend(permit_overlaps(&held, permits));
    violations.extend(slot_order(&held));
    violations.extend(unknown_holders(&tasks, &held).await);
    let summary = format!(
        "{clients} tasks on {permits} permits: {} grants in {:.1} s, {} unclear answers retried, {injected:?}",
        held.len(),
        started.elapsed().as_secs_f64(),
        tasks.unclear.lock().unwrap(),
    );
    if held.len() < permits as usize {
        violations.push("fewer grants than permits: the run tested nothing".into());
    }
    if violations.is_empty() {
        Ok(summary)
    } else {
        violations.insert(0, summary);
        Err(violations)
    }
}

/// Live holders at the end that no task was told of: a grant nobody knows.
async fn unknown_holders(tasks: &Tasks, held: &[Held]) -> Vec<String> {
    let known: HashSet<&str> = held.iter().map(|h| h.lease.as_str()).collect();
    let url = format!("{}/v0/semaphore?semaphoreName={}", tasks.base, tasks.name);
    let answer = tasks.http.get(url).bearer_auth(&tasks.key).send().await;
    let Ok(answer) = answer else {
        return vec!["the final read failed".into()];
    };
    let view: Value = answer.json().await.unwrap_or(Value::Null);
    let holders = view["holders"].as_array().cloned().unwrap_or_default();
    holders
        .iter()
        .filter(|h| !known.contains(h["leaseId"].as_str().unwrap_or_default()))
        .map(|h| format!("a live holder no task was told of: {h}"))
        .collect()
}
