//! The soak's fault phases, its status line and its summary.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use local_stack::Stack;
use testkit::proxy::{Faults, Injected};

use super::faults::{inflict, Backend, Fault};
use super::workload::{Counters, Soak};
use e2e::soak::entry::{Entry, Kind};

/// Each round's phases and their shares of its operations (%): the faults
/// that slow the stack most get the least.
const ROUND: [(Fault, u64); 7] = [
    (Fault::None, 30),
    (Fault::Drop, 10),
    (Fault::Delay, 10),
    (Fault::Reset, 15),
    (Fault::Conflict, 15),
    (Fault::Restart, 10),
    (Fault::Kill, 10),
];
/// Operations per round: a long run goes through every fault many times.
const ROUND_OPS: u64 = 100_000;

/// The phases of a run: each fault until its operation count is reached.
pub struct Plan {
    phases: Vec<(Fault, u64)>,
}

impl Plan {
    /// `ops` operations in rounds of the phases of `faults` (and one
    /// without faults), each its share of the round.
    pub fn new(ops: u64, faults: &[Fault]) -> Self {
        let round: Vec<(Fault, u64)> = ROUND
            .into_iter()
            .filter(|(f, _)| *f == Fault::None || faults.contains(f))
            .collect();
        let shares: u64 = round.iter().map(|(_, share)| share).sum();
        let rounds = ops.div_ceil(ROUND_OPS).max(1);
        let mut phases = Vec::new();
        for round_number in 0..rounds {
            let round_ops = ops * (round_number + 1) / rounds - ops * round_number / rounds;
            let mut end = ops * round_number / rounds;
            for &(fault, share) in &round {
                end += round_ops * share / shares;
                phases.push((fault, end));
            }
            phases.last_mut().unwrap().1 = ops * (round_number + 1) / rounds;
        }
        Self { phases }
    }
}

/// What the faults did over the run.
#[derive(Default)]
pub struct Report {
    pub injected: Injected,
    /// Engine restarts and function kills.
    pub inflicted: BTreeMap<&'static str, u64>,
    fired: BTreeMap<&'static str, bool>,
    /// Operations and seconds under each fault.
    pub pace: BTreeMap<&'static str, (u64, f64)>,
    /// Restarts of `cargo lambda watch` after kill phases.
    pub instance_renewals: u64,
}

impl Report {
    /// Faults that had a phase but never struck.
    pub fn unfired(&self) -> Vec<&'static str> {
        self.fired
            .iter()
            .filter(|(_, &f)| !f)
            .map(|(&n, _)| n)
            .collect()
    }
}

/// Runs `plan`'s phases while the workers go, printing the status line,
/// until the count is reached or `deadline` passes (then the workers are
/// told to stop).
pub async fn drive(
    plan: &Plan,
    soak: &Soak,
    stack: &Stack,
    backend: &Backend,
    deadline: Instant,
) -> Report {
    let mut report = Report::default();
    let before = backend.proxy.injected();
    let status = Status::new(soak, plan.phases.len());
    for (index, &(fault, end)) in plan.phases.iter().enumerate() {
        let phase_before = backend.proxy.injected();
        let (ops_before, phase_started) =
            (soak.counters.ops.load(Ordering::SeqCst), Instant::now());
        backend.proxy.set(fault.proxy_faults());
        let phase_done = AtomicBool::new(false);
        let struck = AtomicBool::new(false);
        let waiting = async {
            while soak.counters.ops.load(Ordering::SeqCst) < end && Instant::now() < deadline {
                status.show(index, fault);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            phase_done.store(true, Ordering::SeqCst);
        };
        let (_, inflicted) = tokio::join!(
            waiting,
            inflict(fault, stack, backend, &phase_done, &struck)
        );
        if fault == Fault::Kill {
            renew_instances(soak, stack).await;
            report.instance_renewals += 1;
        }
        let injected = backend.proxy.injected().since(phase_before);
        *report.inflicted.entry(fault.name()).or_default() += inflicted;
        let fired = super::faults::injected_report(fault, injected, inflicted).is_some();
        *report.fired.entry(fault.name()).or_default() |= fired;
        let pace = report.pace.entry(label(fault)).or_default();
        pace.0 += soak.counters.ops.load(Ordering::SeqCst) - ops_before;
        pace.1 += phase_started.elapsed().as_secs_f64();
        if Instant::now() >= deadline {
            break;
        }
    }
    backend.proxy.set(Faults::default());
    soak.stop.store(true, Ordering::SeqCst);
    report.injected = backend.proxy.injected().since(before);
    report
}

/// Gives every function its full set of instances back after a kill phase,
/// with the clients paused: cargo-lambda does not replace a killed instance
/// (Lambda does), so without this each kill phase would leave acquire and
/// unlock with three instances fewer, down to one.
async fn renew_instances(soak: &Soak, stack: &Stack) {
    soak.paused(async {
        stack
            .restart_functions()
            .await
            .expect("restart cargo lambda watch");
        warm_up(soak).await;
    })
    .await;
}

/// A phase's name in the status line and the summary: the stress suite calls
/// the fault-free run "clients", the soak's phases say "none".
fn label(fault: Fault) -> &'static str {
    match fault {
        Fault::None => "none",
        _ => fault.name(),
    }
}

