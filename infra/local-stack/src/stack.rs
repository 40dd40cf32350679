//! The whole service on one machine: a DynamoDB-API engine (or the one at
//! `AWS_ENDPOINT_URL_DYNAMODB`), the tables of `template.yaml`, every function
//! under `cargo lambda watch`, and the local gateway in front of them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::schema::{create_table, TableSpec};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::engine::{free_port, repo_root, tools_dir, Engine, EngineError, EngineKind};
use crate::gateway::{Gateway, GatewayConfig};
use crate::template::{Template, TemplateError};

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
    /// Print build output, function logs and one line per request; otherwise
    /// they go to `target/local-stack/<port>.log`.
    pub verbose: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            port: 0,
            engine: EngineChoice::Start {
                kind: EngineKind::Dynalite,
                data_dir: None,
            },
            concurrency: 4,
            reload: false,
            auth_cache_ttl: None,
            integration_timeout: Duration::from_secs(29),
            verbose: false,
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
    /// A table could not be created.
    #[error("cannot create table {table}: {source}")]
    Table {
        /// The table.
        table: String,
        /// The cause.
        source: shared::error::StoreError,
    },
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

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> StackError {
    move |source| StackError::Io { what, source }
}

/// A running stack; dropping it stops everything it started.
pub struct Stack {
    /// `http://127.0.0.1:PORT`, the API's base URL.
    pub base_url: String,
    /// The DynamoDB endpoint the functions use.
    pub dynamodb_endpoint: String,
    /// The template the stack runs.
    pub template: Template,
    /// Where build output and function logs go when not verbose.
    pub log_path: Option<PathBuf>,
    gateway: JoinHandle<()>,
    watch: ProcessGroup,
    _engine: Option<Engine>,
}

impl Stack {
    /// Starts everything and returns once the API answers through the
    /// gateway, the authorizer function included.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        let root = repo_root();
        let template = Template::load(&root.join("template.yaml"))?;
        let engine = match &options.engine {
            EngineChoice::Endpoint(_) => None,
            EngineChoice::Start { kind, data_dir } => {
                if let Some(dir) = data_dir {
                    std::fs::create_dir_all(dir).map_err(io("create the engine's data folder"))?;
                }
                Some(Engine::start(*kind, 0, data_dir.as_deref())?)
            }
        };
        let dynamodb_endpoint = match (&options.engine, &engine) {
            (EngineChoice::Endpoint(url), _) => url.clone(),
            (_, Some(engine)) => engine.endpoint.clone(),
            (_, None) => unreachable!("an engine was started"),
        };
        create_tables(&template, &dynamodb_endpoint).await?;

        let port = if options.port == 0 {
            free_port().map_err(io("find a free port"))?
        } else {
            options.port
        };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(io("bind the gateway port"))?;
        let log_path =
            (!options.verbose).then(|| root.join(format!("target/local-stack/{port}.log")));
        let log = Log::new(log_path.clone())?;

        build_functions(&template, &log).await?;
        let lambda_port = free_port().map_err(io("find a free port"))?;
        let watch = start_watch(&template, &options, lambda_port, &dynamodb_endpoint, &log)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", lambda_port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(StackError::NotReady(
                    "cargo lambda watch did not listen within 60 s".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let gateway = Gateway::new(GatewayConfig {
            routes: template.routes.clone(),
            authorizer: template.authorizer.clone(),
            lambda_endpoint: format!("http://127.0.0.1:{lambda_port}"),
            auth_cache_ttl: options
                .auth_cache_ttl
                .unwrap_or(Duration::from_secs(template.auth_cache_seconds)),
            integration_timeout: options.integration_timeout,
            stage: "local".into(),
            log_requests: options.verbose,
        });
        let stack = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            dynamodb_endpoint,
            template,
            log_path,
            gateway: tokio::spawn(gateway.serve(listener)),
            watch,
            _engine: engine,
        };
        stack.wait_until_ready().await?;
        Ok(stack)
    }

    /// Waits until a request with an unknown key comes back 401 from the
    /// authorizer function, which proves gateway, functions and engine work.
    async fn wait_until_ready(&self) -> Result<(), StackError> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let answer = client
                .get(format!("{}/v0/locks", self.base_url))
                .bearer_auth("00000000-0000-4000-8000-000000000000")
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match answer {
                Ok(answer) if answer.status() == 401 => return Ok(()),
                _ if Instant::now() > deadline => {
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
        let created: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v0/users/anonymous", self.base_url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        created["apiKey"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no apiKey in {created}"))
    }

    /// Process ids of the running instances of `function` (each a binary
    /// that `cargo lambda watch` started as its child).
    pub fn function_pids(&self, function: &str) -> Vec<u32> {
        let Some(watch) = self.watch.0.as_ref().map(Child::id) else {
            return Vec::new();
        };
        let suffix = format!("/debug/{function}");
        children_of(watch)
            .into_iter()
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let program = cmdline.split(|&b| b == 0).next().unwrap_or_default();
                String::from_utf8_lossy(program).ends_with(&suffix)
            })
            .collect()
    }
}

