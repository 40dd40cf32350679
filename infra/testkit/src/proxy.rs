//! The one TCP proxy of the tests and the bench, between a client and its
//! upstream (a function and the DynamoDB engine, or a client and the
//! gateway). It counts the DynamoDB calls it forwards (by `X-Amz-Target`),
//! records each request's head, and injects faults on command: at random
//! (drop the answer after the upstream applied the request, so a write that
//! landed is retried; reset a connection before its request goes up; delay
//! traffic; refuse a write as DynamoDB's multi-Region tables refuse one
//! that conflicts with another Region's, without going up), or scripted for
//! the n-th connection (lose its answer, or answer it with given bytes, such
//! as a `502`, without going up at all) or for the next n writes (refused as
//! conflicting).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

mod dynamodb;
pub use dynamodb::{describe, replicated_write_conflict, total};
use dynamodb::{operation, WRITES};

/// DynamoDB calls by operation name (`PutItem`, `UpdateItem`, ...).
pub type Calls = BTreeMap<String, u64>;

/// Faults at random; each applies to every chunk of traffic on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Chance that an answer from upstream is dropped and the connection
    /// closed instead (upstream has applied the request).
    pub drop_answer: f64,
    /// Chance that a request is not passed on and the connection is reset.
    pub reset_request: f64,
    /// Each chunk, either way, is held back for a random time up to this.
    pub max_delay: Duration,
    /// Chance that a write (`PutItem`, `UpdateItem`, `DeleteItem`, ...) is
    /// not passed on but answered with `ReplicatedWriteConflictException`.
    pub conflict_write: f64,
}

impl Faults {
    /// Only dropped answers, with chance `chance` each.
    pub fn drops(chance: f64) -> Self {
        Self {
            drop_answer: chance,
            ..Self::default()
        }
    }

    /// Only reset requests, with chance `chance` each.
    pub fn resets(chance: f64) -> Self {
        Self {
            reset_request: chance,
            ..Self::default()
        }
    }

    /// Only write conflicts, with chance `chance` each.
    pub fn conflicts(chance: f64) -> Self {
        Self {
            conflict_write: chance,
            ..Self::default()
        }
    }

    /// Only delays, of up to `max` each.
    pub fn delays(max: Duration) -> Self {
        Self {
            max_delay: max,
            ..Self::default()
        }
    }
}

/// What happens to one scripted connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scripted {
    /// Forwarded both ways (subject to the random faults).
    Pass,
    /// Forwarded and answered upstream, but the answer is dropped and the
    /// connection closed (a timeout or a reset, as the client sees it).
    LoseAnswer,
    /// Answered with these bytes by the proxy; nothing goes upstream.
    Answer(Vec<u8>),
}

/// How many faults were injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// Answers dropped after upstream applied the request.
    pub dropped_answers: u64,
    /// Connections reset before the request went upstream.
    pub resets: u64,
    /// Chunks delayed.
    pub delays: u64,
    /// Connections refused because upstream was not listening.
    pub upstream_down: u64,
    /// Writes answered with `ReplicatedWriteConflictException`.
    pub conflicts: u64,
}

impl Injected {
    /// What was injected since `earlier`.
    pub fn since(self, earlier: Injected) -> Injected {
        Injected {
            dropped_answers: self.dropped_answers - earlier.dropped_answers,
            resets: self.resets - earlier.resets,
            delays: self.delays - earlier.delays,
            upstream_down: self.upstream_down - earlier.upstream_down,
            conflicts: self.conflicts - earlier.conflicts,
        }
    }
}

#[derive(Default)]
struct Counters {
    dropped_answers: AtomicU64,
    resets: AtomicU64,
    delays: AtomicU64,
    upstream_down: AtomicU64,
    conflicts: AtomicU64,
}

