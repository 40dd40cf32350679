//! Stress harness: N clients loop acquire → critical section → unlock on one
//! lock through the whole local stack (gateway, real function binaries under
//! `cargo lambda watch`, dynalite kept on disk), with or without faults, and
//! the recorded history is checked:
//!
//! - no two clients ever hold the lock at once (intervals on one monotonic clock);
//! - fencing tokens strictly increase in grant order, and a fenced resource
//!   never sees a stale token;
//! - a counter guarded by the lock (read, pause, write) loses no update;
//! - the history is linearizable against a mutex model (Wing & Gong search
//!   with memoisation, `e2e::history`);
//! - every request gets a clear answer (a 200) within 60 s, retrying with the
//!   same `Idempotency-Key` or lease after an unclear one (a 5xx or a broken
//!   connection);
//! - afterwards the lock is free and shows the last grant's fencing token, so
//!   no acknowledged grant or release was lost.
//!
//! Faults (`--faults`), each injected while the clients run: the fault proxy
//! between the functions and dynalite drops answers after dynalite applied
//! the write (`drop`), delays traffic (`delay`) or resets connections before
//! a request reaches dynalite (`reset`); dynalite is killed and restarted on
//! its data (`restart`); function processes are killed mid-request (`kill`).
//!
//! `cargo test -p e2e --test stress` runs the short matrix inside `make test`
//! (2 and 8 clients × 10 grants, then 4 clients × 5 grants under each fault);
//! `make stress` runs the full one (`--clients 2,8,32,128 --cycles 10
//! --faults all --fault-clients 32 --fault-cycles 10`; `--faults none` or a
//! list such as `--faults drop,kill` choose the faults).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::fault_proxy::{FaultProxy, Faults, Injected};
use e2e::history::{is_linearizable, overlapping_holds, token_regressions, Hold, Op, Outcome};
use local_stack::engine::{Engine, EngineKind};
use local_stack::{EngineChoice, Stack, StackOptions};
use serde_json::{json, Value};

/// How long a client keeps retrying an unclear answer before it gives up.
const CLEAR_ANSWER_DEADLINE: Duration = Duration::from_secs(60);
/// The gateway's integration timeout in these runs: a function killed
/// mid-request never answers, and API Gateway's 29 s would only slow the run.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The protected resource: a counter updated without atomicity (only the
/// lock keeps it right) and a fence that refuses stale tokens.
#[derive(Default)]
struct Resource {
    counter: AtomicU64,
    highest_token: AtomicU64,
    stale_writes: AtomicU64,
}

