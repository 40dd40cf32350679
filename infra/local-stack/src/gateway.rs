//! A local stand-in for API Gateway's REST API in front of `cargo lambda
//! watch`: the template's routes, the TOKEN authorizer with a decision cache,
//! REST proxy events (payload 1.0) to the functions, and JSON gateway answers.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::template::Route;

/// API Gateway's largest request payload.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Account id in the local method ARNs.
const ACCOUNT_ID: &str = "123456789012";
/// API id in the local method ARNs.
const API_ID: &str = "local";
const REGION: &str = "us-east-1";
/// Most invocations of one function the gateway lets wait on `cargo lambda
/// watch` at once; the others wait in the gateway (within the integration
/// timeout). cargo-lambda 1.9 queues a function's invocations in a channel of
/// 100; once one is full it blocks while holding the lock every function's
/// queue shares, and no function answers again (seen at 128 clients).
pub const MAX_INVOCATIONS_PER_FUNCTION: usize = 64;

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
    /// How long the gateway waits for a function (API Gateway: 29 s) before a 504.
    pub integration_timeout: Duration,
    /// Stage name shown to the functions.
    pub stage: String,
    /// Print one line per request to stderr.
    pub log_requests: bool,
}

/// The policy an authorizer returned for one `Authorization` value. Like
/// API Gateway, the gateway caches the policy and checks every request's
/// method ARN against it.
#[derive(Clone, Debug, PartialEq)]
struct Policy {
    /// Resource patterns of `Allow` statements.
    allowed: Vec<String>,
    /// Resource patterns of `Deny` statements (they win).
    denied: Vec<String>,
    /// `principalId` and the `context` entries, handed to the function.
    context: Map<String, Value>,
}

impl Policy {
    /// Reads an authorizer response; `None` if it is not one.
    fn from_response(response: &Value) -> Option<Self> {
        let mut policy = Self {
            allowed: Vec::new(),
            denied: Vec::new(),
            context: response
                .get("context")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        };
        let principal = response.get("principalId")?.as_str()?;
        policy
            .context
            .insert("principalId".into(), json!(principal));
        let statements = response
            .get("policyDocument")?
            .get("Statement")?
            .as_array()?;
        for statement in statements {
            let actions = one_or_many(statement.get("Action")?);
            if !actions
                .iter()
                .any(|a| wildcard_match(a, "execute-api:Invoke"))
            {
                continue;
            }
            let resources = one_or_many(statement.get("Resource")?);
            match statement.get("Effect")?.as_str()? {
                "Allow" => policy.allowed.extend(resources),
                "Deny" => policy.denied.extend(resources),
                _ => return None,
            }
        }
        Some(policy)
    }

    /// Whether the policy lets `method_arn` through.
    fn permits(&self, method_arn: &str) -> bool {
        !self.denied.iter().any(|p| wildcard_match(p, method_arn))
            && self.allowed.iter().any(|p| wildcard_match(p, method_arn))
    }
}

fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(many) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM-style match: `*` is any run of characters, `?` any one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The gateway: routes, authorizer cache, and the client to the functions.
pub struct Gateway {
    config: GatewayConfig,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, Policy)>>,
    /// One permit per invocation in flight, per function.
    in_flight: HashMap<String, Semaphore>,
}

/// A finished answer.
type Answer = Response<Full<Bytes>>;

impl Gateway {
    /// A gateway with `config`.
    pub fn new(config: GatewayConfig) -> Arc<Self> {
        let in_flight = config
            .routes
            .iter()
            .map(|route| &route.function)
            .chain([&config.authorizer])
            .map(|function| {
                let permits = Semaphore::new(MAX_INVOCATIONS_PER_FUNCTION);
                (function.clone(), permits)
            })
            .collect();
        Arc::new(Self {
            config,
            client: reqwest::Client::new(),
            cache: Mutex::new(HashMap::new()),
            in_flight,
        })
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
        let (method, path) = (
            request.method().to_string(),
            request.uri().path().to_owned(),
        );
        let answer = self.dispatch(request, peer).await;
        if self.config.log_requests {
            eprintln!(
                "gateway: {method} {path} {} {:.1}ms",
                answer.status().as_u16(),
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        answer
    }

    async fn dispatch(&self, request: Request<Incoming>, peer: SocketAddr) -> Answer {
        let Some(route) = self
            .config
            .routes
            .iter()
            .find(|r| r.path == request.uri().path() && r.method == request.method().as_str())
        else {
            return gateway_error(StatusCode::NOT_FOUND, "Not Found", "NOT_FOUND");
        };
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return gateway_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is too large",
                    "PAYLOAD_TOO_LARGE",
                )
            }
        };
        let method_arn = format!(
            "arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{}/{}{}",
            self.config.stage, route.method, route.path
        );

