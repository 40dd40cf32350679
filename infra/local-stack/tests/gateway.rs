//! The local gateway against a stub of the Lambda invoke API, so every answer
//! API Gateway makes itself can be provoked: 401, 404, 413, 500, 502, 504,
//! the authorizer cache, and the proxy event the functions receive.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use local_stack::gateway::{Gateway, GatewayConfig};
use local_stack::template::Route;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// Invocations the stub received, per function.
#[derive(Default)]
struct Calls {
    authorizer: AtomicUsize,
    echo: AtomicUsize,
    /// Invocations of `held` running now, and the most at once.
    held_now: AtomicUsize,
    held_most: AtomicUsize,
}

/// A stand-in for `cargo lambda watch`'s invoke API.
async fn stub_lambda(calls: Arc<Calls>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let calls = calls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let calls = calls.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let event: Value = serde_json::from_slice(
                            &request.into_body().collect().await.unwrap().to_bytes(),
                        )
                        .unwrap();
                        let function = path.split('/').nth(3).unwrap_or_default().to_owned();
                        let (status, payload) = invoke(&function, event, &calls).await;
                        let mut response =
                            Response::new(Full::new(Bytes::from(payload.to_string())));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

fn function_error(message: &str) -> (u16, Value) {
    (
        500,
        json!({ "errorType": "Error", "errorMessage": message }),
    )
}

async fn invoke(function: &str, event: Value, calls: &Calls) -> (u16, Value) {
    match function {
        "authorizer" => {
            calls.authorizer.fetch_add(1, Ordering::SeqCst);
            let arn = event["methodArn"].as_str().unwrap();
            let stage_wide = format!(
                "{}/*/*",
                arn.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
            );
            let policy = |effect: &str, resource: &str| {
                json!({
                    "principalId": "user-1",
                    "context": { "userId": "user-1" },
                    "policyDocument": { "Version": "2012-10-17", "Statement": [
                        { "Action": ["execute-api:Invoke"], "Effect": effect, "Resource": [resource] }
                    ]}
                })
            };
            match event["authorizationToken"].as_str().unwrap() {
                "Bearer good" => (200, policy("Allow", &stage_wide)),
                "Bearer only-this-route" => (200, policy("Allow", arn)),
                "Bearer denied" => (200, policy("Deny", &stage_wide)),
                "Bearer broken" => function_error("database down"),
                "Bearer garbled" => (200, json!({ "principalId": "x" })),
                _ => function_error("Unauthorized"),
            }
        }
        "echo" => {
            calls.echo.fetch_add(1, Ordering::SeqCst);
            let answer = json!({
                "statusCode": 200,
                "headers": { "content-type": "application/json", "x-single": "1" },
                "multiValueHeaders": { "x-multi": ["a", "b"] },
                "body": event.to_string(),
                "isBase64Encoded": false
            });
            (200, answer)
        }
        "crash" => function_error("panicked at 'oops'"),
        "garbage" => (200, json!({ "not": "a proxy response" })),
        "held" => {
            let now = calls.held_now.fetch_add(1, Ordering::SeqCst) + 1;
            calls.held_most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(250)).await;
            calls.held_now.fetch_sub(1, Ordering::SeqCst);
            (200, json!({ "statusCode": 200, "body": "{}" }))
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (200, json!({ "statusCode": 200, "body": "{}" }))
        }
        _ => (404, json!({ "message": "no such function" })),
    }
}

struct Fixture {
    base: String,
    calls: Arc<Calls>,
    http: reqwest::Client,
}

async fn gateway(auth_cache_ttl: Duration) -> Fixture {
    gateway_with_timeout(auth_cache_ttl, Duration::from_millis(500)).await
}

async fn gateway_with_timeout(auth_cache_ttl: Duration, integration_timeout: Duration) -> Fixture {
    gateway_with(auth_cache_ttl, integration_timeout, None).await
}

