//! The faults of the stress runs, and how they are inflicted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use local_stack::engine::{Engine, EngineKind};
use local_stack::Stack;
use testkit::proxy::{Faults, Injected, Proxy};

/// What is done to the stack while the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The proxy drops one answer in ten after dynalite applied the request.
    Drop,
    /// The proxy holds back every chunk of traffic for up to 100 ms.
    Delay,
    /// The proxy resets one connection in ten before the request reaches dynalite.
    Reset,
    /// dynalite is killed and restarted on its data, every 1.5 s.
    Restart,
    /// The proxy refuses one write in ten with DynamoDB's
    /// `ReplicatedWriteConflictException` (as a multi-Region table does),
    /// applying nothing.
    Conflict,
    /// A function instance (acquire or unlock, in turn) is killed every
    /// second while its DynamoDB call is in flight (the proxy delays traffic
    /// by up to 200 ms, so there is one to catch).
    Kill,
}

impl Fault {
    /// Whether an answer can be lost after its write landed, so that a retry
    /// (the SDK's, or the client's) meets its own earlier write.
    pub fn loses_answers(self) -> bool {
        matches!(self, Self::Drop | Self::Restart | Self::Kill)
    }

    /// Whether the fault strikes on a clock rather than at random chunks
    /// of traffic.
    pub fn is_timed(self) -> bool {
        matches!(self, Self::Restart | Self::Kill)
    }

    pub const ALL: [Fault; 6] = [
        Self::Drop,
        Self::Delay,
        Self::Reset,
        Self::Conflict,
        Self::Restart,
        Self::Kill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::None => "clients",
            Self::Drop => "drop",
            Self::Delay => "delay",
            Self::Reset => "reset",
            Self::Conflict => "conflict",
            Self::Restart => "restart",
            Self::Kill => "kill",
        }
    }

    /// The faults a `--faults` option names: `all`, `none`, or a list
    /// such as `drop,kill`.
    pub fn parse_list(list: &str) -> Vec<Fault> {
        match list {
            "none" => Vec::new(),
            "all" => Fault::ALL.to_vec(),
            list => list
                .split(',')
                .map(|name| {
                    *Fault::ALL
                        .iter()
                        .find(|f| f.name() == name.trim())
                        .unwrap_or_else(|| panic!("unknown fault {name:?}"))
                })
                .collect(),
        }
    }

    pub fn proxy_faults(self) -> Faults {
        match self {
            Self::Drop => Faults::drops(0.1),
            Self::Delay => Faults::delays(Duration::from_millis(100)),
            Self::Reset => Faults::resets(0.1),
            Self::Conflict => Faults::conflicts(0.1),
            Self::Kill => Faults::delays(Duration::from_millis(200)),
            Self::None | Self::Restart => Faults::default(),
        }
    }
}

/// The engine the functions reach through the fault proxy, kept on disk so
/// that a restart loses nothing it acknowledged.
pub struct Backend {
    pub engine: Arc<Mutex<Option<Engine>>>,
    pub port: u16,
    pub data_dir: std::path::PathBuf,
    pub proxy: Proxy,
}

impl Backend {
    pub async fn start() -> Self {
        let data_dir =
            local_stack::engine::repo_root().join(format!("target/stress/{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("a data folder for dynalite");
        let engine = Engine::start(EngineKind::Dynalite, 0, Some(&data_dir))
            .unwrap_or_else(|e| panic!("dynalite did not start: {e}"));
        let port = engine.port;
        let proxy = Proxy::start(&format!("127.0.0.1:{port}"))
            .await
            .expect("the fault proxy");
        Self {
            engine: Arc::new(Mutex::new(Some(engine))),
            port,
            data_dir,
            proxy,
        }
    }

    /// Kills dynalite and starts it again on the same port and data.
    async fn restart_engine(&self) {
        let (engine, port, dir) = (self.engine.clone(), self.port, self.data_dir.clone());
        tokio::task::spawn_blocking(move || {
            let mut slot = engine.lock().unwrap();
            drop(slot.take());
            std::thread::sleep(Duration::from_millis(300));
            let restarted = Engine::start(EngineKind::Dynalite, port, Some(&dir))
                .unwrap_or_else(|e| panic!("dynalite did not restart: {e}"));
            *slot = Some(restarted);
        })
        .await
        .expect("the restart task");
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        drop(self.engine.lock().unwrap().take());
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Does `fault`'s engine restarts or process kills until `done` is set; how many.
pub async fn inflict(
    fault: Fault,
    stack: &Stack,
    backend: &Backend,
    done: &AtomicBool,
    struck: &AtomicBool,
) -> u64 {
    const MAX_KILLS: u64 = 6;
    let mut count = 0;
    let pause = match fault {
        Fault::Restart => Duration::from_millis(1500),
        Fault::Kill => Duration::from_secs(1),
        _ => return 0,
    };
    loop {
        // The first one soon, so that even a short run gets it.
        let until = Instant::now() + if count == 0 { pause / 4 } else { pause };
        while Instant::now() < until {
            if done.load(Ordering::SeqCst) {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if fault == Fault::Restart {
            backend.restart_engine().await;
            count += 1;
            struck.store(true, Ordering::SeqCst);
        } else if count < MAX_KILLS {
            let function = ["acquire", "unlock"][count as usize % 2];
            let pids = stack.function_pids(function);
            // Keep one instance: cargo lambda watch does not replace the last one.
            if pids.len() < 2 {
                continue;
            }
            // Wait for an instance to be mid-request: its DynamoDB call sent
            // through the proxy, the answer not back yet.
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && !done.load(Ordering::SeqCst) {
                let victim = backend
                    .proxy
                    .ports_awaiting_answer()
                    .into_iter()
                    .find_map(|port| owner_of_port(&pids, port));
                if let Some(victim) = victim {
                    let killed = std::process::Command::new("kill")
                        .args(["-9", &victim.to_string()])
                        .status();
                    if killed.is_ok_and(|s| s.success()) {
                        count += 1;
                        struck.store(true, Ordering::SeqCst);
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// The process among `pids` with a TCP connection from local `port` (Linux:
/// the socket's inode from `/proc/net/tcp`, found among each process's fds).
fn owner_of_port(pids: &[u32], port: u16) -> Option<u32> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
        (local_port == port).then(|| fields.get(9).map(|inode| inode.to_string()))?
    })?;
    let socket = format!("socket:[{inode}]");
    pids.iter().copied().find(|pid| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == socket.as_str())
        })
    })
}

/// What `fault` did in a run (`""` for no fault), or `None` if it never fired.
pub fn injected_report(fault: Fault, proxy: Injected, inflicted: u64) -> Option<String> {
    let (count, what) = match fault {
        Fault::None => return Some(String::new()),
        Fault::Drop => (
            proxy.dropped_answers,
            "answers dropped after dynalite applied the write".to_owned(),
        ),
        Fault::Delay => (proxy.delays, "chunks delayed".to_owned()),
        Fault::Reset => (proxy.resets, "connections reset".to_owned()),
        Fault::Conflict => (
            proxy.conflicts,
            "writes refused as replicated write conflicts".to_owned(),
        ),
        Fault::Restart => (
            inflicted,
            format!(
                "dynalite restarts ({} connections found it down)",
                proxy.upstream_down
            ),
        ),
        Fault::Kill => (
            inflicted,
            "function instances killed mid-request".to_owned(),
        ),
    };
    (count > 0).then(|| format!("; {count} {what}"))
}
