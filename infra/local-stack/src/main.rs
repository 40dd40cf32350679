//! `local-stack`: runs the whole API on 127.0.0.1 until Ctrl-C (`make dev`).
//!
//! Environment: `PORT` (default 3000); `AWS_ENDPOINT_URL_DYNAMODB` to use an
//! engine that is already running instead of starting dynalite; `LOCAL_ENGINE`
//! (`dynalite`, the default, persisted in `.dev/dynalite` for port 3000 and
//! `.dev/dynalite-PORT` for any other, or `moto`, in memory);
//! `AUTH_CACHE_SECONDS` (default: the template's, 60; 0 turns the cache off);
//! `VERBOSE=1` shows everything cargo, cargo-lambda and the functions print.

use std::time::{Duration, Instant};

use local_stack::engine::repo_root;
use local_stack::{EngineChoice, EngineKind, Stack, StackOptions, Verbosity};
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("local-stack: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT={port} is not a port number"))?,
        Err(_) => 3000,
    };
    let engine = engine_from_env(port)?;
    // Held until exit: a second `make dev` on the same data refuses at once.
    let _data = match &engine {
        EngineChoice::Start {
            data_dir: Some(dir),
            ..
        } => Some(claim(dir, port)?),
        _ => None,
    };
    let auth_cache_ttl = auth_cache_from_env()?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let started = Instant::now();
    eprintln!("local-stack: starting the engine, building the functions and the gateway...");
    let options = StackOptions {
        port,
        engine,
        reload: true,
        verbosity: match std::env::var("VERBOSE").as_deref() {
            Ok("1") => Verbosity::Everything,
            _ => Verbosity::Requests,
        },
        auth_cache_ttl,
        ..StackOptions::default()
    };
    let stack = tokio::select! {
        stack = Stack::start(options) => stack.map_err(|e| e.to_string())?,
        _ = interrupt.recv() => return Ok(()),
        _ = terminate.recv() => return Ok(()),
    };
    let url = &stack.base_url;
    eprintln!(
        "\nLock API ready at {url} after {:.1} s (DynamoDB: {})\n\n  \
         curl -s -X POST {url}/v0/users/anonymous\n  \
         console: {url}/console\n\n\
         Ctrl-C stops everything.\n",
        started.elapsed().as_secs_f64(),
        stack.dynamodb_endpoint,
    );
    tokio::select! {
        _ = interrupt.recv() => {},
        _ = terminate.recv() => {},
    }
    eprintln!("local-stack: stopping");
    drop(stack);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

/// The engine `AWS_ENDPOINT_URL_DYNAMODB` or `LOCAL_ENGINE` asks for (default:
/// dynalite, persisted in the data folder of `port`).
fn engine_from_env(port: u16) -> Result<EngineChoice, String> {
    Ok(
        match (
            std::env::var("AWS_ENDPOINT_URL_DYNAMODB"),
            std::env::var("LOCAL_ENGINE"),
        ) {
            (Ok(url), _) if !url.is_empty() => EngineChoice::Endpoint(url),
            (_, Ok(name)) if name == "moto" => EngineChoice::Start {
                kind: EngineKind::Moto,
                data_dir: None,
            },
            (_, Ok(name)) if !name.is_empty() && name != "dynalite" => {
                return Err(format!("LOCAL_ENGINE={name}: use dynalite or moto"))
            }
            _ => EngineChoice::Start {
                kind: EngineKind::Dynalite,
                data_dir: Some(data_dir(port)),
            },
        },
    )
}

/// Where dynalite keeps the data of the stack on `port`: `.dev/dynalite` for
/// the default port (as before ports had folders), `.dev/dynalite-PORT` for
/// any other, so that two stacks of one checkout never share a database.
fn data_dir(port: u16) -> std::path::PathBuf {
    let name = match port {
        3000 => "dynalite".to_owned(),
        port => format!("dynalite-{port}"),
    };
    repo_root().join(".dev").join(name)
}

/// Takes `dir` for this process (a lock on `dir.lock`, released when the
/// process ends, however it ends), or says who has it.
fn claim(dir: &std::path::Path, port: u16) -> Result<std::fs::File, String> {
    let path = dir.with_extension("lock");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another make dev runs on port {port} in this checkout (its data, {}, is in use); \
             stop it, or run a second one on another port: PORT={} make dev",
            dir.display(),
            port.wrapping_add(1)
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// `AUTH_CACHE_SECONDS`, if set.
fn auth_cache_from_env() -> Result<Option<Duration>, String> {
    Ok(match std::env::var("AUTH_CACHE_SECONDS") {
        Ok(seconds) => Some(Duration::from_secs(seconds.parse().map_err(|_| {
            format!("AUTH_CACHE_SECONDS={seconds} is not a number of seconds")
        })?)),
        Err(_) => None,
    })
}
