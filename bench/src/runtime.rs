//! A local emulation of the Lambda Runtime API, enough to drive a real
//! `bootstrap`: `GET /next` (long-polled), `POST /{id}/response`,
//! `POST /{id}/error` and `POST /init/error`. Every answer is written in
//! one piece on a `TCP_NODELAY` socket: otherwise Nagle's algorithm and
//! delayed ACKs add ~40 ms to each invocation and swamp what is measured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";

/// What one invocation came back with.
#[derive(Debug)]
pub struct Invocation {
    /// `false` if the function reported an error.
    pub ok: bool,
    /// The response (or error) body.
    pub body: Vec<u8>,
    /// From the moment the event was written to the function until its
    /// response arrived: the handler's time, runtime client included.
    pub took: Duration,
}

struct Queued {
    id: String,
    event: Vec<u8>,
    done: oneshot::Sender<Invocation>,
}

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Invocation>)>>,
    first_next: Mutex<Option<Instant>>,
    polled: Notify,
}

/// A running Runtime API for one function process.
#[derive(Clone)]
pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    state: Arc<State>,
}

impl RuntimeApi {
    /// Listens on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let address = listener.local_addr().expect("an address").to_string();
        let state = Arc::new(State::default());
        let serving = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, serving.clone()));
            }
        });
        Self { address, state }
    }

    /// When the function first asked for an invocation (its init is over).
    pub async fn first_next(&self) -> Instant {
        loop {
            let polled = self.state.polled.notified();
            if let Some(at) = *self.state.first_next.lock().expect("not poisoned") {
                return at;
            }
            polled.await;
        }
    }

    /// Sends `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: &[u8]) -> Invocation {
        let (done, answer) = oneshot::channel();
        let queued = Queued {
            id: uuid::Uuid::new_v4().to_string(),
            event: event.to_vec(),
            done,
        };
        self.state
            .queue
            .lock()
            .expect("not poisoned")
            .push_back(queued);
        self.state.queued.notify_one();
        answer.await.expect("the function answers")
    }
}

/// One connection: requests one after another (the runtime keeps it alive).
async fn serve(mut stream: TcpStream, state: Arc<State>) {
    let mut buffer = Vec::new();
    loop {
        let Some((head, body)) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let mut parts = head.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let answer = if method == "GET" && path == NEXT {
            next_invocation(&state).await
        } else if let Some(rest) = path.strip_prefix(INVOCATION) {
            finish_invocation(&state, rest, body);
            http(202, &[], br#"{"status":"OK"}"#)
        } else {
            // `/init/error` and anything else: accepted, and reported.
            eprintln!(
                "runtime api: {method} {path}: {}",
                String::from_utf8_lossy(&body)
            );
            http(202, &[], br#"{"status":"OK"}"#)
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// Waits for a queued event and answers `GET /next` with it.
async fn next_invocation(state: &State) -> Vec<u8> {
    {
        let mut first = state.first_next.lock().expect("not poisoned");
        if first.is_none() {
            *first = Some(Instant::now());
            state.polled.notify_waiters();
        }
    }
    let queued = loop {
        let notified = state.queued.notified();
        if let Some(queued) = state.queue.lock().expect("not poisoned").pop_front() {
            break queued;
        }
        notified.await;
    };
    let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
    let deadline_ms = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        .to_string();
    let headers = [
        ("Lambda-Runtime-Aws-Request-Id", queued.id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.as_str()),
        (
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
        ),
        (
            "Lambda-Runtime-Trace-Id",
            "Root=1-00000000-000000000000000000000000;Sampled=0",
        ),
    ];
    let answer = http(200, &headers, &queued.event);
    state
        .in_flight
        .lock()
        .expect("not poisoned")
        .insert(queued.id, (Instant::now(), queued.done));
    answer
}

/// `{id}/response` or `{id}/error`: completes that invocation.
fn finish_invocation(state: &State, rest: &str, body: Vec<u8>) {
    let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
    let Some((sent, done)) = state.in_flight.lock().expect("not poisoned").remove(id) else {
        return;
    };
    let _ = done.send(Invocation {
        ok: kind == "response",
        body,
        took: sent.elapsed(),
    });
}

/// An HTTP/1.1 answer, whole.
fn http(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let reason = if status == 200 { "OK" } else { "Accepted" };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body);
    answer
}

/// Reads one request: its head (request line and headers) and its body
/// (`Content-Length`; the runtime client does not chunk). `None` at EOF.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buffer.len() < body_start + length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[body_start..body_start + length].to_vec();
    buffer.drain(..body_start + length);
    Some((head, body))
}
