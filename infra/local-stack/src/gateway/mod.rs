//! A local stand-in for API Gateway's REST API in front of `cargo lambda
//! watch`: the template's routes, the TOKEN authorizer with a decision cache,
//! REST proxy events (payload 1.0) to the functions, and JSON gateway answers.
//!
//! - `policy`: the authorizer's policy and IAM-style ARN matching;
//! - `auth_cache`: the authorizer decision cache;
//! - `event`: the proxy event sent to a function;
//! - `invoke`: calls of the Lambda invoke API, bounded per function;
//! - `answer`: proxy responses mapped back to HTTP, and the gateway's own answers.

mod answer;
mod auth_cache;
pub mod event;
mod invoke;
mod policy;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

use self::answer::{bad_gateway, gateway_error, proxy_answer, unauthorized, Answer};
use self::auth_cache::AuthCache;
pub use self::invoke::MAX_INVOCATIONS_PER_FUNCTION;
use self::invoke::{Invoked, Invoker};
use self::policy::Policy;
use crate::template::Route;

/// API Gateway's largest request payload.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Account id in the local method ARNs.
const ACCOUNT_ID: &str = "123456789012";
/// API id in the local method ARNs.
const API_ID: &str = "local";
const REGION: &str = "us-east-1";

/// How the gateway runs.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Every route, from the template.
    pub routes: Vec<Route>,
    /// Binary of the TOKEN authorizer.
    pub authorizer: String,
    /// Base URL of the Lambda invoke API (`cargo lambda watch`).
    pub lambda_endpoint: String,
    /// How long an authorizer decision is cached per `Authorization` value (0: never).
    pub auth_cache_ttl: Duration,
    /// The authorizer's `ValidationExpression`: a header that does not match
    /// gets a 401 without an authorizer call.
    pub token_pattern: Option<regex_lite::Regex>,
    /// How long the gateway waits for a function (API Gateway: 29 s) before a 504.
    pub integration_timeout: Duration,
    /// Stage name shown to the functions.
    pub stage: String,
    /// Print one line per request to stderr, once [`Gateway::start_logging`] is called.
    pub log_requests: bool,
}

/// The gateway: routes, authorizer cache, and the client to the functions.
pub struct Gateway {
    config: GatewayConfig,
    cache: AuthCache,
    invoker: Invoker,
    logging: AtomicBool,
}

impl Gateway {
    /// A gateway with `config`.
    pub fn new(config: GatewayConfig) -> Arc<Self> {
        let functions = config
            .routes
            .iter()
            .map(|route| &route.function)
            .chain([&config.authorizer]);
        let invoker = Invoker::new(
            config.lambda_endpoint.clone(),
            config.integration_timeout,
            functions,
        );
        Arc::new(Self {
            cache: AuthCache::new(config.auth_cache_ttl),
            invoker,
            config,
            logging: AtomicBool::new(false),
        })
    }

    /// Starts the one line per request, if the configuration asks for it
    /// (after the stack's own readiness probes, which are nobody's requests).
    pub fn start_logging(&self) {
        self.logging
            .store(self.config.log_requests, Ordering::Relaxed);
    }

    /// Serves HTTP/1.1 on `listener` until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let gateway = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(gateway.handle(request, peer).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        let started = Instant::now();
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let answer = self.dispatch(request, peer).await;
        if self.logging.load(Ordering::Relaxed) {
            eprintln!(
                "{method} {path} {} {:.0} ms",
                answer.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        answer
    }

    async fn dispatch(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        let (method, path) = (request.method().as_str(), request.uri().path());
        let Some((route, path_parameters)) = self
            .config
            .routes
            .iter()
            .find_map(|r| Some((r, r.matches(method, path)?)))
        else {
            return gateway_error(StatusCode::NOT_FOUND, "Not Found", "NOT_FOUND");
        };
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, MAX_REQUEST_BYTES).collect().await else {
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            return gateway_error(status, "request body is too large", "PAYLOAD_TOO_LARGE");
        };
        let body = body.to_bytes();
        let authorizer = match self.authorize(route, &parts).await {
            Ok(context) => context,
            Err(answer) => return answer,
        };
        let event = event::proxy_event(event::Incoming {
            route,
            path_parameters,
            parts: &parts,
            body: &body,
            peer,
            authorizer,
            stage: &self.config.stage,
        });
        match self.invoker.invoke(&route.function, &event).await {
            Invoked::Ok(payload) => proxy_answer(payload).unwrap_or_else(|| {
                eprintln!(
                    "gateway: {} returned a malformed proxy response",
                    route.function
                );
                bad_gateway()
            }),
            Invoked::FunctionError(_) | Invoked::Unreachable => bad_gateway(),
            Invoked::TimedOut => gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                "GATEWAY_TIMEOUT",
            ),
        }
    }

    /// The authorizer context for a request to `route` (empty on open
    /// routes), or the answer that refuses it.
    async fn authorize(
        &self,
        route: &Route,
        parts: &hyper::http::request::Parts,
    ) -> Result<Map<String, Value>, Answer> {
        if !route.authorized {
            return Ok(Map::new());
        }
        let method_arn = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{}/{}{}",
            self.config.stage, route.method, route.path
        );
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .filter(|token| !token.is_empty())
            .ok_or_else(unauthorized)?;
        if let Some(pattern) = &self.config.token_pattern {
            if !pattern.is_match(token) {
                return Err(unauthorized());
            }
        }
        let started = Instant::now();
        let policy = self.policy_for(token, &method_arn).await?;
        if !policy.permits(&method_arn) {
            return Err(unauthorized());
        }
        let mut context = policy.context;
        let latency = started.elapsed().as_millis() as u64;
        context.insert("integrationLatency".into(), json!(latency));
        Ok(context)
    }

    /// The authorizer's policy for `token`, from the cache or a fresh call.
    /// Refusals and failures are not cached.
    async fn policy_for(&self, token: &str, method_arn: &str) -> Result<Policy, Answer> {
        if let Some(policy) = self.cache.get(token) {
            return Ok(policy);
        }
        // As on API Gateway, the cached policy then serves every route, so it
        // must cover more than the ARN of the request that fetched it.
        let event =
            json!({ "type": "TOKEN", "authorizationToken": token, "methodArn": method_arn });
        let policy = match self.invoker.invoke(&self.config.authorizer, &event).await {
            Invoked::Ok(response) => Policy::from_response(response),
            Invoked::FunctionError(message) if message == "Unauthorized" => {
                return Err(unauthorized())
            }
            _ => None,
        };
        let Some(policy) = policy else {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            return Err(gateway_error(
                status,
                "Internal server error",
                "INTERNAL_ERROR",
            ));
        };
        self.cache.insert(token, &policy);
        Ok(policy)
    }
}
