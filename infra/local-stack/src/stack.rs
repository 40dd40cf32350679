//! The whole service on one machine: a DynamoDB-API engine (or the one at
//! `AWS_ENDPOINT_URL_DYNAMODB`), the tables of `template.yaml`, every function
//! under `cargo lambda watch`, and the local gateway in front of them.

use lock_client::{Client, RetryPolicy};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lock_service::schema::TableSpec;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::dynamodb::{create_missing_tables, local_config};
use crate::engine::{accepts_connections, free_port, repo_root, Engine, EngineError, EngineKind};
use crate::gateway::{Gateway, GatewayConfig};
use crate::process::{children_of, program_of, ProcessGroup};
use crate::template::{Template, TemplateError};
use crate::watch::{build_functions, start_watch, Output};

/// Where the DynamoDB API comes from.
#[derive(Clone, Debug)]
pub enum EngineChoice {
    /// An engine that is already running (Amazon's DynamoDB Local, say).
    Endpoint(String),
    /// Start one of the bundled engines, keeping data in `data_dir` if given.
    Start {
        /// Which engine.
        kind: EngineKind,
        /// Folder for the engine's data (dynalite only); in memory if `None`.
        data_dir: Option<PathBuf>,
    },
}

/// What the stack shows on the terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Nothing: everything goes to `target/local-stack/<port>.log` (tests).
    Quiet,
    /// Build progress, one line per request, the functions' log lines and
    /// build errors; the rest goes to the log file (`make dev`).
    Requests,
    /// Everything, as it comes (`VERBOSE=1 make dev`).
    Everything,
}

/// How to run the stack.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Gateway port on 127.0.0.1 (0: a free one).
    pub port: u16,
    /// The DynamoDB engine.
    pub engine: EngineChoice,
    /// Instances per function that `cargo lambda watch` may run at once.
    pub concurrency: u32,
    /// Rebuild and restart functions when their code changes.
    pub reload: bool,
    /// Authorizer cache time; `None` takes the template's.
    pub auth_cache_ttl: Option<Duration>,
    /// How long the gateway waits for a function before answering 504.
    pub integration_timeout: Duration,
    /// What the terminal shows.
    pub verbosity: Verbosity,
    /// Extra environment variables of every function (e.g. `RUST_LOG`).
    pub function_env: Vec<(String, String)>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            port: 0,
            engine: EngineChoice::Start {
                kind: EngineKind::Dynalite,
                data_dir: None,
            },
            // A waiting acquire holds an instance for up to 20 s.
            concurrency: 8,
            reload: false,
            auth_cache_ttl: None,
            integration_timeout: Duration::from_secs(29),
            verbosity: Verbosity::Quiet,
            function_env: Vec::new(),
        }
    }
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// `template.yaml` could not be read.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The tables could not be created.
    #[error("{0}")]
    Tables(aws_sdk_dynamodb::error::BoxError),
    /// A process could not be started, or a port bound.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The function binaries did not build.
    #[error("cargo build of the functions failed (see the output above or the log)")]
    Build,
    /// The stack did not answer in time.
    #[error("{0}")]
    NotReady(String),
}

/// A running stack; dropping it stops everything it started.
pub struct Stack {
    /// `http://127.0.0.1:PORT`, the API's base URL.
    pub base_url: String,
    /// The DynamoDB endpoint the functions use.
    pub dynamodb_endpoint: String,
    /// The template the stack runs.
    pub template: Template,
    /// Where build output and function logs go, unless everything is shown.
    pub log_path: Option<PathBuf>,
    gateway: JoinHandle<()>,
    watch: Mutex<ProcessGroup>,
    /// How `watch` was started, to start it again.
    watch_start: WatchStart,
    _engine: Option<Engine>,
}

/// What `cargo lambda watch` was started with.
struct WatchStart {
    options: StackOptions,
    lambda_port: u16,
    output: Output,
}

impl Stack {
    /// Starts everything and returns once the API answers through the
    /// gateway, the authorizer function included.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        let template = Template::load(&repo_root().join("template.yaml"))?;
        let (engine, dynamodb_endpoint) = start_engine(&options.engine)?;
        create_tables(&template, &dynamodb_endpoint).await?;

        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(io("bind the gateway port"))?;
        let port = listener
            .local_addr()
            .map_err(io("read the gateway port"))?
            .port();
        let log_path = repo_root().join(format!("target/local-stack/{port}.log"));
        let output = match options.verbosity {
            Verbosity::Everything => Output::Terminal,
            verbosity => Output::LogFile {
                path: log_path.clone(),
                echo: verbosity == Verbosity::Requests,
            },
        };

        build_functions(&template, &output).await?;
        let lambda_port = free_port().map_err(io("find a free port"))?;
        let watch = start_watch(
            &template,
            &options,
            lambda_port,
            &dynamodb_endpoint,
            &output,
        )?;
        wait_for_listener(lambda_port).await?;

