//! A TCP proxy between the functions and the DynamoDB engine that injects
//! faults on command: it drops the engine's answer after the engine applied
//! the request (so the SDK retries a write that already landed), delays
//! traffic, and resets connections before a request reaches the engine.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The faults in force; each applies to every chunk of traffic on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// Chance that an answer from the engine is dropped and the connection
    /// closed instead (the engine has applied the request).
    pub drop_answer: f64,
    /// Chance that a request is not passed on and the connection is reset.
    pub reset_request: f64,
    /// Each chunk, either way, is held back for a random time up to this.
    pub max_delay: Duration,
}

/// How many faults were injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// Answers dropped after the engine applied the request.
    pub dropped_answers: u64,
    /// Connections reset before the request reached the engine.
    pub resets: u64,
    /// Chunks delayed.
    pub delays: u64,
    /// Connections refused because the engine was not listening.
    pub engine_down: u64,
}

impl Injected {
    /// What was injected since `earlier`.
    pub fn since(self, earlier: Injected) -> Injected {
        Injected {
            dropped_answers: self.dropped_answers - earlier.dropped_answers,
            resets: self.resets - earlier.resets,
            delays: self.delays - earlier.delays,
            engine_down: self.engine_down - earlier.engine_down,
        }
    }
}

#[derive(Default)]
struct Counters {
    dropped_answers: AtomicU64,
    resets: AtomicU64,
    delays: AtomicU64,
    engine_down: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    faults: Mutex<Faults>,
    counters: Counters,
    seed: AtomicU64,
    /// Client ports whose request went to the engine and whose answer has not come back.
    awaiting_answer: Mutex<HashSet<u16>>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, the endpoint to give the functions.
    pub endpoint: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`, with no faults.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let shared = Arc::new(Shared {
            upstream,
            faults: Mutex::new(Faults::default()),
            counters: Counters::default(),
            seed: AtomicU64::new(nanos | 1),
            awaiting_answer: Mutex::new(HashSet::new()),
        });
        let accepting = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, accepting.clone()));
            }
        });
        Ok(Self {
            endpoint,
            shared,
            task,
        })
    }

    /// Puts `faults` in force for every connection from now on.
    pub fn set(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
    }

    /// The local ports of the clients (the functions' connections) that are
    /// waiting for the engine's answer right now.
    pub fn ports_awaiting_answer(&self) -> Vec<u16> {
        self.shared
            .awaiting_answer
            .lock()
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    /// The faults injected so far.
    pub fn injected(&self) -> Injected {
        let c = &self.shared.counters;
        Injected {
            dropped_answers: c.dropped_answers.load(Ordering::SeqCst),
            resets: c.resets.load(Ordering::SeqCst),
            delays: c.delays.load(Ordering::SeqCst),
            engine_down: c.engine_down.load(Ordering::SeqCst),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Shared {
    /// Notes whether the client on `port` waits for the engine's answer.
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

    /// A number in [0, 1) (splitmix64 over a shared counter).
    fn random(&self) -> f64 {
        let mut z = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn happens(&self, chance: f64) -> bool {
        chance > 0.0 && self.random() < chance
    }

    async fn maybe_delay(&self) {
        let max = self.faults().max_delay;
        if !max.is_zero() {
            self.counters.delays.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(max.mul_f64(self.random())).await;
        }
    }
}

/// Carries one connection both ways until either side closes or a fault ends it.
async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let port = client.peer_addr().map_or(0, |a| a.port());
    relay_until_closed(client, port, &shared).await;
    shared.awaiting(port, false);
}

async fn relay_until_closed(mut client: TcpStream, port: u16, shared: &Shared) {
    let Ok(mut engine) = TcpStream::connect(shared.upstream).await else {
        // The engine is down (restarting): the client sees its connection closed.
        shared.counters.engine_down.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = engine.set_nodelay(true);
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
                shared.awaiting(port, true);
                shared.maybe_delay().await;
                if engine.write_all(&request[..n]).await.is_err() {
                    return;
                }
            }
            read = engine.read(&mut answer) => {
                let Ok(n @ 1..) = read else { return };
                if shared.happens(shared.faults().drop_answer) {
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
mod tests {
    use super::*;

    /// An upstream that answers every chunk with "ok:" + the chunk, and counts them.
    async fn echo_upstream() -> (SocketAddr, Arc<AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buffer).await {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut reply = b"ok:".to_vec();
                        reply.extend_from_slice(&buffer[..n]);
                        if stream.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (address, received)
    }

    async fn exchange(endpoint: &str, message: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(endpoint.trim_start_matches("http://")).await?;
        stream.write_all(message).await?;
        let mut reply = vec![0u8; 1024];
        let n = stream.read(&mut reply).await?;
        reply.truncate(n);
        Ok(reply)
    }

    #[tokio::test]
    async fn passes_traffic_through_without_faults() {
        let (upstream, received) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        assert_eq!(exchange(&proxy.endpoint, b"hi").await.unwrap(), b"ok:hi");
        assert_eq!(received.load(Ordering::SeqCst), 1);
        assert_eq!(proxy.injected(), Injected::default());
    }

    #[tokio::test]
    async fn a_dropped_answer_was_applied_upstream() {
        let (upstream, received) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Faults {
            drop_answer: 1.0,
            ..Faults::default()
        });
        let reply = exchange(&proxy.endpoint, b"write").await;
        assert!(matches!(reply.as_deref(), Ok(b"") | Err(_)), "{reply:?}");
        assert_eq!(received.load(Ordering::SeqCst), 1, "the engine got it");
        assert_eq!(proxy.injected().dropped_answers, 1);
    }

    #[tokio::test]
    async fn a_reset_request_never_reaches_upstream() {
        let (upstream, received) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Faults {
            reset_request: 1.0,
            ..Faults::default()
        });
        let reply = exchange(&proxy.endpoint, b"write").await;
        assert!(reply.is_err(), "a reset is an error, got {reply:?}");
        assert_eq!(received.load(Ordering::SeqCst), 0);
        assert_eq!(proxy.injected().resets, 1);
    }

    #[tokio::test]
    async fn knows_which_clients_await_an_answer() {
        let (upstream, _) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Faults {
            max_delay: Duration::from_millis(300),
            ..Faults::default()
        });
        let mut stream = TcpStream::connect(proxy.endpoint.trim_start_matches("http://"))
            .await
            .unwrap();
        let port = stream.local_addr().unwrap().port();
        stream.write_all(b"x").await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !proxy.ports_awaiting_answer().contains(&port) {
            assert!(std::time::Instant::now() < deadline, "never seen awaiting");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut reply = [0u8; 8];
        let n = stream.read(&mut reply).await.unwrap();
        assert_eq!(&reply[..n], b"ok:x");
        assert!(!proxy.ports_awaiting_answer().contains(&port));
    }

    #[tokio::test]
    async fn delays_hold_traffic_back() {
        let (upstream, _) = echo_upstream().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        proxy.set(Faults {
            max_delay: Duration::from_millis(200),
            ..Faults::default()
        });
        let started = std::time::Instant::now();
        for _ in 0..5 {
            assert_eq!(exchange(&proxy.endpoint, b"x").await.unwrap(), b"ok:x");
        }
        assert_eq!(proxy.injected().delays, 10);
        assert!(started.elapsed() > Duration::from_millis(100));
    }
}