async fn gateway_with(
    auth_cache_ttl: Duration,
    integration_timeout: Duration,
    token_pattern: Option<&str>,
) -> Fixture {
    let calls = Arc::new(Calls::default());
    let lambda_endpoint = stub_lambda(calls.clone()).await;
    let route = |method: &str, path: &str, function: &str, authorized: bool| Route {
        method: method.into(),
        path: path.into(),
        function: function.into(),
        authorized,
    };
    let gateway = Gateway::new(GatewayConfig {
        routes: vec![
            route("POST", "/echo", "echo", true),
            route("GET", "/echo", "echo", true),
            route("GET", "/public", "echo", false),
            route("GET", "/crash", "crash", false),
            route("GET", "/garbage", "garbage", false),
            route("GET", "/slow", "slow", false),
            route("GET", "/held", "held", false),
        ],
        authorizer: "authorizer".into(),
        lambda_endpoint,
        auth_cache_ttl,
        token_pattern: token_pattern.map(|p| regex_lite::Regex::new(p).unwrap()),
        integration_timeout,
        stage: "local".into(),
        log_requests: false,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(gateway.serve(listener));
    Fixture {
        base,
        calls,
        http: reqwest::Client::new(),
    }
}

impl Fixture {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{method} {path}"
        );
        (status, response.json().await.unwrap())
    }
}

#[tokio::test]
async fn allowed_requests_reach_the_function_as_rest_proxy_events() {
    let f = gateway(Duration::from_secs(300)).await;
    let (status, event) = f
        .call(
            "POST",
            "/echo?lockName=a%20b&x=1&x=2",
            Some("good"),
            Some(b"{\"k\":1}".to_vec()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["resource"], "/echo");
    assert_eq!(event["path"], "/echo");
    assert_eq!(event["body"], "{\"k\":1}");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(
        event["queryStringParameters"],
        json!({ "lockName": "a b", "x": "2" })
    );
    assert_eq!(
        event["multiValueQueryStringParameters"],
        json!({ "lockName": ["a b"], "x": ["1", "2"] })
    );
    assert_eq!(event["headers"]["authorization"], "Bearer good");
    let context = &event["requestContext"];
    assert_eq!(context["authorizer"]["userId"], "user-1");
    assert_eq!(context["authorizer"]["principalId"], "user-1");
    assert!(context["authorizer"]["integrationLatency"].is_u64());
    assert_eq!(context["resourcePath"], "/echo");
    assert_eq!(context["stage"], "local");
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    // The event parses as lambda_http's REST request, like the deployed one.
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(request.method(), "POST");

    let binary = f
        .call("POST", "/echo", Some("good"), Some(vec![0xff, 0x00, 0x10]))
        .await
        .1;
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], "/wAQ");

    let public = f.call("GET", "/public", None, None).await.1;
    assert!(public["requestContext"].get("authorizer").is_none());
    assert_eq!(public["body"], Value::Null);
    assert_eq!(
        f.calls.authorizer.load(Ordering::SeqCst),
        1,
        "public routes skip the authorizer"
    );
}

