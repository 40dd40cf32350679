//! The open-source DynamoDB-API engines, installed by `make tools` into
//! `.tools/`: started on a port, stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The engines the project runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// moto in server mode (Python, in memory), through `infra/moto_server.py`,
    /// which makes each request atomic. Returns the old item on a failed condition.
    Moto,
    /// dynalite (Node, LevelDB; in memory or on disk). Strict request
    /// validation; ignores `ReturnValuesOnConditionCheckFailure`.
    Dynalite,
}

impl EngineKind {
    /// Whether a failed condition returns the old item (`ALL_OLD`).
    pub fn returns_old_item_on_failed_condition(self) -> bool {
        matches!(self, Self::Moto)
    }
}

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine's program is missing or could not run.
    #[error("cannot start {kind:?} ({source}); run `make tools` first")]
    Spawn {
        /// The engine.
        kind: EngineKind,
        /// The cause.
        source: std::io::Error,
    },
    /// The engine did not accept connections in time.
    #[error("{0:?} did not listen within 60 s")]
    NotListening(EngineKind),
    /// Persistence was asked of an engine that has none.
    #[error("moto keeps data in memory only; use dynalite to persist")]
    CannotPersist,
}

/// The repository root (this crate lives in `infra/local-stack`).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The folder where `make tools` installs the pinned tools.
pub fn tools_dir() -> PathBuf {
    repo_root().join(".tools")
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A running engine process; killed when dropped.
pub struct Engine {
    /// Which engine this is.
    pub kind: EngineKind,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The port on 127.0.0.1 it listens on.
    pub port: u16,
    child: Child,
}

impl Engine {
    /// Starts `kind` on `port` (0: a free one), keeping its data in `data_dir`
    /// if given (dynalite only), and waits until it accepts connections.
    pub fn start(
        kind: EngineKind,
        port: u16,
        data_dir: Option<&Path>,
    ) -> Result<Self, EngineError> {
        let port = if port == 0 {
            free_port().map_err(|source| EngineError::Spawn { kind, source })?
        } else {
            port
        };
        let tools = tools_dir();
        let mut command = match kind {
            EngineKind::Moto => {
                if data_dir.is_some() {
                    return Err(EngineError::CannotPersist);
                }
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
                    .args([
                        "--host",
                        "127.0.0.1",
                        "--port",
                        &port.to_string(),
                        "--createTableMs",
                        "0",
                    ]);
                if let Some(dir) = data_dir {
                    c.arg("--path").arg(dir);
                }
                c
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| EngineError::Spawn { kind, source })?;
        let engine = Self {
            kind,
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            child,
        };
        if !wait_for_port(port, Duration::from_secs(60)) {
            return Err(EngineError::NotListening(kind));
        }
        Ok(engine)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
