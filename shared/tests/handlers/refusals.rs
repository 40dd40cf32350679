//! What the handlers refuse before they touch the store: bad input, and a
//! request without the authorizer's user; and where the tenant comes from.

use lambda_http::http::StatusCode;
use lambda_http::RequestExt;
use lock_service::types::UserId;
use serde_json::{json, Value};

use super::{api, event, FIXTURE};

/// Bad input on every route: a 4xx JSON error naming the problem, no
/// DynamoDB call, nothing written. (Every bad-input case of each parser has
/// its own line in `shared/src/endpoints/tests/`; these prove the handlers refuse
/// before they touch the store.)
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let api = api().await;
    let user = UserId::generate();
    for (request, status, message) in bad_requests(&user) {
        let route = format!("{} {}", request.method(), request.raw_http_path());
        let (answer, calls) = api.calls.during(api.call(request)).await;
        assert_eq!(answer.status.as_u16(), status, "{route}");
        assert_eq!(answer.content_type, "application/json");
        let text = answer.body["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{route}: {text:?}");
        assert!(answer.body["code"].is_string());
        assert_eq!(calls, 0, "bad input must not reach DynamoDB: {route}");
    }
    assert_eq!(
        api.list(&user).await.body,
        json!({ "locks": [] }),
        "nothing was written"
    );
}

/// A bad request of each kind for `user`: the refusal's status, and how its
/// message starts.
fn bad_requests(user: &UserId) -> Vec<(lambda_http::Request, u16, &'static str)> {
    let big = format!(
        r#"{{"lockName":"x","requester":"{}"}}"#,
        "a".repeat(16 * 1024)
    );
    let (who, big) = (Some(user), big.as_str());
    vec![
        (
            event("POST", "/v0/lock", who, Some("{not json"), &[]),
            400,
            "request body is not valid JSON",
        ),
        (
            event("POST", "/v0/lock", who, Some(big), &[]),
            413,
            "request body must be at most 16384 bytes",
        ),
        (
            event("POST", "/v0/users/anonymous", None, Some(big), &[]),
            413,
            "request body must be at most 16384 bytes",
        ),
        (
            event("GET", "/v0/locks", who, Some(big), &[]),
            413,
            "request body must be at most 16384 bytes",
        ),
        (
            event(
                "POST",
                "/v0/unlock",
                who,
                Some(r#"{"lockName":"x","leaseId":"abc"}"#),
                &[],
            ),
            400,
            "leaseId must be a UUID",
        ),
        (
            event(
                "POST",
                "/v0/lock/renew",
                who,
                Some(r#"{"lockName":"x"}"#),
                &[],
            ),
            400,
            "leaseId is required",
        ),
        (
            event("GET", "/v0/lock", who, None, &[("lockName", "")]),
            400,
            "lockName must not be blank",
        ),
        (
            event(
                "GET",
                "/v0/lock",
                who,
                None,
                &[("lockName", "a"), ("lockName", "b")],
            ),
            400,
            "lockName query parameter is given more than once",
        ),
    ]
}

#[tokio::test]
async fn requests_without_the_authorizers_user_are_refused() {
    let api = api().await;
    let body = r#"{"lockName":"x","requester":"r"}"#;
    let mut forged: Value = serde_json::from_str(FIXTURE).unwrap();
    forged["requestContext"]["authorizer"]["userId"] = json!("not-a-uuid");
    let requests = [
        event("POST", "/v0/lock", None, Some(body), &[]),
        event("GET", "/v0/lock", None, None, &[("lockName", "x")]),
        event("POST", "/v0/unlock", None, Some(body), &[]),
        event("GET", "/v0/locks", None, None, &[]),
        lambda_http::request::from_str(&forged.to_string()).unwrap(),
    ];
    for request in requests {
        let (answer, calls) = api.calls.during(api.call(request)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["message"], "Unauthorized");
        assert_eq!(calls, 0);
    }
}

#[tokio::test]
async fn the_tenant_comes_from_the_authorizer_never_from_the_request() {
    let api = api().await;
    let (alice, bob) = (UserId::generate(), UserId::generate());
    let lease = api.acquire(&alice, "payroll", "a").await.body["leaseId"].clone();

    // Bob names Alice in the body, the query and a header: he still only sees his own partition.
    let body = json!({ "lockName": "payroll", "requester": "b", "userId": alice }).to_string();
    let mut request = event(
        "POST",
        "/v0/lock",
        Some(&bob),
        Some(&body),
        &[("userId", alice.as_str())],
    );
    request
        .headers_mut()
        .insert("x-user-id", alice.as_str().parse().unwrap());
    assert_eq!(
        api.call(request).await.body["locked"],
        true,
        "bob got his own lock of that name"
    );
    let steal = json!({ "lockName": "payroll", "leaseId": lease, "userId": alice }).to_string();
    let answer = api.post(&bob, "/v0/unlock", &steal).await;
    assert_eq!(answer.body["unlocked"], false);
    let alices = api.get(&alice, "payroll").await;
    assert_eq!(alices.body["locked"], true);
    assert_eq!(alices.body["leaseId"], lease);
    assert_eq!(
        api.list(&alice).await.body["locks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