        let mut context = Map::new();
        if route.authorized {
            let token = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return unauthorized();
            };
            let authorize_started = Instant::now();
            match self.policy_for(token, &method_arn).await {
                Ok(policy) if policy.permits(&method_arn) => context = policy.context,
                Ok(_) => return unauthorized(),
                Err(answer) => return answer,
            }
            context.insert(
                "integrationLatency".into(),
                json!(authorize_started.elapsed().as_millis() as u64),
            );
        }

        let event = proxy_event(route, &parts, &body, peer, context, &self.config.stage);
        match self.invoke(&route.function, &event).await {
            Invoked::Ok(payload) => proxy_answer(&payload).unwrap_or_else(|| {
                eprintln!(
                    "gateway: {} returned a malformed proxy response",
                    route.function
                );
                gateway_error(StatusCode::BAD_GATEWAY, "Bad Gateway", "BAD_GATEWAY")
            }),
            Invoked::FunctionError(_) | Invoked::Unreachable => {
                gateway_error(StatusCode::BAD_GATEWAY, "Bad Gateway", "BAD_GATEWAY")
            }
            Invoked::TimedOut => gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                "GATEWAY_TIMEOUT",
            ),
        }
    }

    /// The authorizer's policy for `token`, from the cache or a fresh call.
    /// Refusals and failures are not cached.
    async fn policy_for(&self, token: &str, method_arn: &str) -> Result<Policy, Answer> {
        if let Some(policy) = self.cached(token) {
            return Ok(policy);
        }
        // As on API Gateway, the cached policy then serves every route, so it
        // must cover more than the ARN of the request that fetched it.
        let event =
            json!({ "type": "TOKEN", "authorizationToken": token, "methodArn": method_arn });
        let policy = match self.invoke(&self.config.authorizer, &event).await {
            Invoked::Ok(response) => Policy::from_response(&response),
            Invoked::FunctionError(message) if message == "Unauthorized" => {
                return Err(unauthorized())
            }
            _ => None,
        };
        let Some(policy) = policy else {
            return Err(gateway_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "INTERNAL_ERROR",
            ));
        };
        if !self.config.auth_cache_ttl.is_zero() {
            let expires = Instant::now() + self.config.auth_cache_ttl;
            if let Ok(mut cache) = self.cache.lock() {
                cache.retain(|_, (until, _)| *until > Instant::now());
                cache.insert(token.to_owned(), (expires, policy.clone()));
            }
        }
        Ok(policy)
    }

    fn cached(&self, token: &str) -> Option<Policy> {
        let cache = self.cache.lock().ok()?;
        let (expires, policy) = cache.get(token)?;
        (*expires > Instant::now()).then(|| policy.clone())
    }

    /// Invokes `function`, waiting for a free slot first; the integration
    /// timeout covers the wait and the call.
    async fn invoke(&self, function: &str, event: &Value) -> Invoked {
        let timeout = self.config.integration_timeout;
        let call = async {
            let _permit = match self.in_flight.get(function) {
                Some(slots) => Some(slots.acquire().await),
                None => None,
            };
            self.call(function, event).await
        };
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Invoked::TimedOut)
    }

    /// One call of the invoke API; [`Self::invoke`] bounds its time.
    async fn call(&self, function: &str, event: &Value) -> Invoked {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.config.lambda_endpoint
        );
        let sent = self.client.post(url).json(event).send().await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                eprintln!("gateway: cannot invoke {function}: {err}");
                return Invoked::Unreachable;
            }
        };
        let function_error = response.headers().contains_key("x-amz-function-error");
        let status = response.status();
        let Ok(payload) = response.json::<Value>().await else {
            return Invoked::Unreachable;
        };
        if function_error || !status.is_success() || payload.get("errorType").is_some() {
            let message = payload
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if message != "Unauthorized" {
                eprintln!("gateway: {function} failed: {payload}");
            }
            return Invoked::FunctionError(message);
        }
        Invoked::Ok(payload)
    }
}

/// What invoking a function gave.
enum Invoked {
    /// The function's result.
    Ok(Value),
    /// The function failed, with this `errorMessage`.
    FunctionError(String),
    /// No answer within the integration timeout.
    TimedOut,
    /// The invoke API could not be reached or answered garbage.
    Unreachable,
}

