//! The API Gateway REST API TOKEN authorizer: API key in, IAM policy out.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Diagnostic;
use serde_json::json;

use crate::error::StoreError;
use crate::http::{CONTEXT_KEY_HASH, CONTEXT_USER_ID};
use crate::keys::ApiKey;
use crate::metrics::{self, Metric};
use crate::store::keys::KeyStanding;
use crate::store::KeyStore;
use crate::types::Timestamp;

/// Log directives of the authorizer function. The runtime logs every error a
/// handler returns at `ERROR` (target `lambda_runtime::layers::panic`), but a
/// refused key is this handler's ordinary answer (API Gateway turns the error
/// `Unauthorized` into a 401), not a fault: one ERROR line per bad key would
/// drown real faults and trip alarms. Real faults (the key table unreadable)
/// are logged by [`AuthError`]'s conversion itself; panics abort the process
/// in release builds and reach the gateway as a failed invocation.
pub const LOG_DIRECTIVES: &[&str] = &["lambda_runtime::layers::panic=off"];

/// Why a request is not allowed through.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Missing, malformed or unknown key: API Gateway answers 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// The key table could not be read: API Gateway answers 500 and does not cache it.
    #[error("authorizer failure")]
    Store(#[from] StoreError),
}

impl From<AuthError> for Diagnostic {
    fn from(err: AuthError) -> Self {
        if let AuthError::Store(cause) = &err {
            tracing::error!(error = ?cause, "key lookup failed");
        }
        // API Gateway turns exactly the message "Unauthorized" into a 401.
        Diagnostic {
            error_type: match err {
                AuthError::Unauthorized => "Unauthorized",
                AuthError::Store(_) => "AuthorizerFailure",
            }
            .into(),
            error_message: err.to_string(),
        }
    }
}

/// Allows a live key on every route of the API (so API Gateway's cached
/// decision serves them all) with its `userId` as principal and in the
/// context; a key rotated out moments ago only on the rotate route (so a
/// rotation retried after a lost answer gets its new key back); refuses
/// anything else (unknown, revoked, expired). The context also carries the
/// validated key's hash, for the key routes. One consistent read per
/// uncached key.
pub async fn authorize(
    keys: &KeyStore,
    event: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, AuthError> {
    let decision = decide(keys, event).await;
    match &decision {
        Ok(response) => {
            metrics::count(Metric::AuthAllowed);
            if let Some(user) = &response.principal_id {
                metrics::property("userId", user.as_str());
            }
        }
        Err(AuthError::Unauthorized) => metrics::count(Metric::AuthDenied),
        Err(AuthError::Store(_)) => {}
    }
    decision
}

/// Why a key is refused, for the record (never the key or its hash).
fn deny(reason: &'static str) -> AuthError {
    metrics::property("denyReason", reason);
    AuthError::Unauthorized
}

async fn decide(
    keys: &KeyStore,
    event: ApiGatewayCustomAuthorizerRequest,
) -> Result<ApiGatewayCustomAuthorizerResponse, AuthError> {
    let key = event
        .authorization_token
        .as_deref()
        .and_then(ApiKey::from_authorization)
        .ok_or_else(|| deny("malformed"))?;
    let method_arn = event.method_arn.as_deref().unwrap_or_default();
    let hash = key.hash();
    let record = keys.record(&hash).await?.ok_or_else(|| deny("unknown"))?;
    let resource = match record.standing(Timestamp::now()) {
        KeyStanding::Live => whole_api_arn(method_arn),
        KeyStanding::RotationRetry => rotate_route_arn(method_arn),
        KeyStanding::Dead => None,
    }
    .ok_or_else(|| deny("revoked, rotated or expired"))?;
    let user = record.user;

    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(user.to_string());
    response.policy_document = policy;
    // The functions act on this key, never on a header read again.
    response.context = json!({ CONTEXT_USER_ID: user, CONTEXT_KEY_HASH: hash.as_str() });
    Ok(response)
}

/// The route a key rotated out moments ago may still call.
pub const ROTATE_ROUTE: &str = "POST/v0/keys/rotate";

/// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH` → `…:API/STAGE/*/*`.
fn whole_api_arn(method_arn: &str) -> Option<String> {
    stage_arn(method_arn).map(|stage| format!("{stage}/*/*"))
}

/// `…:API/STAGE/METHOD/PATH` → `…:API/STAGE/POST/v0/keys/rotate`.
fn rotate_route_arn(method_arn: &str) -> Option<String> {
    stage_arn(method_arn).map(|stage| format!("{stage}/{ROTATE_ROUTE}"))
}

/// `…:API/STAGE/METHOD/PATH` → `…:API/STAGE`, if it is an execute-api ARN.
fn stage_arn(method_arn: &str) -> Option<&str> {
    let mut parts = method_arn.splitn(3, '/');
    let (api, stage) = (parts.next()?, parts.next()?);
    let valid = api.starts_with("arn:") && api.contains(":execute-api:") && !stage.is_empty();
    valid.then(|| &method_arn[..api.len() + 1 + stage.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_covers_every_method_and_path_of_the_stage() {
        assert_eq!(
            whole_api_arn("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/v0/lock")
                .as_deref(),
            Some("arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*")
        );
        assert_eq!(
            rotate_route_arn("arn:aws:execute-api:eu-west-1:1:abc/prod/GET/v0/lock").as_deref(),
            Some("arn:aws:execute-api:eu-west-1:1:abc/prod/POST/v0/keys/rotate")
        );
        for bad in [
            "",
            "arn:aws:execute-api:x:y:z",
            "garbage/prod/GET",
            "arn:aws:s3:::bucket/prod/GET",
        ] {
            assert_eq!(whole_api_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn refusals_carry_the_exact_message_api_gateway_maps_to_401() {
        let diagnostic = Diagnostic::from(AuthError::Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
        let diagnostic = Diagnostic::from(AuthError::Store(StoreError::MalformedItem("userId")));
        assert_ne!(diagnostic.error_message, "Unauthorized");
    }
}
