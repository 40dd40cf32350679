//! The soak's workers: each belongs to one tenant and loops over random
//! scripts (`scripts.rs`) on that tenant's names, recording every operation
//! as its client saw it; here are the run's shared state, the sending with
//! retries, and the pause.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use lock_client::lock_wire::Backoff;
use reqwest::RequestBuilder;
use serde_json::Value;

use e2e::soak::entry::{is_tenants, now_us, Entry, Kind};

/// How long a request keeps being retried after unclear answers.
const CLEAR_ANSWER_DEADLINE: Duration = Duration::from_secs(60);

/// The shape of the load: who, on which names.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub tenants: usize,
    pub workers: usize,
    pub lock_names: usize,
    pub semaphores: usize,
    pub permits: u64,
}

/// Counters the status line shows.
#[derive(Default)]
pub struct Counters {
    pub ops: AtomicU64,
    /// Found while running: errors and other tenants' holders.
    pub violations: AtomicU64,
    /// Attempts answered unclearly (a 5xx or a broken connection).
    pub unclear: AtomicU64,
    /// Of those, the 5xx answers.
    pub server_errors: AtomicU64,
    /// Acquires answered 429 (too many of the tenant's acquires waiting).
    pub throttled: AtomicU64,
}

/// What every worker shares.
pub struct Soak {
    pub base: String,
    pub http: reqwest::Client,
    /// One API key per tenant.
    pub keys: Vec<String>,
    pub shape: Shape,
    pub target: u64,
    pub counters: Counters,
    /// Set when the run must end (its count reached, or its time bound).
    pub stop: AtomicBool,
    /// Set while no new script may start (see [`Soak::paused`]).
    pub pausing: AtomicBool,
    /// Scripts under way.
    pub scripts: AtomicU64,
}

/// A clear answer, or the last unclear one when retrying was not allowed.
struct Answer {
    status: u16,
    body: Value,
    retries: u32,
    lost: u32,
}

impl Soak {
    pub fn lock_name(&self, i: usize) -> String {
        format!("lock-{i}")
    }

    pub fn semaphore_name(&self, i: usize) -> String {
        format!("pool-{i}")
    }

    fn done(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.counters.ops.load(Ordering::SeqCst) >= self.target
    }

    /// Records `entry`, counting what the run can tell at once.
    pub fn record(&self, entries: &Sender<Entry>, entry: Entry) {
        let foreign_holder = entry
            .holder
            .as_deref()
            .is_some_and(|h| !is_tenants(h, entry.tenant));
        if entry.error.is_some() || entry.foreign > 0 || foreign_holder {
            self.counters.violations.fetch_add(1, Ordering::SeqCst);
        }
        self.counters.ops.fetch_add(1, Ordering::SeqCst);
        // The writer only stops once every sender is gone.
        let _ = entries.send(entry);
    }

    /// Sends the request until a clear answer (anything but a 5xx or a
    /// broken connection), with backoff, for up to [`CLEAR_ANSWER_DEADLINE`];
    /// with `retry` false, the first answer whatever it is (status 0: none).
    async fn send(
        &self,
        request: impl Fn() -> RequestBuilder,
        retry: bool,
    ) -> Result<Answer, String> {
        let started = Instant::now();
        let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
        // Every unclear answer may follow a write that landed: each is lost.
        for attempt in 1u32.. {
            let unclear = match request().send().await {
                Ok(answer) if !answer.status().is_server_error() => {
                    let status = answer.status().as_u16();
                    let text = answer.text().await.unwrap_or_default();
                    return Ok(Answer {
                        status,
                        body: serde_json::from_str(&text).unwrap_or(Value::Null),
                        retries: attempt - 1,
                        lost: attempt - 1,
                    });
                }
                Ok(answer) => {
                    self.counters.server_errors.fetch_add(1, Ordering::SeqCst);
                    answer.status().as_u16()
                }
                Err(_) => 0,
            };
            self.counters.unclear.fetch_add(1, Ordering::SeqCst);
            if !retry {
                return Ok(Answer {
                    status: unclear,
                    body: Value::Null,
                    retries: attempt - 1,
                    lost: attempt,
                });
            }
            if started.elapsed() > CLEAR_ANSWER_DEADLINE {
                return Err(format!(
                    "no clear answer in {} s (last: {unclear})",
                    CLEAR_ANSWER_DEADLINE.as_secs()
                ));
            }
            tokio::time::sleep(backoff.pause(attempt)).await;
        }
        unreachable!("attempts never run out")
    }

    /// One operation: sends it, and completes `entry` from the answer with
    /// `fill` if it is a 200, records it if its status is one of
    /// `expected`, else as an error.
    pub(crate) async fn op(
        &self,
        me: &Worker,
        mut entry: Entry,
        request: impl Fn() -> RequestBuilder,
        retry: bool,
        expected: &[u16],
        fill: impl FnOnce(&mut Entry, &Value),
    ) -> Entry {
        entry.call = now_us();
        match self.send(request, retry).await {
            Ok(answer) => {
                entry.status = answer.status;
                entry.retries = answer.retries;
                entry.lost = answer.lost;
                if answer.status == 200 {
                    fill(&mut entry, &answer.body);
                } else if !retry && (answer.status == 0 || answer.status >= 500) {
                    entry.unclear = true;
                } else if !expected.contains(&answer.status) {
                    entry.error = Some(format!("{} {}", answer.status, answer.body));
                }
            }
            Err(error) => entry.error = Some(error),
        }
        entry.ret = now_us();
        if entry.status == 429 {
            self.counters.throttled.fetch_add(1, Ordering::SeqCst);
        }
        self.record(&me.entries, entry.clone());
        entry
    }

    /// A new entry of worker `me`.
    pub(crate) fn entry(me: &Worker, kind: Kind, name: &str) -> Entry {
        Entry::new(kind, me.tenant, me.id, name, 0)
    }

    pub(crate) fn post(
        &self,
        me: &Worker,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> RequestBuilder {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.keys[me.tenant])
            .json(body);
        match key {
            Some(key) => request.header("Idempotency-Key", key),
            None => request,
        }
    }

    pub(crate) fn get(
        &self,
        tenant: usize,
        path: &str,
        query: &[(&str, String)],
    ) -> RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.keys[tenant])
            .query(query)
    }

    /// Runs `task` with no script under way: new ones wait, and those under
    /// way end first (after at most two minutes, `task` runs regardless).
    pub async fn paused<T>(&self, task: impl std::future::Future<Output = T>) -> T {
        self.pausing.store(true, Ordering::SeqCst);
        let until = Instant::now() + Duration::from_secs(120);
        while self.scripts.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let output = task.await;
        self.pausing.store(false, Ordering::SeqCst);
        output
    }

    /// Worker `me` until the run is done.
    pub async fn work(&self, me: Worker) {
        while !self.done() {
            // Counted before the look at `pausing`, so that a pause that
            // finds no script under way has none starting either.
            self.scripts.fetch_add(1, Ordering::SeqCst);
            if self.pausing.load(Ordering::SeqCst) {
                self.scripts.fetch_sub(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            self.script(&me).await;
            self.scripts.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One worker: its tenant, its number, and where its entries go.
pub struct Worker {
    pub tenant: usize,
    pub id: usize,
    pub entries: Sender<Entry>,
}
