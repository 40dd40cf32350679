//! What is refused: bad keys, bad input, unknown routes; nothing written.

use reqwest::StatusCode;
use serde_json::json;
use testkit::api::Api;

/// Missing, malformed, unknown and wrongly-schemed keys get a JSON 401 on every protected route.
pub async fn authentication(api: Api) {
    let (_, key) = api.new_user().await;
    let bad_headers = [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer garbage".to_owned()),
        Some(format!("Bearer {}", uuid::Uuid::new_v4())),
        Some(format!("Basic {key}")),
        Some(key.clone()),
        Some(format!("Bearer {key} extra")),
    ];
    let body =
        json!({ "lockName": "x", "requester": "r", "leaseId": uuid::Uuid::new_v4().to_string() });
    for header in &bad_headers {
        for (method, path) in [
            ("POST", "/v0/lock"),
            ("GET", "/v0/lock?lockName=x"),
            ("POST", "/v0/unlock"),
            ("GET", "/v0/locks"),
        ] {
            let url = format!("{}{path}", api.base);
            let mut request = match method {
                "POST" => api.http.post(url).json(&body),
                _ => api.http.get(url),
            };
            if let Some(header) = header {
                request = request.header("Authorization", header);
            }
            let answer = api.send(request).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {header:?}"
            );
            assert_eq!(answer.body["message"], "Unauthorized");
        }
    }
    // The scheme is case-insensitive, and the refusals above wrote nothing.
    let lower = api
        .send(
            api.http
                .get(format!("{}/v0/locks", api.base))
                .header("Authorization", format!("bearer {key}")),
        )
        .await;
    assert_eq!(lower.body, json!({ "locks": [] }));
}

/// Bodies the acquire and unlock routes refuse: (path, body, status, the
/// start of the message).
const BAD_BODIES: &[(&str, &str, u16, &str)] = &[
    ("/v0/lock", "", 400, "request body is required"),
    ("/v0/lock", "{oops", 400, "request body is not valid JSON"),
    ("/v0/lock", "[]", 400, "request body must be a JSON object"),
    (
        "/v0/lock",
        r#"{"requester":"r"}"#,
        400,
        "lockName is required",
    ),
    (
        "/v0/lock",
        r#"{"lockName":"x"}"#,
        400,
        "requester is required",
    ),
    (
        "/v0/lock",
        r#"{"lockName":1,"requester":"r"}"#,
        400,
        "lockName must be a string",
    ),
    (
        "/v0/lock",
        r#"{"lockName":" ","requester":"r"}"#,
        400,
        "lockName must not be blank",
    ),
    (
        "/v0/lock",
        r#"{"lockName":"x","requester":"a\tb"}"#,
        400,
        "requester must not contain control characters",
    ),
    (
        "/v0/unlock",
        r#"{"lockName":"x"}"#,
        400,
        "leaseId is required",
    ),
    (
        "/v0/unlock",
        r#"{"lockName":"x","leaseId":"not-a-uuid"}"#,
        400,
        "leaseId must be a UUID",
    ),
];

/// Bad input through the gateway: a clear 4xx in JSON, and nothing written.
pub async fn bad_input_changes_nothing(api: Api) {
    let (_, key) = api.new_user().await;
    let lease = uuid::Uuid::new_v4().to_string();
    let huge = "a".repeat(17 * 1024);
    let long_name = format!(r#"{{"lockName":"{}","requester":"r"}}"#, "n".repeat(256));
    let too_big = format!(r#"{{"lockName":"x","requester":"{huge}"}}"#);
    let null_name = format!(r#"{{"lockName":null,"leaseId":"{lease}"}}"#);
    let computed = [
        (
            "/v0/lock",
            long_name.as_str(),
            400,
            "lockName must be at most 255 bytes",
        ),
        (
            "/v0/lock",
            &too_big,
            413,
            "request body must be at most 16384 bytes",
        ),
        ("/v0/unlock", &null_name, 400, "lockName is required"),
    ];
    for &(path, body, status, message) in BAD_BODIES.iter().chain(&computed) {
        let request = api
            .post(path, Some(&key))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        let answer = api.send(request).await;
        assert_eq!(answer.status, status, "{path} {body:.80}");
        let text = answer.body["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{path}: {answer:?}");
    }
    for query in [vec![], vec![("lockName", "")], vec![("name", "x")]] {
        let answer = api
            .send(api.get("/v0/lock", Some(&key)).query(&query))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query:?}");
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .contains("lockName"));
    }
    // Over API Gateway's own 10 MiB limit, the gateway refuses before any function runs.
    let enormous = vec![b'x'; 10 * 1024 * 1024 + 1];
    let answer = api
        .send(api.post("/v0/lock", Some(&key)).body(enormous))
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        api.locks(&key).await.body,
        json!({ "locks": [] }),
        "nothing was written"
    );
}

/// What the gateway answers itself: JSON 404 for unknown routes and methods.
pub async fn gateway_answers(api: Api) {
    let (_, key) = api.new_user().await;
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/v0/nothing"),
        ("DELETE", "/v0/lock"),
        ("GET", "/v0/unlock"),
        ("GET", "/v0/users/anonymous"),
        ("POST", "/v0/locks"),
    ] {
        let request = api
            .http
            .request(method.parse().unwrap(), format!("{}{path}", api.base))
            .header("Authorization", format!("Bearer {key}"));
        let answer = api.send(request).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(answer.body["message"], "Not Found");
    }
}
