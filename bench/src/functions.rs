//! The functions' real binaries, each under its own [`RuntimeApi`], with
//! real API Gateway events (the local gateway's own event builder): cold
//! init, peak RSS, and invocations.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use local_stack::dynamodb::local_aws_env;
use local_stack::gateway::event::{proxy_event, Incoming};
use local_stack::template::Template;
use lock_service::http::{CONTEXT_KEY_HASH, CONTEXT_USER_ID};
use lock_service::keys::ApiKey;
use serde_json::{json, Map, Value};
use tokio::process::{Child, Command};

use crate::runtime::RuntimeApi;

/// Memory size the runtime is told (the template's `MemorySize`).
const MEMORY_MB: &str = "256";

/// One running function process.
pub struct Process {
    api: RuntimeApi,
    child: Child,
    /// From exec to its first `GET /next`.
    pub init: Duration,
    /// Invocations so far.
    invocations: AtomicU64,
}

impl Process {
    /// Starts `binary` with `env` and waits until it asks for work.
    pub async fn start(binary: &Path, env: &[(String, String)]) -> Self {
        let api = RuntimeApi::start().await;
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function");
        let mut command = Command::new(binary);
        command
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_MB)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let spawned = Instant::now();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let ready = tokio::time::timeout(Duration::from_secs(30), api.first_next())
            .await
            .unwrap_or_else(|_| panic!("{} never asked for an invocation", binary.display()));
        Self {
            api,
            child,
            init: ready.duration_since(spawned),
            invocations: AtomicU64::new(0),
        }
    }

    /// Invokes with `event`: (HTTP status or 0, JSON body, handler time).
    pub async fn call(&self, event: &Value) -> (u16, Value, Duration) {
        let bytes = serde_json::to_vec(event).expect("events serialise");
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let invocation = self.api.invoke(&bytes).await;
        let answer: Value = serde_json::from_slice(&invocation.body).unwrap_or(Value::Null);
        let status = answer["statusCode"].as_u64().unwrap_or(0) as u16;
        let body = match answer.get("body").and_then(Value::as_str) {
            Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            None => answer, // the authorizer answers a policy, not a proxy response
        };
        (
            if invocation.ok { status } else { 0 },
            body,
            invocation.took,
        )
    }

    /// CPU time (user + system) the process has used so far, and its
    /// invocations so far.
    pub fn cpu(&self) -> (Duration, u64) {
        let ticks = self.child.id().and_then(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name (which may hold spaces): state is
            // field 3, utime 14 and stime 15.
            let after = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let user: u64 = fields.get(11)?.parse().ok()?;
            let system: u64 = fields.get(12)?.parse().ok()?;
            Some(user + system)
        });
        // /proc counts in USER_HZ, 100 per second on Linux.
        let cpu = Duration::from_millis(ticks.unwrap_or(0) * 10);
        (cpu, self.invocations.load(Ordering::Relaxed))
    }

    /// Peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// The environment every function gets: local credentials, the engine
/// endpoint (the counting proxy), its tables, and the deployed log level.
pub fn function_env(template: &Template, endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = local_aws_env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    env.push(("AWS_ENDPOINT_URL_DYNAMODB".into(), endpoint.into()));
    env.push(("RUST_LOG".into(), "info".into()));
    env.extend(template.function_env());
    env
}

/// Where the binaries are: `target/release` (or `target/debug` for a smoke run).
pub fn binary(profile: &str, function: &str) -> PathBuf {
    local_stack::engine::repo_root()
        .join("target")
        .join(profile)
        .join(function)
}

/// A REST proxy event for `method path?query` with `body`, from `user` (the
/// authorizer's context) and extra `headers`, exactly as the gateway sends it.
pub fn rest_event(
    template: &Template,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
    user: Option<&str>,
) -> Value {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let route = template
        .routes
        .iter()
        .find(|r| r.method == method && r.path == path)
        .unwrap_or_else(|| panic!("no route {method} {path}"));
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", "bench.execute-api.us-east-1.amazonaws.com")
        .header("content-type", "application/json")
        .header("user-agent", "bench");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (parts, ()) = request.body(()).expect("a request").into_parts();
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let mut authorizer = Map::new();
    if let Some(user) = user {
        authorizer.insert("principalId".into(), json!(user));
        authorizer.insert(CONTEXT_USER_ID.into(), json!(user));
        // The validated key's hash, as the authorizer passes it on.
        let key = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| ApiKey::from_authorization(value));
        if let Some(key) = key {
            authorizer.insert(CONTEXT_KEY_HASH.into(), json!(key.hash().as_str()));
        }
    }
    proxy_event(Incoming {
        route,
        path_parameters: Vec::new(),
        parts: &parts,
        body: &body,
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        authorizer,
        stage: "prod",
    })
}

/// The TOKEN event API Gateway sends the authorizer.
pub fn token_event(key: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {key}"),
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:local/prod/POST/v0/lock",
    })
}