        let gateway = Gateway::new(gateway_config(&template, &options, lambda_port)?);
        let log_path = (options.verbosity != Verbosity::Everything).then_some(log_path);
        let watch_start = WatchStart {
            options,
            lambda_port,
            output,
        };
        let stack = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            dynamodb_endpoint,
            template,
            log_path,
            gateway: tokio::spawn(gateway.clone().serve(listener)),
            watch: Mutex::new(watch),
            watch_start,
            _engine: engine,
        };
        stack.wait_until_ready().await?;
        gateway.start_logging();
        Ok(stack)
    }

    /// Waits until the authorizer function answers a request through the
    /// gateway (a sign-up route would write; a route behind the authorizer
    /// proves gateway, functions and engine work without writing anything).
    async fn wait_until_ready(&self) -> Result<(), StackError> {
        let not_ready = |e: lock_client::Error| StackError::NotReady(e.to_string());
        let probe = Client::new(&self.base_url, "00000000-0000-4000-8000-000000000000")
            .map_err(not_ready)?
            .with_retry(RetryPolicy::never())
            .with_timeout(Duration::from_secs(30));
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match probe.list_page(1, None).await {
                Err(lock_client::Error::Unauthorized) => return Ok(()),
                answer if Instant::now() > deadline => {
                    return Err(StackError::NotReady(format!(
                        "the API did not answer within 120 s (last: {answer:?})"
                    )))
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// A new user's API key, signed up through the gateway.
    pub async fn new_api_key(&self) -> Result<String, String> {
        let client = Client::anonymous(&self.base_url).map_err(|e| e.to_string())?;
        let answer = client.sign_up().await.map_err(|e| e.to_string())?;
        Ok(answer.api_key)
    }

    /// Process ids of the running instances of `function` (each a binary
    /// that `cargo lambda watch` started as its child).
    pub fn function_pids(&self, function: &str) -> Vec<u32> {
        let Some(watch) = self.watch.lock().unwrap().id() else {
            return Vec::new();
        };
        let suffix = format!("/debug/{function}");
        children_of(watch)
            .into_iter()
            .filter(|&pid| program_of(pid).ends_with(&suffix))
            .collect()
    }

    /// Stops `cargo lambda watch` with every function instance and starts it
    /// again on the same port, as Lambda replaces instances that died:
    /// cargo-lambda does not replace a killed instance, so each kill leaves
    /// one fewer. Requests in flight meanwhile are lost (the gateway answers
    /// `502`); new instances start on demand, each a `cargo run`.
    pub async fn restart_functions(&self) -> Result<(), StackError> {
        self.watch.lock().unwrap().stop();
        let WatchStart {
            options,
            lambda_port,
            output,
        } = &self.watch_start;
        let watch = start_watch(
            &self.template,
            options,
            *lambda_port,
            &self.dynamodb_endpoint,
            output,
        )?;
        *self.watch.lock().unwrap() = watch;
        wait_for_listener(*lambda_port).await
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.gateway.abort();
        self.watch
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .stop();
    }
}

/// The gateway's configuration: the template's routes, authorizer, cache
/// time and token pattern, in front of `cargo lambda watch` on `lambda_port`.
fn gateway_config(
    template: &Template,
    options: &StackOptions,
    lambda_port: u16,
) -> Result<GatewayConfig, StackError> {
    let token_pattern = match &template.token_pattern {
        Some(pattern) => Some(regex_lite::Regex::new(pattern).map_err(|err| {
            TemplateError::Shape(format!("ValidationExpression {pattern}: {err}"))
        })?),
        None => None,
    };
    Ok(GatewayConfig {
        routes: template.routes.clone(),
        token_pattern,
        authorizer: template.authorizer.clone(),
        lambda_endpoint: format!("http://127.0.0.1:{lambda_port}"),
        auth_cache_ttl: options
            .auth_cache_ttl
            .unwrap_or(Duration::from_secs(template.auth_cache_seconds)),
        integration_timeout: options.integration_timeout,
        stage: "local".into(),
        log_requests: options.verbosity != Verbosity::Quiet,
    })
}

/// The engine to start (if any) and the DynamoDB endpoint.
fn start_engine(choice: &EngineChoice) -> Result<(Option<Engine>, String), StackError> {
    match choice {
        EngineChoice::Endpoint(url) => Ok((None, url.clone())),
        EngineChoice::Start { kind, data_dir } => {
            if let Some(dir) = data_dir {
                std::fs::create_dir_all(dir).map_err(io("create the engine's data folder"))?;
            }
            let engine = Engine::start(*kind, 0, data_dir.as_deref())?;
            let endpoint = engine.endpoint.clone();
            Ok((Some(engine), endpoint))
        }
    }
}

/// Creates every table of the template that does not exist yet, named by its logical id.
pub async fn create_tables(template: &Template, endpoint: &str) -> Result<(), StackError> {
    let client = aws_sdk_dynamodb::Client::from_conf(local_config(endpoint).build());
    let tables: Vec<_> = template
        .tables
        .iter()
        .map(|table| {
            let spec = TableSpec {
                partition: &table.partition,
                sort: table.sort.as_deref(),
                ttl_attribute: table.ttl_attribute.as_deref(),
            };
            (table.logical_id.clone(), spec)
        })
        .collect();
    create_missing_tables(&client, &tables)
        .await
        .map_err(StackError::Tables)
}

/// Waits until `cargo lambda watch` accepts connections on `port` (a probe
/// connected to itself does not count: see [`accepts_connections`]).
async fn wait_for_listener(port: u16) -> Result<(), StackError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tokio::task::spawn_blocking(move || accepts_connections(port))
        .await
        .unwrap_or(false)
    {
        if Instant::now() > deadline {
            let problem = "cargo lambda watch did not listen within 60 s";
            return Err(StackError::NotReady(problem.into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Maps an I/O error to [`StackError::Io`] saying what was being done.
pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> StackError {
    move |source| StackError::Io { what, source }
}
