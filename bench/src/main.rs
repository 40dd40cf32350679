//! `make bench`: one run, one table. DynamoDB calls counted at the wire,
//! each function's release `bootstrap` under a Lambda Runtime API emulator
//! (cold init, peak RSS, warm latency beside the raw engine round trip),
//! binary sizes, acquire + release cycles (ours in-process, ours through the
//! local stack, python-dynamodb-lock), and the local stack under 1, 8 and 32
//! clients. Markdown on stdout; JSON in `target/bench/`.
//!
//! `bench --smoke` runs every part on debug binaries with a handful of
//! iterations (seconds): `make test` runs it so the bench cannot rot. It
//! asserts that each operation did what it says, never a timing.

mod compare;
mod cycles;
mod functions;
mod latency;
mod load;
mod operations;
mod report;
mod runtime;
mod setup;
mod stats;
mod waiting;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use std::time::{Duration, Instant};

use local_stack::dynamodb::local_config;
use local_stack::engine::repo_root;
use local_stack::stack::create_tables;
use local_stack::template::Template;
use local_stack::{Engine, EngineKind, Stack, StackOptions};
use lock_service::config::{API_KEYS_TABLE_ENV, LOCKS_TABLE_ENV};

use crate::cycles::Cycles;
use crate::functions::{binary, function_env, Process};
use crate::latency::{Latency, FLOOR};
use crate::load::Load;
use crate::operations::Functions;
use crate::report::{Binary, Report};
use crate::stats::Spread;
use crate::waiting::WaitPlan;
use testkit::proxy::Proxy;

/// How much to measure.
struct Plan {
    profile: &'static str,
    cold_runs: usize,
    iterations: usize,
    cycles: usize,
    load_levels: Vec<usize>,
    load_time: Duration,
    waiting: WaitPlan,
}

impl Plan {
    fn full() -> Self {
        Self {
            profile: "release",
            cold_runs: 21,
            iterations: 200,
            cycles: 300,
            load_levels: vec![1, 8, 32],
            load_time: Duration::from_secs(10),
            waiting: WaitPlan {
                waiters: vec![1, 4, 8],
                handoffs: 120,
                starvation_tries: 20,
                cost_waits: vec![1, 5, 20],
            },
        }
    }

    fn smoke() -> Self {
        Self {
            profile: "debug",
            cold_runs: 2,
            iterations: 3,
            cycles: 3,
            load_levels: vec![1, 2],
            load_time: Duration::from_millis(500),
            waiting: WaitPlan {
                waiters: vec![1, 2],
                handoffs: 3,
                starvation_tries: 2,
                cost_waits: vec![1],
            },
        }
    }
}

/// `make bench`: one run, one table (see PERFORMANCE.md). Without a flag,
/// the full run: every table, release builds, the local stack.
#[derive(Parser)]
#[command(name = "bench")]
struct Cli {
    /// Every part on debug builds, a handful of iterations.
    #[arg(long, conflicts_with_all = ["binaries", "compare"])]
    smoke: bool,
    /// Only the functions' release binaries (no local stack).
    #[arg(long, conflicts_with_all = ["compare", "waiting"])]
    binaries: bool,
    /// Only the waiting acquires (handoffs, starvation, cost) on a local
    /// stack of their own.
    #[arg(long, conflicts_with = "compare")]
    waiting: bool,
    /// The functions' binaries copied into each DIR, interleaved.
    #[arg(long, num_args = 1.., value_name = "NAME=DIR", value_parser = compare::Variant::parse)]
    compare: Vec<compare::Variant>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let plan = if cli.smoke {
        Plan::smoke()
    } else {
        Plan::full()
    };
    let started = Instant::now();
    if !cli.compare.is_empty() {
        let (template, engine) = engine_of_its_own().await;
        let table = compare::compare(
            &cli.compare,
            &template,
            &engine.endpoint,
            plan.cold_runs,
            plan.iterations,
        )
        .await;
        println!("{table}");
        return;
    }
    let mut report = Report {
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        profile: plan.profile.into(),
        machine: machine(),
        calls: Vec::new(),
        binaries: Vec::new(),
        latency: Vec::new(),
        cycles: Vec::new(),
        load: Vec::new(),
        waiting: None,
    };
    if cli.waiting {
        report.waiting = Some(waiting::measure(&plan.waiting).await);
    } else if cli.binaries {
        // For comparing release builds quickly.
        let (template, engine) = engine_of_its_own().await;
        (report.binaries, report.latency) =
            measure_functions(&plan, &template, &engine.endpoint).await;
    } else {
        measure_everything(&plan, &mut report).await;
    }
    println!("{}", report.markdown());
    let name = match (cli.smoke, cli.binaries, cli.waiting) {
        (true, _, _) => "smoke.json",
        (false, true, _) => "binaries.json",
        (false, false, true) => "waiting.json",
        (false, false, false) => "bench.json",
    };
    let path = save(&report, name);
    eprintln!(
        "bench: done in {:.0} s; JSON in {}",
        started.elapsed().as_secs_f64(),
        path.display()
    );
}