impl Resource {
    async fn write(&self, token: u64) {
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
struct Record {
    ops: Vec<Op>,
    holds: Vec<Hold>,
    errors: Vec<String>,
    /// Answers that were not clear (a 5xx, a broken connection), each retried.
    unclear: u64,
    /// Of those, `504`s: the function never answered (killed mid-request).
    timeouts: u64,
    /// Longest time from a request's first sending to its clear answer.
    slowest: Duration,
    /// Unlocks of a held lease answered `unlocked: false`: with faults that
    /// lose answers, an earlier attempt of the same unlock had released it.
    unlocks_answered_false: u64,
}

struct Run {
    base: String,
    http: reqwest::Client,
    key: String,
    lock: String,
    fault: Fault,
    epoch: Instant,
    resource: Resource,
    record: Mutex<Record>,
}

impl Run {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn note(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap());
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
        let mut backoff = Duration::from_millis(50);
        loop {
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
            let jitter = backoff.mul_f64(random_fraction());
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    async fn acquire(&self, id: usize) -> Result<Value, String> {
        let body = json!({
            "lockName": self.lock,
            "requester": format!("client-{id}"),
            "ttlSeconds": 120,
        });
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

    async fn client(self: Arc<Self>, id: usize, clients: usize, cycles: usize) {
        let mut done = 0;
        let mut backoff = 5u64;
        // Refused clients back off further the more of them there are, so the
        // offered load stays within what one small machine serves.
        let max_backoff = (20 * clients as u64).max(200);
        while done < cycles {
            let call = self.now();
            let answer = match self.acquire(id).await {
                Ok(answer) => answer,
                Err(err) => return self.note(|r| r.errors.push(err)),
            };
            let ret = self.now();
            if answer["locked"] != true {
                let op = Op {
                    client: id,
                    call,
                    ret,
                    outcome: Outcome::Refused,
                };
                self.note(|r| r.ops.push(op));
                let jitter = (random_fraction() * backoff as f64) as u64;
                tokio::time::sleep(Duration::from_millis(backoff + jitter)).await;
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
            backoff = 5;
            let token = answer["fencingToken"].as_u64().unwrap_or_default();
            let lease = answer["leaseId"].as_str().unwrap_or_default().to_owned();
            let op = Op {
                client: id,
                call,
                ret,
                outcome: Outcome::Granted(token),
            };
            self.note(|r| r.ops.push(op));
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
                Err(err) => return self.note(|r| r.errors.push(err)),
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
            let op = Op {
                client: id,
                call: end,
                ret: self.now(),
                outcome: if released {
                    Outcome::Released
                } else {
                    Outcome::NotReleased
                },
            };
            self.note(|r| r.ops.push(op));
            done += 1;
        }
    }

    /// Violations in the lock's state after every client is done: it must be
    /// free (no acknowledged release lost) and show the last grant's token
    /// (no acknowledged grant lost, no grant nobody was told of).
    async fn check_final_state(&self, last_token: u64) -> Vec<String> {
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

/// A number in [0, 1): the top 48 bits of a v4 UUID, all random.
fn random_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 80) as f64 / (1u64 << 48) as f64
}

/// What is done to the stack while the clients run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// The proxy drops one answer in ten after dynalite applied the request.
    Drop,
    /// The proxy holds back every chunk of traffic for up to 100 ms.
    Delay,
    /// The proxy resets one connection in ten before the request reaches dynalite.
    Reset,
    /// dynalite is killed and restarted on its data, every 1.5 s.
    Restart,
    /// A function instance (acquire or unlock, in turn) is killed every
    /// second while its DynamoDB call is in flight (the proxy delays traffic
    /// by up to 200 ms, so there is one to catch).
    Kill,
}

impl Fault {
    /// Whether an answer can be lost after its write landed, so that a retry
    /// (the SDK's, or the client's) meets its own earlier write.
    fn loses_answers(self) -> bool {
        matches!(self, Self::Drop | Self::Restart | Self::Kill)
    }

    const ALL: [Fault; 5] = [
        Self::Drop,
        Self::Delay,
        Self::Reset,
        Self::Restart,
        Self::Kill,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::None => "clients",
            Self::Drop => "drop",
            Self::Delay => "delay",
            Self::Reset => "reset",
            Self::Restart => "restart",
            Self::Kill => "kill",
        }
    }

    fn proxy_faults(self) -> Faults {
        let none = Faults::default();
        match self {
            Self::Drop => Faults {
                drop_answer: 0.1,
                ..none
            },
            Self::Delay => Faults {
                max_delay: Duration::from_millis(100),
                ..none
            },
            Self::Reset => Faults {
                reset_request: 0.1,
                ..none
            },
            Self::Kill => Faults {
                max_delay: Duration::from_millis(200),
                ..none
            },
            Self::None | Self::Restart => none,
        }
    }
}

/// The engine the functions reach through the fault proxy, kept on disk so
/// that a restart loses nothing it acknowledged.
struct Backend {
    engine: Arc<Mutex<Option<Engine>>>,
    port: u16,
    data_dir: std::path::PathBuf,
    proxy: FaultProxy,
}

impl Backend {
    async fn start() -> Self {
        let data_dir =
            local_stack::engine::repo_root().join(format!("target/stress/{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir).expect("a data folder for dynalite");
        let engine = Engine::start(EngineKind::Dynalite, 0, Some(&data_dir))
            .unwrap_or_else(|e| panic!("dynalite did not start: {e}"));
        let port = engine.port;
        let proxy = FaultProxy::start(([127, 0, 0, 1], port).into())
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
async fn inflict(fault: Fault, stack: &Stack, backend: &Backend, done: &AtomicBool) -> u64 {
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
fn injected_report(fault: Fault, proxy: Injected, inflicted: u64) -> Option<String> {
    let (count, what) = match fault {
        Fault::None => return Some(String::new()),
        Fault::Drop => (
            proxy.dropped_answers,
            "answers dropped after dynalite applied the write".to_owned(),
        ),
        Fault::Delay => (proxy.delays, "chunks delayed".to_owned()),
        Fault::Reset => (proxy.resets, "connections reset".to_owned()),
        Fault::Restart => (
            inflicted,
            format!(
                "dynalite restarts ({} connections found it down)",
                proxy.engine_down
            ),
        ),
        Fault::Kill => (
            inflicted,
            "function instances killed mid-request".to_owned(),
        ),
    };
    (count > 0).then(|| format!("; {count} {what}"))
}

/// One run of `clients` clients doing `cycles` grants each under `fault`;
/// its summary, or the violations found.
async fn run(
    stack: &Stack,
    backend: &Backend,
    fault: Fault,
    clients: usize,
    cycles: usize,
) -> Result<String, Vec<String>> {
    let base = &stack.base_url;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let key = stack.new_api_key().await.map_err(|e| vec![e])?;
    // One request first, so the gateway caches the key's authorizer decision
    // instead of 128 first requests each starting an authorizer instance.
    http.get(format!("{base}/v0/locks"))
        .bearer_auth(&key)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| vec![e.to_string()])?;
    let run = Arc::new(Run {
        base: base.clone(),
        http,
        key,
        lock: format!("stress-{}-{clients}", fault.name()),
        fault,
        epoch: Instant::now(),
        resource: Resource::default(),
        record: Mutex::new(Record::default()),
    });

    let injected_before = backend.proxy.injected();
    backend.proxy.set(fault.proxy_faults());
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let clients_done = async {
        let tasks: Vec<_> = (0..clients)
            .map(|id| tokio::spawn(run.clone().client(id, clients, cycles)))
            .collect();
        let mut panics = Vec::new();
        for task in tasks {
            if let Err(e) = task.await {
                panics.push(format!("client panicked: {e}"));
            }
        }
        done.store(true, Ordering::SeqCst);
        panics
    };
    let (panics, inflicted) = tokio::join!(clients_done, inflict(fault, stack, backend, &done));
    let elapsed = started.elapsed();
    backend.proxy.set(Faults::default());
    let injected = backend.proxy.injected();

    let record = std::mem::take(&mut *run.record.lock().unwrap());
    let grants = record.holds.len() as u64;
    let refusals = record
        .ops
        .iter()
        .filter(|op| op.outcome == Outcome::Refused)
        .count();
    let mut violations = panics;
    violations.extend(record.errors.iter().cloned());
    for (a, b) in overlapping_holds(&record.holds) {
        violations.push(format!("double grant: {a:?} overlaps {b:?}"));
    }
    for (a, b) in token_regressions(&record.holds) {
        violations.push(format!("fencing token did not increase: {a:?} then {b:?}"));
    }
    let counter = run.resource.counter.load(Ordering::SeqCst);
    if counter != grants {
        violations.push(format!(
            "guarded counter is {counter} after {grants} grants: updates were lost"
        ));
    }
    let stale = run.resource.stale_writes.load(Ordering::SeqCst);
    if stale > 0 {
        violations.push(format!(
            "{stale} writes reached the resource with a stale fencing token"
        ));
    }
    let check_started = Instant::now();
    if !is_linearizable(&record.ops) {
        violations.push("the history is not linearizable against a mutex".into());
    }
    let check_time = check_started.elapsed();
    if grants != (clients * cycles) as u64 && record.errors.is_empty() {
        violations.push(format!("{grants} grants, expected {}", clients * cycles));
    }
    let last_token = record.holds.iter().map(|h| h.token).max().unwrap_or(0);
    violations.extend(run.check_final_state(last_token).await);

    let injected = injected_report(fault, injected.since(injected_before), inflicted);
    if injected.is_none() {
        violations.push(format!("the {} fault was never injected", fault.name()));
    }
    let faults = injected.unwrap_or_default();
    let summary = format!(
        "{clients} clients: {grants} grants, {refusals} refusals, {} operations in {:.1} s{faults}; \
         {} unclear answers retried ({} of them 504), {} unlocks answered false, \
         slowest clear answer {:.1} s; linearizability checked in {:.2} s",
        record.ops.len(),
        elapsed.as_secs_f64(),
        record.unclear,
        record.timeouts,
        record.unlocks_answered_false,
        record.slowest.as_secs_f64(),
        check_time.as_secs_f64()
    );
    if violations.is_empty() {
        Ok(summary)
    } else {
        violations.insert(0, summary);
        Err(violations)
    }
}

/// Starts `instances` instances of acquire and unlock in `cargo lambda watch`
/// (each start is a `cargo run`, seconds on a small machine), so the runs
/// measure the lock, not the emulator's cold starts. Bad requests suffice:
/// they reach the functions and change nothing.
async fn warm_up(stack: &Stack, instances: usize) {
    let base = &stack.base_url;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    // The first sign-up also starts create-user's first instance (a `cargo
    // run`), which on a busy machine can outlast the short integration
    // timeout of these runs: that is the emulator warming up, not a result.
    let mut key = stack.new_api_key().await;
    for _ in 0..3 {
        if key.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        key = stack.new_api_key().await;
    }
    let key = key.expect("a user for the warm-up");
    let tasks: Vec<_> = (0..instances)
        .flat_map(|_| ["/v0/lock", "/v0/unlock"])
        .map(|path| {
            let request = http
                .post(format!("{base}{path}"))
                .bearer_auth(&key)
                .body("{}")
                .send();
            tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut warm = 0;
    for task in &mut tasks.into_iter() {
        if matches!(task.await, Ok(Ok(400))) {
            warm += 1;
        }
    }
    println!(
        "warmed up: {warm} of {} requests answered 400",
        instances * 2
    );
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn numbers(list: &str) -> Vec<usize> {
    list.split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn main() -> std::process::ExitCode {
    let clients = numbers(&arg("--clients").unwrap_or_else(|| "2,8".into()));
    let cycles: usize = arg("--cycles").and_then(|n| n.parse().ok()).unwrap_or(10);
    let faults: Vec<Fault> = match arg("--faults").as_deref() {
        Some("none") => Vec::new(),
        None | Some("all") => Fault::ALL.to_vec(),
        Some(list) => list
            .split(',')
            .map(|name| {
                *Fault::ALL
                    .iter()
                    .find(|f| f.name() == name.trim())
                    .unwrap_or_else(|| panic!("unknown fault {name:?}"))
            })
            .collect(),
    };
    let fault_clients: usize = arg("--fault-clients")
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    let fault_cycles: usize = arg("--fault-cycles")
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let mut scenarios: Vec<(Fault, usize, usize)> =
        clients.iter().map(|&n| (Fault::None, n, cycles)).collect();
    scenarios.extend(faults.iter().map(|&f| (f, fault_clients, fault_cycles)));

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let started = Instant::now();
    let (passed, failed) = runtime.block_on(async {
        println!("\nstarting dynalite, the fault proxy and the local stack for the stress runs...");
        let backend = Backend::start().await;
        let concurrency = 16;
        let options = StackOptions {
            engine: EngineChoice::Endpoint(backend.proxy.endpoint.clone()),
            concurrency,
            integration_timeout: INTEGRATION_TIMEOUT,
            ..StackOptions::default()
        };
        let stack = Stack::start(options)
            .await
            .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
        let busiest = scenarios.iter().map(|s| s.1).max().unwrap_or(0);
        warm_up(&stack, busiest.min(concurrency as usize)).await;
        println!("running {} tests", scenarios.len());
        let (mut passed, mut failed) = (0, 0);
        for &(fault, n, cycles) in &scenarios {
            let name = format!("stress::{}_{n}", fault.name());
            match run(&stack, &backend, fault, n, cycles).await {
                Ok(summary) => {
                    println!("test {name} ... ok ({summary})");
                    passed += 1;
                }
                Err(violations) => {
                    println!("test {name} ... FAILED");
                    for violation in violations {
                        println!("    {violation}");
                    }
                    failed += 1;
                }
            }
        }
        (passed, failed)
    });
    local_stack::harness::finish(passed, failed, 0, started)
}
