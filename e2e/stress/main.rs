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
//! A semaphore's run (`permits.rs`) checks its own properties under
//! dropped answers: at most N live leases, per-slot token order.
//!
//! Faults (`--faults`), each injected while the clients run: the fault proxy
//! between the functions and dynalite drops answers after dynalite applied
//! the write (`drop`), delays traffic (`delay`), resets connections before
//! a request reaches dynalite (`reset`) or refuses writes as replicated
//! write conflicts (`conflict`); dynalite is killed and restarted on
//! its data (`restart`); function processes are killed mid-request (`kill`).
//!
//! `cargo test -p e2e --test stress` runs the short matrix inside `make test`
//! (2 and 8 clients × 10 grants, then 4 clients × 5 grants under each fault);
//! `make stress` runs the full one (`--clients 2,8,32,128 --cycles 10
//! --faults all --fault-clients 32 --fault-cycles 10`; `--faults none` or a
//! list such as `--faults drop,kill` choose the faults).

mod client;
mod faults;
mod permits;
mod run;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use libtest_mimic::Arguments;
use local_stack::{EngineChoice, Stack, StackOptions};
use testkit::harness::Harness;

use faults::{Backend, Fault};
use run::run;

/// How long a client keeps retrying an unclear answer before it gives up.
const CLEAR_ANSWER_DEADLINE: Duration = Duration::from_secs(60);
/// The gateway's integration timeout in these runs: a function killed
/// mid-request never answers, and API Gateway's 29 s would only slow the run.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The matrix to run, and libtest's own arguments (a filter, `--list`, ...).
#[derive(Parser)]
struct Cli {
    /// Clients of the fault-free runs, one run each.
    #[arg(long, value_delimiter = ',', default_value = "2,8")]
    clients: Vec<usize>,
    /// Grants each client makes in a fault-free run.
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Faults, one run each: `all`, `none`, or a list such as `drop,kill`.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Clients of each run under a fault.
    #[arg(long, default_value_t = 4)]
    fault_clients: usize,
    /// Grants each client makes in a run under a fault.
    #[arg(long, default_value_t = 5)]
    fault_cycles: usize,
    /// Tasks of the semaphore's run (dropped answers, 3 permits).
    #[arg(long, default_value_t = 12)]
    permit_clients: usize,
    /// Acquires each task of the semaphore's run makes.
    #[arg(long, default_value_t = 6)]
    permit_cycles: usize,
    #[command(flatten)]
    test: Arguments,
}

/// What the runs share: dynalite behind the fault proxy, and the stack on it.
struct Shared {
    backend: Backend,
    stack: Stack,
}

impl testkit::harness::Shared for Shared {
    fn log_path(&self) -> Option<&std::path::Path> {
        self.stack.log_path.as_deref()
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut matrix: Vec<(Fault, usize, usize)> = cli
        .clients
        .iter()
        .map(|&n| (Fault::None, n, cli.cycles))
        .collect();
    matrix.extend(
        Fault::parse_list(&cli.faults)
            .iter()
            .map(|&f| (f, cli.fault_clients, cli.fault_cycles)),
    );
    let busiest = matrix.iter().map(|run| run.1).max().unwrap_or(0);
    let harness = Harness::starting(move || {
        Box::pin(async move {
            println!(
                "\nstarting dynalite, the fault proxy and the local stack for the stress runs..."
            );
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
            warm_up(&stack, busiest.min(concurrency as usize)).await;
            Shared { backend, stack }
        })
    });
    let (permit_clients, permit_cycles) = (cli.permit_clients, cli.permit_cycles);
    let permits_trial = harness.trial(
        &format!("permits_drop_{permit_clients}"),
        Duration::from_secs(1800),
        move |shared: Arc<Shared>| async move {
            let run = permits::run_permits(
                &shared.stack,
                &shared.backend,
                permit_clients,
                permit_cycles,
                3,
            );
            match run.await {
                Ok(summary) => println!("{summary}"),
                Err(violations) => panic!("\n    {}", violations.join("\n    ")),
            }
        },
    );
    let mut trials: Vec<_> = matrix
        .into_iter()
        .map(|(fault, clients, cycles)| {
            let name = format!("{}_{clients}", fault.name());
            harness.trial(
                &name,
                Duration::from_secs(1800),
                move |shared: Arc<Shared>| async move {
                    match run(&shared.stack, &shared.backend, fault, clients, cycles).await {
                        Ok(summary) => println!("{summary}"),
                        Err(violations) => panic!("\n    {}", violations.join("\n    ")),
                    }
                },
            )
        })
        .collect();
    trials.push(permits_trial);
    harness.run_with(cli.test, trials)
}