/// Every table, on the local stack: calls per operation, the functions,
/// cycles against the peer library, and load.
async fn measure_everything(plan: &Plan, report: &mut Report) {
    eprintln!("bench: starting the local stack (dynalite, cargo lambda watch, gateway)...");
    let stack = Stack::start(StackOptions::default())
        .await
        .expect("the local stack starts");
    let engine = stack.dynamodb_endpoint.clone();
    let proxy = Proxy::start(&engine).await.expect("a counting proxy");
    eprintln!("bench: DynamoDB calls per operation...");
    let counting = start_all(&stack.template, plan.profile, &proxy.endpoint).await;
    report.calls = operations::count_all(&counting, &proxy).await;
    drop(counting);
    (report.binaries, report.latency) = measure_functions(plan, &stack.template, &engine).await;
    report.cycles = measure_cycles(plan, &stack, &proxy).await;
    report.load = measure_load(plan, &stack).await;
    drop(stack);
    report.waiting = Some(waiting::measure(&plan.waiting).await);
}

/// Writes `report` as JSON to `target/bench/NAME`; the path.
fn save(report: &Report, name: &str) -> PathBuf {
    let folder = repo_root().join("target/bench");
    std::fs::create_dir_all(&folder).expect("target/bench");
    let path = folder.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(report).expect("JSON")).expect("written");
    path
}

/// The template and a dynalite with its tables, for measuring the
/// functions alone (no local stack, so nothing is built in debug).
async fn engine_of_its_own() -> (Template, Engine) {
    let template = Template::load(&repo_root().join("template.yaml")).expect("template.yaml");
    let engine = Engine::start(EngineKind::Dynalite, 0, None).expect("dynalite starts");
    create_tables(&template, &engine.endpoint)
        .await
        .expect("tables");
    (template, engine)
}

/// Size, cold init, then warm latency, peak RSS and CPU per invocation of
/// every function's binary.
async fn measure_functions(
    plan: &Plan,
    template: &Template,
    engine: &str,
) -> (Vec<Binary>, Vec<Latency>) {
    eprintln!("bench: cold starts ({} per function)...", plan.cold_runs);
    let mut binaries = Vec::new();
    for function in &template.functions {
        let path = binary(plan.profile, function);
        let bytes = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (build the functions first)", path.display()))
            .len();
        let mut inits = Vec::new();
        for _ in 0..plan.cold_runs {
            inits.push(
                Process::start(&path, &function_env(template, engine))
                    .await
                    .init,
            );
        }
        binaries.push(Binary {
            function: function.clone(),
            bytes,
            cold_init: Spread::of(&inits),
            peak_rss_kib: 0,
            cpu_ms_per_invocation: None,
        });
    }
    eprintln!("bench: warm latency ({} iterations)...", plan.iterations);
    let mut timing = start_all(template, plan.profile, engine).await;
    let floor = Process::start(&binary(plan.profile, FLOOR.1), &[]).await;
    timing.processes.insert(FLOOR.1.into(), floor);
    let cpu_before: BTreeMap<String, _> = timing
        .processes
        .iter()
        .map(|(f, p)| (f.clone(), p.cpu()))
        .collect();
    let sdk = aws_sdk_dynamodb::Client::from_conf(local_config(engine).build());
    let table = |variable: &str| template.table_env[variable].clone();
    let tables = (table(LOCKS_TABLE_ENV), table(API_KEYS_TABLE_ENV));
    let latency = latency::measure(&timing, &sdk, (&tables.0, &tables.1), plan.iterations).await;
    for binary in &mut binaries {
        let process = &timing.processes[&binary.function];
        binary.peak_rss_kib = process.peak_rss_kib();
        let ((cpu_then, calls_then), (cpu_now, calls_now)) =
            (cpu_before[&binary.function], process.cpu());
        // /proc counts CPU in 10 ms ticks: only a timed function's total means anything.
        let calls = calls_now - calls_then;
        binary.cpu_ms_per_invocation = (calls >= plan.iterations as u64 && calls > 0)
            .then(|| (cpu_now - cpu_then).as_secs_f64() * 1e3 / calls as f64);
    }
    (binaries, latency)
}

