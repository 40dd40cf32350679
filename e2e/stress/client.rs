//! The clients of a stress run: each loops acquire → critical section →
//! unlock, retrying unclear answers as a careful client does, and records
//! what it saw. Half of them wait for the lock (`waitSeconds`), so grants
//! go through reservations as well as plain tries.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::history::{Hold, Op, Outcome};
use lock_client::lock_wire::Backoff;
use serde_json::{json, Value};

use super::faults::Fault;
use super::CLEAR_ANSWER_DEADLINE;

/// The protected resource: a counter updated without atomicity (only the
/// lock keeps it right) and a fence that refuses stale tokens.
#[derive(Default)]
pub struct Resource {
    pub counter: AtomicU64,
    pub highest_token: AtomicU64,
    pub stale_writes: AtomicU64,
}

impl Resource {
    pub async fn write(&self, token: u64) {
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
pub struct Record {
    pub ops: Vec<Op>,
    pub holds: Vec<Hold>,
    pub errors: Vec<String>,
    /// Answers that were not clear (a 5xx, a broken connection), each retried.
    pub unclear: u64,
    /// Of those, `504`s: the function never answered (killed mid-request).
    pub timeouts: u64,
    /// Longest time from a request's first sending to its clear answer.
    pub slowest: Duration,
    /// Unlocks of a held lease answered `unlocked: false`: with faults that
    /// lose answers, an earlier attempt of the same unlock had released it.
    pub unlocks_answered_false: u64,
    /// Acquires refused while a waiter's reservation stood (`reservedUntil`).
    pub reserved_refusals: u64,
    /// Reservations seen ending later than their bound allows.
    pub reservations_too_long: Vec<String>,
}

/// How far past an answer a reservation it shows may end: its life (2 s
/// from its last write, which came before the answer), plus clock rounding.
const RESERVATION_BOUND: Duration = Duration::from_millis(2_050);
/// How long the waiting clients (every odd one) wait.
const WAIT_SECONDS: u64 = 3;

/// A violation if `answer`'s `reservedUntil` ends beyond [`RESERVATION_BOUND`]
/// from now; `None` if it has none or it is within.
fn reservation_beyond_bound(answer: &Value) -> Option<String> {
    let until = answer["reservedUntil"].as_str()?;
    let Ok(until) = humantime::parse_rfc3339(until) else {
        return Some(format!("an unreadable reservedUntil: {answer}"));
    };
    let left = until
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    (left > RESERVATION_BOUND).then(|| format!("a reservation {left:?} from its end: {answer}"))
}

pub struct Run {
    pub base: String,
    pub http: reqwest::Client,
    pub key: String,
    pub lock: String,
    pub fault: Fault,
    pub epoch: Instant,
    pub resource: Resource,
    pub record: Mutex<Record>,
    /// Whether the run's fault has struck, if it is timed (restarts, kills):
    /// the clients keep cycling until it has.
    pub fault_struck: AtomicBool,
}

impl Run {
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn note(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap());
    }

    /// Records client `client`'s operation, called at `call` and returned at
    /// `ret`.
    fn record(&self, client: usize, call: u64, ret: u64, outcome: Outcome) {
        let op = Op {
            client,
            call,
            ret,
            outcome,
        };
        self.note(|r| r.ops.push(op));
    }

    /// Sends the request until it gets a clear answer, as a careful client
    /// does: a 5xx or a broken connection leaves the outcome unknown, so the
    /// same request (same `Idempotency-Key`, same lease) goes again, with
    /// backoff, for up to [`CLEAR_ANSWER_DEADLINE`]. A 4xx is an error.
    async fn clear_answer(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, String> {
        let first_sent = Instant::now();
        // Pauses of 50 ms to 2 s, doubling, each jittered.
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1.. {
            let unclear = match request().send().await {
                Ok(answer) if answer.status() == 200 => match answer.json::<Value>().await {
                    Ok(body) => {
                        let took = first_sent.elapsed();
                        self.note(|r| r.slowest = r.slowest.max(took));
                        if took > CLEAR_ANSWER_DEADLINE {
                            return Err(format!("a clear answer only after {took:?}"));
                        }
                        return Ok(body);
                    }
                    Err(err) => format!("200 with an unreadable body: {err}"),
                },
                // Too many of the user's acquires wait: refused, nothing changed.
                Ok(answer) if answer.status() == 429 => {
                    return Ok(json!({ "locked": false, "code": "THROTTLED" }));
                }
                Ok(answer) if answer.status().is_server_error() => {
                    let status = answer.status();
                    if status == 504 {
                        self.note(|r| r.timeouts += 1);
                    }
                    format!("{status} {}", answer.text().await.unwrap_or_default())
                }
                Ok(answer) => {
                    let status = answer.status();
                    return Err(format!(
                        "{status} {}",
                        answer.text().await.unwrap_or_default()
                    ));
                }
                Err(err) => err.to_string(),
            };
            self.note(|r| r.unclear += 1);
            if first_sent.elapsed() > CLEAR_ANSWER_DEADLINE {
                return Err(format!(
                    "no clear answer within {} s; last: {unclear}",
                    CLEAR_ANSWER_DEADLINE.as_secs()
                ));
            }
            tokio::time::sleep(backoff.pause(attempt)).await;
        }
        unreachable!("attempts never run out")
    }

    /// An acquire of client `id`: every odd client waits (and reserves the
    /// lock as the longest waiter), every even one only tries.
    async fn acquire(&self, id: usize) -> Result<Value, String> {
        let mut body = json!({
            "lockName": self.lock,
            "requester": format!("client-{id}"),
            "ttlSeconds": 120,
        });
        if id % 2 == 1 {
            body["waitSeconds"] = json!(WAIT_SECONDS);
        }
        let idempotency_key = uuid::Uuid::new_v4().to_string();
        self.clear_answer(|| {
            self.http
                .post(format!("{}/v0/lock", self.base))
                .bearer_auth(&self.key)
                .header("Idempotency-Key", &idempotency_key)
                .json(&body)
        })
        .await
        .map_err(|e| format!("acquire: {e}"))
    }

    async fn unlock(&self, lease: &str) -> Result<Value, String> {
        let body = json!({ "lockName": self.lock, "leaseId": lease });
        self.clear_answer(|| {
            self.http
                .post(format!("{}/v0/unlock", self.base))
                .bearer_auth(&self.key)
                .json(&body)
        })
        .await
        .map_err(|e| format!("unlock: {e}"))
    }

    /// Client `id` of `clients`: `cycles` grants (more, until a timed fault
    /// has struck), or fewer if a request found no clear answer; how many.
    pub async fn client(self: Arc<Self>, id: usize, clients: usize, cycles: usize) -> usize {
        let mut done = 0;
        let mut refusals = 0;
        // Refused clients back off further the more of them there are, so the
        // offered load stays within what one small machine serves: from 5 ms
        // up to 20 ms per client (at least 200 ms), doubling, jittered.
        let max_backoff = Duration::from_millis((20 * clients as u64).max(200));
        let backoff = Backoff::new(Duration::from_millis(10), max_backoff * 2);
        // A timed fault must strike at least once, however fast the cycles.
        while done < cycles || !self.fault_struck.load(Ordering::SeqCst) {
            let call = self.now();
            let answer = match self.acquire(id).await {
                Ok(answer) => answer,
                Err(err) => {
                    self.note(|r| r.errors.push(err));
                    return done;
                }
            };
            let ret = self.now();
            if answer.get("reservedUntil").is_some() {
                let beyond = reservation_beyond_bound(&answer);
                self.note(|r| {
                    r.reserved_refusals += 1;
                    r.reservations_too_long.extend(beyond);
                });
            }
            if answer["locked"] != true {
                self.record(id, call, ret, Outcome::Refused);
                refusals += 1;
                tokio::time::sleep(backoff.pause(refusals)).await;
                continue;
            }
            refusals = 0;
            let token = answer["fencingToken"].as_u64().unwrap_or_default();
            let lease = answer["leaseId"].as_str().unwrap_or_default().to_owned();
            self.record(id, call, ret, Outcome::Granted(token));
            self.resource.write(token).await;
            let end = self.now();
            let hold = Hold {
                client: id,
                start: ret,
                end,
                token,
            };
            self.note(|r| r.holds.push(hold));
            let mut released = match self.unlock(&lease).await {
                Ok(answer) => answer["unlocked"] == true,
                Err(err) => {
                    self.note(|r| r.errors.push(err));
                    return done;
                }
            };
            if !released {
                self.note(|r| r.unlocks_answered_false += 1);
                // The lease cannot have expired (120 s) nor been forced away,
                // so an attempt whose answer was lost released it: the retry
                // then found the lock free or granted again, and says
                // `false`. Without lost answers it stays a `NotReleased`,
                // which the mutex model refuses.
                released = self.fault.loses_answers();
            }
            let outcome = if released {
                Outcome::Released
            } else {
                Outcome::NotReleased
            };
            self.record(id, end, self.now(), outcome);
            done += 1;
        }
        done
    }

    /// Violations in the lock's state after every client is done: it must be
    /// free (no acknowledged release lost) and show the last grant's token
    /// (no acknowledged grant lost, no grant nobody was told of).
    pub async fn check_final_state(&self, last_token: u64) -> Vec<String> {
        let state = self
            .clear_answer(|| {
                self.http
                    .get(format!("{}/v0/lock", self.base))
                    .query(&[("lockName", &self.lock)])
                    .bearer_auth(&self.key)
            })
            .await;
        match state {
            Err(err) => vec![format!("reading the lock afterwards: {err}")],
            Ok(lock) => {
                let mut violations = Vec::new();
                if lock["locked"] != false {
                    violations.push(format!(
                        "the lock is still held after every release: {lock}"
                    ));
                }
                violations.extend(reservation_beyond_bound(&lock));
                if lock["fencingToken"].as_u64() != Some(last_token) {
                    violations.push(format!(
                        "the lock shows fencing token {}, the last grant was {last_token}",
                        lock["fencingToken"]
                    ));
                }
                violations
            }
        }
    }
}
