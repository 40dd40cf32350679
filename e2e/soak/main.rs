//! The soak: a long randomized run of every lock and semaphore operation
//! through the whole local stack (gateway, real function binaries under
//! `cargo lambda watch`, dynalite kept on disk behind the fault proxy),
//! many tenants on the same names, with the faults of the stress runs
//! switched on in phases, and every operation written to a history file
//! that the checker (`check.rs`) reads back at the end.
//!
//! `make soak` runs 1 000 000 operations (`SOAK_OPS` sets another count);
//! `cargo test -p e2e --test soak` runs the short one in `make test`.
//! `cargo test -p e2e --test soak -- --check FILE` checks a history again.

#[path = "../stress/faults.rs"]
#[allow(dead_code)]
mod faults;
mod phases;
mod scripts;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use e2e::soak::{check, entry};
use libtest_mimic::{Arguments, Trial};
use local_stack::{EngineChoice, Stack, StackOptions};

use faults::{Backend, Fault};
use phases::{Plan, Report};
use workload::{Counters, Shape, Soak, Worker};

/// Operations of the short run, when `SOAK_OPS` is not set.
const SHORT_RUN: u64 = 3_000;

#[derive(Parser)]
struct Cli {
    /// Check this history file again instead of running.
    #[arg(long)]
    check: Option<PathBuf>,
    /// Where the history goes (default: `target/soak/history-<time>.jsonl`).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Tenants, each with its own API key and the same names.
    #[arg(long, default_value_t = 8)]
    tenants: usize,
    /// Clients, spread over the tenants.
    #[arg(long, default_value_t = 48)]
    workers: usize,
    /// Lock names per tenant.
    #[arg(long, default_value_t = 12)]
    locks: usize,
    /// Semaphore names per tenant.
    #[arg(long, default_value_t = 2)]
    semaphores: usize,
    /// Permits of each semaphore.
    #[arg(long, default_value_t = 2)]
    permits: u64,
    /// Faults with phases of their own: `all`, `none`, or a list such as `drop,kill`.
    #[arg(long, default_value = "all")]
    faults: String,
    /// The run stops here even if its count is not reached (and fails).
    #[arg(long, default_value_t = 150)]
    max_minutes: u64,
    /// libtest's own arguments (a filter, `--list`, ...): the run is one
    /// test, `soak`.
    #[command(flatten)]
    test: Arguments,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(file) = &cli.check {
        // `cargo test` runs this in `e2e/`: a relative path is the repository's.
        let file = local_stack::engine::repo_root().join(file);
        let checked = entry::read_all(&file)
            .map_err(|e| format!("cannot read the history: {e}"))
            .and_then(|entries| verdict(&check::violations(&entries, cli.permits), entries.len()));
        return match checked {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let ops = match std::env::var("SOAK_OPS") {
        Ok(n) => n
            .replace(['_', ' '], "")
            .parse()
            .expect("SOAK_OPS: a count"),
        Err(_) => SHORT_RUN,
    };
    let args = cli.test.clone();
    let trial = Trial::test("soak", move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(run(cli, ops)).map_err(Into::into)
    });
    libtest_mimic::run(&args, vec![trial]).exit_code()
}

/// Prints the violations (the first few) and how many; an error if any.
fn verdict(violations: &[String], entries: usize) -> Result<(), String> {
    for v in violations.iter().take(20) {
        println!("VIOLATION {v}");
    }
    println!(
        "checked {entries} operations: {} violations",
        violations.len()
    );
    if violations.is_empty() {
        Ok(())
    } else {
        Err(format!("{} violations", violations.len()))
    }
}

/// The run; an error if it found a violation or could not finish.
async fn run(cli: Cli, ops: u64) -> Result<(), String> {
    let shape = Shape {
        tenants: cli.tenants,
        workers: cli.workers,
        lock_names: cli.locks,
        semaphores: cli.semaphores,
        permits: cli.permits,
    };
    let root = local_stack::engine::repo_root().join("target/soak");
    std::fs::create_dir_all(&root).expect("target/soak");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let history = cli
        .history
        .clone()
        .unwrap_or_else(|| root.join(format!("history-{stamp}.jsonl")));
    println!(
        "soak: {ops} operations, {shape:?}; history in {}",
        history.display()
    );

    let backend = Backend::start().await;
    let options = StackOptions {
        engine: EngineChoice::Endpoint(backend.proxy.endpoint.clone()),
        concurrency: 16,
        // Longer than an instance's start, so that a request the gateway
        // gave up on was lost with a killed instance, not queued to land
        // later (API Gateway's own is 29 s).
        integration_timeout: Duration::from_secs(30),
        ..StackOptions::default()
    };
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(e) => return Err(format!("the local stack did not start: {e}")),
    };
    let mut keys = Vec::new();
    for _ in 0..shape.tenants {
        keys.push(
            phases::sign_up(&stack)
                .await
                .map_err(|e| format!("signing up a tenant: {e}"))?,
        );
    }
    let soak = Arc::new(Soak {
        base: stack.base_url.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        keys,
        shape,
        target: ops,
        counters: Counters::default(),
        stop: Default::default(),
        pausing: Default::default(),
        scripts: Default::default(),
    });
    phases::warm_up(&soak).await;

    let (sender, receiver) = std::sync::mpsc::channel();
    let path = history.clone();
    let writer = std::thread::spawn(move || entry::write_all(&path, receiver));
    let started = Instant::now();
    let workers: Vec<_> = (0..shape.workers)
        .map(|id| {
            let me = Worker {
                tenant: id % shape.tenants,
                id,
                entries: sender.clone(),
            };
            let soak = soak.clone();
            tokio::spawn(async move { soak.work(me).await })
        })
        .collect();
    let faults = Fault::parse_list(&cli.faults);
    let plan = Plan::new(ops, &faults);
    let deadline = started + Duration::from_secs(cli.max_minutes * 60);
    let report: Report = phases::drive(&plan, &soak, &stack, &backend, deadline).await;
    let mut panics = 0;
    for worker in workers {
        if let Err(e) = worker.await {
            println!("VIOLATION a client panicked: {e}");
            panics += 1;
        }
    }
    let elapsed = started.elapsed();
    // The end state of every name, as the last entries.
    for tenant in 0..shape.tenants {
        let me = Worker {
            tenant,
            id: shape.workers,
            entries: sender.clone(),
        };
        for i in 0..shape.lock_names {
            soak.look(&me, tenant, &soak.lock_name(i)).await;
        }
    }
    drop(sender);
    let written = writer
        .join()
        .expect("the history writer")
        .expect("the history file");
    let counters = &soak.counters;
    let done = counters.ops.load(Ordering::SeqCst);
    println!();
    let entries = entry::read_all(&history).expect("the history just written");
    let violations = check::violations(&entries, shape.permits);
    println!(
        "{}",
        phases::summary(&entries, counters, &report, elapsed, written)
    );
    verdict(&violations, entries.len())?;
    if let Some(fault) = report.unfired().first() {
        return Err(format!("the {fault} fault was never injected"));
    }
    if panics > 0 {
        return Err(format!("{panics} clients panicked"));
    }
    if done < ops {
        return Err(format!(
            "stopped by the time bound after {done} of {ops} operations"
        ));
    }
    Ok(())
}
