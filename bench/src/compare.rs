//! `bench --compare NAME=DIR NAME=DIR ...`: the functions' binaries of
//! several builds (copied into those folders), measured in one run and
//! interleaved (cold starts alternate build by build; warm rounds alternate
//! too), so the shared machine's noise falls on every build alike. This is
//! how each lever for leaner binaries is judged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use local_stack::dynamodb::local_config;
use local_stack::template::Template;
use lock_service::config::{API_KEYS_TABLE_ENV, LOCKS_TABLE_ENV};

use crate::functions::{function_env, Process};
use crate::latency::through_samples;
use crate::operations::Functions;
use crate::stats::Spread;

/// One build: a name and the folder holding its binaries.
#[derive(Clone)]
pub struct Variant {
    pub name: String,
    pub dir: PathBuf,
}

impl Variant {
    /// `NAME=DIR`, DIR an existing folder.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((name, dir)) if !name.is_empty() && PathBuf::from(dir).is_dir() => Ok(Self {
                name: name.into(),
                dir: dir.into(),
            }),
            _ => Err(format!(
                "--compare takes NAME=DIR with DIR a folder, got {text:?}"
            )),
        }
    }
}

#[derive(Default)]
struct Measured {
    largest: u64,
    inits: BTreeMap<String, Vec<Duration>>,
    acquire: Vec<Duration>,
    get: Vec<Duration>,
    cpu: Duration,
    invocations: u64,
}

/// Measures every variant; the comparison as markdown.
pub async fn compare(
    variants: &[Variant],
    template: &Template,
    engine: &str,
    cold_runs: usize,
    iterations: usize,
) -> String {
    let mut measured: Vec<Measured> = variants.iter().map(|_| Measured::default()).collect();
    for (variant, m) in variants.iter().zip(&mut measured) {
        for function in &template.functions {
            let bytes = std::fs::metadata(variant.dir.join(function))
                .expect("a binary")
                .len();
            m.largest = m.largest.max(bytes);
        }
    }
    eprintln!("bench: interleaved cold starts ({cold_runs} per function and build)...");
    for _ in 0..cold_runs {
        for (variant, m) in variants.iter().zip(&mut measured) {
            for function in &template.functions {
                let path = variant.dir.join(function);
                let init = Process::start(&path, &function_env(template, engine))
                    .await
                    .init;
                m.inits.entry(function.clone()).or_default().push(init);
            }
        }
    }
    let sdk = aws_sdk_dynamodb::Client::from_conf(local_config(engine).build());
    let table = |variable: &str| template.table_env[variable].clone();
    let tables = (table(LOCKS_TABLE_ENV), table(API_KEYS_TABLE_ENV));
    for round in 0..4 {
        eprintln!("bench: warm round {} of 4...", round + 1);
        for (variant, m) in variants.iter().zip(&mut measured) {
            let functions = start_all_in(template, variant, engine).await;
            let before = functions.processes["acquire"].cpu();
            let (samples, ..) =
                through_samples(&functions, &sdk, (&tables.0, &tables.1), iterations / 4).await;
            let after = functions.processes["acquire"].cpu();
            m.cpu += after.0 - before.0;
            m.invocations += after.1 - before.1;
            m.acquire
                .extend(&samples["acquire (granted, existing name)"]);
            m.get.extend(&samples["get"]);
        }
    }
    table_of(variants, &measured)
}

async fn start_all_in(template: &Template, variant: &Variant, engine: &str) -> Functions {
    let mut processes = BTreeMap::new();
    for function in &template.functions {
        let process =
            Process::start(&variant.dir.join(function), &function_env(template, engine)).await;
        processes.insert(function.clone(), process);
    }
    Functions {
        template: template.clone(),
        processes,
    }
}

fn table_of(variants: &[Variant], measured: &[Measured]) -> String {
    let mut out = String::from(
        "| Build | Largest `bootstrap` | Cold init p50, median of the functions (ms) | Cold init p50, slowest function (ms) | acquire p50 / p99 (ms) | get p50 / p99 (ms) | CPU per acquire invocation (ms) |\n|---|---|---|---|---|---|---|\n",
    );
    for (variant, m) in variants.iter().zip(measured) {
        let mut p50s: Vec<f64> = m.inits.values().map(|v| Spread::of(v).p50_ms).collect();
        p50s.sort_by(f64::total_cmp);
        let median = p50s.get(p50s.len() / 2).copied().unwrap_or(f64::NAN);
        let slowest = p50s.last().copied().unwrap_or(f64::NAN);
        let (acquire, get) = (Spread::of(&m.acquire), Spread::of(&m.get));
        let cpu = m.cpu.as_secs_f64() * 1e3 / m.invocations.max(1) as f64;
        out.push_str(&format!(
            "| {} | {:.2} MB | {median:.2} | {slowest:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {cpu:.2} |\n",
            variant.name,
            m.largest as f64 / 1e6,
            acquire.p50_ms,
            acquire.p99_ms,
            get.p50_ms,
            get.p99_ms,
        ));
    }
    out
}