#[tokio::test]
async fn function_answers_keep_their_status_and_headers() {
    let f = gateway(Duration::ZERO).await;
    let response = f
        .http
        .get(format!("{}/public", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-single"], "1");
    let multi: Vec<_> = response.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
}

#[tokio::test]
async fn refused_keys_are_401_and_only_allowed_policies_are_cached() {
    let f = gateway(Duration::from_secs(300)).await;
    for token in [None, Some("unknown"), Some("denied")] {
        let (status, body) = f.call("GET", "/echo", token, None).await;
        assert_eq!(
            (status, body),
            (
                401,
                json!({ "message": "Unauthorized", "code": "UNAUTHORIZED" })
            ),
            "{token:?}"
        );
    }
    assert_eq!(
        f.calls.authorizer.load(Ordering::SeqCst),
        2,
        "no header: refused without a call"
    );
    assert_eq!(f.calls.echo.load(Ordering::SeqCst), 0);
    f.call("GET", "/echo", Some("unknown"), None).await;
    assert_eq!(
        f.calls.authorizer.load(Ordering::SeqCst),
        3,
        "a refusal is not cached"
    );

    for _ in 0..3 {
        assert_eq!(f.call("GET", "/echo", Some("good"), None).await.0, 200);
        assert_eq!(f.call("POST", "/echo", Some("good"), None).await.0, 200);
    }
    assert_eq!(
        f.calls.authorizer.load(Ordering::SeqCst),
        4,
        "one call serves every route for 300 s"
    );

    // A policy for one route only: cached, and checked against each request.
    assert_eq!(
        f.call("GET", "/echo", Some("only-this-route"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        f.call("POST", "/echo", Some("only-this-route"), None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn with_no_cache_every_request_asks_the_authorizer() {
    let f = gateway(Duration::ZERO).await;
    for _ in 0..3 {
        assert_eq!(f.call("GET", "/echo", Some("good"), None).await.0, 200);
    }
    assert_eq!(f.calls.authorizer.load(Ordering::SeqCst), 3);
}

/// Like the template's `ValidationExpression`: a header that cannot hold a
/// key is refused before the authorizer is asked.
#[tokio::test]
async fn a_header_that_fails_the_token_pattern_never_reaches_the_authorizer() {
    let f = gateway_with(
        Duration::ZERO,
        Duration::from_millis(500),
        Some("^Bearer good$"),
    )
    .await;
    assert_eq!(f.call("GET", "/echo", Some("good"), None).await.0, 200);
    let (status, body) = f.call("GET", "/echo", Some("only-this-route"), None).await;
    assert_eq!((status, &body["code"]), (401, &json!("UNAUTHORIZED")));
    assert_eq!(f.calls.authorizer.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gateway_errors_are_json() {
    let f = gateway(Duration::from_secs(300)).await;
    let cases = [
        ("GET", "/nowhere", None, 404, "Not Found"),
        ("DELETE", "/echo", Some("good"), 404, "Not Found"),
        ("GET", "/echo", Some("broken"), 500, "Internal server error"),
        (
            "GET",
            "/echo",
            Some("garbled"),
            500,
            "Internal server error",
        ),
        ("GET", "/crash", None, 502, "Bad Gateway"),
        ("GET", "/garbage", None, 502, "Bad Gateway"),
        ("GET", "/slow", None, 504, "Endpoint request timed out"),
    ];
    for (method, path, token, status, message) in cases {
        let (got, body) = f.call(method, path, token, None).await;
        assert_eq!(
            (got, body["message"].as_str().unwrap()),
            (status, message),
            "{method} {path} {token:?}"
        );
    }
    let oversized = vec![b'x'; local_stack::gateway::MAX_REQUEST_BYTES + 1];
    let (status, body) = f.call("POST", "/echo", Some("good"), Some(oversized)).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (413, "PAYLOAD_TOO_LARGE")
    );
    assert_eq!(
        f.calls.echo.load(Ordering::SeqCst),
        0,
        "an oversized body never reaches the function"
    );
}

#[tokio::test]
async fn invocations_beyond_the_cap_wait_in_the_gateway() {
    use local_stack::gateway::MAX_INVOCATIONS_PER_FUNCTION;
    let f = gateway_with_timeout(Duration::ZERO, Duration::from_secs(10)).await;
    let requests = MAX_INVOCATIONS_PER_FUNCTION * 2;
    let calls: Vec<_> = (0..requests)
        .map(|_| {
            let request = f.http.get(format!("{}/held", f.base)).send();
            tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    let most = f.calls.held_most.load(Ordering::SeqCst);
    assert!(
        most > MAX_INVOCATIONS_PER_FUNCTION / 2 && most <= MAX_INVOCATIONS_PER_FUNCTION,
        "{most} invocations ran at once, cap {MAX_INVOCATIONS_PER_FUNCTION}"
    );
}