/// The processes whose parent is `parent` (from `/proc`; none elsewhere).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_field(pid, 1) == Some(u64::from(parent)))
        .collect()
}

/// Field `index` of `/proc/<pid>/stat`, counted from the one after the
/// process name (0: state, 1: parent, 19: start time).
fn stat_field(pid: u32, index: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(index)?.parse().ok()
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.gateway.abort();
        self.watch.stop();
    }
}

/// Creates every table of the template that does not exist yet, named by its logical id.
async fn create_tables(template: &Template, endpoint: &str) -> Result<(), StackError> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .credentials_provider(Credentials::new(
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "local".into()),
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "local".into()),
            None,
            None,
            "local-stack",
        ))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let existing = client
        .list_tables()
        .send()
        .await
        .map_err(|e| StackError::Table {
            table: "(list)".into(),
            source: e.into(),
        })?
        .table_names
        .unwrap_or_default();
    for table in &template.tables {
        if existing.contains(&table.logical_id) {
            continue;
        }
        let spec = TableSpec {
            partition: &table.partition,
            sort: table.sort.as_deref(),
            ttl_attribute: table.ttl_attribute.as_deref(),
        };
        create_table(&client, &table.logical_id, &spec)
            .await
            .map_err(|source| StackError::Table {
                table: table.logical_id.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Where child processes write: the terminal, or a log file.
struct Log(Option<std::fs::File>);

impl Log {
    fn new(path: Option<PathBuf>) -> Result<Self, StackError> {
        let Some(path) = path else {
            return Ok(Self(None));
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create the log folder"))?;
        }
        Ok(Self(Some(
            std::fs::File::create(path).map_err(io("create the log file"))?,
        )))
    }

    fn stdio(&self) -> Result<Stdio, StackError> {
        match &self.0 {
            None => Ok(Stdio::inherit()),
            Some(file) => Ok(file.try_clone().map_err(io("open the log file"))?.into()),
        }
    }
}

/// Builds every function binary, so `cargo lambda watch` starts them at once.
/// Selected with `--bin` (not `-p`), as `cargo lambda watch` does, so both see
/// the same workspace-wide features and neither rebuilds the other's work.
async fn build_functions(template: &Template, log: &Log) -> Result<(), StackError> {
    let mut command = cargo();
    command.current_dir(repo_root()).arg("build");
    for function in &template.functions {
        command.args(["--bin", function]);
    }
    command.stdout(log.stdio()?).stderr(log.stdio()?);
    let status = tokio::process::Command::from(command)
        .status()
        .await
        .map_err(io("run cargo build"))?;
    if status.success() {
        Ok(())
    } else {
        Err(StackError::Build)
    }
}

/// `cargo`, without the variables cargo sets for a program it runs (a test,
/// say). Some build scripts (ring's) rebuild when `CARGO_MANIFEST_DIR`
/// changes, so passing them on would rebuild half the dependency tree.
fn cargo() -> Command {
    let mut command = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_a_run = name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_a_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn start_watch(
    template: &Template,
    options: &StackOptions,
    port: u16,
    dynamodb_endpoint: &str,
    log: &Log,
) -> Result<ProcessGroup, StackError> {
    use std::os::unix::process::CommandExt;

    let tools_bin = tools_dir().join("venv/bin");
    let path = format!(
        "{}:{}",
        tools_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = cargo();
    command
        .current_dir(repo_root())
        .args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--concurrency")
        .arg(options.concurrency.to_string())
        .env("PATH", path)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
        .stdin(Stdio::null())
        .stdout(log.stdio()?)
        .stderr(log.stdio()?)
        // Its own process group, so that stopping it stops the `cargo run`
        // and build processes it started (each function runs in a group of
        // its own, and is stopped as a child).
        .process_group(0);
    if !options.reload {
        command.arg("--ignore-changes");
    }
    for (variable, table) in &template.table_env {
        command.env(variable, table);
    }
    for (variable, fallback) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        if std::env::var_os(variable).is_none() {
            command.env(variable, fallback);
        }
    }
    let child = command
        .spawn()
        .map_err(io("start cargo lambda watch (run `make tools`)"))?;
    Ok(ProcessGroup(Some(child)))
}

/// A child that leads its own process group; stopping it stops the group
/// and the child's own children.
struct ProcessGroup(Option<Child>);

impl ProcessGroup {
    fn stop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let Ok(group) = i32::try_from(child.id()) else {
            return;
        };
        // With their start times, so a pid reused meanwhile is not killed.
        let children: Vec<_> = children_of(child.id())
            .into_iter()
            .map(|pid| (pid, stat_field(pid, 19)))
            .collect();
        // SAFETY: kill(2) with a negative pid signals that process group; it
        // touches no memory of ours.
        unsafe { libc::kill(-group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group and the children goes now.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        for (pid, started) in children {
            if let (Ok(id), true) = (i32::try_from(pid), stat_field(pid, 19) == started) {
                // SAFETY: as above, for one process.
                unsafe { libc::kill(id, libc::SIGKILL) };
            }
        }
        let _ = child.wait();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
    }
}