fn json_answer(status: StatusCode, body: Bytes) -> Answer {
    let mut answer = Response::new(Full::new(body));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// An answer the gateway makes itself, JSON like the template's Gateway Responses.
fn gateway_error(status: StatusCode, message: &str, code: &str) -> Answer {
    let body = json!({ "message": message, "code": code }).to_string();
    json_answer(status, Bytes::from(body))
}

fn unauthorized() -> Answer {
    gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized", "UNAUTHORIZED")
}

/// The REST API proxy event (payload 1.0) API Gateway sends for `parts` + `body`.
fn proxy_event(
    route: &Route,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    peer: SocketAddr,
    authorizer: Map<String, Value>,
    stage: &str,
) -> Value {
    let (headers, multi_headers) = single_and_multi(parts.headers.iter().map(|(name, value)| {
        (
            name.as_str().to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    }));
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    let (query, multi_query) = single_and_multi(
        form_urlencoded::parse(query).map(|(k, v)| (k.into_owned(), v.into_owned())),
    );
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (
            json!(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut context = json!({
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost"),
        "httpMethod": route.method,
        "identity": {
            "sourceIp": peer.ip().to_string(),
            "userAgent": parts.headers.get("user-agent").and_then(|h| h.to_str().ok()),
        },
        "path": format!("/{stage}{}", route.path),
        "protocol": "HTTP/1.1",
        "requestId": uuid::Uuid::new_v4().to_string(),
        "requestTime": humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        "requestTimeEpoch": now.as_millis() as u64,
        "resourceId": "local",
        "resourcePath": route.path,
        "stage": stage,
    });
    if !authorizer.is_empty() {
        context["authorizer"] = Value::Object(authorizer);
    }
    json!({
        "resource": route.path,
        "path": route.path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// Name/value pairs as API Gateway shows them: the last value of each name,
/// and every value of each name; both `null` when there are none.
fn single_and_multi(pairs: impl Iterator<Item = (String, String)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        multi.entry(name).or_default().push(value);
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), json!(multi))
    }
}

/// The HTTP answer for a function's proxy response; `None` if malformed.
fn proxy_answer(payload: &Value) -> Option<Answer> {
    let status =
        StatusCode::from_u16(u16::try_from(payload.get("statusCode")?.as_u64()?).ok()?).ok()?;
    let body = match payload.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if payload.get("isBase64Encoded") == Some(&json!(true)) => {
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?,
            )
        }
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(_) => return None,
    };
    let mut answer = json_answer(status, body);
    answer.headers_mut().remove(CONTENT_TYPE);
    let single = payload.get("headers").and_then(Value::as_object);
    for (name, value) in single.into_iter().flatten() {
        let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) else {
            return None;
        };
        answer.headers_mut().insert(name, value);
    }
    let multi = payload.get("multiValueHeaders").and_then(Value::as_object);
    for (name, values) in multi.into_iter().flatten() {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            return None;
        };
        answer.headers_mut().remove(&name);
        for value in values.as_array()? {
            answer
                .headers_mut()
                .append(name.clone(), HeaderValue::from_str(value.as_str()?).ok()?);
        }
    }
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_iam() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:local/local/POST/v0/lock";
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/*/*",
            arn
        ));
        assert!(wildcard_match("*", arn));
        assert!(wildcard_match(arn, arn));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/other/*/*",
            arn
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/*",
            arn
        ));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
    }

    #[test]
    fn a_policy_allows_only_what_it_names_and_deny_wins() {
        let response = json!({
            "principalId": "u1",
            "context": { "userId": "u1" },
            "policyDocument": { "Version": "2012-10-17", "Statement": [
                { "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:x/local/*/*"] },
                { "Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "arn:x/local/POST/v0/unlock" }
            ]}
        });
        let policy = Policy::from_response(&response).unwrap();
        assert_eq!(
            policy.context,
            json!({ "userId": "u1", "principalId": "u1" })
                .as_object()
                .unwrap()
                .clone()
        );
        assert!(policy.permits("arn:x/local/POST/v0/lock"));
        assert!(!policy.permits("arn:x/local/POST/v0/unlock"));
        assert!(!policy.permits("arn:x/prod/POST/v0/lock"));
        assert_eq!(Policy::from_response(&json!({ "principalId": "u1" })), None);
    }

    #[test]
    fn proxy_responses_map_back_to_http() {
        let answer = proxy_answer(&json!({
            "statusCode": 201,
            "headers": { "content-type": "application/json" },
            "multiValueHeaders": { "x-many": ["a", "b"] },
            "body": "{}",
            "isBase64Encoded": false
        }))
        .unwrap();
        assert_eq!(answer.status(), 201);
        assert_eq!(answer.headers()["content-type"], "application/json");
        assert_eq!(answer.headers().get_all("x-many").iter().count(), 2);
        assert!(proxy_answer(&json!({ "body": "no status" })).is_none());
        assert!(proxy_answer(&json!({ "statusCode": 200, "body": 5 })).is_none());
    }
}