/// Acquire + release cycles: in-process, through the stack, the peer.
async fn measure_cycles(plan: &Plan, stack: &Stack, proxy: &Proxy) -> Vec<Cycles> {
    eprintln!("bench: acquire + release cycles ({})...", plan.cycles);
    let engine = &stack.dynamodb_endpoint;
    let key = stack.new_api_key().await.expect("a key");
    let client = lock_client::Client::new(&stack.base_url, &key).expect("a client");
    let python = repo_root().join(".tools/bench/bin/python");
    let locks_table = &stack.template.table_env[LOCKS_TABLE_ENV];
    vec![
        cycles::in_process(engine, proxy, locks_table, plan.cycles).await,
        cycles::through_stack(&client, plan.cycles).await,
        cycles::peer(&python, engine, proxy, plan.cycles).await,
    ]
}

/// The local stack under each level of concurrency.
async fn measure_load(plan: &Plan, stack: &Stack) -> Vec<Load> {
    let mut keys = Vec::new();
    for _ in 0..4 {
        keys.push(stack.new_api_key().await.expect("a key"));
    }
    // Start as many instances of each function as the busiest level uses,
    // so no level's figures include a `cargo run` of a new instance.
    let busiest = plan.load_levels.iter().copied().max().unwrap_or(1);
    load::run(&stack.base_url, &keys, busiest, plan.load_time).await;
    let mut loads = Vec::new();
    for clients in &plan.load_levels {
        eprintln!(
            "bench: local stack, {clients} clients for {:?}...",
            plan.load_time
        );
        loads.push(load::run(&stack.base_url, &keys, *clients, plan.load_time).await);
    }
    loads
}

/// One warm process of every function, talking to `endpoint`.
async fn start_all(template: &Template, profile: &str, endpoint: &str) -> Functions {
    let mut processes = BTreeMap::new();
    for function in &template.functions {
        let process = Process::start(
            &binary(profile, function),
            &function_env(template, endpoint),
        )
        .await;
        processes.insert(function.clone(), process);
    }
    Functions {
        template: template.clone(),
        processes,
    }
}

/// CPU model and count, from /proc/cpuinfo.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    format!("{model}, {cores} cores, {}", std::env::consts::ARCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from([&["bench"], args].concat())
    }

    #[test]
    fn one_mode_at_most_and_nothing_unknown() {
        assert!(parse(&[]).is_ok_and(|a| !a.smoke && !a.binaries && a.compare.is_empty()));
        assert!(parse(&["--smoke"]).is_ok_and(|a| a.smoke));
        assert!(parse(&["--binaries"]).is_ok_and(|a| a.binaries));
        assert!(parse(&["--waiting"]).is_ok_and(|a| a.waiting));
        assert!(parse(&["--smoke", "--waiting"]).is_ok_and(|a| a.smoke && a.waiting));
        let dir = std::env::temp_dir();
        let both = [
            format!("a={}", dir.display()),
            format!("b={}", dir.display()),
        ];
        let compared = parse(&["--compare", &both[0], &both[1]]).expect("two builds");
        assert_eq!(compared.compare.len(), 2);
        for wrong in [
            &["--fast"][..],
            &["--smoke", "--binaries"],
            &["--binaries", "--waiting"],
            &["--smoke", "--compare", &both[0]],
            &["--compare"],
            &["--compare", "no-folder"],
            &["--compare", "a=/no/such/folder"],
            &["extra"],
        ] {
            assert!(parse(wrong).is_err(), "{wrong:?} accepted");
        }
    }
}