/// The one status line: on a terminal rewritten in place, else a line every 30 s.
struct Status<'a> {
    soak: &'a Soak,
    phases: usize,
    started: Instant,
    last: std::cell::Cell<Instant>,
    terminal: bool,
}

impl<'a> Status<'a> {
    fn new(soak: &'a Soak, phases: usize) -> Self {
        let now = Instant::now();
        Self {
            soak,
            phases,
            started: now,
            last: std::cell::Cell::new(now),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    fn show(&self, index: usize, fault: Fault) {
        let every = if self.terminal { 1 } else { 30 };
        if self.last.get().elapsed() < Duration::from_secs(every) {
            return;
        }
        self.last.set(Instant::now());
        let c = &self.soak.counters;
        let ops = c.ops.load(Ordering::SeqCst);
        let secs = self.started.elapsed().as_secs_f64();
        let line = format!(
            "{ops}/{} operations, {:.0}/s, {} violations so far, phase {}/{} ({}), {}m{:02}s",
            self.soak.target,
            ops as f64 / secs.max(0.001),
            c.violations.load(Ordering::SeqCst),
            index + 1,
            self.phases,
            label(fault),
            secs as u64 / 60,
            secs as u64 % 60,
        );
        if self.terminal {
            print!("\r{line}\x1b[K");
            let _ = std::io::stdout().flush();
        } else {
            println!("{line}");
        }
    }
}

/// A new tenant's key; the first sign-up also starts create-user's first
/// instance, which on a busy machine can outlast the integration timeout.
pub async fn sign_up(stack: &Stack) -> Result<String, String> {
    let mut key = stack.new_api_key().await;
    for _ in 0..3 {
        if key.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        key = stack.new_api_key().await;
    }
    key
}

/// Starts instances of every function the workers call (each start is a
/// `cargo run` under `cargo lambda watch`, many seconds when several start
/// at once), with bad requests that change nothing, until a round of them
/// all is answered: so the run measures the service, not the emulator's
/// starts, and no request waits for an instance longer than the gateway's
/// timeout.
pub async fn warm_up(soak: &Soak) {
    const POSTS: [&str; 7] = [
        "/v0/lock",
        "/v0/unlock",
        "/v0/lock/renew",
        "/v0/lock/delete",
        "/v0/semaphore",
        "/v0/semaphore/renew",
        "/v0/semaphore/release",
    ];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let instances = soak.shape.workers.min(8);
    for round in 1..=5 {
        let mut requests = Vec::new();
        for _ in 0..instances {
            for path in POSTS {
                let url = format!("{}{path}", soak.base);
                requests.push(http.post(url).bearer_auth(&soak.keys[0]).body("{}"));
            }
            for path in ["/v0/lock", "/v0/locks?limit=0"] {
                let url = format!("{}{path}", soak.base);
                requests.push(http.get(url).bearer_auth(&soak.keys[0]));
            }
        }
        let started = Instant::now();
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|r| tokio::spawn(async move { r.send().await.map(|a| a.status().as_u16()) }))
            .collect();
        let total = tasks.len();
        let mut answered = 0;
        for task in tasks {
            answered += matches!(task.await, Ok(Ok(400))) as usize;
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "warm-up round {round}: {answered} of {total} bad requests answered 400 in {took:.1} s"
        );
        if answered == total && took < 5.0 {
            return;
        }
    }
}

/// The summary at the end.
pub fn summary(
    entries: &[Entry],
    counters: &Counters,
    report: &Report,
    elapsed: Duration,
    written: u64,
) -> String {
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for e in entries {
        let (all, ok) = by_kind.entry(e.kind.name()).or_default();
        *all += 1;
        *ok += e.ok as u64;
    }
    let kinds: Vec<String> = Kind::ALL
        .iter()
        .filter_map(|k| {
            by_kind
                .get(k.name())
                .map(|(all, ok)| format!("  {:<15} {all:>9} ({ok} answered true)", k.name()))
        })
        .collect();
    let refusals = entries
        .iter()
        .filter(|e| e.kind == Kind::Acquire && e.status == 200 && !e.ok)
        .count();
    let i = report.injected;
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::SeqCst);
    format!(
        "soak: {written} operations in {:.0} s ({:.0}/s)\n{}\n\
         acquires refused: {refusals}; answered 429: {}\n\
         faults: {} answers dropped, {} chunks delayed, {} connections reset, {} write conflicts, \
         {} engine restarts ({} connections found it down), {} function instances killed \
         (their functions restarted after each of {} kill phases, the clients paused)\n\
         unclear answers retried: {} ({} of them 5xx)\n\
         pace: {}",
        elapsed.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64().max(0.001),
        kinds.join("\n"),
        load(&counters.throttled),
        i.dropped_answers,
        i.delays,
        i.resets,
        i.conflicts,
        report.inflicted.get("restart").copied().unwrap_or(0),
        i.upstream_down,
        report.inflicted.get("kill").copied().unwrap_or(0),
        report.instance_renewals,
        load(&counters.unclear),
        load(&counters.server_errors),
        report
            .pace
            .iter()
            .map(|(fault, (ops, secs))| format!("{fault} {:.0}/s", *ops as f64 / secs.max(0.001)))
            .collect::<Vec<_>>()
            .join(", "),
    )
}
