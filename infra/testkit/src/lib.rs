//! Test support for the lock service: starts a DynamoDB-API engine (moto or
//! dynalite, installed by `make tools` into `.tools/`) on a free port, creates
//! the service's tables in it, and stops it on drop. Clients made here count
//! every HTTP attempt they send, so tests can assert calls per operation.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_dynamodb::Client;
use shared::schema::{create_table, API_KEYS_KEYS, LOCKS_KEYS};

/// Name of the lock table in test engines.
pub const LOCKS_TABLE: &str = "Locks";
/// Name of the API-key table in test engines.
pub const API_KEYS_TABLE: &str = "ApiKeys";

/// The open-source DynamoDB-API engines the project tests against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// moto in server mode (Python), through `infra/moto_server.py`, which
    /// makes each request atomic. Returns the old item on a failed condition.
    Moto,
    /// dynalite (Node, LevelDB): ignores `ReturnValuesOnConditionCheckFailure`.
    Dynalite,
}

impl EngineKind {
    /// Whether a failed condition returns the old item (`ALL_OLD`).
    pub fn returns_old_item_on_failed_condition(self) -> bool {
        matches!(self, Self::Moto)
    }
}

/// The repository root (this crate lives in `infra/testkit`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free port on 127.0.0.1")
}

/// A running engine process; killed when dropped.
pub struct Engine {
    /// Which engine this is.
    pub kind: EngineKind,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    child: Child,
}

impl Engine {
    /// Starts `kind` on a free port and waits until it accepts connections.
    /// Panics with the fix (`make tools`) if the engine is not installed.
    pub fn start(kind: EngineKind) -> Self {
        let tools = repo_root().join(".tools");
        let port = free_port();
        let mut command = match kind {
            EngineKind::Moto => {
                let mut c = Command::new(tools.join("venv/bin/python"));
                c.arg(repo_root().join("infra/moto_server.py")).args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                ]);
                c
            }
            EngineKind::Dynalite => {
                let mut c = Command::new("node");
                c.arg(tools.join("node/node_modules/dynalite/cli.js"))
                    .args(["--port", &port.to_string(), "--createTableMs", "0"]);
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?} ({e}); run `make tools` first"));
        let engine = Self {
            kind,
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{kind:?} did not listen on {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        engine
    }

    /// A client for this engine that counts its calls in `calls`.
    pub fn client(&self, calls: &CallCounter) -> Client {
        client_for(&self.endpoint, calls)
    }

    /// Starts `kind`, creates both tables, and returns the engine with a client.
    pub async fn with_tables(kind: EngineKind) -> (Self, Client, CallCounter) {
        let engine = Self::start(kind);
        let calls = CallCounter::default();
        let client = engine.client(&calls);
        create_table(&client, LOCKS_TABLE, LOCKS_KEYS)
            .await
            .expect("create lock table");
        create_table(&client, API_KEYS_TABLE, API_KEYS_KEYS)
            .await
            .expect("create key table");
        calls.reset();
        (engine, client, calls)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A DynamoDB client for `endpoint` with static test credentials.
pub fn client_for(endpoint: &str, calls: &CallCounter) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "testkit"))
        .interceptor(calls.clone())
        .build();
    Client::from_conf(config)
}

/// Counts the HTTP requests (attempts, retries included) a client sends.
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<AtomicUsize>);

impl CallCounter {
    /// Requests sent since creation or the last [`CallCounter::reset`].
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Starts counting from zero again.
    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }

    /// Requests sent while `f` ran. Only meaningful when nothing else uses the client.
    pub async fn during<T>(&self, f: impl std::future::Future<Output = T>) -> (T, usize) {
        let before = self.get();
        let out = f.await;
        (out, self.get() - before)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
