//! The one Lambda bootstrap: every function's `main` is
//! `lock_service::lambda::serve::<Endpoint>()` (or [`serve_authorizer`],
//! [`serve_console`]).
//! It logs as JSON to stdout, reads its settings and builds its one SDK
//! client at cold start (failing fast on a bad setting), and serves
//! invocations on tokio's single-threaded runtime, one at a time on classic
//! Lambda and concurrently on Lambda Managed Instances (`run_concurrent`
//! honours `AWS_LAMBDA_MAX_CONCURRENCY`). Each invocation writes its one
//! metrics record ([`crate::metrics`]) when it ends.

use std::future::Future;

use lambda_http::{service_fn, Request};
use lambda_runtime::LambdaEvent;

use crate::authorizer::{authorize, LOG_DIRECTIVES};
use crate::config::{
    clock_skew_margin_from_env, table_from_env, AcquireSettings, ConfigError, API_KEYS_TABLE_ENV,
    LOCKS_TABLE_ENV,
};
use crate::console::Console;
use crate::endpoints::{respond, Acquirer, Endpoint};
use crate::metrics::Invocation;
use crate::store::{KeyStore, LockStore};

/// What can stop a function: a bad setting at cold start, or the runtime.
pub type Error = lambda_runtime::Error;

/// An endpoint's state, built from the function's environment at cold start.
pub trait FromEnv: Sized {
    /// Reads the settings this state needs and builds its DynamoDB client.
    fn from_env() -> impl Future<Output = Result<Self, ConfigError>>;
}

impl FromEnv for LockStore {
    async fn from_env() -> Result<Self, ConfigError> {
        let table = table_from_env(LOCKS_TABLE_ENV)?;
        let margin = clock_skew_margin_from_env()?;
        let locks = LockStore::new(crate::dynamodb_client().await?, table);
        Ok(locks.with_clock_margin(margin))
    }
}

impl FromEnv for KeyStore {
    async fn from_env() -> Result<Self, ConfigError> {
        let table = table_from_env(API_KEYS_TABLE_ENV)?;
        Ok(KeyStore::new(crate::dynamodb_client().await?, table))
    }
}

impl FromEnv for Acquirer {
    async fn from_env() -> Result<Self, ConfigError> {
        let settings = AcquireSettings::from_env()?;
        let locks = LockStore::from_env().await?.with_quota(settings.max_locks);
        Ok(Acquirer { locks, settings })
    }
}

/// Runs endpoint `E` as this process's Lambda function.
pub fn serve<E>() -> Result<(), Error>
where
    E: Endpoint,
    E::State: FromEnv,
{
    run(async {
        crate::init_tracing();
        // Built once and kept for the process's life: every invocation borrows it.
        let state: &'static E::State = Box::leak(Box::new(E::State::from_env().await?));
        let metrics: &'static Invocation =
            Box::leak(Box::new(Invocation::from_env(E::ROUTE.function())));
        let service = service_fn(move |request: Request| async move {
            Ok::<_, Error>(metrics.scope(respond::<E>(state, request)).await)
        });
        lambda_http::run_concurrent(service).await
    })
}

/// Runs the REST API's TOKEN authorizer as this process's Lambda function.
pub fn serve_authorizer() -> Result<(), Error> {
    run(async {
        crate::init_tracing_with(LOG_DIRECTIVES);
        let keys: &'static KeyStore = Box::leak(Box::new(KeyStore::from_env().await?));
        let metrics: &'static Invocation = Box::leak(Box::new(Invocation::from_env("authorizer")));
        let service =
            service_fn(move |event: LambdaEvent<_>| metrics.scope(authorize(keys, event.payload)));
        lambda_runtime::run_concurrent(service).await
    })
}

/// Runs the browser console ([`crate::console`]) as this process's Lambda
/// function: no SDK client, no metrics (it decides nothing about locks).
pub fn serve_console() -> Result<(), Error> {
    run(async {
        crate::init_tracing();
        let console: &'static Console = Box::leak(Box::new(Console::from_env()?));
        let service =
            service_fn(
                move |request: Request| async move { Ok::<_, Error>(console.respond(&request)) },
            );
        lambda_http::run_concurrent(service).await
    })
}

/// `main` on tokio's single-threaded runtime: an invocation is one DynamoDB
/// round trip with well under a millisecond of CPU, so worker threads would
/// only add their start and a hand-off per request (PERFORMANCE.md, lever H).
fn run(main: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(main)
}
