//! Authorizer tests: real TOKEN authorizer events against a key table in dynalite.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;
use lock_service::authorizer::{authorize, AuthError};
use lock_service::keys::ApiKey;
use lock_service::store::KeyStore;
use lock_service::types::{Timestamp, UserId};
use serde_json::{json, Value};
use testkit::{EngineKind, API_KEYS_TABLE};

const FIXTURE: &str = include_str!("fixtures/token-authorizer-event.json");

fn event(token: Option<&str>) -> ApiGatewayCustomAuthorizerRequest {
    let mut event: Value = serde_json::from_str(FIXTURE).unwrap();
    event["authorizationToken"] = json!(token);
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn a_known_key_is_allowed_on_the_whole_api_with_its_user_in_the_context() {
    let (_engine, client, calls) = testkit::engine_with_tables(EngineKind::Dynalite).await;
    let keys = KeyStore::new(client, API_KEYS_TABLE);
    let key = ApiKey::generate();
    let user = UserId::generate();
    keys.register(&key.hash(), &user, Timestamp::now())
        .await
        .unwrap();
    calls.reset();

    for header in [
        format!("Bearer {}", key.reveal()),
        format!("bearer {}", key.reveal().to_uppercase()),
    ] {
        let (response, n) = calls.during(authorize(&keys, event(Some(&header)))).await;
        assert_eq!(n, 1, "one consistent read per uncached key");
        let response = serde_json::to_value(response.unwrap()).unwrap();
        assert_eq!(response["principalId"], json!(user));
        let context = json!({ "userId": user, "keyHash": key.hash().as_str() });
        assert_eq!(
            response["context"], context,
            "the user and the validated key"
        );
        assert_eq!(
            response["policyDocument"],
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Action": ["execute-api:Invoke"],
                    "Effect": "Allow",
                    "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*"]
                }]
            })
        );
    }
}

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_unauthorized() {
    let (_engine, client, calls) = testkit::engine_with_tables(EngineKind::Dynalite).await;
    let keys = KeyStore::new(client, API_KEYS_TABLE);
    let known = ApiKey::generate();
    keys.register(&known.hash(), &UserId::generate(), Timestamp::now())
        .await
        .unwrap();
    calls.reset();

    let malformed = [
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer garbage".into()),
        Some(known.reveal()),                        // no scheme
        Some(format!("Basic {}", known.reveal())),   // wrong scheme
        Some(format!("Bearer {}x", known.reveal())), // trailing junk
        Some(format!("Bearer {}", "9".repeat(100_000))),
        Some("Bearer \u{0}\u{202e}\u{fffd}".into()),
    ];
    for token in malformed {
        let (result, n) = calls
            .during(authorize(&keys, event(token.as_deref())))
            .await;
        assert!(matches!(result, Err(AuthError::Unauthorized)), "{token:?}");
        assert_eq!(n, 0, "a malformed key is refused without a lookup");
    }

    let unknown = format!("Bearer {}", ApiKey::generate().reveal());
    let (result, n) = calls.during(authorize(&keys, event(Some(&unknown)))).await;
    assert!(matches!(result, Err(AuthError::Unauthorized)));
    assert_eq!(n, 1);
    assert_eq!(
        lambda_runtime::Diagnostic::from(result.unwrap_err()).error_message,
        "Unauthorized",
        "the exact message API Gateway turns into a 401"
    );

    // An event that does not name a method ARN is refused, never allowed.
    let mut no_arn = event(Some(&format!("Bearer {}", known.reveal())));
    no_arn.method_arn = None;
    assert!(matches!(
        authorize(&keys, no_arn).await,
        Err(AuthError::Unauthorized)
    ));
}

#[tokio::test]
async fn a_store_failure_is_an_error_not_a_refusal() {
    // Nothing listens on this port: the lookup fails, and the authorizer must
    // not answer "Unauthorized" (API Gateway would cache that as a 401).
    let calls = testkit::CallCounter::default();
    let client = testkit::client_for(
        &format!("http://127.0.0.1:{}", testkit::free_port().unwrap()),
        &calls,
    );
    let keys = KeyStore::new(client, API_KEYS_TABLE);
    let result = authorize(
        &keys,
        event(Some(&format!("Bearer {}", ApiKey::generate().reveal()))),
    )
    .await;
    let err = result.unwrap_err();
    assert!(matches!(err, AuthError::Store(_)), "{err:?}");
    assert_ne!(
        lambda_runtime::Diagnostic::from(err).error_message,
        "Unauthorized"
    );
}
