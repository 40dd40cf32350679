//! A local emulation of the Lambda Runtime API, enough to drive a real
//! `bootstrap`: `GET /next` (long-polled), `POST /{id}/response`,
//! `POST /{id}/error` and `POST /init/error`, served by hyper. Every answer
//! is written in one piece on a `TCP_NODELAY` socket: otherwise Nagle's
//! algorithm and delayed ACKs add ~40 ms to each invocation and swamp what
//! is measured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
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
                let state = serving.clone();
                let service = service_fn(move |request| answer(state.clone(), request));
                tokio::spawn(
                    http1::Builder::new()
                        // Head and body in one write (see the module's doc).
                        .writev(false)
                        .serve_connection(TokioIo::new(stream), service),
                );
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

/// The Runtime API's answer to one request (the runtime keeps the
/// connection alive and sends them one after another).
async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    if method == Method::GET && path == NEXT {
        return Ok(next_invocation(&state).await);
    }
    if let Some(rest) = path.strip_prefix(INVOCATION) {
        finish_invocation(&state, rest, body);
    } else {
        // `/init/error` and anything else: accepted, and reported.
        eprintln!(
            "runtime api: {method} {path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(http(202, &[], br#"{"status":"OK"}"#.to_vec()))
}

/// Waits for a queued event and answers `GET /next` with it.
async fn next_invocation(state: &State) -> Response<Full<Bytes>> {
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
    let answer = http(200, &headers, queued.event);
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

/// A JSON answer with `status` and `headers`.
fn http(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut answer = Response::builder()
        .status(status)
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        answer = answer.header(*name, *value);
    }
    answer
        .body(Full::new(Bytes::from(body)))
        .expect("a valid answer")
}
