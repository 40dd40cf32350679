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
    /// The engine exited before it listened (on a port chosen for it: five
    /// times, each port taken by another process meanwhile).
    #[error("{0:?} exited before it listened on port {1}")]
    Exited(EngineKind, u16),
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
    while !accepts_connections(port) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Whether a listener answers on `127.0.0.1:port`. A connection to itself
/// does not count: Linux may pick `port` as the probe's own source port when
/// nothing listens there yet (TCP simultaneous open), which looks like success.
pub fn accepts_connections(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port))
        .is_ok_and(|stream| stream.local_addr().ok() != stream.peer_addr().ok())
}

/// Whether process `pid` or one of its descendants (a launcher may run the
/// engine as its child) holds the socket listening on `127.0.0.1:port`, read
/// from Linux's `/proc`; `None` where `/proc` does not say.
fn holds_listener(pid: u32, port: u16) -> Option<bool> {
    const LISTEN: &str = "0A";
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!("0100007F:{port:04X}");
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&LISTEN))
            .then(|| fields.get(9).map(|inode| format!("socket:[{inode}]")))
            .flatten()
    });
    let Some(inode) = inode else {
        return Some(false);
    };
    let holds = |pid: u32| {
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten();
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == inode.as_str())
        })
    };
    Some(holds(pid) || descendants(pid).into_iter().any(holds))
}

/// The processes below `pid`, from `/proc/PID/task/TID/children`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        let tasks = std::fs::read_dir(format!("/proc/{parent}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                next.push(child);
            }
        }
    }
    found
}

/// How waiting for a child's listener ended.
enum Readiness {
    Listening,
    Exited,
    TimedOut,
}

/// Waits until `child` itself listens on `port` (not another process that
/// took the port between [`free_port`] and the child's bind), or exits.
fn wait_for_child_listener(child: &mut Child, port: u16, timeout: Duration) -> Readiness {
    let deadline = Instant::now() + timeout;
    loop {
        if !matches!(child.try_wait(), Ok(None)) {
            return Readiness::Exited;
        }
        let listening =
            holds_listener(child.id(), port).unwrap_or_else(|| accepts_connections(port));
        if listening {
            return Readiness::Listening;
        }
        if Instant::now() >= deadline {
            return Readiness::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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
        if kind == EngineKind::Moto && data_dir.is_some() {
            return Err(EngineError::CannotPersist);
        }
        let spawn_error = |source| EngineError::Spawn { kind, source };
        let attempts = if port == 0 { 5 } else { 1 };
        let mut last_port = port;
        for _ in 0..attempts {
            let port = match port {
                0 => free_port().map_err(spawn_error)?,
                port => port,
            };
            last_port = port;
            let mut child = command(kind, port, data_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(spawn_error)?;
            let readiness = wait_for_child_listener(&mut child, port, Duration::from_secs(60));
            let engine = Self {
                kind,
                endpoint: format!("http://127.0.0.1:{port}"),
                port,
                child,
            };
            match readiness {
                Readiness::Listening => return Ok(engine),
                Readiness::TimedOut => return Err(EngineError::NotListening(kind)),
                Readiness::Exited if attempts == 1 => return Err(EngineError::Exited(kind, port)),
                Readiness::Exited => continue,
            }
        }
        Err(EngineError::Exited(kind, last_port))
    }
}

/// The command line that runs `kind` on `port` (dynalite: on disk in
/// `data_dir` if given).
fn command(kind: EngineKind, port: u16, data_dir: Option<&Path>) -> Command {
    let tools = tools_dir();
    let port = port.to_string();
    match kind {
        EngineKind::Moto => {
            let mut c = Command::new(tools.join("venv/bin/python"));
            c.arg(repo_root().join("infra/moto_server.py")).args([
                "--host",
                "127.0.0.1",
                "--port",
                &port,
            ]);
            c
        }
        EngineKind::Dynalite => {
            let mut c = Command::new("node");
            c.arg(tools.join("node/node_modules/dynalite/cli.js"))
                .args(["--host", "127.0.0.1", "--port", &port])
                .args(["--createTableMs", "0"]);
            if let Some(dir) = data_dir {
                c.arg("--path").arg(dir);
            }
            c
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_is_known_by_the_process_that_holds_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut other = Command::new("sleep").arg("30").spawn().unwrap();
        let mine = holds_listener(std::process::id(), port);
        let theirs = holds_listener(other.id(), port);
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(mine, Some(true));
        assert_eq!(
            theirs,
            Some(false),
            "another process on the port is not ours"
        );
        assert!(accepts_connections(port));
        drop(listener);
        assert_eq!(holds_listener(std::process::id(), port), Some(false));
    }

    #[test]
    fn an_engine_that_cannot_bind_its_port_is_not_taken_for_ready() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let started = Engine::start(EngineKind::Dynalite, port, None);
        assert!(
            matches!(started, Err(EngineError::Exited(EngineKind::Dynalite, p)) if p == port),
            "the port's other listener must not pass for the engine"
        );
    }
}