struct Shared {
    upstream: String,
    faults: Mutex<Faults>,
    script: Mutex<Vec<Scripted>>,
    /// Writes still to be refused as conflicting, whatever the chance.
    conflicts_due: AtomicU64,
    connections: AtomicUsize,
    counters: Counters,
    calls: Mutex<Calls>,
    heads: Mutex<Vec<String>>,
    /// Client ports whose request went upstream and whose answer has not come back.
    awaiting_answer: Mutex<HashSet<u16>>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, the endpoint to give the client.
    pub endpoint: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`
    /// (`host:port` or `http://host:port`), with no faults.
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            faults: Mutex::new(Faults::default()),
            script: Mutex::new(Vec::new()),
            conflicts_due: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
            counters: Counters::default(),
            calls: Mutex::new(Calls::new()),
            heads: Mutex::new(Vec::new()),
            awaiting_answer: Mutex::new(HashSet::new()),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let index = accepting.connections.fetch_add(1, Ordering::SeqCst);
                let scripted = accepting.script.lock().unwrap().get(index).cloned();
                tokio::spawn(relay(
                    client,
                    accepting.clone(),
                    scripted.unwrap_or(Scripted::Pass),
                ));
            }
        });
        Ok(Self {
            endpoint,
            shared,
            task,
        })
    }

    /// Puts `faults` in force for every chunk from now on.
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// Scripts the connections from the next one on: the i-th of them
    /// suffers `script[i]`, later ones nothing scripted.
    pub fn script(&self, script: Vec<Scripted>) {
        let from = self.shared.connections.load(Ordering::SeqCst);
        let mut scripted = vec![Scripted::Pass; from];
        scripted.extend(script);
        *self.shared.script.lock().unwrap() = scripted;
    }

    /// Refuses the next `writes` writes as conflicting with another
    /// Region's (`ReplicatedWriteConflictException`); nothing goes up.
    pub fn conflict_next_writes(&self, writes: u64) {
        self.shared.conflicts_due.store(writes, Ordering::SeqCst);
    }

    /// Every DynamoDB call forwarded so far.
    pub fn calls(&self) -> Calls {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The DynamoDB calls forwarded since `before` (a [`Self::calls`] snapshot).
    pub fn calls_since(&self, before: &Calls) -> Calls {
        let mut now = self.calls();
        for (operation, count) in before {
            if let Some(total) = now.get_mut(operation) {
                *total -= count;
            }
        }
        now.retain(|_, count| *count > 0);
        now
    }

    /// The head (request line and headers, lower-cased) of every HTTP
    /// request that reached the proxy, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }

    /// The local ports of the clients that are waiting for upstream's answer now.
    pub fn ports_awaiting_answer(&self) -> Vec<u16> {
        let ports = self.shared.awaiting_answer.lock().unwrap();
        ports.iter().copied().collect()
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Injected {
        let c = &self.shared.counters;
        Injected {
            dropped_answers: c.dropped_answers.load(Ordering::SeqCst),
            resets: c.resets.load(Ordering::SeqCst),
            delays: c.delays.load(Ordering::SeqCst),
            upstream_down: c.upstream_down.load(Ordering::SeqCst),
            conflicts: c.conflicts.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    /// Notes whether the client on `port` waits for upstream's answer.
    fn awaiting(&self, port: u16, awaiting: bool) {
        let mut ports = self.awaiting_answer.lock().unwrap();
        if awaiting {
            ports.insert(port);
        } else {
            ports.remove(&port);
        }
    }

    fn faults(&self) -> Faults {
        *self.faults.lock().unwrap()
    }

    fn happens(&self, chance: f64) -> bool {
        chance > 0.0 && fastrand::f64() < chance
    }

    async fn maybe_delay(&self) {
        let max = self.faults().max_delay;
        if !max.is_zero() {
            self.counters.delays.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(max.mul_f64(fastrand::f64())).await;
        }
    }

    /// Whether a request of DynamoDB `operation`, a write, is to be refused
    /// as conflicting (scripted first, then by chance); counted if so.
    fn conflicts(&self, operation: Option<&str>) -> bool {
        if !operation.is_some_and(|op| WRITES.contains(&op)) {
            return false;
        }
        let scripted = self
            .conflicts_due
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |due| due.checked_sub(1))
            .is_ok();
        let conflicts = scripted || self.happens(self.faults().conflict_write);
        if conflicts {
            self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        conflicts
    }

    /// Counts `operation`, the DynamoDB operation of the request in `chunk`
    /// (see [`operation`]), and records the head of each HTTP request in a
    /// chunk of request bytes (a head never straddles two reads of requests
    /// this small, which the SDK and the client write in one piece).
    fn observe(&self, chunk: &[u8], operation: Option<String>) {
        let text = String::from_utf8_lossy(chunk);
        let Some((head, _)) = text.split_once("\r\n\r\n") else {
            return;
        };
        if !head.contains(" HTTP/") {
            return;
        }
        self.heads.lock().unwrap().push(head.to_ascii_lowercase());
        if let Some(operation) = operation {
            *self.calls.lock().unwrap().entry(operation).or_default() += 1;
        }
    }
}

/// Carries one connection both ways until either side closes or a fault ends it.
async fn relay(mut client: TcpStream, shared: Arc<Shared>, scripted: Scripted) {
    let port = client.peer_addr().map_or(0, |a| a.port());
    if let Scripted::Answer(answer) = &scripted {
        let mut request = vec![0u8; 64 * 1024];
        if let Ok(n) = client.read(&mut request).await {
            shared.observe(&request[..n], operation(&request[..n]));
        }
        let _ = client.write_all(answer).await;
        return;
    }
    relay_until_closed(client, port, &shared, scripted == Scripted::LoseAnswer).await;
    shared.awaiting(port, false);
}

async fn relay_until_closed(mut client: TcpStream, port: u16, shared: &Shared, lose_answer: bool) {
    let Ok(mut upstream) = TcpStream::connect(&shared.upstream).await else {
        // Upstream is down (restarting): the client sees its connection closed.
        shared
            .counters
            .upstream_down
            .fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut request, mut answer) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            read = client.read(&mut request) => {
                let Ok(n @ 1..) = read else { return };
                if shared.happens(shared.faults().reset_request) {
                    shared.counters.resets.fetch_add(1, Ordering::Relaxed);
                    // Linger 0: closing sends RST instead of FIN.
                    let _ = client.set_zero_linger();
                    return;
                }
                let operation = operation(&request[..n]);
                if shared.conflicts(operation.as_deref()) {
                    let _ = client.write_all(&replicated_write_conflict()).await;
                    return;
                }
                shared.observe(&request[..n], operation);
                shared.awaiting(port, true);
                shared.maybe_delay().await;
                if upstream.write_all(&request[..n]).await.is_err() {
                    return;
                }
            }
            read = upstream.read(&mut answer) => {
                let Ok(n @ 1..) = read else { return };
                if lose_answer || shared.happens(shared.faults().drop_answer) {
                    shared.counters.dropped_answers.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                shared.awaiting(port, false);
                shared.maybe_delay().await;
                if client.write_all(&answer[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
